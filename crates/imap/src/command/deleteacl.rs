//! DELETEACL (RFC 4314 §3.2): removes an identifier's rights on a mailbox; SETACL with
//! none (`setacl.rs`).

use imap_types::{core::Tag, response::Status};
use twinmail_net::Stream;

use crate::session::Session;

pub async fn deleteacl<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: &[u8],
    identifier: &str,
) -> Status<'static> {
    super::setacl::setacl(s, tag, mailbox, identifier, None).await
}

//! MYRIGHTS (RFC 4314 §3.5): the logged-in user's rights on a mailbox. Needs any right
//! the user could see the mailbox by.

use imap_types::{core::Tag, response::Status};
use twinmail_net::Stream;

use crate::{
    command::{Need, existing_raw, getacl::wire_name},
    convert::{ok, quoted},
    session::Session,
};

pub async fn myrights<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: &[u8],
) -> Status<'static> {
    let (name, _, _, rights) = match existing_raw(s, tag, mailbox, Need::AnyOf("lrswipkxtea")).await
    {
        Ok(found) => found,
        Err(status) => return status,
    };
    let line = format!("* MYRIGHTS {} {rights}\r\n", quoted(&wire_name(s, &name)));
    s.raw_line(line.as_bytes());
    ok(tag, None, "MYRIGHTS completed")
}

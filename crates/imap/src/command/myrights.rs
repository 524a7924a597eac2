//! MYRIGHTS (RFC 4314 §3.5): the logged-in user's rights on a mailbox. Needs any right
//! the user could see the mailbox by.

use imap_types::{core::Tag, response::Status};
use twinmail_net::Stream;

use crate::{
    acl,
    command::{Need, existing_named, getacl::wire_name},
    convert::{no, ok},
    session::Session,
};

pub async fn myrights<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: &[u8],
) -> Status<'static> {
    let Some(name) = s.decode_name(mailbox) else {
        return no(tag, None, "Invalid mailbox name".into());
    };
    let (_, _, rights) =
        match existing_named(s, tag, &name, false, Need::AnyOf("lrswipkxtea")).await {
            Ok(found) => found,
            Err(status) => return status,
        };
    let line = format!(
        "* MYRIGHTS {} {rights}\r\n",
        acl::quoted(&wire_name(s, &name))
    );
    s.raw_line(line.as_bytes());
    ok(tag, None, "MYRIGHTS completed")
}

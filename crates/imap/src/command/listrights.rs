//! LISTRIGHTS (RFC 4314 §3.4): what an identifier may be given. Needs `a`. The owner
//! always has every right; another account of the owner's domain may get any of them,
//! each on its own; anyone else nothing.

use imap_types::{core::Tag, response::Status};
use twinmail_net::Stream;

use crate::{
    acl::{self, Rights},
    command::{Need, existing_raw, getacl::wire_name},
    convert::{ok, quoted},
    session::Session,
};

pub async fn listrights<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: &[u8],
    identifier: &str,
) -> Status<'static> {
    let (name, owner, _, _) = match existing_raw(s, tag, mailbox, Need::All("a")).await {
        Ok(found) => found,
        Err(status) => return status,
    };
    let identifier = identifier.to_ascii_lowercase();
    let head = format!(
        "* LISTRIGHTS {} {}",
        quoted(&wire_name(s, &name)),
        quoted(&identifier)
    );
    let line = if identifier == owner.name {
        format!("{head} {}\r\n", Rights::OWNER)
    } else if acl::may_share(&owner.name, &identifier) {
        let each: Vec<String> = Rights::OWNER
            .to_string()
            .chars()
            .map(String::from)
            .collect();
        format!("{head} \"\" {}\r\n", each.join(" "))
    } else {
        format!("{head} \"\"\r\n")
    };
    s.raw_line(line.as_bytes());
    ok(tag, None, "LISTRIGHTS completed")
}

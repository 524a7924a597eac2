//! GETACL (RFC 4314 §3.3): `* ACL mailbox owner lrswipkxtea identifier rights ...`.
//! Needs `a`.

use imap_types::{core::Tag, response::Status};
use twinmail_net::Stream;

use crate::{
    acl::{self, Rights},
    command::{Need, existing_raw, store_failed},
    convert::{ok, quoted},
    session::Session,
};

pub async fn getacl<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: &[u8],
) -> Status<'static> {
    let (name, owner, m, _) = match existing_raw(s, tag, mailbox, Need::All("a")).await {
        Ok(found) => found,
        Err(status) => return status,
    };
    let entries = match s.imap.store.metadata(owner.id, Some(m.id)).await {
        Ok(e) => e,
        Err(e) => return store_failed(tag, e),
    };
    let mut line = format!(
        "* ACL {} {} {}",
        quoted(&wire_name(s, &name)),
        quoted(&owner.name),
        Rights::OWNER
    );
    for (entry, value) in &entries {
        let Some(identifier) = entry.strip_prefix(acl::ENTRY_PREFIX) else {
            continue;
        };
        let rights = acl::granted(&owner.name, identifier, value);
        if !rights.is_empty() {
            line.push_str(&format!(" {} {rights}", quoted(identifier)));
        }
    }
    line.push_str("\r\n");
    s.raw_line(line.as_bytes());
    ok(tag, None, "GETACL completed")
}

/// A mailbox name as the client spells it on the wire (modified UTF-7 unless it enabled
/// UTF-8).
pub fn wire_name<S: Stream>(s: &Session<S>, name: &str) -> String {
    if s.utf8 {
        name.to_string()
    } else {
        crate::mutf7::encode(name)
    }
}

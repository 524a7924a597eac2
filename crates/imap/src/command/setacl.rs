//! SETACL (RFC 4314 §3.1): grants, changes (`+`/`-`) or, with no rights left, removes an
//! identifier's rights on a mailbox. Needs `a`. The owner's own rights are fixed (every
//! right), and only accounts of the owner's domain can be given any (see `acl.rs`).

use imap_types::{core::Tag, response::Status};
use twinmail_net::Stream;

use crate::{
    acl::{self, Rights},
    command::{Need, existing_raw, rights_of, store_failed},
    convert::{bad, no, ok},
    session::Session,
};

/// SETACL, and DELETEACL as SETACL with `rights` None.
pub async fn setacl<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: &[u8],
    identifier: &str,
    rights: Option<&str>,
) -> Status<'static> {
    let (_, owner, m, _) = match existing_raw(s, tag, mailbox, Need::All("a")).await {
        Ok(found) => found,
        Err(status) => return status,
    };
    let identifier = identifier.to_ascii_lowercase();
    if identifier == owner.name {
        return no(tag, None, "The owner always has every right".into());
    }
    if identifier.starts_with('-') || matches!(identifier.as_str(), "anyone" | "authenticated") {
        // RFC 4314 §2: a server may refuse identifiers it does not support.
        return no(
            tag,
            None,
            "Only accounts of the mailbox owner's domain can be given rights".into(),
        );
    }
    if !acl::may_share(&owner.name, &identifier) {
        return no(
            tag,
            None,
            "Only accounts of the mailbox owner's domain can be given rights".into(),
        );
    }
    let grantee = match s.imap.store.account(&identifier).await {
        Ok(Some(a)) => a,
        Ok(None) => return no(tag, None, "No such account".into()),
        Err(e) => return store_failed(tag, e),
    };
    let current = match rights_of(s, &owner, &m, &grantee).await {
        Ok(r) => r,
        Err(e) => return store_failed(tag, e),
    };
    let new = match rights {
        None => Rights::NONE,
        Some(text) => {
            let (op, letters) = match text.as_bytes().first() {
                Some(b'+') => (Some(true), &text[1..]),
                Some(b'-') => (Some(false), &text[1..]),
                _ => (None, text),
            };
            // RFC 4314 §3.1: an unknown right is BAD.
            let Ok(given) = Rights::parse(letters) else {
                return bad(tag, "Unknown right in SETACL");
            };
            match op {
                Some(true) => current.union(given),
                Some(false) => current.without(given),
                None => given,
            }
        }
    };
    let value = (!new.is_empty()).then(|| new.to_string().into_bytes());
    if let Err(e) = s
        .imap
        .store
        .set_metadata(
            owner.id,
            Some(&m.name),
            vec![(acl::entry(&identifier), value)],
        )
        .await
    {
        return store_failed(tag, e);
    }
    ok(
        tag,
        None,
        if rights.is_some() {
            "SETACL completed"
        } else {
            "DELETEACL completed"
        },
    )
}

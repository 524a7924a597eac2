//! RESETKEY (RFC 4467 §7.2): new mailbox access keys, so that every URL signed with the
//! old ones stops working (on both twins: the keys are written at the account's home twin
//! and mirrored). With a mailbox, that mailbox's key (made if it had none), answered
//! `OK [URLMECH INTERNAL]`; without, every key of the user (replaced rather than removed;
//! see the store's `access_key` module). INTERNAL is the only mechanism: naming another
//! is NO.

use imap_types::{
    core::Tag,
    response::{Code, CodeOther, Status},
};
use twinmail_net::Stream;

use crate::{
    command::store_failed,
    convert::{bad, no, ok},
    session::Session,
};

/// Runs RESETKEY for `mailbox` (its name as sent; `None`: every mailbox) and the
/// mechanisms named after it.
pub async fn resetkey<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: Option<&[u8]>,
    mechanisms: &[Vec<u8>],
) -> Status<'static> {
    let Some(account) = s.state.account().cloned() else {
        return bad(tag, "Log in first");
    };
    if mechanisms
        .iter()
        .any(|m| !m.eq_ignore_ascii_case(b"INTERNAL"))
    {
        return no(tag, None, "Unsupported URLAUTH mechanism".into());
    }
    let store = &s.imap.store;
    let Some(raw) = mailbox else {
        return match store.reset_access_keys(account.id, None).await {
            Ok(()) => ok(tag, None, "All keys reset"),
            Err(e) => store_failed(tag, e),
        };
    };
    let Some(name) = s.decode_name(raw) else {
        return no(tag, None, "Invalid mailbox name".into());
    };
    let name = if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_string()
    } else {
        name
    };
    let found = match store.mailbox(account.id, &name).await {
        Ok(Some(m)) => m,
        Ok(None) => return no(tag, None, "No such mailbox".into()),
        Err(e) => return store_failed(tag, e),
    };
    match store.reset_access_keys(account.id, Some(found.id)).await {
        Ok(()) => {
            let code = Code::Other(CodeOther::unvalidated(&b"URLMECH INTERNAL"[..]));
            ok(tag, Some(code), "Key reset")
        }
        Err(e) => store_failed(tag, e),
    }
}

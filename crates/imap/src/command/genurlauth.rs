//! GENURLAUTH (RFC 4467 §7.1): signs rump URLs of the user's own messages with the
//! mailbox's access key, made (at the account's home twin, then mirrored) on the first
//! GENURLAUTH for that mailbox; answers one `* GENURLAUTH` with each URL completed by
//! `:INTERNAL:` and its token (the HMAC-SHA1 of the rump, 40 hex digits).
//!
//! A rump is signed only when it is an absolute `imap://user@host/` URL whose user is
//! the logged-in user, naming an existing message (and part) of one of the user's
//! mailboxes with that mailbox's UIDVALIDITY, with a known access identifier, no token
//! yet, and no EXPIRE in the past; and the mechanism is INTERNAL. The host is not
//! checked (a twin answers to several names); the token covers it, so a URL cannot be
//! moved to another host name. Every rump is checked before any is signed: one that fails
//! makes the command NO, with nothing signed.

use imap_types::{core::Tag, response::Status};
use twinmail_net::Stream;
use twinmail_store::{Account, now_unix};

use crate::{
    command::store_failed,
    convert::{bad, no, ok},
    session::Session,
    urlauth::{self, astring_for_response},
    urlpart::{self, PartError},
};

/// Runs GENURLAUTH over `pairs` (rump, mechanism); at most `urlauth::MAX_URLS`.
pub async fn genurlauth<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    pairs: &[(Vec<u8>, Vec<u8>)],
) -> Status<'static> {
    let Some(account) = s.state.account().cloned() else {
        return bad(tag, "Log in first");
    };
    let mut checked = Vec::with_capacity(pairs.len());
    for (rump, mechanism) in pairs {
        if !mechanism.eq_ignore_ascii_case(b"INTERNAL") {
            return no(tag, None, "Unsupported URLAUTH mechanism".into());
        }
        match check(s, tag, &account, rump).await {
            Ok(mailbox_id) => checked.push((rump, mailbox_id)),
            Err(status) => return status,
        }
    }
    let mut line = b"* GENURLAUTH".to_vec();
    for (rump, mailbox_id) in checked {
        let key = match s.imap.store.make_access_key(account.id, mailbox_id).await {
            Ok(key) => key,
            Err(e) => return store_failed(tag, e),
        };
        let mut full = rump.clone();
        full.extend_from_slice(b":INTERNAL:");
        full.extend_from_slice(hex::encode(key.sign(rump)).as_bytes());
        line.push(b' ');
        line.extend_from_slice(&astring_for_response(&full));
    }
    line.extend_from_slice(b"\r\n");
    s.raw_line(&line);
    ok(tag, None, "GENURLAUTH completed")
}

/// Checks one rump URL (see the module's comment): the local id of its mailbox, or the
/// NO that refuses the command.
async fn check<S: Stream>(
    s: &Session<S>,
    tag: &Tag<'static>,
    account: &Account,
    raw: &[u8],
) -> Result<i64, Status<'static>> {
    let refused = |text: &'static str| no(tag, None, text.into());
    let Some(url) = std::str::from_utf8(raw).ok().and_then(urlauth::parse_url) else {
        return Err(refused("Invalid URLAUTH rump URL"));
    };
    if url.verifier.is_some() {
        return Err(refused("The URL already carries a token"));
    }
    if url.expire.is_some_and(|e| now_unix() >= e) {
        return Err(refused("The URL has already expired"));
    }
    let is_own = url
        .url
        .user
        .as_deref()
        .is_some_and(|u| u.eq_ignore_ascii_case(&account.name));
    if !is_own {
        return Err(refused("Not permitted to sign URLs of another user"));
    }
    if url.url.uidvalidity.is_none() {
        return Err(refused("The URL must say the mailbox's UIDVALIDITY"));
    }
    let store = &s.imap.store;
    let name = url.url.mailbox.as_deref().unwrap_or_default();
    let mailbox = match urlpart::mailbox_named(store, account.id, name).await {
        Ok(Some(m)) => m,
        Ok(None) => return Err(refused("No such mailbox")),
        Err(e) => return Err(store_failed(tag, e)),
    };
    match urlpart::read(store, &mailbox, &url.url).await {
        Ok(_) => Ok(mailbox.id),
        Err(PartError::Missing(why)) => Err(refused(why)),
        Err(PartError::Store(e)) => Err(store_failed(tag, e)),
    }
}

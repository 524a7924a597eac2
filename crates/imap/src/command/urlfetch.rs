//! URLFETCH (RFC 4467 §7.3) with URL-PARTIAL (RFC 5550): the data URLAUTH URLs name, one
//! `* URLFETCH url {n}` (or `url NIL`) response per URL, in the client's order.
//!
//! A URL is answered with data only when everything checks: a full URLAUTH URL with an
//! INTERNAL token, not expired, whose access identifier admits this session's user
//! (`urlauth::precheck`), naming an existing mailbox of its owner (the URL's user, who may
//! be another account: that is what URLAUTH is for) whose access key signs the URL's rump
//! to exactly its token (compared in constant time), with the UIDVALIDITY the URL was
//! made for and an existing message and part. Anything else is NIL, whatever failed, so
//! a URL tells nothing about what exists; where no key is found, the token is still
//! checked against a random key (RFC 4467 §9), so a failure takes as long either way.
//! Reading a URL sets no flags (§7.3: `\Seen` is not set).

use imap_types::{core::Tag, response::Status};
use twinmail_net::Stream;
use twinmail_store::{AccessKey, Account, Store, StoreError, now_unix};

use crate::{
    command::store_failed,
    convert::{bad, ok},
    session::Session,
    urlauth::{self, astring_for_response},
    urlpart::{self, PartError},
};

/// Runs URLFETCH over `urls` (at most `urlauth::MAX_URLS`, each at most `MAX_URL`
/// bytes: the parser's caps).
pub async fn urlfetch<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    urls: &[Vec<u8>],
) -> Status<'static> {
    let Some(account) = s.state.account().cloned() else {
        return bad(tag, "Log in first");
    };
    for raw in urls {
        let data = match authorised(&s.imap.store, &account, raw).await {
            Ok(data) => data,
            Err(e) => return store_failed(tag, e),
        };
        let mut line = b"* URLFETCH ".to_vec();
        line.extend_from_slice(&astring_for_response(raw));
        match data {
            Some(bytes) => {
                line.extend_from_slice(format!(" {{{}}}\r\n", bytes.len()).as_bytes());
                s.raw_line(&line);
                // The literal goes out as it is, not copied into the line first.
                s.conn.reply_raw(&bytes);
                s.conn.reply_raw(b"\r\n");
            }
            None => {
                line.extend_from_slice(b" NIL\r\n");
                s.raw_line(&line);
            }
        }
        // Sent as it is made: a URLFETCH of many large messages streams.
        if s.pump().await.is_err() {
            break;
        }
    }
    ok(tag, None, "URLFETCH completed")
}

/// The bytes a URLAUTH URL names, if `account` (the session's user) may have them;
/// `Ok(None)` for a URL that does not verify (see the module's comment). Errors are the
/// store's own failures only.
pub(crate) async fn authorised(
    store: &Store,
    account: &Account,
    raw: &[u8],
) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(url) = std::str::from_utf8(raw)
        .ok()
        .and_then(|text| urlauth::precheck(text, &account.name, now_unix()))
    else {
        return Ok(None);
    };
    // precheck leaves only URLs with a verifier, a user and a mailbox.
    let (Some(verifier), Some(owner_name), Some(mailbox_name)) = (
        url.verifier.as_ref(),
        url.url.user.as_deref(),
        url.url.mailbox.as_deref(),
    ) else {
        return Ok(None);
    };
    let owner = match store.account(owner_name).await? {
        Some(a) if !a.disabled => Some(a),
        _ => None,
    };
    let mailbox = match &owner {
        Some(o) => urlpart::mailbox_named(store, o.id, mailbox_name).await?,
        None => None,
    };
    let key = match &mailbox {
        Some(m) => store.access_key(m.id).await?,
        None => None,
    };
    let (Some(mailbox), Some(key)) = (mailbox, key) else {
        // A plausible key, so that a name that does not exist costs what one that does
        // costs (RFC 4467 §9).
        let _ = AccessKey::random().verify(url.rump.as_bytes(), &verifier.token);
        return Ok(None);
    };
    if !key.verify(url.rump.as_bytes(), &verifier.token) {
        return Ok(None);
    }
    // A URL made here always says its UIDVALIDITY (GENURLAUTH insists); one without
    // could outlive its mailbox's numbering.
    if url.url.uidvalidity.is_none() {
        return Ok(None);
    }
    match urlpart::read(store, &mailbox, &url.url).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(PartError::Missing(_)) => Ok(None),
        Err(PartError::Store(e)) => Err(e),
    }
}

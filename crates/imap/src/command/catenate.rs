//! CATENATE (RFC 4469) with URL-PARTIAL (RFC 5550): builds one APPEND message from
//! TEXT pieces and the messages, or parts of them, that IMAP URLs (RFC 5092) name.
//!
//! A plain URL may name only the logged-in user's own mailboxes: a path (`/INBOX;...`), a
//! `;UID=` relative to the selected mailbox, or an `imap://user@host/` URL whose user
//! is this user (the host is not checked: a twin answers to several names, and the user
//! and mailbox decide what is read). A URLAUTH URL (RFC 4467) is taken when it verifies
//! as URLFETCH would let this user fetch it (`urlfetch::authorised`). A URL that does not name an existing message or
//! part, or names another user, or carries a UIDVALIDITY the mailbox no longer has, is
//! refused with NO [BADURL url] (§5); a message that would grow past the APPEND size
//! limit, with NO [TOOBIG]. Nothing is stored until every part is built (the caller's
//! store step comes after), so a refusal leaves every mailbox as it was.

use imap_types::{
    core::Tag,
    response::{Code, CodeOther, Status},
};
use twinmail_net::Stream;
use twinmail_store::{Account, Mailbox};

use crate::{
    catenate::CatPart,
    command::{store_failed, urlfetch},
    convert::no,
    imapurl,
    session::{Session, State},
    urlpart::{self, PartError},
};

/// Most URL parts one APPEND command may have, over all its messages: each reads a whole
/// message from the store, however little of it (`;PARTIAL=0.1`) it takes.
pub const MAX_URLS: usize = 64;

/// What the messages of one APPEND command may still cost.
pub struct Budget {
    /// Bytes the messages built so far may still grow by (starts at the largest APPEND
    /// literal, `max_literal_size`); past it, NO [TOOBIG].
    pub bytes: usize,
    /// URL parts still allowed (starts at `MAX_URLS`); past it, NO [LIMIT].
    pub urls: usize,
}

/// Joins `parts` into one message. TEXT parts are ranges of `command`; URL parts are
/// read from the store. `budget` is shared by all messages of one APPEND. What is built counts
/// towards the bytes all sessions may hold in memory, as literals do (`Session::hold`);
/// past that, NO [LIMIT] (RFC 5530), to try again later.
pub async fn assemble<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    account: &Account,
    parts: &[CatPart],
    command: &[u8],
    budget: &mut Budget,
) -> Result<Vec<u8>, Status<'static>> {
    let mut out = Vec::new();
    for part in parts {
        let piece = match part {
            CatPart::Text(range) => command.get(range.clone()).unwrap_or_default().to_vec(),
            CatPart::Url(url) => {
                if budget.urls == 0 {
                    let code = Code::Other(CodeOther::unvalidated(&b"LIMIT"[..]));
                    let text = format!("At most {MAX_URLS} URL parts in one APPEND");
                    return Err(no(tag, Some(code), text));
                }
                budget.urls -= 1;
                resolve(s, tag, account, url).await?
            }
        };
        if piece.len() > budget.bytes {
            return Err(no(
                tag,
                Some(Code::TooBig),
                "Message too big for CATENATE".into(),
            ));
        }
        if !s.hold(piece.len()) {
            tracing::warn!("CATENATE refused for now: too many message bytes in memory");
            let code = Code::Other(CodeOther::unvalidated(&b"LIMIT"[..]));
            let text = "Too many messages in memory, try again later";
            return Err(no(tag, Some(code), text.into()));
        }
        budget.bytes -= piece.len();
        out.extend_from_slice(&piece);
    }
    Ok(out)
}

/// The bytes one URL names, or the NO that refuses it.
async fn resolve<S: Stream>(
    s: &Session<S>,
    tag: &Tag<'static>,
    account: &Account,
    raw: &[u8],
) -> Result<Vec<u8>, Status<'static>> {
    let bad = |why: &'static str| {
        let code = format!("BADURL {}", imapurl::for_response(raw));
        no(
            tag,
            Some(Code::Other(CodeOther::unvalidated(code.into_bytes()))),
            format!("CATENATE refused: {why}"),
        )
    };
    let store = &s.imap.store;
    // A URLAUTH URL (RFC 4469 §5) is verified as URLFETCH verifies it, never taken on
    // trust: its token, its expiry and its access identifier against this session's
    // user. It may name another user's message, as URLFETCH may.
    if imapurl::find_ci(&String::from_utf8_lossy(raw), ";URLAUTH=").is_some() {
        return match urlfetch::authorised(store, account, raw).await {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(bad("URLAUTH verification failed")),
            Err(e) => Err(store_failed(tag, e)),
        };
    }
    let Some(url) = std::str::from_utf8(raw).ok().and_then(imapurl::parse) else {
        return Err(bad("not an IMAP URL naming a message"));
    };
    if url
        .user
        .as_ref()
        .is_some_and(|user| !user.eq_ignore_ascii_case(&account.name))
    {
        return Err(bad("not your mailbox"));
    }
    let mailbox: Mailbox = match &url.mailbox {
        Some(name) => match urlpart::mailbox_named(store, account.id, name).await {
            Ok(Some(m)) => m,
            Ok(None) => return Err(bad("no such mailbox")),
            Err(e) => return Err(store_failed(tag, e)),
        },
        None => match &s.state {
            State::Selected { view, .. } if !view.gone => view.mailbox.clone(),
            _ => return Err(bad("a relative URL needs a selected mailbox")),
        },
    };
    match urlpart::read(store, &mailbox, &url).await {
        Ok(bytes) => Ok(bytes),
        Err(PartError::Missing(why)) => Err(bad(why)),
        Err(PartError::Store(e)) => Err(store_failed(tag, e)),
    }
}

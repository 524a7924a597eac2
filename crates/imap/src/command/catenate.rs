//! CATENATE (RFC 4469) with URL-PARTIAL (RFC 5550): builds one APPEND message from
//! TEXT pieces and the messages, or parts of them, that IMAP URLs (RFC 5092) name.
//!
//! A URL may name only the logged-in user's own mailboxes: a path (`/INBOX;...`), a
//! `;UID=` relative to the selected mailbox, or an `imap://user@host/` URL whose user
//! is this user (the host is not checked: a twin answers to several names, and the user
//! and mailbox decide what is read). A URL that does not name an existing message or
//! part, or names another user, or carries a UIDVALIDITY the mailbox no longer has, is
//! refused with NO [BADURL url] (§5); a message that would grow past the APPEND size
//! limit, with NO [TOOBIG]. Nothing is stored until every part is built (the caller's
//! store step comes after), so a refusal leaves every mailbox as it was.

use imap_codec::{CommandCodec, decode::Decoder};
use imap_types::{
    IntoStatic,
    command::CommandBody,
    core::Tag,
    fetch::{MacroOrMessageDataItemNames, MessageDataItemName, Section},
    response::{Code, CodeOther, Status},
};
use twinmail_net::Stream;
use twinmail_store::{Account, Mailbox};

use crate::{
    catenate::CatPart,
    command::store_failed,
    convert::no,
    imapurl, message,
    session::{Session, State},
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
    let store = &s.imap.store;
    let mailbox: Mailbox = match &url.mailbox {
        Some(name) => {
            let name = if name.eq_ignore_ascii_case("INBOX") {
                "INBOX".to_string()
            } else {
                match crate::convert::name_from_wire(name.as_bytes(), true) {
                    Some(n) => n,
                    None => return Err(bad("no such mailbox")),
                }
            };
            match store.mailbox(account.id, &name).await {
                Ok(Some(m)) => m,
                Ok(None) => return Err(bad("no such mailbox")),
                Err(e) => return Err(store_failed(tag, e)),
            }
        }
        None => match &s.state {
            State::Selected { view, .. } if !view.gone => view.mailbox.clone(),
            _ => return Err(bad("a relative URL needs a selected mailbox")),
        },
    };
    if url.uidvalidity.is_some_and(|v| v != mailbox.uidvalidity) {
        return Err(bad("UIDVALIDITY has changed"));
    }
    let found = match store.message(mailbox.id, url.uid).await {
        Ok(Some(m)) => m,
        Ok(None) => return Err(bad("no such message")),
        Err(e) => return Err(store_failed(tag, e)),
    };
    let raw_message = match store.blob(&found.blob).await {
        Ok(Some(b)) => b,
        Ok(None) => return Err(bad("no such message")),
        Err(e) => return Err(store_failed(tag, e)),
    };
    let mut data = match &url.section {
        None => raw_message,
        Some(text) => {
            let Some(section) = section(text) else {
                return Err(bad("invalid section"));
            };
            let parsed = message::parse(&raw_message);
            if !message::section_exists(parsed.as_ref(), &section) {
                return Err(bad("no such part"));
            }
            message::section(&raw_message, parsed.as_ref(), Some(&section))
        }
    };
    // RFC 5550 §... / RFC 5092: PARTIAL as FETCH's <origin.count>: past the end is empty.
    if let Some((offset, length)) = url.partial {
        let start = (offset as usize).min(data.len());
        let end = match length {
            Some(l) => start.saturating_add(l as usize).min(data.len()),
            None => data.len(),
        };
        data = data[start..end].to_vec();
    }
    Ok(data)
}

/// An RFC 3501 `section-text` (a URL's `;SECTION=`, decoded) as imap-codec reads it
/// inside `BODY[...]`, so the section grammar stays imap-codec's.
fn section(text: &str) -> Option<Section<'static>> {
    if text.bytes().any(|b| matches!(b, b']' | b'\r' | b'\n')) {
        return None;
    }
    let fetch = format!("A FETCH 1 BODY.PEEK[{text}]\r\n");
    let (rest, command) = CommandCodec::default().decode(fetch.as_bytes()).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let CommandBody::Fetch {
        macro_or_item_names: MacroOrMessageDataItemNames::MessageDataItemNames(names),
        ..
    } = command.body
    else {
        return None;
    };
    match names.into_iter().next()? {
        MessageDataItemName::BodyExt {
            section: Some(section),
            ..
        } => Some(section.into_static()),
        _ => None,
    }
}

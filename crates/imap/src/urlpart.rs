//! The bytes an IMAP URL names (RFC 5092, with RFC 5550's `;PARTIAL=`): a message, or a
//! section of it, or a range of either. Shared by CATENATE's URL parts (RFC 4469), which
//! refuse a URL that names nothing with NO [BADURL], by URLFETCH (RFC 4467), which
//! answers NIL for it, and by GENURLAUTH, which checks that a URL names something before
//! signing it.

use imap_codec::{CommandCodec, decode::Decoder};
use imap_types::{
    IntoStatic,
    command::CommandBody,
    fetch::{MacroOrMessageDataItemNames, MessageDataItemName, Section},
};
use twinmail_store::{Mailbox, Store, StoreError};

use crate::{imapurl::ImapUrl, message};

/// Why a URL names nothing.
#[derive(Debug)]
pub enum PartError {
    /// The URL names nothing (the words say what is missing; fit for a client).
    Missing(&'static str),
    /// The store failed: the server's fault, not the URL's.
    Store(StoreError),
}

impl From<StoreError> for PartError {
    fn from(e: StoreError) -> PartError {
        PartError::Store(e)
    }
}

/// The account's mailbox a URL names (URL names are UTF-8, never modified UTF-7,
/// RFC 5092 §5; INBOX in any case).
pub async fn mailbox_named(
    store: &Store,
    account_id: i64,
    name: &str,
) -> Result<Option<Mailbox>, StoreError> {
    let name = if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_string()
    } else {
        match crate::convert::name_from_wire(name.as_bytes(), true) {
            Some(n) => n,
            None => return Ok(None),
        }
    };
    store.mailbox(account_id, &name).await
}

/// The bytes `url` names in `mailbox`: its UIDVALIDITY (when it says one) must still be
/// the mailbox's, its message and section must exist; `;PARTIAL=` takes a range as
/// FETCH's `<origin.count>` does (past the end is empty).
pub async fn read(store: &Store, mailbox: &Mailbox, url: &ImapUrl) -> Result<Vec<u8>, PartError> {
    if url.uidvalidity.is_some_and(|v| v != mailbox.uidvalidity) {
        return Err(PartError::Missing("UIDVALIDITY has changed"));
    }
    let Some(found) = store.message(mailbox.id, url.uid).await? else {
        return Err(PartError::Missing("no such message"));
    };
    let Some(raw) = store.blob(&found.blob).await? else {
        return Err(PartError::Missing("no such message"));
    };
    let mut data = match &url.section {
        None => raw,
        Some(text) => {
            let Some(section) = section(text) else {
                return Err(PartError::Missing("invalid section"));
            };
            let parsed = message::parse(&raw);
            if !message::section_exists(parsed.as_ref(), &section) {
                return Err(PartError::Missing("no such part"));
            }
            message::section(&raw, parsed.as_ref(), Some(&section))
        }
    };
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

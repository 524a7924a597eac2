//! APPEND (RFC 3501 §6.3.11) with UIDPLUS's APPENDUID (RFC 4315). OK only once the
//! message is durable; an empty message is refused. MULTIAPPEND (RFC 3502) and CATENATE
//! (RFC 4469, built in `catenate.rs`) below; all three store through `store_all`.

use std::borrow::Cow;

use imap_types::{
    core::Tag,
    datetime::DateTime,
    extensions::binary::LiteralOrLiteral8,
    flag::Flag,
    mailbox::Mailbox,
    response::{Code, CodeOther, Status},
};
use twinmail_net::Stream;
use twinmail_store::{Account, Flags, StoreError, UidSet};

use crate::{
    command::{Need, catenate, existing_mailbox, store_failed},
    convert::{bad, no, nz, ok, ordered_set, store_flags},
    multiappend::{Content, MultiAppend},
    session::Session,
};

pub async fn append<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: &Mailbox<'_>,
    flags: &[Flag<'_>],
    date: Option<DateTime>,
    message: LiteralOrLiteral8<'_>,
) -> Status<'static> {
    let (account, m, _) = match existing_mailbox(s, tag, mailbox, true, Need::All("i")).await {
        Ok(found) => found,
        Err(status) => return status,
    };
    let bytes = match message {
        // Taken, not copied: the session's share of the bytes in memory counts one copy.
        LiteralOrLiteral8::Literal(l) => l.into_inner().into_owned(),
        LiteralOrLiteral8::Literal8(l) => l.data.into_owned(),
    };
    let flags = match store_flags(flags) {
        Ok(f) => f,
        Err(text) => return bad(tag, text),
    };
    let one = Ready {
        bytes: Cow::Owned(bytes),
        flags,
        date: date.map(|d| d.as_ref().timestamp()),
    };
    store_all(s, tag, &account, &m, vec![one]).await
}

/// The APPEND forms imap-codec leaves to us (`multiappend.rs`): several messages
/// (MULTIAPPEND, RFC 3502), and messages built with CATENATE (RFC 4469). Every message
/// is checked and built (flags, CATENATE's URLs) before the first is stored, so a BAD,
/// a [BADURL] or a [TOOBIG] in the last leaves the mailbox as it was. The bytes of
/// literal messages stay in the command's buffer until each is written; built ones
/// together are capped at the largest APPEND literal (`max_literal_size`), and their
/// URL parts at `catenate::MAX_URLS`.
pub async fn multiappend<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    m: &MultiAppend,
    bytes: &[u8],
) -> Status<'static> {
    let (owner, mailbox, _) = match existing_mailbox(s, tag, &m.mailbox, true, Need::All("i")).await
    {
        Ok(found) => found,
        Err(status) => return status,
    };
    // CATENATE's URLs name the user's own mailboxes, wherever the message goes.
    let Some(account) = s.state.account().cloned() else {
        return bad(tag, "Log in first");
    };
    let mut budget = catenate::Budget {
        bytes: s.imap.settings.max_literal_size as usize,
        urls: catenate::MAX_URLS,
    };
    let mut ready = Vec::with_capacity(m.parts.len());
    for part in &m.parts {
        let flags = match store_flags(&part.flags) {
            Ok(f) => f,
            Err(text) => return bad(tag, text),
        };
        let message = match &part.content {
            Content::Literal(range) => Cow::Borrowed(&bytes[range.clone()]),
            Content::Catenate(pieces) => {
                match catenate::assemble(s, tag, &account, pieces, bytes, &mut budget).await {
                    Ok(built) => Cow::Owned(built),
                    Err(status) => return status,
                }
            }
        };
        ready.push(Ready {
            bytes: message,
            flags,
            date: part.date.as_ref().map(|d| d.as_ref().timestamp()),
        });
    }
    store_all(s, tag, &owner, &mailbox, ready).await
}

/// One message checked and ready to store.
struct Ready<'a> {
    /// Its bytes: borrowed from the command while they are a literal there, owned once
    /// built (CATENATE) or taken from imap-codec's command.
    bytes: Cow<'a, [u8]>,
    /// The flags to store it with.
    flags: Flags,
    /// Its INTERNALDATE as Unix seconds, when the client gave one.
    date: Option<i64>,
}

/// Stores `messages` in `mailbox`, all or none, and answers OK with APPENDUID (RFC 4315
/// §3: one UID, or for several the set of their UIDs).
///
/// All or none: the store writes one message per `Write::Add` (each a logged change,
/// mirrored to the twin), and has no write for several. So everything the client can
/// get wrong (an empty message, the quota for the sum) is checked before the first
/// write; should a later write still fail (the server's fault, or a quota raced by a
/// delivery), the messages already added are removed again (one logged expunge) before
/// the NO. Other sessions may see them come and go; none is kept.
async fn store_all<S: Stream>(
    s: &Session<S>,
    tag: &Tag<'static>,
    account: &Account,
    mailbox: &twinmail_store::Mailbox,
    messages: Vec<Ready<'_>>,
) -> Status<'static> {
    // A message of no bytes has no header, so it is no RFC 5322 message; clients that
    // send one have lost what they meant to store (Dovecot refuses it too).
    if messages.iter().any(|m| m.bytes.is_empty()) {
        return no(tag, None, "Empty message refused".into());
    }
    let store = &s.imap.store;
    if messages.len() > 1 {
        // One message: the store's own check is the same and costs no extra query.
        let total: u64 = messages.iter().map(|m| m.bytes.len() as u64).sum();
        match store.quota(account.id).await {
            Ok(q) if q.exceeded_by(total) => {
                return store_failed(
                    tag,
                    StoreError::OverQuota(format!(
                        "{} of {} bytes used",
                        q.used_bytes,
                        q.limit_bytes.unwrap_or(0)
                    )),
                );
            }
            Ok(_) => {}
            Err(e) => return store_failed(tag, e),
        }
    }
    let mut placed = Vec::with_capacity(messages.len());
    for m in messages {
        match store
            .append(mailbox.id, m.bytes.into_owned(), m.flags, m.date)
            .await
        {
            Ok(p) => placed.push(p),
            Err(e) => {
                if let Some(first) = placed.first() {
                    let uids: Vec<u32> = placed.iter().map(|p| p.uid).collect();
                    let set = UidSet::from_uids(uids.iter().copied());
                    tracing::warn!(
                        error = %e,
                        added = uids.len(),
                        uidvalidity = first.uidvalidity,
                        "MULTIAPPEND failed partway: removing what it added"
                    );
                    if let Err(undo) = store.remove(mailbox.id, set).await {
                        tracing::error!(error = %undo, ?uids, "MULTIAPPEND could not take back its messages");
                    }
                }
                return store_failed(tag, e);
            }
        }
    }
    let code = match placed.as_slice() {
        [one] => Code::AppendUid {
            uid_validity: nz(one.uidvalidity),
            uid: nz(one.uid),
        },
        _ => {
            let uidvalidity = placed.first().map_or(0, |p| p.uidvalidity);
            let uids: Vec<u32> = placed.iter().map(|p| p.uid).collect();
            let set = ordered_set(&uids);
            Code::Other(CodeOther::unvalidated(
                format!("APPENDUID {uidvalidity} {set}").into_bytes(),
            ))
        }
    };
    ok(tag, Some(code), "APPEND completed")
}

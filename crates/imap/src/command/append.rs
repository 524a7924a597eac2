//! APPEND (RFC 3501 §6.3.11) with UIDPLUS's APPENDUID (RFC 4315). OK only once the
//! message is durable; an empty message is refused. MULTIAPPEND (RFC 3502) below.

use imap_types::{
    core::Tag,
    datetime::DateTime,
    extensions::binary::LiteralOrLiteral8,
    flag::Flag,
    mailbox::Mailbox,
    response::{Code, CodeOther, Status},
};
use twinmail_net::Stream;
use twinmail_store::{StoreError, UidSet};

use crate::{
    command::{existing_mailbox, store_failed},
    convert::{bad, no, nz, ok, store_flags},
    multiappend::MultiAppend,
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
    let (_, m) = match existing_mailbox(s, tag, mailbox, true).await {
        Ok(found) => found,
        Err(status) => return status,
    };
    let bytes = match message {
        // Taken, not copied: the session's share of the bytes in memory counts one copy.
        LiteralOrLiteral8::Literal(l) => l.into_inner().into_owned(),
        LiteralOrLiteral8::Literal8(l) => l.data.into_owned(),
    };
    // A message of no bytes has no header, so it is no RFC 5322 message; clients that
    // send one have lost what they meant to store (Dovecot refuses it too).
    if bytes.is_empty() {
        return no(tag, None, "Empty message refused".into());
    }
    let flags = match store_flags(flags) {
        Ok(f) => f,
        Err(text) => return bad(tag, text),
    };
    let store = &s.imap.store;
    let date = date.map(|d| d.as_ref().timestamp());
    match store.append(m.id, bytes, flags, date).await {
        Ok(placed) => ok(
            tag,
            Some(Code::AppendUid {
                uid_validity: nz(placed.uidvalidity),
                uid: nz(placed.uid),
            }),
            "APPEND completed",
        ),
        Err(e) => store_failed(tag, e),
    }
}

/// MULTIAPPEND (RFC 3502): several messages into one mailbox, all or none, answered
/// with APPENDUID and the set of their UIDs (RFC 4315 §3).
///
/// All or none: the store writes one message per `Write::Add` (each a logged change,
/// mirrored to the twin), and has no write for several. So everything the client can
/// get wrong (the mailbox, each part's flags, an empty message, the quota for the sum)
/// is checked before the first write; should a later write still fail (the server's
/// fault, or a quota raced by a delivery), the messages already added are removed
/// again (one logged expunge) before the NO. Other sessions may see them come and go;
/// none is kept. Their bytes together are within the command size (the largest
/// literal), held once in memory.
pub async fn multiappend<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    m: &MultiAppend,
    bytes: &[u8],
) -> Status<'static> {
    let (account, mailbox) = match existing_mailbox(s, tag, &m.mailbox, true).await {
        Ok(found) => found,
        Err(status) => return status,
    };
    let mut checked = Vec::with_capacity(m.parts.len());
    let mut total = 0u64;
    for part in &m.parts {
        if part.bytes.is_empty() {
            return no(tag, None, "Empty message refused".into());
        }
        let flags = match store_flags(&part.flags) {
            Ok(f) => f,
            Err(text) => return bad(tag, text),
        };
        total += part.bytes.len() as u64;
        checked.push((flags, part.date.as_ref().map(|d| d.as_ref().timestamp())));
    }
    let store = &s.imap.store;
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
    let mut placed = Vec::with_capacity(m.parts.len());
    for (part, (flags, date)) in m.parts.iter().zip(checked) {
        let message = bytes[part.bytes.clone()].to_vec();
        match store.append(mailbox.id, message, flags, date).await {
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
    let uidvalidity = placed.first().map_or(0, |p| p.uidvalidity);
    let set = uid_set_text(placed.iter().map(|p| p.uid));
    let code = Code::Other(CodeOther::unvalidated(
        format!("APPENDUID {uidvalidity} {set}").into_bytes(),
    ));
    ok(tag, Some(code), "APPEND completed")
}

/// UIDs in the order given as an RFC 4315 uid-set, runs of consecutive ones as `a:b`.
fn uid_set_text(uids: impl Iterator<Item = u32>) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for uid in uids {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(uid) => *end = uid,
            _ => runs.push((uid, uid)),
        }
    }
    runs.iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}:{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

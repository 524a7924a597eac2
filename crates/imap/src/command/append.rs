//! APPEND (RFC 3501 §6.3.11) with UIDPLUS's APPENDUID (RFC 4315). OK only once the
//! message is durable; an empty message is refused.

use imap_types::{
    core::Tag,
    datetime::DateTime,
    extensions::binary::LiteralOrLiteral8,
    flag::Flag,
    mailbox::Mailbox,
    response::{Code, Status},
};
use twinmail_net::Stream;

use crate::{
    command::{existing_mailbox, store_failed},
    convert::{bad, no, nz, ok, store_flags},
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

//! APPEND (RFC 3501 §6.3.11) with UIDPLUS's APPENDUID (RFC 4315). OK only once the
//! message is durable.

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
    command::store_failed,
    convert::{bad, mailbox_name, no, nz, ok, store_flags},
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
    let Some(account) = s.state.account().cloned() else {
        return bad(tag, "Log in first");
    };
    let Some(name) = mailbox_name(mailbox) else {
        return no(tag, None, "Invalid mailbox name".into());
    };
    let bytes = match message {
        LiteralOrLiteral8::Literal(l) => l.as_ref().to_vec(),
        LiteralOrLiteral8::Literal8(l) => l.data.into_owned(),
    };
    let store = &s.imap.store;
    let m = match store.mailbox(account.id, &name).await {
        Ok(Some(m)) => m,
        Ok(None) => return no(tag, Some(Code::TryCreate), "No such mailbox".into()),
        Err(e) => return store_failed(tag, e),
    };
    let date = date.map(|d| d.as_ref().timestamp());
    match store.append(m.id, bytes, store_flags(flags), date).await {
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

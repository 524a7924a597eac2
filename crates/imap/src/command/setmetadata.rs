//! SETMETADATA (RFC 5464 §4.3): sets or (with NIL) removes annotations of a mailbox or of
//! the server, all or none; mirrored to the twin like every write. A value over the limit
//! is `NO [METADATA MAXSIZE n]`; more entries than one mailbox may hold, `NO [METADATA
//! TOOMANY]`.

use imap_types::{
    core::{NString8, Tag},
    extensions::metadata::{EntryValue, MetadataCode},
    mailbox::Mailbox,
    response::{Code, Status},
};
use twinmail_net::Stream;
use twinmail_store::{METADATA_MAX_VALUE, StoreError};

use crate::{
    command::{
        getmetadata::{entry_name, target},
        store_failed,
    },
    convert::{bad, no, ok},
    session::Session,
};

/// SETMETADATA mailbox (entry value ...).
pub async fn setmetadata<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: &Mailbox<'_>,
    entry_values: &[EntryValue<'_>],
) -> Status<'static> {
    let (account_id, target) = match target(s, tag, mailbox).await {
        Ok(t) => t,
        Err(status) => return status,
    };
    let mut entries = Vec::with_capacity(entry_values.len());
    for ev in entry_values {
        let Some(name) = entry_name(ev.entry.as_ref()) else {
            return bad(tag, "Invalid entry name");
        };
        let value = match &ev.value {
            NString8::NString(n) => n.0.as_ref().map(|v| v.as_ref().to_vec()),
            NString8::Literal8(l) => Some(l.data.as_ref().to_vec()),
        };
        if value.as_ref().is_some_and(|v| v.len() > METADATA_MAX_VALUE) {
            return no(
                tag,
                Some(Code::Metadata(MetadataCode::MaxSize(
                    METADATA_MAX_VALUE as u32,
                ))),
                "The value is too large".into(),
            );
        }
        entries.push((name, value));
    }
    match s
        .imap
        .store
        .set_metadata(account_id, target.name.as_deref(), entries)
        .await
    {
        Ok(()) => ok(tag, None, "SETMETADATA completed"),
        Err(StoreError::NotAllowed(_)) => no(
            tag,
            Some(Code::Metadata(MetadataCode::TooMany)),
            "Too many annotations".into(),
        ),
        Err(e) => store_failed(tag, e),
    }
}

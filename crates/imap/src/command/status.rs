//! STATUS (RFC 3501 §6.3.10), with HIGHESTMODSEQ (RFC 7162), SIZE (RFC 8438) and
//! DELETED (RFC 9051). The same items answer LIST's STATUS return option (RFC 5819).

use std::borrow::Cow;

use imap_types::{
    core::Tag,
    mailbox::Mailbox,
    response::{Data, Status},
    status::{StatusDataItem, StatusDataItemName},
};
use twinmail_net::Stream;
use twinmail_store::{Mailbox as StoreMailbox, StoreError};

use crate::{
    command::{Need, existing_mailbox, shown_name, store_failed},
    convert::{nz, ok},
    session::Session,
};

pub async fn status<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: &Mailbox<'_>,
    names: &[StatusDataItemName],
) -> Status<'static> {
    // RFC 7162 §3.1: STATUS (HIGHESTMODSEQ) is a CONDSTORE enabling command.
    if names.contains(&StatusDataItemName::HighestModSeq) {
        s.condstore = true;
    }
    let (owner, mut m, _) = match existing_mailbox(s, tag, mailbox, false, Need::AnyOf("r")).await {
        Ok(found) => found,
        Err(status) => return status,
    };
    m.name = shown_name(s, &owner, &m);
    match status_items(s, &m, names).await {
        Ok(d) => s.data(d),
        Err(e) => return store_failed(tag, e),
    }
    ok(tag, None, "STATUS completed")
}

/// The `* STATUS` response for a mailbox and the items asked for.
pub async fn status_items<S: Stream>(
    s: &Session<S>,
    m: &StoreMailbox,
    names: &[StatusDataItemName],
) -> Result<Data<'static>, StoreError> {
    let store = &s.imap.store;
    let counts = store.counts(m.id).await?;
    // DELETED and RECENT need every message: only read them when asked.
    let all = if names.contains(&StatusDataItemName::Deleted)
        || names.contains(&StatusDataItemName::Recent)
    {
        store.messages(m.id).await?
    } else {
        Vec::new()
    };
    let deleted = all.iter().filter(|m| m.flags.contains("\\Deleted")).count() as u32;
    // RFC 3501 §6.3.10: the messages with \Recent, i.e. those the next session to
    // SELECT the mailbox would get as recent (see `recent.rs`).
    let recent = if names.contains(&StatusDataItemName::Recent) {
        s.imap.recent.unclaimed(m.guid, &all)
    } else {
        0
    };
    let items: Vec<StatusDataItem> = names
        .iter()
        .filter_map(|n| match n {
            StatusDataItemName::Messages => Some(StatusDataItem::Messages(counts.messages as u32)),
            StatusDataItemName::Recent => Some(StatusDataItem::Recent(recent)),
            StatusDataItemName::UidNext => Some(StatusDataItem::UidNext(nz(m.uidnext))),
            StatusDataItemName::UidValidity => Some(StatusDataItem::UidValidity(nz(m.uidvalidity))),
            StatusDataItemName::Unseen => Some(StatusDataItem::Unseen(counts.unseen as u32)),
            StatusDataItemName::Deleted => Some(StatusDataItem::Deleted(deleted)),
            StatusDataItemName::Size => Some(StatusDataItem::Size(counts.size)),
            StatusDataItemName::HighestModSeq => {
                Some(StatusDataItem::HighestModSeq(m.highestmodseq))
            }
            StatusDataItemName::DeletedStorage => None,
        })
        .collect();
    Ok(Data::Status {
        mailbox: s.wire_mailbox(&m.name),
        items: Cow::Owned(items),
    })
}

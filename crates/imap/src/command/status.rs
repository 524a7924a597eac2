//! STATUS (RFC 3501 §6.3.10).

use std::borrow::Cow;

use imap_types::{
    core::Tag,
    mailbox::Mailbox,
    response::{Data, Status},
    status::{StatusDataItem, StatusDataItemName},
};
use twinmail_net::Stream;

use crate::{
    command::{existing_mailbox, store_failed},
    convert::{nz, ok, wire_mailbox},
    session::Session,
};

pub async fn status<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: &Mailbox<'_>,
    names: &[StatusDataItemName],
) -> Status<'static> {
    let (_, m) = match existing_mailbox(s, tag, mailbox, false).await {
        Ok(found) => found,
        Err(status) => return status,
    };
    let store = &s.imap.store;
    let counts = match store.counts(m.id).await {
        Ok(c) => c,
        Err(e) => return store_failed(tag, e),
    };
    let items: Vec<StatusDataItem> = names
        .iter()
        .filter_map(|n| match n {
            StatusDataItemName::Messages => Some(StatusDataItem::Messages(counts.messages as u32)),
            StatusDataItemName::Recent => Some(StatusDataItem::Recent(0)),
            StatusDataItemName::UidNext => Some(StatusDataItem::UidNext(nz(m.uidnext))),
            StatusDataItemName::UidValidity => Some(StatusDataItem::UidValidity(nz(m.uidvalidity))),
            StatusDataItemName::Unseen => Some(StatusDataItem::Unseen(counts.unseen as u32)),
            StatusDataItemName::HighestModSeq => {
                Some(StatusDataItem::HighestModSeq(m.highestmodseq))
            }
            _ => None,
        })
        .collect();
    s.data(Data::Status {
        mailbox: wire_mailbox(&m.name),
        items: Cow::Owned(items),
    });
    ok(tag, None, "STATUS completed")
}

//! STORE (RFC 3501 §6.4.6): FLAGS, +FLAGS, -FLAGS, with .SILENT.

use imap_types::{
    core::Tag,
    fetch::MessageDataItem,
    flag::{Flag, StoreResponse, StoreType},
    response::{Data, Status},
    sequence::SequenceSet,
};
use twinmail_net::Stream;
use twinmail_store::{FlagMode, UidSet};

use crate::{
    command::store_failed,
    convert::{bad, fetch_flags, no, nz, ok, store_flags, vec1},
    session::{Session, State},
};

pub async fn store<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    set: &SequenceSet,
    kind: StoreType,
    response: StoreResponse,
    flags: &[Flag<'_>],
    uid: bool,
) -> Status<'static> {
    let State::Selected { view, .. } = &s.state else {
        return bad(tag, "No mailbox selected");
    };
    if view.read_only {
        return no(tag, None, "Mailbox is read-only".into());
    }
    let pairs = match view.resolve(set, uid) {
        Ok(p) => p,
        Err(text) => return bad(tag, text),
    };
    let mode = match kind {
        StoreType::Replace => FlagMode::Replace,
        StoreType::Add => FlagMode::Add,
        StoreType::Remove => FlagMode::Remove,
    };
    let uids = UidSet::from_uids(pairs.iter().map(|p| p.1));
    let store = &s.imap.store;
    let mailbox = view.mailbox.id;
    if let Err(e) = store
        .store_flags(mailbox, uids.clone(), mode, store_flags(flags), None)
        .await
    {
        return store_failed(tag, e);
    }
    if matches!(response, StoreResponse::Silent) {
        return ok(tag, None, "STORE completed");
    }
    // Report every message's flags as they are now (RFC 3501 §6.4.6).
    let current = match store.messages_in(mailbox, &uids).await {
        Ok(m) => m,
        Err(e) => return store_failed(tag, e),
    };
    let reported: Vec<u32> = current.iter().map(|m| m.uid).collect();
    if let State::Selected { view, .. } = &mut s.state {
        view.forget_flags(&reported);
        for m in &current {
            let Some(seq) = view.seq(m.uid) else { continue };
            let mut items = vec![MessageDataItem::Flags(fetch_flags(&m.flags))];
            if uid {
                items.insert(0, MessageDataItem::Uid(nz(m.uid)));
            }
            if let Some(items) = vec1(items) {
                s.server.enqueue_data(Data::Fetch {
                    seq: nz(seq),
                    items,
                });
            }
        }
    }
    ok(tag, None, "STORE completed")
}

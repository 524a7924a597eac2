//! STORE (RFC 3501 §6.4.6): FLAGS, +FLAGS, -FLAGS, with .SILENT; and CONDSTORE's
//! UNCHANGEDSINCE (RFC 7162 §3.1.3), whose losers are named in [MODIFIED].

use imap_types::{
    command::StoreModifier,
    core::Tag,
    fetch::MessageDataItem,
    flag::{Flag, StoreResponse, StoreType},
    response::{Code, Data, Status},
    sequence::{SeqOrUid, Sequence, SequenceSet},
};
use twinmail_net::Stream;
use twinmail_store::{FlagMode, UidSet};

use crate::{
    command::{no_perm, store_failed},
    convert::{bad, no, nz, nz64, ok, store_flags, vec1},
    session::{Session, State},
};

#[allow(clippy::too_many_arguments)]
pub async fn store<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    set: &SequenceSet,
    kind: StoreType,
    response: StoreResponse,
    flags: &[Flag<'_>],
    uid: bool,
    modifiers: &[StoreModifier],
) -> Status<'static> {
    let unchanged_since = modifiers
        .iter()
        .map(|StoreModifier::UnchangedSince(n)| *n)
        .next();
    if unchanged_since.is_some() {
        s.condstore = true;
    }
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
    let flags = match store_flags(flags) {
        Ok(f) => f,
        Err(text) => return bad(tag, text),
    };
    // RFC 4314 §4: \Seen needs `s`, \Deleted `t`, any other flag `w`; replacing the set
    // may touch every one. A STORE asking for more than the user may do is refused whole.
    let needed = if mode == FlagMode::Replace {
        "stw".to_string()
    } else {
        flags
            .iter()
            .map(|f| match f {
                "\\Seen" => 's',
                "\\Deleted" => 't',
                _ => 'w',
            })
            .collect()
    };
    if !view.rights.has(&needed) {
        return no_perm(tag);
    }
    let uids = UidSet::from_uids(pairs.iter().map(|p| p.1));
    let store = &s.imap.store;
    let mailbox = view.mailbox.id;
    let stored = match store
        .store_flags(mailbox, uids.clone(), mode, flags, unchanged_since)
        .await
    {
        Ok(r) => r,
        Err(e) => return store_failed(tag, e),
    };
    // The store published this change before it answered: take it off the stream now,
    // so this session does not report its own change a second time as news.
    s.drain_changes();
    let silent = matches!(response, StoreResponse::Silent);
    // Changed messages with flag news from elsewhere not told yet: even .SILENT shows
    // their flags as they are now, or the client would take its own change on top of
    // the flags it knew for the whole truth, and the older news told afterwards would
    // take its change back.
    let news: Vec<u32> = match &s.state {
        State::Selected { view, .. } => stored
            .changed
            .iter()
            .map(|(u, _)| *u)
            .filter(|&u| view.has_flag_news(u, stored.modseq))
            .collect(),
        _ => Vec::new(),
    };
    // Every message's flags as they are now (RFC 3501 §6.4.6); with CONDSTORE even
    // .SILENT reports the new MODSEQs (RFC 7162 §3.1.3).
    let current = match s.imap.store.messages_in(mailbox, &uids).await {
        Ok(m) => m,
        Err(e) => return store_failed(tag, e),
    };
    s.announce_keywords(
        current
            .iter()
            .filter(|m| !silent || news.contains(&m.uid))
            .map(|m| &m.flags),
    );
    let condstore = s.condstore;
    // With QRESYNC every FETCH names its UID: the client may not keep sequence numbers
    // at all (RFC 7162 §3.2, erratum 1807 to RFC 5162).
    let with_uid = uid || s.qresync;
    if let State::Selected { view, .. } = &mut s.state {
        for m in &current {
            let Some(seq) = view.seq(m.uid) else { continue };
            if silent && !stored.changed.iter().any(|(u, _)| *u == m.uid) {
                continue;
            }
            // From here the client knows this message's flags as of m.modseq (told, or
            // its own change on what it knew): older news is not told after it.
            view.told_flags(m.uid, m.modseq);
            let show_flags = !silent || news.contains(&m.uid);
            let mut items = Vec::new();
            if with_uid {
                items.push(MessageDataItem::Uid(nz(m.uid)));
            }
            if show_flags {
                items.push(MessageDataItem::Flags(view.flags_of(m.uid, &m.flags)));
            }
            if condstore {
                items.push(MessageDataItem::ModSeq(nz64(m.modseq)));
            }
            if (show_flags || condstore)
                && let Some(items) = vec1(items)
            {
                s.server.enqueue_data(Data::Fetch {
                    seq: nz(seq),
                    items,
                });
            }
        }
    }
    let modified: Vec<u32> = stored
        .modified
        .iter()
        .filter_map(|u| {
            if uid {
                Some(*u)
            } else {
                pairs.iter().find(|p| p.1 == *u).map(|p| p.0)
            }
        })
        .collect();
    let code = vec1(
        modified
            .into_iter()
            .map(|n| Sequence::Single(SeqOrUid::Value(nz(n))))
            .collect(),
    )
    .map(|v| Code::Modified(SequenceSet(v)));
    if code.is_some() {
        return ok(tag, code, "Conditional STORE failed for some messages");
    }
    ok(tag, None, "STORE completed")
}

//! COPY (RFC 3501 §6.4.7) and MOVE (RFC 6851), with COPYUID (RFC 4315).

use std::num::NonZeroU32;

use imap_types::{
    core::Tag,
    extensions::uidplus::{UidElement, UidSet as WireUidSet},
    mailbox::Mailbox,
    response::{Code, Status},
    sequence::SequenceSet,
};
use twinmail_net::Stream;
use twinmail_store::{Copied, StoreError, UidSet};

use crate::{
    command::{Need, existing_mailbox, no_perm, store_failed},
    convert::{bad, no, nz, ok, vec1},
    session::{Session, State},
};

pub async fn copy<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    set: &SequenceSet,
    target: &Mailbox<'_>,
    uid: bool,
    remove: bool,
) -> Status<'static> {
    let State::Selected { view, .. } = &s.state else {
        return bad(tag, "No mailbox selected");
    };
    if remove && view.read_only {
        return no(tag, None, "Mailbox is read-only".into());
    }
    // RFC 6851 §3.3 with RFC 4314 §4: MOVE takes the messages away, so it needs the
    // source's `t` and `e` (COPY needs only `r`, which SELECT checked).
    if remove && !view.rights.has("te") {
        return no_perm(tag);
    }
    let pairs = match view.resolve(set, uid) {
        Ok(p) => p,
        Err(text) => return bad(tag, text),
    };
    let (from, from_account) = (view.mailbox.id, view.mailbox.account_id);
    let (_, to, _) = match existing_mailbox(s, tag, target, true, Need::All("i")).await {
        Ok(found) => found,
        Err(status) => return status,
    };
    let store = &s.imap.store;
    let uids = UidSet::from_uids(pairs.iter().map(|p| p.1));
    let copied = if to.account_id == from_account {
        store.copy(from, uids, to.id, remove).await
    } else {
        across(store, from, uids, &to, remove).await
    };
    let copied = match copied {
        Ok(c) => c,
        Err(e) => return store_failed(tag, e),
    };
    let code = match (
        vec1(ranges(copied.uids.iter().map(|p| p.0))),
        vec1(ranges(copied.uids.iter().map(|p| p.1))),
    ) {
        (Some(source), Some(destination)) => Some(Code::CopyUid {
            uid_validity: nz(copied.uidvalidity),
            source: WireUidSet(source),
            destination: WireUidSet(destination),
        }),
        _ => None,
    };
    if !remove {
        return ok(tag, code, "COPY completed");
    }
    // MOVE: COPYUID goes in an untagged OK before the EXPUNGEs (RFC 6851 §4.3).
    if let Ok(status) = Status::ok(None, code, "Moved") {
        s.server.enqueue_status(status);
    }
    let moved: Vec<u32> = copied.uids.iter().map(|p| p.0).collect();
    let qresync = s.qresync;
    if let State::Selected { view, .. } = &mut s.state {
        for d in view.expunge_report(&moved, qresync) {
            s.server.enqueue_data(d);
        }
    }
    ok(tag, None, "MOVE completed")
}

/// COPY or MOVE between two accounts' mailboxes (a shared one, `acl.rs`): the store copies
/// only within an account, since the two may be homed on different twins, so each message
/// is appended to the target (same bytes, flags and INTERNALDATE) and, for MOVE, the
/// source messages are removed afterwards. Not one transaction: a failure part-way leaves
/// the copies made so far (as a client's own copy-then-delete would), never a loss.
async fn across(
    store: &twinmail_store::Store,
    from: i64,
    uids: UidSet,
    to: &twinmail_store::Mailbox,
    remove: bool,
) -> Result<Copied, StoreError> {
    let messages = store.messages_in(from, &uids).await?;
    let mut out = Copied {
        uidvalidity: to.uidvalidity,
        uids: Vec::with_capacity(messages.len()),
    };
    for m in &messages {
        let Some(bytes) = store.blob(&m.blob).await? else {
            continue;
        };
        let placed = store
            .append(to.id, bytes, m.flags.clone(), Some(m.internal_date))
            .await?;
        out.uidvalidity = placed.uidvalidity;
        out.uids.push((m.uid, placed.uid));
    }
    if remove && !out.uids.is_empty() {
        store
            .remove(from, UidSet::from_uids(out.uids.iter().map(|p| p.0)))
            .await?;
    }
    Ok(out)
}

/// Ascending UIDs as UIDPLUS ranges, in the given order (source and destination
/// sets must pair up element by element).
fn ranges(uids: impl Iterator<Item = u32>) -> Vec<UidElement> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for u in uids {
        match out.last_mut() {
            Some(last) if last.1 + 1 == u => last.1 = u,
            _ => out.push((u, u)),
        }
    }
    out.into_iter()
        .map(|(a, b)| {
            let (a, b) = (
                NonZeroU32::new(a).unwrap_or(NonZeroU32::MIN),
                NonZeroU32::new(b).unwrap_or(NonZeroU32::MIN),
            );
            if a == b {
                UidElement::Single(a)
            } else {
                UidElement::Range(a, b)
            }
        })
        .collect()
}

//! SELECT and EXAMINE (RFC 3501 §6.3.1-2), with CONDSTORE's and QRESYNC's parameters
//! (RFC 7162 §3.1.8, §3.2.5): a QRESYNC client learns what vanished since its last
//! MODSEQ (`VANISHED (EARLIER)`, from the store's tombstones) and which flags changed.

use imap_types::{
    command::SelectParameter,
    core::{QuotedChar, Tag},
    fetch::MessageDataItem,
    mailbox::Mailbox,
    response::{Code, Data, Status},
};
use twinmail_net::Stream;

use crate::{
    command::{Need, existing_mailbox, shown_name, store_failed},
    convert::{bad, nz, nz64, ok, uid_set, vec1},
    recent::RecentMode,
    selected::{Selected, vanished},
    session::{Session, State},
};

pub async fn select<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: &Mailbox<'_>,
    read_only: bool,
    parameters: &[SelectParameter],
) -> Status<'static> {
    // A new SELECT leaves the old mailbox first, even if it fails (RFC 3501 §6.3.1);
    // [CLOSED] marks where the old mailbox's responses end (RFC 7162 §3.2.11).
    // RFC 5182 §2.1: SELECT and EXAMINE empty the saved search result (`$`).
    s.search_result = twinmail_store::UidSet::default();
    if matches!(s.state, State::Selected { .. }) {
        s.state.deselect();
        untagged_ok(s, Code::Closed, "Previous mailbox closed");
    }
    let mut resync = None;
    for p in parameters {
        match p {
            SelectParameter::CondStore => s.condstore = true,
            SelectParameter::QResync {
                uid_validity,
                mod_sequence_value,
                known_uids,
                ..
            } => {
                // RFC 7162 §3.2.5: BAD unless ENABLE QRESYNC came first.
                if !s.qresync {
                    return bad(tag, "ENABLE QRESYNC first");
                }
                // The sequence-match data only helps servers that forget expunges; the
                // tombstones here are kept, so it is not needed.
                resync = Some((uid_validity.get(), mod_sequence_value.get(), known_uids));
            }
        }
    }
    let (owner, m, rights) = match existing_mailbox(s, tag, mailbox, false, Need::All("r")).await {
        Ok(found) => found,
        Err(status) => return status,
    };
    let Some(account) = s.state.account().cloned() else {
        return bad(tag, "Log in first");
    };
    let shown = shown_name(s, &owner, &m);
    // RFC 4314 §4: a shared mailbox the user may change nothing in opens read-only.
    let read_only = read_only || !rights.any("stwe");
    let store = s.imap.store.clone();
    let messages = match store.messages(m.id).await {
        Ok(v) => v,
        Err(e) => return store_failed(tag, e),
    };
    // FLAGS names every keyword a message here carries, so no FETCH below or later uses
    // one the client has not been told (RFC 3501 §7.2.6); PERMANENTFLAGS adds \* for
    // new ones.
    let uids: Vec<u32> = messages.iter().map(|m| m.uid).collect();
    // \Recent (RFC 3501 §2.3.2, see `recent.rs`): SELECT claims what no session has
    // claimed yet, EXAMINE claims nothing (and is shown none); IMAP4rev2 has no \Recent.
    let mode = if s.rev2 {
        RecentMode::Off
    } else if read_only {
        RecentMode::Peek
    } else {
        RecentMode::Claim
    };
    let recent = s.imap.recent.at_select(m.guid, &messages, mode);
    let mut view = Selected::new(
        m.clone(),
        read_only,
        uids.clone(),
        messages.iter().map(|m| &m.flags),
        mode,
        recent,
    );
    view.rights = rights;
    let (flags, perm) = view.flags_announcement();
    s.data(flags);
    untagged_ok(s, perm, "Flags permitted");
    s.data(Data::Exists(messages.len() as u32));
    if s.rev2 {
        // RFC 9051 §6.3.2: no RECENT or UNSEEN; a LIST response gives the name as the
        // server spells it.
        let mailbox = s.wire_mailbox(&shown);
        s.data(Data::List {
            items: Vec::new(),
            delimiter: QuotedChar::try_from('/').ok(),
            mailbox,
        });
    } else {
        s.data(Data::Recent(view.recent_count()));
        if let Some(i) = messages.iter().position(|m| !m.flags.contains("\\Seen")) {
            untagged_ok(s, Code::Unseen(nz(i as u32 + 1)), "First unseen");
        }
    }
    untagged_ok(s, Code::UidValidity(nz(m.uidvalidity)), "UIDs valid");
    untagged_ok(s, Code::UidNext(nz(m.uidnext)), "Predicted next UID");
    // RFC 7162 §3.1.2.1: MODSEQs are persistent, so HIGHESTMODSEQ comes with every SELECT.
    untagged_ok(s, Code::HighestModSeq(nz64(m.highestmodseq)), "Highest");
    // QRESYNC: only when the client's UIDVALIDITY is still right (else it must resync
    // from scratch, which the ordinary responses above let it do).
    if let Some((validity, since, known)) = resync
        && validity == m.uidvalidity
    {
        let largest = m.uidnext.saturating_sub(1);
        let known = known.as_ref().map(|k| uid_set(k, largest));
        let gone = match store.expunged_since(m.id, since).await {
            Ok(v) => v,
            Err(e) => return store_failed(tag, e),
        };
        let gone = gone
            .into_iter()
            .filter(|u| known.as_ref().is_none_or(|k| k.contains(*u)));
        if let Some(d) = vanished(gone, true) {
            s.data(d);
        }
        for msg in messages.iter().filter(|msg| msg.modseq > since) {
            if let Ok(i) = uids.binary_search(&msg.uid) {
                let items = vec![
                    MessageDataItem::Uid(nz(msg.uid)),
                    MessageDataItem::Flags(view.flags_of(msg.uid, &msg.flags)),
                    MessageDataItem::ModSeq(nz64(msg.modseq)),
                ];
                if let Some(items) = vec1(items) {
                    s.data(Data::Fetch {
                        seq: nz(i as u32 + 1),
                        items,
                    });
                }
            }
        }
    }
    s.state = State::Selected {
        account,
        view: Box::new(view),
    };
    if read_only {
        ok(tag, Some(Code::ReadOnly), "EXAMINE completed")
    } else {
        ok(tag, Some(Code::ReadWrite), "SELECT completed")
    }
}

fn untagged_ok<S: Stream>(s: &mut Session<S>, code: Code<'static>, text: &'static str) {
    if let Ok(status) = Status::ok(None, Some(code), text) {
        s.server.enqueue_status(status);
    }
}

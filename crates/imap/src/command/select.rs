//! SELECT and EXAMINE (RFC 3501 §6.3.1-2).

use imap_types::{
    command::SelectParameter,
    core::Tag,
    flag::{Flag, FlagPerm},
    mailbox::Mailbox,
    response::{Code, Data, Status},
};
use twinmail_net::Stream;

use crate::{
    command::{existing_mailbox, store_failed},
    convert::{bad, nz, nz64, ok},
    selected::Selected,
    session::{Session, State},
};

pub async fn select<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    mailbox: &Mailbox<'_>,
    read_only: bool,
    parameters: &[SelectParameter],
) -> Status<'static> {
    // A new SELECT leaves the old mailbox first, even if it fails (RFC 3501 §6.3.1).
    s.state.deselect();
    for p in parameters {
        match p {
            SelectParameter::CondStore => s.condstore = true,
            SelectParameter::QResync { .. } => return bad(tag, "QRESYNC is not supported"),
        }
    }
    let (account, m) = match existing_mailbox(s, tag, mailbox, false).await {
        Ok(found) => found,
        Err(status) => return status,
    };
    let store = &s.imap.store;
    let messages = match store.messages(m.id).await {
        Ok(v) => v,
        Err(e) => return store_failed(tag, e),
    };
    let system = [
        Flag::Answered,
        Flag::Flagged,
        Flag::Deleted,
        Flag::Seen,
        Flag::Draft,
    ];
    s.data(Data::Flags(system.to_vec()));
    let mut perm: Vec<FlagPerm> = system.into_iter().map(FlagPerm::Flag).collect();
    perm.push(FlagPerm::Asterisk);
    untagged_ok(
        s,
        Code::PermanentFlags(if read_only { Vec::new() } else { perm }),
        "Flags permitted",
    );
    s.data(Data::Exists(messages.len() as u32));
    s.data(Data::Recent(0));
    if let Some(i) = messages.iter().position(|m| !m.flags.contains("\\Seen")) {
        untagged_ok(s, Code::Unseen(nz(i as u32 + 1)), "First unseen");
    }
    untagged_ok(s, Code::UidValidity(nz(m.uidvalidity)), "UIDs valid");
    untagged_ok(s, Code::UidNext(nz(m.uidnext)), "Predicted next UID");
    // RFC 7162 §3.1.2.1: MODSEQs are persistent, so HIGHESTMODSEQ comes with every SELECT.
    untagged_ok(s, Code::HighestModSeq(nz64(m.highestmodseq)), "Highest");
    let uids = messages.iter().map(|m| m.uid).collect();
    s.state = State::Selected {
        account,
        view: Box::new(Selected::new(m, read_only, uids)),
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

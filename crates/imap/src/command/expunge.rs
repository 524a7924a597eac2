//! EXPUNGE (RFC 3501 §6.4.3) and UID EXPUNGE (RFC 4315).

use imap_types::{core::Tag, response::Status, sequence::SequenceSet};
use twinmail_net::Stream;

use crate::{
    command::{no_perm, store_failed},
    convert::{bad, no, ok, uid_set},
    session::{Session, State},
};

pub async fn expunge<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    uids: Option<&SequenceSet>,
) -> Status<'static> {
    let State::Selected { view, .. } = &s.state else {
        return bad(tag, "No mailbox selected");
    };
    if view.read_only {
        return no(tag, None, "Mailbox is read-only".into());
    }
    // RFC 4314 §4: EXPUNGE needs `e`.
    if !view.rights.has("e") {
        return no_perm(tag);
    }
    let set = uids.map(|u| uid_set(u, view.max_uid()));
    let gone = match s.imap.store.expunge(view.mailbox.id, set).await {
        Ok(g) => g,
        Err(e) => return store_failed(tag, e),
    };
    let State::Selected { view, .. } = &mut s.state else {
        return bad(tag, "No mailbox selected");
    };
    let qresync = s.qresync;
    for d in view.expunge_report(&gone, qresync) {
        s.server.enqueue_data(d);
    }
    ok(tag, None, "EXPUNGE completed")
}

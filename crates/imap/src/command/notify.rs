//! NOTIFY (RFC 5465 §3.1): `NOTIFY NONE` turns notifications off; `NOTIFY SET [STATUS]
//! event-group ...` replaces what the session watches (`watch.rs`), and with STATUS
//! first tells the STATUS of every mailbox whose message events it now watches, the
//! selected one aside. The command's syntax is `notify.rs`'s; like NOOP it tells the
//! selected mailbox's news (§3.1: "an implicit NOOP"), which the session does after every
//! command.

use imap_types::{
    core::Tag,
    response::{Code, CodeOther, Status},
};
use twinmail_net::Stream;
use twinmail_store::names;

use crate::{
    command::{status::status_items, store_failed},
    convert::{bad, name_from_wire, no, ok},
    notify::{Refusal, Request, SUPPORTED},
    session::{Session, State},
    watch::{Events, Watch, status_names},
};

pub async fn notify<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    request: Request,
) -> Status<'static> {
    // What the watch being replaced noted happened under it: told first.
    crate::watch::tell(s).await;
    let Some(set) = request.set else {
        s.notify = None;
        return ok(tag, None, "NOTIFY completed");
    };
    let Some(account) = s.state.account().cloned() else {
        return bad(tag, "Log in first");
    };
    let utf8 = s.utf8;
    let mut watch = Watch::new(
        &set,
        |raw| names::mailbox(&name_from_wire(raw, utf8)?).ok(),
        s.imap.settings.max_notifications,
    );
    let mailboxes = if set.status || watch.needs_subscriptions() {
        match s.imap.store.mailboxes(account.id).await {
            Ok(all) => all,
            Err(e) => return store_failed(tag, e),
        }
    } else {
        Vec::new()
    };
    if watch.needs_subscriptions() {
        watch.set_subscribed(
            mailboxes
                .iter()
                .filter(|m| m.subscribed)
                .map(|m| m.guid)
                .collect(),
        );
    }
    if set.status {
        let selected = match &s.state {
            State::Selected { view, .. } => Some(view.mailbox.guid),
            _ => None,
        };
        for m in mailboxes.iter().filter(|m| Some(m.guid) != selected) {
            let events = watch.events_for(&m.name, m.subscribed);
            if !events.any(Events::MESSAGE) {
                continue;
            }
            // §3.1: with FlagChange, UIDVALIDITY and HIGHESTMODSEQ (CONDSTORE is
            // supported here), whether or not the client enabled it.
            let modseq = s.condstore || s.qresync || events.any(Events::FLAGS);
            match status_items(s, m, &status_names(modseq)).await {
                Ok(d) => s.data(d),
                Err(e) => return store_failed(tag, e),
            }
        }
    }
    s.notify = Some(Box::new(watch));
    ok(tag, None, "NOTIFY completed")
}

/// The tagged answer to a NOTIFY `notify.rs` refused.
pub fn refused(tag: &Tag<'static>, why: Refusal) -> Status<'static> {
    match why {
        Refusal::Invalid(text) => bad(tag, text),
        // §3.1: NO, not BAD, with the events this server does send.
        Refusal::BadEvent => {
            let code = format!("BADEVENT ({})", SUPPORTED.join(" "));
            let code = Code::Other(CodeOther::unvalidated(code.into_bytes()));
            no(tag, Some(code), "Unsupported NOTIFY event".into())
        }
        Refusal::TooMany => {
            let code = Code::Other(CodeOther::unvalidated(&b"NOTIFICATIONOVERFLOW"[..]));
            no(tag, Some(code), "Too many mailboxes to watch".into())
        }
    }
}

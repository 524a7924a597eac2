//! QUIT (RFC 1939 §6): in TRANSACTION, enters UPDATE: the messages marked by DELE are
//! expunged through the store (logged, so the twin removes them too).

use twinmail_net::{Stop, Stream};
use twinmail_store::Guid;

use crate::session::{Flow, Session, State};

pub async fn quit<S: Stream>(s: &mut Session<S>) -> Result<Flow, Stop> {
    let State::Transaction(m) =
        std::mem::replace(&mut s.state, State::Authorization { user: None })
    else {
        s.conn.reply("+OK twinmail POP3 signing off");
        return Ok(Flow::Quit);
    };
    // Named by UID and GUID: a message the split merge renumbered meanwhile is still
    // removed, so the client never sees it again.
    let doomed: Vec<(u32, Guid)> = m
        .messages
        .iter()
        .filter(|e| e.deleted)
        .map(|e| (e.uid, e.guid))
        .collect();
    if doomed.is_empty() {
        s.conn.reply("+OK twinmail POP3 signing off");
        return Ok(Flow::Quit);
    }
    // Messages IMAP expunged meanwhile are simply not found again: no error.
    let count = doomed.len();
    match s.pop3.store.remove_seen(m.mailbox, doomed).await {
        Ok(gone) => {
            tracing::info!(user = %m.account.name, removed = gone.len(), "maildrop updated");
            s.conn.reply(&format!(
                "+OK twinmail POP3 signing off ({count} messages deleted)"
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "UPDATE failed");
            s.conn
                .reply("-ERR [SYS/TEMP] Some deleted messages were not removed");
        }
    }
    Ok(Flow::Quit)
}

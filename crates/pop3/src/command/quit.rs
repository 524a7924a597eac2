//! QUIT (RFC 1939 §6): in TRANSACTION, enters UPDATE: the messages marked by DELE are
//! expunged through the store (logged, so the twin removes them too).

use twinmail_net::{Stop, Stream};
use twinmail_store::UidSet;

use crate::session::{Flow, Session, State};

pub async fn quit<S: Stream>(s: &mut Session<S>) -> Result<Flow, Stop> {
    let State::Transaction(m) =
        std::mem::replace(&mut s.state, State::Authorization { user: None })
    else {
        s.conn.reply("+OK twinmail POP3 signing off");
        return Ok(Flow::Quit);
    };
    let doomed: Vec<u32> = m
        .messages
        .iter()
        .filter(|e| e.deleted)
        .map(|e| e.uid)
        .collect();
    if doomed.is_empty() {
        s.conn.reply("+OK twinmail POP3 signing off");
        return Ok(Flow::Quit);
    }
    // Messages IMAP expunged meanwhile are simply not found again: no error.
    match s
        .pop3
        .store
        .remove(m.mailbox, UidSet::from_uids(doomed.iter().copied()))
        .await
    {
        Ok(gone) => {
            tracing::info!(user = %m.account.name, removed = gone.len(), "maildrop updated");
            s.conn.reply(&format!(
                "+OK twinmail POP3 signing off ({} messages deleted)",
                doomed.len()
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

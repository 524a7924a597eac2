//! The end of every login (PASS or AUTH): check the password, lock the maildrop, take the
//! INBOX snapshot.

use twinmail_net::{Stop, Stream};
use twinmail_store::Role;

use crate::session::{Entry, Flow, Maildrop, Session, State};

pub async fn login<S: Stream>(s: &mut Session<S>, user: &str, pass: &str) -> Result<Flow, Stop> {
    s.state = State::Authorization { user: None };
    // The address's failure delay comes before the hash, and the queue in front of it
    // is bounded: past it, a temporary failure at once (RFC 3206 SYS/TEMP).
    let Ok(_ticket) = s
        .pop3
        .limits
        .before_login(s.peer.ip(), s.pop3.settings.auth_failure_delay)
        .await
    else {
        tracing::info!("too many logins waiting for a password check");
        s.conn
            .reply("-ERR [SYS/TEMP] Too many logins at once, try again later");
        return Ok(Flow::Continue);
    };
    let account = match s.pop3.store.authenticate(user, pass).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "authentication lookup failed");
            s.conn
                .reply("-ERR [SYS/TEMP] Temporary authentication failure");
            return Ok(Flow::Continue);
        }
    };
    let Some(account) = account else {
        // The delay this earns is waited before this address's next password check.
        s.pop3
            .limits
            .auth_failed(s.peer.ip(), s.pop3.settings.auth_failure_delay);
        s.auth_failures += 1;
        s.fail("-ERR [AUTH] Authentication failed").await;
        if s.auth_failures >= s.pop3.settings.max_auth_failures {
            s.conn.reply("-ERR Too many authentication failures");
            return Ok(Flow::Quit);
        }
        return Ok(Flow::Continue);
    };
    let store = &s.pop3.store;
    let inbox = match store.mailbox_by_role(account.id, Role::Inbox).await {
        Ok(Some(m)) => m,
        Ok(None) => {
            s.conn.reply("-ERR [SYS/PERM] No INBOX");
            return Ok(Flow::Continue);
        }
        Err(e) => {
            tracing::error!(error = %e, "INBOX lookup failed");
            s.conn.reply("-ERR [SYS/TEMP] Cannot open the maildrop");
            return Ok(Flow::Continue);
        }
    };
    let Some(lock) = s.pop3.lock(inbox.id) else {
        s.conn
            .reply("-ERR [IN-USE] Mailbox is locked by another POP3 session");
        return Ok(Flow::Continue);
    };
    let messages = match store.messages(inbox.id).await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "maildrop listing failed");
            s.conn.reply("-ERR [SYS/TEMP] Cannot open the maildrop");
            return Ok(Flow::Continue);
        }
    };
    let messages: Vec<Entry> = messages
        .into_iter()
        .map(|m| Entry {
            uid: m.uid,
            guid: m.guid,
            size: m.size,
            deleted: false,
        })
        .collect();
    let octets: u64 = messages.iter().map(|m| m.size).sum();
    tracing::info!(user = %account.name, messages = messages.len(), "logged in");
    s.conn.reply(&format!(
        "+OK {} messages ({octets} octets)",
        messages.len()
    ));
    let mark = store.session_mark(&account.guid);
    s.state = State::Transaction(Box::new(Maildrop {
        account,
        mailbox: inbox.id,
        messages,
        _lock: lock,
        mark,
    }));
    Ok(Flow::Continue)
}

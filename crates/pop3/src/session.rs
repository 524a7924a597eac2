//! One POP3 session: the states of RFC 1939 §3, the command-validity table, the loop.
//!
//! Rules of the house:
//! - The state carries what is valid in it: the maildrop exists only in TRANSACTION.
//! - The maildrop is a snapshot; a message expunged by IMAP meanwhile answers -ERR.
//! - Deletions happen only at QUIT (UPDATE state), through the store.
//! - Replies are flushed before each blocking read (PIPELINING, RFC 2449).

use std::{net::SocketAddr, sync::Arc};

use tokio::{sync::watch, time::Instant};
use twinmail_net::{Conn, Stop, Stream};
use twinmail_store::{Account, Guid};

use crate::{Pop3, command, server::MaildropLock};

/// Longest command line (RFC 2449 allows 255; SASL answers need more).
pub const MAX_LINE: usize = 2048;

/// One message of the maildrop.
pub struct Entry {
    /// Its UID in INBOX.
    pub uid: u32,
    /// Its GUID: the UIDL.
    pub guid: Guid,
    /// Its size in octets.
    pub size: u64,
    /// Marked by DELE.
    pub deleted: bool,
}

/// The locked INBOX of a logged-in user.
pub struct Maildrop {
    /// Whose.
    pub account: Account,
    /// The INBOX's local id.
    pub mailbox: i64,
    /// The messages at login; message number n is `messages[n - 1]`.
    pub messages: Vec<Entry>,
    /// Held until the session ends.
    pub _lock: MaildropLock,
    /// The account's session mark at login: when it moves (disabled, deleted, a new
    /// password) the session ends without an UPDATE.
    pub mark: (u64, u64),
}

impl Maildrop {
    /// Resolves a message-number argument to a live (not deleted) message.
    pub fn get(&self, arg: Option<&str>) -> Result<(usize, &Entry), String> {
        let arg = arg.ok_or("-ERR message number required")?;
        let n: usize = (arg.len() <= 10 && arg.bytes().all(|b| b.is_ascii_digit()))
            .then(|| arg.parse().ok())
            .flatten()
            .ok_or("-ERR invalid message number")?;
        match n.checked_sub(1).and_then(|i| self.messages.get(i)) {
            None => Err("-ERR no such message".into()),
            Some(e) if e.deleted => Err(format!("-ERR message {n} already deleted")),
            Some(e) => Ok((n, e)),
        }
    }

    /// Messages not marked deleted, with their numbers.
    pub fn live(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.messages
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.deleted)
            .map(|(i, e)| (i + 1, e))
    }
}

/// RFC 1939's states (UPDATE is the QUIT handler).
pub enum State {
    /// Before login; `user` after a USER command.
    Authorization {
        /// The name given to USER.
        user: Option<String>,
    },
    /// Logged in.
    Transaction(Box<Maildrop>),
}

/// What a handler asks of the loop.
pub enum Flow {
    /// Next command.
    Continue,
    /// Close after flushing.
    Quit,
    /// Hand the stream to TLS.
    StartTls,
}

/// What ended the session.
pub enum End<S> {
    /// STLS: the stream to hand-shake on.
    StartTls(S),
    /// Done.
    Closed,
}

/// A live session.
pub struct Session<S> {
    /// The connection.
    pub conn: Conn<S>,
    /// The client.
    pub peer: SocketAddr,
    /// Shared server state.
    pub pop3: Arc<Pop3>,
    /// Whether the connection is encrypted.
    pub tls: bool,
    /// Where the session is.
    pub state: State,
    /// Errors so far.
    pub errors: u32,
    /// Failed logins so far.
    pub auth_failures: u32,
}

/// The command-validity table (RFC 1939 §4-6, RFC 2449, RFC 2595, RFC 5034).
fn allowed(cmd: &str, state: &State) -> Result<(), &'static str> {
    let auth = matches!(state, State::Authorization { .. });
    match cmd {
        "CAPA" | "QUIT" | "NOOP" => Ok(()),
        "USER" | "PASS" | "AUTH" | "STLS" | "APOP" if auth => Ok(()),
        "USER" | "PASS" | "AUTH" | "STLS" | "APOP" => Err("-ERR already logged in"),
        "STAT" | "LIST" | "UIDL" | "RETR" | "TOP" | "DELE" | "RSET" if !auth => Ok(()),
        "STAT" | "LIST" | "UIDL" | "RETR" | "TOP" | "DELE" | "RSET" => Err("-ERR log in first"),
        _ => Err("-ERR unknown command"),
    }
}

impl<S: Stream> Session<S> {
    pub fn new(
        stream: S,
        peer: SocketAddr,
        pop3: Arc<Pop3>,
        tls: bool,
        shutdown: watch::Receiver<bool>,
    ) -> Session<S> {
        let mut conn = Conn::new(stream, shutdown);
        conn.set_line_deadline(Some(pop3.settings.command_deadline));
        conn.set_deadline(Some(Instant::now() + pop3.settings.login_deadline));
        Session {
            conn,
            peer,
            pop3,
            tls,
            state: State::Authorization { user: None },
            errors: 0,
            auth_failures: 0,
        }
    }

    /// Runs until QUIT, an error, a timeout, shutdown or STLS.
    pub async fn run(mut self, greet: bool) -> End<S> {
        if greet {
            self.conn.reply("+OK twinmail POP3 ready");
        }
        loop {
            // Before login: a shorter idle timeout, and the login deadline set in `new`.
            let settings = &self.pop3.settings;
            let timeout = match self.state {
                State::Authorization { .. } if self.pop3.limits.busy(settings.max_connections) => {
                    settings.login_timeout.min(settings.stress_login_timeout)
                }
                State::Authorization { .. } => settings.login_timeout,
                State::Transaction(_) => {
                    self.conn.set_deadline(None);
                    settings.command_timeout
                }
            };
            let line = match self.conn.read_line(timeout, MAX_LINE).await {
                Ok(Some(line)) => line,
                Ok(None) => {
                    self.fail("-ERR line too long").await;
                    continue;
                }
                Err(stop) => {
                    let bye = match stop {
                        Stop::Timeout => "-ERR [SYS/TEMP] Timeout, closing connection",
                        Stop::Shutdown => "-ERR [SYS/TEMP] Server shutting down",
                        _ => return End::Closed,
                    };
                    self.conn.reply(bye);
                    let _ = self.conn.flush().await;
                    return End::Closed;
                }
            };
            if let State::Transaction(m) = &self.state
                && self.pop3.store.session_mark(&m.account.guid) != m.mark
            {
                // The account was disabled, deleted or given a new password: log in again
                // (nothing marked for deletion is removed).
                self.conn
                    .reply("-ERR [AUTH] The account changed; please log in again");
                let _ = self.conn.flush().await;
                return End::Closed;
            }
            let line = String::from_utf8_lossy(&line);
            let (cmd, rest) = line.split_once(' ').unwrap_or((&line, ""));
            let cmd = cmd.to_ascii_uppercase();
            let args: Vec<&str> = rest.split(' ').filter(|w| !w.is_empty()).collect();
            let flow = match allowed(&cmd, &self.state) {
                Ok(()) => command::dispatch(&mut self, &cmd, &args, rest).await,
                Err(reply) => {
                    self.fail(reply).await;
                    Ok(Flow::Continue)
                }
            };
            match flow {
                Ok(Flow::Continue) => {}
                Ok(Flow::Quit) | Err(_) => {
                    let _ = self.conn.flush().await;
                    return End::Closed;
                }
                Ok(Flow::StartTls) => {
                    if self.conn.flush().await.is_err() {
                        return End::Closed;
                    }
                    // Anything pipelined after STLS was sent in plaintext: drop it.
                    self.conn.discard_input();
                    return End::StartTls(self.conn.stream);
                }
            }
            if self.errors >= self.pop3.settings.max_errors {
                self.conn.reply("-ERR Too many errors, closing connection");
                let _ = self.conn.flush().await;
                return End::Closed;
            }
        }
    }

    /// Replies with an error and charges it to the budget.
    pub async fn fail(&mut self, reply: &str) {
        self.conn.reply(reply);
        self.errors += 1;
        if self.errors > 2 {
            let _ = self.conn.flush().await;
            tokio::time::sleep(self.pop3.settings.error_delay * (self.errors - 2)).await;
        }
    }

    /// True when passwords may be sent on this connection.
    pub fn may_login(&self) -> bool {
        self.tls || (self.pop3.settings.plaintext_auth_on_loopback && self.peer.ip().is_loopback())
    }

    /// The maildrop (only called in TRANSACTION, per the validity table).
    pub fn maildrop(&mut self) -> Option<&mut Maildrop> {
        match &mut self.state {
            State::Transaction(m) => Some(m),
            State::Authorization { .. } => None,
        }
    }
}

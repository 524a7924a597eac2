//! One ManageSieve session: the two states of RFC 5804, the command-validity table,
//! reading a command (lines and literals), and the responses.
//!
//! Rules of the house:
//! - The state carries what is valid in it: the account exists only once logged in.
//! - Literal octets are data: a literal that is refused is skipped (non-synchronising)
//!   or ends the session (synchronising, as the client may be sending it anyway); its
//!   octets are never read as commands.
//! - Every script is parsed before it is stored; the store only keeps text.
//! - What the client reads is ours; a store error's own text goes to the log only.

use std::{net::SocketAddr, sync::Arc};

use tokio::{sync::watch, time::Instant};
use twinmail_net::{Conn, Stop, Stream};
use twinmail_store::Account;

use crate::{
    ManageSieve, command,
    parse::{self, MAX_LINE, SyntaxError, Token},
};

/// RFC 5804's states (§2: commands valid before and after AUTHENTICATE).
pub enum State {
    /// Before login.
    NonAuthenticated,
    /// Logged in as `account`.
    Authenticated {
        /// Whose scripts this session reads and writes.
        account: Account,
        /// The account's session mark at login: when it moves (disabled, deleted, a new
        /// password) the session ends.
        mark: (u64, u64),
    },
}

/// What a handler asks of the loop.
pub enum Flow {
    /// Next command.
    Continue,
    /// Close after flushing (LOGOUT, BYE).
    Quit,
    /// Hand the stream to TLS.
    StartTls,
}

/// What ended the session.
pub enum End<S> {
    /// STARTTLS: the stream to hand-shake on.
    StartTls(S),
    /// Done.
    Closed,
}

/// A live session.
pub struct Session<S> {
    /// The connection: buffered input and output, timeouts, shutdown.
    pub conn: Conn<S>,
    /// The client's address (limits and the loopback rule).
    pub peer: SocketAddr,
    /// Shared server state.
    pub sieve: Arc<ManageSieve>,
    /// Whether the connection is encrypted (after STARTTLS).
    pub tls: bool,
    /// Where the session is.
    pub state: State,
    /// NO answers to bad commands so far; at `max_errors` the session gets BYE.
    pub errors: u32,
    /// Failed logins so far; at `max_auth_failures` the session gets BYE.
    pub auth_failures: u32,
    /// The instant no read may wait past: the login deadline before login, none after
    /// (kept here because a command's own deadline is set over it and then taken off).
    pub deadline: Option<Instant>,
}

/// Where each command is valid (RFC 5804 §2); `Err` is the refusal.
fn allowed(cmd: &str, state: &State) -> Result<(), &'static str> {
    let auth = matches!(state, State::Authenticated { .. });
    match cmd {
        "CAPABILITY" | "LOGOUT" | "NOOP" => Ok(()),
        "AUTHENTICATE" | "STARTTLS" if !auth => Ok(()),
        "AUTHENTICATE" | "STARTTLS" => Err("Already authenticated"),
        "HAVESPACE" | "PUTSCRIPT" | "CHECKSCRIPT" | "LISTSCRIPTS" | "SETACTIVE" | "GETSCRIPT"
        | "DELETESCRIPT" | "RENAMESCRIPT" | "UNAUTHENTICATE"
            if auth =>
        {
            Ok(())
        }
        "HAVESPACE" | "PUTSCRIPT" | "CHECKSCRIPT" | "LISTSCRIPTS" | "SETACTIVE" | "GETSCRIPT"
        | "DELETESCRIPT" | "RENAMESCRIPT" | "UNAUTHENTICATE" => Err("Authenticate first"),
        _ => Err("Unknown command"),
    }
}

impl<S: Stream> Session<S> {
    pub fn new(
        stream: S,
        peer: SocketAddr,
        sieve: Arc<ManageSieve>,
        tls: bool,
        shutdown: watch::Receiver<bool>,
    ) -> Session<S> {
        let mut conn = Conn::new(stream, shutdown);
        conn.set_line_deadline(Some(sieve.settings.command_deadline));
        let deadline = Some(Instant::now() + sieve.settings.login_deadline);
        conn.set_deadline(deadline);
        Session {
            deadline,
            conn,
            peer,
            sieve,
            tls,
            state: State::NonAuthenticated,
            errors: 0,
            auth_failures: 0,
        }
    }

    /// Runs until LOGOUT, an error, a timeout, shutdown or STARTTLS. Starts with the
    /// capabilities (the greeting, and again after TLS: RFC 5804 §1.7, §2.2).
    pub async fn run(mut self) -> End<S> {
        command::capability::send(&mut self);
        self.ok(None, "twinmail ManageSieve ready");
        loop {
            let timeout = match self.state {
                State::NonAuthenticated => self.sieve.settings.login_timeout,
                State::Authenticated { .. } => {
                    self.deadline = None;
                    self.conn.set_deadline(None);
                    self.sieve.settings.command_timeout
                }
            };
            let tokens = match self.read_command(timeout).await {
                Ok(Ok(t)) => t,
                Ok(Err(e)) => {
                    self.fail(None, &format!("Syntax error: {e}")).await;
                    if e.ends_session() {
                        return self.bye("Cannot go on after that error").await;
                    }
                    if self.errors >= self.sieve.settings.max_errors {
                        return self.bye("Too many errors").await;
                    }
                    continue;
                }
                Err(stop) => {
                    return match stop {
                        Stop::Timeout => self.bye("Timeout, closing connection").await,
                        Stop::Shutdown => self.bye("Server shutting down").await,
                        _ => End::Closed,
                    };
                }
            };
            if let State::Authenticated { account, mark } = &self.state
                && self.sieve.store.session_mark(&account.guid) != *mark
            {
                return self.bye("The account changed; please log in again").await;
            }
            let (cmd, args) = match tokens.split_first() {
                Some((Token::Atom(cmd), args)) => (cmd.to_ascii_uppercase(), args),
                _ => {
                    self.fail(None, "Syntax error: a command starts with its name")
                        .await;
                    continue;
                }
            };
            let flow = match allowed(&cmd, &self.state) {
                Ok(()) => command::dispatch(&mut self, &cmd, args).await,
                Err(reply) => {
                    self.fail(None, reply).await;
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
                    // Anything pipelined after STARTTLS was sent in plaintext: drop it.
                    self.conn.discard_input();
                    return End::StartTls(self.conn.stream);
                }
            }
            if self.errors >= self.sieve.settings.max_errors {
                return self.bye("Too many errors").await;
            }
        }
    }

    /// Reads one command: its lines and the literals between them. A syntax error is
    /// returned once the whole command has been consumed (or, for a refused
    /// synchronising literal, at once: the caller then ends the session).
    pub async fn read_command(
        &mut self,
        timeout: std::time::Duration,
    ) -> Result<Result<Vec<Token>, SyntaxError>, Stop> {
        let mut tokens = Vec::new();
        let mut error = None;
        let mut started = false;
        let outer = self.deadline;
        let result = loop {
            let line = match self.conn.read_line(timeout, MAX_LINE).await {
                Ok(Some(line)) => line,
                Ok(None) => break Ok(Err(SyntaxError::LineTooLong)),
                Err(e) => break Err(e),
            };
            // Once a command has begun, all of it must arrive within the deadline.
            if !started {
                started = true;
                let by = Instant::now() + self.sieve.settings.command_deadline;
                self.conn
                    .set_deadline(Some(outer.map_or(by, |d: Instant| d.min(by))));
            }
            let literal = if error.is_some() {
                parse::trailing_literal(&line)
            } else {
                match parse::scan_line(&line, &mut tokens) {
                    Ok(l) => l,
                    Err(e) => {
                        error = Some(e);
                        parse::trailing_literal(&line)
                    }
                }
            };
            let Some(literal) = literal else {
                break Ok(match error {
                    Some(e) => Err(e),
                    None if tokens.is_empty() => Err(SyntaxError::Empty),
                    None => Ok(tokens),
                });
            };
            if literal.sync && literal.size > parse::MAX_LITERAL {
                // Refused before it is read; the caller ends the session.
                break Ok(Err(SyntaxError::LiteralTooBig(literal)));
            }
            // After an error the literal is read and dropped: never read as commands.
            let keep = error.is_none();
            match self.read_bytes(literal.size, timeout, keep).await {
                Ok(bytes) if keep => match parse::literal_token(bytes) {
                    Ok(t) => tokens.push(t),
                    Err(e) => error = Some(e),
                },
                Ok(_) => {}
                Err(e) => break Err(e),
            }
        };
        self.conn.set_deadline(outer);
        result
    }

    /// Reads `n` octets of a literal; with `keep` false they are dropped as they come.
    async fn read_bytes(
        &mut self,
        n: usize,
        timeout: std::time::Duration,
        keep: bool,
    ) -> Result<Vec<u8>, Stop> {
        let mut out = Vec::with_capacity(if keep { n } else { 0 });
        let mut left = n;
        while left > 0 {
            if self.conn.input().is_empty() {
                self.conn.fill(timeout).await?;
            }
            let take = left.min(self.conn.input().len());
            if keep {
                out.extend_from_slice(&self.conn.input()[..take]);
            }
            self.conn.consume(take);
            left -= take;
        }
        Ok(out)
    }

    /// Queues `OK [(code)] "text"`.
    pub fn ok(&mut self, code: Option<&str>, text: &str) {
        self.respond("OK", code, text);
    }

    /// Queues `NO [(code)] "text"` for something that is not the client's mistake
    /// (nothing charged).
    pub fn no(&mut self, code: Option<&str>, text: &str) {
        self.respond("NO", code, text);
    }

    fn respond(&mut self, word: &str, code: Option<&str>, text: &str) {
        let text = parse::string(text);
        match code {
            Some(c) => self.conn.reply(&format!("{word} ({c}) {text}")),
            None => self.conn.reply(&format!("{word} {text}")),
        }
    }

    /// Answers NO and charges the error to the budget (delays grow after the second).
    pub async fn fail(&mut self, code: Option<&str>, text: &str) {
        self.no(code, text);
        self.errors += 1;
        if self.errors > 2 {
            let _ = self.conn.flush().await;
            tokio::time::sleep(self.sieve.settings.error_delay * (self.errors - 2)).await;
        }
    }

    /// Sends BYE and ends the session.
    pub async fn bye(&mut self, text: &str) -> End<S> {
        self.respond("BYE", None, text);
        let _ = self.conn.flush().await;
        End::Closed
    }

    /// True when passwords may be sent on this connection (POP3's rule).
    pub fn may_login(&self) -> bool {
        self.tls || (self.sieve.settings.plaintext_auth_on_loopback && self.peer.ip().is_loopback())
    }

    /// The logged-in account's name (only called when authenticated, per the table).
    pub fn user(&self) -> Option<String> {
        match &self.state {
            State::Authenticated { account, .. } => Some(account.name.clone()),
            State::NonAuthenticated => None,
        }
    }
}

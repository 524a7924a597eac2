//! One SMTP session: its state, the command-validity rules and the dispatch.
//!
//! Rules of the house:
//! - The state enum carries what is valid in it: no transaction data outside `Mail`.
//! - A command is checked against the state before its handler runs (`allowed`).
//! - Errors count against a budget; past it the client is disconnected with 421, and
//!   each error beyond the second costs a growing delay.
//! - Replies are queued and flushed only before a blocking read (PIPELINING).
//! - Only CRLF ends a command line: a bare LF or CR in one ends the session (521), as
//!   Postfix's `smtpd_forbid_bare_newline` does, so no reader can see other line ends.
//! - A client that talks before our greeting, or sends a command before the reply to
//!   one that ends a pipelined group (any command, without PIPELINING) was flushed, is
//!   dropped (RFC 2920 §3.1; `SmtpSettings::enforce_sync`).
//! - NOOP, RSET, VRFY, EXPN and HELP beyond `junk_command_limit` count as errors.

use std::{net::SocketAddr, sync::Arc};

use smtp_proto::{Error as ProtoError, Request, request::receiver::RequestReceiver};
use tokio::{sync::watch, time::Instant};
pub use twinmail_net::Stream;
use twinmail_store::{Account, Delivery};

use crate::{Kind, Smtp, command};
use twinmail_net::{Conn, Stop};

/// TLS facts for the Received header.
#[derive(Clone, Debug)]
pub struct TlsInfo {
    /// e.g. `TLSv1.3`.
    pub version: String,
    /// e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
}

impl TlsInfo {
    pub fn of(c: &rustls::ServerConnection) -> TlsInfo {
        let version = match c.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
            Some(v) => format!("{v:?}"),
            None => "TLS".to_string(),
        };
        let cipher = c
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default();
        TlsInfo { version, cipher }
    }
}

/// A mail transaction in progress (after MAIL FROM).
pub struct Transaction {
    /// The reverse-path.
    pub from: String,
    /// Local RCPT TO addresses accepted so far.
    pub recipients: Vec<String>,
    /// Foreign ones (submission only), for the outbound queue.
    pub outbound: Vec<String>,
    /// The store's side of the transaction: resolved accounts, nothing written yet.
    pub delivery: Delivery,
    /// BDAT chunks received so far.
    pub chunks: Vec<u8>,
    /// The chunks' share of the message bytes held in memory by all sessions.
    pub held: twinmail_net::HeldBytes,
}

/// Where the session is.
pub enum State {
    /// Before HELO/EHLO.
    Fresh,
    /// Greeted; no transaction.
    Greeted {
        /// The name the client gave.
        helo: String,
        /// EHLO (true) or HELO.
        esmtp: bool,
    },
    /// In a transaction.
    Mail {
        /// The name the client gave.
        helo: String,
        /// EHLO (true) or HELO.
        esmtp: bool,
        /// The transaction.
        tx: Box<Transaction>,
    },
}

impl State {
    /// True once the client greeted with EHLO, which told it we do PIPELINING.
    fn pipelining(&self) -> bool {
        matches!(
            self,
            State::Greeted { esmtp: true, .. } | State::Mail { esmtp: true, .. }
        )
    }

    /// Ends any transaction, keeping the greeting (RSET, and after each message).
    pub fn reset(&mut self) {
        if matches!(self, State::Mail { .. })
            && let State::Mail { helo, esmtp, .. } = std::mem::replace(self, State::Fresh)
        {
            *self = State::Greeted { helo, esmtp };
        }
    }
}

/// What ended a session.
pub enum End<S> {
    /// The client asked for TLS: here is the stream to hand-shake on.
    StartTls(S),
    /// Done.
    Closed,
}

/// What a command handler asks of the loop.
pub enum Flow {
    /// Next command.
    Continue,
    /// Close after flushing.
    Quit,
    /// Hand the stream to TLS.
    StartTls,
}

/// A live session.
pub struct Session<S> {
    /// The connection.
    pub conn: Conn<S>,
    /// The client.
    pub peer: SocketAddr,
    /// Which service.
    pub kind: Kind,
    /// Shared server state.
    pub smtp: Arc<Smtp>,
    /// TLS facts once encrypted.
    pub tls: Option<TlsInfo>,
    /// Where the session is.
    pub state: State,
    /// The logged-in account (submission).
    pub user: Option<Account>,
    /// The account's session mark at login: when it moves (disabled, deleted, a new
    /// password) the session ends.
    pub user_mark: (u64, u64),
    /// Errors so far.
    pub errors: u32,
    /// Failed logins so far.
    pub auth_failures: u32,
    /// smtp-proto's command parser (keeps partial lines).
    receiver: RequestReceiver,
    /// Bytes of the current, unfinished command line already given to the parser.
    partial: usize,
    /// Skipping the rest of an over-long line.
    skipping: bool,
    /// Line ends seen in the current command line so far.
    line: LineEnds,
    /// The last command ended a pipelined group (RFC 2920 §3.1) and its reply has not
    /// been sent yet: a command read before it is, was sent without waiting for it. Set
    /// after such a command, cleared by every read (which flushes replies first).
    unanswered: bool,
    /// NOOP, RSET, VRFY, EXPN and HELP commands since the session began or since the
    /// last message accepted.
    pub junk: u32,
    /// When a submission session that has not logged in is closed (`login_deadline`
    /// after it began); `None` on MX, which has no login.
    login_by: Option<Instant>,
    /// When the first byte of the command line being read arrived.
    line_started: Option<Instant>,
}

/// Tracks the line ends of one command line as it arrives in pieces: a CR not followed
/// by LF, or an LF not preceded by CR, is bare (smtp-proto's parser would drop the CR
/// and take the LF as the end of the line, RFC 5321 §2.3.8 allows neither).
#[derive(Default)]
struct LineEnds {
    /// The last byte scanned, 0 at the start of a line.
    last: u8,
    /// A bare CR or LF was seen in this line.
    bare: bool,
}

impl LineEnds {
    /// Scans the next piece of the line (ending at its LF, if it has arrived).
    fn scan(&mut self, piece: &[u8]) {
        for &b in piece {
            if (self.last == b'\r') != (b == b'\n') {
                self.bare = true;
            }
            self.last = b;
        }
    }

    /// True when the line just ended held a bare CR or LF; starts the next line.
    fn end(&mut self) -> bool {
        std::mem::take(self).bare
    }
}

/// Why `next_request` produced no command: the reply to give.
enum Refusal {
    /// A reply; the session goes on.
    Reply(&'static str),
    /// A reply, then the session ends.
    Close(&'static str),
}

/// Longest command line (RFC 5321 allows 512; extensions need more).
const MAX_LINE: usize = 4096;

/// The command-validity table: which command may run in which state. Checked before
/// dispatch, so handlers can rely on it.
fn allowed(req: &Request<String>, state: &State) -> Result<(), &'static str> {
    use Request::*;
    match (req, state) {
        // RFC 4954 §4: "The AUTH command is not permitted during a mail transaction."
        (Auth { .. }, State::Mail { .. }) => {
            Err("503 5.5.1 AUTH not allowed during a mail transaction")
        }
        (
            Ehlo { .. }
            | Helo { .. }
            | Noop { .. }
            | Rset
            | Quit
            | Help { .. }
            | Vrfy { .. }
            | Expn { .. }
            | StartTls
            | Auth { .. },
            _,
        ) => Ok(()),
        (Mail { .. }, State::Fresh) => Err("503 5.5.1 Send HELO/EHLO first"),
        (Mail { .. }, State::Mail { .. }) => Err("503 5.5.1 Nested MAIL command"),
        (Mail { .. }, State::Greeted { .. }) => Ok(()),
        (Rcpt { .. } | Data | Bdat { .. }, State::Mail { .. }) => Ok(()),
        (Rcpt { .. }, _) => Err("503 5.5.1 Need MAIL before RCPT"),
        (Data, _) => Err("503 5.5.1 Need MAIL before DATA"),
        // BDAT outside a transaction is refused by its handler, which still reads the chunk.
        (Bdat { .. }, _) => Ok(()),
        (Lhlo { .. } | Etrn { .. } | Atrn { .. } | Burl { .. }, _) => {
            Err("502 5.5.1 Command not implemented")
        }
    }
}

/// True when the client must wait for this command's reply before sending more: every
/// command without PIPELINING; with it, those RFC 2920 §3.1 puts last in a group (EHLO,
/// VRFY, EXPN, QUIT, NOOP; HELO and STARTTLS change state as EHLO does) and AUTH (RFC
/// 4954 §4), except AUTH PLAIN with an initial response, which completes in one round.
/// DATA is checked by its handler: nothing may follow it before the 354.
fn ends_group(req: &Request<String>, pipelining: bool) -> bool {
    use Request::*;
    match req {
        _ if !pipelining => true,
        Ehlo { .. } | Helo { .. } | Noop { .. } | Vrfy { .. } | Expn { .. } | Quit | StartTls => {
            true
        }
        Auth {
            mechanism,
            initial_response,
        } => *mechanism != smtp_proto::AUTH_PLAIN || initial_response.is_empty(),
        _ => false,
    }
}

/// Commands that do no work, counted against `junk_command_limit`.
fn is_junk(req: &Request<String>) -> bool {
    use Request::*;
    matches!(
        req,
        Noop { .. } | Rset | Vrfy { .. } | Expn { .. } | Help { .. }
    )
}

impl<S: Stream> Session<S> {
    pub fn new(
        stream: S,
        peer: SocketAddr,
        kind: Kind,
        smtp: Arc<Smtp>,
        tls: Option<TlsInfo>,
        shutdown: watch::Receiver<bool>,
    ) -> Session<S> {
        let login_by = kind
            .is_submission()
            .then(|| Instant::now() + smtp.settings.login_deadline);
        Session {
            conn: Conn::new(stream, shutdown),
            peer,
            kind,
            smtp,
            tls,
            state: State::Fresh,
            user: None,
            user_mark: (0, 0),
            errors: 0,
            auth_failures: 0,
            receiver: RequestReceiver::default(),
            partial: 0,
            skipping: false,
            line: LineEnds::default(),
            unanswered: false,
            junk: 0,
            login_by,
            line_started: None,
        }
    }

    /// Runs the session until QUIT, an error, a timeout, shutdown or STARTTLS.
    pub async fn run(mut self, greet: bool) -> End<S> {
        if greet {
            if self.smtp.settings.enforce_sync {
                // Anything the client sends before our greeting is early talk: RFC 5321
                // §3.1 has the client wait for it. 554 may stand in for the greeting.
                match self.conn.fill(self.smtp.settings.greet_delay).await {
                    Ok(()) => {
                        tracing::info!("client talked before the greeting");
                        self.smtp.limits.stats.rejected(
                            "GREETING",
                            "554 5.5.1 Protocol error: talking before the greeting",
                        );
                        self.conn
                            .reply("554 5.5.1 Protocol error: talking before the greeting");
                        let _ = self.conn.flush().await;
                        return End::Closed;
                    }
                    Err(Stop::Timeout) => {}
                    Err(stop) => {
                        self.stopped(stop).await;
                        return End::Closed;
                    }
                }
            }
            let banner = format!("220 {} ESMTP twinmail", self.smtp.settings.hostname);
            self.conn.reply(&banner);
        }
        loop {
            let req = match self.next_request().await {
                Ok(r) => r,
                Err(stop) => {
                    self.stopped(stop).await;
                    return End::Closed;
                }
            };
            if let Some(user) = &self.user
                && self.smtp.store.session_mark(&user.guid) != self.user_mark
            {
                // Disabled, deleted or a new password: log in again.
                self.conn
                    .reply("421 4.7.0 The account changed; please log in again");
                let _ = self.conn.flush().await;
                return End::Closed;
            }
            if self.unanswered {
                // Read before the reply the client had to wait for was even sent.
                let reply = "421 4.5.0 Improper command pipelining, closing connection";
                tracing::info!("improper command pipelining");
                self.smtp.limits.stats.rejected("PIPELINING", reply);
                self.conn.reply(reply);
                let _ = self.conn.flush().await;
                return End::Closed;
            }
            let flow = match req {
                Ok(req) => {
                    if is_junk(&req) {
                        self.junk += 1;
                        if self.junk > self.smtp.settings.junk_command_limit {
                            self.charge().await;
                        }
                    }
                    self.unanswered = self.smtp.settings.enforce_sync
                        && ends_group(&req, self.state.pipelining());
                    match allowed(&req, &self.state) {
                        Ok(()) => command::dispatch(&mut self, req).await,
                        Err(reply) => {
                            self.fail(reply).await;
                            Ok(Flow::Continue)
                        }
                    }
                }
                Err(Refusal::Reply(reply)) => {
                    self.fail(reply).await;
                    Ok(Flow::Continue)
                }
                Err(Refusal::Close(reply)) => {
                    self.smtp.limits.stats.rejected("LINE", reply);
                    self.conn.reply(reply);
                    Ok(Flow::Quit)
                }
            };
            match flow {
                Ok(Flow::Continue) => {}
                Ok(Flow::Quit) => {
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
                Err(stop) => {
                    self.stopped(stop).await;
                    return End::Closed;
                }
            }
            if self.errors >= self.smtp.settings.max_errors {
                self.conn
                    .reply("421 4.7.0 Too many errors, closing connection");
                let _ = self.conn.flush().await;
                return End::Closed;
            }
        }
    }

    /// The next parsed command, reading as needed. Command lines are capped at
    /// `MAX_LINE` here, before the parser sees them: a longer line is answered once with
    /// 500 5.5.6 and skipped up to its end, however long it is and however it arrives.
    /// A line holding a bare CR or LF is refused whole, before the parser sees its end.
    async fn next_request(&mut self) -> Result<Result<Request<String>, Refusal>, Stop> {
        let settings = &self.smtp.settings;
        let timeout = match self.user {
            Some(_) => settings.command_timeout,
            None if self.smtp.limits.busy(settings.max_connections) => {
                settings.login_timeout.min(settings.stress_login_timeout)
            }
            None => settings.login_timeout,
        };
        if !self.skipping {
            self.line_started = None;
        }
        loop {
            let input = self.conn.input();
            let lf = input.iter().position(|&b| b == b'\n');
            if self.skipping {
                match lf {
                    Some(i) => {
                        self.conn.consume(i + 1);
                        self.skipping = false;
                    }
                    None => {
                        let n = input.len();
                        self.conn.consume(n);
                        self.fill_line(timeout).await?;
                    }
                }
                continue;
            }
            if self.partial + lf.map_or(input.len(), |i| i + 1) > MAX_LINE {
                self.receiver = RequestReceiver::default();
                self.partial = 0;
                self.line = LineEnds::default();
                match lf {
                    Some(i) => self.conn.consume(i + 1),
                    None => {
                        let n = input.len();
                        self.conn.consume(n);
                        self.skipping = true;
                    }
                }
                return Ok(Err(Refusal::Reply(protocol_error(
                    &ProtoError::ResponseTooLong,
                ))));
            }
            // The parser sees one line at a time, and only once its line ends are known good.
            let piece = lf.map_or(input, |i| &input[..=i]);
            self.line.scan(piece);
            if let Some(i) = lf
                && self.line.end()
            {
                self.receiver = RequestReceiver::default();
                self.partial = 0;
                self.conn.consume(i + 1);
                return Ok(Err(Refusal::Close(
                    "521 5.5.2 Bare <CR> or <LF> received; lines must end with <CR><LF>",
                )));
            }
            let mut it = piece.iter();
            let result = self.receiver.ingest(&mut it).map(Request::into_owned);
            let used = piece.len() - it.as_slice().len();
            self.conn.consume(used);
            match result {
                Err(ProtoError::NeedsMoreData { .. }) => {
                    self.partial += used;
                    self.fill_line(timeout).await?;
                }
                other => {
                    self.partial = 0;
                    return Ok(other.map_err(|e| Refusal::Reply(protocol_error(&e))));
                }
            }
        }
    }

    /// Reads more of a command line. Between commands only the idle timeout (and the
    /// login deadline) apply; once a line has begun, it must end within command_deadline.
    async fn fill_line(&mut self, timeout: std::time::Duration) -> Result<(), Stop> {
        if self.partial > 0 || self.skipping {
            self.line_started.get_or_insert_with(Instant::now);
        }
        let line_by = self
            .line_started
            .map(|t| t + self.smtp.settings.command_deadline);
        self.read_deadline(line_by);
        self.unanswered = false;
        self.conn.fill(timeout).await
    }

    /// Sets the deadline for the next reads: `until` (for the command or message under
    /// way), and the login deadline while a submission session has not logged in.
    pub fn read_deadline(&mut self, until: Option<Instant>) {
        let login_by = self.login_by.filter(|_| self.user.is_none());
        let at = match (login_by, until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.conn.set_deadline(at);
    }

    async fn stopped(&mut self, stop: Stop) {
        let line = match stop {
            Stop::Timeout => "421 4.4.2 Timeout, closing connection",
            Stop::Shutdown => "421 4.3.2 Server shutting down",
            Stop::Eof | Stop::Io(_) => return,
        };
        self.conn.reply(line);
        let _ = self.conn.flush().await;
    }

    /// Refuses a sender, recipient or message: counted and remembered for the admin page,
    /// then answered like any error.
    pub async fn reject(&mut self, command: &'static str, reply: &str) {
        self.smtp.limits.stats.rejected(command, reply);
        self.fail(reply).await;
    }

    /// Replies with an error and charges it to the budget, slowing down repeat offenders.
    pub async fn fail(&mut self, reply: &str) {
        self.conn.reply(reply);
        self.charge().await;
    }

    /// Charges one error to the budget (with its delay), whatever the reply was.
    async fn charge(&mut self) {
        self.errors += 1;
        if self.errors > 2 {
            let delay = self.smtp.settings.error_delay * (self.errors - 2);
            let _ = self.conn.flush().await;
            tokio::time::sleep(delay).await;
        }
    }
}

fn protocol_error(e: &ProtoError) -> &'static str {
    match e {
        ProtoError::UnknownCommand => "500 5.5.1 Unknown command",
        ProtoError::InvalidSenderAddress => "501 5.1.7 Invalid sender address",
        ProtoError::InvalidRecipientAddress => "501 5.1.3 Invalid recipient address",
        ProtoError::SyntaxError { .. } => "501 5.5.4 Syntax error",
        ProtoError::InvalidParameter { .. } => "501 5.5.4 Invalid parameter",
        ProtoError::UnsupportedParameter { .. } => "555 5.5.4 Unsupported parameter",
        ProtoError::ResponseTooLong => "500 5.5.6 Line too long",
        ProtoError::NeedsMoreData { .. } | ProtoError::InvalidResponse { .. } => {
            "500 5.5.2 Syntax error"
        }
    }
}

//! One SMTP session: its state, the command-validity rules and the dispatch.
//!
//! Rules of the house:
//! - The state enum carries what is valid in it: no transaction data outside `Mail`.
//! - A command is checked against the state before its handler runs (`allowed`).
//! - Errors count against a budget; past it the client is disconnected with 421, and
//!   each error beyond the second costs a growing delay.
//! - Replies are queued and flushed only before a blocking read (PIPELINING).

use std::{net::SocketAddr, sync::Arc};

use smtp_proto::{Error as ProtoError, Request, request::receiver::RequestReceiver};
use tokio::sync::watch;
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
    /// RCPT TO addresses accepted so far.
    pub recipients: Vec<String>,
    /// The store's side of the transaction: resolved accounts, nothing written yet.
    pub delivery: Delivery,
    /// BDAT chunks received so far.
    pub chunks: Vec<u8>,
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
}

/// Longest command line (RFC 5321 allows 512; extensions need more).
const MAX_LINE: usize = 4096;

/// The command-validity table: which command may run in which state. Checked before
/// dispatch, so handlers can rely on it.
fn allowed(req: &Request<String>, state: &State) -> Result<(), &'static str> {
    use Request::*;
    match (req, state) {
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

impl<S: Stream> Session<S> {
    pub fn new(
        stream: S,
        peer: SocketAddr,
        kind: Kind,
        smtp: Arc<Smtp>,
        tls: Option<TlsInfo>,
        shutdown: watch::Receiver<bool>,
    ) -> Session<S> {
        Session {
            conn: Conn::new(stream, shutdown),
            peer,
            kind,
            smtp,
            tls,
            state: State::Fresh,
            user: None,
            errors: 0,
            auth_failures: 0,
            receiver: RequestReceiver::default(),
            partial: 0,
            skipping: false,
        }
    }

    /// Runs the session until QUIT, an error, a timeout, shutdown or STARTTLS.
    pub async fn run(mut self, greet: bool) -> End<S> {
        if greet {
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
            let flow = match req {
                Ok(req) => match allowed(&req, &self.state) {
                    Ok(()) => command::dispatch(&mut self, req).await,
                    Err(reply) => {
                        self.fail(reply).await;
                        Ok(Flow::Continue)
                    }
                },
                Err(e) => {
                    self.fail(protocol_error(&e)).await;
                    Ok(Flow::Continue)
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
    async fn next_request(&mut self) -> Result<Result<Request<String>, ProtoError>, Stop> {
        let timeout = self.smtp.settings.command_timeout;
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
                        self.conn.fill(timeout).await?;
                    }
                }
                continue;
            }
            if self.partial + lf.map_or(input.len(), |i| i + 1) > MAX_LINE {
                self.receiver = RequestReceiver::default();
                self.partial = 0;
                match lf {
                    Some(i) => self.conn.consume(i + 1),
                    None => {
                        let n = input.len();
                        self.conn.consume(n);
                        self.skipping = true;
                    }
                }
                return Ok(Err(ProtoError::ResponseTooLong));
            }
            let mut it = input.iter();
            let result = self.receiver.ingest(&mut it).map(Request::into_owned);
            let used = input.len() - it.as_slice().len();
            self.conn.consume(used);
            match result {
                Err(ProtoError::NeedsMoreData { .. }) => {
                    self.partial += used;
                    self.conn.fill(timeout).await?;
                }
                other => {
                    self.partial = 0;
                    return Ok(other);
                }
            }
        }
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

//! One IMAP session: drives imap-next's server state machine over our connection,
//! keeps the session state, checks each command against the validity table, dispatches.
//!
//! Rules of the house:
//! - The state carries what is valid in it: the selected view exists only in `Selected`.
//! - Changes from other sessions are drained from the change stream before every command
//!   and reported after it, within RFC 3501 §7's rules (see `selected.rs`). In IDLE, and
//!   between commands once NOTIFY (RFC 5465) asked for it, they are pushed as they
//!   commit, as far as NOTIFY lets them (see `watch.rs`).
//! - After STARTTLS nothing more is read from the plaintext stream: a command pipelined
//!   behind STARTTLS is dropped, never run.
//! - Syntax errors are BAD and count against the error budget; the user's mistakes are NO;
//!   the server's failures are NO plus a loud log.
//! - imap-next gets the input one piece at a time (`framing`), so it never holds bytes of
//!   a later message; between messages its decoder may be replaced: until login it
//!   accepts only small commands and literals (`PRE_LOGIN_*`: LOGIN and AUTHENTICATE need
//!   no more), after login the configured sizes, and after a large message a fresh one
//!   gives the large buffer back.
//! - The literals of the message under way hold a share of the message bytes in memory
//!   across the process (`HeldBytes`, as SMTP DATA does), taken when each is announced
//!   and given back once its command is done. A literal past the cap is refused for now
//!   with NO [LIMIT]: a synchronising one before the client sends it, a
//!   non-synchronising one after it is read to its end and dropped; the session goes on.

use std::{net::SocketAddr, sync::Arc};

use imap_next::{
    Interrupt, Io, State as _,
    server::{Error as WireError, Event, Options, Server},
};
use imap_types::{
    command::{Command, CommandBody},
    core::{Tag, Text},
    response::{Capability, Code, CommandContinuationRequest, Data, Greeting, Status},
};
use tokio::{
    sync::{broadcast, watch},
    time::Instant,
};
use twinmail_net::{Conn, Stop, Stream};
use twinmail_store::{Account, ChangeEvent, Flags};

use crate::{
    Imap,
    command::{self, Extra},
    deflate::Wire,
    extparse::Rescued,
    framing::Framer,
    selected::Selected,
};

/// Largest literal accepted before login (a LOGIN password, an ID value).
const PRE_LOGIN_LITERAL: u32 = 4 * 1024;
/// Largest command (with its literals) or AUTHENTICATE response accepted before login.
const PRE_LOGIN_COMMAND: u32 = 8 * 1024;
/// A decoder that held a message larger than this is replaced by a fresh one afterwards,
/// which gives its buffer back (imap-next keeps the capacity of its largest message).
const KEEP_DECODER: u64 = 64 * 1024;
/// The most line bytes (literals left out) one message may have on a compressed
/// connection; past it the session ends. Plain, imap-next buffers a line up to the whole
/// command size (the largest literal) before refusing it; compressed, such a line costs
/// the client nothing (a compression bomb), so it is cut short. A UID FETCH naming
/// 20,000 UIDs one by one is about 120 KiB.
const COMPRESSED_LINES: u64 = 1024 * 1024;
/// How much of the start of a message with literals is kept, to answer it by its tag
/// when it is refused (`tag_of` looks no further).
const HEAD: usize = 65;

/// Where the session is (RFC 3501 §3).
pub enum State {
    /// Before login.
    NotAuthenticated,
    /// Logged in, nothing selected.
    Authenticated {
        /// Who.
        account: Account,
    },
    /// A mailbox is selected.
    Selected {
        /// Who.
        account: Account,
        /// The mailbox as the client knows it.
        view: Box<Selected>,
    },
}

impl State {
    /// The logged-in account.
    pub fn account(&self) -> Option<&Account> {
        match self {
            State::NotAuthenticated => None,
            State::Authenticated { account } | State::Selected { account, .. } => Some(account),
        }
    }

    /// Leaves the selected mailbox (CLOSE, UNSELECT, a new SELECT).
    pub fn deselect(&mut self) {
        if matches!(self, State::Selected { .. })
            && let State::Selected { account, .. } =
                std::mem::replace(self, State::NotAuthenticated)
        {
            *self = State::Authenticated { account };
        }
    }
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
    /// The connection, over a stream that deflates both ways once COMPRESS is on.
    pub conn: Conn<Wire<S>>,
    /// imap-next's protocol state: framing, literals, encoding.
    pub server: Server,
    /// Shared server state.
    pub imap: Arc<Imap>,
    /// The client.
    pub peer: SocketAddr,
    /// Whether the connection is encrypted.
    pub tls: bool,
    /// Where the session is.
    pub state: State,
    /// Committed changes from the store (every session's and the twin's).
    pub changes: broadcast::Receiver<Arc<ChangeEvent>>,
    /// BAD responses so far.
    pub errors: u32,
    /// Failed logins so far.
    pub auth_failures: u32,
    /// The tag of a running IDLE.
    pub idling: Option<Tag<'static>>,
    /// The tag of a running AUTHENTICATE waiting for the client's response.
    pub authenticating: Option<Tag<'static>>,
    /// End after the queued responses are sent (LOGOUT, fatal errors).
    pub closing: bool,
    /// STARTTLS accepted: hand the stream over once the OK is sent.
    pub starttls: bool,
    /// COMPRESS DEFLATE accepted (RFC 4978), with its place in the server's count of
    /// compressed sessions: both directions are compressed from the byte after the OK
    /// on, which the main loop sends plain first.
    pub compress: Option<crate::deflate::Slot>,
    /// CONDSTORE is on (RFC 7162 §3.1): FETCH responses with FLAGS carry MODSEQ.
    pub condstore: bool,
    /// QRESYNC is on (RFC 7162 §3.2.3, ENABLE QRESYNC): expunges are told as VANISHED.
    pub qresync: bool,
    /// UTF8=ACCEPT (RFC 6855) or IMAP4rev2 is on: mailbox names are UTF-8 both ways.
    pub utf8: bool,
    /// IMAP4rev2 is on (RFC 9051): no RECENT, SEARCH answered with ESEARCH.
    pub rev2: bool,
    /// What NOTIFY (RFC 5465) asked to be told and what is yet to be told; `None`
    /// before NOTIFY SET, after NOTIFY NONE and after a notification overflow.
    pub notify: Option<Box<crate::watch::Watch>>,
    /// The saved search result (SEARCHRES, RFC 5182), as UIDs: what `$` stands for.
    pub search_result: twinmail_store::UidSet,
    /// This session's place in its user's session count, once logged in.
    pub user_slot: Option<crate::server::UserSlot>,
    /// What imap-next produced while responses were being pumped out mid-command
    /// (a pipelined command, say), to be handled by the main loop in order.
    stash: std::collections::VecDeque<Result<Event, WireError>>,
    /// Where the messages given to imap-next end: it is given one piece at a time.
    framer: Framer,
    /// imap-next's decoder has the small limits of before login.
    small_decoder: bool,
    /// When the session is closed if it has not logged in (`login_deadline` after it
    /// began).
    login_by: Instant,
    /// When the first byte of the message (command) being read arrived.
    message_started: Option<Instant>,
    /// The share of the message bytes held in memory (all sessions together) taken for
    /// the literals of the message under way; given back once its command is done.
    held: twinmail_net::HeldBytes,
    /// How many bytes `held` is.
    held_bytes: usize,
    /// The first bytes (up to `HEAD`) of a message under way that has not ended with its
    /// first piece: its tag, should it be refused.
    head: Vec<u8>,
    /// A literal of the message under way was refused (past the bytes-in-flight cap, or
    /// too long): the rest of the message is read and dropped, never given to imap-next.
    discarding: Option<Refusal>,
}

/// Why a literal was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// Every session together would hold more message bytes than the cap: NO [LIMIT].
    Limit,
    /// Longer than the decoder accepts, and non-synchronising (imap-next would buffer it
    /// up to its command limit before refusing it): BAD.
    TooLong,
}

/// The tag a refused line starts with, when it is a valid tag followed by a space.
fn tag_of(line: &[u8]) -> Option<Tag<'static>> {
    let end = line.iter().take(64).position(|&b| b == b' ')?;
    let tag = std::str::from_utf8(&line[..end]).ok()?;
    Tag::try_from(tag.to_string()).ok()
}

/// The least state a command needs.
enum Needs {
    /// Any state.
    Any,
    /// Not yet logged in.
    NotAuthenticated,
    /// Logged in.
    Authenticated,
    /// Logged in with no mailbox selected (ENABLE, RFC 5161 §3.1 / RFC 9051 §6.3.1).
    AuthenticatedOnly,
    /// A mailbox selected.
    Selected,
}

/// The command-validity table (RFC 3501 §6): which commands run in which state.
fn needs(body: &CommandBody<'_>) -> Needs {
    use CommandBody::*;
    match body {
        Capability | Noop | Logout | Id { .. } => Needs::Any,
        StartTLS | Authenticate { .. } | Login { .. } => Needs::NotAuthenticated,
        Enable { .. } => Needs::AuthenticatedOnly,
        Check
        | Close
        | Unselect
        | Expunge
        | ExpungeUid { .. }
        | Search { .. }
        | Sort { .. }
        | Thread { .. }
        | Fetch { .. }
        | Store { .. }
        | Copy { .. }
        | Move { .. } => Needs::Selected,
        _ => Needs::Authenticated,
    }
}

fn allowed(body: &CommandBody<'_>, state: &State) -> Result<(), &'static str> {
    match (needs(body), state) {
        (Needs::Any, _) => Ok(()),
        (Needs::NotAuthenticated, State::NotAuthenticated) => Ok(()),
        (Needs::NotAuthenticated, _) => Err("Already authenticated"),
        (_, State::NotAuthenticated) => Err("Log in first"),
        (Needs::Selected, State::Authenticated { .. }) => Err("No mailbox selected"),
        (Needs::AuthenticatedOnly, State::Selected { .. }) => {
            Err("ENABLE is not allowed while a mailbox is selected")
        }
        _ => Ok(()),
    }
}

impl<S: Stream> Session<S> {
    pub fn new(
        stream: S,
        peer: SocketAddr,
        imap: Arc<Imap>,
        tls: bool,
        shutdown: watch::Receiver<bool>,
        greet: bool,
    ) -> Session<S> {
        let server = decoder(&imap, tls, false, greet);
        let changes = imap.store.subscribe();
        let login_by = Instant::now() + imap.settings.login_deadline;
        Session {
            conn: Conn::new(Wire::new(stream), shutdown),
            server,
            imap,
            peer,
            tls,
            state: State::NotAuthenticated,
            changes,
            errors: 0,
            auth_failures: 0,
            idling: None,
            authenticating: None,
            closing: false,
            starttls: false,
            compress: None,
            condstore: false,
            qresync: false,
            utf8: false,
            rev2: false,
            notify: None,
            search_result: twinmail_store::UidSet::default(),
            user_slot: None,
            stash: std::collections::VecDeque::new(),
            framer: Framer::default(),
            small_decoder: true,
            login_by,
            message_started: None,
            held: twinmail_net::HeldBytes::default(),
            held_bytes: 0,
            head: Vec::new(),
            discarding: None,
        }
    }

    /// Replaces imap-next's decoder by a fresh one when that is due and safe: due after
    /// login (larger limits) or after a message larger than `KEEP_DECODER` (its buffer is
    /// given back); safe between two messages when imap-next expects a command (not an
    /// AUTHENTICATE response, not DONE) and has nothing left to send.
    fn renew_decoder(&mut self) {
        if !self.framer.at_boundary() || self.idling.is_some() || self.authenticating.is_some() {
            return;
        }
        let logged_in = self.state.account().is_some();
        let grown = self.framer.take_largest() > KEEP_DECODER;
        if (self.small_decoder && logged_in) || grown {
            self.server = decoder(&self.imap, self.tls, logged_in, false);
            self.small_decoder = !logged_in;
        }
    }

    /// Runs until LOGOUT, an error, a timeout, shutdown or STARTTLS.
    pub async fn run(mut self) -> End<S> {
        loop {
            let next = match self.stash.pop_front() {
                Some(Ok(event)) => Ok(event),
                Some(Err(e)) => Err(Interrupt::Error(e)),
                None => self.server.next(),
            };
            // Commands run in futures of their own on the heap (boxed), so that what a
            // session holds between commands (in IDLE, say) is only the session and its
            // read: the largest command future is several KiB, and would otherwise be
            // part of every session's task for its whole life (bench/imap-idle.sh).
            match next {
                Ok(event) => Box::pin(self.event(event)).await,
                Err(Interrupt::Io(Io::Output(bytes))) => self.conn.reply_raw(&bytes),
                Err(Interrupt::Io(Io::NeedMoreInput)) => {
                    if self.closing {
                        let _ = self.conn.flush().await;
                        return End::Closed;
                    }
                    if self.starttls {
                        if self.conn.flush().await.is_err() {
                            return End::Closed;
                        }
                        self.conn.discard_input();
                        return End::StartTls(self.conn.stream.into_inner());
                    }
                    if let Some(slot) = self.compress.take()
                        && self.start_compression(slot).await.is_err()
                    {
                        return End::Closed;
                    }
                    if self.framer.at_boundary() {
                        // The last message's command is done: its literals are gone.
                        self.held = twinmail_net::HeldBytes::default();
                        self.held_bytes = 0;
                        self.head = Vec::new();
                    }
                    self.renew_decoder();
                    if let Err(stop) = self.read().await {
                        self.stopped(stop).await;
                        return End::Closed;
                    }
                }
                Err(Interrupt::Error(e)) => Box::pin(self.wire_error(e)).await,
            }
            if self.errors >= self.imap.settings.max_errors && !self.closing {
                self.bye("Too many errors");
            }
        }
    }

    /// Sends what is queued (COMPRESS's OK) plain, then turns deflate on both ways. What
    /// the client sent after the command is already compressed (RFC 4978 §3: it waits
    /// for the OK), so it goes to the inflater.
    async fn start_compression(&mut self, slot: crate::deflate::Slot) -> Result<(), Stop> {
        self.conn.flush().await?;
        let pending = self.conn.input().to_vec();
        self.conn.discard_input();
        if let Err(e) = self.conn.stream.start_in(pending, Some(slot)) {
            // COMPRESS's handler refuses a second one before it gets here.
            tracing::error!(error = %e, "compression started twice");
        }
        Ok(())
    }

    /// The largest message (command with its literals) imap-next's decoder takes now.
    fn max_message(&self) -> u64 {
        if self.small_decoder {
            u64::from(PRE_LOGIN_COMMAND)
        } else {
            u64::from(self.imap.settings.max_literal_size) + 64 * 1024
        }
    }

    /// Gives imap-next its next piece of input, reading more first when none is left;
    /// while idling, also reports changes as they come.
    async fn read(&mut self) -> Result<(), Stop> {
        if self.conn.input().is_empty() {
            self.fill().await?;
        }
        let input = self.conn.input();
        let starts = self.framer.at_boundary();
        let n = self.framer.piece(input);
        if starts {
            self.head.clear();
        }
        if !self.framer.at_boundary() && self.head.len() < HEAD {
            let more = n.min(HEAD - self.head.len());
            self.head.extend_from_slice(&input[..more]);
        }
        let mut refused = None;
        if let Some((len, sync)) = self.framer.take_announced()
            && self.discarding.is_none()
            && let Some(why) = self.literal_refusal(len, sync)
        {
            if sync {
                // Refused before the client sends it (no continuation): the message
                // ends here.
                self.framer.literal_refused();
                refused = Some(why);
            } else {
                // The client sends it anyway: read it and the rest of the message, and
                // drop them.
                self.discarding = Some(why);
            }
        }
        // Compressed, a message past every limit costs the client a few bytes and the
        // server the inflating of all of it (a compression bomb): the session ends as
        // soon as one is seen, instead of reading it to its end.
        let (message, lines) = self.framer.message_len();
        if self.conn.stream.compressing()
            && !self.closing
            && (self.discarding == Some(Refusal::TooLong)
                || message > self.max_message()
                || lines > COMPRESSED_LINES)
        {
            tracing::warn!("compressed message over the size limits: session closed");
            self.bye("Command too long");
            self.conn.consume(self.conn.input().len());
            return Ok(());
        }
        let input = self.conn.input();
        if self.discarding.is_none() && refused.is_none() {
            self.server.enqueue_input(&input[..n]);
        }
        self.conn.consume(n);
        if self.framer.at_boundary()
            && let Some(why) = refused.or(self.discarding.take())
        {
            self.refuse_message(why);
        }
        if self.framer.at_boundary() {
            self.message_started = None;
        } else if starts {
            self.message_started = Some(Instant::now());
        }
        Ok(())
    }

    /// Takes room for a literal of `len` bytes in this session's share of the message
    /// bytes in memory, or says why it is refused: every session together would then
    /// hold more than the cap, or it is longer than the decoder takes and
    /// non-synchronising (a synchronising one imap-next refuses before it is sent).
    /// AUTHENTICATE responses and DONE are imap-next's alone.
    fn literal_refusal(&mut self, len: u32, sync: bool) -> Option<Refusal> {
        let settings = &self.imap.settings;
        let limit = if self.small_decoder {
            PRE_LOGIN_LITERAL.min(settings.max_literal_size)
        } else {
            settings.max_literal_size
        };
        if len == 0 || self.authenticating.is_some() || self.idling.is_some() {
            return None;
        }
        if len > limit {
            return (!sync).then_some(Refusal::TooLong);
        }
        let total = self.held_bytes.saturating_add(len as usize);
        if !self.held.grow_to(total, settings.max_bytes_in_flight) {
            return Some(Refusal::Limit);
        }
        self.held_bytes = total;
        None
    }

    /// Takes `more` bytes into the running command's share of the message bytes held in
    /// memory (messages CATENATE builds, RFC 4469); given back with the literals' share
    /// once the command is done. False, and nothing taken, when every session together
    /// would hold more than `max_bytes_in_flight`.
    pub fn hold(&mut self, more: usize) -> bool {
        let total = self.held_bytes.saturating_add(more);
        if !self
            .held
            .grow_to(total, self.imap.settings.max_bytes_in_flight)
        {
            return false;
        }
        self.held_bytes = total;
        true
    }

    /// Answers a message one of whose literals was refused, now that nothing of it is
    /// left to read, with NO [LIMIT] (RFC 5530) or BAD, and forgets it: imap-next may
    /// hold its start (a line that came in pieces, an earlier literal), so it gets a
    /// fresh decoder, and the message's share of the bytes in memory is given back.
    fn refuse_message(&mut self, why: Refusal) {
        let logged_in = self.state.account().is_some();
        self.server = decoder(&self.imap, self.tls, logged_in, false);
        self.small_decoder = !logged_in;
        self.held = twinmail_net::HeldBytes::default();
        self.held_bytes = 0;
        let tag = tag_of(&self.head);
        self.head = Vec::new();
        let status = match why {
            Refusal::Limit => {
                tracing::warn!(
                    in_flight = twinmail_net::HeldBytes::in_flight(),
                    "literal refused for now: too many message bytes in memory"
                );
                let code = Code::Other(imap_types::response::CodeOther::unvalidated(&b"LIMIT"[..]));
                let text = "Too many messages in memory, try again later";
                match tag {
                    Some(tag) => Some(crate::convert::no(&tag, Some(code), text.into())),
                    None => Status::no(None, Some(code), text).ok(),
                }
            }
            Refusal::TooLong => {
                self.errors += 1;
                Status::bad(tag, None, "Literal too long").ok()
            }
        };
        if let Some(status) = status {
            self.server.enqueue_status(status);
        }
    }

    /// Reads more input; while idling, also reports changes as they come.
    /// Besides the idle timeouts, a deadline: for the login, and for the message under
    /// way (longer once it has announced a literal).
    async fn fill(&mut self) -> Result<(), Stop> {
        let settings = &self.imap.settings;
        let (timeout, login_by) = match self.state {
            State::NotAuthenticated if self.imap.limits.busy(settings.max_connections) => (
                settings.login_timeout.min(settings.stress_login_timeout),
                Some(self.login_by),
            ),
            State::NotAuthenticated => (settings.login_timeout, Some(self.login_by)),
            _ => (settings.command_timeout, None),
        };
        let message_by = self.message_started.map(|t| {
            t + if self.framer.has_literal() {
                settings.literal_deadline
            } else {
                settings.command_deadline
            }
        });
        let deadline = match (login_by, message_by) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.conn.set_deadline(deadline);
        loop {
            // In IDLE, and with NOTIFY between commands (no message under way: RFC 5465
            // §3 lets the server speak "even when no command is in progress"), changes
            // are told as they commit.
            let watching = self.idling.is_some()
                || (self.notify.is_some()
                    && self.framer.at_boundary()
                    && self.authenticating.is_none());
            if !watching {
                self.conn.fill(timeout).await?;
                break;
            }
            self.conn.flush().await?;
            tokio::select! {
                r = self.conn.fill(timeout) => { r?; break; }
                ev = self.changes.recv() => {
                    self.take_change(ev);
                    self.drain_changes();
                    self.push().await;
                    // Hand the responses to imap-next's encoder, then go on waiting. All
                    // of them: one change can make several (EXPUNGE then EXISTS).
                    self.send_queued();
                    if self.closing {
                        // The idled mailbox is gone (BYE queued): end now, not at the
                        // client's next word.
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    async fn stopped(&mut self, stop: Stop) {
        let text = match stop {
            Stop::Timeout => "Autologout; idle for too long",
            Stop::Shutdown => "Server shutting down",
            Stop::Eof | Stop::Io(_) => return,
        };
        if let Ok(bye) = Status::bye(None, text) {
            self.server.enqueue_status(bye);
        }
        while let Err(Interrupt::Io(Io::Output(bytes))) = self.server.next() {
            self.conn.reply_raw(&bytes);
        }
        let _ = self.conn.flush().await;
    }

    async fn event(&mut self, event: Event) {
        match event {
            Event::CommandReceived { command } => {
                // Nothing behind STARTTLS or LOGOUT is acted on.
                if !self.starttls && !self.closing {
                    self.command(command).await;
                }
            }
            Event::CommandAuthenticateReceived {
                command_authenticate,
            } => command::authenticate::start(self, command_authenticate).await,
            Event::AuthenticateDataReceived { authenticate_data } => {
                command::authenticate::data(self, authenticate_data).await
            }
            Event::IdleCommandReceived { tag } => command::idle::start(self, tag).await,
            Event::IdleDoneReceived => command::idle::done(self),
            Event::GreetingSent { .. } | Event::ResponseSent { .. } => {}
        }
    }

    async fn command(&mut self, command: Command<'static>) {
        let Command { tag, body } = command;
        self.run_command(tag, body, Extra::None).await;
    }

    async fn run_command(&mut self, tag: Tag<'static>, body: CommandBody<'static>, extra: Extra) {
        self.drain_changes();
        if self.closing {
            // Told BYE meanwhile (the account changed, or the session fell behind).
            return;
        }
        if let Err(text) = allowed(&body, &self.state) {
            self.errors += 1;
            self.server.enqueue_status(crate::convert::bad(&tag, text));
            return;
        }
        // FETCH, STORE and SEARCH must not be followed by EXPUNGE (RFC 3501 §7.4.1);
        // their UID forms may, but clients cope best with the same rule.
        let expunges = !matches!(
            body,
            CommandBody::Fetch { .. }
                | CommandBody::Store { .. }
                | CommandBody::Search { .. }
                | CommandBody::Sort { .. }
                | CommandBody::Thread { .. }
                | CommandBody::Copy { .. }
        );
        let condstore_before = self.condstore || self.qresync;
        let selects = matches!(
            body,
            CommandBody::Select { .. } | CommandBody::Examine { .. }
        );
        if self.notify.is_some() {
            let own = self.own_effect(&body).await;
            if let Some(w) = self.notify.as_mut() {
                w.own = own;
            }
        }
        // Every log line the command writes (a store failure, a status that could not be
        // built) names the command it came from.
        let name = match &extra {
            Extra::UrlAuth(c) => c.name(),
            _ => body.name(),
        };
        let span = tracing::info_span!("command", name);
        let status =
            tracing::Instrument::instrument(command::dispatch(self, &tag, body, extra), span).await;
        self.drain_changes();
        if let Some(w) = self.notify.as_mut() {
            w.own = None;
        }
        // After BYE (LOGOUT, a fatal error) the client is told nothing more about the
        // mailbox it is leaving: only the tagged status follows (RFC 3501 §6.1.3).
        if !self.closing {
            // Live searches (RFC 5267) are told around EXISTS / EXPUNGE: see contexts.rs.
            crate::contexts::bring_up_to_date(self, false).await;
            self.report_updates(expunges);
            crate::contexts::bring_up_to_date(self, true).await;
            // NOTIFY's notifications for other mailboxes (RFC 5465 §5).
            crate::watch::tell(self).await;
        }
        // SELECT/EXAMINE (CONDSTORE) tell HIGHESTMODSEQ among their own responses.
        let status = if !condstore_before && self.condstore && !selects {
            self.highest_modseq_on(status).await
        } else {
            status
        };
        self.server.enqueue_status(status);
        // With NOTIFY, what the command could not tell (SELECTED's expunges after a
        // FETCH, say) goes right after it: no command is in progress then.
        if self.notify.is_some() && !self.closing {
            self.push().await;
        }
    }

    /// What a command will change itself, which NOTIFY does not tell back to this
    /// session (RFC 5465 §5, see `watch.rs`).
    async fn own_effect(&self, body: &CommandBody<'_>) -> Option<crate::watch::Own> {
        use crate::watch::Own;
        // As the store will have it (CREATE drops a trailing delimiter).
        let name = |m: &imap_types::mailbox::Mailbox<'_>| {
            let name = self.mailbox_name(m)?;
            twinmail_store::names::mailbox(name.strip_suffix('/').unwrap_or(&name)).ok()
        };
        let guid = |name: Option<String>| async move {
            let account = self.state.account()?;
            let m = self.imap.store.mailbox(account.id, &name?).await.ok()??;
            Some(m.guid)
        };
        match body {
            CommandBody::Create { mailbox } => Some(Own::Create(name(mailbox)?)),
            CommandBody::Delete { mailbox } => Some(Own::Delete(name(mailbox)?)),
            CommandBody::Rename { from, to } => Some(Own::Rename(name(from)?, name(to)?)),
            CommandBody::Subscribe { mailbox } | CommandBody::Unsubscribe { mailbox } => {
                Some(Own::Subscribe(guid(name(mailbox)).await?))
            }
            CommandBody::SetMetadata { mailbox, .. } => match mailbox {
                imap_types::mailbox::Mailbox::Other(o) if o.as_ref().is_empty() => {
                    Some(Own::Metadata(None))
                }
                _ => Some(Own::Metadata(Some(guid(name(mailbox)).await?))),
            },
            _ => None,
        }
    }

    /// The first CONDSTORE enabling command (RFC 7162 §3.1) run with a mailbox selected
    /// (FETCH ... MODSEQ or CHANGEDSINCE, SEARCH MODSEQ, STORE UNCHANGEDSINCE, STATUS
    /// HIGHESTMODSEQ) tells the selected mailbox's HIGHESTMODSEQ in its tagged OK, so a
    /// client that was not told it at SELECT knows where its cache stands; when the OK
    /// already carries a code ([MODIFIED]), in an untagged OK just before it.
    async fn highest_modseq_on(&mut self, status: Status<'static>) -> Status<'static> {
        use imap_types::response::{StatusBody, StatusKind, Tagged};
        let State::Selected { view, .. } = &self.state else {
            return status;
        };
        let highest = match self.imap.store.mailbox_by_id(view.mailbox.id).await {
            Ok(Some(m)) => m.highestmodseq,
            Ok(None) => return status,
            Err(e) => {
                tracing::warn!(error = %e, "HIGHESTMODSEQ not read");
                return status;
            }
        };
        let code = Code::HighestModSeq(crate::convert::nz64(highest));
        match status {
            Status::Tagged(Tagged {
                tag,
                body:
                    StatusBody {
                        kind: StatusKind::Ok,
                        code: None,
                        text,
                    },
            }) => Status::Tagged(Tagged {
                tag,
                body: StatusBody {
                    kind: StatusKind::Ok,
                    code: Some(code),
                    text,
                },
            }),
            Status::Tagged(Tagged { tag, body }) if body.kind == StatusKind::Ok => {
                if let Ok(untagged) = Status::ok(None, Some(code), "Highest") {
                    self.server.enqueue_status(untagged);
                }
                Status::Tagged(Tagged { tag, body })
            }
            other => other,
        }
    }

    async fn wire_error(&mut self, e: WireError) {
        if let WireError::LiteralTooLong { .. } = &e {
            // imap-next refused a synchronising literal and skipped the rest of its
            // message, which the client will not send.
            self.framer.literal_refused();
        }
        // A response to AUTHENTICATE that cannot be read (over PRE_LOGIN_COMMAND, say)
        // ends the exchange (RFC 3501 §6.2.2), answered with AUTHENTICATE's tag.
        if let Some(tag) = self.authenticating.take() {
            self.errors += 1;
            let status = crate::convert::bad(&tag, "Invalid authentication response");
            if let Err(status) = self.server.authenticate_finish(status) {
                self.server.enqueue_status(status);
            }
            return;
        }
        // MULTIAPPEND (RFC 3502): imap-codec takes one message per APPEND.
        let e = match e {
            WireError::MalformedMessage { discarded_bytes } => {
                match crate::multiappend::parse(discarded_bytes.declassify()) {
                    Some(parsed) => return self.multiappend(parsed, discarded_bytes).await,
                    None => WireError::MalformedMessage { discarded_bytes },
                }
            }
            e => e,
        };
        // URLAUTH's commands (RFC 4467): imap-codec knows none of them.
        if let WireError::MalformedMessage { discarded_bytes } = &e
            && let Some(parsed) = crate::urlauth::parse(discarded_bytes.declassify())
        {
            if self.starttls || self.closing {
                return;
            }
            match parsed {
                Ok((tag, command)) => {
                    // The validity table speaks CommandBody: NAMESPACE (valid once
                    // logged in, as the three are) stands in for it.
                    self.run_command(tag, CommandBody::Namespace, Extra::UrlAuth(command))
                        .await;
                }
                Err((tag, why)) => {
                    // Before login, as for any command, that comes first.
                    let text = match self.state.account() {
                        None => "Log in first",
                        Some(_) => why.text(),
                    };
                    self.errors += 1;
                    self.server.enqueue_status(crate::convert::bad(&tag, text));
                }
            }
            return;
        }
        // NOTIFY (RFC 5465), which imap-codec does not know (`notify.rs`).
        if let WireError::MalformedMessage { discarded_bytes } = &e
            && let Some(parsed) = crate::notify::parse(discarded_bytes.declassify())
        {
            if self.starttls || self.closing {
                return;
            }
            match parsed {
                Ok(request) => {
                    // The validity table speaks CommandBody: NAMESPACE's (valid once
                    // logged in, as NOTIFY is) stands in for it.
                    let tag = request.tag.clone();
                    self.run_command(tag, CommandBody::Namespace, Extra::Notify(request))
                        .await;
                }
                Err((tag, why)) => {
                    // Before login, as for any command, that comes first.
                    let status = if self.state.account().is_none() {
                        self.errors += 1;
                        crate::convert::bad(&tag, "Log in first")
                    } else {
                        if matches!(why, crate::notify::Refusal::Invalid(_)) {
                            self.errors += 1;
                        }
                        command::notify::refused(&tag, why)
                    };
                    self.server.enqueue_status(status);
                }
            }
            return;
        }
        // What imap-codec cannot decode may be an extension it does not know.
        if let WireError::MalformedMessage { discarded_bytes } = &e
            && let Some(rescued) = crate::extparse::rescue(discarded_bytes.declassify())
        {
            if self.starttls || self.closing {
                return;
            }
            match rescued {
                Ok(Rescued::Command { command, rewrite }) => {
                    self.run_command(command.tag, command.body, Extra::Rewritten(rewrite))
                        .await;
                }
                Ok(Rescued::CancelUpdate { tag, tags }) => {
                    // The validity table speaks CommandBody: CHECK (valid with a
                    // mailbox selected, as CANCELUPDATE is) stands in for it.
                    self.run_command(tag, CommandBody::Check, Extra::CancelUpdate(tags))
                        .await;
                }
                Ok(Rescued::List { tag, request }) => {
                    // The validity table speaks CommandBody: LIST's stands in for it.
                    let body = CommandBody::List {
                        reference: imap_types::mailbox::Mailbox::Inbox,
                        mailbox_wildcard: imap_types::mailbox::ListMailbox::Token(
                            imap_types::mailbox::ListCharString::unvalidated("*"),
                        ),
                    };
                    self.run_command(tag, body, Extra::List(request)).await;
                }
                Ok(Rescued::Acl { tag, command }) => {
                    // The validity table speaks CommandBody: NAMESPACE (valid once
                    // logged in, as the ACL commands are) stands in for it.
                    self.run_command(tag, CommandBody::Namespace, Extra::Acl(command))
                        .await;
                }
                Err((tag, text)) => {
                    self.errors += 1;
                    self.server.enqueue_status(crate::convert::bad(&tag, text));
                }
            }
            return;
        }
        self.errors += 1;
        let (text, bytes) = match &e {
            WireError::ExpectedCrlfGotLf { discarded_bytes } => {
                ("Lines must end with CRLF", discarded_bytes)
            }
            WireError::MalformedMessage { discarded_bytes } => {
                ("Malformed command", discarded_bytes)
            }
            WireError::LiteralTooLong { discarded_bytes } => ("Literal too long", discarded_bytes),
            WireError::CommandTooLong { discarded_bytes } => ("Command too long", discarded_bytes),
        };
        // A client waits for its tag: answer with it whenever it can be read (RFC 3501
        // §7.1.3), untagged only when even the tag is unreadable. A refused literal was
        // already answered with the tag by imap-next.
        let tag = match e {
            WireError::LiteralTooLong { .. } => None,
            _ => tag_of(bytes.declassify()),
        };
        if let Ok(s) = Status::bad(tag, None, text) {
            self.server.enqueue_status(s);
        }
    }

    /// Runs a MULTIAPPEND `multiappend::parse` recognised in a message imap-codec
    /// refused, or answers BAD for a malformed one.
    async fn multiappend(
        &mut self,
        parsed: Result<crate::multiappend::MultiAppend, crate::multiappend::Refused>,
        bytes: imap_types::secret::Secret<Box<[u8]>>,
    ) {
        if self.starttls || self.closing {
            return;
        }
        match parsed {
            Ok(m) => {
                // The validity table speaks CommandBody: APPEND's stands in for it.
                let body = CommandBody::Append {
                    mailbox: m.mailbox.clone(),
                    flags: Vec::new(),
                    date: None,
                    message: imap_types::extensions::binary::LiteralOrLiteral8::Literal(
                        imap_types::core::Literal::unvalidated(&b""[..]),
                    ),
                };
                let tag = m.tag.clone();
                // One copy at a time: the refused message's own is dropped at once.
                let owned = bytes.declassify().clone();
                drop(bytes);
                self.run_command(tag, body, Extra::MultiAppend(Box::new(m), owned))
                    .await;
            }
            Err((tag, why)) => {
                self.errors += 1;
                let text = match why {
                    crate::multiappend::MultiAppendError::Invalid => {
                        "Invalid flags, date or mailbox in APPEND"
                    }
                    crate::multiappend::MultiAppendError::TooMany => {
                        "Too many messages in one APPEND"
                    }
                    crate::multiappend::MultiAppendError::Catenate => "Invalid CATENATE",
                };
                self.server.enqueue_status(crate::convert::bad(&tag, text));
            }
        }
    }

    /// Moves queued responses to the connection, and sends them once they add up, so a
    /// long FETCH streams instead of piling up in memory.
    pub async fn pump(&mut self) -> Result<(), Stop> {
        loop {
            match self.server.next() {
                Err(Interrupt::Io(Io::Output(bytes))) => self.conn.reply_raw(&bytes),
                Err(Interrupt::Io(Io::NeedMoreInput)) => break,
                Ok(event) => {
                    self.stash.push_back(Ok(event));
                    break;
                }
                Err(Interrupt::Error(e)) => {
                    self.stash.push_back(Err(e));
                    break;
                }
            }
        }
        if self.conn.pending_output() > 256 * 1024 {
            self.conn.flush().await?;
        }
        Ok(())
    }

    /// Ends the session after the queued responses, with an untagged BYE.
    pub fn bye(&mut self, text: &'static str) {
        if let Ok(s) = Status::bye(None, text) {
            self.server.enqueue_status(s);
        }
        self.closing = true;
    }

    /// Queues an untagged response.
    pub fn data(&mut self, d: Data<'static>) {
        self.server.enqueue_data(d);
    }

    /// Sends an untagged response with bytes imap-codec cannot produce appended to it
    /// (RFC 5258 extended data). What imap-next has queued goes out first, so the order
    /// of responses holds.
    pub fn data_with_suffix(&mut self, d: Data<'static>, suffix: &[u8]) {
        use imap_codec::{ResponseCodec, encode::Encoder};
        let mut bytes = ResponseCodec::default()
            .encode(&imap_types::response::Response::Data(d))
            .dump();
        if bytes.ends_with(b"\r\n") {
            bytes.truncate(bytes.len() - 2);
        }
        bytes.extend_from_slice(suffix);
        bytes.extend_from_slice(b"\r\n");
        self.raw_line(&bytes);
    }

    /// Sends a complete untagged response line that imap-types cannot express (ESEARCH),
    /// after everything imap-next has queued.
    pub fn raw_line(&mut self, line: &[u8]) {
        self.send_queued();
        self.conn.reply_raw(line);
    }

    /// Moves everything imap-next has queued to the connection. imap-next reports each
    /// response as sent before it hands out the next one's bytes, so stopping at the
    /// first event would leave the rest queued; other events are kept for the main loop.
    fn send_queued(&mut self) {
        loop {
            match self.server.next() {
                Err(Interrupt::Io(Io::Output(bytes))) => self.conn.reply_raw(&bytes),
                Err(Interrupt::Io(Io::NeedMoreInput)) => break,
                Ok(Event::ResponseSent { .. } | Event::GreetingSent { .. }) => {}
                Ok(event) => {
                    self.stash.push_back(Ok(event));
                    break;
                }
                Err(Interrupt::Error(e)) => {
                    self.stash.push_back(Err(e));
                    break;
                }
            }
        }
    }

    /// A mailbox name from the wire, as UTF-8 or modified UTF-7 per what the client enabled.
    pub fn mailbox_name(&self, m: &imap_types::mailbox::Mailbox<'_>) -> Option<String> {
        crate::convert::mailbox_name(m, self.utf8)
    }

    /// A mailbox name or pattern from raw wire bytes; see `mailbox_name`.
    pub fn decode_name(&self, raw: &[u8]) -> Option<String> {
        crate::convert::name_from_wire(raw, self.utf8)
    }

    /// A store name for the wire, as UTF-8 or modified UTF-7 per what the client enabled.
    pub fn wire_mailbox(&self, name: &str) -> imap_types::mailbox::Mailbox<'static> {
        crate::convert::wire_mailbox(name, self.utf8)
    }

    /// A change to the user's grant on the shared mailbox it has selected (ACL, kept as
    /// the owner's annotation, `acl.rs`) takes effect at once: the view's rights become
    /// the new ones, and true when they no longer include `r` (the session must end: it
    /// may not go on reading).
    fn rights_withdrawn(&mut self, change: &twinmail_store::Change) -> bool {
        use base64::Engine;
        let State::Selected { account, view } = &mut self.state else {
            return false;
        };
        let twinmail_store::Change::MetadataSet {
            mailbox: Some(mailbox),
            entry,
            value,
            ..
        } = change
        else {
            return false;
        };
        if *mailbox != view.mailbox.guid
            || view.mailbox.account_id == account.id
            || *entry != crate::acl::entry(&account.name)
        {
            return false;
        }
        let granted = value
            .as_deref()
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
            .map_or(crate::acl::Rights::NONE, |v| {
                crate::acl::Rights::lenient(&String::from_utf8_lossy(&v))
            });
        view.rights = granted;
        !granted.has("r")
    }

    fn take_change(&mut self, ev: Result<Arc<ChangeEvent>, broadcast::error::RecvError>) {
        match ev {
            Ok(ev) => {
                if let Some(account) = ev.change.ends_sessions_of()
                    && self.state.account().is_some_and(|a| a.guid == *account)
                {
                    // Disabled, deleted or a new password: log in again.
                    self.bye("The account changed; please log in again");
                    return;
                }
                if self.rights_withdrawn(&ev.change) {
                    self.bye("Your access to this shared mailbox was withdrawn");
                    return;
                }
                let selected = match &mut self.state {
                    State::Selected { view, .. } => {
                        view.observe(&ev);
                        Some(view.mailbox.guid)
                    }
                    _ => None,
                };
                let account = self.state.account().map(|a| a.guid);
                if let (Some(w), Some(account)) = (self.notify.as_mut(), account)
                    && w.observe(&ev.change, account, selected).is_err()
                {
                    self.notification_overflow();
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                // Too far behind to know what changed: the client must re-read.
                tracing::warn!(missed = n, "session fell behind the change stream");
                if let State::Selected { .. } = self.state {
                    self.bye("Too many changes at once; please reconnect");
                } else if self.notify.is_some() {
                    self.notification_overflow();
                }
            }
            Err(broadcast::error::RecvError::Closed) => {}
        }
    }

    /// Turns NOTIFY off, telling the client so (RFC 5465 §5.8: "behave as if a NOTIFY
    /// NONE command had just been received").
    fn notification_overflow(&mut self) {
        tracing::info!("NOTIFY turned off: too many notifications held");
        self.notify = None;
        if let Some(status) = crate::watch::overflow_status() {
            self.server.enqueue_status(status);
        }
    }

    /// Takes every committed change waiting on the stream into the selected view.
    pub fn drain_changes(&mut self) {
        loop {
            match self.changes.try_recv() {
                Ok(ev) => self.take_change(Ok(ev)),
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    self.take_change(Err(broadcast::error::RecvError::Lagged(n)))
                }
                Err(_) => break,
            }
        }
    }

    /// Queues `* FLAGS` and `* OK [PERMANENTFLAGS]` for the selected mailbox's flags as
    /// told so far (RFC 3501 §7.2.6); called when a keyword is about to be used in a FETCH
    /// that the client has not been told yet.
    pub fn announce_flags(&mut self) {
        let State::Selected { view, .. } = &self.state else {
            return;
        };
        let (flags, perm) = view.flags_announcement();
        self.server.enqueue_data(flags);
        if let Ok(status) = Status::ok(None, Some(perm), "Flags permitted") {
            self.server.enqueue_status(status);
        }
    }

    /// Learns the keywords these flag sets use and, when any is new to the client,
    /// announces the mailbox's flags again before it is used (RFC 3501 §7.2.6,
    /// RFC 9051 §7.3.5).
    pub fn announce_keywords<'a>(&mut self, flags: impl IntoIterator<Item = &'a Flags>) {
        if let State::Selected { view, .. } = &mut self.state
            && view.learn_keywords(flags)
        {
            self.announce_flags();
        }
    }

    /// Queues EXISTS / EXPUNGE / FETCH for what changed in the selected mailbox, at the
    /// end of a command (RFC 3501 §7): all of it, expunges when the command allows them.
    pub fn report_updates(&mut self, expunges: bool) {
        self.report_with(crate::selected::Allow::command(expunges));
    }

    /// Tells what may be told without a command: in IDLE (RFC 2177), or with NOTIFY
    /// between commands (RFC 5465 §5). The selected mailbox's changes as NOTIFY's
    /// SELECTED / SELECTED-DELAYED group asks (without NOTIFY, IDLE tells them all; with
    /// it, IDLE tells "exactly the same events", §4), with MessageNew's attributes
    /// fetched for new messages (§5.2); then the other mailboxes' notifications.
    pub async fn push(&mut self) {
        use crate::selected::Allow;
        let allow = match (&self.notify, self.idling.is_some()) {
            (Some(w), idling) => w.allow(idling),
            (None, true) => Allow::command(true),
            (None, false) => Allow::NOTHING,
        };
        let items = self
            .notify
            .as_ref()
            .and_then(|w| w.selected.as_ref()?.fetch.clone());
        // The FETCH of MessageNew's attributes takes in the changes committed meanwhile,
        // which are told in turn: until no new message is left unfetched.
        while allow.messages && !self.closing {
            let before = match &self.state {
                State::Selected { view, .. } => view.max_uid(),
                _ => u32::MAX,
            };
            // Live searches (RFC 5267) around EXISTS / EXPUNGE, as after any command.
            crate::contexts::bring_up_to_date(self, false).await;
            self.report_with(allow);
            crate::contexts::bring_up_to_date(self, true).await;
            let new: Vec<u32> = match &self.state {
                State::Selected { view, .. } if !view.gone && before < u32::MAX => view
                    .uids
                    .range(before + 1, u32::MAX)
                    .map(|(_, uid)| uid)
                    .collect(),
                _ => Vec::new(),
            };
            let (Some(items), Some(set), Some(tag)) = (
                items.clone(),
                crate::convert::wire_set(new),
                crate::watch::push_tag(),
            ) else {
                break;
            };
            let status =
                command::fetch::fetch(self, &tag, &set, items, true, &[], Default::default()).await;
            if !matches!(&status, Status::Tagged(t) if t.body.kind == imap_types::response::StatusKind::Ok)
            {
                tracing::warn!("MessageNew attributes not fetched");
                break;
            }
        }
        crate::watch::tell(self).await;
        // What NOTIFY holds back of the selected mailbox (SELECTED-DELAYED's expunges,
        // changes it does not ask for) is bounded like the notes (RFC 5465 §5.8).
        if let (Some(w), State::Selected { view, .. }) = (&self.notify, &self.state)
            && view.pending_len() > w.limit
        {
            self.notification_overflow();
        }
    }

    /// Queues what `allow` lets through of what changed in the selected mailbox.
    fn report_with(&mut self, allow: crate::selected::Allow) {
        if let State::Selected { view, .. } = &mut self.state
            && !view.gone
            && view.learn_pending_keywords()
        {
            self.announce_flags();
        }
        let report = self.report();
        let updates = match &mut self.state {
            // Its mailbox deleted (by this session or another), a session has nothing
            // left to show: it says so and ends, as Dovecot does.
            State::Selected { view, .. } if view.gone => {
                if !self.closing {
                    self.bye("Selected mailbox was deleted, have to disconnect");
                }
                return;
            }
            State::Selected { view, .. } => view.updates(allow, report, &self.imap.recent),
            _ => return,
        };
        for d in updates {
            self.server.enqueue_data(d);
        }
    }

    /// How the client wants changes told (CONDSTORE / QRESYNC enabled).
    pub fn report(&self) -> crate::selected::Report {
        crate::selected::Report {
            condstore: self.condstore || self.qresync,
            qresync: self.qresync,
        }
    }

    /// True when passwords may be sent on this connection.
    pub fn may_login(&self) -> bool {
        self.tls || (self.imap.settings.plaintext_auth_on_loopback && self.peer.ip().is_loopback())
    }

    /// A continuation request ("+ text").
    pub fn continuation(text: &'static str) -> CommandContinuationRequest<'static> {
        CommandContinuationRequest::basic(
            None,
            Text::try_from(text).unwrap_or_else(|_| Text::unvalidated("go ahead")),
        )
        .unwrap_or_else(|_| CommandContinuationRequest::base64(Vec::<u8>::new()))
    }
}

/// imap-next's protocol state with the limits for before or after login, and our
/// greeting (sent only when `greet`: not after STARTTLS, nor when a decoder is renewed).
fn decoder(imap: &Imap, tls: bool, logged_in: bool, greet: bool) -> Server {
    let mut options = Options::default();
    if logged_in {
        options.max_literal_size = imap.settings.max_literal_size;
        options.max_command_size = imap.settings.max_literal_size.saturating_add(64 * 1024);
    } else {
        options.max_literal_size = PRE_LOGIN_LITERAL.min(imap.settings.max_literal_size);
        options.max_command_size = PRE_LOGIN_COMMAND;
    }
    let caps = capabilities(imap, tls, false);
    let code = crate::convert::vec1(caps).map(Code::Capability);
    let greeting = Greeting::ok(code, "twinmail IMAP ready")
        .unwrap_or_else(|_| Greeting::ok(None, "ready").expect("static greeting text is valid"));
    let mut server = Server::new(options, greeting);
    if !greet {
        while let Err(Interrupt::Io(Io::Output(_))) = server.next() {}
    }
    server
}

/// What this server offers now (RFC 3501 §7.2.1), given TLS and login state.
pub fn capabilities(imap: &Imap, tls: bool, authenticated: bool) -> Vec<Capability<'static>> {
    let mut caps = vec![Capability::Imap4Rev1];
    // RFC 9051 §7.2.2: both revisions; a client turns IMAP4rev2 on with ENABLE.
    if let Ok(rev2) = imap_types::core::Atom::try_from("IMAP4rev2") {
        caps.push(Capability::from(rev2));
    }
    caps.extend([
        Capability::LiteralPlus,
        Capability::SaslIr,
        Capability::Id,
        Capability::Enable,
        Capability::Idle,
    ]);
    if !authenticated {
        if !tls && imap.tls.is_some() {
            caps.push(Capability::StartTls);
        }
        let may_login = tls || imap.settings.plaintext_auth_on_loopback;
        if may_login {
            caps.push(Capability::Auth(imap_types::auth::AuthMechanism::Plain));
        } else {
            caps.push(Capability::LoginDisabled);
        }
    }
    caps.extend([
        Capability::Namespace,
        Capability::UidPlus,
        Capability::Move,
        Capability::Unselect,
        Capability::CondStore,
        Capability::QResync,
        Capability::ListExtended,
        Capability::StatusSize,
        Capability::Quota,
        Capability::QuotaRes(imap_types::extensions::quota::Resource::Storage),
        Capability::Binary,
        Capability::Metadata,
    ]);
    if authenticated {
        // RFC 4978: offered once logged in, where it is valid (as Dovecot does).
        caps.push(Capability::Compress {
            algorithm: imap_types::extensions::compress::CompressionAlgorithm::Deflate,
        });
    }
    // RFC 3502 (`multiappend.rs`), RFC 5032 (SEARCH OLDER / YOUNGER).
    for added in ["MULTIAPPEND", "WITHIN"] {
        if let Ok(atom) = imap_types::core::Atom::try_from(added) {
            caps.push(Capability::from(atom));
        }
    }
    // RFC 4469, RFC 4467 and RFC 5550 (`catenate.rs`, `imapurl.rs`, `urlauth.rs`,
    // `command/catenate.rs`, `command/genurlauth.rs`, `command/urlfetch.rs`);
    // RFC 5267 and RFC 9394 (`contexts.rs`).
    for added in [
        "CATENATE",       // RFC 4469
        "URLAUTH",        // RFC 4467 (`urlauth.rs`, `command/urlfetch.rs`, ...)
        "NOTIFY",         // RFC 5465 (`notify.rs`, `watch.rs`, `command/notify.rs`)
        "URL-PARTIAL",    // RFC 5550
        "CONTEXT=SEARCH", // RFC 5267
        "CONTEXT=SORT",   // RFC 5267
        "PARTIAL",        // RFC 9394
    ] {
        if let Ok(atom) = imap_types::core::Atom::try_from(added) {
            caps.push(Capability::from(atom));
        }
    }
    for other in [
        "CHILDREN",
        "SPECIAL-USE",
        "LIST-STATUS",
        "ESEARCH",
        "SEARCHRES",
        "UTF8=ACCEPT",
        "SORT",
        "SORT=DISPLAY",
        "ESORT",
        "THREAD=ORDEREDSUBJECT",
        "THREAD=REFERENCES",
        // draft-ietf-morg-inthread (`threading::refs`).
        "THREAD=REFS",
        // RFC 8970 (`preview.rs`).
        "PREVIEW",
        // RFC 5255 §4: i;unicode-casemap for SEARCH and SORT (`casemap.rs`).
        "I18NLEVEL=1",
        // RFC 8514 (`savedate.rs`): save dates kept by the store and mirrored.
        "SAVEDATE",
        // RFC 4314 (`acl.rs`): shared mailboxes between accounts of one domain.
        "ACL",
        "RIGHTS=texk",
    ] {
        if let Ok(atom) = imap_types::core::Atom::try_from(other) {
            caps.push(Capability::from(atom));
        }
    }
    caps
}

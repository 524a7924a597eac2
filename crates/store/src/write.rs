//! Writes as commands: the seam between the store and the mirror.
//!
//! Every mutation a protocol makes of an account's mail is one [`Write`] value, addressed by
//! GUIDs (which mean the same thing on both twins), wrapped in a [`Command`] with a request
//! id. [`Store::write`] carries a command out; its typed [`Outcome`] is the answer. On a
//! twin the same command, unchanged, is what crosses the link to the account's home twin.
//!
//! Rules of the house:
//! - A command is done once, however often it is sent: the request id and the outcome are
//!   recorded in the same transaction as the write, and a command whose id is recorded gets
//!   the first outcome back without acting again.
//! - Messages are named by what the client saw: UID *and* GUID. A write acts on a message
//!   only where that UID still holds that GUID; a UID that holds another message refuses the
//!   whole write ([`StoreError::Conflict`]), never misapplies it; a message gone meanwhile is
//!   passed over, as if another session had expunged it.
//! - Bare UIDs ([`Targets::Uids`]) are this store's own numbering: they are turned into
//!   UID+GUID pairs before a command leaves the twin, and refused when they arrive from it.
//! - Errors cross the link as a typed [`WriteError`], never as prose to parse back, and
//!   their texts name no internal identifiers.

use std::{collections::HashMap, future::Future, pin::Pin, sync::Arc};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::{
    Store, StoreError,
    ops::{
        mailbox::{CreateMailbox, DeleteMailbox, RenameMailbox, SetSubscribed},
        message::{AddMessage, Body, Copied, CopyMessages, Expunge, FlagsStored, StoreFlags},
    },
    types::{BlobHash, FlagMode, Flags, Guid, Placed, now_unix},
    uidset::UidSet,
    writer::{Op, WriteCtx},
};

/// How long a request id is remembered: a client (or a sending MTA) that retries the same
/// delivery within this time gets the first result instead of a second copy.
pub const REQUEST_MEMORY_SECS: i64 = 5 * 24 * 3600;

/// One mutation of an account's mail, addressed by GUIDs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Write {
    /// Delivery or APPEND: one message (its bytes travel beside the command) into each of
    /// these mailboxes, all or none.
    Add {
        /// The target mailboxes (one per recipient for a delivery, one for APPEND).
        mailboxes: Vec<Guid>,
        /// The SHA-256 of the bytes, checked when they arrive.
        blob: BlobHash,
        /// Flags at arrival (APPEND may set some; deliveries none).
        flags: Flags,
        /// INTERNALDATE, Unix seconds, fixed where the write began.
        internal_date: i64,
    },
    /// STORE: changes flags of some messages.
    StoreFlags {
        /// The mailbox the client has selected.
        mailbox: Guid,
        /// The messages the client named.
        messages: Targets,
        /// Replace, add or remove.
        mode: FlagMode,
        /// The flags to replace with, add or remove.
        flags: Flags,
        /// CONDSTORE UNCHANGEDSINCE: messages changed after this MODSEQ are left alone.
        unchanged_since: Option<u64>,
    },
    /// EXPUNGE, UID EXPUNGE, or POP3's removal at QUIT.
    Expunge {
        /// The mailbox.
        mailbox: Guid,
        /// Restricted to these messages; `None`: every `\Deleted` message (plain EXPUNGE).
        messages: Option<Targets>,
        /// True: only messages flagged `\Deleted` (IMAP); false: exactly `messages` (POP3).
        only_deleted: bool,
    },
    /// COPY, or MOVE with `remove`, within one account.
    Copy {
        /// The source mailbox.
        from: Guid,
        /// The messages to copy.
        messages: Targets,
        /// The target mailbox.
        to: Guid,
        /// MOVE: the source messages are expunged in the same transaction.
        remove: bool,
    },
    /// CREATE (with missing parents).
    CreateMailbox {
        /// The owning account.
        account: Guid,
        /// The full name.
        name: String,
    },
    /// RENAME (with children; INBOX moves its messages out).
    RenameMailbox {
        /// The owning account.
        account: Guid,
        /// The current name.
        from: String,
        /// The new name.
        to: String,
    },
    /// DELETE.
    DeleteMailbox {
        /// The owning account.
        account: Guid,
        /// The name.
        name: String,
    },
    /// SUBSCRIBE / UNSUBSCRIBE.
    Subscribe {
        /// The owning account.
        account: Guid,
        /// The name.
        name: String,
        /// The new state.
        subscribed: bool,
    },
    /// SETMETADATA (RFC 5464): entries set (or removed: `None`), all or none.
    SetMetadata {
        /// The owning account.
        account: Guid,
        /// The mailbox's name; `None`: the server's entries.
        mailbox: Option<String>,
        /// Entry names (lower-case) and values.
        entries: Vec<(String, Option<Vec<u8>>)>,
    },
    /// GENURLAUTH (RFC 4467 §7.1) on a mailbox without an access key: it gets one (a
    /// mailbox that has one keeps it). The key is made where the write runs, never
    /// carried by the write.
    MakeAccessKey {
        /// The owning account.
        account: Guid,
        /// The mailbox (of that account) the key will sign URLs of.
        mailbox: Guid,
    },
    /// RESETKEY (RFC 4467 §7.2): new access keys, so every URL signed with the old ones
    /// stops working.
    ResetAccessKeys {
        /// The owning account.
        account: Guid,
        /// The mailbox (of that account) whose key is replaced (made if it had none);
        /// `None`: every key of the account.
        mailbox: Option<Guid>,
    },
}

/// Which messages a write acts on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Targets {
    /// UIDs as this store numbers them. Only valid where the write was made: the forwarding
    /// twin pins them to GUIDs first (see [`Store::pin`]).
    Uids(UidSet),
    /// What the client saw: each UID with the message's GUID.
    Seen(Vec<(u32, Guid)>),
}

/// A write with its request id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Chosen once where the write begins, kept across resends and reconnects: the home
    /// records it with the outcome, so the command is done once. Derived from the content
    /// where a client's retry of the same thing must be recognised (deliveries, APPEND).
    pub id: Guid,
    /// What to do.
    pub write: Write,
}

/// What a write did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "r", rename_all = "snake_case")]
pub enum Outcome {
    /// Where an added message landed, one per mailbox.
    Placed {
        /// In the order of the write's mailboxes.
        placed: Vec<Placed>,
    },
    /// What a STORE changed.
    Flags {
        /// The changed messages and the new MODSEQ.
        stored: FlagsStored,
    },
    /// The UIDs an expunge removed, ascending.
    Expunged {
        /// The UIDs.
        uids: Vec<u32>,
    },
    /// What a COPY or MOVE placed.
    Copied {
        /// Source and new UIDs.
        copied: Copied,
    },
    /// The GUID of a mailbox CREATE made.
    Created {
        /// The new mailbox's GUID.
        mailbox: Guid,
    },
    /// Done; nothing to report.
    Done,
}

/// The class of a failed write, as it crosses the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// [`StoreError::NotFound`].
    NotFound,
    /// [`StoreError::AlreadyExists`].
    AlreadyExists,
    /// [`StoreError::Invalid`].
    Invalid,
    /// [`StoreError::NotAllowed`].
    NotAllowed,
    /// [`StoreError::OverQuota`].
    OverQuota,
    /// [`StoreError::Conflict`].
    Conflict,
    /// Anything else: a temporary failure at the home twin.
    Unavailable,
}

/// A failed write, as it crosses the link: its class and a text fit for a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteError {
    /// The class, which decides the client's reply (NO, NO [OVERQUOTA], 4xx, ...).
    pub kind: ErrorKind,
    /// What went wrong, in words a client may read (no identifiers).
    pub message: String,
}

impl From<&StoreError> for WriteError {
    fn from(e: &StoreError) -> WriteError {
        let (kind, message) = match e {
            StoreError::NotFound(m) => (ErrorKind::NotFound, m.clone()),
            StoreError::AlreadyExists(m) => (ErrorKind::AlreadyExists, m.clone()),
            StoreError::Invalid(m) => (ErrorKind::Invalid, m.clone()),
            StoreError::NotAllowed(m) => (ErrorKind::NotAllowed, m.clone()),
            StoreError::OverQuota(m) => (ErrorKind::OverQuota, m.clone()),
            StoreError::Conflict(m) => (ErrorKind::Conflict, m.clone()),
            // The server's own failures are logged where they happen; the twin learns
            // only that it may try again.
            _ => (
                ErrorKind::Unavailable,
                "the home twin could not do it now".into(),
            ),
        };
        WriteError { kind, message }
    }
}

impl From<WriteError> for StoreError {
    fn from(e: WriteError) -> StoreError {
        match e.kind {
            ErrorKind::NotFound => StoreError::NotFound(e.message),
            ErrorKind::AlreadyExists => StoreError::AlreadyExists(e.message),
            ErrorKind::Invalid => StoreError::Invalid(e.message),
            ErrorKind::NotAllowed => StoreError::NotAllowed(e.message),
            ErrorKind::OverQuota => StoreError::OverQuota(e.message),
            ErrorKind::Conflict => StoreError::Conflict(e.message),
            ErrorKind::Unavailable => StoreError::Unavailable(e.message),
        }
    }
}

impl Outcome {
    fn unexpected(self) -> StoreError {
        StoreError::Corrupt(format!("a write answered with the wrong outcome: {self:?}"))
    }

    /// The placements of an `Add`.
    pub fn placed(self) -> Result<Vec<Placed>, StoreError> {
        match self {
            Outcome::Placed { placed } => Ok(placed),
            o => Err(o.unexpected()),
        }
    }

    /// The result of a `StoreFlags`.
    pub fn flags(self) -> Result<FlagsStored, StoreError> {
        match self {
            Outcome::Flags { stored } => Ok(stored),
            o => Err(o.unexpected()),
        }
    }

    /// The UIDs of an `Expunge`.
    pub fn expunged(self) -> Result<Vec<u32>, StoreError> {
        match self {
            Outcome::Expunged { uids } => Ok(uids),
            o => Err(o.unexpected()),
        }
    }

    /// The result of a `Copy`.
    pub fn copied(self) -> Result<Copied, StoreError> {
        match self {
            Outcome::Copied { copied } => Ok(copied),
            o => Err(o.unexpected()),
        }
    }

    /// The new mailbox of a `CreateMailbox`.
    pub fn created(self) -> Result<Guid, StoreError> {
        match self {
            Outcome::Created { mailbox } => Ok(mailbox),
            o => Err(o.unexpected()),
        }
    }

    /// Any outcome of a write that reports nothing.
    pub fn done(self) -> Result<(), StoreError> {
        match self {
            Outcome::Done => Ok(()),
            o => Err(o.unexpected()),
        }
    }
}

/// Most messages one forwarded command names, so that neither it nor its answer comes
/// near the mirror's frame limit (about 40 bytes a message each way).
pub(crate) const MESSAGES_PER_COMMAND: usize = 5_000;

impl Command {
    /// This command as several of at most `max` messages each (a STORE, EXPUNGE or COPY
    /// over a whole large mailbox), each with an id derived from this one's, so a resend
    /// of the whole is still done once. Other commands stay whole.
    pub(crate) fn split(self, max: usize) -> Vec<Command> {
        let max = max.max(1);
        let seen = match &self.write {
            Write::StoreFlags {
                messages: Targets::Seen(seen),
                ..
            }
            | Write::Copy {
                messages: Targets::Seen(seen),
                ..
            }
            | Write::Expunge {
                messages: Some(Targets::Seen(seen)),
                ..
            } if seen.len() > max => seen.clone(),
            _ => return vec![self],
        };
        seen.chunks(max)
            .enumerate()
            .map(|(i, part)| {
                let mut write = self.write.clone();
                match &mut write {
                    Write::StoreFlags { messages, .. } | Write::Copy { messages, .. } => {
                        *messages = Targets::Seen(part.to_vec());
                    }
                    Write::Expunge { messages, .. } => {
                        *messages = Some(Targets::Seen(part.to_vec()));
                    }
                    _ => {}
                }
                Command {
                    id: request_id(&[b"part", &self.id.0, &(i as u64).to_be_bytes()]),
                    write,
                }
            })
            .collect()
    }
}

impl Outcome {
    /// The outcomes of a split command's parts as one, as if it had run whole.
    pub(crate) fn merge(parts: Vec<Outcome>) -> Result<Outcome, StoreError> {
        let mut parts = parts.into_iter();
        let Some(mut whole) = parts.next() else {
            return Err(StoreError::Corrupt("a split write had no parts".into()));
        };
        for part in parts {
            match (&mut whole, part) {
                (Outcome::Flags { stored }, Outcome::Flags { stored: more }) => {
                    stored.changed.extend(more.changed);
                    stored.modified.extend(more.modified);
                    stored.modseq = stored.modseq.max(more.modseq);
                }
                (Outcome::Expunged { uids }, Outcome::Expunged { uids: more }) => {
                    uids.extend(more);
                }
                (Outcome::Copied { copied }, Outcome::Copied { copied: more }) => {
                    copied.uids.extend(more.uids);
                }
                (_, other) => return Err(other.unexpected()),
            }
        }
        Ok(whole)
    }
}

/// A command with a fresh random id: a write whose retry by a client is harmless or must
/// not be taken for the first (STORE, EXPUNGE, COPY, folder changes). Resends after a
/// reconnect still carry this id, so the home does it once.
pub(crate) fn command(write: Write) -> Command {
    Command {
        id: Guid::random(),
        write,
    }
}

/// A request id derived from what the write is, so that the same write begun again (a
/// client's retry) has the same id: SHA-256 over the parts, each length-prefixed.
pub fn request_id(parts: &[&[u8]]) -> Guid {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let d = h.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&d[..16]);
    Guid(id)
}

/// The home twin of an account among twins `a` and `b`: the admin's choice when it names
/// one of them, else spread by the account's GUID. Both twins compute the same answer.
pub fn home_twin<'a>(a: &'a str, b: &'a str, account: &Guid, chosen: Option<&str>) -> &'a str {
    if let Some(c) = chosen {
        if c == a {
            return a;
        }
        if c == b {
            return b;
        }
    }
    let (first, second) = if a < b { (a, b) } else { (b, a) };
    if account.0[0].is_multiple_of(2) {
        first
    } else {
        second
    }
}

/// Where a write goes, as the twin's router decides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// This store carries it out (the account is homed here, or the twin is taken for down).
    Local,
    /// The account's home twin carries it out.
    Forward,
}

/// A boxed future, for the object-safe [`Forwarder`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The twin's router, installed by the mirror: the store knows nothing of links.
pub trait Forwarder: Send + Sync + 'static {
    /// Where the writes of `account` (homed on `home` if the admin chose, else spread)
    /// go now. For an account homed here it first waits (bounded) until this twin has
    /// applied everything its twin logged, so no UID is handed out twice.
    fn route<'a>(
        &'a self,
        account: &'a Guid,
        home: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Route, StoreError>>;
    /// Waits (bounded) until this twin holds everything its twin logged before the link
    /// came up — a new or rebuilt twin's snapshot included — or the twin is taken for
    /// down. Fails with `Unavailable` when the wait runs out.
    fn ready(&self) -> BoxFuture<'_, Result<(), StoreError>>;
    /// True once this database has completed a sync from its twin (a new or rebuilt twin,
    /// or one after `mirror resync`, is not: it may lack accounts its twin has).
    fn synced(&self) -> bool;
    /// Sync mode: resolves once the twin has durably stored this twin's log up to `seq`
    /// (at once in async mode, or after the sync timeout).
    fn replicate(&self, seq: i64) -> BoxFuture<'static, ()>;
    /// Sends a command to the home twin; resolves once its outcome has been applied here.
    /// [`StoreError::TwinDown`]: the twin was given up on before the command was sent, so
    /// this twin does it itself. [`StoreError::Unavailable`]: it was sent and no answer
    /// came; the caller answers its client with a temporary failure (the client's retry
    /// carries the same id where it matters).
    fn forward(
        &self,
        command: Command,
        bytes: Option<Arc<Vec<u8>>>,
    ) -> BoxFuture<'static, Result<Outcome, StoreError>>;
}

/// The account and home a write belongs to, read with the mailbox it names.
pub(crate) struct Owner {
    /// The account's GUID.
    pub account: Guid,
    /// The admin's choice of home twin, if any.
    pub home: Option<String>,
}

impl Store {
    /// Installs the home-twin router (the mirror does, on a twin).
    pub fn set_forwarder(&self, f: Arc<dyn Forwarder>) {
        let _ = self.forwarder_cell().set(f);
    }

    /// Carries out a command here, once: a command whose id is recorded returns its first
    /// outcome. `bytes` are the message of an `Add`.
    pub async fn write(
        &self,
        command: Command,
        bytes: Option<Arc<Vec<u8>>>,
    ) -> Result<Outcome, StoreError> {
        let body = match (&command.write, bytes) {
            (Write::Add { blob, .. }, Some(bytes)) => {
                let body = crate::store::shared_body(bytes);
                if body.hash != *blob {
                    return Err(StoreError::Invalid("message bytes do not match".into()));
                }
                Some(body)
            }
            (Write::Add { .. }, None) => {
                return Err(StoreError::Invalid("no message bytes".into()));
            }
            _ => None,
        };
        self.submit(Recorded { command, body }).await
    }

    /// Carries out a command the twin forwarded (this twin is the account's home): as
    /// [`write`](Store::write), but bare UIDs are refused (they mean nothing here).
    pub async fn execute(
        &self,
        command: Command,
        bytes: Option<Arc<Vec<u8>>>,
    ) -> Result<Outcome, StoreError> {
        let bare = match &command.write {
            Write::StoreFlags { messages, .. } | Write::Copy { messages, .. } => {
                matches!(messages, Targets::Uids(_))
            }
            Write::Expunge { messages, .. } => matches!(messages, Some(Targets::Uids(_))),
            _ => false,
        };
        if bare {
            return Err(StoreError::Invalid(
                "a forwarded write must name messages by UID and GUID".into(),
            ));
        }
        self.write(command, bytes).await
    }

    /// Routes a command: to the home twin while the account is homed there and the twin is
    /// reachable (bare UIDs pinned to GUIDs first), else here. `sync`: in sync mode, a
    /// local add answers only once the twin has stored it.
    pub(crate) async fn dispatch(
        &self,
        owner: &Owner,
        command: Command,
        bytes: Option<Arc<Vec<u8>>>,
    ) -> Result<Outcome, StoreError> {
        let route = self.route(owner).await?;
        self.send(route, command, bytes).await
    }

    /// Where an account's writes go now (always here without a twin).
    pub(crate) async fn route(&self, owner: &Owner) -> Result<Route, StoreError> {
        match self.forwarder_cell().get() {
            Some(f) => f.route(&owner.account, owner.home.as_deref()).await,
            None => Ok(Route::Local),
        }
    }

    /// Carries a command out where `route` says: forwarded (done here after all if the
    /// twin was given up on before it was sent), or here.
    pub(crate) async fn send(
        &self,
        route: Route,
        command: Command,
        bytes: Option<Arc<Vec<u8>>>,
    ) -> Result<Outcome, StoreError> {
        let Some(f) = self.forwarder_cell().get().cloned() else {
            return self.write(command, bytes).await;
        };
        if route == Route::Forward {
            let parts = self.pin(command.clone()).await?.split(MESSAGES_PER_COMMAND);
            let mut done = Vec::with_capacity(parts.len());
            for part in parts {
                match f.forward(part, bytes.clone()).await {
                    Ok(o) => done.push(o),
                    // The twin was given up on before anything was sent: done here.
                    Err(StoreError::TwinDown) if done.is_empty() => break,
                    Err(StoreError::TwinDown) => {
                        return Err(StoreError::Unavailable(
                            "the home twin was lost part-way through a large write".into(),
                        ));
                    }
                    Err(e) => return Err(e),
                }
            }
            if !done.is_empty() {
                return Outcome::merge(done);
            }
        }
        let is_add = matches!(command.write, Write::Add { .. });
        let out = self.write(command, bytes).await?;
        if is_add {
            let seq = self.last_seq().await?;
            f.replicate(seq).await;
        }
        Ok(out)
    }

    /// Turns bare UIDs into the UID+GUID pairs the client saw here.
    pub(crate) async fn pin(&self, mut command: Command) -> Result<Command, StoreError> {
        let (mailbox, targets) = match &mut command.write {
            Write::StoreFlags {
                mailbox, messages, ..
            } => (*mailbox, messages),
            Write::Copy { from, messages, .. } => (*from, messages),
            Write::Expunge {
                mailbox,
                messages: Some(messages),
                ..
            } => (*mailbox, messages),
            _ => return Ok(command),
        };
        if let Targets::Uids(uids) = targets {
            let id = self
                .mailbox_by_guid(&mailbox)
                .await?
                .ok_or_else(|| StoreError::NotFound("mailbox".into()))?
                .id;
            let seen = self.messages_in(id, uids).await?;
            *targets = Targets::Seen(seen.into_iter().map(|m| (m.uid, m.guid)).collect());
        }
        Ok(command)
    }

    /// The account (and its chosen home) owning a local mailbox, with the mailbox's GUID.
    pub(crate) async fn owner_of_mailbox(
        &self,
        mailbox_id: i64,
    ) -> Result<(Owner, Guid), StoreError> {
        let (account, home, mailbox): (Vec<u8>, Option<String>, Vec<u8>) = sqlx::query_as(
            "SELECT a.guid, a.home, m.guid FROM mailboxes m JOIN accounts a ON a.id = m.account_id WHERE m.id = $1",
        )
        .bind(mailbox_id)
        .fetch_optional(self.db())
        .await?
        .ok_or_else(|| StoreError::NotFound("mailbox".into()))?;
        Ok((
            Owner {
                account: Guid::from_slice(&account)?,
                home,
            },
            Guid::from_slice(&mailbox)?,
        ))
    }

    /// The account (and its chosen home) by local id.
    pub(crate) async fn owner_of_account(&self, account_id: i64) -> Result<Owner, StoreError> {
        let (account, home): (Vec<u8>, Option<String>) =
            sqlx::query_as("SELECT guid, home FROM accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(self.db())
                .await?
                .ok_or_else(|| StoreError::NotFound("account".into()))?;
        Ok(Owner {
            account: Guid::from_slice(&account)?,
            home,
        })
    }

    /// The newest sequence number in this twin's log: once the twin has applied up to
    /// here, it holds the result of everything this twin committed so far.
    pub async fn last_seq(&self) -> Result<i64, StoreError> {
        crate::mirror::last_seq(self.db()).await
    }

    /// Forgets request ids older than [`REQUEST_MEMORY_SECS`].
    pub async fn trim_requests(&self) -> Result<u64, StoreError> {
        self.submit(TrimRequests).await
    }
}

/// A command carried out on the writer, with its id recorded in the same transaction.
struct Recorded {
    command: Command,
    /// The message of an `Add`, hashed.
    body: Option<Body>,
}

impl Op for Recorded {
    type Output = Outcome;
    /// A delivery into one mailbox runs without a savepoint, as its add alone would: its
    /// partial effects are harmless (see `AddMessage`), and the record is its last statement.
    fn needs_savepoint(&self) -> bool {
        !matches!(&self.command.write, Write::Add { mailboxes, .. } if mailboxes.len() == 1)
    }
    async fn apply(self, ctx: &mut WriteCtx) -> Result<Outcome, StoreError> {
        let id = self.command.id;
        // One round trip for the common case, a delivery or APPEND into one mailbox: the
        // first outcome, if any, and the mailbox's local id.
        let one = match &self.command.write {
            Write::Add { mailboxes, .. } if mailboxes.len() == 1 => Some(mailboxes[0]),
            _ => None,
        };
        let (first, one_id): (Option<String>, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT outcome FROM requests WHERE id = $1), \
             (SELECT id FROM mailboxes WHERE guid = $2)",
        )
        .bind(&id.0[..])
        .bind(one.map(|g| g.0.to_vec()))
        .fetch_one(&mut ctx.conn)
        .await?;
        if let Some(first) = first {
            return serde_json::from_str(&first)
                .map_err(|e| StoreError::Corrupt(format!("a recorded outcome: {e}")));
        }
        let known = one.zip(one_id);
        let outcome = run(ctx, self.command.write, self.body, known).await?;
        let recorded = serde_json::to_string(&outcome)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode an outcome: {e}")))?;
        sqlx::query("INSERT INTO requests (id, outcome, created_at) VALUES ($1, $2, $3)")
            .bind(&id.0[..])
            .bind(recorded)
            .bind(now_unix())
            .execute(&mut ctx.conn)
            .await?;
        Ok(outcome)
    }
}

/// Carries out one write inside the writer's transaction; `known` is a mailbox whose local
/// id was read already.
async fn run(
    ctx: &mut WriteCtx,
    write: Write,
    body: Option<Body>,
    known: Option<(Guid, i64)>,
) -> Result<Outcome, StoreError> {
    Ok(match write {
        Write::Add {
            mailboxes,
            flags,
            internal_date,
            ..
        } => {
            let body = body.ok_or_else(|| StoreError::Invalid("no message bytes".into()))?;
            let mut ids = Vec::with_capacity(mailboxes.len());
            for m in &mailboxes {
                ids.push(match known {
                    Some((g, id)) if g == *m => id,
                    _ => mailbox_id(ctx, m).await?,
                });
            }
            let op = AddMessage {
                mailboxes: ids,
                body,
                flags,
                internal_date,
            };
            Outcome::Placed {
                placed: op.apply(ctx).await?,
            }
        }
        Write::StoreFlags {
            mailbox,
            messages,
            mode,
            flags,
            unchanged_since,
        } => {
            let mailbox_id = mailbox_id(ctx, &mailbox).await?;
            let uids = resolve(ctx, mailbox_id, messages).await?;
            let op = StoreFlags {
                mailbox_id,
                uids,
                mode,
                flags,
                unchanged_since,
            };
            Outcome::Flags {
                stored: op.apply(ctx).await?,
            }
        }
        Write::Expunge {
            mailbox,
            messages,
            only_deleted,
        } => {
            let mailbox_id = mailbox_id(ctx, &mailbox).await?;
            let uids = match messages {
                Some(t) => Some(resolve(ctx, mailbox_id, t).await?),
                None => None,
            };
            let op = Expunge {
                mailbox_id,
                uids,
                only_deleted,
            };
            Outcome::Expunged {
                uids: op.apply(ctx).await?,
            }
        }
        Write::Copy {
            from,
            messages,
            to,
            remove,
        } => {
            let from = mailbox_id(ctx, &from).await?;
            let to = mailbox_id(ctx, &to).await?;
            let uids = resolve(ctx, from, messages).await?;
            let op = CopyMessages {
                from,
                uids,
                to,
                remove,
            };
            Outcome::Copied {
                copied: op.apply(ctx).await?,
            }
        }
        Write::CreateMailbox { account, name } => {
            let account_id = account_id(ctx, &account).await?;
            let m = CreateMailbox { account_id, name }.apply(ctx).await?;
            Outcome::Created { mailbox: m.guid }
        }
        Write::RenameMailbox { account, from, to } => {
            let account_id = account_id(ctx, &account).await?;
            RenameMailbox {
                account_id,
                from,
                to,
            }
            .apply(ctx)
            .await?;
            Outcome::Done
        }
        Write::DeleteMailbox { account, name } => {
            let account_id = account_id(ctx, &account).await?;
            DeleteMailbox { account_id, name }.apply(ctx).await?;
            Outcome::Done
        }
        Write::Subscribe {
            account,
            name,
            subscribed,
        } => {
            let account_id = account_id(ctx, &account).await?;
            SetSubscribed {
                account_id,
                name,
                subscribed,
            }
            .apply(ctx)
            .await?;
            Outcome::Done
        }
        Write::SetMetadata {
            account,
            mailbox,
            entries,
        } => {
            let account_id = account_id(ctx, &account).await?;
            crate::ops::metadata::SetMetadata {
                account_id,
                mailbox,
                entries,
            }
            .apply(ctx)
            .await?;
            Outcome::Done
        }
        Write::MakeAccessKey { account, mailbox } => {
            let account_id = account_id(ctx, &account).await?;
            crate::ops::access_key::MakeAccessKey {
                account_id,
                mailbox,
            }
            .apply(ctx)
            .await?;
            Outcome::Done
        }
        Write::ResetAccessKeys { account, mailbox } => {
            let account_id = account_id(ctx, &account).await?;
            crate::ops::access_key::ResetAccessKeys {
                account_id,
                mailbox,
            }
            .apply(ctx)
            .await?;
            Outcome::Done
        }
    })
}

async fn mailbox_id(ctx: &mut WriteCtx, guid: &Guid) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT id FROM mailboxes WHERE guid = $1")
        .bind(&guid.0[..])
        .fetch_optional(&mut ctx.conn)
        .await?
        .ok_or_else(|| StoreError::NotFound("mailbox".into()))
}

async fn account_id(ctx: &mut WriteCtx, guid: &Guid) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT id FROM accounts WHERE guid = $1")
        .bind(&guid.0[..])
        .fetch_optional(&mut ctx.conn)
        .await?
        .ok_or_else(|| StoreError::NotFound("account".into()))
}

/// The UIDs a write acts on: bare UIDs as they are; seen pairs checked against this
/// mailbox (a message the split merge renumbered is found at its new UID; a UID holding
/// another message refuses the write; a message gone is passed over).
async fn resolve(
    ctx: &mut WriteCtx,
    mailbox_id: i64,
    targets: Targets,
) -> Result<UidSet, StoreError> {
    let seen = match targets {
        Targets::Uids(uids) => return Ok(uids),
        Targets::Seen(seen) => seen,
    };
    let asked = UidSet::from_uids(seen.iter().map(|s| s.0));
    let here: HashMap<u32, Guid> = asked
        .load(&mut ctx.conn, mailbox_id)
        .await?
        .into_iter()
        .map(|m| (m.uid, m.guid))
        .collect();
    let mut act = Vec::with_capacity(seen.len());
    for (uid, guid) in seen {
        if here.get(&uid) == Some(&guid) {
            act.push(uid);
            continue;
        }
        let moved: Option<i64> =
            sqlx::query_scalar("SELECT uid FROM messages WHERE mailbox_id = $1 AND guid = $2")
                .bind(mailbox_id)
                .bind(&guid.0[..])
                .fetch_optional(&mut ctx.conn)
                .await?;
        match (moved, here.contains_key(&uid)) {
            (Some(now), _) => act.push(now as u32),
            (None, true) => {
                return Err(StoreError::Conflict(
                    "the mailbox differs between the twins; nothing was changed".into(),
                ));
            }
            (None, false) => {}
        }
    }
    Ok(UidSet::from_uids(act))
}

/// Forgets old request ids.
struct TrimRequests;

impl Op for TrimRequests {
    type Output = u64;
    fn needs_savepoint(&self) -> bool {
        false
    }
    async fn apply(self, ctx: &mut WriteCtx) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM requests WHERE created_at < $1")
            .bind(now_unix() - REQUEST_MEMORY_SECS)
            .execute(&mut ctx.conn)
            .await?
            .rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_write_splits_into_parts_whose_outcomes_merge_back() {
        let seen: Vec<(u32, Guid)> = (1..=12_001).map(|u| (u, Guid::random())).collect();
        let whole = Command {
            id: Guid::random(),
            write: Write::Expunge {
                mailbox: Guid::random(),
                messages: Some(Targets::Seen(seen.clone())),
                only_deleted: true,
            },
        };
        let parts = whole.clone().split(5_000);
        assert_eq!(parts.len(), 3);
        let mut named = Vec::new();
        for p in &parts {
            assert_ne!(p.id, whole.id);
            let Write::Expunge {
                messages: Some(Targets::Seen(s)),
                ..
            } = &p.write
            else {
                panic!("a part of an expunge is an expunge");
            };
            assert!(s.len() <= 5_000);
            named.extend(s.iter().copied());
            let size = serde_json::to_vec(p).unwrap().len();
            assert!(size < 1024 * 1024, "a part of {size} bytes");
        }
        assert_eq!(named, seen);
        // The same command split again gives the same ids: a resend is done once.
        let again: Vec<Guid> = whole.clone().split(5_000).iter().map(|p| p.id).collect();
        assert_eq!(again, parts.iter().map(|p| p.id).collect::<Vec<_>>());
        let merged = Outcome::merge(vec![
            Outcome::Expunged { uids: vec![1, 2] },
            Outcome::Expunged { uids: vec![5_001] },
        ])
        .unwrap();
        assert_eq!(
            merged,
            Outcome::Expunged {
                uids: vec![1, 2, 5_001]
            }
        );
        // A small command stays whole.
        let small = Command {
            id: Guid::random(),
            write: Write::CreateMailbox {
                account: Guid::random(),
                name: "x".into(),
            },
        };
        assert_eq!(small.clone().split(5_000), vec![small]);
    }
}

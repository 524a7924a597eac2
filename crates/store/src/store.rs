//! The [`Store`]: the only door to the database. Reads go to a pool of connections;
//! every write goes through the single writer (see `writer.rs`), is logged in the same
//! transaction, and is published on the change stream after commit.

use std::{path::PathBuf, str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    Connection, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use tokio::sync::broadcast;

use crate::{
    Change, ChangeEvent, StoreError, names,
    ops::{
        access_key::AccessKey,
        account::{CreateAccount, DeleteAccount, SetDisabled, SetHome, SetPassword, SetQuota},
        domain::{AddAlias, AddDomain, DeleteAlias, DeleteDomain},
        message::{Body, Copied, FlagsStored},
        remote::{Applied, RemoteChange},
    },
    password::{HashCost, Hasher},
    rows::{self, MessageRow},
    types::{
        Account, BlobHash, FlagMode, Flags, Guid, Mailbox, MailboxCounts, Message, Placed, Quota,
        Role, now_unix,
    },
    uidset::UidSet,
    write::{Command, Forwarder, Owner, Route, Targets, Write, command, request_id},
    writer::{Op, Writer},
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How to open a store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// The SQLite database file; created with its schema on first start.
    pub path: PathBuf,
    /// This node's id: the origin of every change logged here. A database remembers the
    /// node it belongs to and refuses to open under another id.
    pub node: String,
    /// argon2id parameters for new password hashes.
    pub hash_cost: HashCost,
    /// Most password hashes computed at once.
    pub max_concurrent_hashes: usize,
    /// Connections in the read pool.
    pub read_connections: u32,
    /// How long tombstones of expunged messages are kept (seconds): longer than any split
    /// the pair should merge; a longer one is reported instead of merged.
    pub tombstone_secs: i64,
}

impl StoreOptions {
    /// Options with production defaults for a database at `path` owned by `node`.
    pub fn new(path: impl Into<PathBuf>, node: impl Into<String>) -> StoreOptions {
        StoreOptions {
            path: path.into(),
            node: node.into(),
            hash_cost: HashCost::default(),
            max_concurrent_hashes: 4,
            read_connections: 8,
            tombstone_secs: 30 * 86_400,
        }
    }
}

/// A handle to the store; cheap to clone, shared by every session.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// This node's id.
    node: Arc<str>,
    /// This database's incarnation (random, made with the database).
    incarnation: String,
    /// Connections for readers.
    read: SqlitePool,
    /// The single writer.
    writer: Writer,
    /// The change stream, published after each commit.
    stream: broadcast::Sender<Arc<ChangeEvent>>,
    /// Password hashing with its concurrency cap.
    hasher: Hasher,
    /// Routes writes of accounts homed on the twin there (set by the mirror).
    forwarder: std::sync::OnceLock<Arc<dyn Forwarder>>,
    /// APPENDs whose client heard a temporary failure while the home twin may have done
    /// them: content key -> (the command's id, when). The client's retry of the same
    /// content reuses the id and gets the first copy; any other APPEND gets a fresh id,
    /// so a message appended twice on purpose is stored twice.
    in_doubt: std::sync::Mutex<std::collections::HashMap<Guid, (Guid, std::time::Instant)>>,
    /// Set when applying the twin's log left work for the home's merge (held messages,
    /// split-time changes); true at start, for what an earlier run left.
    merge_due: std::sync::atomic::AtomicBool,
    /// How long tombstones are kept (seconds).
    tombstone_secs: i64,
    /// Per account, how many changes that end its sessions were published (a session
    /// notes the count at login and ends when it moves); `lagged` counts the times the
    /// watcher fell behind the stream (then every session re-checks).
    session_ends: std::sync::Mutex<std::collections::HashMap<Guid, u64>>,
    /// See `session_ends`.
    lagged: std::sync::atomic::AtomicU64,
}

/// How long an APPEND in doubt is remembered for its client's retry.
const IN_DOUBT_MEMORY: Duration = Duration::from_secs(600);

/// A mailbox as a write target.
struct Target {
    /// The owning account's local id.
    account_id: i64,
    /// Its storage limit in bytes, if any.
    limit: Option<u64>,
    /// The account as routing knows it.
    owner: Owner,
    /// The mailbox's GUID.
    mailbox: Guid,
}

/// Changes buffered per slow subscriber before it lags and must resynchronise.
const STREAM_CAPACITY: usize = 8192;

impl Store {
    /// Opens (creating on first start) the store, runs migrations, starts the writer.
    pub async fn open(opts: StoreOptions) -> Result<Store, StoreError> {
        if opts.node.is_empty() || opts.node.len() > 64 {
            return Err(StoreError::Invalid(
                "node id must be 1 to 64 characters".into(),
            ));
        }
        if let Some(dir) = opts.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Invalid(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let connect = SqliteConnectOptions::from_str("sqlite://")?
            .filename(&opts.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: the WAL is fsynced at every commit, so a commit is on disk before the
            // caller hears OK (250 / APPEND OK). NORMAL would lose the last commits on power loss.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let mut conn = sqlx::SqliteConnection::connect_with(&connect).await?;
        // Two processes opening a new database at once (the server and an admin command)
        // race to create the schema; the loser finds it made and retries.
        let mut tries = 0;
        while let Err(e) = MIGRATOR.run(&mut conn).await {
            tries += 1;
            if tries == 5 {
                return Err(e.into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let incarnation = claim_node(&mut conn, &opts.node).await?;
        // No ping before each use: an embedded database's connections do not go stale,
        // and the ping was a second round trip to SQLite's worker thread for every read.
        let read = SqlitePoolOptions::new()
            .max_connections(opts.read_connections.max(1))
            .test_before_acquire(false)
            .connect_with(connect)
            .await?;
        let node: Arc<str> = Arc::from(opts.node.as_str());
        let (stream, _) = broadcast::channel(STREAM_CAPACITY);
        let writer = Writer::start(conn, node.clone(), stream.clone()).await?;
        let hasher = Hasher::new(opts.hash_cost, opts.max_concurrent_hashes).await?;
        let store = Store {
            inner: Arc::new(Inner {
                node,
                incarnation,
                read,
                writer,
                stream,
                hasher,
                forwarder: std::sync::OnceLock::new(),
                in_doubt: Default::default(),
                merge_due: std::sync::atomic::AtomicBool::new(true),
                tombstone_secs: opts.tombstone_secs,
                session_ends: Default::default(),
                lagged: Default::default(),
            }),
        };
        store.forget_old_requests();
        store.watch_session_ends();
        Ok(store)
    }

    /// Counts, per account, the published changes that end its sessions.
    fn watch_session_ends(&self) {
        let weak = Arc::downgrade(&self.inner);
        let mut rx = self.subscribe();
        tokio::spawn(async move {
            loop {
                let ev = rx.recv().await;
                let Some(inner) = weak.upgrade() else { return };
                match ev {
                    Ok(ev) => {
                        if let Some(account) = ev.change.ends_sessions_of() {
                            *inner
                                .session_ends
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .entry(*account)
                                .or_default() += 1;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        inner
                            .lagged
                            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// A mark that moves when `account` is disabled, deleted or gets a new password
    /// (here or on the twin): a session notes it at login and ends when it differs.
    pub fn session_mark(&self, account: &Guid) -> (u64, u64) {
        (
            self.inner.lagged.load(std::sync::atomic::Ordering::SeqCst),
            self.inner
                .session_ends
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(account)
                .copied()
                .unwrap_or(0),
        )
    }

    /// Forgets request ids past their memory now and every hour, for as long as the
    /// store is open (the task holds no reference that would keep it open).
    fn forget_old_requests(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let store = Store { inner };
                if let Err(e) = store.trim_requests().await {
                    tracing::warn!(error = %e, "cannot forget old request ids");
                }
                if let Err(e) = store.housekeep(crate::types::now_unix()).await {
                    tracing::warn!(error = %e, "housekeeping failed");
                }
                drop(store);
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        });
    }

    /// Expires tombstones older than the keeping period and removes message bytes nothing
    /// has referenced for an hour, as of `now` (Unix seconds; run hourly by the store).
    pub async fn housekeep(&self, now: i64) -> Result<crate::Housekept, StoreError> {
        self.submit(crate::ops::housekeep::Housekeep {
            tombstone_secs: self.inner.tombstone_secs,
            now,
        })
        .await
    }

    /// Message bodies stored and their bytes (each body once, however many copies).
    pub async fn blob_use(&self) -> Result<(u64, u64), StoreError> {
        let (n, bytes): (i64, i64) =
            sqlx::query_as("SELECT count(*), coalesce(sum(size), 0) FROM blobs")
                .fetch_one(self.db())
                .await?;
        Ok((n as u64, bytes as u64))
    }

    /// How long tombstones are kept (seconds).
    pub fn tombstone_secs(&self) -> i64 {
        self.inner.tombstone_secs
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// Subscribes to the change stream: every committed change, local or applied from the
    /// twin, in commit order. A receiver that falls behind gets `Lagged` and must re-read.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ChangeEvent>> {
        self.inner.stream.subscribe()
    }

    pub(crate) fn db(&self) -> &SqlitePool {
        &self.inner.read
    }

    /// The single writer.
    pub(crate) fn writer(&self) -> &Writer {
        &self.inner.writer
    }

    pub(crate) fn forwarder_cell(&self) -> &std::sync::OnceLock<Arc<dyn Forwarder>> {
        &self.inner.forwarder
    }

    pub(crate) fn merge_due(&self) -> &std::sync::atomic::AtomicBool {
        &self.inner.merge_due
    }

    pub(crate) fn incarnation_str(&self) -> &str {
        &self.inner.incarnation
    }

    /// Runs an op on the writer.
    pub(crate) async fn submit<O: Op>(&self, op: O) -> Result<O::Output, StoreError> {
        self.inner.writer.submit(op).await
    }

    // ----- domains and aliases -----

    /// Makes a domain local.
    pub async fn add_domain(&self, domain: &str) -> Result<(), StoreError> {
        let domain = names::domain(domain)?;
        self.inner.writer.submit(AddDomain { domain }).await
    }

    /// Removes a local domain (refused while it has accounts or aliases).
    pub async fn delete_domain(&self, domain: &str) -> Result<(), StoreError> {
        let domain = names::domain(domain)?;
        self.inner.writer.submit(DeleteDomain { domain }).await
    }

    /// The local domains, sorted.
    pub async fn domains(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT name FROM domains ORDER BY name")
            .fetch_all(self.db())
            .await?)
    }

    /// True when mail for `domain` is ours.
    pub async fn is_local_domain(&self, domain: &str) -> Result<bool, StoreError> {
        let Ok(domain) = names::domain(domain) else {
            return Ok(false);
        };
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM domains WHERE name = $1)")
                .bind(domain)
                .fetch_one(self.db())
                .await?,
        )
    }

    /// Adds an alias (`user@domain`, or `@domain` for a catch-all) delivering to `target`.
    pub async fn add_alias(&self, address: &str, target: &str) -> Result<(), StoreError> {
        let address = names::alias(address)?;
        let target = names::address(target)?;
        self.inner.writer.submit(AddAlias { address, target }).await
    }

    /// Removes one target of an alias.
    pub async fn delete_alias(&self, address: &str, target: &str) -> Result<(), StoreError> {
        let address = names::alias(address)?;
        let target = names::address(target)?;
        self.inner
            .writer
            .submit(DeleteAlias { address, target })
            .await
    }

    /// Every alias as (address, target), sorted.
    pub async fn aliases(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT address, target FROM aliases ORDER BY address, target")
                .fetch_all(self.db())
                .await?,
        )
    }

    /// The addresses (not catch-alls) that deliver to an account.
    pub async fn aliases_of(&self, account: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT address FROM aliases WHERE target = $1 AND address NOT LIKE '@%' ORDER BY address",
        )
        .bind(account)
        .fetch_all(self.db())
        .await?)
    }

    // ----- accounts -----

    /// Creates an account with the default folders.
    pub async fn create_account(&self, name: &str, password: &str) -> Result<Account, StoreError> {
        let name = names::address(name)?;
        check_password(password)?;
        let password_hash = self.inner.hasher.hash(password).await?;
        self.inner
            .writer
            .submit(CreateAccount {
                name,
                password_hash,
            })
            .await
    }

    /// Sets a new password.
    pub async fn set_password(&self, name: &str, password: &str) -> Result<(), StoreError> {
        let name = names::address(name)?;
        check_password(password)?;
        let password_hash = self.inner.hasher.hash(password).await?;
        self.inner
            .writer
            .submit(SetPassword {
                name,
                password_hash,
            })
            .await
    }

    /// Disables (or re-enables) an account: no login, no delivery; its mail stays.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> Result<(), StoreError> {
        let name = names::address(name)?;
        self.inner
            .writer
            .submit(SetDisabled { name, disabled })
            .await
    }

    /// Deletes an account with all its mail.
    pub async fn delete_account(&self, name: &str) -> Result<(), StoreError> {
        let name = names::address(name)?;
        self.inner.writer.submit(DeleteAccount { name }).await
    }

    /// Every account, sorted by name.
    pub async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows: Vec<rows::AccountRow> =
            sqlx::query_as("SELECT id, guid, name, disabled FROM accounts ORDER BY name")
                .fetch_all(self.db())
                .await?;
        rows::collect(rows)
    }

    /// An account by login name.
    pub async fn account(&self, name: &str) -> Result<Option<Account>, StoreError> {
        let Ok(name) = names::address(name) else {
            return Ok(None);
        };
        rows::account_by_name(self.db(), &name).await
    }

    /// Checks a login. `None` for a wrong password, an unknown or a disabled account,
    /// all taking the same time (an unknown name is checked against a decoy hash).
    pub async fn authenticate(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<Account>, StoreError> {
        let row: Option<(i64, Vec<u8>, String, bool, String)> =
            match names::address(name) {
                Ok(name) => sqlx::query_as(
                    "SELECT id, guid, name, disabled, password_hash FROM accounts WHERE name = $1",
                )
                .bind(name)
                .fetch_optional(self.db())
                .await?,
                Err(_) => None,
            };
        let ok = self
            .inner
            .hasher
            .verify(password, row.as_ref().map(|r| r.4.as_str()))
            .await;
        match row {
            Some((id, guid, name, false, _)) if ok => Ok(Some(Account {
                id,
                guid: Guid::from_slice(&guid)?,
                name,
                disabled: false,
            })),
            _ => Ok(None),
        }
    }

    /// An argon2id PHC string for `password` (for credentials kept outside the store,
    /// such as the admin page's), at this store's cost.
    pub async fn hash_password(&self, password: &str) -> Result<String, StoreError> {
        check_password(password)?;
        self.inner.hasher.hash(password).await
    }

    /// True when `password` matches the PHC string `phc` (with the concurrency cap).
    pub async fn verify_password(&self, password: &str, phc: &str) -> bool {
        self.inner.hasher.verify(password, Some(phc)).await
    }

    /// True when `account` may send as `address`: its own name, or an alias (not a
    /// catch-all) that delivers to it.
    pub async fn owns_address(&self, account: &Account, address: &str) -> Result<bool, StoreError> {
        let Ok(address) = names::address(address) else {
            return Ok(false);
        };
        if address == account.name {
            return Ok(true);
        }
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM aliases WHERE address = $1 AND target = $2)",
        )
        .bind(address)
        .bind(&account.name)
        .fetch_one(self.db())
        .await?)
    }

    /// The accounts mail to `address` goes to: the account itself, else the alias's
    /// targets, else the same without a `+tag`, else the domain's catch-all. Empty when
    /// nobody here takes it. The first of these that exists decides: a disabled account
    /// (or an alias whose targets are all disabled) takes nothing, and its mail does not
    /// fall through to the catch-all.
    pub async fn resolve_recipient(&self, address: &str) -> Result<Vec<Account>, StoreError> {
        Ok(self
            .resolve_inboxes(address)
            .await?
            .0
            .into_iter()
            .map(|r| r.account)
            .collect())
    }

    /// [`resolve_recipient`](Store::resolve_recipient) with each account's INBOX and home,
    /// so that a delivery needs no more reads at commit; and the addresses in other domains
    /// an alias forwards to (an alias with only those takes the mail too).
    async fn resolve_inboxes(
        &self,
        address: &str,
    ) -> Result<(Vec<Recipient>, Vec<String>), StoreError> {
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Ok((Vec::new(), Vec::new()));
        };
        let Ok(domain) = names::domain(domain) else {
            return Ok((Vec::new(), Vec::new()));
        };
        let local = local.to_ascii_lowercase();
        let mut candidates = vec![format!("{local}@{domain}")];
        if let Some((base, _tag)) = local.split_once('+') {
            candidates.push(format!("{base}@{domain}"));
        }
        candidates.push(format!("@{domain}"));
        for c in candidates {
            type Row = (i64, Vec<u8>, String, bool, Vec<u8>, Option<String>);
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT a.id, a.guid, a.name, a.disabled, m.guid, a.home FROM accounts a \
                 JOIN mailboxes m ON m.account_id = a.id AND m.role = 'inbox' \
                 WHERE a.name = $1 OR a.name IN (SELECT target FROM aliases WHERE address = $1) \
                 ORDER BY a.name",
            )
            .bind(&c)
            .fetch_all(self.db())
            .await?;
            // An account's own address is never an alias too (AddAlias refuses it): the
            // common delivery needs no second query.
            let foreign: Vec<String> = if rows.iter().any(|r| r.2 == c) {
                Vec::new()
            } else {
                sqlx::query_scalar(
                    "SELECT target FROM aliases WHERE address = $1 \
                     AND NOT EXISTS (SELECT 1 FROM accounts WHERE name = target) ORDER BY target",
                )
                .bind(&c)
                .fetch_all(self.db())
                .await?
            };
            if !rows.is_empty() || !foreign.is_empty() {
                let mut out = Vec::with_capacity(rows.len());
                for (id, guid, name, disabled, inbox, home) in rows {
                    if !disabled {
                        let account = Account {
                            id,
                            guid: Guid::from_slice(&guid)?,
                            name,
                            disabled,
                        };
                        out.push(Recipient {
                            account,
                            inbox: Guid::from_slice(&inbox)?,
                            home,
                        });
                    }
                }
                return Ok((out, foreign));
            }
        }
        Ok((Vec::new(), Vec::new()))
    }

    /// Starts an SMTP delivery: recipients are checked as they come (RCPT), and nothing is
    /// written until [`Delivery::commit`]. Dropping it aborts.
    pub fn delivery(&self) -> Delivery {
        Delivery {
            store: self.clone(),
            targets: Vec::new(),
            addresses: Vec::new(),
            forwards: Vec::new(),
            key: None,
        }
    }

    // ----- mailboxes -----

    /// Sets an account's home twin (`None`: spread by GUID, the default).
    pub async fn set_home(&self, name: &str, home: Option<&str>) -> Result<(), StoreError> {
        let name = names::address(name)?;
        self.submit(SetHome {
            name,
            home: home.map(str::to_string),
        })
        .await
    }

    /// Sets an account's storage limit in bytes (`None`: no limit). It mirrors; the use it
    /// is measured against is the sum of the account's message sizes.
    pub async fn set_quota(&self, name: &str, quota_bytes: Option<u64>) -> Result<(), StoreError> {
        let name = names::address(name)?;
        self.submit(SetQuota { name, quota_bytes }).await
    }

    /// An account's storage use and limit.
    pub async fn quota(&self, account_id: i64) -> Result<Quota, StoreError> {
        let limit_bytes = self.quota_limit(account_id).await?;
        self.usage(account_id, limit_bytes).await
    }

    /// An account's storage use, with the limit already read.
    async fn usage(&self, account_id: i64, limit_bytes: Option<u64>) -> Result<Quota, StoreError> {
        let (used, messages): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(m.size), 0), COUNT(*) FROM messages m \
             JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = $1",
        )
        .bind(account_id)
        .fetch_one(self.db())
        .await?;
        Ok(Quota {
            used_bytes: used.max(0) as u64,
            messages: messages.max(0) as u64,
            limit_bytes,
        })
    }

    /// An account's storage limit, if it has one.
    async fn quota_limit(&self, account_id: i64) -> Result<Option<u64>, StoreError> {
        let limit: Option<i64> =
            sqlx::query_scalar::<_, Option<i64>>("SELECT quota_bytes FROM accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(self.db())
                .await?
                .ok_or_else(|| StoreError::NotFound("account".into()))?;
        Ok(limit.map(|l| l.max(0) as u64))
    }

    /// Fails with `OverQuota` when adding `bytes` to the account would pass its limit.
    async fn check_quota(&self, account_id: i64, bytes: u64) -> Result<(), StoreError> {
        let limit = self.quota_limit(account_id).await?;
        self.check_room(account_id, limit, bytes).await
    }

    /// Fails with `OverQuota` when adding `bytes` would pass `limit`. Checked before a
    /// write is queued (the use is summed only when there is a limit), so two writes
    /// racing past the limit together may both land: a soft limit, as in most servers.
    async fn check_room(
        &self,
        account_id: i64,
        limit: Option<u64>,
        bytes: u64,
    ) -> Result<(), StoreError> {
        if limit.is_none() {
            return Ok(());
        }
        let q = self.usage(account_id, limit).await?;
        if q.exceeded_by(bytes) {
            return Err(StoreError::OverQuota(format!(
                "{} of {} bytes used",
                q.used_bytes,
                q.limit_bytes.unwrap_or(0)
            )));
        }
        Ok(())
    }

    /// An account's home twin, if the admin chose one.
    pub async fn home_of(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT home FROM accounts WHERE name = $1")
                .bind(name)
                .fetch_optional(self.db())
                .await?
                .flatten(),
        )
    }

    /// An account's mailboxes, sorted by name.
    pub async fn mailboxes(&self, account_id: i64) -> Result<Vec<Mailbox>, StoreError> {
        rows::mailboxes_of(self.db(), account_id).await
    }

    /// A mailbox by name (any case of INBOX); `None` for a name that cannot exist.
    pub async fn mailbox(
        &self,
        account_id: i64,
        name: &str,
    ) -> Result<Option<Mailbox>, StoreError> {
        let Ok(name) = names::mailbox(name) else {
            return Ok(None);
        };
        rows::mailbox_by_name(self.db(), account_id, &name).await
    }

    /// A mailbox by GUID.
    pub async fn mailbox_by_guid(&self, guid: &Guid) -> Result<Option<Mailbox>, StoreError> {
        rows::mailbox_by_guid(self.db(), guid).await
    }

    /// A mailbox by local id (current UIDNEXT, HIGHESTMODSEQ).
    pub async fn mailbox_by_id(&self, id: i64) -> Result<Option<Mailbox>, StoreError> {
        rows::mailbox_by_id(self.db(), id).await
    }

    /// An account's mailbox with a special-use role.
    pub async fn mailbox_by_role(
        &self,
        account_id: i64,
        role: Role,
    ) -> Result<Option<Mailbox>, StoreError> {
        Ok(self
            .mailboxes(account_id)
            .await?
            .into_iter()
            .find(|m| m.role == Some(role)))
    }

    /// The GUID of an account's folder of `role`: the one marked so, else the one named
    /// like it, else a new one of that name (for a delivery that must land there).
    async fn folder_for(&self, account_id: i64, role: Role) -> Result<Guid, StoreError> {
        let all = self.mailboxes(account_id).await?;
        if let Some(m) = all.iter().find(|m| m.role == Some(role)) {
            return Ok(m.guid);
        }
        if let Some(m) = all.iter().find(|m| m.name == role.default_name()) {
            return Ok(m.guid);
        }
        match self.create_mailbox(account_id, role.default_name()).await {
            Ok(m) => Ok(m.guid),
            // Made meanwhile by another delivery.
            Err(StoreError::AlreadyExists(_)) => self
                .mailbox(account_id, role.default_name())
                .await?
                .map(|m| m.guid)
                .ok_or_else(|| StoreError::NotFound("mailbox".into())),
            Err(e) => Err(e),
        }
    }

    /// CREATE (with missing parents).
    pub async fn create_mailbox(&self, account_id: i64, name: &str) -> Result<Mailbox, StoreError> {
        let owner = self.owner_of_account(account_id).await?;
        let write = Write::CreateMailbox {
            account: owner.account,
            name: name.to_string(),
        };
        let guid = self
            .dispatch(&owner, command(write), None)
            .await?
            .created()?;
        self.mailbox_by_guid(&guid)
            .await?
            .ok_or_else(|| StoreError::NotFound("mailbox".into()))
    }

    /// RENAME (with children; INBOX moves its messages out).
    pub async fn rename_mailbox(
        &self,
        account_id: i64,
        from: &str,
        to: &str,
    ) -> Result<(), StoreError> {
        let owner = self.owner_of_account(account_id).await?;
        let write = Write::RenameMailbox {
            account: owner.account,
            from: from.to_string(),
            to: to.to_string(),
        };
        self.dispatch(&owner, command(write), None).await?.done()
    }

    /// DELETE.
    pub async fn delete_mailbox(&self, account_id: i64, name: &str) -> Result<(), StoreError> {
        let owner = self.owner_of_account(account_id).await?;
        let write = Write::DeleteMailbox {
            account: owner.account,
            name: name.to_string(),
        };
        self.dispatch(&owner, command(write), None).await?.done()
    }

    /// SUBSCRIBE / UNSUBSCRIBE.
    pub async fn set_subscribed(
        &self,
        account_id: i64,
        name: &str,
        subscribed: bool,
    ) -> Result<(), StoreError> {
        let owner = self.owner_of_account(account_id).await?;
        let write = Write::Subscribe {
            account: owner.account,
            name: name.to_string(),
            subscribed,
        };
        self.dispatch(&owner, command(write), None).await?.done()
    }

    /// SETMETADATA (RFC 5464): sets (or, with `None`, removes) entries of a mailbox of the
    /// account, or of the server (`mailbox` `None`), all or none. Entry names are
    /// lower-cased here. A value over [`METADATA_MAX_VALUE`] is `Invalid`; more than
    /// [`METADATA_MAX_ENTRIES`] entries in one place is `NotAllowed`.
    pub async fn set_metadata(
        &self,
        account_id: i64,
        mailbox: Option<&str>,
        entries: Vec<(String, Option<Vec<u8>>)>,
    ) -> Result<(), StoreError> {
        let owner = self.owner_of_account(account_id).await?;
        let write = Write::SetMetadata {
            account: owner.account,
            mailbox: mailbox.map(str::to_string),
            entries: entries
                .into_iter()
                .map(|(e, v)| (e.to_ascii_lowercase(), v))
                .collect(),
        };
        self.dispatch(&owner, command(write), None).await?.done()
    }

    /// The METADATA entries of a mailbox of the account (or the server's, `None`), by
    /// name.
    pub async fn metadata(
        &self,
        account_id: i64,
        mailbox_id: Option<i64>,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT entry, value FROM metadata WHERE account_id = $1 \
             AND coalesce(mailbox_id, 0) = coalesce($2, 0) ORDER BY entry",
        )
        .bind(account_id)
        .bind(mailbox_id)
        .fetch_all(self.db())
        .await?)
    }

    /// The URLAUTH access key of a mailbox (RFC 4467 §3), by local id, if it has one.
    pub async fn access_key(&self, mailbox_id: i64) -> Result<Option<AccessKey>, StoreError> {
        crate::ops::access_key::read(self.db(), mailbox_id).await
    }

    /// The access key of a mailbox of the account, made first (at the account's home
    /// twin, then mirrored) if it has none: GENURLAUTH's key. A mailbox of another
    /// account is `NotFound`.
    pub async fn make_access_key(
        &self,
        account_id: i64,
        mailbox_id: i64,
    ) -> Result<AccessKey, StoreError> {
        let (owner, mailbox) = self.owned_mailbox(account_id, mailbox_id).await?;
        if let Some(key) = self.access_key(mailbox_id).await? {
            return Ok(key);
        }
        let write = Write::MakeAccessKey {
            account: owner.account,
            mailbox,
        };
        self.dispatch(&owner, command(write), None).await?.done()?;
        // Done here or at the home twin, whose change has been applied here by now.
        self.access_key(mailbox_id)
            .await?
            .ok_or_else(|| StoreError::Unavailable("the access key has not arrived yet".into()))
    }

    /// RESETKEY (RFC 4467 §7.2): a new access key for a mailbox of the account, or
    /// (`None`) for every mailbox of the account that has one; every URL signed with an
    /// old key stops verifying, on both twins.
    pub async fn reset_access_keys(
        &self,
        account_id: i64,
        mailbox_id: Option<i64>,
    ) -> Result<(), StoreError> {
        let (owner, mailbox) = match mailbox_id {
            Some(id) => {
                let (owner, guid) = self.owned_mailbox(account_id, id).await?;
                (owner, Some(guid))
            }
            None => (self.owner_of_account(account_id).await?, None),
        };
        let write = Write::ResetAccessKeys {
            account: owner.account,
            mailbox,
        };
        self.dispatch(&owner, command(write), None).await?.done()
    }

    /// The owner and GUID of a mailbox, which must be the account's.
    async fn owned_mailbox(
        &self,
        account_id: i64,
        mailbox_id: i64,
    ) -> Result<(Owner, Guid), StoreError> {
        match self.mailbox_by_id(mailbox_id).await? {
            Some(m) if m.account_id == account_id => self.owner_of_mailbox(mailbox_id).await,
            _ => Err(StoreError::NotFound("mailbox".into())),
        }
    }

    /// Every mailbox (of any account) that has the mailbox annotation `entry`, with its
    /// owner's login name and the value: what IMAP ACL (RFC 4314) grants look up, as
    /// they are kept as the owner's annotations (`twinmail-imap`'s `acl.rs`).
    pub async fn mailboxes_annotated(
        &self,
        entry: &str,
    ) -> Result<Vec<(String, Mailbox, Vec<u8>)>, StoreError> {
        let rows: Vec<(String, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT a.name, x.mailbox_id, x.value FROM metadata x \
             JOIN accounts a ON a.id = x.account_id \
             WHERE x.entry = $1 AND x.mailbox_id IS NOT NULL AND NOT a.disabled \
             ORDER BY a.name, x.mailbox_id",
        )
        .bind(entry.to_ascii_lowercase())
        .fetch_all(self.db())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (owner, mailbox_id, value) in rows {
            if let Some(m) = rows::mailbox_by_id(self.db(), mailbox_id).await? {
                out.push((owner, m, value));
            }
        }
        Ok(out)
    }

    /// Message count, unseen count and total size.
    pub async fn counts(&self, mailbox_id: i64) -> Result<MailboxCounts, StoreError> {
        let (messages, unseen, size): (i64, i64, i64) = sqlx::query_as(
            "SELECT count(*), coalesce(sum(instr(flags, '\\Seen') = 0), 0), coalesce(sum(size), 0) \
             FROM messages WHERE mailbox_id = $1",
        )
        .bind(mailbox_id)
        .fetch_one(self.db())
        .await?;
        Ok(MailboxCounts {
            messages: messages as u64,
            unseen: unseen as u64,
            size: size as u64,
        })
    }

    // ----- messages -----

    /// Every message of a mailbox, ascending by UID.
    pub async fn messages(&self, mailbox_id: i64) -> Result<Vec<Message>, StoreError> {
        rows::messages_in(self.db(), mailbox_id, 1, u32::MAX).await
    }

    /// The messages of a mailbox whose UIDs are in `uids`, ascending.
    pub async fn messages_in(
        &self,
        mailbox_id: i64,
        uids: &UidSet,
    ) -> Result<Vec<Message>, StoreError> {
        let mut conn = self.db().acquire().await?;
        uids.load(&mut conn, mailbox_id).await
    }

    /// One message by UID, if it (still) exists.
    pub async fn message(&self, mailbox_id: i64, uid: u32) -> Result<Option<Message>, StoreError> {
        Ok(rows::messages_in(self.db(), mailbox_id, uid, uid)
            .await?
            .pop())
    }

    /// Messages changed (added or flagged) after `modseq` (CONDSTORE CHANGEDSINCE).
    pub async fn changed_since(
        &self,
        mailbox_id: i64,
        modseq: u64,
    ) -> Result<Vec<Message>, StoreError> {
        let rows: Vec<MessageRow> = sqlx::query_as(
            "SELECT uid, guid, blob, size, internal_date, coalesce(saved, internal_date) AS saved, \
             flags, modseq FROM messages \
             WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid",
        )
        .bind(mailbox_id)
        .bind(modseq as i64)
        .fetch_all(self.db())
        .await?;
        rows::collect(rows)
    }

    /// UIDs expunged after `modseq`, ascending (QRESYNC VANISHED (EARLIER)).
    pub async fn expunged_since(
        &self,
        mailbox_id: i64,
        modseq: u64,
    ) -> Result<Vec<u32>, StoreError> {
        let (before, uidnext): (i64, i64) =
            sqlx::query_as("SELECT vanished_before, uidnext FROM mailboxes WHERE id = $1")
                .bind(mailbox_id)
                .fetch_optional(self.db())
                .await?
                .unwrap_or((0, 1));
        if (modseq as i64) < before {
            // Expired tombstones cannot tell what vanished since: every UID not present.
            let present: std::collections::HashSet<i64> =
                sqlx::query_scalar("SELECT uid FROM messages WHERE mailbox_id = $1")
                    .bind(mailbox_id)
                    .fetch_all(self.db())
                    .await?
                    .into_iter()
                    .collect();
            return Ok((1..uidnext)
                .filter(|u| !present.contains(u))
                .map(|u| u as u32)
                .collect());
        }
        let uids: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 AND uid > 0 ORDER BY uid",
        )
        .bind(mailbox_id)
        .bind(modseq as i64)
        .fetch_all(self.db())
        .await?;
        Ok(uids.into_iter().map(|u| u as u32).collect())
    }

    /// A message's bytes.
    pub async fn blob(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(sqlx::query_scalar("SELECT data FROM blobs WHERE hash = $1")
            .bind(&hash.0[..])
            .fetch_optional(self.db())
            .await?)
    }

    /// APPEND: stores a message durably in a mailbox. An APPEND whose client heard a
    /// temporary failure while the home twin may have done it (in doubt) is remembered for
    /// ten minutes: the client's retry of the same message, flags and date is the same
    /// write and gets the first copy back, not a second one. Otherwise every APPEND is new
    /// (a client may append the same message twice on purpose, then delete one).
    pub async fn append(
        &self,
        mailbox_id: i64,
        bytes: Vec<u8>,
        flags: Flags,
        internal_date: Option<i64>,
    ) -> Result<Placed, StoreError> {
        let target = self.target(mailbox_id).await?;
        self.check_room(target.account_id, target.limit, bytes.len() as u64)
            .await?;
        let body = body(bytes);
        let flag_text = flags.to_string();
        let date = internal_date.map(|d| d.to_be_bytes()).unwrap_or_default();
        let key = request_id(&[
            b"append",
            &target.mailbox.0,
            &body.hash.0,
            flag_text.as_bytes(),
            &date,
        ]);
        let id = self.in_doubt(&key).unwrap_or_else(Guid::random);
        let write = Write::Add {
            mailboxes: vec![target.mailbox],
            blob: body.hash,
            flags,
            internal_date: internal_date.unwrap_or_else(now_unix),
        };
        let placed = self
            .dispatch(&target.owner, Command { id, write }, Some(body.bytes))
            .await;
        self.note_doubt(key, id, matches!(placed, Err(StoreError::Unavailable(_))));
        placed?
            .placed()?
            .pop()
            .ok_or_else(|| StoreError::Corrupt("append placed nothing".into()))
    }

    /// The sender's own copy of a message sent through submission, stored `\Seen` in the
    /// account's Sent folder (made when it has none). `key` names the submission: the
    /// same key again (a client retrying after a lost 250) is the same write and gets the
    /// first copy back, so a retry never files a second copy.
    pub async fn save_sent(
        &self,
        account_id: i64,
        key: Guid,
        bytes: Vec<u8>,
    ) -> Result<Placed, StoreError> {
        let sent = self.folder_for(account_id, Role::Sent).await?;
        let mailbox = self
            .mailbox_by_guid(&sent)
            .await?
            .ok_or_else(|| StoreError::NotFound("Sent folder".into()))?;
        let target = self.target(mailbox.id).await?;
        self.check_room(target.account_id, target.limit, bytes.len() as u64)
            .await?;
        let body = body(bytes);
        let write = Write::Add {
            mailboxes: vec![target.mailbox],
            blob: body.hash,
            flags: Flags::new(["\\Seen"]),
            internal_date: now_unix(),
        };
        let id = request_id(&[b"sent", &key.0]);
        self.dispatch(&target.owner, Command { id, write }, Some(body.bytes))
            .await?
            .placed()?
            .pop()
            .ok_or_else(|| StoreError::Corrupt("the Sent copy placed nothing".into()))
    }

    /// The id of an APPEND of this content whose client was told to try again, if recent.
    fn in_doubt(&self, key: &Guid) -> Option<Guid> {
        let doubts = self
            .inner
            .in_doubt
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        doubts
            .get(key)
            .filter(|(_, at)| at.elapsed() < IN_DOUBT_MEMORY)
            .map(|(id, _)| *id)
    }

    /// Remembers (or, once settled, forgets) an APPEND left in doubt.
    fn note_doubt(&self, key: Guid, id: Guid, doubt: bool) {
        let mut doubts = self
            .inner
            .in_doubt
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        doubts.retain(|_, (_, at)| at.elapsed() < IN_DOUBT_MEMORY);
        if doubt {
            doubts.insert(key, (id, std::time::Instant::now()));
        } else {
            doubts.remove(&key);
        }
    }

    /// STORE: changes flags of the messages in `uids`.
    pub async fn store_flags(
        &self,
        mailbox_id: i64,
        uids: UidSet,
        mode: FlagMode,
        flags: Flags,
        unchanged_since: Option<u64>,
    ) -> Result<FlagsStored, StoreError> {
        let (owner, mailbox) = self.owner_of_mailbox(mailbox_id).await?;
        let write = Write::StoreFlags {
            mailbox,
            messages: Targets::Uids(uids),
            mode,
            flags,
            unchanged_since,
        };
        self.dispatch(&owner, command(write), None).await?.flags()
    }

    /// EXPUNGE (only `\Deleted` messages, optionally restricted to `uids`); returns the
    /// expunged UIDs.
    pub async fn expunge(
        &self,
        mailbox_id: i64,
        uids: Option<UidSet>,
    ) -> Result<Vec<u32>, StoreError> {
        self.expunge_as(mailbox_id, uids.map(Targets::Uids), true)
            .await
    }

    async fn expunge_as(
        &self,
        mailbox_id: i64,
        messages: Option<Targets>,
        only_deleted: bool,
    ) -> Result<Vec<u32>, StoreError> {
        let (owner, mailbox) = self.owner_of_mailbox(mailbox_id).await?;
        let write = Write::Expunge {
            mailbox,
            messages,
            only_deleted,
        };
        self.dispatch(&owner, command(write), None)
            .await?
            .expunged()
    }

    /// Removes exactly these messages, flagged or not (POP3 UPDATE state).
    pub async fn remove(&self, mailbox_id: i64, uids: UidSet) -> Result<Vec<u32>, StoreError> {
        self.expunge_as(mailbox_id, Some(Targets::Uids(uids)), false)
            .await
    }

    /// Removes exactly these messages, each named as the client saw it (UID and GUID),
    /// wherever it is now: a message the split merge renumbered since is still removed.
    /// Returns the UIDs removed.
    pub async fn remove_seen(
        &self,
        mailbox_id: i64,
        seen: Vec<(u32, Guid)>,
    ) -> Result<Vec<u32>, StoreError> {
        self.expunge_as(mailbox_id, Some(Targets::Seen(seen)), false)
            .await
    }

    /// COPY (or MOVE with `remove`) within one account.
    pub async fn copy(
        &self,
        from: i64,
        uids: UidSet,
        to: i64,
        remove: bool,
    ) -> Result<Copied, StoreError> {
        let (owner, source) = self.owner_of_mailbox(from).await?;
        let target = self.target(to).await?;
        if !remove && target.limit.is_some() {
            let adding = self
                .messages_in(from, &uids)
                .await?
                .iter()
                .map(|m| m.size)
                .sum();
            self.check_room(target.account_id, target.limit, adding)
                .await?;
        }
        let write = Write::Copy {
            from: source,
            messages: Targets::Uids(uids),
            to: target.mailbox,
            remove,
        };
        self.dispatch(&owner, command(write), None).await?.copied()
    }

    /// A mailbox as a write target: its GUID, its account with its storage limit, and the
    /// account's home (one read).
    async fn target(&self, mailbox_id: i64) -> Result<Target, StoreError> {
        type Row = (i64, Option<i64>, Vec<u8>, Option<String>, Vec<u8>);
        let (account_id, limit, account, home, mailbox): Row = sqlx::query_as(
            "SELECT a.id, a.quota_bytes, a.guid, a.home, m.guid FROM mailboxes m \
             JOIN accounts a ON a.id = m.account_id WHERE m.id = $1",
        )
        .bind(mailbox_id)
        .fetch_optional(self.db())
        .await?
        .ok_or_else(|| StoreError::NotFound("mailbox".into()))?;
        Ok(Target {
            account_id,
            limit: limit.map(|l| l.max(0) as u64),
            owner: Owner {
                account: Guid::from_slice(&account)?,
                home,
            },
            mailbox: Guid::from_slice(&mailbox)?,
        })
    }

    // ----- the change log, for the mirror -----

    /// Applies one change from the twin, exactly once and in order per origin.
    pub async fn apply_remote(
        &self,
        origin: &str,
        seq: i64,
        change: Change,
        bytes: Option<Vec<u8>>,
    ) -> Result<Applied, StoreError> {
        let done = self
            .apply_remote_batch(
                origin,
                vec![RemoteChange {
                    seq,
                    change,
                    bytes: bytes.map(Arc::new),
                }],
            )
            .await?;
        Ok(done.first().copied().unwrap_or(Applied::AlreadyApplied))
    }

    /// Local changes with sequence numbers above `after`, at most `limit`, in order.
    pub async fn changes_since(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ChangeEvent>, StoreError> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT seq, origin, payload FROM changelog WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit as i64)
        .fetch_all(self.db())
        .await?;
        rows.into_iter()
            .map(|(seq, origin, payload)| {
                let change = serde_json::from_str(&payload)
                    .map_err(|e| StoreError::Corrupt(format!("change {seq}: {e}")))?;
                Ok(ChangeEvent {
                    origin,
                    seq,
                    change,
                })
            })
            .collect()
    }

    /// The highest sequence number applied from `origin`.
    pub async fn applied_seq(&self, origin: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT seq FROM applied WHERE origin = $1")
                .bind(origin)
                .fetch_optional(self.db())
                .await?
                .unwrap_or(0),
        )
    }

    /// SQLite's own consistency check: `ok` when the database is sound.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(self.db())
            .await?;
        Ok(rows.join("\n"))
    }

    /// Waits for in-flight writes, then closes every connection.
    pub async fn close(&self) {
        let _ = self.inner.writer.submit(crate::writer::Barrier).await;
        self.inner.read.close().await;
    }
}

pub(crate) fn body(bytes: Vec<u8>) -> Body {
    shared_body(Arc::new(bytes))
}

pub(crate) fn shared_body(bytes: Arc<Vec<u8>>) -> Body {
    Body {
        hash: BlobHash::of(&bytes),
        bytes,
    }
}

fn check_password(password: &str) -> Result<(), StoreError> {
    if password.is_empty() || password.len() > 1024 {
        return Err(StoreError::Invalid(
            "a password must be 1 to 1024 bytes".into(),
        ));
    }
    Ok(())
}

/// Records the node id in a new database, or checks it in an existing one; returns the
/// database's incarnation (made here the first time).
async fn claim_node(conn: &mut sqlx::SqliteConnection, node: &str) -> Result<String, StoreError> {
    sqlx::query(
        "INSERT INTO node (key, value) VALUES ('node_id', $1) ON CONFLICT (key) DO NOTHING",
    )
    .bind(node)
    .execute(&mut *conn)
    .await?;
    let stored: String = sqlx::query_scalar("SELECT value FROM node WHERE key = 'node_id'")
        .fetch_one(&mut *conn)
        .await?;
    if stored != node {
        return Err(StoreError::NotAllowed(format!(
            "this database belongs to node {stored:?}, not {node:?}"
        )));
    }
    sqlx::query(
        "INSERT INTO node (key, value) VALUES ('incarnation', $1) ON CONFLICT (key) DO NOTHING",
    )
    .bind(Guid::random().to_hex())
    .execute(&mut *conn)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT value FROM node WHERE key = 'incarnation'")
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// One SMTP delivery in progress: recipients are resolved as RCPT commands arrive;
/// nothing is written until [`commit`](Delivery::commit). Dropping it aborts.
#[derive(Clone)]
pub struct Delivery {
    /// The store it delivers into.
    store: Store,
    /// The accounts collected so far, each once, with their INBOXes and homes.
    targets: Vec<Recipient>,
    /// Each account's RCPT address (the first that reached it): a Sieve script's
    /// envelope "to".
    addresses: Vec<(i64, String)>,
    /// Addresses in other domains that aliases among the recipients forward to, each
    /// once, with the alias address that forwards (whose domain signs the rewritten
    /// sender).
    forwards: Vec<(String, String)>,
    /// What identifies this delivery across a client's retries (see
    /// [`identify`](Delivery::identify)); `None`: every attempt is a new delivery.
    key: Option<Guid>,
}

/// A recipient account as a delivery needs it.
#[derive(Clone)]
struct Recipient {
    /// The account.
    account: Account,
    /// Its INBOX's GUID.
    inbox: Guid,
    /// Its home twin, if the admin chose one.
    home: Option<String>,
}

impl Delivery {
    /// Adds a recipient address; `NotFound` when nobody here takes it.
    pub async fn add_recipient(&mut self, address: &str) -> Result<(), StoreError> {
        let (mut found, mut forwards) = self.store.resolve_inboxes(address).await?;
        if found.is_empty() && forwards.is_empty() {
            // A twin still receiving its twin's data (a new or rebuilt twin's snapshot, the
            // backlog after a restart) may not know the account yet: it answers only once
            // it holds what its twin holds, and never "unknown" before (a 4xx instead).
            if let Some(f) = self.store.forwarder_cell().get() {
                f.ready().await?;
                (found, forwards) = self.store.resolve_inboxes(address).await?;
                if found.is_empty() && forwards.is_empty() && !f.synced() {
                    return Err(StoreError::Unavailable(
                        "this twin has not yet received its twin's data".into(),
                    ));
                }
            }
        }
        if found.is_empty() && forwards.is_empty() {
            return Err(StoreError::NotFound("recipient".into()));
        }
        for f in forwards {
            if !self.forwards.iter().any(|(t, _)| *t == f) {
                self.forwards.push((f, address.to_string()));
            }
        }
        for t in found {
            // A full mailbox refuses at RCPT (552 5.2.2), before any data is taken.
            self.store.check_quota(t.account.id, 1).await?;
            if !self.targets.iter().any(|b| b.account.id == t.account.id) {
                self.addresses.push((t.account.id, address.to_string()));
                self.targets.push(t);
            }
        }
        Ok(())
    }

    /// Addresses in other domains the recipients' aliases forward to, each with the alias
    /// address that forwards it.
    pub fn forwards(&self) -> &[(String, String)] {
        &self.forwards
    }

    /// The accounts the message will be delivered to.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.targets.iter().map(|t| &t.account)
    }

    /// The store it delivers into.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The key a client's retry of this delivery is recognised by, if it has one.
    pub fn key(&self) -> Option<Guid> {
        self.key
    }

    /// The RCPT address that reached an account of this delivery.
    pub fn address_of(&self, account_id: i64) -> Option<&str> {
        self.addresses
            .iter()
            .find(|(id, _)| *id == account_id)
            .map(|(_, a)| a.as_str())
    }

    /// Takes one account out of this delivery, as a delivery of its own with the same
    /// key (a per-recipient decision, such as its Sieve script's, delivers it apart).
    pub fn take(&mut self, account_id: i64) -> Option<Delivery> {
        let i = self
            .targets
            .iter()
            .position(|t| t.account.id == account_id)?;
        let target = self.targets.remove(i);
        Some(Delivery {
            store: self.store.clone(),
            targets: vec![target],
            addresses: self
                .addresses
                .iter()
                .filter(|(id, _)| *id == account_id)
                .cloned()
                .collect(),
            forwards: Vec::new(),
            key: self.key,
        })
    }

    /// Like [`commit_into`](Delivery::commit_into), into the folder of this name of each
    /// recipient (a Sieve `fileinto`); a recipient without one gets it in its INBOX
    /// (folders are not made by filing, as in Dovecot without `:create`). The command's
    /// id names the folder, so the same delivery into two folders is two messages, and a
    /// retry of either is none.
    pub async fn commit_to(
        mut self,
        bytes: Vec<u8>,
        folder: &str,
        flags: Flags,
    ) -> Result<Vec<Placed>, StoreError> {
        for t in &mut self.targets {
            match self.store.mailbox(t.account.id, folder).await? {
                Some(m) => t.inbox = m.guid,
                None => tracing::info!(folder, "sieve: no such folder; filed into INBOX"),
            }
        }
        self.commit_into(bytes, None, flags).await
    }

    /// Names this delivery by what the client sent (envelope and content, before any
    /// header of ours): the same transaction sent again — a client retrying after a lost
    /// 250 or a 451 — is then recognised and delivered once.
    pub fn identify(&mut self, key: Guid) {
        self.key = Some(key);
    }

    /// Stores the message once in every recipient's INBOX, durably: the recipients homed
    /// here in one transaction, those homed on the twin in one command to it. Each part is
    /// a command whose id derives from the delivery's key, so a retry after a partial
    /// failure repeats nothing that was done. An account deleted since its RCPT fails the
    /// whole delivery (`NotFound`), so the client never hears OK for mail that went nowhere.
    pub async fn commit(self, bytes: Vec<u8>) -> Result<Vec<Placed>, StoreError> {
        self.commit_into(bytes, None, Flags::default()).await
    }

    /// Like [`commit`](Delivery::commit), but into each recipient's folder of `role` (the
    /// inbound filters' Junk) with these flags set on arrival. A recipient without a folder
    /// of that role gets one under the role's default name (a plain folder: CREATE gives
    /// no special-use; every account made here already has its `\Junk`).
    pub async fn commit_into(
        mut self,
        bytes: Vec<u8>,
        role: Option<Role>,
        flags: Flags,
    ) -> Result<Vec<Placed>, StoreError> {
        if let Some(role) = role.filter(|r| *r != Role::Inbox) {
            for t in &mut self.targets {
                t.inbox = self.store.folder_for(t.account.id, role).await?;
            }
        }
        if self.targets.is_empty() {
            return Err(StoreError::Invalid("no recipients".into()));
        }
        let body = body(bytes);
        let internal_date = now_unix();
        let key = self.key.unwrap_or_else(Guid::random);
        let mut parts: [(Route, Vec<&Recipient>); 2] =
            [(Route::Local, Vec::new()), (Route::Forward, Vec::new())];
        for r in &self.targets {
            let owner = Owner {
                account: r.account.guid,
                home: r.home.clone(),
            };
            match self.store.route(&owner).await? {
                Route::Local => parts[0].1.push(r),
                Route::Forward => parts[1].1.push(r),
            }
        }
        let mut placed = Vec::with_capacity(self.targets.len());
        for (route, part) in parts {
            if part.is_empty() {
                continue;
            }
            let mut mailboxes: Vec<Guid> = part.iter().map(|r| r.inbox).collect();
            mailboxes.sort();
            let joined: Vec<u8> = mailboxes.iter().flat_map(|m| m.0).collect();
            let command = Command {
                id: request_id(&[b"deliver", &key.0, &joined]),
                write: Write::Add {
                    mailboxes,
                    blob: body.hash,
                    flags: flags.clone(),
                    internal_date,
                },
            };
            let out = self.store.send(route, command, Some(body.bytes.clone()));
            placed.extend(out.await?.placed()?);
        }
        Ok(placed)
    }
}

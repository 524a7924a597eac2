//! `apply_remote`: applies changes from the twin, exactly once and in order per origin;
//! and the initial sync's snapshot pages.
//!
//! The highest sequence applied from each origin is written in the same transaction as
//! the change itself. A change at or below it is a resend and is skipped; one above the
//! next expected number is refused (`Gap`), so the sender resends from the right place.
//! Applied changes are published to local watchers but never logged, so they are never
//! sent back (no ping-pong).

use std::collections::HashMap;

use crate::{
    Change, Expunged, FlagUpdate, Guid, StoreError,
    ops::{
        NewMailbox, access_key,
        account::{delete_account_rows, insert_account},
        fold, insert_mailbox,
        merge::{self, Arrival, Local},
        message::{Body, set_highestmodseq},
        metadata, queue, sieve,
    },
    rows,
    types::BlobHash,
    writer::{Op, WriteCtx},
};

/// What one transaction of a twin's changes has learnt so far.
pub(crate) struct Batch<'a> {
    /// The twin's node id.
    origin: &'a str,
    /// Mailboxes named so far.
    mailboxes: HashMap<Guid, Local>,
    /// Mailboxes homed here that took split-time changes from the twin: the MODSEQ below
    /// the first message change (the merge re-emits everything above it), and whether
    /// the folder itself was renamed or (un)subscribed.
    forks: HashMap<i64, (u64, bool)>,
    /// Whether a message was held for the merge.
    held: bool,
    /// Whether anything was ever folded here (read at the first change that could name a
    /// folded GUID).
    folds: Option<bool>,
}

impl<'a> Batch<'a> {
    fn new(origin: &'a str) -> Self {
        Batch {
            origin,
            mailboxes: HashMap::new(),
            forks: HashMap::new(),
            held: false,
            folds: None,
        }
    }

    /// A change naming a folded account or folder, rewritten to name its survivor (and
    /// whether its folder was folded).
    async fn resolve(
        &mut self,
        ctx: &mut WriteCtx,
        change: &Change,
    ) -> Result<Option<(Change, bool)>, StoreError> {
        let any = match self.folds {
            Some(any) => any,
            None => *self.folds.insert(fold::any(ctx).await?),
        };
        if !any {
            return Ok(None);
        }
        fold::resolve(ctx, change).await
    }

    /// Something was folded in this batch: GUIDs (and so homes) changed under the cache.
    fn folded(&mut self) {
        self.folds = Some(true);
        self.mailboxes.clear();
    }

    /// The mailbox a change names.
    async fn mailbox(&mut self, ctx: &mut WriteCtx, guid: &Guid) -> Result<Local, StoreError> {
        merge::local_mailbox(ctx, guid, self.origin, &mut self.mailboxes).await
    }

    /// The mailbox a flag change or expunge at `modseq` names, or where its first message
    /// is now (`None`: neither is here); noted for the merge when it is split-time.
    async fn message_change(
        &mut self,
        ctx: &mut WriteCtx,
        guid: &Guid,
        first: Option<&Guid>,
        modseq: u64,
    ) -> Result<Option<Local>, StoreError> {
        let local = merge::mailbox_of(ctx, guid, first, self.origin, &mut self.mailboxes).await?;
        if let Some(l) = local {
            self.split_time(l, modseq);
        }
        Ok(local)
    }

    /// A message change of the twin's in `mailbox` at `modseq`: on the home twin it was
    /// made while the twins were apart (the twin forwards every other), so it is merged.
    fn split_time(&mut self, mailbox: Local, modseq: u64) {
        if mailbox.home {
            let fork = self
                .forks
                .entry(mailbox.id)
                .or_insert((i64::MAX as u64, false));
            fork.0 = fork.0.min(modseq.saturating_sub(1));
        }
    }

    /// The twin renamed or (un)subscribed a folder: on the home twin a split-time change,
    /// after which the merge tells the twin the folder's state here (both may have renamed
    /// it differently, each applying the other's rename last).
    fn folder_changed(&mut self, mailbox: Local) {
        if mailbox.home {
            self.forks
                .entry(mailbox.id)
                .or_insert((i64::MAX as u64, false))
                .1 = true;
        }
    }

    /// Whether the home's merge has work (held messages, or split-time changes).
    fn merge_due(&self) -> bool {
        self.held || !self.forks.is_empty()
    }
}

/// What this twin's sessions are told of an applied change.
enum Seen {
    /// The change as the twin logged it.
    Same,
    /// What it did here instead (nothing, or other UIDs).
    These(Vec<Change>),
}

/// One change from the twin's log, with the message bytes when it adds a message.
#[derive(Clone, Debug)]
pub struct RemoteChange {
    /// Its sequence number in the origin's log.
    pub seq: i64,
    /// What changed.
    pub change: Change,
    /// The message bytes of a `MessageAdded` (absent when this twin holds them already);
    /// shared, so a failed batch can be retried change by change without copying them.
    pub bytes: Option<std::sync::Arc<Vec<u8>>>,
}

/// Changes from one origin, applied in order in one transaction (the receiver batches
/// what has arrived, so a backlog costs one fsync per batch, not per change).
pub(crate) struct ApplyRemote {
    pub origin: String,
    pub changes: Vec<RemoteChange>,
}

/// What `apply_remote` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The change was applied now.
    Applied,
    /// The change had been applied before; nothing was done.
    AlreadyApplied,
}

/// What applied changes count for on the status page.
#[derive(Default)]
struct Received {
    add: i64,
    del: i64,
    rename: i64,
    flags: i64,
    other: i64,
}

impl Received {
    fn count(&mut self, change: &Change) {
        match change {
            Change::MessageAdded { .. } => self.add += 1,
            Change::MessagesExpunged { messages, .. } => self.del += messages.len() as i64,
            Change::MailboxRenamed { .. } => self.rename += 1,
            Change::FlagsChanged { messages, .. } => self.flags += messages.len() as i64,
            _ => self.other += 1,
        }
    }

    async fn save(&self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        add_counters(
            ctx,
            &[
                ("recv_add", self.add),
                ("recv_del", self.del),
                ("recv_rename", self.rename),
                ("recv_flags", self.flags),
                ("recv_other", self.other),
            ],
        )
        .await
    }
}

/// Adds to the mirror's persistent counters (zero amounts are skipped).
pub(crate) async fn add_counters(
    ctx: &mut WriteCtx,
    amounts: &[(&str, i64)],
) -> Result<(), StoreError> {
    for (name, n) in amounts.iter().filter(|a| a.1 != 0) {
        sqlx::query(
            "INSERT INTO mirror_counters (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
        )
        .bind(name)
        .bind(n)
        .execute(&mut ctx.conn)
        .await?;
    }
    Ok(())
}

/// The highest sequence applied from `origin`.
async fn position(ctx: &mut WriteCtx, origin: &str) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT seq FROM applied WHERE origin = $1")
            .bind(origin)
            .fetch_optional(&mut ctx.conn)
            .await?
            .unwrap_or(0),
    )
}

async fn set_position(ctx: &mut WriteCtx, origin: &str, seq: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO applied (origin, seq) VALUES ($1, $2) ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq",
    )
    .bind(origin)
    .bind(seq)
    .execute(&mut ctx.conn)
    .await?;
    Ok(())
}

impl Op for ApplyRemote {
    /// What was done with each change, and whether the home's merge has work now.
    type Output = (Vec<Applied>, bool);
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(Vec<Applied>, bool), StoreError> {
        if self.origin == *ctx.node {
            return Err(StoreError::Invalid(
                "a change cannot be applied to its own origin".into(),
            ));
        }
        let mut last = position(ctx, &self.origin).await?;
        let start = last;
        let mut out = Vec::with_capacity(self.changes.len());
        let mut received = Received::default();
        let mut batch = Batch::new(&self.origin);
        for c in self.changes {
            if c.seq <= last {
                out.push(Applied::AlreadyApplied);
                continue;
            }
            if c.seq != last + 1 {
                return Err(StoreError::Gap {
                    origin: self.origin,
                    expected: last + 1,
                    got: c.seq,
                });
            }
            let body = c.bytes.map(crate::store::shared_body);
            let seen = apply_change(ctx, &c.change, body.as_ref(), false, &mut batch).await?;
            received.count(&c.change);
            last = c.seq;
            match seen {
                Seen::Same => ctx.publish_remote(&self.origin, c.seq, c.change),
                Seen::These(changes) => {
                    for change in changes {
                        ctx.publish_remote(&self.origin, c.seq, change);
                    }
                }
            }
            out.push(Applied::Applied);
        }
        if last != start {
            set_position(ctx, &self.origin, last).await?;
            received.save(ctx).await?;
        }
        merge::note_pending(ctx, &batch.forks).await?;
        Ok((out, batch.merge_due()))
    }
}

/// Records a twin's change that cannot be applied here (it names a mailbox this twin does
/// not hold, say) as passed, so that the changes behind it still flow; it is counted as
/// failed and named in the status, and `mirror verify` shows the difference it leaves.
pub(crate) struct SkipRemote {
    pub origin: String,
    pub seq: i64,
    pub error: String,
}

impl Op for SkipRemote {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let last = position(ctx, &self.origin).await?;
        if self.seq != last + 1 {
            return Ok(());
        }
        set_position(ctx, &self.origin, self.seq).await?;
        add_counters(ctx, &[("failed", 1)]).await?;
        crate::mirror::set_state(
            ctx,
            "last_error",
            &format!("change {} from {}: {}", self.seq, self.origin, self.error),
        )
        .await
    }
}

/// A row of a twin's snapshot that does not fit this twin's data: counted as failed and
/// named in the status (the snapshot goes on; `mirror verify` shows what it left).
pub(crate) struct SnapshotConflict {
    pub origin: String,
    pub error: String,
}

impl Op for SnapshotConflict {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        add_counters(ctx, &[("failed", 1)]).await?;
        crate::mirror::set_state(
            ctx,
            "last_error",
            &format!("snapshot from {}: {}", self.origin, self.error),
        )
        .await
    }
}

/// A page of a twin's snapshot (initial sync): applied idempotently, so an interrupted
/// sync simply starts again and skips what arrived before.
pub(crate) struct ApplySnapshot {
    pub origin: String,
    pub changes: Vec<RemoteChange>,
}

impl Op for ApplySnapshot {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let mut received = Received::default();
        let mut batch = Batch::new(&self.origin);
        if self
            .changes
            .iter()
            .all(|c| matches!(c.change, Change::MessageAdded { .. }))
        {
            add_page(ctx, &self.changes, &mut batch).await?;
        } else {
            for c in &self.changes {
                let body = c.bytes.clone().map(crate::store::shared_body);
                apply_change(ctx, &c.change, body.as_ref(), true, &mut batch).await?;
            }
        }
        for c in self.changes {
            received.count(&c.change);
            ctx.publish_remote(&self.origin, 0, c.change);
        }
        received.save(ctx).await
    }
}

/// Rows per multi-row statement of a snapshot page (9 binds each: far below SQLite's limit).
const PAGE_ROWS: usize = 128;

/// A snapshot page of messages in a few multi-row statements (an initial sync moves
/// hundreds of thousands): blobs, then rows (added unless expunged here, refreshed if held),
/// then each mailbox's UIDNEXT and HIGHESTMODSEQ.
async fn add_page(
    ctx: &mut WriteCtx,
    changes: &[RemoteChange],
    batch: &mut Batch<'_>,
) -> Result<(), StoreError> {
    struct Row<'a> {
        mailbox: i64,
        uid: u32,
        guid: &'a Guid,
        blob: &'a crate::types::BlobHash,
        size: u64,
        date: i64,
        saved: Option<i64>,
        flags: String,
        modseq: u64,
    }
    let mut rows = Vec::with_capacity(changes.len());
    let mut bodies = Vec::new();
    let mut tops: HashMap<i64, (u32, u64)> = HashMap::new();
    for c in changes {
        let Change::MessageAdded {
            mailbox,
            message,
            uid,
            modseq,
            blob,
            size,
            internal_date,
            saved,
            flags,
            ..
        } = &c.change
        else {
            continue;
        };
        let id = batch.mailbox(ctx, mailbox).await?.id;
        if let Some(bytes) = &c.bytes {
            if crate::types::BlobHash::of(bytes) != *blob {
                return Err(StoreError::Invalid(
                    "message bytes do not match their hash".into(),
                ));
            }
            bodies.push((blob, bytes));
        }
        let top = tops.entry(id).or_insert((0, 0));
        *top = (top.0.max(*uid), top.1.max(*modseq));
        rows.push(Row {
            mailbox: id,
            uid: *uid,
            guid: message,
            blob,
            size: *size,
            date: *internal_date,
            saved: *saved,
            flags: flags.to_string(),
            modseq: *modseq,
        });
    }
    for chunk in bodies.chunks(PAGE_ROWS) {
        let mut q =
            sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO blobs (hash, size, data) ");
        q.push_values(chunk, |mut b, (hash, bytes)| {
            b.push_bind(&hash.0[..])
                .push_bind(bytes.len() as i64)
                .push_bind(&bytes[..]);
        });
        q.push(" ON CONFLICT (hash) DO NOTHING");
        q.build().execute(&mut ctx.conn).await?;
    }
    for chunk in rows.chunks(PAGE_ROWS) {
        // Every row's bytes must be here: sent with the page or held already.
        let mut check = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "SELECT count(DISTINCT hash) FROM blobs WHERE hash IN (",
        );
        let mut sep = check.separated(", ");
        let mut wanted: Vec<&[u8]> = chunk.iter().map(|r| &r.blob.0[..]).collect();
        wanted.sort_unstable();
        wanted.dedup();
        for h in &wanted {
            sep.push_bind(*h);
        }
        check.push(")");
        let held: i64 = check.build_query_scalar().fetch_one(&mut ctx.conn).await?;
        if held != wanted.len() as i64 {
            return Err(StoreError::NotFound("message bytes".into()));
        }
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO messages (mailbox_id, uid, guid, blob, size, internal_date, flags, modseq, saved) \
             SELECT column1, column2, column3, column4, column5, column6, column7, column8, column9 FROM (",
        );
        q.push_values(chunk, |mut b, r| {
            b.push_bind(r.mailbox)
                .push_bind(r.uid as i64)
                .push_bind(&r.guid.0[..])
                .push_bind(&r.blob.0[..])
                .push_bind(r.size as i64)
                .push_bind(r.date)
                .push_bind(&r.flags)
                .push_bind(r.modseq as i64)
                .push_bind(r.saved);
        });
        q.push(
            ") WHERE NOT EXISTS (SELECT 1 FROM expunged WHERE guid = column3) \
             ON CONFLICT (guid) DO UPDATE SET flags = excluded.flags, modseq = excluded.modseq, \
             saved = coalesce(excluded.saved, saved)",
        );
        q.build().execute(&mut ctx.conn).await?;
    }
    for (id, (uid, modseq)) in tops {
        exec(ctx, sqlx::query(
            "UPDATE mailboxes SET uidnext = max(uidnext, $1), highestmodseq = max(highestmodseq, $2) WHERE id = $3",
        )
        .bind(uid as i64 + 1)
        .bind(modseq as i64)
        .bind(id))
        .await?;
    }
    Ok(())
}

/// The end of a snapshot: from here on the twin's log is applied from `seq + 1`.
pub(crate) struct FinishSnapshot {
    pub origin: String,
    pub incarnation: String,
    pub seq: i64,
}

impl Op for FinishSnapshot {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO applied (origin, seq, incarnation) VALUES ($1, $2, $3) \
             ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq, incarnation = excluded.incarnation",
        )
        .bind(&self.origin)
        .bind(self.seq)
        .bind(&self.incarnation)
        .execute(&mut ctx.conn)
        .await?;
        Ok(())
    }
}

async fn exec(
    ctx: &mut WriteCtx,
    q: sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
) -> Result<u64, StoreError> {
    Ok(q.execute(&mut ctx.conn).await?.rows_affected())
}

/// A twin's message, in one round trip: stored unless this twin expunged it (no
/// resurrection), holds it already (a resend: skipped, or in a snapshot refreshed with its
/// current flags and MODSEQ), or gave its UID to another message, live or expunged (then
/// it is not stored: the caller holds it for the merge). The mailbox's UIDNEXT and
/// HIGHESTMODSEQ are raised to match only when the row was written (`changes()` is the
/// row INSERT's count), so the statement's count tells the caller: 2 or 3 when stored.
/// Binds: $1 blob hash, $2 size, $3 mailbox id, $4 UID, $5 GUID, $6 date, $7 flags,
/// $8 MODSEQ, $9 the bytes (the `_WITH_BLOB` forms store them first), $10 the save date.
/// Every form names $9 (the `length($9)` test is always true) so that all four take the
/// same ten binds.
macro_rules! remote_add {
    ($blob:literal, $conflict:literal) => {
        concat!(
            $blob,
            "INSERT INTO messages (mailbox_id, uid, guid, blob, size, internal_date, flags, modseq, saved) \
             SELECT $3, $4, $5, $1, $2, $6, $7, $8, $10 WHERE NOT EXISTS (SELECT 1 FROM expunged WHERE guid = $5) \
             AND NOT EXISTS (SELECT 1 FROM messages WHERE mailbox_id = $3 AND uid = $4 AND guid != $5) \
             AND NOT EXISTS (SELECT 1 FROM expunged WHERE mailbox_id = $3 AND uid = $4) \
             AND coalesce(length($9), 0) >= 0 ON CONFLICT (guid) ",
            $conflict,
            "; UPDATE mailboxes SET uidnext = max(uidnext, $4 + 1), highestmodseq = max(highestmodseq, $8) \
             WHERE id = $3 AND changes() > 0"
        )
    };
}
const ADD: &str = remote_add!("", "DO NOTHING");
const ADD_WITH_BLOB: &str = remote_add!(
    "INSERT INTO blobs (hash, size, data) VALUES ($1, $2, $9) ON CONFLICT (hash) DO NOTHING; ",
    "DO NOTHING"
);
const REFRESH: &str = remote_add!(
    "",
    "DO UPDATE SET flags = excluded.flags, modseq = excluded.modseq"
);
const REFRESH_WITH_BLOB: &str = remote_add!(
    "INSERT INTO blobs (hash, size, data) VALUES ($1, $2, $9) ON CONFLICT (hash) DO NOTHING; ",
    "DO UPDATE SET flags = excluded.flags, modseq = excluded.modseq"
);

/// Stores a twin's message bytes (when sent) on their own, for a message that is held.
async fn store_body(
    ctx: &mut WriteCtx,
    body: Option<&Body>,
    blob: &BlobHash,
) -> Result<(), StoreError> {
    match body {
        Some(b) if b.hash != *blob => Err(StoreError::Invalid(
            "message bytes do not match their hash".into(),
        )),
        Some(b) => {
            exec(
                ctx,
                sqlx::query(
                    "INSERT INTO blobs (hash, size, data) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING",
                )
                .bind(&b.hash.0[..])
                .bind(b.bytes.len() as i64)
                .bind(&b.bytes[..]),
            )
            .await?;
            Ok(())
        }
        None => Ok(()),
    }
}

/// A mailbox this twin creates later (say the same name, after a delete) must get a
/// greater UIDVALIDITY than any it holds, even when the twin's values ran ahead of this
/// clock (RFC 3501 §2.3.1.1).
async fn note_uidvalidity(ctx: &mut WriteCtx, uidvalidity: u32) -> Result<(), StoreError> {
    exec(
        ctx,
        sqlx::query(
            "INSERT INTO node (key, value) VALUES ('last_uidvalidity', $1) ON CONFLICT (key) \
             DO UPDATE SET value = CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)",
        )
        .bind(uidvalidity.to_string()),
    )
    .await
    .map(|_| ())
}

/// Applies one change. In a snapshot (`refresh`), a message this twin holds already takes
/// the snapshot's flags and MODSEQ instead of being skipped.
async fn apply_change(
    ctx: &mut WriteCtx,
    change: &Change,
    body: Option<&Body>,
    refresh: bool,
    batch: &mut Batch<'_>,
) -> Result<Seen, StoreError> {
    let Some((change, folded)) = batch.resolve(ctx, change).await? else {
        return apply_resolved(ctx, change, false, body, refresh, batch).await;
    };
    Ok(
        match apply_resolved(ctx, &change, folded, body, refresh, batch).await? {
            Seen::Same => Seen::These(vec![change]),
            these => these,
        },
    )
}

/// Applies one change that names no folded GUID (`folded`: its folder was folded into the
/// one it now names, so its UIDs mean nothing here).
async fn apply_resolved(
    ctx: &mut WriteCtx,
    change: &Change,
    folded: bool,
    body: Option<&Body>,
    refresh: bool,
    batch: &mut Batch<'_>,
) -> Result<Seen, StoreError> {
    match change {
        Change::DomainAdded { domain } => {
            exec(
                ctx,
                sqlx::query("INSERT INTO domains (name) VALUES ($1) ON CONFLICT DO NOTHING")
                    .bind(domain),
            )
            .await?;
        }
        Change::DomainDeleted { domain } => {
            exec(
                ctx,
                sqlx::query("DELETE FROM domains WHERE name = $1").bind(domain),
            )
            .await?;
        }
        Change::AliasAdded { address, target } => {
            exec(
                ctx,
                sqlx::query(
                    "INSERT INTO aliases (address, target) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(address)
                .bind(target),
            )
            .await?;
        }
        Change::AliasDeleted { address, target } => {
            exec(
                ctx,
                sqlx::query("DELETE FROM aliases WHERE address = $1 AND target = $2")
                    .bind(address)
                    .bind(target),
            )
            .await?;
        }
        Change::AccountCreated {
            account,
            name,
            password_hash,
        } => {
            if rows::account_by_guid(&mut ctx.conn, account)
                .await?
                .is_none()
            {
                if let Some(here) = rows::account_by_name(&mut ctx.conn, name).await? {
                    let seen = fold::account_made_twice(ctx, &here, account, password_hash).await?;
                    batch.folded();
                    return Ok(Seen::These(seen));
                }
                insert_account(ctx, *account, name, password_hash).await?;
            } else if refresh {
                exec(
                    ctx,
                    sqlx::query("UPDATE accounts SET password_hash = $1 WHERE guid = $2")
                        .bind(password_hash)
                        .bind(&account.0[..]),
                )
                .await?;
            }
        }
        Change::PasswordChanged {
            account,
            password_hash,
        } => {
            exec(
                ctx,
                sqlx::query("UPDATE accounts SET password_hash = $1 WHERE guid = $2")
                    .bind(password_hash)
                    .bind(&account.0[..]),
            )
            .await?;
        }
        Change::AccountDisabled { account, disabled } => {
            exec(
                ctx,
                sqlx::query("UPDATE accounts SET disabled = $1 WHERE guid = $2")
                    .bind(disabled)
                    .bind(&account.0[..]),
            )
            .await?;
        }
        Change::AccountHome { account, home } => {
            exec(
                ctx,
                sqlx::query("UPDATE accounts SET home = $1 WHERE guid = $2")
                    .bind(home)
                    .bind(&account.0[..]),
            )
            .await?;
        }
        Change::AccountQuota {
            account,
            quota_bytes,
        } => {
            exec(
                ctx,
                sqlx::query("UPDATE accounts SET quota_bytes = $1 WHERE guid = $2")
                    .bind(quota_bytes.map(|q| q as i64))
                    .bind(&account.0[..]),
            )
            .await?;
        }
        Change::AccountDeleted { account, .. } => {
            if let Some(a) = rows::account_by_guid(&mut ctx.conn, account).await? {
                delete_account_rows(ctx, &a).await?;
            }
        }
        Change::MailboxCreated {
            account,
            mailbox,
            name,
            role,
            uidvalidity,
            subscribed,
            knew,
        } => {
            if rows::mailbox_by_guid(&mut ctx.conn, mailbox)
                .await?
                .is_some()
            {
                if refresh {
                    exec(
                        ctx,
                        sqlx::query(
                            "UPDATE mailboxes SET name = $1, subscribed = $2 WHERE guid = $3",
                        )
                        .bind(name)
                        .bind(subscribed)
                        .bind(&mailbox.0[..]),
                    )
                    .await?;
                }
            } else {
                let owner = rows::account_by_guid(&mut ctx.conn, account)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("account {account}")))?;
                if let Some(here) = fold::made_here_too(ctx, owner.id, name, *knew).await? {
                    let incoming = fold::Incoming {
                        account,
                        guid: mailbox,
                        name,
                        uidvalidity: *uidvalidity,
                        subscribed: *subscribed,
                    };
                    let (survivor, mut seen) =
                        fold::folder_made_twice(ctx, here, &incoming).await?;
                    note_uidvalidity(ctx, *uidvalidity).await?;
                    batch.folded();
                    if let Some(survivor) = survivor {
                        batch.held = true;
                        let local = batch.mailbox(ctx, &survivor).await?;
                        batch.folder_changed(local);
                        if survivor == *mailbox {
                            seen.push(change.clone());
                        }
                    }
                    return Ok(Seen::These(seen));
                }
                let name = &merge::make_room(ctx, owner.id, name, mailbox).await?;
                insert_mailbox(
                    ctx,
                    NewMailbox {
                        account_id: owner.id,
                        guid: *mailbox,
                        name,
                        role: *role,
                        uidvalidity: *uidvalidity,
                        subscribed: *subscribed,
                    },
                )
                .await?;
                note_uidvalidity(ctx, *uidvalidity).await?;
            }
        }
        Change::MailboxRenamed { mailbox, to, .. } => {
            let Some(m) = rows::mailbox_by_guid(&mut ctx.conn, mailbox).await? else {
                // Deleted here while apart: the delete wins.
                return Ok(Seen::These(Vec::new()));
            };
            let to = merge::make_room(ctx, m.account_id, to, mailbox).await?;
            exec(
                ctx,
                sqlx::query("UPDATE mailboxes SET name = $1 WHERE id = $2")
                    .bind(to)
                    .bind(m.id),
            )
            .await?;
            let local = batch.mailbox(ctx, mailbox).await?;
            batch.folder_changed(local);
        }
        Change::MailboxDeleted {
            account, mailbox, ..
        } => {
            merge::recover_unseen(ctx, account, mailbox).await?;
            batch.held = true;
            exec(
                ctx,
                sqlx::query("DELETE FROM mailboxes WHERE guid = $1").bind(&mailbox.0[..]),
            )
            .await?;
        }
        Change::MailboxSubscribed {
            mailbox,
            subscribed,
            ..
        } => {
            let found = exec(
                ctx,
                sqlx::query("UPDATE mailboxes SET subscribed = $1 WHERE guid = $2")
                    .bind(subscribed)
                    .bind(&mailbox.0[..]),
            )
            .await?;
            if found == 0 {
                // Deleted here while apart: the delete wins.
                return Ok(Seen::These(Vec::new()));
            }
            let local = batch.mailbox(ctx, mailbox).await?;
            batch.folder_changed(local);
        }
        Change::MessageAdded {
            account,
            mailbox,
            message,
            uid,
            modseq,
            blob,
            size,
            internal_date,
            saved,
            flags,
        } => {
            let arrival = Arrival {
                account,
                mailbox,
                message,
                uid: *uid,
                modseq: *modseq,
                blob,
                size: *size,
                internal_date: *internal_date,
                saved: *saved,
                flags,
            };
            let local = match batch.mailbox(ctx, mailbox).await {
                Err(StoreError::NotFound(_)) if !refresh => {
                    // A folder this twin deleted while apart: the mail is recovered.
                    store_body(ctx, body, blob).await?;
                    merge::recover_arrival(ctx, &arrival).await?;
                    batch.held = true;
                    return Ok(Seen::These(Vec::new()));
                }
                other => other?,
            };
            if folded {
                // Its UID is the folded folder's: held for the home's merge to number.
                store_body(ctx, body, blob).await?;
                batch.held |= merge::hold(ctx, local.id, &Arrival { uid: 0, ..arrival }).await?;
                return Ok(Seen::These(Vec::new()));
            }
            batch.split_time(local, *modseq);
            let sql = match (body, refresh) {
                (Some(b), _) if b.hash != *blob => {
                    return Err(StoreError::Invalid(
                        "message bytes do not match their hash".into(),
                    ));
                }
                (Some(_), false) => ADD_WITH_BLOB,
                (Some(_), true) => REFRESH_WITH_BLOB,
                (None, _) => {
                    if !merge::have_bytes(ctx, blob).await? {
                        return Err(StoreError::NotFound("message bytes".into()));
                    }
                    if refresh { REFRESH } else { ADD }
                }
            };
            let done = sqlx::query(sql)
                .bind(&blob.0[..])
                .bind(*size as i64)
                .bind(local.id)
                .bind(*uid as i64)
                .bind(&message.0[..])
                .bind(*internal_date)
                .bind(flags.to_string())
                .bind(*modseq as i64)
                .bind(body.map(|b| &b.bytes[..]))
                .bind(*saved)
                .execute(&mut ctx.conn)
                .await?
                .rows_affected();
            // The message row and the mailbox's UIDNEXT count two; the bytes one more.
            if done < 2 {
                batch.held |= merge::hold(ctx, local.id, &arrival).await?;
                return Ok(Seen::These(Vec::new()));
            }
        }
        Change::MessageRenumbered {
            account,
            mailbox,
            message,
            from,
            to,
            modseq,
            blob,
            size,
            internal_date,
            saved,
            flags,
        } => {
            let local = match batch.mailbox(ctx, mailbox).await {
                // Deleted here while apart: its messages went with it (or to Recovered).
                Err(StoreError::NotFound(_)) => return Ok(Seen::These(Vec::new())),
                other => other?,
            };
            let arrival = Arrival {
                account,
                mailbox,
                message,
                uid: if folded { 0 } else { *from },
                modseq: *modseq,
                blob,
                size: *size,
                internal_date: *internal_date,
                saved: *saved,
                flags,
            };
            if folded {
                // The folded folder's numbering: held here like its other messages.
                if merge::have_bytes(ctx, blob).await? {
                    batch.held |= merge::hold(ctx, local.id, &arrival).await?;
                }
                return Ok(Seen::These(Vec::new()));
            }
            add_counters(ctx, &[("renumbered", 1)]).await?;
            return Ok(Seen::These(
                merge::apply_renumbered(ctx, local.id, &arrival, *to).await?,
            ));
        }
        Change::FlagsChanged {
            account,
            mailbox,
            modseq,
            messages,
        } => {
            let first = messages.first().map(|m| &m.message);
            let Some(local) = batch.message_change(ctx, mailbox, first, *modseq).await? else {
                return Ok(Seen::These(Vec::new()));
            };
            let mut seen = Vec::with_capacity(messages.len());
            for u in messages {
                let flags = if local.home {
                    &merge::merged_flags(ctx, u, batch.origin).await?
                } else {
                    &u.flags
                };
                if let (Some(at), Some(was)) = (u.at, &u.was) {
                    ctx.observe(at);
                    merge::stamp_flags(ctx, &u.message, was, &u.flags, at, batch.origin).await?;
                }
                if let Some(uid) = merge::set_flags(ctx, &u.message, flags, *modseq).await? {
                    seen.push(FlagUpdate {
                        uid,
                        flags: flags.clone(),
                        ..u.clone()
                    });
                }
            }
            if !folded {
                set_highestmodseq(ctx, local.id, *modseq).await?;
            }
            return Ok(Seen::These(vec![Change::FlagsChanged {
                account: *account,
                mailbox: local.guid,
                modseq: *modseq,
                messages: seen,
            }]));
        }
        Change::MessagesExpunged {
            account,
            mailbox,
            modseq,
            messages,
        } => {
            let first = messages.first().map(|m| &m.message);
            let Some(local) = batch.message_change(ctx, mailbox, first, *modseq).await? else {
                return Ok(Seen::These(Vec::new()));
            };
            let mut seen = Vec::with_capacity(messages.len());
            for e in messages {
                if let Some(uid) = merge::expunge(ctx, local, e, *modseq).await? {
                    seen.push(Expunged { uid, ..e.clone() });
                }
            }
            if !folded {
                set_highestmodseq(ctx, local.id, *modseq).await?;
            }
            return Ok(Seen::These(vec![Change::MessagesExpunged {
                account: *account,
                mailbox: local.guid,
                modseq: *modseq,
                messages: seen,
            }]));
        }
        Change::MailboxState {
            mailbox,
            uidnext,
            highestmodseq,
            ..
        } => {
            exec(ctx, sqlx::query(
                "UPDATE mailboxes SET uidnext = max(uidnext, $1), highestmodseq = max(highestmodseq, $2) WHERE guid = $3",
            )
            .bind(*uidnext as i64)
            .bind(*highestmodseq as i64)
            .bind(&mailbox.0[..])).await?;
        }
        Change::Queued { .. } => {
            queue::insert_queued(ctx, change, body).await?;
        }
        Change::MetadataSet {
            account,
            mailbox,
            entry,
            value,
        } => {
            metadata::apply(ctx, account, mailbox.as_ref(), entry, value.as_deref()).await?;
        }
        Change::AccessKeySet {
            mailbox, key, made, ..
        } => {
            access_key::apply(ctx, mailbox, key, *made).await?;
        }
        Change::QueueAttempt { .. } => {
            queue::apply_attempt(ctx, change).await?;
        }
        Change::QueueControl { .. } => {
            queue::apply_control(ctx, change).await?;
        }
        Change::DkimKeyAdded { .. } => {
            queue::insert_dkim(ctx, change).await?;
        }
        Change::SieveScriptPut { .. }
        | Change::SieveScriptDeleted { .. }
        | Change::SieveScriptRenamed { .. }
        | Change::SieveActivated { .. }
        | Change::VacationReplied { .. } => {
            sieve::apply(ctx, change).await?;
        }
    }
    Ok(Seen::Same)
}

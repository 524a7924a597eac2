//! What the mirror keeps in the store: the position the twin acknowledged, the counters of
//! the status page, the link's state, the snapshot an initial sync streams from, and the
//! per-mailbox digests `mirror verify` compares. The mirror crate moves bytes; this is
//! where its facts live, so they survive restarts.

use std::fmt;

use sha2::Digest;
use sqlx::{Sqlite, Transaction};

use crate::{
    Change, Store, StoreError,
    change::{Expunged, QueueAction, RcptOutcome, RcptState},
    ops::merge::Merge,
    ops::remote::{
        Applied, ApplyRemote, ApplySnapshot, FinishSnapshot, RemoteChange, SkipRemote,
        SnapshotConflict, add_counters,
    },
    types::{BlobHash, Flags, Guid, Role, now_unix},
    writer::{Op, WriteCtx},
};

/// Everything `twinmail mirror status` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MirrorStatus {
    /// Messages added here, ever queued for the twin.
    pub queued_add: i64,
    /// ... of which the twin acknowledged.
    pub sent_add: i64,
    /// Bytes of the acknowledged adds.
    pub sent_add_bytes: i64,
    /// Bytes of adds still waiting.
    pub pending_add_bytes: i64,
    /// Messages expunged here, ever queued for the twin.
    pub queued_del: i64,
    /// ... of which the twin acknowledged.
    pub sent_del: i64,
    /// Messages added here by the twin's changes.
    pub recv_add: i64,
    /// Messages expunged here by the twin's changes.
    pub recv_del: i64,
    /// Folders renamed here by the twin's changes.
    pub recv_rename: i64,
    /// Flag changes applied from the twin (one per message).
    pub recv_flags: i64,
    /// Other changes applied from the twin (accounts, folders, aliases, ...).
    pub recv_other: i64,
    /// Twin changes that could not be applied here (see `last_error`).
    pub failed: i64,
    /// Connections refused on the mirror port (wrong secret, garbage, wrong version).
    pub rejected: i64,
    /// The newest sequence number in this twin's log.
    pub last_seq: i64,
    /// The newest one the twin acknowledged.
    pub acked_seq: i64,
    /// Age in seconds of the oldest change the twin has not acknowledged, if any.
    pub lag_secs: Option<i64>,
    /// "up", "down" or "never", as last recorded by the running server.
    pub link: String,
    /// Unix time of the last change of `link`.
    pub link_since: i64,
    /// Unix time the twins were last known linked (kept within a minute while linked,
    /// and across restarts); 0 if never.
    pub last_linked: i64,
    /// The twin's node id, once a link has been made.
    pub peer: String,
    /// True once this twin holds a complete copy of the twin's data (initial sync done).
    pub synced: bool,
    /// Sync mode fell back to async after a timeout (cleared when the twin catches up).
    pub sync_fallback: bool,
    /// The last problem, with its time.
    pub last_error: String,
    /// When the last audit against the twin ran (Unix seconds; 0: never).
    pub audit_at: i64,
    /// How many differences it found.
    pub audit_differences: i64,
    /// The first of them, named.
    pub audit_first: String,
    /// Writes this twin forwarded to the accounts' home twin and saw done there.
    pub forwarded: i64,
    /// Message bytes those writes carried.
    pub forwarded_bytes: i64,
    /// Forwarded writes that failed or stayed in doubt (the client heard a temporary
    /// failure, or the home's refusal).
    pub forward_failed: i64,
    /// `failed` as it stood at the last audit that found the twins equal: failures above
    /// it are conflicts nobody has seen resolved.
    pub failed_at_clean_audit: i64,
    /// Messages held for the split merge, plus mailboxes whose split-time changes the home
    /// twin has yet to re-emit: the twins differ until the merge has run.
    pub merging: i64,
    /// Messages the split merges renumbered here (on the home twin) or took renumbered.
    pub renumbered: i64,
    /// Messages the audit's repairs announced again, expunged again, renumbered or
    /// re-flagged here.
    pub repaired: i64,
}

impl MirrorStatus {
    /// Changes still waiting for the twin's acknowledgement.
    pub fn pending(&self) -> i64 {
        self.last_seq - self.acked_seq
    }

    /// Conflicts not known to be resolved: changes of the twin's that could not be applied
    /// since the last clean audit, or the differences the last audit found.
    pub fn unresolved(&self) -> i64 {
        let failed = (self.failed - self.failed_at_clean_audit).max(0);
        failed.max(if self.audit_at > 0 {
            self.audit_differences
        } else {
            0
        })
    }

    /// Linked, nothing waiting to go out, initial sync done, and no unresolved conflict.
    pub fn in_sync(&self) -> bool {
        self.link == "up"
            && self.pending() == 0
            && self.synced
            && self.unresolved() == 0
            && self.merging == 0
    }

    /// The one-line state: "in sync", or what stands in the way.
    pub fn state(&self) -> String {
        if self.in_sync() {
            "in sync".into()
        } else if self.unresolved() > 0 {
            format!(
                "diverged: {} conflicts, see `twinmail mirror verify`",
                self.unresolved()
            )
        } else if self.merging > 0 && self.link == "up" {
            format!(
                "merging a split: {} waiting (if this stays, see `twinmail mirror verify`)",
                self.merging
            )
        } else if !self.synced {
            "initial sync not complete".into()
        } else if self.link != "up" {
            "twin not connected".into()
        } else {
            "catching up".into()
        }
    }
}

impl fmt::Display for MirrorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Mirror out: Que/sent add={}/{} ({} bytes) del={}/{}",
            self.queued_add, self.sent_add, self.sent_add_bytes, self.queued_del, self.sent_del
        )?;
        writeln!(
            f,
            "Mirror in: Received add={} del={} rename={} failed={}",
            self.recv_add, self.recv_del, self.recv_rename, self.failed
        )?;
        writeln!(
            f,
            "Mirror in: flags={} other={}; refused peers={}",
            self.recv_flags, self.recv_other, self.rejected
        )?;
        writeln!(
            f,
            "Forwarded to the home twin: writes={} ({} bytes) failed={}",
            self.forwarded, self.forwarded_bytes, self.forward_failed
        )?;
        writeln!(
            f,
            "Split merge: renumbered={} waiting={} Audit repairs: {}",
            self.renumbered, self.merging, self.repaired
        )?;
        let peer = if self.peer.is_empty() {
            "-"
        } else {
            &self.peer
        };
        writeln!(
            f,
            "Link: {} since {} (twin {peer}); log {}/{} acknowledged, lag {} s{}",
            self.link,
            self.link_since,
            self.acked_seq,
            self.last_seq,
            self.lag_secs.unwrap_or(0),
            if self.sync_fallback {
                "; sync mode fell back to async"
            } else {
                ""
            }
        )?;
        writeln!(f, "State: {}", self.state())?;
        if self.audit_at > 0 {
            match self.audit_differences {
                0 => writeln!(f, "Audit: the twins matched at {}", self.audit_at)?,
                n => writeln!(
                    f,
                    "Audit: {n} differences at {} (first: {})",
                    self.audit_at, self.audit_first
                )?,
            }
        }
        if !self.last_error.is_empty() {
            writeln!(f, "Last error: {}", self.last_error)?;
        }
        Ok(())
    }
}

/// One mailbox as `mirror verify` compares it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MailboxDigest {
    /// The owning account's name.
    pub account: String,
    /// The mailbox's GUID.
    pub guid: Guid,
    /// Its name.
    pub name: String,
    /// Its UIDVALIDITY.
    pub uidvalidity: u32,
    /// Its UIDNEXT.
    pub uidnext: u32,
    /// Its HIGHESTMODSEQ.
    pub highestmodseq: u64,
    /// Whether it is subscribed.
    pub subscribed: bool,
    /// How many messages it holds.
    pub count: u64,
    /// SHA-256 over every message's UID, GUID, flags and MODSEQ, in UID order.
    pub digest: String,
}

/// One account as `mirror verify` compares it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountFacts {
    /// The login name.
    pub name: String,
    /// The GUID.
    pub guid: Guid,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// Disabled or not.
    pub disabled: bool,
    /// The home twin chosen by the admin, if any.
    pub home: Option<String>,
    /// The storage limit in bytes, if any.
    pub quota_bytes: Option<u64>,
    /// SHA-256 over the account's METADATA entries (with their mailboxes' GUIDs), its
    /// Sieve scripts (name, text, active) and its URLAUTH access keys (with their
    /// mailboxes' GUIDs), in order; empty from a twin too old to send it.
    #[serde(default)]
    pub settings: String,
}

/// One message as `mirror verify` compares it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DigestRow {
    /// Its UID.
    pub uid: u32,
    /// Its GUID.
    pub guid: Guid,
    /// Its flags.
    pub flags: String,
    /// Its MODSEQ.
    pub modseq: u64,
}

/// A mailbox whose messages differ from the twin's, narrowed down by the audit: what the
/// repair needs of the twin's side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Narrowed {
    /// The mailbox.
    pub mailbox: Guid,
    /// The UID ranges (inclusive) whose rows differ.
    pub ranges: Vec<(u32, u32)>,
    /// The twin's rows in those ranges.
    pub theirs: Vec<DigestRow>,
    /// The twin's UIDNEXT of the mailbox.
    pub uidnext: u32,
    /// The twin's HIGHESTMODSEQ of the mailbox.
    pub highestmodseq: u64,
}

/// Digest of a run of rows, as `MailboxDigest::digest` computes it.
pub fn digest_rows(rows: &[DigestRow]) -> String {
    let mut h = sha2::Sha256::new();
    for r in rows {
        h.update(format!("{} {} {} {}\n", r.uid, r.guid, r.flags, r.modseq));
    }
    hex::encode(h.finalize())
}

/// Sets one key of the mirror's state (in the writer's transaction).
pub(crate) async fn set_state(
    ctx: &mut WriteCtx,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mirror_state (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(&mut ctx.conn)
    .await?;
    Ok(())
}

/// Records facts about the mirror (link state, peer, last error).
struct SetState(Vec<(String, String)>);

impl Op for SetState {
    type Output = ();
    fn needs_savepoint(&self) -> bool {
        false
    }
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        for (k, v) in &self.0 {
            set_state(ctx, k, v).await?;
        }
        Ok(())
    }
}

/// Takes a pending `twinmail mirror resync`: forgets which incarnation of `origin`'s
/// database this twin synced from, so the next link brings a snapshot.
struct TakeResync(String);

impl Op for TakeResync {
    type Output = bool;
    fn needs_savepoint(&self) -> bool {
        false
    }
    async fn apply(self, ctx: &mut WriteCtx) -> Result<bool, StoreError> {
        let taken = sqlx::query("DELETE FROM mirror_state WHERE key = 'resync'")
            .execute(&mut ctx.conn)
            .await?
            .rows_affected()
            > 0;
        if taken {
            sqlx::query("UPDATE applied SET incarnation = '' WHERE origin = $1")
                .bind(&self.0)
                .execute(&mut ctx.conn)
                .await?;
        }
        Ok(taken)
    }
}

/// Uses up the admin's permission to merge a long split.
struct TakeLongSplitOk;

impl Op for TakeLongSplitOk {
    type Output = bool;
    fn needs_savepoint(&self) -> bool {
        false
    }
    async fn apply(self, ctx: &mut WriteCtx) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("DELETE FROM mirror_state WHERE key = 'long_split_ok'")
                .execute(&mut ctx.conn)
                .await?
                .rows_affected()
                > 0,
        )
    }
}

/// Moves the log past `seq`: the changes logged since this database was opened (after
/// the restore, never shipped) are renumbered, in their order, to follow `seq`, and the
/// counter is raised so that nothing later reuses a number the twin has seen.
struct SkipLogTo(i64);

impl Op for SkipLogTo {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let opened = state_int(&mut ctx.conn, "opened_at").await?;
        let moved: i64 = sqlx::query_scalar("SELECT count(*) FROM changelog WHERE seq > $1")
            .bind(opened)
            .fetch_one(&mut ctx.conn)
            .await?;
        let top = self.0.max(opened) + moved;
        // Two steps, through negative numbers, so no renumbered row meets another.
        sqlx::query(
            "UPDATE changelog SET seq = -seq WHERE seq > $1; \
             UPDATE changelog SET seq = $2 + (SELECT count(*) FROM changelog c WHERE c.seq < 0 AND c.seq >= changelog.seq) WHERE seq < 0; \
             INSERT INTO sqlite_sequence (name, seq) SELECT 'changelog', $3 \
             WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'changelog'); \
             UPDATE sqlite_sequence SET seq = max(seq, $3) WHERE name = 'changelog'",
        )
        .bind(opened)
        .bind(self.0.max(opened))
        .bind(top)
        .execute(&mut ctx.conn)
        .await?;
        ctx.skip_seq_to(top);
        set_state(ctx, "acked", &self.0.to_string()).await?;
        set_state(
            ctx,
            "last_error",
            &format!(
                "{} the twin had applied this twin's log up to {} but it ended lower: restored from a backup? Run mirror verify",
                now_unix(),
                self.0
            ),
        )
        .await
    }
}

/// Adds to counters.
struct Count(&'static str, i64);

impl Op for Count {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        add_counters(ctx, &[(self.0, self.1)]).await
    }
}

/// Adds to several counters.
struct Counts(Vec<(&'static str, i64)>);

impl Op for Counts {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        add_counters(ctx, &self.0).await
    }
}

/// The twin acknowledged this twin's log up to `seq`: counts what it took, remembers the
/// position and trims the log behind it (a twin that later needs more gets a snapshot).
struct RecordAck {
    seq: i64,
}

impl Op for RecordAck {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let acked = state_int(&mut ctx.conn, "acked").await?;
        if self.seq <= acked {
            return Ok(());
        }
        let (adds, bytes, dels) = log_counts(&mut ctx.conn, acked, self.seq).await?;
        add_counters(
            ctx,
            &[
                ("sent_add", adds),
                ("sent_add_bytes", bytes),
                ("sent_del", dels),
            ],
        )
        .await?;
        set_state(ctx, "acked", &self.seq.to_string()).await?;
        sqlx::query("DELETE FROM changelog WHERE seq <= $1")
            .bind(self.seq)
            .execute(&mut ctx.conn)
            .await?;
        Ok(())
    }
}

async fn state_int<'e>(db: impl sqlx::SqliteExecutor<'e>, key: &str) -> Result<i64, StoreError> {
    let v: Option<String> = sqlx::query_scalar("SELECT value FROM mirror_state WHERE key = $1")
        .bind(key)
        .fetch_optional(db)
        .await?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// The newest sequence number ever handed out (the AUTOINCREMENT counter outlives trims).
pub(crate) async fn last_seq<'e>(db: impl sqlx::SqliteExecutor<'e>) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changelog'), 0), \
         coalesce((SELECT max(seq) FROM changelog), 0))",
    )
    .fetch_one(db)
    .await?)
}

/// Message adds (count, bytes) and expunged messages in the log between two positions.
async fn log_counts<'e>(
    db: impl sqlx::SqliteExecutor<'e>,
    after: i64,
    upto: i64,
) -> Result<(i64, i64, i64), StoreError> {
    Ok(sqlx::query_as(
        "SELECT coalesce(sum(kind = 'message_added'), 0), \
                coalesce(sum(CASE WHEN kind = 'message_added' THEN json_extract(payload, '$.size') END), 0), \
                coalesce(sum(CASE WHEN kind = 'messages_expunged' THEN json_array_length(payload, '$.messages') END), 0) \
         FROM changelog WHERE seq > $1 AND seq <= $2",
    )
    .bind(after)
    .bind(upto)
    .fetch_one(db)
    .await?)
}

/// A consistent, read-only view of the whole store at one point of its log, from which
/// an initial sync streams (a read transaction: later writes do not show through).
pub struct Snapshot {
    /// The read transaction.
    tx: Transaction<'static, Sqlite>,
    /// The log position this view corresponds to: the twin continues from `seq + 1`.
    pub seq: i64,
}

/// Row shapes of the snapshot and digest queries.
type AccountTuple = (Vec<u8>, String, String, bool, Option<String>, Option<i64>);
type MailboxTuple = (Vec<u8>, Vec<u8>, String, Option<String>, i64, bool);
/// An annotation as a snapshot reads it: account, mailbox (none: the server), entry,
/// value.
type AnnotationTuple = (Vec<u8>, Option<Vec<u8>>, String, Vec<u8>);

type TombstoneTuple = (Vec<u8>, Vec<u8>, i64, Vec<u8>, i64);
type DigestTuple = (i64, String, Vec<u8>, String, i64, i64, i64, bool);
type MessageTuple = (
    i64,
    Vec<u8>,
    Vec<u8>,
    i64,
    Vec<u8>,
    Vec<u8>,
    i64,
    i64,
    Option<i64>,
    String,
    i64,
);

impl Snapshot {
    /// Domains, accounts, aliases, mailboxes, DKIM keys, Sieve scripts, vacation replies,
    /// METADATA entries, URLAUTH access keys and tombstones, as the changes that make
    /// them. (The outbound queue comes in [`Self::queue`].)
    pub async fn meta(&mut self) -> Result<Vec<Change>, StoreError> {
        let mut out = Vec::new();
        let domains: Vec<String> = sqlx::query_scalar("SELECT name FROM domains ORDER BY name")
            .fetch_all(&mut *self.tx)
            .await?;
        out.extend(
            domains
                .into_iter()
                .map(|domain| Change::DomainAdded { domain }),
        );
        let accounts: Vec<AccountTuple> = sqlx::query_as(
            "SELECT guid, name, password_hash, disabled, home, quota_bytes FROM accounts ORDER BY id",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        for (guid, name, password_hash, disabled, home, quota) in accounts {
            let account = Guid::from_slice(&guid)?;
            out.push(Change::AccountCreated {
                account,
                name,
                password_hash,
            });
            out.push(Change::AccountDisabled { account, disabled });
            out.push(Change::AccountHome { account, home });
            out.push(Change::AccountQuota {
                account,
                quota_bytes: quota.map(|q| q as u64),
            });
        }
        let aliases: Vec<(String, String)> =
            sqlx::query_as("SELECT address, target FROM aliases ORDER BY address, target")
                .fetch_all(&mut *self.tx)
                .await?;
        out.extend(
            aliases
                .into_iter()
                .map(|(address, target)| Change::AliasAdded { address, target }),
        );
        let mailboxes: Vec<MailboxTuple> = sqlx::query_as(
            "SELECT a.guid, m.guid, m.name, m.role, m.uidvalidity, m.subscribed \
                 FROM mailboxes m JOIN accounts a ON a.id = m.account_id ORDER BY m.id",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        for (account, mailbox, name, role, uidvalidity, subscribed) in mailboxes {
            out.push(Change::MailboxCreated {
                account: Guid::from_slice(&account)?,
                mailbox: Guid::from_slice(&mailbox)?,
                name,
                role: role.as_deref().and_then(Role::parse),
                uidvalidity: uidvalidity as u32,
                subscribed,
                knew: None,
            });
        }
        let keys: Vec<(String, String, String, Vec<u8>, i64)> = sqlx::query_as(
            "SELECT domain, selector, algorithm, private_key, created_at FROM dkim_keys \
             ORDER BY domain, selector",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        for (domain, selector, algorithm, der, at) in keys {
            use base64::Engine;
            out.push(Change::DkimKeyAdded {
                domain,
                selector,
                algorithm,
                private_key: base64::engine::general_purpose::STANDARD.encode(der),
                at,
            });
        }
        let scripts: Vec<(Vec<u8>, String, String, bool)> = sqlx::query_as(
            "SELECT a.guid, s.name, s.script, s.active FROM sieve_scripts s \
             JOIN accounts a ON a.id = s.account_id ORDER BY a.id, s.name",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        for (account, name, script, active) in scripts {
            let account = Guid::from_slice(&account)?;
            out.push(Change::SieveScriptPut {
                account,
                name: name.clone(),
                script,
            });
            if active {
                out.push(Change::SieveActivated {
                    account,
                    name: Some(name),
                });
            }
        }
        let vacation: Vec<(Vec<u8>, String, String, i64)> = sqlx::query_as(
            "SELECT a.guid, v.handle, v.sender, v.until FROM sieve_vacation v \
             JOIN accounts a ON a.id = v.account_id ORDER BY a.id",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        for (account, handle, sender, until) in vacation {
            out.push(Change::VacationReplied {
                account: Guid::from_slice(&account)?,
                handle,
                sender,
                until,
            });
        }
        let annotations: Vec<AnnotationTuple> = sqlx::query_as(
            "SELECT a.guid, m.guid, x.entry, x.value FROM metadata x \
             JOIN accounts a ON a.id = x.account_id LEFT JOIN mailboxes m ON m.id = x.mailbox_id \
             ORDER BY x.account_id, x.mailbox_id, x.entry",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        for (account, mailbox, entry, value) in annotations {
            use base64::Engine;
            out.push(Change::MetadataSet {
                account: Guid::from_slice(&account)?,
                mailbox: mailbox.map(|m| Guid::from_slice(&m)).transpose()?,
                entry,
                value: Some(base64::engine::general_purpose::STANDARD.encode(value)),
            });
        }
        let keys: Vec<crate::ops::access_key::KeyTuple> =
            sqlx::query_as(crate::ops::access_key::ALL_KEYS)
                .fetch_all(&mut *self.tx)
                .await?;
        for row in keys {
            out.push(crate::ops::access_key::as_change(row)?);
        }
        let tombstones: Vec<TombstoneTuple> = sqlx::query_as(
            "SELECT a.guid, m.guid, e.uid, e.guid, e.modseq FROM expunged e \
             JOIN mailboxes m ON m.id = e.mailbox_id JOIN accounts a ON a.id = m.account_id \
             ORDER BY e.mailbox_id, e.modseq, e.uid",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        for (account, mailbox, uid, message, modseq) in tombstones {
            let (account, mailbox) = (Guid::from_slice(&account)?, Guid::from_slice(&mailbox)?);
            let e = Expunged {
                message: Guid::from_slice(&message)?,
                uid: uid as u32,
            };
            match out.last_mut() {
                Some(Change::MessagesExpunged {
                    mailbox: m,
                    modseq: s,
                    messages,
                    ..
                }) if *m == mailbox && *s == modseq as u64 => messages.push(e),
                _ => out.push(Change::MessagesExpunged {
                    account,
                    mailbox,
                    modseq: modseq as u64,
                    messages: vec![e],
                }),
            }
        }
        Ok(out)
    }

    /// Up to `limit` messages after the one with local id `after`, as `MessageAdded`
    /// changes with their current flags and MODSEQ; each with its local id (the cursor).
    pub async fn messages(
        &mut self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, Change)>, StoreError> {
        let rows: Vec<MessageTuple> = sqlx::query_as(
            "SELECT m.id, a.guid, b.guid, m.uid, m.guid, m.blob, m.size, m.internal_date, m.saved, m.flags, m.modseq \
             FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id JOIN accounts a ON a.id = b.account_id \
             WHERE m.id > $1 ORDER BY m.id LIMIT $2",
        )
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.into_iter()
            .map(
                |(id, account, mailbox, uid, guid, blob, size, date, saved, flags, modseq)| {
                    Ok((
                        id,
                        Change::MessageAdded {
                            account: Guid::from_slice(&account)?,
                            mailbox: Guid::from_slice(&mailbox)?,
                            message: Guid::from_slice(&guid)?,
                            uid: uid as u32,
                            modseq: modseq as u64,
                            blob: BlobHash::from_slice(&blob)?,
                            size: size as u64,
                            internal_date: date,
                            saved,
                            flags: Flags::parse(&flags),
                        },
                    ))
                },
            )
            .collect()
    }

    /// The outbound queue, as the changes that make it: each message `Queued` by its
    /// owner, then, when it was tried, one `QueueAttempt` by its owner with what became of
    /// each recipient so far (a rebuilt twin then never sends to a recipient the owner
    /// delivered, and takes the queue over after the lease like any twin), and `Hold`
    /// when an admin held it. The attempt count starts again at one.
    pub async fn queue(&mut self) -> Result<Vec<Change>, StoreError> {
        let rows: Vec<crate::queue::QueueRow> = sqlx::query_as(
            "SELECT id, owner, sender, blob, size, created_at, next_attempt, attempts, held, \
             delay_notified, last_reply FROM queue ORDER BY created_at, id",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, owner, from, blob, size, at, next_attempt, attempts, held, delay_notified, _) in
            rows
        {
            let rcpts: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT rcpt, state, reply FROM queue_rcpts WHERE queue_id = $1 ORDER BY rcpt",
            )
            .bind(&id)
            .fetch_all(&mut *self.tx)
            .await?;
            let id = Guid::from_slice(&id)?;
            out.push(Change::Queued {
                id,
                owner: owner.clone(),
                from,
                recipients: rcpts.iter().map(|r| r.0.clone()).collect(),
                blob: BlobHash::from_slice(&blob)?,
                size: size as u64,
                at,
            });
            if attempts > 0 {
                out.push(Change::QueueAttempt {
                    id,
                    by: owner,
                    at,
                    outcomes: rcpts
                        .into_iter()
                        .map(|(rcpt, state, reply)| RcptOutcome {
                            rcpt,
                            state: RcptState::from_db(&state),
                            reply,
                        })
                        .collect(),
                    next_attempt,
                    delay_notified,
                });
            }
            if held {
                out.push(Change::QueueControl {
                    id,
                    action: QueueAction::Hold,
                });
            }
        }
        Ok(out)
    }

    /// Every mailbox's UIDNEXT and HIGHESTMODSEQ (sent after the messages).
    pub async fn mailbox_states(&mut self) -> Result<Vec<Change>, StoreError> {
        let rows: Vec<(Vec<u8>, Vec<u8>, i64, i64)> = sqlx::query_as(
            "SELECT a.guid, m.guid, m.uidnext, m.highestmodseq FROM mailboxes m \
             JOIN accounts a ON a.id = m.account_id ORDER BY m.id",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        rows.into_iter()
            .map(|(account, mailbox, uidnext, highestmodseq)| {
                Ok(Change::MailboxState {
                    account: Guid::from_slice(&account)?,
                    mailbox: Guid::from_slice(&mailbox)?,
                    uidnext: uidnext as u32,
                    highestmodseq: highestmodseq as u64,
                })
            })
            .collect()
    }

    /// These messages' bytes, by hash (the ones held).
    pub async fn blobs(
        &mut self,
        hashes: &[BlobHash],
    ) -> Result<std::collections::HashMap<BlobHash, Vec<u8>>, StoreError> {
        let mut out = std::collections::HashMap::with_capacity(hashes.len());
        for chunk in hashes.chunks(500) {
            let mut q =
                sqlx::QueryBuilder::<Sqlite>::new("SELECT hash, data FROM blobs WHERE hash IN (");
            let mut sep = q.separated(", ");
            for h in chunk {
                sep.push_bind(&h.0[..]);
            }
            q.push(")");
            let rows: Vec<(Vec<u8>, Vec<u8>)> = q.build_query_as().fetch_all(&mut *self.tx).await?;
            for (h, data) in rows {
                out.insert(BlobHash::from_slice(&h)?, data);
            }
        }
        Ok(out)
    }
}

impl Store {
    /// This database's incarnation: a random id made when it was created. A twin rebuilt
    /// from scratch has a new one, which tells its partner to send a snapshot.
    pub fn incarnation(&self) -> &str {
        self.incarnation_str()
    }

    /// Applies changes from the twin, in order, exactly once, in one transaction.
    pub async fn apply_remote_batch(
        &self,
        origin: &str,
        changes: Vec<RemoteChange>,
    ) -> Result<Vec<Applied>, StoreError> {
        let (applied, merge_due) = self
            .submit(ApplyRemote {
                origin: origin.to_string(),
                changes,
            })
            .await?;
        if merge_due {
            self.merge_due()
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(applied)
    }

    /// On the home twin, once it has applied everything `twin` logged: merges what both
    /// twins did while apart (see `ops::merge`). Cheap when there is nothing to merge.
    /// Returns how many messages were renumbered.
    pub async fn merge(&self, twin: &str) -> Result<usize, StoreError> {
        if !self
            .merge_due()
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Ok(0);
        }
        let result = self
            .submit(Merge {
                twin: twin.to_string(),
            })
            .await;
        if result.is_err() {
            self.merge_due()
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        result
    }

    /// The audit's repair of a mailbox that differs from `twin`'s by the merge's rules (see
    /// `ops::repair`). Returns how many messages were repaired.
    pub async fn repair(&self, twin: &str, n: Narrowed) -> Result<usize, StoreError> {
        self.submit(crate::ops::repair::Repair {
            twin: twin.to_string(),
            mailbox: n.mailbox,
            ranges: n.ranges,
            theirs: n.theirs,
            their_uidnext: n.uidnext,
            their_highestmodseq: n.highestmodseq,
        })
        .await
    }

    /// Passes over a twin's change that cannot be applied here, counting it as failed.
    pub async fn skip_remote(&self, origin: &str, seq: i64, error: &str) -> Result<(), StoreError> {
        self.submit(SkipRemote {
            origin: origin.to_string(),
            seq,
            error: format!("{} {error}", now_unix()),
        })
        .await
    }

    /// Applies one page of the twin's snapshot (idempotent).
    pub async fn apply_snapshot(
        &self,
        origin: &str,
        changes: Vec<RemoteChange>,
    ) -> Result<(), StoreError> {
        self.submit(ApplySnapshot {
            origin: origin.to_string(),
            changes,
        })
        .await
    }

    /// Adds to the mirror's counters (by name: `fwd_writes`, `fwd_bytes`, `fwd_failed`).
    pub async fn add_mirror_counters(
        &self,
        amounts: &[(&'static str, i64)],
    ) -> Result<(), StoreError> {
        self.submit(Counts(amounts.to_vec())).await
    }

    /// Counts a snapshot row that cannot be applied here (the snapshot goes on).
    pub async fn snapshot_conflict(&self, origin: &str, error: &str) -> Result<(), StoreError> {
        self.submit(SnapshotConflict {
            origin: origin.to_string(),
            error: format!("{} {error}", now_unix()),
        })
        .await
    }

    /// Ends the twin's snapshot: its log is applied from `seq + 1` on.
    pub async fn finish_snapshot(
        &self,
        origin: &str,
        incarnation: &str,
        seq: i64,
    ) -> Result<(), StoreError> {
        self.submit(FinishSnapshot {
            origin: origin.to_string(),
            incarnation: incarnation.to_string(),
            seq,
        })
        .await
    }

    /// Where this twin stands with `origin`'s log: the incarnation it last synced from
    /// (empty if never) and the highest sequence applied.
    pub async fn remote_position(&self, origin: &str) -> Result<(String, i64), StoreError> {
        Ok(
            sqlx::query_as("SELECT incarnation, seq FROM applied WHERE origin = $1")
                .bind(origin)
                .fetch_optional(self.db())
                .await?
                .unwrap_or((String::new(), 0)),
        )
    }

    /// The oldest sequence number still in the log (the next one when it is empty).
    pub async fn log_start(&self) -> Result<i64, StoreError> {
        let min: Option<i64> = sqlx::query_scalar("SELECT min(seq) FROM changelog")
            .fetch_one(self.db())
            .await?;
        match min {
            Some(m) => Ok(m),
            None => Ok(last_seq(self.db()).await? + 1),
        }
    }

    /// Opens a consistent snapshot of everything, for an initial sync.
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut tx = self.db().begin().await?;
        let seq = last_seq(&mut *tx).await?;
        Ok(Snapshot { tx, seq })
    }

    /// Records where the log stands as the server starts: what the mirror renumbers if
    /// this database turns out to be restored from a backup (see `skip_log_to`).
    pub async fn mark_started(&self) -> Result<(), StoreError> {
        let seq = self.last_seq().await?.to_string();
        self.set_mirror_state(&[("opened_at", &seq)]).await
    }

    /// Makes the log continue after `seq` (the twin has seen numbers up to there from a
    /// database this one was restored from), and records why.
    pub async fn skip_log_to(&self, seq: i64) -> Result<(), StoreError> {
        self.submit(SkipLogTo(seq)).await
    }

    /// The twin acknowledged this twin's log up to `seq`.
    pub async fn record_ack(&self, seq: i64) -> Result<(), StoreError> {
        self.submit(RecordAck { seq }).await
    }

    /// Records facts about the link (`link`, `peer`, `link_since`, `last_error`, ...).
    pub async fn set_mirror_state(&self, facts: &[(&str, &str)]) -> Result<(), StoreError> {
        self.submit(SetState(
            facts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
        .await
    }

    /// Asks for a fresh copy of the twin's data (`twinmail mirror resync`): the running
    /// mirror drops the link and the twin sends a snapshot on the next one.
    pub async fn request_resync(&self) -> Result<(), StoreError> {
        self.set_mirror_state(&[("resync", &now_unix().to_string())])
            .await
    }

    /// Lets the next link-up merge a split longer than the tombstone period (which is
    /// refused otherwise: mail expunged early in it could come back).
    pub async fn allow_long_split(&self) -> Result<(), StoreError> {
        self.set_mirror_state(&[("long_split_ok", &now_unix().to_string())])
            .await
    }

    /// Whether the admin allowed merging a long split; the permission is used up.
    pub async fn take_long_split_ok(&self) -> Result<bool, StoreError> {
        self.submit(TakeLongSplitOk).await
    }

    /// Whether a resync was asked for and not yet begun.
    pub async fn resync_requested(&self) -> Result<bool, StoreError> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM mirror_state WHERE key = 'resync'")
                .fetch_one(self.db())
                .await?
                > 0,
        )
    }

    /// Begins a requested resync with `origin`, if there is one; true when it did.
    pub async fn take_resync(&self, origin: &str) -> Result<bool, StoreError> {
        self.submit(TakeResync(origin.to_string())).await
    }

    /// Counts a refused mirror connection.
    pub async fn count_rejected_peer(&self) -> Result<(), StoreError> {
        self.submit(Count("rejected", 1)).await
    }

    /// The mirror's counters and state.
    pub async fn mirror_status(&self) -> Result<MirrorStatus, StoreError> {
        let counters: Vec<(String, i64)> =
            sqlx::query_as("SELECT name, value FROM mirror_counters")
                .fetch_all(self.db())
                .await?;
        let state: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM mirror_state")
            .fetch_all(self.db())
            .await?;
        let c = |n: &str| counters.iter().find(|c| c.0 == n).map(|c| c.1).unwrap_or(0);
        let s = |k: &str| {
            state
                .iter()
                .find(|s| s.0 == k)
                .map(|s| s.1.clone())
                .unwrap_or_default()
        };
        let acked = s("acked").parse().unwrap_or(0);
        let last_seq = last_seq(self.db()).await?;
        let (adds, bytes, dels) = log_counts(self.db(), acked, i64::MAX).await?;
        let oldest: Option<i64> =
            sqlx::query_scalar("SELECT min(created_at) FROM changelog WHERE seq > $1")
                .bind(acked)
                .fetch_one(self.db())
                .await?;
        let peer = s("peer");
        let synced = !peer.is_empty() && !self.remote_position(&peer).await?.0.is_empty();
        let link = s("link");
        let merging: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM held) + (SELECT count(*) FROM merge_pending)",
        )
        .fetch_one(self.db())
        .await?;
        Ok(MirrorStatus {
            merging,
            renumbered: c("renumbered"),
            repaired: c("repaired"),
            queued_add: c("sent_add") + adds,
            sent_add: c("sent_add"),
            sent_add_bytes: c("sent_add_bytes"),
            pending_add_bytes: bytes,
            queued_del: c("sent_del") + dels,
            sent_del: c("sent_del"),
            recv_add: c("recv_add"),
            recv_del: c("recv_del"),
            recv_rename: c("recv_rename"),
            recv_flags: c("recv_flags"),
            recv_other: c("recv_other"),
            failed: c("failed"),
            rejected: c("rejected"),
            last_seq,
            acked_seq: acked,
            lag_secs: oldest.map(|t| (now_unix() - t).max(0)),
            link: if link.is_empty() {
                "never".into()
            } else {
                link
            },
            link_since: s("link_since").parse().unwrap_or(0),
            last_linked: s("last_linked").parse().unwrap_or(0),
            peer,
            synced,
            sync_fallback: s("sync_fallback") == "1",
            last_error: s("last_error"),
            audit_at: s("audit_at").parse().unwrap_or(0),
            audit_differences: s("audit_differences").parse().unwrap_or(0),
            audit_first: s("audit_first"),
            failed_at_clean_audit: s("failed_at_clean_audit").parse().unwrap_or(0),
            forwarded: c("fwd_writes"),
            forwarded_bytes: c("fwd_bytes"),
            forward_failed: c("fwd_failed"),
        })
    }

    /// Every mailbox's digest, for `mirror verify`.
    pub async fn mailbox_digests(&self) -> Result<Vec<MailboxDigest>, StoreError> {
        let boxes: Vec<DigestTuple> = sqlx::query_as(
            "SELECT m.id, a.name, m.guid, m.name, m.uidvalidity, m.uidnext, m.highestmodseq, m.subscribed \
             FROM mailboxes m JOIN accounts a ON a.id = m.account_id ORDER BY a.name, m.name",
        )
        .fetch_all(self.db())
        .await?;
        let mut out = Vec::with_capacity(boxes.len());
        for (id, account, guid, name, uidvalidity, uidnext, highestmodseq, subscribed) in boxes {
            let rows = self.digest_rows_of(id, 0, u32::MAX).await?;
            out.push(MailboxDigest {
                account,
                guid: Guid::from_slice(&guid)?,
                name,
                uidvalidity: uidvalidity as u32,
                uidnext: uidnext as u32,
                highestmodseq: highestmodseq as u64,
                subscribed,
                count: rows.len() as u64,
                digest: digest_rows(&rows),
            });
        }
        Ok(out)
    }

    /// The messages of a mailbox with UIDs in `from..=to`, for `mirror verify`.
    pub async fn digest_rows(
        &self,
        mailbox: &Guid,
        from: u32,
        to: u32,
    ) -> Result<Vec<DigestRow>, StoreError> {
        match self.mailbox_by_guid(mailbox).await? {
            Some(m) => self.digest_rows_of(m.id, from, to).await,
            None => Ok(Vec::new()),
        }
    }

    async fn digest_rows_of(
        &self,
        id: i64,
        from: u32,
        to: u32,
    ) -> Result<Vec<DigestRow>, StoreError> {
        let rows: Vec<(i64, Vec<u8>, String, i64)> = sqlx::query_as(
            "SELECT uid, guid, flags, modseq FROM messages WHERE mailbox_id = $1 AND uid >= $2 AND uid <= $3 ORDER BY uid",
        )
        .bind(id)
        .bind(from as i64)
        .bind(to as i64)
        .fetch_all(self.db())
        .await?;
        rows.into_iter()
            .map(|(uid, guid, flags, modseq)| {
                Ok(DigestRow {
                    uid: uid as u32,
                    guid: Guid::from_slice(&guid)?,
                    flags,
                    modseq: modseq as u64,
                })
            })
            .collect()
    }

    /// Accounts with their password hashes, state and a digest of their annotations,
    /// Sieve scripts and URLAUTH access keys, for `mirror verify`.
    pub async fn account_facts(&self) -> Result<Vec<AccountFacts>, StoreError> {
        let rows: Vec<AccountTuple> = sqlx::query_as(
            "SELECT guid, name, password_hash, disabled, home, quota_bytes FROM accounts ORDER BY name",
        )
        .fetch_all(self.db())
        .await?;
        let mut settings = self.settings_digests().await?;
        rows.into_iter()
            .map(|(g, name, password_hash, disabled, home, quota)| {
                Ok(AccountFacts {
                    name,
                    settings: settings
                        .remove(&g)
                        .map(|h| hex::encode(h.finalize()))
                        .unwrap_or_else(|| hex::encode(sha2::Sha256::new().finalize())),
                    guid: Guid::from_slice(&g)?,
                    password_hash,
                    disabled,
                    home,
                    quota_bytes: quota.map(|q| q as u64),
                })
            })
            .collect()
    }

    /// Per account (by GUID), a hash fed with its METADATA entries, Sieve scripts and
    /// URLAUTH access keys.
    async fn settings_digests(
        &self,
    ) -> Result<std::collections::HashMap<Vec<u8>, sha2::Sha256>, StoreError> {
        let annotations: Vec<AnnotationTuple> = sqlx::query_as(
            "SELECT a.guid, m.guid, x.entry, x.value FROM metadata x \
             JOIN accounts a ON a.id = x.account_id LEFT JOIN mailboxes m ON m.id = x.mailbox_id \
             ORDER BY a.guid, m.guid, x.entry",
        )
        .fetch_all(self.db())
        .await?;
        let scripts: Vec<(Vec<u8>, String, String, bool)> = sqlx::query_as(
            "SELECT a.guid, s.name, s.script, s.active FROM sieve_scripts s \
             JOIN accounts a ON a.id = s.account_id ORDER BY a.guid, s.name",
        )
        .fetch_all(self.db())
        .await?;
        let mut out: std::collections::HashMap<Vec<u8>, sha2::Sha256> = Default::default();
        let feed = |h: &mut sha2::Sha256, parts: &[&[u8]]| {
            for p in parts {
                h.update((p.len() as u64).to_be_bytes());
                h.update(p);
            }
        };
        for (account, mailbox, entry, value) in &annotations {
            let h = out.entry(account.clone()).or_default();
            let mailbox = mailbox.as_deref().unwrap_or_default();
            feed(h, &[b"metadata", mailbox, entry.as_bytes(), value]);
        }
        for (account, name, script, active) in &scripts {
            let h = out.entry(account.clone()).or_default();
            let active: &[u8] = if *active { b"active" } else { b"" };
            feed(h, &[b"sieve", name.as_bytes(), script.as_bytes(), active]);
        }
        // The URLAUTH keys themselves go into the hash (SHA-256 shows nothing of them):
        // a key that differs between the twins breaks every URL made on the other one.
        let keys: Vec<crate::ops::access_key::KeyTuple> =
            sqlx::query_as(crate::ops::access_key::ALL_KEYS)
                .fetch_all(self.db())
                .await?;
        for (account, mailbox, key, _) in &keys {
            let h = out.entry(account.clone()).or_default();
            feed(h, &[b"access_key", mailbox, key]);
        }
        Ok(out)
    }
}

impl Store {
    /// Which of these blobs this store does not hold (an initial sync sends only those).
    pub async fn missing_blobs(&self, hashes: &[BlobHash]) -> Result<Vec<BlobHash>, StoreError> {
        let mut missing = Vec::new();
        for chunk in hashes.chunks(500) {
            let mut q = sqlx::QueryBuilder::<Sqlite>::new("SELECT hash FROM blobs WHERE hash IN (");
            let mut sep = q.separated(", ");
            for h in chunk {
                sep.push_bind(&h.0[..]);
            }
            q.push(")");
            let have: Vec<Vec<u8>> = q.build_query_scalar().fetch_all(self.db()).await?;
            missing.extend(
                chunk
                    .iter()
                    .filter(|h| !have.iter().any(|x| x[..] == h.0[..])),
            );
        }
        missing.dedup();
        Ok(missing)
    }
}

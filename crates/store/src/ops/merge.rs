//! The merge after a split (DESIGN.md "Split mode"): both twins took writes for one account
//! while apart, each numbering from its own UIDNEXT and MODSEQ.
//!
//! - Applying the twin's log, a message whose UID this twin already gave to another message
//!   (live, or expunged: a UID is never reused) is *held*: its bytes are stored, it is not
//!   shown to anyone, and nothing is refused.
//! - The account's home twin, once it has applied everything the twin logged, merges each
//!   mailbox that held messages or took split-time changes from the twin ([`Merge`]): both
//!   messages of each colliding UID get fresh UIDs above both twins' UIDNEXT, in
//!   (INTERNALDATE, GUID) order, as `MessageRenumbered` changes; every split-time change
//!   (flags, expunges) is re-emitted at a MODSEQ above both twins' HIGHESTMODSEQ, so that
//!   CONDSTORE/QRESYNC clients of either twin see it.
//! - The other twin applies those changes like any other: a renumbered message it holds
//!   moves (its clients see EXPUNGE and a new message, never a reused or falling UID); one
//!   it held is released at its new UID.
//!
//! Both twins end with the same UIDs, MODSEQs and tombstones; UIDVALIDITY never changes.

use std::collections::HashMap;

use crate::{
    Change, Expunged, FlagUpdate, Flags, Guid, StoreError,
    types::BlobHash,
    write::{home_twin, request_id},
    writer::{Op, WriteCtx},
};

/// What this twin knows of a mailbox a twin's change names.
#[derive(Clone, Copy)]
pub(crate) struct Local {
    /// Its row id here.
    pub id: i64,
    /// Its GUID here.
    pub guid: Guid,
    /// True when its account is homed on this twin (the twin's message changes for it are
    /// then split-time changes, to be merged).
    pub home: bool,
}

/// The mailbox a twin's change names, read once per batch.
pub(crate) async fn local_mailbox(
    ctx: &mut WriteCtx,
    guid: &Guid,
    origin: &str,
    cache: &mut HashMap<Guid, Local>,
) -> Result<Local, StoreError> {
    if let Some(l) = cache.get(guid) {
        return Ok(*l);
    }
    let row: Option<(i64, Vec<u8>, Option<String>)> = sqlx::query_as(
        "SELECT m.id, a.guid, a.home FROM mailboxes m JOIN accounts a ON a.id = m.account_id \
         WHERE m.guid = $1",
    )
    .bind(&guid.0[..])
    .fetch_optional(&mut ctx.conn)
    .await?;
    let (id, account, chosen) =
        row.ok_or_else(|| StoreError::NotFound(format!("mailbox {guid}")))?;
    let account = Guid::from_slice(&account)?;
    let node = ctx.node.clone();
    let home = home_twin(&node, origin, &account, chosen.as_deref()) == &*node;
    let l = Local {
        id,
        guid: *guid,
        home,
    };
    cache.insert(*guid, l);
    Ok(l)
}

/// The mailbox a twin's flag change or expunge is about, found by its first message when
/// the mailbox it names is gone here (deleted while apart: its mail may have been
/// recovered); `None` when neither is here (nothing to do).
pub(crate) async fn mailbox_of(
    ctx: &mut WriteCtx,
    guid: &Guid,
    message: Option<&Guid>,
    origin: &str,
    cache: &mut HashMap<Guid, Local>,
) -> Result<Option<Local>, StoreError> {
    match local_mailbox(ctx, guid, origin, cache).await {
        Err(StoreError::NotFound(_)) => {}
        other => return other.map(Some),
    }
    let Some(message) = message else {
        return Ok(None);
    };
    let found: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT b.guid FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.guid = $1 \
         UNION ALL SELECT b.guid FROM held h JOIN mailboxes b ON b.id = h.mailbox_id WHERE h.guid = $1",
    )
    .bind(&message.0[..])
    .fetch_optional(&mut ctx.conn)
    .await?;
    match found {
        Some(g) => Ok(Some(
            local_mailbox(ctx, &Guid::from_slice(&g)?, origin, cache).await?,
        )),
        None => Ok(None),
    }
}

/// The GUID of the tombstone a renumbered message leaves at its old UID: the same on both
/// twins, and never a message's own (so it cannot hide the message at its new UID).
fn moved_away(mailbox: &Guid, uid: u32) -> Guid {
    request_id(&[b"renumbered", &mailbox.0, &uid.to_be_bytes()])
}

/// A twin's message as a `MessageAdded` or `MessageRenumbered` describes it.
#[derive(Clone, Copy)]
pub(crate) struct Arrival<'a> {
    /// The owning account.
    pub account: &'a Guid,
    /// The mailbox.
    pub mailbox: &'a Guid,
    /// The message.
    pub message: &'a Guid,
    /// The UID the twin gave it.
    pub uid: u32,
    /// Its MODSEQ there.
    pub modseq: u64,
    /// Its bytes' address (stored here already).
    pub blob: &'a BlobHash,
    /// Its size.
    pub size: u64,
    /// Its INTERNALDATE.
    pub internal_date: i64,
    /// Its save date (RFC 8514), None when unknown (then read as the INTERNALDATE).
    pub saved: Option<i64>,
    /// Its flags.
    pub flags: &'a Flags,
}

impl Arrival<'_> {
    /// The `MessageAdded` an IMAP session of this twin is told of, at `uid`.
    fn added(&self, uid: u32, modseq: u64) -> Change {
        Change::MessageAdded {
            account: *self.account,
            mailbox: *self.mailbox,
            message: *self.message,
            uid,
            modseq,
            blob: *self.blob,
            size: self.size,
            internal_date: self.internal_date,
            saved: self.saved,
            flags: self.flags.clone(),
        }
    }
}

/// After a twin's message was not stored: holds it when its UID collides with another
/// message's here, live or expunged (true); a message here already, expunged here, or held
/// already is left alone (false).
pub(crate) async fn hold(
    ctx: &mut WriteCtx,
    mailbox_id: i64,
    a: &Arrival<'_>,
) -> Result<bool, StoreError> {
    let held = sqlx::query(
        "INSERT INTO held (guid, mailbox_id, uid, blob, size, internal_date, flags, modseq, saved) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
         WHERE NOT EXISTS (SELECT 1 FROM messages WHERE guid = $1) \
         AND NOT EXISTS (SELECT 1 FROM expunged WHERE guid = $1) \
         ON CONFLICT (guid) DO NOTHING",
    )
    .bind(&a.message.0[..])
    .bind(mailbox_id)
    .bind(a.uid as i64)
    .bind(&a.blob.0[..])
    .bind(a.size as i64)
    .bind(a.internal_date)
    .bind(a.flags.to_string())
    .bind(a.modseq as i64)
    .bind(a.saved)
    .execute(&mut ctx.conn)
    .await?
    .rows_affected();
    if held > 0 {
        tracing::info!(
            uid = a.uid,
            "mirror: a message of the twin's collides with one here; held for the merge"
        );
    }
    Ok(held > 0)
}

/// Whether this twin holds the bytes at `blob`.
pub(crate) async fn have_bytes(ctx: &mut WriteCtx, blob: &BlobHash) -> Result<bool, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM blobs WHERE hash = $1)")
            .bind(&blob.0[..])
            .fetch_one(&mut ctx.conn)
            .await?,
    )
}

/// Notes when the flags that differ between `was` and `now` changed, on `node`'s clock.
pub(crate) async fn stamp_flags(
    ctx: &mut WriteCtx,
    message: &Guid,
    was: &Flags,
    now: &Flags,
    at: u64,
    node: &str,
) -> Result<(), StoreError> {
    for flag in now.minus(was).iter().chain(was.minus(now).iter()) {
        sqlx::query(
            "INSERT INTO flag_clock (guid, flag, at, node) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (guid, flag) DO UPDATE SET at = excluded.at, node = excluded.node \
             WHERE (excluded.at, excluded.node) > (flag_clock.at, flag_clock.node)",
        )
        .bind(&message.0[..])
        .bind(flag)
        .bind(at as i64)
        .bind(node)
        .execute(&mut ctx.conn)
        .await?;
    }
    Ok(())
}

/// Whether this twin changed `flag` of `message` after the twin's change at `at` (on a
/// tie, whether this twin's node id is the greater). A change without a clock (an older
/// twin's) is taken as the later.
async fn changed_here_later(
    ctx: &mut WriteCtx,
    message: &Guid,
    flag: &str,
    at: Option<u64>,
    origin: &str,
) -> Result<bool, StoreError> {
    let Some(at) = at else {
        return Ok(false);
    };
    let here: Option<(i64, String)> =
        sqlx::query_as("SELECT at, node FROM flag_clock WHERE guid = $1 AND flag = $2")
            .bind(&message.0[..])
            .bind(flag)
            .fetch_optional(&mut ctx.conn)
            .await?;
    Ok(here.is_some_and(|(t, node)| (t as u64, node.as_str()) > (at, origin)))
}

/// The flags a twin's split-time change leaves on the home twin: what it added and
/// removed, applied to the flags here (which may hold the home's own split-time changes),
/// flag by flag; where both twins changed one flag, the later change (by the flag clock)
/// wins.
pub(crate) async fn merged_flags(
    ctx: &mut WriteCtx,
    u: &FlagUpdate,
    origin: &str,
) -> Result<Flags, StoreError> {
    let Some(was) = &u.was else {
        return Ok(u.flags.clone());
    };
    let here: Option<String> = sqlx::query_scalar(
        "SELECT flags FROM messages WHERE guid = $1 UNION ALL SELECT flags FROM held WHERE guid = $1",
    )
    .bind(&u.message.0[..])
    .fetch_optional(&mut ctx.conn)
    .await?;
    let Some(here) = here else {
        return Ok(u.flags.clone());
    };
    let mut out = Flags::parse(&here);
    for flag in u.flags.minus(was).iter() {
        if !changed_here_later(ctx, &u.message, flag, u.at, origin).await? {
            out = out.union(&Flags::new([flag]));
        }
    }
    for flag in was.minus(&u.flags).iter() {
        if !changed_here_later(ctx, &u.message, flag, u.at, origin).await? {
            out = out.minus(&Flags::new([flag]));
        }
    }
    Ok(out)
}

/// A twin's flag change for one message: the message here (wherever its UID is now) or
/// held. Returns its UID here, for this twin's sessions (none when held or gone).
pub(crate) async fn set_flags(
    ctx: &mut WriteCtx,
    message: &Guid,
    flags: &Flags,
    modseq: u64,
) -> Result<Option<u32>, StoreError> {
    let uid: Option<i64> = sqlx::query_scalar(
        "UPDATE messages SET flags = $1, modseq = $2 WHERE guid = $3 RETURNING uid",
    )
    .bind(flags.to_string())
    .bind(modseq as i64)
    .bind(&message.0[..])
    .fetch_optional(&mut ctx.conn)
    .await?;
    if uid.is_none() {
        sqlx::query("UPDATE held SET flags = $1 WHERE guid = $2")
            .bind(flags.to_string())
            .bind(&message.0[..])
            .execute(&mut ctx.conn)
            .await?;
    }
    Ok(uid.map(|u| u as u32))
}

/// A twin's expunge of one message: removed wherever it is here (or held: on the home
/// twin marked gone, since the merge must still move the message at its UID), its
/// tombstone kept at the highest MODSEQ told. Returns the UID it had here, for this twin's
/// sessions.
pub(crate) async fn expunge(
    ctx: &mut WriteCtx,
    local: Local,
    e: &Expunged,
    modseq: u64,
) -> Result<Option<u32>, StoreError> {
    let live: Option<(i64, i64)> =
        sqlx::query_as("DELETE FROM messages WHERE guid = $1 RETURNING mailbox_id, uid")
            .bind(&e.message.0[..])
            .fetch_optional(&mut ctx.conn)
            .await?;
    let (mailbox, uid) = live.unwrap_or((local.id, e.uid as i64));
    sqlx::query(
        "INSERT INTO expunged (guid, mailbox_id, uid, modseq) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (guid) DO UPDATE SET modseq = max(modseq, excluded.modseq); \
         UPDATE held SET gone = 1 WHERE guid = $1 AND $5; \
         DELETE FROM held WHERE guid = $1 AND NOT $5",
    )
    .bind(&e.message.0[..])
    .bind(mailbox)
    .bind(uid)
    .bind(modseq as i64)
    .bind(local.home)
    .execute(&mut ctx.conn)
    .await?;
    Ok(live.map(|l| l.1 as u32))
}

/// Moves a message here to `to`.
async fn move_to(
    ctx: &mut WriteCtx,
    message: &Guid,
    to: u32,
    modseq: u64,
    flags: Option<&Flags>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE messages SET uid = $1, modseq = $2, flags = coalesce($3, flags) WHERE guid = $4",
    )
    .bind(to as i64)
    .bind(modseq as i64)
    .bind(flags.map(|f| f.to_string()))
    .bind(&message.0[..])
    .execute(&mut ctx.conn)
    .await?;
    Ok(())
}

/// Every renumbering from `from` leaves this tombstone, on both twins alike (one per old
/// UID, whichever of its messages moved): QRESYNC clients hear that `from` vanished.
async fn moved_away_tombstone(
    ctx: &mut WriteCtx,
    mailbox: (i64, &Guid),
    from: u32,
    modseq: u64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO expunged (guid, mailbox_id, uid, modseq) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (guid) DO UPDATE SET modseq = max(modseq, excluded.modseq)",
    )
    .bind(&moved_away(mailbox.1, from).0[..])
    .bind(mailbox.0)
    .bind(from as i64)
    .bind(modseq as i64)
    .execute(&mut ctx.conn)
    .await?;
    Ok(())
}

/// Stores a message at `uid` (from the held rows or a renumbering), dropping it from `held`.
async fn place(
    ctx: &mut WriteCtx,
    mailbox_id: i64,
    a: &Arrival<'_>,
    uid: u32,
    modseq: u64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO messages (mailbox_id, uid, guid, blob, size, internal_date, flags, modseq, saved) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9); \
         DELETE FROM held WHERE guid = $3",
    )
    .bind(mailbox_id)
    .bind(uid as i64)
    .bind(&a.message.0[..])
    .bind(&a.blob.0[..])
    .bind(a.size as i64)
    .bind(a.internal_date)
    .bind(a.flags.to_string())
    .bind(modseq as i64)
    .bind(a.saved)
    .execute(&mut ctx.conn)
    .await?;
    Ok(())
}

/// The home twin's renumbering, applied here: the message moves to its new UID (it was
/// here), or is released from `held`, or is stored (its bytes are here); a message
/// expunged here stays expunged. Returns what this twin's sessions are told.
pub(crate) async fn apply_renumbered(
    ctx: &mut WriteCtx,
    mailbox_id: i64,
    a: &Arrival<'_>,
    to: u32,
) -> Result<Vec<Change>, StoreError> {
    let here: Option<(i64, i64)> =
        sqlx::query_as("SELECT mailbox_id, uid FROM messages WHERE guid = $1")
            .bind(&a.message.0[..])
            .fetch_optional(&mut ctx.conn)
            .await?;
    let mut seen = Vec::new();
    match here {
        Some((_, uid)) if uid as u32 == to => {}
        Some((_, uid)) => {
            let uid = uid as u32;
            move_to(ctx, a.message, to, a.modseq, Some(a.flags)).await?;
            seen.push(Change::MessagesExpunged {
                account: *a.account,
                mailbox: *a.mailbox,
                modseq: a.modseq,
                messages: vec![Expunged {
                    message: moved_away(a.mailbox, uid),
                    uid,
                }],
            });
            seen.push(a.added(to, a.modseq));
        }
        None => {
            let gone: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM expunged WHERE guid = $1) \
                 OR NOT EXISTS (SELECT 1 FROM blobs WHERE hash = $2)",
            )
            .bind(&a.message.0[..])
            .bind(&a.blob.0[..])
            .fetch_one(&mut ctx.conn)
            .await?;
            if !gone {
                place(ctx, mailbox_id, a, to, a.modseq).await?;
                seen.push(a.added(to, a.modseq));
            }
        }
    }
    if a.uid != to && a.uid != 0 {
        moved_away_tombstone(ctx, (mailbox_id, a.mailbox), a.uid, a.modseq).await?;
    }
    set_top(ctx, mailbox_id, to as i64 + 1, a.modseq).await?;
    Ok(seen)
}

/// Notes, on the home twin, that a mailbox took split-time changes from the twin: the
/// merge re-emits everything above `fork` (the lowest MODSEQ before any of them).
pub(crate) async fn note_pending(
    ctx: &mut WriteCtx,
    forks: &HashMap<i64, (u64, bool)>,
) -> Result<(), StoreError> {
    for (id, (fork, folder)) in forks {
        sqlx::query(
            "INSERT INTO merge_pending (mailbox_id, fork_modseq, folder) SELECT $1, $2, $3 \
             WHERE EXISTS (SELECT 1 FROM mailboxes WHERE id = $1) \
             ON CONFLICT (mailbox_id) DO UPDATE SET \
             fork_modseq = min(fork_modseq, excluded.fork_modseq), folder = max(folder, excluded.folder)",
        )
        .bind(id)
        .bind(*fork as i64)
        .bind(folder)
        .execute(&mut ctx.conn)
        .await?;
    }
    Ok(())
}

/// The home twin's merge of every mailbox homed here that held messages or took
/// split-time changes from `twin`. Run once this twin has applied everything the twin
/// logged (so both twins' UIDNEXT and HIGHESTMODSEQ are known here) and before it hands
/// out UIDs again. Returns how many messages were renumbered.
pub(crate) struct Merge {
    /// The twin's node id (the other party of every home decision).
    pub twin: String,
}

/// A held or colliding message, as the merge orders them.
struct Candidate {
    /// Held (the twin's, stored but not shown) rather than live here.
    held: bool,
    /// The message.
    guid: Guid,
    /// The UID it had (0: a recovered message that never had one in this mailbox).
    uid: u32,
    /// Its bytes' address.
    blob: BlobHash,
    /// Its size.
    size: u64,
    /// Its INTERNALDATE, the first sort key.
    date: i64,
    /// Its save date, if known.
    saved: Option<i64>,
    /// Its flags.
    flags: Flags,
}

type CandidateRow = (bool, Vec<u8>, i64, Vec<u8>, i64, i64, Option<i64>, String);

/// A message row: GUID, UID, blob, size, INTERNALDATE, save date, flags, MODSEQ.
type MessageRow = (Vec<u8>, i64, Vec<u8>, i64, i64, Option<i64>, String, i64);

impl Op for Merge {
    type Output = usize;
    async fn apply(self, ctx: &mut WriteCtx) -> Result<usize, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT mailbox_id FROM merge_pending UNION SELECT mailbox_id FROM held",
        )
        .fetch_all(&mut ctx.conn)
        .await?;
        let mut renumbered = 0;
        let mut cache = HashMap::new();
        for id in ids {
            let (guid, account): (Vec<u8>, Vec<u8>) = sqlx::query_as(
                "SELECT m.guid, a.guid FROM mailboxes m JOIN accounts a ON a.id = m.account_id \
                 WHERE m.id = $1",
            )
            .bind(id)
            .fetch_one(&mut ctx.conn)
            .await?;
            let (mailbox, account) = (Guid::from_slice(&guid)?, Guid::from_slice(&account)?);
            if !local_mailbox(ctx, &mailbox, &self.twin, &mut cache)
                .await?
                .home
            {
                // The twin's merge renumbers these; its changes release them here.
                continue;
            }
            renumbered += merge_mailbox(ctx, id, &account, &mailbox).await?;
        }
        Ok(renumbered)
    }
}

async fn merge_mailbox(
    ctx: &mut WriteCtx,
    id: i64,
    account: &Guid,
    mailbox: &Guid,
) -> Result<usize, StoreError> {
    let (mut uidnext, highest): (i64, i64) =
        sqlx::query_as("SELECT uidnext, highestmodseq FROM mailboxes WHERE id = $1")
            .bind(id)
            .fetch_one(&mut ctx.conn)
            .await?;
    let mut modseq = highest as u64;
    let fork: Option<(i64, bool)> = sqlx::query_as(
        "DELETE FROM merge_pending WHERE mailbox_id = $1 RETURNING fork_modseq, folder",
    )
    .bind(id)
    .fetch_optional(&mut ctx.conn)
    .await?;
    if let Some((fork, folder)) = fork {
        if fork < i64::MAX {
            modseq += 1;
            reemit(ctx, id, account, mailbox, fork, modseq).await?;
        }
        if folder {
            reemit_folder(ctx, id, account, mailbox).await?;
        }
    }
    let rows: Vec<CandidateRow> = sqlx::query_as(
        "SELECT true, guid, uid, blob, size, internal_date, saved, flags FROM held \
         WHERE mailbox_id = $1 AND gone = 0 \
         UNION ALL SELECT false, guid, uid, blob, size, internal_date, saved, flags FROM messages \
         WHERE mailbox_id = $1 AND uid IN (SELECT uid FROM held WHERE mailbox_id = $1)",
    )
    .bind(id)
    .fetch_all(&mut ctx.conn)
    .await?;
    sqlx::query("DELETE FROM held WHERE mailbox_id = $1 AND gone = 1")
        .bind(id)
        .execute(&mut ctx.conn)
        .await?;
    if rows.is_empty() {
        set_top(ctx, id, uidnext, modseq).await?;
        return Ok(0);
    }
    let mut all = rows
        .into_iter()
        .map(|(held, guid, uid, blob, size, date, saved, flags)| {
            Ok(Candidate {
                held,
                guid: Guid::from_slice(&guid)?,
                uid: uid as u32,
                blob: BlobHash::from_slice(&blob)?,
                size: size as u64,
                date,
                saved,
                flags: Flags::parse(&flags),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    all.sort_by_key(|c| (c.date, c.guid));
    modseq += 1;
    for c in &all {
        let to = uidnext as u32;
        uidnext += 1;
        let a = Arrival {
            account,
            mailbox,
            message: &c.guid,
            uid: c.uid,
            modseq,
            blob: &c.blob,
            size: c.size,
            internal_date: c.date,
            saved: c.saved,
            flags: &c.flags,
        };
        renumber(ctx, id, &a, to, c.held).await?;
    }
    tracing::info!(%mailbox, renumbered = all.len(), "mirror: merged a mailbox after a split");
    crate::ops::remote::add_counters(ctx, &[("renumbered", all.len() as i64)]).await?;
    set_top(ctx, id, uidnext, modseq).await?;
    Ok(all.len())
}

/// Gives a message (live here, or `held`) the UID `to` at `a.modseq`, on both twins: its
/// old UID leaves a tombstone, this twin's sessions see EXPUNGE and a new message, and
/// the twin is told by a `MessageRenumbered`.
pub(crate) async fn renumber(
    ctx: &mut WriteCtx,
    id: i64,
    a: &Arrival<'_>,
    to: u32,
    held: bool,
) -> Result<(), StoreError> {
    let mut seen = Vec::with_capacity(2);
    if a.uid != 0 {
        moved_away_tombstone(ctx, (id, a.mailbox), a.uid, a.modseq).await?;
    }
    if held {
        place(ctx, id, a, to, a.modseq).await?;
    } else {
        move_to(ctx, a.message, to, a.modseq, None).await?;
        seen.push(Change::MessagesExpunged {
            account: *a.account,
            mailbox: *a.mailbox,
            modseq: a.modseq,
            messages: vec![Expunged {
                message: moved_away(a.mailbox, a.uid),
                uid: a.uid,
            }],
        });
    }
    seen.push(a.added(to, a.modseq));
    ctx.log_seen_as(
        Change::MessageRenumbered {
            account: *a.account,
            mailbox: *a.mailbox,
            message: *a.message,
            from: a.uid,
            to,
            modseq: a.modseq,
            blob: *a.blob,
            size: a.size,
            internal_date: a.internal_date,
            saved: a.saved,
            flags: a.flags.clone(),
        },
        seen,
    )?;
    Ok(())
}

pub(crate) async fn set_top(
    ctx: &mut WriteCtx,
    id: i64,
    uidnext: i64,
    modseq: u64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE mailboxes SET uidnext = max(uidnext, $1), highestmodseq = max(highestmodseq, $2) \
         WHERE id = $3",
    )
    .bind(uidnext)
    .bind(modseq as i64)
    .bind(id)
    .execute(&mut ctx.conn)
    .await?;
    Ok(())
}

/// Tells the twin the folder's name and subscription as they stand here.
async fn reemit_folder(
    ctx: &mut WriteCtx,
    id: i64,
    account: &Guid,
    mailbox: &Guid,
) -> Result<(), StoreError> {
    let (name, subscribed): (String, bool) =
        sqlx::query_as("SELECT name, subscribed FROM mailboxes WHERE id = $1")
            .bind(id)
            .fetch_one(&mut ctx.conn)
            .await?;
    ctx.log(Change::MailboxRenamed {
        account: *account,
        mailbox: *mailbox,
        from: name.clone(),
        to: name,
    })
    .await?;
    ctx.log(Change::MailboxSubscribed {
        account: *account,
        mailbox: *mailbox,
        subscribed,
    })
    .await?;
    Ok(())
}

/// Re-emits every flag change and expunge above `fork` at `modseq`, on both twins.
async fn reemit(
    ctx: &mut WriteCtx,
    id: i64,
    account: &Guid,
    mailbox: &Guid,
    fork: i64,
    modseq: u64,
) -> Result<(), StoreError> {
    let live: Vec<(Vec<u8>, i64, String)> = sqlx::query_as(
        "UPDATE messages SET modseq = $3 WHERE mailbox_id = $1 AND modseq > $2 \
         RETURNING guid, uid, flags",
    )
    .bind(id)
    .bind(fork)
    .bind(modseq as i64)
    .fetch_all(&mut ctx.conn)
    .await?;
    if !live.is_empty() {
        let mut messages = live
            .into_iter()
            .map(|(g, uid, flags)| {
                Ok(FlagUpdate {
                    message: Guid::from_slice(&g)?,
                    uid: uid as u32,
                    flags: Flags::parse(&flags),
                    was: None,
                    at: None,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        messages.sort_by_key(|m| m.uid);
        ctx.log(Change::FlagsChanged {
            account: *account,
            mailbox: *mailbox,
            modseq,
            messages,
        })
        .await?;
    }
    let gone: Vec<(Vec<u8>, i64)> = sqlx::query_as(
        "UPDATE expunged SET modseq = $3 WHERE mailbox_id = $1 AND modseq > $2 \
         RETURNING guid, uid",
    )
    .bind(id)
    .bind(fork)
    .bind(modseq as i64)
    .fetch_all(&mut ctx.conn)
    .await?;
    if !gone.is_empty() {
        let mut messages = gone
            .into_iter()
            .map(|(g, uid)| {
                Ok(Expunged {
                    message: Guid::from_slice(&g)?,
                    uid: uid as u32,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        messages.sort_by_key(|m| m.uid);
        // This twin's sessions were told of these expunges already.
        ctx.log_seen_as(
            Change::MessagesExpunged {
                account: *account,
                mailbox: *mailbox,
                modseq,
                messages,
            },
            Vec::new(),
        )?;
    }
    Ok(())
}

/// A folder of the twin's (created, or renamed) takes `name`, which this account already
/// uses for another folder: both twins named a folder so while apart. The folder with the
/// greater GUID takes `name-xxxxxx` (its GUID's first six hex digits), on both twins alike
/// and without a logged change (each twin applies the same rule to the same pair). Returns
/// the name for the twin's folder.
pub(crate) async fn make_room(
    ctx: &mut WriteCtx,
    account_id: i64,
    name: &str,
    incoming: &Guid,
) -> Result<String, StoreError> {
    let other: Option<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT id, guid FROM mailboxes WHERE account_id = $1 AND name = $2 AND guid != $3",
    )
    .bind(account_id)
    .bind(name)
    .bind(&incoming.0[..])
    .fetch_optional(&mut ctx.conn)
    .await?;
    let Some((id, guid)) = other else {
        return Ok(name.to_string());
    };
    let guid = Guid::from_slice(&guid)?;
    let suffixed = |g: &Guid| format!("{name}-{}", &g.to_string()[..6]);
    tracing::info!(
        name,
        "mirror: both twins named a folder so while apart; one gets a suffix"
    );
    if guid > *incoming {
        sqlx::query("UPDATE mailboxes SET name = $1 WHERE id = $2")
            .bind(suffixed(&guid))
            .bind(id)
            .execute(&mut ctx.conn)
            .await?;
        Ok(name.to_string())
    } else {
        Ok(suffixed(incoming))
    }
}

/// The account's recovery folder: mail one twin put into a folder the other deleted while
/// apart lands here, never dropped. Both twins make it alike (GUID and UIDVALIDITY derived
/// from the account's GUID, logged so a twin that needs it first has it); its messages
/// are held until the home twin's merge numbers them. Returns its row id.
async fn recovered(ctx: &mut WriteCtx, account: &Guid) -> Result<i64, StoreError> {
    let guid = request_id(&[b"recovered", &account.0]);
    if let Some(id) = sqlx::query_scalar::<_, i64>("SELECT id FROM mailboxes WHERE guid = $1")
        .bind(&guid.0[..])
        .fetch_optional(&mut ctx.conn)
        .await?
    {
        return Ok(id);
    }
    let owner = crate::rows::account_by_guid(&mut ctx.conn, account)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("account {account}")))?;
    let uidvalidity =
        u32::from_be_bytes([guid.0[0] & 0x7f, guid.0[1], guid.0[2], guid.0[3]]).max(1);
    let name = make_room(ctx, owner.id, "Recovered", &guid).await?;
    let m = crate::ops::insert_mailbox(
        ctx,
        crate::ops::NewMailbox {
            account_id: owner.id,
            guid,
            name: &name,
            role: None,
            uidvalidity,
            subscribed: true,
        },
    )
    .await?;
    ctx.log(Change::MailboxCreated {
        account: *account,
        mailbox: guid,
        name,
        role: None,
        uidvalidity,
        subscribed: true,
        knew: None,
    })
    .await?;
    tracing::warn!(%account, "mirror: mail for a folder deleted on the other twin goes to Recovered");
    Ok(m.id)
}

/// A twin's message for a folder this twin deleted while apart: held in the recovery
/// folder (UID 0: it never had one there) for the home's merge to number.
pub(crate) async fn recover_arrival(ctx: &mut WriteCtx, a: &Arrival<'_>) -> Result<(), StoreError> {
    let id = recovered(ctx, a.account).await?;
    hold(ctx, id, &Arrival { uid: 0, ..*a }).await?;
    Ok(())
}

/// Before a folder the twin deleted goes: the twin expunged (by GUID, in its log, just
/// before) every message it knew there; what is still here it never saw (mail this twin
/// took while apart), so it moves to the recovery folder (held, for the home's merge).
pub(crate) async fn recover_unseen(
    ctx: &mut WriteCtx,
    account: &Guid,
    mailbox: &Guid,
) -> Result<(), StoreError> {
    let unseen: Vec<MessageRow> = sqlx::query_as(
        "SELECT m.guid, m.uid, m.blob, m.size, m.internal_date, m.saved, m.flags, m.modseq \
         FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.guid = $1",
    )
    .bind(&mailbox.0[..])
    .fetch_all(&mut ctx.conn)
    .await?;
    if unseen.is_empty() {
        return Ok(());
    }
    let id = recovered(ctx, account).await?;
    for (guid, _, blob, size, date, saved, flags, modseq) in unseen {
        let (guid, blob) = (Guid::from_slice(&guid)?, BlobHash::from_slice(&blob)?);
        sqlx::query("DELETE FROM messages WHERE guid = $1")
            .bind(&guid.0[..])
            .execute(&mut ctx.conn)
            .await?;
        let flags = Flags::parse(&flags);
        hold(
            ctx,
            id,
            &Arrival {
                account,
                mailbox,
                message: &guid,
                uid: 0,
                modseq: modseq as u64,
                blob: &blob,
                size: size as u64,
                internal_date: date,
                saved,
                flags: &flags,
            },
        )
        .await?;
    }
    Ok(())
}

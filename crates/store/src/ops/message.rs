//! Message mutations: add (delivery, APPEND), flags (STORE), expunge, copy and move.

use std::sync::Arc;

use crate::{
    Change, StoreError,
    change::{Expunged, FlagUpdate},
    rows,
    types::{BlobHash, FlagMode, Flags, Guid, Message, Placed, now_unix},
    uidset::UidSet,
    writer::{Op, WriteCtx},
};

/// Message bytes with their hash, computed once outside the writer.
#[derive(Clone)]
pub(crate) struct Body {
    pub hash: BlobHash,
    pub bytes: Arc<Vec<u8>>,
}

/// Adds one message to each of several mailboxes: one SMTP delivery (each recipient's
/// INBOX) or one APPEND (one mailbox). All or nothing.
pub(crate) struct AddMessage {
    pub mailboxes: Vec<i64>,
    pub body: Body,
    pub flags: Flags,
    pub internal_date: i64,
}

impl Op for AddMessage {
    type Output = Vec<Placed>;
    /// One mailbox: a failure leaves at most an unreferenced blob or a skipped UID (both
    /// harmless) and logs nothing. Several mailboxes: all or none, so a savepoint.
    fn needs_savepoint(&self) -> bool {
        self.mailboxes.len() > 1
    }
    async fn apply(self, ctx: &mut WriteCtx) -> Result<Vec<Placed>, StoreError> {
        let mut placed = Vec::with_capacity(self.mailboxes.len());
        // The save date (RFC 8514) is this twin's clock now: this is the home twin (or a
        // twin apart from it), and the change carries the date to the other.
        let saved = now_unix();
        for (i, mailbox_id) in self.mailboxes.into_iter().enumerate() {
            let guid = Guid::random();
            let size = self.body.bytes.len() as u64;
            // The blob goes in with the first copy; the others reference it.
            let sql = if i == 0 { ADD_WITH_BLOB } else { ADD };
            let row: Option<AddedRow> = sqlx::query_as(sql)
                .bind(&self.body.hash.0[..])
                .bind(size as i64)
                .bind(&self.body.bytes[..])
                .bind(mailbox_id)
                .bind(&guid.0[..])
                .bind(self.internal_date)
                .bind(self.flags.to_string())
                .bind(saved)
                .fetch_optional(&mut ctx.conn)
                .await?;
            let (uid, modseq, uidvalidity, mailbox, account) =
                row.ok_or_else(|| StoreError::NotFound("mailbox".into()))?;
            if uid >= i64::from(u32::MAX) {
                return Err(StoreError::NotAllowed("mailbox has run out of UIDs".into()));
            }
            let (uid, modseq) = (uid as u32, modseq as u64);
            let (mailbox, account) = (Guid::from_slice(&mailbox)?, Guid::from_slice(&account)?);
            ctx.log(Change::MessageAdded {
                account,
                mailbox,
                message: guid,
                uid,
                modseq,
                blob: self.body.hash,
                size,
                internal_date: self.internal_date,
                saved: Some(saved),
                flags: self.flags.clone(),
            })
            .await?;
            placed.push(Placed {
                mailbox,
                uidvalidity: uidvalidity as u32,
                uid,
                guid,
            });
        }
        Ok(placed)
    }
}

/// What adding one message returns: UID, MODSEQ, UIDVALIDITY, mailbox GUID, account GUID.
type AddedRow = (i64, i64, i64, Vec<u8>, Vec<u8>);

/// Adds one message in one round trip to SQLite: reserve the next UID and MODSEQ, insert
/// the row with them, return what the change log needs. Statements share the numbered
/// parameters ($1 hash, $2 size, $3 bytes, $4 mailbox, $5 GUID, $6 date, $7 flags, $8 save
/// date). A
/// missing mailbox inserts nothing and returns no row.
const ADD: &str = "UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1 WHERE id = $4; \
    INSERT INTO messages (mailbox_id, uid, guid, blob, size, internal_date, flags, modseq, saved) \
    SELECT id, uidnext - 1, $5, $1, $2, $6, $7, highestmodseq, $8 FROM mailboxes WHERE id = $4 AND changes() = 1 \
    RETURNING uid, modseq, \
    (SELECT uidvalidity FROM mailboxes WHERE id = $4), \
    (SELECT guid FROM mailboxes WHERE id = $4), \
    (SELECT a.guid FROM accounts a JOIN mailboxes m ON m.account_id = a.id WHERE m.id = $4)";

/// [`ADD`] with the blob stored too, written so that a missing mailbox leaves nothing
/// behind (this form runs without a savepoint): the UPDATE reserves the UID only while the
/// mailbox exists and has UIDs left; the blob goes in only if it did (`changes()`); the
/// message row only where both hold.
const ADD_WITH_BLOB: &str = "UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1 \
    WHERE id = $4 AND uidnext < 4294967295; \
    INSERT INTO blobs (hash, size, data) SELECT $1, $2, $3 WHERE changes() = 1 ON CONFLICT (hash) DO NOTHING; \
    INSERT INTO messages (mailbox_id, uid, guid, blob, size, internal_date, flags, modseq, saved) \
    SELECT id, uidnext - 1, $5, $1, $2, $6, $7, highestmodseq, $8 FROM mailboxes \
    WHERE id = $4 AND EXISTS (SELECT 1 FROM blobs WHERE hash = $1) \
    RETURNING uid, modseq, \
    (SELECT uidvalidity FROM mailboxes WHERE id = $4), \
    (SELECT guid FROM mailboxes WHERE id = $4), \
    (SELECT a.guid FROM accounts a JOIN mailboxes m ON m.account_id = a.id WHERE m.id = $4)";

/// UIDs and a MODSEQ reserved in one mailbox.
struct Slot {
    first_uid: u32,
    modseq: u64,
    mailbox: Guid,
    account: Guid,
}

/// Reserves `count` UIDs and the next MODSEQ in a mailbox (RFC 3501 §2.3.1.1: strictly
/// ascending, never reused). Fails when the 32-bit UID space would run out.
async fn allocate(ctx: &mut WriteCtx, mailbox_id: i64, count: u32) -> Result<Slot, StoreError> {
    type Row = (i64, i64, Vec<u8>, Vec<u8>);
    let row: Option<Row> = sqlx::query_as(
        "UPDATE mailboxes SET uidnext = uidnext + $2, highestmodseq = highestmodseq + 1 WHERE id = $1 \
         RETURNING uidnext - $2, highestmodseq, guid, \
         (SELECT guid FROM accounts WHERE accounts.id = mailboxes.account_id)",
    )
    .bind(mailbox_id)
    .bind(count as i64)
    .fetch_optional(&mut ctx.conn)
    .await?;
    let (first, modseq, mailbox, account) =
        row.ok_or_else(|| StoreError::NotFound("mailbox".into()))?;
    if first + count as i64 > u32::MAX as i64 {
        return Err(StoreError::NotAllowed("mailbox has run out of UIDs".into()));
    }
    Ok(Slot {
        first_uid: first as u32,
        modseq: modseq as u64,
        mailbox: Guid::from_slice(&mailbox)?,
        account: Guid::from_slice(&account)?,
    })
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_message(
    ctx: &mut WriteCtx,
    mailbox_id: i64,
    uid: u32,
    guid: &Guid,
    blob: &BlobHash,
    size: u64,
    internal_date: i64,
    saved: Option<i64>,
    flags: &Flags,
    modseq: u64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO messages (mailbox_id, uid, guid, blob, size, internal_date, saved, flags, modseq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(mailbox_id)
    .bind(uid as i64)
    .bind(&guid.0[..])
    .bind(&blob.0[..])
    .bind(size as i64)
    .bind(internal_date)
    .bind(saved)
    .bind(flags.to_string())
    .bind(modseq as i64)
    .execute(&mut ctx.conn)
    .await?;
    Ok(())
}

/// STORE: changes flags of the messages in `uids`, all at one new MODSEQ.
pub(crate) struct StoreFlags {
    pub mailbox_id: i64,
    pub uids: UidSet,
    pub mode: FlagMode,
    pub flags: Flags,
    /// CONDSTORE's UNCHANGEDSINCE: messages changed after it are left alone and reported.
    pub unchanged_since: Option<u64>,
}

/// What a STORE did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FlagsStored {
    /// Messages whose flags changed: UID, new flags.
    pub changed: Vec<(u32, Flags)>,
    /// The MODSEQ the changed messages now carry (unchanged when nothing changed).
    pub modseq: u64,
    /// UIDs left alone because they changed after UNCHANGEDSINCE (RFC 7162 MODIFIED).
    pub modified: Vec<u32>,
}

impl Op for StoreFlags {
    type Output = FlagsStored;
    async fn apply(self, ctx: &mut WriteCtx) -> Result<FlagsStored, StoreError> {
        let mailbox = rows::mailbox_by_id(&mut ctx.conn, self.mailbox_id)
            .await?
            .ok_or_else(|| StoreError::NotFound("mailbox".into()))?;
        let messages = self.uids.load(&mut ctx.conn, self.mailbox_id).await?;
        let mut out = FlagsStored {
            modseq: mailbox.highestmodseq,
            ..Default::default()
        };
        let modseq = mailbox.highestmodseq + 1;
        let at = ctx.tick();
        let node = ctx.node.clone();
        let mut updates = Vec::new();
        for m in messages {
            if self.unchanged_since.is_some_and(|since| m.modseq > since) {
                out.modified.push(m.uid);
                continue;
            }
            let new = match self.mode {
                FlagMode::Replace => self.flags.clone(),
                FlagMode::Add => m.flags.union(&self.flags),
                FlagMode::Remove => m.flags.minus(&self.flags),
            };
            if new == m.flags {
                continue;
            }
            set_flags(ctx, &m.guid, &new, modseq).await?;
            crate::ops::merge::stamp_flags(ctx, &m.guid, &m.flags, &new, at, &node).await?;
            updates.push(FlagUpdate {
                message: m.guid,
                uid: m.uid,
                flags: new.clone(),
                was: Some(m.flags.clone()),
                at: Some(at),
            });
            out.changed.push((m.uid, new));
        }
        if updates.is_empty() {
            return Ok(out);
        }
        set_highestmodseq(ctx, self.mailbox_id, modseq).await?;
        out.modseq = modseq;
        let account = rows::account_guid_by_id(&mut ctx.conn, mailbox.account_id).await?;
        ctx.log(Change::FlagsChanged {
            account,
            mailbox: mailbox.guid,
            modseq,
            messages: updates,
        })
        .await?;
        Ok(out)
    }
}

/// Raises a mailbox's HIGHESTMODSEQ (never lowers it: remote changes may arrive with
/// older MODSEQs). Shared by local changes and `apply_remote`.
pub(crate) async fn set_highestmodseq(
    ctx: &mut WriteCtx,
    mailbox_id: i64,
    modseq: u64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE mailboxes SET highestmodseq = max(highestmodseq, $1) WHERE id = $2")
        .bind(modseq as i64)
        .bind(mailbox_id)
        .execute(&mut ctx.conn)
        .await?;
    Ok(())
}

/// Sets one message's flags and MODSEQ (local STORE and `apply_remote`).
pub(crate) async fn set_flags(
    ctx: &mut WriteCtx,
    message: &Guid,
    flags: &Flags,
    modseq: u64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE messages SET flags = $1, modseq = $2 WHERE guid = $3")
        .bind(flags.to_string())
        .bind(modseq as i64)
        .bind(&message.0[..])
        .execute(&mut ctx.conn)
        .await?;
    Ok(())
}

/// Removes one message and leaves its tombstone, in one round trip (local EXPUNGE and
/// MOVE). A message has one tombstone, at the highest MODSEQ told.
pub(crate) async fn tombstone(
    ctx: &mut WriteCtx,
    mailbox_id: i64,
    uid: u32,
    message: &Guid,
    modseq: u64,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM messages WHERE guid = $3; \
         INSERT INTO expunged (mailbox_id, uid, guid, modseq) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (guid) DO UPDATE SET modseq = max(modseq, excluded.modseq)",
    )
    .bind(mailbox_id)
    .bind(uid as i64)
    .bind(&message.0[..])
    .bind(modseq as i64)
    .execute(&mut ctx.conn)
    .await?;
    Ok(())
}

/// EXPUNGE / UID EXPUNGE / POP3 UPDATE: removes messages, leaving tombstones.
pub(crate) struct Expunge {
    pub mailbox_id: i64,
    /// Restricts to these UIDs (UID EXPUNGE, POP3 DELE); `None` means all.
    pub uids: Option<UidSet>,
    /// Expunge only messages flagged `\Deleted` (IMAP); POP3 passes false.
    pub only_deleted: bool,
}

impl Op for Expunge {
    type Output = Vec<u32>;
    async fn apply(self, ctx: &mut WriteCtx) -> Result<Vec<u32>, StoreError> {
        let mailbox = rows::mailbox_by_id(&mut ctx.conn, self.mailbox_id)
            .await?
            .ok_or_else(|| StoreError::NotFound("mailbox".into()))?;
        let uids = self.uids.unwrap_or_else(UidSet::all);
        let mut messages = uids.load(&mut ctx.conn, self.mailbox_id).await?;
        if self.only_deleted {
            messages.retain(|m| m.flags.contains("\\Deleted"));
        }
        expunge_messages(ctx, &mailbox, &messages).await
    }
}

/// Deletes `messages` from `mailbox`, writes tombstones, logs one entry. Shared with MOVE.
pub(crate) async fn expunge_messages(
    ctx: &mut WriteCtx,
    mailbox: &crate::Mailbox,
    messages: &[Message],
) -> Result<Vec<u32>, StoreError> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let modseq = mailbox.highestmodseq + 1;
    let mut gone = Vec::with_capacity(messages.len());
    for m in messages {
        tombstone(ctx, mailbox.id, m.uid, &m.guid, modseq).await?;
        gone.push(Expunged {
            message: m.guid,
            uid: m.uid,
        });
    }
    set_highestmodseq(ctx, mailbox.id, modseq).await?;
    let account = rows::account_guid_by_id(&mut ctx.conn, mailbox.account_id).await?;
    let uids = gone.iter().map(|e| e.uid).collect();
    ctx.log(Change::MessagesExpunged {
        account,
        mailbox: mailbox.guid,
        modseq,
        messages: gone,
    })
    .await?;
    Ok(uids)
}

/// COPY / MOVE within one account.
pub(crate) struct CopyMessages {
    pub from: i64,
    pub uids: UidSet,
    pub to: i64,
    /// Expunge the originals in the same transaction (RFC 6851 MOVE).
    pub remove: bool,
}

/// What a COPY or MOVE did (RFC 4315 COPYUID).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Copied {
    /// UIDVALIDITY of the target mailbox.
    pub uidvalidity: u32,
    /// (source UID, new UID) pairs, ascending by source UID.
    pub uids: Vec<(u32, u32)>,
}

impl Op for CopyMessages {
    type Output = Copied;
    async fn apply(self, ctx: &mut WriteCtx) -> Result<Copied, StoreError> {
        let from = rows::mailbox_by_id(&mut ctx.conn, self.from)
            .await?
            .ok_or_else(|| StoreError::NotFound("mailbox".into()))?;
        let to = rows::mailbox_by_id(&mut ctx.conn, self.to)
            .await?
            .ok_or_else(|| StoreError::NotFound("target mailbox".into()))?;
        if from.account_id != to.account_id {
            return Err(StoreError::NotAllowed("copy across accounts".into()));
        }
        let messages = self.uids.load(&mut ctx.conn, self.from).await?;
        let mut out = Copied {
            uidvalidity: to.uidvalidity,
            uids: Vec::with_capacity(messages.len()),
        };
        if messages.is_empty() {
            return Ok(out);
        }
        let slot = allocate(ctx, self.to, messages.len() as u32).await?;
        // A copy keeps the INTERNALDATE and gets a save date of its own (RFC 8514 §3).
        let saved = now_unix();
        for (i, m) in messages.iter().enumerate() {
            let uid = slot.first_uid + i as u32;
            let guid = Guid::random();
            insert_message(
                ctx,
                self.to,
                uid,
                &guid,
                &m.blob,
                m.size,
                m.internal_date,
                Some(saved),
                &m.flags,
                slot.modseq,
            )
            .await?;
            ctx.log(Change::MessageAdded {
                account: slot.account,
                mailbox: slot.mailbox,
                message: guid,
                uid,
                modseq: slot.modseq,
                blob: m.blob,
                size: m.size,
                internal_date: m.internal_date,
                saved: Some(saved),
                flags: m.flags.clone(),
            })
            .await?;
            out.uids.push((m.uid, uid));
        }
        if self.remove {
            // Re-read: when source and target are one mailbox, allocate moved its MODSEQ.
            let from = rows::mailbox_by_id(&mut ctx.conn, self.from)
                .await?
                .ok_or_else(|| StoreError::NotFound("mailbox".into()))?;
            expunge_messages(ctx, &from, &messages).await?;
        }
        Ok(out)
    }
}

//! Housekeeping, hourly: tombstones past their keeping period are expired (each mailbox
//! remembers the highest MODSEQ it forgot, so QRESYNC still answers right), and message
//! bytes that nothing references any more are removed, in two steps an hour apart.

use crate::{
    StoreError,
    writer::{Op, WriteCtx},
};

/// How long bytes stay after nothing references them (a snapshot or a twin's want list in
/// flight may still ask for them).
const ORPHAN_GRACE_SECS: i64 = 3600;

/// What one round of housekeeping did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Housekept {
    /// Tombstones expired.
    pub tombstones: u64,
    /// Message bodies removed.
    pub blobs: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Bytes referenced by a message, a held or queued message, or a log entry the twin has not taken
/// yet (acknowledged entries are trimmed) are kept: the condition on `blobs AS b`.
macro_rules! unreferenced {
    () => {
        "NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob = b.hash) \
         AND NOT EXISTS (SELECT 1 FROM held h WHERE h.blob = b.hash) \
         AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob = b.hash) \
         AND lower(hex(b.hash)) NOT IN (SELECT json_extract(payload, '$.blob') FROM changelog \
         WHERE kind IN ('message_added', 'message_renumbered', 'queued'))"
    };
}

/// One round: expire tombstones, remove unreferenced bytes.
pub(crate) struct Housekeep {
    /// Tombstones older than this many seconds are expired.
    pub tombstone_secs: i64,
    /// The time to act as of (Unix seconds).
    pub now: i64,
}

impl Op for Housekeep {
    type Output = Housekept;
    async fn apply(self, ctx: &mut WriteCtx) -> Result<Housekept, StoreError> {
        let mut done = Housekept::default();
        let expired: Vec<(i64, i64)> =
            sqlx::query_as("DELETE FROM expunged WHERE at < $1 RETURNING mailbox_id, modseq")
                .bind(self.now - self.tombstone_secs)
                .fetch_all(&mut ctx.conn)
                .await?;
        done.tombstones = expired.len() as u64;
        sqlx::query(
            "DELETE FROM flag_clock WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.guid = flag_clock.guid) \
             AND NOT EXISTS (SELECT 1 FROM held h WHERE h.guid = flag_clock.guid)",
        )
        .execute(&mut ctx.conn)
        .await?;
        let mut tops = std::collections::HashMap::new();
        for (id, modseq) in expired {
            let top = tops.entry(id).or_insert(0);
            *top = modseq.max(*top);
        }
        for (id, top) in tops {
            sqlx::query(
                "UPDATE mailboxes SET vanished_before = max(vanished_before, $1) WHERE id = $2",
            )
            .bind(top)
            .bind(id)
            .execute(&mut ctx.conn)
            .await?;
        }
        let gone: Vec<(i64,)> = sqlx::query_as(concat!(
            "DELETE FROM blobs AS b WHERE hash IN (SELECT hash FROM blob_orphans WHERE since < $1) AND ",
            unreferenced!(),
            " RETURNING size"
        ))
        .bind(self.now - ORPHAN_GRACE_SECS)
        .fetch_all(&mut ctx.conn)
        .await?;
        done.blobs = gone.len() as u64;
        done.bytes = gone.iter().map(|g| g.0 as u64).sum();
        sqlx::query(concat!(
            "DELETE FROM blob_orphans WHERE since < $1; \
             INSERT INTO blob_orphans (hash, since) SELECT hash, $2 FROM blobs AS b WHERE ",
            unreferenced!(),
            " ON CONFLICT (hash) DO NOTHING"
        ))
        .bind(self.now - ORPHAN_GRACE_SECS)
        .bind(self.now)
        .execute(&mut ctx.conn)
        .await?;
        if done != Housekept::default() {
            tracing::info!(
                tombstones = done.tombstones,
                blobs = done.blobs,
                bytes = done.bytes,
                "housekeeping: expired tombstones, removed unreferenced message bytes"
            );
        }
        Ok(done)
    }
}

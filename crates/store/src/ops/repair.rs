//! The audit's repair (DESIGN.md "Audit"): a mailbox whose messages differ between the
//! twins after they were linked and quiet (a change refused on one side, a twin restored
//! from a backup) is repaired by the merge's rules, never by copying one side over the
//! other. Run on each twin with the twin's rows of the UID ranges that differ:
//!
//! - a message here that the twin lacks is announced again (its `MessageAdded`, same GUID,
//!   UID and bytes): the twin stores it, holds it when its UID is taken there (the home's
//!   merge then numbers both), or ignores it when it expunged it;
//! - a message the twin has that this twin expunged is expunged again, at a MODSEQ above
//!   both twins' (an expunge beats everything);
//! - on the account's home twin only: a message both hold under different UIDs gets a
//!   fresh UID above both twins' UIDNEXT (as the merge renumbers), and one whose flags or
//!   MODSEQ differ takes the home's flags at a MODSEQ above both.
//!
//! What the twin lacks and this twin never had is left to the twin's own repair. Nothing
//! repaired is told to this twin's sessions twice: the announcements are logged only.

use std::collections::HashMap;

use crate::{
    Change, Expunged, FlagUpdate, Flags, Guid, StoreError,
    mirror::DigestRow,
    ops::merge::{self, Arrival},
    types::BlobHash,
    writer::{Op, WriteCtx},
};

/// Repairs one mailbox against the twin's rows of `ranges`.
pub(crate) struct Repair {
    /// The twin's node id.
    pub twin: String,
    /// The mailbox.
    pub mailbox: Guid,
    /// The UID ranges (inclusive) the rows cover.
    pub ranges: Vec<(u32, u32)>,
    /// The twin's rows in those ranges.
    pub theirs: Vec<DigestRow>,
    /// The twin's UIDNEXT of the mailbox.
    pub their_uidnext: u32,
    /// The twin's HIGHESTMODSEQ of the mailbox.
    pub their_highestmodseq: u64,
}

/// A message row here: UID, GUID, flags, MODSEQ, blob, size, INTERNALDATE.
type Row = (i64, Vec<u8>, String, i64, Vec<u8>, i64, i64, Option<i64>);

/// A message of this twin's, as the repair needs it.
struct Mine {
    uid: u32,
    guid: Guid,
    flags: Flags,
    modseq: u64,
    blob: BlobHash,
    size: u64,
    date: i64,
    saved: Option<i64>,
}

impl Op for Repair {
    /// How many messages were repaired (announced, expunged, renumbered or re-flagged).
    type Output = usize;
    async fn apply(self, ctx: &mut WriteCtx) -> Result<usize, StoreError> {
        let local =
            match merge::local_mailbox(ctx, &self.mailbox, &self.twin, &mut HashMap::new()).await {
                Err(StoreError::NotFound(_)) => return Ok(0),
                other => other?,
            };
        let (account, uidnext, highest): (Vec<u8>, i64, i64) = sqlx::query_as(
            "SELECT a.guid, m.uidnext, m.highestmodseq FROM mailboxes m \
             JOIN accounts a ON a.id = m.account_id WHERE m.id = $1",
        )
        .bind(local.id)
        .fetch_one(&mut ctx.conn)
        .await?;
        let account = Guid::from_slice(&account)?;
        let mut mine = Vec::new();
        for (from, to) in &self.ranges {
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT uid, guid, flags, modseq, blob, size, internal_date, saved FROM messages \
                 WHERE mailbox_id = $1 AND uid >= $2 AND uid <= $3 ORDER BY uid",
            )
            .bind(local.id)
            .bind(*from as i64)
            .bind(*to as i64)
            .fetch_all(&mut ctx.conn)
            .await?;
            for (uid, guid, flags, modseq, blob, size, date, saved) in rows {
                mine.push(Mine {
                    uid: uid as u32,
                    guid: Guid::from_slice(&guid)?,
                    flags: Flags::parse(&flags),
                    modseq: modseq as u64,
                    blob: BlobHash::from_slice(&blob)?,
                    size: size as u64,
                    date,
                    saved,
                });
            }
        }
        let theirs: HashMap<Guid, &DigestRow> = self.theirs.iter().map(|r| (r.guid, r)).collect();
        let ours: HashMap<Guid, &Mine> = mine.iter().map(|m| (m.guid, m)).collect();
        let mut modseq = (highest as u64).max(self.their_highestmodseq);
        let mut uidnext = (uidnext as u32).max(self.their_uidnext);
        let mut repaired = 0;
        for m in &mine {
            let Some(t) = theirs.get(&m.guid) else {
                ctx.log_seen_as(
                    Change::MessageAdded {
                        account,
                        mailbox: self.mailbox,
                        message: m.guid,
                        uid: m.uid,
                        modseq: m.modseq,
                        blob: m.blob,
                        size: m.size,
                        internal_date: m.date,
                        saved: m.saved,
                        flags: m.flags.clone(),
                    },
                    Vec::new(),
                )?;
                repaired += 1;
                continue;
            };
            if !local.home {
                continue;
            }
            if t.uid != m.uid {
                modseq += 1;
                let to = uidnext;
                uidnext += 1;
                let a = Arrival {
                    account: &account,
                    mailbox: &self.mailbox,
                    message: &m.guid,
                    uid: m.uid,
                    modseq,
                    blob: &m.blob,
                    size: m.size,
                    internal_date: m.date,
                    saved: m.saved,
                    flags: &m.flags,
                };
                merge::renumber(ctx, local.id, &a, to, false).await?;
                repaired += 1;
            } else if t.flags != m.flags.to_string() || t.modseq != m.modseq {
                modseq += 1;
                merge::set_flags(ctx, &m.guid, &m.flags, modseq).await?;
                ctx.log(Change::FlagsChanged {
                    account,
                    mailbox: self.mailbox,
                    modseq,
                    messages: vec![FlagUpdate {
                        message: m.guid,
                        uid: m.uid,
                        flags: m.flags.clone(),
                        was: None,
                        at: None,
                    }],
                })
                .await?;
                repaired += 1;
            }
        }
        for t in &self.theirs {
            if ours.contains_key(&t.guid) {
                continue;
            }
            let gone: Option<i64> =
                sqlx::query_scalar("SELECT mailbox_id FROM expunged WHERE guid = $1")
                    .bind(&t.guid.0[..])
                    .fetch_optional(&mut ctx.conn)
                    .await?;
            if gone.is_none() {
                continue;
            }
            modseq += 1;
            sqlx::query("UPDATE expunged SET modseq = $1 WHERE guid = $2")
                .bind(modseq as i64)
                .bind(&t.guid.0[..])
                .execute(&mut ctx.conn)
                .await?;
            ctx.log_seen_as(
                Change::MessagesExpunged {
                    account,
                    mailbox: self.mailbox,
                    modseq,
                    messages: vec![Expunged {
                        message: t.guid,
                        uid: t.uid,
                    }],
                },
                Vec::new(),
            )?;
            repaired += 1;
        }
        if repaired > 0 {
            merge::set_top(ctx, local.id, uidnext as i64, modseq).await?;
            crate::ops::remote::add_counters(ctx, &[("repaired", repaired as i64)]).await?;
            tracing::warn!(mailbox = %self.mailbox, repaired, "mirror audit: repaired a mailbox that differed from the twin");
        }
        Ok(repaired)
    }
}

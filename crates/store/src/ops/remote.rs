//! `apply_remote`: applies one change from the twin, exactly once and in order per origin.
//!
//! The highest sequence applied from each origin is written in the same transaction as
//! the change itself. A change at or below it is a resend and is skipped; one above the
//! next expected number is refused (`Gap`), so the sender resends from the right place.
//! Applied changes are published to local watchers but never logged, so they are never
//! sent back (no ping-pong).

use crate::{
    Change, StoreError,
    ops::{
        NewMailbox,
        account::{delete_account_rows, insert_account},
        insert_blob, insert_mailbox,
        message::{Body, insert_message, set_flags, set_highestmodseq, tombstone},
    },
    rows,
    types::Mailbox,
    writer::{Op, WriteCtx},
};

/// One change from the twin, with the message bytes when it adds a message.
pub(crate) struct ApplyRemote {
    pub origin: String,
    pub seq: i64,
    pub change: Change,
    pub body: Option<Body>,
}

/// What `apply_remote` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The change was applied now.
    Applied,
    /// The change had been applied before; nothing was done.
    AlreadyApplied,
}

impl Op for ApplyRemote {
    type Output = Applied;
    async fn apply(self, ctx: &mut WriteCtx) -> Result<Applied, StoreError> {
        if self.origin == *ctx.node {
            return Err(StoreError::Invalid(
                "a change cannot be applied to its own origin".into(),
            ));
        }
        let last: i64 = sqlx::query_scalar("SELECT seq FROM applied WHERE origin = $1")
            .bind(&self.origin)
            .fetch_optional(&mut ctx.conn)
            .await?
            .unwrap_or(0);
        if self.seq <= last {
            return Ok(Applied::AlreadyApplied);
        }
        if self.seq != last + 1 {
            return Err(StoreError::Gap {
                origin: self.origin,
                expected: last + 1,
                got: self.seq,
            });
        }
        apply_change(ctx, &self.change, self.body.as_ref()).await?;
        sqlx::query(
            "INSERT INTO applied (origin, seq) VALUES ($1, $2) ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq",
        )
        .bind(&self.origin)
        .bind(self.seq)
        .execute(&mut ctx.conn)
        .await?;
        ctx.publish_remote(&self.origin, self.seq, self.change);
        Ok(Applied::Applied)
    }
}

async fn mailbox(ctx: &mut WriteCtx, guid: &crate::Guid) -> Result<Mailbox, StoreError> {
    rows::mailbox_by_guid(&mut ctx.conn, guid)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("mailbox {guid}")))
}

async fn exec(
    ctx: &mut WriteCtx,
    q: sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
) -> Result<u64, StoreError> {
    Ok(q.execute(&mut ctx.conn).await?.rows_affected())
}

async fn apply_change(
    ctx: &mut WriteCtx,
    change: &Change,
    body: Option<&Body>,
) -> Result<(), StoreError> {
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
                insert_account(ctx, *account, name, password_hash).await?;
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
        } => {
            if rows::mailbox_by_guid(&mut ctx.conn, mailbox)
                .await?
                .is_none()
            {
                let owner = rows::account_by_guid(&mut ctx.conn, account)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("account {account}")))?;
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
                // A mailbox this twin creates later (say the same name, after a delete)
                // must get a greater UIDVALIDITY than any it holds, even when the twin's
                // values ran ahead of this clock (RFC 3501 §2.3.1.1).
                exec(ctx, sqlx::query(
                    "INSERT INTO node (key, value) VALUES ('last_uidvalidity', $1) ON CONFLICT (key) \
                     DO UPDATE SET value = CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)",
                )
                .bind(uidvalidity.to_string())).await?;
            }
        }
        Change::MailboxRenamed { mailbox, to, .. } => {
            let m = self::mailbox(ctx, mailbox).await?;
            exec(
                ctx,
                sqlx::query("UPDATE mailboxes SET name = $1 WHERE id = $2")
                    .bind(to)
                    .bind(m.id),
            )
            .await?;
        }
        Change::MailboxDeleted { mailbox, .. } => {
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
            exec(
                ctx,
                sqlx::query("UPDATE mailboxes SET subscribed = $1 WHERE guid = $2")
                    .bind(subscribed)
                    .bind(&mailbox.0[..]),
            )
            .await?;
        }
        Change::MessageAdded {
            mailbox,
            message,
            uid,
            modseq,
            blob,
            size,
            internal_date,
            flags,
            ..
        } => {
            let m = self::mailbox(ctx, mailbox).await?;
            let known: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE guid = $1) OR EXISTS (SELECT 1 FROM expunged WHERE guid = $1)",
            )
            .bind(&message.0[..])
            .fetch_one(&mut ctx.conn)
            .await?;
            if known {
                return Ok(());
            }
            match body {
                Some(b) if b.hash == *blob => insert_blob(ctx, &b.hash, &b.bytes).await?,
                Some(_) => {
                    return Err(StoreError::Invalid(
                        "message bytes do not match their hash".into(),
                    ));
                }
                None => {
                    let have: bool =
                        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM blobs WHERE hash = $1)")
                            .bind(&blob.0[..])
                            .fetch_one(&mut ctx.conn)
                            .await?;
                    if !have {
                        return Err(StoreError::NotFound("message bytes".into()));
                    }
                }
            }
            insert_message(
                ctx,
                m.id,
                *uid,
                message,
                blob,
                *size,
                *internal_date,
                flags,
                *modseq,
            )
            .await?;
            exec(ctx, sqlx::query(
                "UPDATE mailboxes SET uidnext = max(uidnext, $1), highestmodseq = max(highestmodseq, $2) WHERE id = $3",
            )
            .bind(*uid as i64 + 1)
            .bind(*modseq as i64)
            .bind(m.id)).await?;
        }
        Change::FlagsChanged {
            mailbox,
            modseq,
            messages,
            ..
        } => {
            let m = self::mailbox(ctx, mailbox).await?;
            for u in messages {
                set_flags(ctx, &u.message, &u.flags, *modseq).await?;
            }
            set_highestmodseq(ctx, m.id, *modseq).await?;
        }
        Change::MessagesExpunged {
            mailbox,
            modseq,
            messages,
            ..
        } => {
            let m = self::mailbox(ctx, mailbox).await?;
            for e in messages {
                tombstone(ctx, m.id, e.uid, &e.message, *modseq).await?;
            }
            set_highestmodseq(ctx, m.id, *modseq).await?;
        }
    }
    Ok(())
}

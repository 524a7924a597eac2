//! Store mutations, one file per family. Each is an [`Op`](crate::writer::Op) run by the
//! single writer inside the group-commit transaction, and each logs what it changed.

pub(crate) mod access_key;
pub(crate) mod account;
pub(crate) mod domain;
pub(crate) mod fold;
pub(crate) mod housekeep;
pub(crate) mod mailbox;
pub(crate) mod merge;
pub(crate) mod message;
pub(crate) mod metadata;
pub(crate) mod queue;
pub(crate) mod remote;
pub(crate) mod repair;
pub(crate) mod sieve;

use crate::{
    StoreError,
    types::{Guid, Mailbox, Role},
    writer::WriteCtx,
};

/// A fresh UIDVALIDITY: the current time in seconds, or one more than the last handed
/// out, whichever is larger, so a re-created name never repeats an old value.
pub(crate) async fn next_uidvalidity(ctx: &mut WriteCtx) -> Result<u32, StoreError> {
    let last: Option<String> =
        sqlx::query_scalar("SELECT value FROM node WHERE key = 'last_uidvalidity'")
            .fetch_optional(&mut ctx.conn)
            .await?;
    let last: u32 = last.and_then(|v| v.parse().ok()).unwrap_or(0);
    let now = u32::try_from(crate::types::now_unix()).unwrap_or(u32::MAX);
    let next = now.max(last.saturating_add(1)).max(1);
    sqlx::query(
        "INSERT INTO node (key, value) VALUES ('last_uidvalidity', $1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(next.to_string())
    .execute(&mut ctx.conn)
    .await?;
    Ok(next)
}

/// What a new mailbox row holds.
pub(crate) struct NewMailbox<'a> {
    pub account_id: i64,
    pub guid: Guid,
    pub name: &'a str,
    pub role: Option<Role>,
    pub uidvalidity: u32,
    pub subscribed: bool,
}

/// Inserts a mailbox row (no logging: callers log local creations; remote ones are not).
pub(crate) async fn insert_mailbox(
    ctx: &mut WriteCtx,
    m: NewMailbox<'_>,
) -> Result<Mailbox, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO mailboxes (account_id, guid, name, role, uidvalidity, uidnext, highestmodseq, subscribed, created_name) \
         VALUES ($1, $2, $3, $4, $5, 1, 1, $6, $3) RETURNING id",
    )
    .bind(m.account_id)
    .bind(&m.guid.0[..])
    .bind(m.name)
    .bind(m.role.map(Role::as_str))
    .bind(m.uidvalidity as i64)
    .bind(m.subscribed)
    .fetch_one(&mut ctx.conn)
    .await?;
    Ok(Mailbox {
        id,
        account_id: m.account_id,
        guid: m.guid,
        name: m.name.to_string(),
        role: m.role,
        uidvalidity: m.uidvalidity,
        uidnext: 1,
        highestmodseq: 1,
        subscribed: m.subscribed,
    })
}

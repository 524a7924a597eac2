//! Sieve scripts and vacation replies (issue 16): each write logs a change, and the twin
//! applies the same function to it, so both twins run the same script and neither
//! answers a sender twice.

use crate::{
    Change, StoreError, rows,
    writer::{Op, WriteCtx},
};

/// A Sieve change made here: applied, then logged.
pub(crate) struct SieveOp(pub Change);

impl Op for SieveOp {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        check(ctx, &self.0).await?;
        apply(ctx, &self.0).await?;
        ctx.log(self.0).await?;
        Ok(())
    }
}

/// What a local change may not do: delete the active script, rename onto or activate a
/// name that is not there (ManageSieve's NO answers).
async fn check(ctx: &mut WriteCtx, change: &Change) -> Result<(), StoreError> {
    let (account, name, want_active, must_exist) = match change {
        Change::SieveScriptDeleted { account, name } => (account, name, Some(false), true),
        Change::SieveScriptRenamed { account, from, .. } => (account, from, None, true),
        Change::SieveActivated {
            account,
            name: Some(name),
        } => (account, name, None, true),
        _ => return Ok(()),
    };
    let id = account_id(ctx, account).await?;
    let active: Option<bool> =
        sqlx::query_scalar("SELECT active FROM sieve_scripts WHERE account_id = $1 AND name = $2")
            .bind(id)
            .bind(name)
            .fetch_optional(&mut ctx.conn)
            .await?;
    match active {
        None if must_exist => Err(StoreError::NotFound(format!("script {name}"))),
        Some(true) if want_active == Some(false) => Err(StoreError::NotAllowed(format!(
            "script {name} is active: activate another (or none) first"
        ))),
        _ => {
            if let Change::SieveScriptRenamed { to, .. } = change {
                let taken: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM sieve_scripts WHERE account_id = $1 AND name = $2)",
                )
                .bind(id)
                .bind(to)
                .fetch_one(&mut ctx.conn)
                .await?;
                if taken {
                    return Err(StoreError::AlreadyExists(format!("script {to}")));
                }
            }
            Ok(())
        }
    }
}

async fn account_id(ctx: &mut WriteCtx, guid: &crate::Guid) -> Result<i64, StoreError> {
    Ok(rows::account_by_guid(&mut ctx.conn, guid)
        .await?
        .ok_or_else(|| StoreError::NotFound("account".into()))?
        .id)
}

/// Applies a Sieve change (here or from the twin); a change for an account this twin
/// does not hold is passed over.
pub(crate) async fn apply(ctx: &mut WriteCtx, change: &Change) -> Result<(), StoreError> {
    let account = match change {
        Change::SieveScriptPut { account, .. }
        | Change::SieveScriptDeleted { account, .. }
        | Change::SieveScriptRenamed { account, .. }
        | Change::SieveActivated { account, .. }
        | Change::VacationReplied { account, .. } => account,
        _ => return Ok(()),
    };
    let Some(a) = rows::account_by_guid(&mut ctx.conn, account).await? else {
        return Ok(());
    };
    let q = match change {
        Change::SieveScriptPut { name, script, .. } => sqlx::query(
            "INSERT INTO sieve_scripts (account_id, name, script, updated_at) \
             VALUES ($1, $2, $3, unixepoch()) ON CONFLICT (account_id, name) \
             DO UPDATE SET script = excluded.script, updated_at = excluded.updated_at",
        )
        .bind(a.id)
        .bind(name)
        .bind(script),
        Change::SieveScriptDeleted { name, .. } => {
            sqlx::query("DELETE FROM sieve_scripts WHERE account_id = $1 AND name = $2")
                .bind(a.id)
                .bind(name)
        }
        Change::SieveScriptRenamed { from, to, .. } => sqlx::query(
            "UPDATE sieve_scripts SET name = $3 WHERE account_id = $1 AND name = $2",
        )
        .bind(a.id)
        .bind(from)
        .bind(to),
        Change::SieveActivated { name, .. } => sqlx::query(
            "UPDATE sieve_scripts SET active = (name IS $2) WHERE account_id = $1",
        )
        .bind(a.id)
        .bind(name),
        Change::VacationReplied {
            handle,
            sender,
            until,
            ..
        } => sqlx::query(
            "INSERT INTO sieve_vacation (account_id, handle, sender, until) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO UPDATE SET until = max(until, excluded.until)",
        )
        .bind(a.id)
        .bind(handle)
        .bind(sender)
        .bind(*until),
        _ => return Ok(()),
    };
    q.execute(&mut ctx.conn).await?;
    Ok(())
}

/// Notes a vacation reply unless one went to this sender for this handle and is still
/// in force; true when the caller should send it.
pub(crate) struct NoteVacation(pub Change);

impl Op for NoteVacation {
    type Output = bool;
    async fn apply(self, ctx: &mut WriteCtx) -> Result<bool, StoreError> {
        let Change::VacationReplied {
            account,
            handle,
            sender,
            ..
        } = &self.0
        else {
            return Ok(false);
        };
        let id = account_id(ctx, account).await?;
        let until: Option<i64> = sqlx::query_scalar(
            "SELECT until FROM sieve_vacation WHERE account_id = $1 AND handle = $2 AND sender = $3",
        )
        .bind(id)
        .bind(handle)
        .bind(sender)
        .fetch_optional(&mut ctx.conn)
        .await?;
        if until.is_some_and(|u| u > crate::now_unix()) {
            return Ok(false);
        }
        apply(ctx, &self.0).await?;
        ctx.log(self.0).await?;
        Ok(true)
    }
}

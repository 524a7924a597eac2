//! Local domains and aliases (including catch-alls, `@domain`).

use crate::{
    Change, StoreError,
    ops::account::{check_free_address, check_local_domain},
    rows,
    writer::{Op, WriteCtx},
};

/// Makes a domain local: mail for it is accepted (for existing users and aliases).
pub(crate) struct AddDomain {
    pub domain: String,
}

impl Op for AddDomain {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let done = sqlx::query("INSERT INTO domains (name) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(&self.domain)
            .execute(&mut ctx.conn)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::AlreadyExists(format!("domain {}", self.domain)));
        }
        ctx.log(Change::DomainAdded {
            domain: self.domain,
        })
        .await?;
        Ok(())
    }
}

/// Removes a local domain; refused while accounts or aliases still use it.
pub(crate) struct DeleteDomain {
    pub domain: String,
}

impl Op for DeleteDomain {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let pattern = format!("%@{}", self.domain);
        let users: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM accounts WHERE name LIKE $1) + (SELECT count(*) FROM aliases WHERE address LIKE $1)",
        )
        .bind(&pattern)
        .fetch_one(&mut ctx.conn)
        .await?;
        if users > 0 {
            return Err(StoreError::NotAllowed(format!(
                "domain {} still has {users} accounts or aliases",
                self.domain
            )));
        }
        let done = sqlx::query("DELETE FROM domains WHERE name = $1")
            .bind(&self.domain)
            .execute(&mut ctx.conn)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("domain {}", self.domain)));
        }
        ctx.log(Change::DomainDeleted {
            domain: self.domain,
        })
        .await?;
        Ok(())
    }
}

/// Adds an alias: mail to `address` (or any unknown user of a domain, for `@domain`) is
/// delivered to the account `target`, or, when `target` is in a domain not local here,
/// forwarded to it (through the outbound queue, its sender rewritten by SRS).
pub(crate) struct AddAlias {
    pub address: String,
    pub target: String,
}

impl Op for AddAlias {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        if rows::account_by_name(&mut ctx.conn, &self.target)
            .await?
            .is_none()
        {
            let domain = self.target.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
            let local: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM domains WHERE name = $1)")
                    .bind(domain)
                    .fetch_one(&mut ctx.conn)
                    .await?;
            if local || domain.is_empty() {
                return Err(StoreError::NotFound(format!("account {}", self.target)));
            }
        }
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM aliases WHERE address = $1 AND target = $2)",
        )
        .bind(&self.address)
        .bind(&self.target)
        .fetch_one(&mut ctx.conn)
        .await?;
        if exists {
            return Err(StoreError::AlreadyExists(format!(
                "alias {} -> {}",
                self.address, self.target
            )));
        }
        let is_alias: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM aliases WHERE address = $1)")
                .bind(&self.address)
                .fetch_one(&mut ctx.conn)
                .await?;
        if !is_alias {
            // A first target: the address must be local and, unless a catch-all, no account.
            if self.address.starts_with('@') {
                check_local_domain(ctx, &self.address).await?;
            } else {
                check_free_address(ctx, &self.address).await?;
            }
        }
        sqlx::query("INSERT INTO aliases (address, target) VALUES ($1, $2)")
            .bind(&self.address)
            .bind(&self.target)
            .execute(&mut ctx.conn)
            .await?;
        ctx.log(Change::AliasAdded {
            address: self.address,
            target: self.target,
        })
        .await?;
        Ok(())
    }
}

/// Removes one target of an alias.
pub(crate) struct DeleteAlias {
    pub address: String,
    pub target: String,
}

impl Op for DeleteAlias {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM aliases WHERE address = $1 AND target = $2")
            .bind(&self.address)
            .bind(&self.target)
            .execute(&mut ctx.conn)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "alias {} -> {}",
                self.address, self.target
            )));
        }
        ctx.log(Change::AliasDeleted {
            address: self.address,
            target: self.target,
        })
        .await?;
        Ok(())
    }
}

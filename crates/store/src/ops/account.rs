//! Account mutations: create (with the default folders), password, disable, delete.

use crate::{
    Change, StoreError,
    ops::mailbox::create_logged,
    rows,
    types::{Account, Guid, Role, now_unix},
    writer::{Op, WriteCtx},
};

/// Inserts an account row (no logging: shared by local creation and remote apply).
pub(crate) async fn insert_account(
    ctx: &mut WriteCtx,
    guid: Guid,
    name: &str,
    password_hash: &str,
) -> Result<Account, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO accounts (guid, name, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(&guid.0[..])
    .bind(name)
    .bind(password_hash)
    .bind(now_unix())
    .fetch_one(&mut ctx.conn)
    .await?;
    Ok(Account {
        id,
        guid,
        name: name.to_string(),
        disabled: false,
    })
}

/// Checks that `address` (or `@domain`) is in a local domain.
pub(crate) async fn check_local_domain(
    ctx: &mut WriteCtx,
    address: &str,
) -> Result<(), StoreError> {
    let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let local: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM domains WHERE name = $1)")
        .bind(domain)
        .fetch_one(&mut ctx.conn)
        .await?;
    if !local {
        return Err(StoreError::NotAllowed(format!(
            "{domain} is not a local domain (add it first: twinmail domain add {domain})"
        )));
    }
    Ok(())
}

/// Checks that `address` is in a local domain and not yet an account or alias.
pub(crate) async fn check_free_address(
    ctx: &mut WriteCtx,
    address: &str,
) -> Result<(), StoreError> {
    check_local_domain(ctx, address).await?;
    let taken: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE name = $1) OR EXISTS (SELECT 1 FROM aliases WHERE address = $1)",
    )
    .bind(address)
    .fetch_one(&mut ctx.conn)
    .await?;
    if taken {
        return Err(StoreError::AlreadyExists(format!("address {address}")));
    }
    Ok(())
}

/// A new account with INBOX, Sent, Drafts, Trash, Junk and Archive.
pub(crate) struct CreateAccount {
    pub name: String,
    pub password_hash: String,
}

impl Op for CreateAccount {
    type Output = Account;
    async fn apply(self, ctx: &mut WriteCtx) -> Result<Account, StoreError> {
        check_free_address(ctx, &self.name).await?;
        let account = insert_account(ctx, Guid::random(), &self.name, &self.password_hash).await?;
        ctx.log(Change::AccountCreated {
            account: account.guid,
            name: account.name.clone(),
            password_hash: self.password_hash,
        })
        .await?;
        for role in Role::ALL {
            create_logged(
                ctx,
                account.id,
                account.guid,
                role.default_name(),
                Some(role),
            )
            .await?;
        }
        Ok(account)
    }
}

async fn existing(ctx: &mut WriteCtx, name: &str) -> Result<Account, StoreError> {
    rows::account_by_name(&mut ctx.conn, name)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("account {name}")))
}

/// A new password hash for an account.
pub(crate) struct SetPassword {
    pub name: String,
    pub password_hash: String,
}

impl Op for SetPassword {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let account = existing(ctx, &self.name).await?;
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
            .bind(&self.password_hash)
            .bind(account.id)
            .execute(&mut ctx.conn)
            .await?;
        ctx.log(Change::PasswordChanged {
            account: account.guid,
            password_hash: self.password_hash,
        })
        .await?;
        Ok(())
    }
}

/// Disables or re-enables an account.
pub(crate) struct SetDisabled {
    pub name: String,
    pub disabled: bool,
}

impl Op for SetDisabled {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let account = existing(ctx, &self.name).await?;
        sqlx::query("UPDATE accounts SET disabled = $1 WHERE id = $2")
            .bind(self.disabled)
            .bind(account.id)
            .execute(&mut ctx.conn)
            .await?;
        ctx.log(Change::AccountDisabled {
            account: account.guid,
            disabled: self.disabled,
        })
        .await?;
        Ok(())
    }
}

/// Sets or clears an account's home twin.
pub(crate) struct SetHome {
    pub name: String,
    pub home: Option<String>,
}

impl Op for SetHome {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        if let Some(h) = &self.home
            && (h.is_empty()
                || h.len() > 32
                || !h
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        {
            return Err(StoreError::Invalid(format!("{h:?} is not a node id")));
        }
        let account = existing(ctx, &self.name).await?;
        sqlx::query("UPDATE accounts SET home = $1 WHERE id = $2")
            .bind(&self.home)
            .bind(account.id)
            .execute(&mut ctx.conn)
            .await?;
        ctx.log(Change::AccountHome {
            account: account.guid,
            home: self.home,
        })
        .await?;
        Ok(())
    }
}

/// Sets or lifts an account's storage limit.
pub(crate) struct SetQuota {
    pub name: String,
    pub quota_bytes: Option<u64>,
}

impl Op for SetQuota {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let account = existing(ctx, &self.name).await?;
        sqlx::query("UPDATE accounts SET quota_bytes = $1 WHERE id = $2")
            .bind(self.quota_bytes.map(|q| q as i64))
            .bind(account.id)
            .execute(&mut ctx.conn)
            .await?;
        ctx.log(Change::AccountQuota {
            account: account.guid,
            quota_bytes: self.quota_bytes,
        })
        .await?;
        Ok(())
    }
}

/// Deletes an account, its mailboxes, messages and the aliases pointing at it.
pub(crate) struct DeleteAccount {
    pub name: String,
}

impl Op for DeleteAccount {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let account = existing(ctx, &self.name).await?;
        delete_account_rows(ctx, &account).await?;
        ctx.log(Change::AccountDeleted {
            account: account.guid,
            name: account.name,
        })
        .await?;
        Ok(())
    }
}

pub(crate) async fn delete_account_rows(
    ctx: &mut WriteCtx,
    account: &Account,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM aliases WHERE target = $1")
        .bind(&account.name)
        .execute(&mut ctx.conn)
        .await?;
    sqlx::query("DELETE FROM accounts WHERE id = $1")
        .bind(account.id)
        .execute(&mut ctx.conn)
        .await?;
    Ok(())
}

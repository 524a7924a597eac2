//! Sieve scripts as the CLI, ManageSieve and delivery read and write them (the writes
//! are in `ops::sieve`). The store keeps text; checking it is the caller's (the sieve
//! crate parses it before it is stored).

use crate::{
    Change, Guid, Store, StoreError,
    ops::sieve::{NoteVacation, SieveOp},
    types::now_unix,
};

/// Most bytes of one script (what ManageSieve's HAVESPACE answers against).
pub const MAX_SCRIPT_BYTES: usize = 64 * 1024;
/// Most scripts per account.
pub const MAX_SCRIPTS: usize = 32;

/// A script name as ManageSieve allows it (RFC 5804 §1.6): 1-128 characters, no
/// control characters.
fn check_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "a script name is 1 to 128 characters, none a control character".into(),
        ));
    }
    Ok(())
}

impl Store {
    async fn account_guid(&self, user: &str) -> Result<Guid, StoreError> {
        Ok(self
            .account(user)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account {user}")))?
            .guid)
    }

    /// Stores a script (replacing one of that name).
    pub async fn sieve_put(&self, user: &str, name: &str, script: &str) -> Result<(), StoreError> {
        check_name(name)?;
        if script.len() > MAX_SCRIPT_BYTES {
            return Err(StoreError::OverQuota(format!(
                "a script is at most {MAX_SCRIPT_BYTES} bytes"
            )));
        }
        let list = self.sieve_list(user).await?;
        if list.len() >= MAX_SCRIPTS && !list.iter().any(|(n, _)| n == name) {
            return Err(StoreError::OverQuota(format!(
                "at most {MAX_SCRIPTS} scripts per account"
            )));
        }
        let account = self.account_guid(user).await?;
        self.writer()
            .submit(SieveOp(Change::SieveScriptPut {
                account,
                name: name.to_string(),
                script: script.to_string(),
            }))
            .await
    }

    /// Deletes a script (refused for the active one).
    pub async fn sieve_delete(&self, user: &str, name: &str) -> Result<(), StoreError> {
        let account = self.account_guid(user).await?;
        self.writer()
            .submit(SieveOp(Change::SieveScriptDeleted {
                account,
                name: name.to_string(),
            }))
            .await
    }

    /// Renames a script.
    pub async fn sieve_rename(&self, user: &str, from: &str, to: &str) -> Result<(), StoreError> {
        check_name(to)?;
        let account = self.account_guid(user).await?;
        self.writer()
            .submit(SieveOp(Change::SieveScriptRenamed {
                account,
                from: from.to_string(),
                to: to.to_string(),
            }))
            .await
    }

    /// Makes a script the one that runs on delivery (`None`: none runs).
    pub async fn sieve_activate(&self, user: &str, name: Option<&str>) -> Result<(), StoreError> {
        let account = self.account_guid(user).await?;
        self.writer()
            .submit(SieveOp(Change::SieveActivated {
                account,
                name: name.map(str::to_string),
            }))
            .await
    }

    /// An account's scripts by name, each with whether it is the active one.
    pub async fn sieve_list(&self, user: &str) -> Result<Vec<(String, bool)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT s.name, s.active FROM sieve_scripts s JOIN accounts a ON a.id = s.account_id \
             WHERE a.name = $1 ORDER BY s.name",
        )
        .bind(user)
        .fetch_all(self.db())
        .await?)
    }

    /// A script's text.
    pub async fn sieve_get(&self, user: &str, name: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT s.script FROM sieve_scripts s JOIN accounts a ON a.id = s.account_id \
             WHERE a.name = $1 AND s.name = $2",
        )
        .bind(user)
        .bind(name)
        .fetch_optional(self.db())
        .await?)
    }

    /// The active script of an account (by local id), if any: what delivery runs.
    pub async fn sieve_active(&self, account_id: i64) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT script FROM sieve_scripts WHERE account_id = $1 AND active = 1",
        )
        .bind(account_id)
        .fetch_optional(self.db())
        .await?)
    }

    /// Notes that `account` answers `sender` for `handle` now, for `days`; false (and
    /// nothing noted) when it did within the last such period: the reply is not sent.
    pub async fn vacation_due(
        &self,
        account: Guid,
        handle: &str,
        sender: &str,
        days: u32,
    ) -> Result<bool, StoreError> {
        self.writer()
            .submit(NoteVacation(Change::VacationReplied {
                account,
                handle: handle.to_string(),
                sender: sender.to_ascii_lowercase(),
                until: now_unix() + i64::from(days.max(1)) * 86_400,
            }))
            .await
    }
}

//! IMAP METADATA (RFC 5464): annotations of an account's mailboxes and of the server as
//! the account sees it. Set at the account's home twin like every write, logged as
//! `MetadataSet`, applied alike by the twin.

use base64::Engine;

use crate::{
    Change, StoreError, names, rows,
    types::Guid,
    writer::{Op, WriteCtx},
};

/// The largest value kept (RFC 5464 §4.3 MAXSIZE).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Most entries per mailbox (or for the server) per account (RFC 5464 §4.3 TOOMANY).
pub const MAX_ENTRIES: i64 = 256;

/// SETMETADATA: entries set or removed, all or none.
pub(crate) struct SetMetadata {
    pub account_id: i64,
    /// The mailbox's name; `None`: the server's entries.
    pub mailbox: Option<String>,
    /// Entry names (lower-case) and values (`None`: remove).
    pub entries: Vec<(String, Option<Vec<u8>>)>,
}

impl Op for SetMetadata {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let mailbox = match &self.mailbox {
            None => None,
            Some(name) => {
                let name = names::mailbox(name)?;
                Some(
                    rows::mailbox_by_name(&mut ctx.conn, self.account_id, &name)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(format!("mailbox {name}")))?,
                )
            }
        };
        let account = rows::account_guid_by_id(&mut ctx.conn, self.account_id).await?;
        for (entry, value) in self.entries {
            if value.as_ref().is_some_and(|v| v.len() > MAX_VALUE_BYTES) {
                return Err(StoreError::Invalid(format!(
                    "a value is larger than {MAX_VALUE_BYTES} bytes"
                )));
            }
            put(
                ctx,
                self.account_id,
                mailbox.as_ref().map(|m| m.id),
                &entry,
                value.as_deref(),
            )
            .await?;
            let count: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM metadata WHERE account_id = $1 \
                 AND coalesce(mailbox_id, 0) = coalesce($2, 0)",
            )
            .bind(self.account_id)
            .bind(mailbox.as_ref().map(|m| m.id))
            .fetch_one(&mut ctx.conn)
            .await?;
            if count > MAX_ENTRIES {
                return Err(StoreError::NotAllowed(format!(
                    "more than {MAX_ENTRIES} entries"
                )));
            }
            ctx.log(Change::MetadataSet {
                account,
                mailbox: mailbox.as_ref().map(|m| m.guid),
                entry,
                value: value.map(|v| base64::engine::general_purpose::STANDARD.encode(v)),
            })
            .await?;
        }
        Ok(())
    }
}

/// Writes one entry (or removes it).
async fn put(
    ctx: &mut WriteCtx,
    account_id: i64,
    mailbox_id: Option<i64>,
    entry: &str,
    value: Option<&[u8]>,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM metadata WHERE account_id = $1 AND coalesce(mailbox_id, 0) = coalesce($2, 0) \
         AND entry = $3",
    )
    .bind(account_id)
    .bind(mailbox_id)
    .bind(entry)
    .execute(&mut ctx.conn)
    .await?;
    if let Some(value) = value {
        sqlx::query(
            "INSERT INTO metadata (account_id, mailbox_id, entry, value) VALUES ($1, $2, $3, $4)",
        )
        .bind(account_id)
        .bind(mailbox_id)
        .bind(entry)
        .bind(value)
        .execute(&mut ctx.conn)
        .await?;
    }
    Ok(())
}

/// The twin's `MetadataSet`, applied here (a mailbox gone here takes nothing).
pub(crate) async fn apply(
    ctx: &mut WriteCtx,
    account: &Guid,
    mailbox: Option<&Guid>,
    entry: &str,
    value: Option<&str>,
) -> Result<(), StoreError> {
    let Some(owner) = rows::account_by_guid(&mut ctx.conn, account).await? else {
        return Ok(());
    };
    let mailbox_id = match mailbox {
        None => None,
        Some(g) => match rows::mailbox_by_guid(&mut ctx.conn, g).await? {
            Some(m) => Some(m.id),
            None => return Ok(()),
        },
    };
    let value = value
        .map(|v| base64::engine::general_purpose::STANDARD.decode(v))
        .transpose()
        .map_err(|_| StoreError::Invalid("a metadata value that is not base64".into()))?;
    put(ctx, owner.id, mailbox_id, entry, value.as_deref()).await
}

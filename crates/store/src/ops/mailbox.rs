//! Mailbox (folder) mutations: CREATE, RENAME, DELETE, SUBSCRIBE.

use crate::{
    Change, StoreError,
    names::{self, DELIMITER},
    ops::{NewMailbox, insert_mailbox, next_uidvalidity},
    rows,
    types::{Guid, Mailbox, Role},
    uidset::UidSet,
    writer::{Op, WriteCtx},
};

/// Creates a mailbox locally with a fresh GUID and UIDVALIDITY, and logs it.
pub(crate) async fn create_logged(
    ctx: &mut WriteCtx,
    account_id: i64,
    account: Guid,
    name: &str,
    role: Option<Role>,
) -> Result<Mailbox, StoreError> {
    let uidvalidity = next_uidvalidity(ctx).await?;
    let m = insert_mailbox(
        ctx,
        NewMailbox {
            account_id,
            guid: Guid::random(),
            name,
            role,
            uidvalidity,
            subscribed: true,
        },
    )
    .await?;
    let knew: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM applied")
        .fetch_one(&mut ctx.conn)
        .await?;
    let seq = ctx
        .log(Change::MailboxCreated {
            account,
            mailbox: m.guid,
            name: m.name.clone(),
            role,
            uidvalidity,
            subscribed: true,
            knew: Some(knew),
        })
        .await?;
    sqlx::query("UPDATE mailboxes SET made_seq = $1 WHERE id = $2")
        .bind(seq)
        .bind(m.id)
        .execute(&mut ctx.conn)
        .await?;
    Ok(m)
}

/// Creates every missing parent of `name` (RFC 3501 §6.3.3: the server SHOULD create
/// superior hierarchical names).
async fn create_parents(
    ctx: &mut WriteCtx,
    account_id: i64,
    account: Guid,
    name: &str,
) -> Result<(), StoreError> {
    for parent in names::parents(name) {
        if rows::mailbox_by_name(&mut ctx.conn, account_id, parent)
            .await?
            .is_none()
        {
            create_logged(ctx, account_id, account, parent, None).await?;
        }
    }
    Ok(())
}

/// IMAP CREATE.
pub(crate) struct CreateMailbox {
    pub account_id: i64,
    pub name: String,
}

impl Op for CreateMailbox {
    type Output = Mailbox;
    async fn apply(self, ctx: &mut WriteCtx) -> Result<Mailbox, StoreError> {
        let name = names::mailbox(&self.name)?;
        if rows::mailbox_by_name(&mut ctx.conn, self.account_id, &name)
            .await?
            .is_some()
        {
            return Err(StoreError::AlreadyExists(format!("mailbox {name}")));
        }
        let account = rows::account_guid_by_id(&mut ctx.conn, self.account_id).await?;
        create_parents(ctx, self.account_id, account, &name).await?;
        create_logged(ctx, self.account_id, account, &name, None).await
    }
}

/// IMAP RENAME, with its INBOX special case (RFC 3501 §6.3.5): renaming INBOX moves its
/// messages into a new mailbox and leaves INBOX empty.
pub(crate) struct RenameMailbox {
    pub account_id: i64,
    pub from: String,
    pub to: String,
}

impl Op for RenameMailbox {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let from = names::mailbox(&self.from)?;
        let to = names::mailbox(&self.to)?;
        let source = rows::mailbox_by_name(&mut ctx.conn, self.account_id, &from)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("mailbox {from}")))?;
        if rows::mailbox_by_name(&mut ctx.conn, self.account_id, &to)
            .await?
            .is_some()
        {
            return Err(StoreError::AlreadyExists(format!("mailbox {to}")));
        }
        if to.starts_with(&format!("{from}{DELIMITER}")) {
            return Err(StoreError::Invalid(
                "cannot rename a mailbox into itself".into(),
            ));
        }
        let account = rows::account_guid_by_id(&mut ctx.conn, self.account_id).await?;
        create_parents(ctx, self.account_id, account, &to).await?;
        if source.role == Some(Role::Inbox) {
            let target = create_logged(ctx, self.account_id, account, &to, None).await?;
            crate::ops::message::CopyMessages {
                from: source.id,
                uids: UidSet::all(),
                to: target.id,
                remove: true,
            }
            .apply(ctx)
            .await?;
            return Ok(());
        }
        // The mailbox itself and every child, children by their own log entries.
        let prefix = format!("{from}{DELIMITER}");
        let all = rows::mailboxes_of(&mut ctx.conn, self.account_id).await?;
        for m in all
            .iter()
            .filter(|m| m.id == source.id || m.name.starts_with(&prefix))
        {
            let new_name = format!("{to}{}", &m.name[from.len()..]);
            names::mailbox(&new_name)?;
            sqlx::query("UPDATE mailboxes SET name = $1 WHERE id = $2")
                .bind(&new_name)
                .bind(m.id)
                .execute(&mut ctx.conn)
                .await?;
            ctx.log(Change::MailboxRenamed {
                account,
                mailbox: m.guid,
                from: m.name.clone(),
                to: new_name,
            })
            .await?;
        }
        Ok(())
    }
}

/// IMAP DELETE. INBOX cannot be deleted; a mailbox with children is refused (delete the
/// children first), the way Dovecot answers it.
pub(crate) struct DeleteMailbox {
    pub account_id: i64,
    pub name: String,
}

impl Op for DeleteMailbox {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let name = names::mailbox(&self.name)?;
        let m = rows::mailbox_by_name(&mut ctx.conn, self.account_id, &name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("mailbox {name}")))?;
        if m.role == Some(Role::Inbox) {
            return Err(StoreError::NotAllowed("INBOX cannot be deleted".into()));
        }
        // A prefix compare, not LIKE: LIKE ignores ASCII case, and names are case-sensitive
        // (`foo/bar` is no child of `Foo`).
        let prefix = format!("{name}{DELIMITER}");
        let children: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM mailboxes WHERE account_id = $1 AND substr(name, 1, length($2)) = $2",
        )
        .bind(self.account_id)
        .bind(&prefix)
        .fetch_one(&mut ctx.conn)
        .await?;
        if children > 0 {
            return Err(StoreError::NotAllowed(format!(
                "{name} has child mailboxes; delete them first"
            )));
        }
        // Its messages are expunged first, by GUID, in the log: the twin removes exactly
        // these, and anything else it holds in the folder (mail it took while the twins
        // were apart) goes to its recovery folder instead of being deleted unseen.
        let all = crate::UidSet::all().load(&mut ctx.conn, m.id).await?;
        super::message::expunge_messages(ctx, &m, &all).await?;
        sqlx::query("DELETE FROM mailboxes WHERE id = $1")
            .bind(m.id)
            .execute(&mut ctx.conn)
            .await?;
        let account = rows::account_guid_by_id(&mut ctx.conn, self.account_id).await?;
        ctx.log(Change::MailboxDeleted {
            account,
            mailbox: m.guid,
            name,
        })
        .await?;
        Ok(())
    }
}

/// IMAP SUBSCRIBE / UNSUBSCRIBE.
pub(crate) struct SetSubscribed {
    pub account_id: i64,
    pub name: String,
    pub subscribed: bool,
}

impl Op for SetSubscribed {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let name = names::mailbox(&self.name)?;
        let m = rows::mailbox_by_name(&mut ctx.conn, self.account_id, &name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("mailbox {name}")))?;
        if m.subscribed == self.subscribed {
            return Ok(());
        }
        sqlx::query("UPDATE mailboxes SET subscribed = $1 WHERE id = $2")
            .bind(self.subscribed)
            .bind(m.id)
            .execute(&mut ctx.conn)
            .await?;
        let account = rows::account_guid_by_id(&mut ctx.conn, self.account_id).await?;
        ctx.log(Change::MailboxSubscribed {
            account,
            mailbox: m.guid,
            subscribed: self.subscribed,
        })
        .await?;
        Ok(())
    }
}

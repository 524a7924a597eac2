//! Folding (DESIGN.md "Split mode"): an account or a folder made on both twins while
//! they were apart is one account or folder once they meet again.
//!
//! - **Accounts.** A twin's `AccountCreated` whose name an account here already has (the
//!   pair never makes a name twice knowingly: a twin that knew the account would have
//!   deleted it first) is the same account made twice. The smaller GUID survives on both
//!   twins: this twin's row takes the twin's GUID and password, or the twin's GUID is
//!   noted as folded into this one's.
//! - **Folders.** A twin's `MailboxCreated` says how far its maker had applied this twin's
//!   log (`knew`). A folder of the same account made here under the same name after that
//!   point (`made_seq`) was made concurrently: INBOX and the special-use folders of an
//!   account made twice, or "Work" made by a user on each side. The smaller GUID survives
//!   (with its UIDVALIDITY); the other's messages are held in it with no UID (0), its
//!   tombstones kept by GUID, and the home twin's merge numbers them above both twins'
//!   UIDNEXT (a client of the survivor sees new messages; a client of the loser sees its
//!   folder gone, and a new UIDVALIDITY under that name). A folder renamed onto another's
//!   name was not made twice and keeps the old rule (a suffix).
//!
//! Both twins meet the same pair and decide alike from values both hold (GUIDs, names, and
//! the two log positions), whatever order their changes interleave in. The twin's later
//! changes naming a folded GUID are applied to the survivor ([`resolve`]).

use crate::{
    Change, StoreError,
    types::{Account, Guid},
    writer::WriteCtx,
};

/// Whether anything was ever folded here (a pair that never split pays one query per
/// batch, not two per change).
pub(crate) async fn any(ctx: &mut WriteCtx) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM folded)")
        .fetch_one(&mut ctx.conn)
        .await?)
}

/// The survivor `guid` was folded into, if it was.
async fn survivor(ctx: &mut WriteCtx, guid: &Guid) -> Result<Option<Guid>, StoreError> {
    let into: Option<Vec<u8>> = sqlx::query_scalar("SELECT into_guid FROM folded WHERE guid = $1")
        .bind(&guid.0[..])
        .fetch_optional(&mut ctx.conn)
        .await?;
    into.map(|g| Guid::from_slice(&g)).transpose()
}

/// Notes `loser` as folded into `winner` (and whatever was folded into `loser` too).
async fn note(ctx: &mut WriteCtx, loser: &Guid, winner: &Guid) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO folded (guid, into_guid) VALUES ($1, $2) \
         ON CONFLICT (guid) DO UPDATE SET into_guid = excluded.into_guid; \
         UPDATE folded SET into_guid = $2 WHERE into_guid = $1",
    )
    .bind(&loser.0[..])
    .bind(&winner.0[..])
    .execute(&mut ctx.conn)
    .await?;
    Ok(())
}

/// A twin's change that names a folded account or folder, rewritten to name its survivor,
/// and whether the folder was folded (its UIDs are then the loser's numbering, which mean
/// nothing in the survivor: expunged messages are named by GUID alone, UID 0).
pub(crate) async fn resolve(
    ctx: &mut WriteCtx,
    change: &Change,
) -> Result<Option<(Change, bool)>, StoreError> {
    let mut c = change.clone();
    let (account, mailbox) = c.guids_mut();
    let mut rewritten = false;
    if let Some(a) = account
        && let Some(s) = survivor(ctx, a).await?
    {
        *a = s;
        rewritten = true;
    }
    let mut folder = false;
    if let Some(m) = mailbox
        && let Some(s) = survivor(ctx, m).await?
    {
        *m = s;
        folder = true;
    }
    if folder && let Change::MessagesExpunged { messages, .. } = &mut c {
        for e in messages {
            e.uid = 0;
        }
    }
    Ok((rewritten || folder).then_some((c, folder)))
}

/// A twin's `AccountCreated` for a name `here` has: the same account made on both twins
/// while apart. Returns what this twin's sessions are told (the sessions of an account
/// whose GUID changed here end: they log in again as the survivor).
pub(crate) async fn account_made_twice(
    ctx: &mut WriteCtx,
    here: &Account,
    incoming: &Guid,
    password_hash: &str,
) -> Result<Vec<Change>, StoreError> {
    tracing::warn!(
        account = here.name,
        "mirror: the account was made on both twins while apart; folded into one"
    );
    if *incoming > here.guid {
        note(ctx, incoming, &here.guid).await?;
        return Ok(Vec::new());
    }
    sqlx::query("UPDATE accounts SET guid = $1, password_hash = $2 WHERE id = $3")
        .bind(&incoming.0[..])
        .bind(password_hash)
        .bind(here.id)
        .execute(&mut ctx.conn)
        .await?;
    note(ctx, &here.guid, incoming).await?;
    Ok(vec![Change::PasswordChanged {
        account: here.guid,
        password_hash: password_hash.to_string(),
    }])
}

/// This twin's counterpart of a twin's folder made concurrently under the same name.
pub(crate) enum Counterpart {
    /// A live folder here (row id, GUID).
    Live(i64, Guid),
    /// A folder made here and deleted since (its GUID).
    Gone(Guid),
}

/// The folder of this account made here under `name` after the twin's maker of a folder of
/// that name had last applied this twin's log at `knew` (the same folder made twice): the
/// earliest made not yet paired with one of the twin's, live or deleted since. Pairing in
/// the order each twin made them makes both twins pair the same two folders.
pub(crate) async fn made_here_too(
    ctx: &mut WriteCtx,
    account_id: i64,
    name: &str,
    knew: Option<i64>,
) -> Result<Option<Counterpart>, StoreError> {
    let Some(knew) = knew else {
        return Ok(None);
    };
    let row: Option<(Option<i64>, Vec<u8>)> = sqlx::query_as(
        "SELECT id, guid FROM ( \
         SELECT id, guid, made_seq FROM mailboxes WHERE account_id = $1 AND created_name = $2 \
         AND made_seq > $3 \
         UNION ALL SELECT NULL AS id, guid, made_seq FROM made_gone WHERE account_id = $1 \
         AND created_name = $2 AND made_seq > $3) ORDER BY made_seq LIMIT 1",
    )
    .bind(account_id)
    .bind(name)
    .bind(knew)
    .fetch_optional(&mut ctx.conn)
    .await?;
    row.map(|(id, g)| {
        let g = Guid::from_slice(&g)?;
        Ok(match id {
            Some(id) => Counterpart::Live(id, g),
            None => Counterpart::Gone(g),
        })
    })
    .transpose()
}

/// The twin's folder, as its `MailboxCreated` describes it.
pub(crate) struct Incoming<'a> {
    /// The owning account (its survivor here).
    pub account: &'a Guid,
    /// The folder's GUID.
    pub guid: &'a Guid,
    /// The name it was made under.
    pub name: &'a str,
    /// Its UIDVALIDITY.
    pub uidvalidity: u32,
    /// Whether it is subscribed there.
    pub subscribed: bool,
}

/// Folds the twin's folder and this twin's `here` (made under one name while apart) into
/// the one with the smaller GUID (or, when `here` was deleted since, lets the twin's go
/// with it). Returns the survivor's GUID, if any, and what this twin's sessions are told.
pub(crate) async fn folder_made_twice(
    ctx: &mut WriteCtx,
    here: Counterpart,
    incoming: &Incoming<'_>,
) -> Result<(Option<Guid>, Vec<Change>), StoreError> {
    tracing::warn!(
        name = incoming.name,
        "mirror: a folder was made on both twins while apart; folded into one"
    );
    let (id, guid) = match here {
        Counterpart::Live(id, guid) => (id, guid),
        Counterpart::Gone(guid) => {
            // Folded into a folder deleted here: gone too, as the twin will find when
            // this twin's delete reaches it.
            sqlx::query("DELETE FROM made_gone WHERE guid = $1")
                .bind(&guid.0[..])
                .execute(&mut ctx.conn)
                .await?;
            note(ctx, incoming.guid, &guid).await?;
            return Ok((None, Vec::new()));
        }
    };
    if *incoming.guid > guid {
        note(ctx, incoming.guid, &guid).await?;
        sqlx::query(
            "UPDATE mailboxes SET subscribed = max(subscribed, $1), made_seq = NULL WHERE id = $2",
        )
        .bind(incoming.subscribed)
        .bind(id)
        .execute(&mut ctx.conn)
        .await?;
        return Ok((Some(guid), Vec::new()));
    }
    // This twin's folder becomes the twin's: its messages are held for the home's merge
    // to number, its tombstones stay (by GUID), and the row takes the twin's identity.
    let name: String = sqlx::query_scalar(
        "INSERT INTO held (guid, mailbox_id, uid, blob, size, internal_date, flags, modseq, saved) \
         SELECT guid, mailbox_id, 0, blob, size, internal_date, flags, modseq, saved FROM messages \
         WHERE mailbox_id = $1 ON CONFLICT (guid) DO NOTHING; \
         DELETE FROM messages WHERE mailbox_id = $1; \
         UPDATE held SET uid = 0 WHERE mailbox_id = $1; \
         UPDATE expunged SET uid = 0 WHERE mailbox_id = $1; \
         DELETE FROM merge_pending WHERE mailbox_id = $1; \
         UPDATE mailboxes SET guid = $2, uidvalidity = $3, uidnext = 1, highestmodseq = 1, \
         subscribed = max(subscribed, $4), created_name = $5, made_seq = NULL WHERE id = $1 \
         RETURNING name",
    )
    .bind(id)
    .bind(&incoming.guid.0[..])
    .bind(incoming.uidvalidity as i64)
    .bind(incoming.subscribed)
    .bind(incoming.name)
    .fetch_one(&mut ctx.conn)
    .await?;
    note(ctx, &guid, incoming.guid).await?;
    Ok((
        Some(*incoming.guid),
        vec![Change::MailboxDeleted {
            account: *incoming.account,
            mailbox: guid,
            name,
        }],
    ))
}

//! URLAUTH mailbox access keys (RFC 4467 §3): one random secret per mailbox, made by the
//! first GENURLAUTH for it and replaced by RESETKEY, with which the account signs the URLs
//! it hands out. A URL made on one twin is fetched on the other, so the keys are the same
//! on both: made at the account's home twin like every write, logged as `AccessKeySet`,
//! applied alike by the twin and carried in snapshots.
//!
//! Rules of the house:
//! - A key never leaves this module as bytes: callers sign and verify through
//!   [`AccessKey`], whose `Debug` shows nothing of it, so neither a log line nor a
//!   change's `Debug` can print it. (It does cross the mirror link, inside the TLS
//!   session, and rests in the database, as the password hashes do.)
//! - Of two keys for one mailbox, the one made later (by its maker's clock, then the
//!   larger key) wins, here and on the twin, whatever order they arrive in: keys made on
//!   both twins while apart converge, and a RESETKEY (always later than the key it
//!   replaces) wins over it.
//! - RESETKEY without a mailbox replaces every key of the account instead of removing
//!   them (RFC 4467 §7.2 says "removes"): to a client the effect is the same — every URL
//!   made so far stops working and GENURLAUTH works again — and nothing has to be
//!   deleted on the twin, where a removal could not be ordered against a concurrent make.

use std::fmt;

use ring::hmac;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{
    Change, StoreError, rows,
    types::Guid,
    writer::{Op, WriteCtx},
};

/// Bytes of a mailbox access key: 256 bits (RFC 4467 §3 asks for at least 128).
pub const ACCESS_KEY_BYTES: usize = 32;

/// Bytes of an INTERNAL URLAUTH token: an HMAC-SHA1, 40 hex digits on the wire.
pub const TOKEN_BYTES: usize = 20;

/// A mailbox access key. Signs and verifies URLAUTH tokens; its bytes are not shown by
/// `Debug` and cannot be read outside the store.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey([u8; ACCESS_KEY_BYTES]);

impl AccessKey {
    /// A fresh key from the operating system's generator. Also the "plausible" key a
    /// URL naming no mailbox is checked against (RFC 4467 §7.3 / §9), so a failure costs
    /// the same time whether or not the mailbox exists.
    pub fn random() -> AccessKey {
        let mut bytes = [0u8; ACCESS_KEY_BYTES];
        // As for `Guid::random`: no entropy source at all is a start-up invariant.
        getrandom::fill(&mut bytes).expect("operating system random source");
        AccessKey(bytes)
    }

    /// A key read back from its stored bytes.
    fn from_slice(bytes: &[u8]) -> Result<AccessKey, StoreError> {
        bytes
            .try_into()
            .map(AccessKey)
            .map_err(|_| StoreError::Corrupt("an access key of the wrong length".into()))
    }

    /// The INTERNAL token of `url` (RFC 4467 §7.1: the rump URL, up to and including
    /// the access identifier): HMAC-SHA1 keyed with this key.
    pub fn sign(&self, url: &[u8]) -> [u8; TOKEN_BYTES] {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let mut out = [0u8; TOKEN_BYTES];
        out.copy_from_slice(hmac::sign(&key, url).as_ref());
        out
    }

    /// True when `token` is this key's token of `url`, compared in constant time.
    pub fn verify(&self, url: &[u8], token: &[u8]) -> bool {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        hmac::verify(&key, url, token).is_ok()
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKey(<redacted>)")
    }
}

/// In the change log and on the link: hex.
impl Serialize for AccessKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for AccessKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AccessKey, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = hex::decode(text).map_err(serde::de::Error::custom)?;
        AccessKey::from_slice(&bytes)
            .map_err(|_| serde::de::Error::custom("an access key of the wrong length"))
    }
}

/// Unix milliseconds now.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The stored key of a mailbox (by local id) and when it was made.
async fn stored(
    ctx: &mut WriteCtx,
    mailbox_id: i64,
) -> Result<Option<(AccessKey, i64)>, StoreError> {
    let row: Option<(Vec<u8>, i64)> =
        sqlx::query_as("SELECT key, made FROM access_keys WHERE mailbox_id = $1")
            .bind(mailbox_id)
            .fetch_optional(&mut ctx.conn)
            .await?;
    row.map(|(k, made)| Ok((AccessKey::from_slice(&k)?, made)))
        .transpose()
}

/// Writes a mailbox's key (replacing any).
async fn put(
    ctx: &mut WriteCtx,
    mailbox_id: i64,
    key: &AccessKey,
    made: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO access_keys (mailbox_id, key, made) VALUES ($1, $2, $3) \
         ON CONFLICT (mailbox_id) DO UPDATE SET key = excluded.key, made = excluded.made",
    )
    .bind(mailbox_id)
    .bind(&key.0[..])
    .bind(made)
    .execute(&mut ctx.conn)
    .await?;
    Ok(())
}

/// The local id of `mailbox` if the account holds it (a write naming another account's
/// mailbox finds nothing).
async fn own_mailbox(
    ctx: &mut WriteCtx,
    account_id: i64,
    mailbox: &Guid,
) -> Result<i64, StoreError> {
    match rows::mailbox_by_guid(&mut ctx.conn, mailbox).await? {
        Some(m) if m.account_id == account_id => Ok(m.id),
        _ => Err(StoreError::NotFound("mailbox".into())),
    }
}

/// Makes a new key for a local mailbox, later than `before` (the key it replaces), and
/// logs it.
async fn make(
    ctx: &mut WriteCtx,
    account: Guid,
    mailbox: Guid,
    mailbox_id: i64,
    before: Option<i64>,
) -> Result<(), StoreError> {
    let key = AccessKey::random();
    let made = before.map_or(now_ms(), |b| now_ms().max(b.saturating_add(1)));
    put(ctx, mailbox_id, &key, made).await?;
    ctx.log(Change::AccessKeySet {
        account,
        mailbox,
        key,
        made,
    })
    .await?;
    Ok(())
}

/// GENURLAUTH's first use of a mailbox: it gets a key unless it has one.
pub(crate) struct MakeAccessKey {
    /// The owning account (local id).
    pub account_id: i64,
    /// The mailbox.
    pub mailbox: Guid,
}

impl Op for MakeAccessKey {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let id = own_mailbox(ctx, self.account_id, &self.mailbox).await?;
        if stored(ctx, id).await?.is_some() {
            return Ok(());
        }
        let account = rows::account_guid_by_id(&mut ctx.conn, self.account_id).await?;
        make(ctx, account, self.mailbox, id, None).await
    }
}

/// RESETKEY: a new key for one mailbox (made even if it had none), or for every mailbox
/// of the account that has one.
pub(crate) struct ResetAccessKeys {
    /// The owning account (local id).
    pub account_id: i64,
    /// The mailbox; `None`: all of the account's keys.
    pub mailbox: Option<Guid>,
}

impl Op for ResetAccessKeys {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let account = rows::account_guid_by_id(&mut ctx.conn, self.account_id).await?;
        let targets: Vec<(i64, Guid, Option<i64>)> = match self.mailbox {
            Some(guid) => {
                let id = own_mailbox(ctx, self.account_id, &guid).await?;
                let before = stored(ctx, id).await?.map(|(_, made)| made);
                vec![(id, guid, before)]
            }
            None => {
                let rows: Vec<(i64, Vec<u8>, i64)> = sqlx::query_as(
                    "SELECT m.id, m.guid, k.made FROM access_keys k \
                     JOIN mailboxes m ON m.id = k.mailbox_id WHERE m.account_id = $1 \
                     ORDER BY m.id",
                )
                .bind(self.account_id)
                .fetch_all(&mut ctx.conn)
                .await?;
                rows.into_iter()
                    .map(|(id, g, made)| Ok((id, Guid::from_slice(&g)?, Some(made))))
                    .collect::<Result<_, StoreError>>()?
            }
        };
        for (id, guid, before) in targets {
            make(ctx, account, guid, id, before).await?;
        }
        Ok(())
    }
}

/// The twin's `AccessKeySet`, applied here: kept when it is later than the key here (a
/// mailbox gone here takes nothing).
pub(crate) async fn apply(
    ctx: &mut WriteCtx,
    mailbox: &Guid,
    key: &AccessKey,
    made: i64,
) -> Result<(), StoreError> {
    let Some(m) = rows::mailbox_by_guid(&mut ctx.conn, mailbox).await? else {
        return Ok(());
    };
    if let Some((here, here_made)) = stored(ctx, m.id).await?
        && (here_made, here.0) >= (made, key.0)
    {
        return Ok(());
    }
    put(ctx, m.id, key, made).await
}

/// The key of a mailbox (by local id), if it has one.
pub(crate) async fn read<'e>(
    e: impl sqlx::SqliteExecutor<'e>,
    mailbox_id: i64,
) -> Result<Option<AccessKey>, StoreError> {
    let key: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT key FROM access_keys WHERE mailbox_id = $1")
            .bind(mailbox_id)
            .fetch_optional(e)
            .await?;
    key.map(|k| AccessKey::from_slice(&k)).transpose()
}

/// Every key as the changes that make them (a snapshot's part), and the same rows for
/// the settings digest: account GUID, mailbox GUID, key, made.
pub(crate) type KeyTuple = (Vec<u8>, Vec<u8>, Vec<u8>, i64);

/// The query both the snapshot and the digest read keys with.
pub(crate) const ALL_KEYS: &str = "SELECT a.guid, m.guid, k.key, k.made FROM access_keys k \
     JOIN mailboxes m ON m.id = k.mailbox_id JOIN accounts a ON a.id = m.account_id \
     ORDER BY a.guid, m.guid";

/// A snapshot row as its change.
pub(crate) fn as_change(row: KeyTuple) -> Result<Change, StoreError> {
    let (account, mailbox, key, made) = row;
    Ok(Change::AccessKeySet {
        account: Guid::from_slice(&account)?,
        mailbox: Guid::from_slice(&mailbox)?,
        key: AccessKey::from_slice(&key)?,
        made,
    })
}

#[cfg(test)]
mod tests {
    use super::AccessKey;

    /// RFC 2202 test case 2 (HMAC-SHA1 with key "Jefe"), through the same ring calls.
    #[test]
    fn sign_is_hmac_sha1_and_verify_checks_it() {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, b"Jefe");
        let tag = ring::hmac::sign(&key, b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(tag.as_ref()),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        let k = AccessKey::random();
        let t = k.sign(b"imap://a@h/INBOX;UIDVALIDITY=1/;UID=1;URLAUTH=anonymous");
        assert!(k.verify(
            b"imap://a@h/INBOX;UIDVALIDITY=1/;UID=1;URLAUTH=anonymous",
            &t
        ));
        assert!(!k.verify(
            b"imap://a@h/INBOX;UIDVALIDITY=1/;UID=2;URLAUTH=anonymous",
            &t
        ));
        assert!(!k.verify(
            b"imap://a@h/INBOX;UIDVALIDITY=1/;UID=1;URLAUTH=anonymous",
            &t[..19]
        ));
        assert!(!AccessKey::random().verify(b"x", &k.sign(b"x")));
    }

    #[test]
    fn debug_shows_nothing_and_serde_round_trips() {
        let k = AccessKey::random();
        let shown = format!("{k:?}");
        assert_eq!(shown, "AccessKey(<redacted>)");
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json.len(), 2 + 64);
        assert!(!shown.contains(&json[1..9]));
        assert_eq!(serde_json::from_str::<AccessKey>(&json).unwrap(), k);
        assert!(serde_json::from_str::<AccessKey>("\"00ff\"").is_err());
    }
}

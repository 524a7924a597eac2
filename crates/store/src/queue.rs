//! The outbound queue as the runner, the CLI and the status page read it, and the writes
//! they make (see `ops::queue`).

use std::sync::Arc;

use crate::{
    BlobHash, Change, Guid, Store, StoreError,
    change::{QueueAction, RcptOutcome, RcptState},
    ops::queue::{AddDkimKey, ControlQueue, Enqueue, RecordAttempt, SaveMtaSts},
    store::shared_body,
    types::now_unix,
};

/// The queue's columns, in [`QueueRow`] order.
macro_rules! select_queue {
    () => {
        "SELECT id, owner, sender, blob, size, created_at, next_attempt, attempts, held, \
         delay_notified, last_reply FROM queue"
    };
}

/// An MTA-STS policy this twin fetched and keeps across restarts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MtaStsPolicy {
    /// The policy domain, lower-case.
    pub domain: String,
    /// The `id=` of the TXT record it was fetched under.
    pub id: String,
    /// The policy text as fetched.
    pub policy: String,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
}

/// A queued message and its recipients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    /// Its id.
    pub id: Guid,
    /// The twin that delivers it.
    pub owner: String,
    /// The envelope sender (empty for a DSN).
    pub from: String,
    /// Its bytes' address.
    pub blob: BlobHash,
    /// Its size in bytes.
    pub size: u64,
    /// When it was queued (Unix seconds).
    pub created_at: i64,
    /// When it is tried next (Unix seconds).
    pub next_attempt: i64,
    /// Attempts so far.
    pub attempts: u32,
    /// Held by an admin: not tried until released.
    pub held: bool,
    /// The sender has been told of the delay.
    pub delay_notified: bool,
    /// The last reply that did not deliver it.
    pub last_reply: String,
    /// Every recipient with its state.
    pub recipients: Vec<QueuedRcpt>,
}

impl Queued {
    /// The recipients still to deliver.
    pub fn pending(&self) -> impl Iterator<Item = &str> {
        self.recipients
            .iter()
            .filter(|r| r.state == RcptState::Pending)
            .map(|r| r.rcpt.as_str())
    }
}

/// One recipient of a queued message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedRcpt {
    /// The address.
    pub rcpt: String,
    /// Pending, delivered or failed.
    pub state: RcptState,
    /// The last reply for it.
    pub reply: String,
}

/// The queue at a glance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Messages queued (held ones included).
    pub messages: u64,
    /// Of which held by an admin.
    pub held: u64,
    /// Recipients still to deliver.
    pub recipients: u64,
    /// Bytes queued.
    pub bytes: u64,
    /// When the oldest queued message arrived (Unix seconds).
    pub oldest: Option<i64>,
}

/// A DKIM signing key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DkimKey {
    /// The signing domain.
    pub domain: String,
    /// The selector.
    pub selector: String,
    /// `ed25519-sha256` or `rsa-sha256`.
    pub algorithm: String,
    /// The private key, PKCS#8 DER.
    pub private_key: Vec<u8>,
}

/// What one attempt did, as the runner reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The queued message.
    pub id: Guid,
    /// Each recipient tried.
    pub outcomes: Vec<RcptOutcome>,
    /// When to try the pending ones again.
    pub next_attempt: i64,
    /// The sender has now been told of the delay.
    pub delay_notified: bool,
}

/// A delivery status notification to queue with an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bounce {
    /// Its id (derived from the message and the attempt: queued once).
    pub id: Guid,
    /// Who is told (the failed message's envelope sender).
    pub to: String,
    /// The notification's bytes.
    pub bytes: Arc<Vec<u8>>,
}

/// A row of [`select_queue!`], as the queue list and the mirror's snapshot read it.
pub(crate) type QueueRow = (
    Vec<u8>,
    String,
    String,
    Vec<u8>,
    i64,
    i64,
    i64,
    i64,
    bool,
    bool,
    String,
);

impl Store {
    /// Queues a message for delivery to other domains, durably; false when this id was
    /// queued before (a retried submission): it is not queued twice.
    pub async fn enqueue(
        &self,
        id: Guid,
        from: &str,
        recipients: &[String],
        bytes: Arc<Vec<u8>>,
    ) -> Result<bool, StoreError> {
        if recipients.is_empty() {
            return Err(StoreError::Invalid("nothing to queue for".into()));
        }
        self.writer()
            .submit(Enqueue {
                id,
                from: from.to_string(),
                recipients: recipients.to_vec(),
                body: shared_body(bytes),
            })
            .await
    }

    /// The MTA-STS policies this twin keeps that have not expired.
    pub async fn mta_sts_policies(&self) -> Result<Vec<MtaStsPolicy>, StoreError> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT domain, id, policy, expires_at FROM mta_sts WHERE expires_at > $1 \
             ORDER BY domain",
        )
        .bind(now_unix())
        .fetch_all(self.db())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(domain, id, policy, expires_at)| MtaStsPolicy {
                domain,
                id,
                policy,
                expires_at,
            })
            .collect())
    }

    /// Keeps (replaces) a domain's MTA-STS policy.
    pub async fn save_mta_sts_policy(&self, p: MtaStsPolicy) -> Result<(), StoreError> {
        self.writer()
            .submit(SaveMtaSts {
                domain: p.domain,
                id: p.id,
                policy: p.policy,
                expires_at: p.expires_at,
            })
            .await
    }

    /// Records an attempt made here (this twin owns the message from now on), with the
    /// DSN it causes, in one transaction.
    pub async fn record_attempt(
        &self,
        attempt: Attempt,
        bounce: Option<Bounce>,
    ) -> Result<(), StoreError> {
        let change = Change::QueueAttempt {
            id: attempt.id,
            by: self.node().to_string(),
            at: now_unix(),
            outcomes: attempt.outcomes,
            next_attempt: attempt.next_attempt,
            delay_notified: attempt.delay_notified,
        };
        let bounce = bounce.map(|b| Enqueue {
            id: b.id,
            from: String::new(),
            recipients: vec![b.to],
            body: shared_body(b.bytes),
        });
        self.writer()
            .submit(RecordAttempt {
                attempt: change,
                bounce,
            })
            .await
    }

    /// Holds, releases, retries or drops a queued message.
    pub async fn control_queue(&self, id: Guid, action: QueueAction) -> Result<(), StoreError> {
        self.writer().submit(ControlQueue { id, action }).await
    }

    /// Messages due for an attempt now: this twin's own, and, when `take_over`, the
    /// twin's too (its owner has been gone longer than the lease). Oldest first.
    pub async fn queue_due(
        &self,
        now: i64,
        take_over: bool,
        limit: u32,
    ) -> Result<Vec<Queued>, StoreError> {
        let rows: Vec<QueueRow> = sqlx::query_as(concat!(
            select_queue!(),
            " WHERE held = 0 AND next_attempt <= $1 AND (owner = $2 OR $3) \
             ORDER BY next_attempt, created_at LIMIT $4"
        ))
        .bind(now)
        .bind(self.node())
        .bind(take_over)
        .bind(limit as i64)
        .fetch_all(self.db())
        .await?;
        self.with_recipients(rows).await
    }

    /// The whole queue, oldest first.
    pub async fn queue_list(&self) -> Result<Vec<Queued>, StoreError> {
        let rows: Vec<QueueRow> =
            sqlx::query_as(concat!(select_queue!(), " ORDER BY created_at, id"))
                .fetch_all(self.db())
                .await?;
        self.with_recipients(rows).await
    }

    /// One queued message by id, or by a unique prefix of its hex id.
    pub async fn queue_entry(&self, id: &str) -> Result<Queued, StoreError> {
        let pattern = format!("{}%", id.to_ascii_lowercase());
        let rows: Vec<QueueRow> = sqlx::query_as(concat!(
            select_queue!(),
            " WHERE lower(hex(id)) LIKE $1 LIMIT 2"
        ))
        .bind(pattern)
        .fetch_all(self.db())
        .await?;
        if rows.len() > 1 {
            return Err(StoreError::Invalid(format!(
                "{id} names more than one queued message"
            )));
        }
        self.with_recipients(rows)
            .await?
            .pop()
            .ok_or_else(|| StoreError::NotFound(format!("queued message {id}")))
    }

    /// The queue at a glance.
    pub async fn queue_stats(&self) -> Result<QueueStats, StoreError> {
        let (messages, held, bytes, oldest): (i64, i64, i64, Option<i64>) = sqlx::query_as(
            "SELECT count(*), coalesce(sum(held), 0), coalesce(sum(size), 0), min(created_at) \
             FROM queue",
        )
        .fetch_one(self.db())
        .await?;
        let recipients: i64 =
            sqlx::query_scalar("SELECT count(*) FROM queue_rcpts WHERE state = 'pending'")
                .fetch_one(self.db())
                .await?;
        Ok(QueueStats {
            messages: messages as u64,
            held: held as u64,
            recipients: recipients as u64,
            bytes: bytes as u64,
            oldest,
        })
    }

    async fn with_recipients(&self, rows: Vec<QueueRow>) -> Result<Vec<Queued>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for (id, owner, from, blob, size, created_at, next_attempt, attempts, held, dn, last) in
            rows
        {
            let rcpts: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT rcpt, state, reply FROM queue_rcpts WHERE queue_id = $1 ORDER BY rcpt",
            )
            .bind(&id)
            .fetch_all(self.db())
            .await?;
            out.push(Queued {
                id: Guid::from_slice(&id)?,
                owner,
                from,
                blob: BlobHash::from_slice(&blob)?,
                size: size as u64,
                created_at,
                next_attempt,
                attempts: attempts as u32,
                held,
                delay_notified: dn,
                last_reply: last,
                recipients: rcpts
                    .into_iter()
                    .map(|(rcpt, state, reply)| QueuedRcpt {
                        rcpt,
                        state: RcptState::from_db(&state),
                        reply,
                    })
                    .collect(),
            });
        }
        Ok(out)
    }

    /// Adds a DKIM signing key (PKCS#8 DER) for a domain under a selector; refused when
    /// the selector is taken.
    pub async fn add_dkim_key(
        &self,
        domain: &str,
        selector: &str,
        algorithm: &str,
        private_key: &[u8],
    ) -> Result<(), StoreError> {
        use base64::Engine;
        let domain = crate::names::domain(domain)?;
        if selector.is_empty()
            || !selector
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Err(StoreError::Invalid(
                "a selector is letters, digits, '-', '_' and '.'".into(),
            ));
        }
        let change = Change::DkimKeyAdded {
            domain,
            selector: selector.to_string(),
            algorithm: algorithm.to_string(),
            private_key: base64::engine::general_purpose::STANDARD.encode(private_key),
            at: now_unix(),
        };
        self.writer().submit(AddDkimKey { change }).await
    }

    /// A domain's DKIM keys (every domain's with `None`), by selector.
    pub async fn dkim_keys(&self, domain: Option<&str>) -> Result<Vec<DkimKey>, StoreError> {
        let rows: Vec<(String, String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT domain, selector, algorithm, private_key FROM dkim_keys \
             WHERE $1 IS NULL OR domain = $1 ORDER BY domain, selector",
        )
        .bind(domain.map(|d| d.to_ascii_lowercase()))
        .fetch_all(self.db())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(domain, selector, algorithm, private_key)| DkimKey {
                domain,
                selector,
                algorithm,
                private_key,
            })
            .collect())
    }
}

impl Store {
    /// Waits (bounded) until this twin holds everything its twin logged, or the twin is
    /// taken for down: a twin back from a crash must learn what its twin delivered for it
    /// before it tries its own queue again. `Unavailable` while still catching up.
    pub async fn twin_ready(&self) -> Result<(), StoreError> {
        match self.forwarder_cell().get() {
            Some(f) => f.ready().await,
            None => Ok(()),
        }
    }

    /// Since when the twin has been unreachable (Unix seconds), or `None` while the link
    /// is up or no twin was ever configured: the runner takes over the twin's queue once
    /// this is older than the lease.
    pub async fn twin_gone_since(&self) -> Result<Option<i64>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, value FROM mirror_state WHERE key IN ('link', 'link_since')",
        )
        .fetch_all(self.db())
        .await?;
        let get = |k: &str| {
            rows.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        Ok(match get("link") {
            Some("down") => get("link_since").and_then(|v| v.parse().ok()),
            _ => None,
        })
    }
}

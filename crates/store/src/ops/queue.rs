//! The outbound queue's writes (issue 15): a message queued, an attempt's outcome, an
//! admin's hold/release/retry/drop, a DKIM key. Each logs a change, and the twin applies
//! the same functions to the change it receives, so both hold the same queue.

use crate::{
    Change, Guid, StoreError,
    change::{QueueAction, RcptOutcome, RcptState},
    ops::message::Body,
    writer::{Op, WriteCtx},
};

/// A message to queue, with its bytes.
pub(crate) struct Enqueue {
    /// Its id (a retried submission names the same id: queued once).
    pub id: Guid,
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub recipients: Vec<String>,
    /// The bytes.
    pub body: Body,
}

impl Op for Enqueue {
    /// False when this id was queued before (a client's retry).
    type Output = bool;
    async fn apply(self, ctx: &mut WriteCtx) -> Result<bool, StoreError> {
        let change = Change::Queued {
            id: self.id,
            owner: ctx.node.to_string(),
            from: self.from,
            recipients: self.recipients,
            blob: self.body.hash,
            size: self.body.bytes.len() as u64,
            at: crate::now_unix(),
        };
        let new = insert_queued(ctx, &change, Some(&self.body)).await?;
        if new {
            ctx.log(change).await?;
        }
        Ok(new)
    }
}

/// Stores a `Queued` change's row, its recipients and (when given) its bytes. False when
/// the id is queued already, or was delivered and removed (its attempts name it).
pub(crate) async fn insert_queued(
    ctx: &mut WriteCtx,
    change: &Change,
    body: Option<&Body>,
) -> Result<bool, StoreError> {
    let Change::Queued {
        id,
        owner,
        from,
        recipients,
        blob,
        size,
        at,
    } = change
    else {
        return Ok(false);
    };
    if let Some(b) = body {
        if b.hash != *blob {
            return Err(StoreError::Invalid(
                "queued bytes do not match their hash".into(),
            ));
        }
        sqlx::query(
            "INSERT INTO blobs (hash, size, data) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&b.hash.0[..])
        .bind(b.bytes.len() as i64)
        .bind(&b.bytes[..])
        .execute(&mut ctx.conn)
        .await?;
    }
    let done = sqlx::query(
        "INSERT INTO queue (id, owner, sender, blob, size, created_at, next_attempt) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&id.0[..])
    .bind(owner)
    .bind(from)
    .bind(&blob.0[..])
    .bind(*size as i64)
    .bind(*at)
    .execute(&mut ctx.conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    for r in recipients {
        sqlx::query(
            "INSERT INTO queue_rcpts (queue_id, rcpt) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(&id.0[..])
        .bind(r)
        .execute(&mut ctx.conn)
        .await?;
    }
    Ok(true)
}

/// The end of a delivery attempt, with the bounce it causes (queued in the same
/// transaction, so an attempt is never recorded without its bounce, nor bounced twice).
pub(crate) struct RecordAttempt {
    /// The `QueueAttempt` change (its `by` is this twin).
    pub attempt: Change,
    /// A delivery status notification to queue.
    pub bounce: Option<Enqueue>,
}

impl Op for RecordAttempt {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        if !apply_attempt(ctx, &self.attempt).await? {
            // Dropped meanwhile (by an admin, here or on the twin): nothing to record.
            return Ok(());
        }
        ctx.log(self.attempt).await?;
        if let Some(b) = self.bounce {
            b.apply(ctx).await?;
        }
        Ok(())
    }
}

/// Applies a `QueueAttempt`: recipients delivered or failed for good stay so (whatever
/// a later or older attempt says), the attempt's twin becomes the owner, and a message
/// with no recipient left pending leaves the queue. False when the message is not queued.
pub(crate) async fn apply_attempt(ctx: &mut WriteCtx, change: &Change) -> Result<bool, StoreError> {
    let Change::QueueAttempt {
        id,
        by,
        outcomes,
        next_attempt,
        delay_notified,
        ..
    } = change
    else {
        return Ok(false);
    };
    let last_reply = outcomes
        .iter()
        .rev()
        .find(|o| o.state != RcptState::Delivered)
        .map(|o| o.reply.as_str())
        .unwrap_or("");
    let done = sqlx::query(
        "UPDATE queue SET owner = $2, attempts = attempts + 1, next_attempt = $3, \
         delay_notified = max(delay_notified, $4), last_reply = $5 WHERE id = $1",
    )
    .bind(&id.0[..])
    .bind(by)
    .bind(*next_attempt)
    .bind(*delay_notified)
    .bind(last_reply)
    .execute(&mut ctx.conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    for RcptOutcome { rcpt, state, reply } in outcomes {
        sqlx::query(
            "UPDATE queue_rcpts SET state = $3, reply = $4 \
             WHERE queue_id = $1 AND rcpt = $2 AND state = 'pending'",
        )
        .bind(&id.0[..])
        .bind(rcpt)
        .bind(state.as_str())
        .bind(reply)
        .execute(&mut ctx.conn)
        .await?;
    }
    remove_if_done(ctx, id).await?;
    Ok(true)
}

/// Removes a queued message none of whose recipients is pending (its bytes go with the
/// next housekeeping, once nothing else needs them).
async fn remove_if_done(ctx: &mut WriteCtx, id: &Guid) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM queue WHERE id = $1 AND NOT EXISTS \
         (SELECT 1 FROM queue_rcpts WHERE queue_id = $1 AND state = 'pending')",
    )
    .bind(&id.0[..])
    .execute(&mut ctx.conn)
    .await?;
    Ok(())
}

/// An admin's hold, release, retry or drop.
pub(crate) struct ControlQueue {
    /// The queued message.
    pub id: Guid,
    /// What to do.
    pub action: QueueAction,
}

impl Op for ControlQueue {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        let change = Change::QueueControl {
            id: self.id,
            action: self.action,
        };
        if !apply_control(ctx, &change).await? {
            return Err(StoreError::NotFound(format!(
                "queued message {}",
                self.id.to_hex()
            )));
        }
        ctx.log(change).await?;
        Ok(())
    }
}

/// Applies a `QueueControl`; false when the message is not queued.
pub(crate) async fn apply_control(ctx: &mut WriteCtx, change: &Change) -> Result<bool, StoreError> {
    let Change::QueueControl { id, action } = change else {
        return Ok(false);
    };
    let q = sqlx::query(match action {
        QueueAction::Hold => "UPDATE queue SET held = 1 WHERE id = $1",
        QueueAction::Release => "UPDATE queue SET held = 0 WHERE id = $1",
        QueueAction::Retry => "UPDATE queue SET held = 0, next_attempt = 0 WHERE id = $1",
        QueueAction::Drop => "DELETE FROM queue WHERE id = $1",
    });
    Ok(q.bind(&id.0[..])
        .execute(&mut ctx.conn)
        .await?
        .rows_affected()
        > 0)
}

/// A new DKIM key.
pub(crate) struct AddDkimKey {
    /// The `DkimKeyAdded` change.
    pub change: Change,
}

impl Op for AddDkimKey {
    type Output = ();
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        if !insert_dkim(ctx, &self.change).await? {
            return Err(StoreError::AlreadyExists("a key with this selector".into()));
        }
        ctx.log(self.change).await?;
        Ok(())
    }
}

/// Stores a `DkimKeyAdded`'s key; false when the domain has that selector already.
pub(crate) async fn insert_dkim(ctx: &mut WriteCtx, change: &Change) -> Result<bool, StoreError> {
    let Change::DkimKeyAdded {
        domain,
        selector,
        algorithm,
        private_key,
        at,
    } = change
    else {
        return Ok(false);
    };
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(private_key)
        .map_err(|_| StoreError::Invalid("a DKIM key must be base64".into()))?;
    let done = sqlx::query(
        "INSERT INTO dkim_keys (domain, selector, algorithm, private_key, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(domain)
    .bind(selector)
    .bind(algorithm)
    .bind(der)
    .bind(*at)
    .execute(&mut ctx.conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// An MTA-STS policy fetched by this twin (local: not logged, not mirrored).
pub(crate) struct SaveMtaSts {
    /// The policy domain, lower-case.
    pub domain: String,
    /// The `id=` of the TXT record it was fetched under.
    pub id: String,
    /// The policy text as fetched.
    pub policy: String,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
}

impl Op for SaveMtaSts {
    type Output = ();
    fn needs_savepoint(&self) -> bool {
        false
    }
    async fn apply(self, ctx: &mut WriteCtx) -> Result<(), StoreError> {
        // Expired policies go as new ones come: the table never outgrows the domains
        // mail went to within a policy's lifetime.
        sqlx::query("DELETE FROM mta_sts WHERE expires_at <= $1")
            .bind(crate::now_unix())
            .execute(&mut ctx.conn)
            .await?;
        sqlx::query(
            "INSERT INTO mta_sts (domain, id, policy, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (domain) DO UPDATE SET id = $2, policy = $3, expires_at = $4",
        )
        .bind(&self.domain)
        .bind(&self.id)
        .bind(&self.policy)
        .bind(self.expires_at)
        .execute(&mut ctx.conn)
        .await?;
        Ok(())
    }
}

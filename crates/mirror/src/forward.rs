//! Home twins. Each account is homed on one twin (spread over both by its GUID); while the
//! link is up, only the home twin assigns the account's UIDs and MODSEQs. A write on the
//! other twin is forwarded over the link; the home twin carries it out, answers with its
//! log position, and the forwarding twin answers its client once it has applied the home
//! twin's log that far, so the client's next command already sees the result here.
//! A link that drops is given a grace period (three heartbeats) to come back, during
//! which forwarded writes wait for it, so a flapping link never splits the pair; only a
//! twin that stays away longer is taken for down, and then every twin serves every
//! account itself.
//!
//! Rules of the house:
//! - A command keeps its request id for life; a session that ends under a waiting command
//!   does not fail it: the next session sends it again and the home, which recorded the id
//!   with the outcome, answers the first outcome. "In doubt" is settled by asking again,
//!   and only when the bounded wait runs out does the client hear a temporary failure.
//! - A command never sent while the twin is taken for down is done here ("split").
//! - A home twin hands out no UID for its accounts, for its own clients or forwarded ones,
//!   until it has applied everything its twin logged before this link came up.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::Duration,
};

use tokio::{
    sync::{Semaphore, mpsc, oneshot, watch},
    time::Instant,
};
use twinmail_store::{
    BoxFuture, Command, Forwarder, Guid, Outcome, Route, Store, StoreError, WriteError,
};

use crate::{
    LinkError,
    frame::{CHUNK, Frame, RequestHeader, ResponseFrame},
    session::Out,
};

/// Forwarded writes the home twin carries out at once.
const CONCURRENT_REQUESTS: usize = 64;

/// The forwarding state of one twin, shared by the store's router and the link sessions.
pub(crate) struct Forwarding {
    /// This node's id.
    node: String,
    /// The twin's node id.
    twin: String,
    /// True while a link is up.
    pub(crate) linked: AtomicBool,
    /// The live session's outgoing frames; `attached` says when it changes.
    out: Mutex<Option<Out>>,
    /// Bumped whenever a session attaches or detaches.
    attached: watch::Sender<u64>,
    /// When the last link went down (or this twin started): writes wait for the link
    /// until `grace` after it, then this twin serves every account alone.
    down_since: Mutex<Instant>,
    /// How long a lost link is waited for.
    grace: Duration,
    /// The longest a client's write waits here: for the link, the home's answer, or this
    /// twin's catching up. Past it the client hears a temporary failure.
    wait: Duration,
    /// Callers waiting for the answer to a forwarded command, by request id (several when
    /// a client's retry of a delivery meets its first attempt still in flight).
    pending: Mutex<HashMap<Guid, Vec<oneshot::Sender<ResponseFrame>>>>,
    /// How far this twin has applied the twin's log.
    pub(crate) applied: watch::Sender<i64>,
    /// Where the twin's log ended when the current session started (`None` until its
    /// position arrives): once `applied` reaches it, this twin holds everything the twin
    /// logged while they were apart and may hand out UIDs as a home twin again.
    pub(crate) twin_log_end: watch::Sender<Option<i64>>,
    /// How far the twin has acknowledged (durably applied) this twin's log.
    pub(crate) acked: watch::Sender<i64>,
    /// Sync mode's timeout; `None` in async mode.
    sync: Option<Duration>,
    /// Sync mode gave up waiting for the twin; async until the twin catches up.
    pub(crate) fallback: watch::Sender<bool>,
    /// True once this database holds a complete copy of the twin's (a snapshot or the log
    /// applied from the twin's current incarnation); false while a new or rebuilt twin
    /// waits for its snapshot.
    pub(crate) synced: AtomicBool,
    /// Forwarded writes done, their bytes, and those that failed, not yet added to the
    /// store's counters (see [`Forwarding::take_counts`]).
    counts: [AtomicI64; 3],
}

impl Forwarding {
    /// `grace`: how long a lost link is waited for; `startup`: how long, at start, the
    /// first link is waited for (shorter: a twin that is up links within moments); `wait`:
    /// the longest a client's write is held.
    pub(crate) fn new(
        node: String,
        twin: String,
        grace: Duration,
        startup: Duration,
        wait: Duration,
        sync: Option<Duration>,
    ) -> Arc<Forwarding> {
        let started = Instant::now();
        let down_since = started
            .checked_sub(grace.saturating_sub(startup))
            .unwrap_or(started);
        Arc::new(Forwarding {
            node,
            twin,
            linked: AtomicBool::new(false),
            out: Mutex::new(None),
            attached: watch::channel(0).0,
            down_since: Mutex::new(down_since),
            grace,
            wait,
            pending: Mutex::new(HashMap::new()),
            applied: watch::channel(0).0,
            twin_log_end: watch::channel(None).0,
            acked: watch::channel(0).0,
            sync,
            fallback: watch::channel(false).0,
            counts: Default::default(),
            synced: AtomicBool::new(false),
        })
    }

    /// The forwarding counters gathered since the last call, as the store names them.
    pub(crate) fn take_counts(&self) -> [(&'static str, i64); 3] {
        let take = |i: usize| self.counts[i].swap(0, Ordering::Relaxed);
        [
            ("fwd_writes", take(0)),
            ("fwd_bytes", take(1)),
            ("fwd_failed", take(2)),
        ]
    }

    /// The account's home twin: spread over both by the account's GUID, the same answer
    /// on both twins.
    pub(crate) fn home<'a>(&'a self, account: &Guid, chosen: Option<&str>) -> &'a str {
        crate::home_twin(&self.node, &self.twin, account, chosen)
    }

    /// A session starts: forwarded writes go out through `out` (writes waiting for an
    /// answer send themselves again, with the same request ids). Until the twin's position
    /// arrives, this twin is not caught up.
    pub(crate) fn attach(&self, out: Out, applied: i64) {
        self.applied.send_replace(applied);
        self.twin_log_end.send_replace(None);
        *lock(&self.out) = Some(out);
        self.attached.send_modify(|g| *g += 1);
    }

    /// The session ended. Writes waiting for an answer keep waiting (bounded): the next
    /// session resends them, and the home answers each once.
    pub(crate) fn detach(&self) {
        *lock(&self.out) = None;
        *lock(&self.down_since) = Instant::now();
        self.attached.send_modify(|g| *g += 1);
    }

    /// The home twin answered.
    pub(crate) fn answered(&self, r: ResponseFrame) {
        let waiters = lock(&self.pending).remove(&r.id).unwrap_or_default();
        for w in waiters {
            let _ = w.send(r.clone());
        }
    }

    /// The live session's frame queue, waiting for a session until `until`.
    async fn session(&self, until: Instant) -> Option<Out> {
        let mut attached = self.attached.subscribe();
        loop {
            if let Some(out) = lock(&self.out).clone() {
                return Some(out);
            }
            tokio::time::timeout_at(until, attached.changed())
                .await
                .ok()?
                .ok()?;
        }
    }

    /// How much of the grace period after the last link loss is left.
    fn remaining_grace(&self) -> Duration {
        let since = *lock(&self.down_since);
        self.grace.saturating_sub(since.elapsed())
    }

    /// True while a session is attached, or the link has not been gone for long.
    fn reachable(&self) -> bool {
        lock(&self.out).is_some() || !self.remaining_grace().is_zero()
    }

    /// True when, having applied the twin's log up to `applied`, this twin holds
    /// everything the twin logged before this link.
    pub(crate) fn caught_up_to(&self, applied: i64) -> bool {
        lock(&self.out).is_some() && self.twin_log_end.borrow().is_some_and(|end| applied >= end)
    }

    /// True once this twin has applied everything the twin logged before this link.
    fn caught_up(&self) -> bool {
        lock(&self.out).is_some()
            && self
                .twin_log_end
                .borrow()
                .is_some_and(|end| *self.applied.borrow() >= end)
    }

    /// Waits until this twin may assign UIDs as a home twin: caught up with the twin's
    /// log, or the twin taken for down (then it serves alone; the merge of what both did
    /// meanwhile is the split's business). Fails when `deadline` comes first.
    pub(crate) async fn ready(&self, deadline: Instant) -> Result<(), StoreError> {
        let (mut attached, mut applied, mut end) = (
            self.attached.subscribe(),
            self.applied.subscribe(),
            self.twin_log_end.subscribe(),
        );
        loop {
            if self.caught_up() || !self.reachable() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StoreError::Unavailable(
                    "this twin is still catching up with its twin".into(),
                ));
            }
            // Wake for any change, or when the grace period runs out.
            let wake = if lock(&self.out).is_some() {
                deadline
            } else {
                deadline.min(Instant::now() + self.remaining_grace())
            };
            tokio::select! {
                _ = attached.changed() => {}
                _ = applied.changed() => {}
                _ = end.changed() => {}
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Where an account's writes go now.
    async fn route(&self, account: &Guid, home: Option<&str>) -> Result<Route, StoreError> {
        if self.home(account, home) == self.twin {
            return Ok(if self.reachable() {
                Route::Forward
            } else {
                Route::Local
            });
        }
        self.ready(Instant::now() + self.wait).await?;
        Ok(Route::Local)
    }

    async fn forward_inner(
        self: Arc<Self>,
        command: Command,
        bytes: Option<Arc<Vec<u8>>>,
    ) -> Result<Outcome, StoreError> {
        let id = command.id;
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).entry(id).or_default().push(tx);
        let len = bytes.as_ref().map_or(0, |b| b.len() as i64);
        let result = self.exchange(command, bytes, rx).await;
        match &result {
            Ok(_) => {
                self.counts[0].fetch_add(1, Ordering::Relaxed);
                self.counts[1].fetch_add(len, Ordering::Relaxed);
            }
            // Not sent: done here, not a forwarding failure.
            Err(StoreError::TwinDown) => {}
            Err(_) => {
                self.counts[2].fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(w) = lock(&self.pending).get_mut(&id) {
            w.retain(|w| !w.is_closed());
        }
        result
    }

    /// Sends a command (again on every new session) until its answer arrives and this
    /// twin has applied the home's log that far, or the wait runs out.
    async fn exchange(
        &self,
        command: Command,
        bytes: Option<Arc<Vec<u8>>>,
        mut rx: oneshot::Receiver<ResponseFrame>,
    ) -> Result<Outcome, StoreError> {
        let deadline = Instant::now() + self.wait;
        let in_doubt = || {
            StoreError::Unavailable("the home twin has not confirmed the write; try again".into())
        };
        let mut sent = false;
        let answer = loop {
            let until = if sent {
                deadline
            } else {
                deadline.min(Instant::now() + self.remaining_grace())
            };
            let Some(out) = self.session(until).await else {
                if sent || Instant::now() >= deadline {
                    return Err(in_doubt());
                }
                // Never sent, and the twin is taken for down: this twin does it.
                return Err(StoreError::TwinDown);
            };
            sent = true;
            if send(&out, &command, &bytes).await.is_err() {
                // The session is ending; wait for the next one.
                let _ = tokio::time::timeout_at(deadline, out.closed()).await;
                continue;
            }
            tokio::select! {
                a = &mut rx => match a {
                    Ok(a) => break a,
                    Err(_) => return Err(in_doubt()),
                },
                _ = out.closed() => continue,
                _ = tokio::time::sleep_until(deadline) => return Err(in_doubt()),
            }
        };
        let outcome = answer.result.map_err(StoreError::from)?;
        // Answer the client once the home's result is here too, so its next command on
        // this twin sees it; if the link drops meanwhile, the outcome stands.
        let mut applied = self.applied.subscribe();
        let _ = tokio::time::timeout_at(deadline, applied.wait_for(|a| *a >= answer.seq)).await;
        Ok(outcome)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Puts a command and its bytes on a session's queue.
async fn send(out: &Out, command: &Command, bytes: &Option<Arc<Vec<u8>>>) -> Result<(), ()> {
    let gone = |_| ();
    out.send(Frame::Request(RequestHeader {
        command: command.clone(),
        blob_len: bytes.as_ref().map(|b| b.len() as u64),
    }))
    .await
    .map_err(gone)?;
    for c in bytes.iter().flat_map(|b| b.chunks(CHUNK)) {
        out.send(Frame::RequestChunk(command.id, c.to_vec()))
            .await
            .map_err(gone)?;
    }
    Ok(())
}

/// The store's router: forwards while linked, when the account is homed on the twin.
pub(crate) struct Router(pub(crate) Arc<Forwarding>);

impl Forwarder for Router {
    fn route<'a>(
        &'a self,
        account: &'a Guid,
        home: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Route, StoreError>> {
        Box::pin(self.0.route(account, home))
    }

    fn ready(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.0.ready(Instant::now() + self.0.wait))
    }

    fn synced(&self) -> bool {
        self.0.synced.load(Ordering::SeqCst)
    }

    fn replicate(&self, seq: i64) -> BoxFuture<'static, ()> {
        let f = self.0.clone();
        Box::pin(async move {
            let Some(timeout) = f.sync else { return };
            if *f.fallback.borrow() {
                return;
            }
            let mut acked = f.acked.subscribe();
            let stored = tokio::time::timeout(timeout, acked.wait_for(|a| *a >= seq)).await;
            if !matches!(stored, Ok(Ok(_))) && !f.fallback.send_replace(true) {
                tracing::warn!(
                    timeout_ms = timeout.as_millis() as u64,
                    "mirror: the twin did not store a change in time; sync mode falls back to async until it catches up"
                );
            }
        })
    }

    fn forward(
        &self,
        command: Command,
        bytes: Option<Arc<Vec<u8>>>,
    ) -> BoxFuture<'static, Result<Outcome, StoreError>> {
        Box::pin(self.0.clone().forward_inner(command, bytes))
    }
}

/// Carries out the twin's forwarded writes as they arrive, several at once (they share
/// the store's group commit), answering each with this twin's log position. A command
/// sent again (after a reconnect) is answered with its first outcome.
pub(crate) async fn serve(
    store: Store,
    fwd: Arc<Forwarding>,
    mut rx: mpsc::Receiver<Frame>,
    out: Out,
    max: u64,
) -> Result<(), LinkError> {
    let limit = Arc::new(Semaphore::new(CONCURRENT_REQUESTS));
    let mut partial: HashMap<Guid, (RequestHeader, Vec<u8>)> = HashMap::new();
    while let Some(f) = rx.recv().await {
        let ready = match f {
            Frame::Request(h) => match h.blob_len {
                Some(len) if len > max => {
                    return Err(LinkError::Protocol(format!(
                        "a forwarded message of {len} bytes exceeds the limit"
                    )));
                }
                Some(0) => Some((h, Some(Vec::new()))),
                Some(len) => {
                    let id = h.command.id;
                    partial.insert(id, (h, Vec::with_capacity(len as usize)));
                    None
                }
                None => Some((h, None)),
            },
            Frame::RequestChunk(id, bytes) => {
                let Some((h, buf)) = partial.get_mut(&id) else {
                    return Err(LinkError::Protocol("bytes for an unknown request".into()));
                };
                let len = h.blob_len.unwrap_or(0);
                if buf.len() as u64 + bytes.len() as u64 > len {
                    return Err(LinkError::Protocol("too many bytes for a request".into()));
                }
                buf.extend_from_slice(&bytes);
                if buf.len() as u64 == len {
                    partial.remove(&id).map(|(h, b)| (h, Some(b)))
                } else {
                    None
                }
            }
            _ => return Err(LinkError::Protocol("unexpected frame for requests".into())),
        };
        let Some((h, bytes)) = ready else { continue };
        let permit = limit
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| LinkError::Closed)?;
        let (store, out, fwd) = (store.clone(), out.clone(), fwd.clone());
        tokio::spawn(async move {
            let id = h.command.id;
            let result = async {
                // No UID is handed out here before this twin has the twin's backlog.
                fwd.ready(Instant::now() + fwd.wait).await?;
                store.execute(h.command, bytes.map(Arc::new)).await
            }
            .await
            .map_err(|e| {
                if !e.is_client_error() {
                    tracing::error!(error = %e, "mirror: a forwarded write failed");
                }
                WriteError::from(&e)
            });
            let seq = match store.last_seq().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "mirror: cannot read the log position");
                    return;
                }
            };
            let _ = out
                .send(Frame::Response(ResponseFrame { id, result, seq }))
                .await;
            drop(permit);
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "forward_tests.rs"]
mod tests;

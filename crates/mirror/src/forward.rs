//! Home twins. Each account is homed on one twin (spread over both by its GUID); while the
//! link is up, only the home twin assigns the account's UIDs and MODSEQs. A write on the
//! other twin is forwarded over the link; the home twin carries it out, answers with its
//! log position, and the forwarding twin answers its client once it has applied the home
//! twin's log that far, so the client's next command already sees the result here.
//! A link that drops is given a grace period (three heartbeats) to come back, during
//! which forwarded writes wait for it, so a flapping link never splits the pair; only a
//! twin that stays away longer is taken for down, and then every twin serves every
//! account itself.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use twinmail_store::{ForwardFuture, Forwarder, Guid, Request, Response, Store, StoreError};

use crate::{
    LinkError,
    frame::{CHUNK, Frame, RequestHeader, ResponseFrame},
    session::Out,
};

/// Longest a forwarded write may take, answer and catching up included.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);
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
    /// Bumped whenever a session attaches.
    attached: watch::Sender<u64>,
    /// When the last link went down (or this twin started): writes wait for the link
    /// until `grace` after it, then this twin serves the account alone.
    down_since: Mutex<Instant>,
    /// How long a lost link is waited for.
    grace: Duration,
    /// Forwarded writes waiting for their answer.
    pending: Mutex<HashMap<u64, oneshot::Sender<ResponseFrame>>>,
    /// The next request id.
    next: AtomicU64,
    /// How far this twin has applied the twin's log.
    pub(crate) applied: watch::Sender<i64>,
    /// How far the twin has acknowledged (durably applied) this twin's log.
    pub(crate) acked: watch::Sender<i64>,
    /// Sync mode's timeout; `None` in async mode.
    sync: Option<Duration>,
    /// Sync mode gave up waiting for the twin; async until the twin catches up.
    pub(crate) fallback: watch::Sender<bool>,
}

impl Forwarding {
    /// `grace`: how long a lost link is waited for; `startup`: how long, at start, the
    /// first link is waited for (shorter: a twin that is up links within moments).
    pub(crate) fn new(
        node: String,
        twin: String,
        grace: Duration,
        startup: Duration,
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
            pending: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            applied: watch::channel(0).0,
            acked: watch::channel(0).0,
            sync,
            fallback: watch::channel(false).0,
        })
    }

    /// The account's home twin: spread over both by the account's GUID, the same answer
    /// on both twins.
    pub(crate) fn home<'a>(&'a self, account: &Guid, chosen: Option<&str>) -> &'a str {
        crate::home_twin(&self.node, &self.twin, account, chosen)
    }

    /// A session starts: forwarded writes go out through `out`.
    pub(crate) fn attach(&self, out: Out, applied: i64) {
        self.applied.send_replace(applied);
        *self.out.lock().unwrap_or_else(|e| e.into_inner()) = Some(out);
        self.attached.send_modify(|g| *g += 1);
    }

    /// The session ended: writes waiting for an answer fail (their clients may retry).
    pub(crate) fn detach(&self) {
        *self.out.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *self.down_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The home twin answered.
    pub(crate) fn answered(&self, r: ResponseFrame) {
        let waiter = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&r.id);
        if let Some(w) = waiter {
            let _ = w.send(r);
        }
    }

    /// The live session's frame queue, waiting for a session until `until`.
    async fn session(&self, until: Instant) -> Option<Out> {
        let mut attached = self.attached.subscribe();
        loop {
            if let Some(out) = self.out.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                return Some(out);
            }
            tokio::time::timeout_at(until.into(), attached.changed())
                .await
                .ok()?
                .ok()?;
        }
    }

    /// How much of the grace period after the last link loss is left.
    fn remaining_grace(&self) -> Duration {
        let since = *self.down_since.lock().unwrap_or_else(|e| e.into_inner());
        self.grace.saturating_sub(since.elapsed())
    }

    /// True while a session is attached, or the link has not been gone for long.
    fn reachable(&self) -> bool {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).is_some()
            || !self.remaining_grace().is_zero()
    }

    async fn forward_inner(
        self: Arc<Self>,
        request: Request,
        bytes: Option<Arc<Vec<u8>>>,
    ) -> Result<Response, StoreError> {
        let unavailable = |why: &str| StoreError::Unavailable(why.to_string());
        let Some(out) = self.session(Instant::now() + self.remaining_grace()).await else {
            // The link did not come back in time: this twin serves the account alone.
            return Err(StoreError::TwinDown);
        };
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        let send = async {
            out.send(Frame::Request(RequestHeader {
                id,
                request,
                blob_len: bytes.as_ref().map(|b| b.len() as u64),
            }))
            .await
            .ok()?;
            for c in bytes.iter().flat_map(|b| b.chunks(CHUNK)) {
                out.send(Frame::RequestChunk(id, c.to_vec())).await.ok()?;
            }
            Some(())
        };
        let answer = tokio::time::timeout(FORWARD_TIMEOUT, async {
            send.await
                .ok_or_else(|| unavailable("the link to the home twin closed"))?;
            let answer = rx
                .await
                .map_err(|_| unavailable("the link to the home twin closed"))?;
            // Answer the client only once the home twin's result is here too.
            let mut applied = self.applied.subscribe();
            applied
                .wait_for(|a| *a >= answer.seq)
                .await
                .map_err(|_| unavailable("the mirror stopped"))?;
            Ok(answer.response)
        })
        .await;
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        answer.unwrap_or_else(|_| Err(unavailable("the home twin did not answer in time")))
    }
}

/// The store's router: forwards while linked, when the account is homed on the twin.
pub(crate) struct Router(pub(crate) Arc<Forwarding>);

impl Forwarder for Router {
    fn forwards(&self, account: &Guid, home: Option<&str>) -> bool {
        self.0.home(account, home) == self.0.twin && self.0.reachable()
    }

    fn replicate(&self, seq: i64) -> Pin<Box<dyn Future<Output = ()> + Send>> {
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

    fn forward(&self, request: Request, bytes: Option<Arc<Vec<u8>>>) -> ForwardFuture {
        Box::pin(self.0.clone().forward_inner(request, bytes))
    }
}

/// Carries out the twin's forwarded writes as they arrive, several at once (they share
/// the store's group commit), answering each with this twin's log position.
pub(crate) async fn serve(
    store: Store,
    mut rx: mpsc::Receiver<Frame>,
    out: Out,
    max: u64,
) -> Result<(), LinkError> {
    let limit = Arc::new(Semaphore::new(CONCURRENT_REQUESTS));
    let mut partial: HashMap<u64, (RequestHeader, Vec<u8>)> = HashMap::new();
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
                    partial.insert(h.id, (h, Vec::with_capacity(len as usize)));
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
        let (store, out) = (store.clone(), out.clone());
        tokio::spawn(async move {
            let response = store.execute(h.request, bytes).await;
            let seq = match store.last_seq().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "mirror: cannot read the log position");
                    return;
                }
            };
            let _ = out
                .send(Frame::Response(ResponseFrame {
                    id: h.id,
                    response,
                    seq,
                }))
                .await;
            drop(permit);
        });
    }
    Ok(())
}

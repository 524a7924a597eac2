//! One live link. Both twins send and receive over the same connection:
//!
//! - the *sender* ships this twin's log from where the twin stands (or a snapshot first,
//!   when the twin has never synced from this database), reading it from disk in pages, so
//!   a backlog of any length costs no memory;
//! - the *applier* applies the twin's changes in batches (one transaction each) and
//!   acknowledges them; the *ack keeper* persists the twin's acknowledgements, which trims
//!   this twin's log;
//! - the *reader* routes incoming frames and notices silence; the *writer* sends frames
//!   and heartbeats.
//!
//! Whichever part fails ends the session; the link then reconnects and resumes from the
//! positions in the two databases, so nothing is lost and nothing applied twice.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use tokio::{
    io::{AsyncWriteExt, ReadHalf, WriteHalf},
    net::TcpStream,
    sync::mpsc,
    task::JoinSet,
};
use tokio_rustls::TlsStream;
use twinmail_store::{RemoteChange, Store, StoreError};

use crate::{
    LinkError, MirrorSettings,
    auth::Authed,
    forward::{self, Forwarding},
    frame::{self, CHUNK, ChangeHeader, Frame, Position},
    snapshot,
};

/// Log entries read per page.
const PAGE: u32 = 256;
/// Most changes one applied batch takes.
const BATCH: usize = 512;
/// Most message bytes one applied batch takes.
const BATCH_BYTES: usize = 32 * 1024 * 1024;

type Stream = TlsStream<TcpStream>;

/// Frames queued for the writer. Small: the sender waits rather than buffering.
pub(crate) type Out = mpsc::Sender<Frame>;
/// Frames routed to the sender or the applier.
pub(crate) type In = mpsc::Receiver<Frame>;

/// Runs the session until a part of it ends.
pub(crate) async fn run(
    store: &Store,
    authed: Authed,
    settings: &MirrorSettings,
    fwd: &Arc<Forwarding>,
) -> Result<(), LinkError> {
    let peer = authed.peer;
    let (rd, wr) = tokio::io::split(authed.stream);
    let (out, out_rx) = mpsc::channel::<Frame>(64);
    let (to_sender, sender_rx) = mpsc::channel::<Frame>(16);
    let (to_applier, applier_rx) = mpsc::channel::<Frame>(64);
    let (to_acks, acks_rx) = mpsc::channel::<i64>(1024);
    let (to_requests, requests_rx) = mpsc::channel::<Frame>(64);
    // A resync asked for while no link was up begins now: the twin sends a snapshot.
    store.take_resync(&peer.node).await?;
    let (incarnation, applied) = store.remote_position(&peer.node).await?;
    // A twin that never synced from this incarnation of its twin's database gets a
    // snapshot first, and holds the twin's data only once it has ended.
    fwd.synced
        .store(incarnation == peer.incarnation, Ordering::SeqCst);
    fwd.attach(out.clone(), applied);
    out.send(Frame::Position(Position {
        incarnation,
        applied,
        log_end: store.last_seq().await?,
    }))
    .await
    .map_err(|_| LinkError::Closed)?;
    let mut parts = JoinSet::new();
    parts.spawn(write_loop(wr, out_rx, settings.heartbeat));
    parts.spawn(read_loop(
        rd,
        Routes {
            sender: to_sender,
            applier: to_applier,
            acks: to_acks.clone(),
            requests: to_requests,
            forwarding: fwd.clone(),
        },
        settings.heartbeat * 3,
    ));
    parts.spawn(forward::serve(
        store.clone(),
        fwd.clone(),
        requests_rx,
        out.clone(),
        settings.max_message_size,
    ));
    parts.spawn(send_loop(store.clone(), sender_rx, out.clone(), to_acks));
    parts.spawn(apply_loop(
        Applier {
            store: store.clone(),
            origin: peer.node.clone(),
            incarnation: peer.incarnation.clone(),
            out,
            max: settings.max_message_size,
            forwarding: fwd.clone(),
        },
        applier_rx,
    ));
    parts.spawn(ack_loop(store.clone(), acks_rx, fwd.clone()));
    parts.spawn(resync_watch(store.clone(), settings.heartbeat));
    let first = parts.join_next().await;
    parts.abort_all();
    match first {
        Some(Ok(r)) => r,
        Some(Err(e)) => Err(LinkError::Protocol(format!("a link task failed: {e}"))),
        None => Ok(()),
    }
}

/// Ends the link when `twinmail mirror resync` asks for a fresh copy of the twin's data;
/// the next link takes the request and begins with a snapshot.
async fn resync_watch(store: Store, every: Duration) -> Result<(), LinkError> {
    loop {
        tokio::time::sleep(every.min(Duration::from_secs(1))).await;
        if store.resync_requested().await? {
            tracing::info!("mirror: resync requested; reconnecting for a snapshot");
            return Err(LinkError::Resync);
        }
    }
}

async fn write_loop(
    mut wr: WriteHalf<Stream>,
    mut rx: mpsc::Receiver<Frame>,
    heartbeat: Duration,
) -> Result<(), LinkError> {
    loop {
        let f = match tokio::time::timeout(heartbeat, rx.recv()).await {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(()),
            Err(_) => Frame::Heartbeat,
        };
        frame::write(&mut wr, &f).await?;
        // Write what else is queued, then flush once.
        while let Ok(f) = rx.try_recv() {
            frame::write(&mut wr, &f).await?;
        }
        wr.flush().await?;
    }
}

/// Where the reader sends each kind of frame.
struct Routes {
    /// Position and want lists: for the sender.
    sender: mpsc::Sender<Frame>,
    /// Changes and snapshots: for the applier.
    applier: mpsc::Sender<Frame>,
    /// Acknowledgements.
    acks: mpsc::Sender<i64>,
    /// Forwarded writes, for this twin to carry out.
    requests: mpsc::Sender<Frame>,
    /// Answers to this twin's forwarded writes.
    forwarding: Arc<Forwarding>,
}

async fn read_loop(
    mut rd: ReadHalf<Stream>,
    routes: Routes,
    silence: Duration,
) -> Result<(), LinkError> {
    let gone = || LinkError::Closed;
    loop {
        let f = tokio::time::timeout(silence, frame::read(&mut rd))
            .await
            .map_err(|_| LinkError::Silent)??;
        match f {
            Frame::Heartbeat => {}
            Frame::Ack(seq) => routes.acks.send(seq).await.map_err(|_| gone())?,
            Frame::Response(r) => routes.forwarding.answered(r),
            Frame::Request(_) | Frame::RequestChunk(..) => {
                routes.requests.send(f).await.map_err(|_| gone())?
            }
            Frame::Position(p) => {
                // This twin is caught up once it has applied the twin's log to here.
                routes.forwarding.twin_log_end.send_replace(Some(p.log_end));
                // The applier merges a split at once if nothing of the twin's is missing.
                routes
                    .applier
                    .send(Frame::Position(p.clone()))
                    .await
                    .map_err(|_| gone())?;
                routes
                    .sender
                    .send(Frame::Position(p))
                    .await
                    .map_err(|_| gone())?
            }
            Frame::Want(_) => routes.sender.send(f).await.map_err(|_| gone())?,
            Frame::Change(_)
            | Frame::Chunk(_)
            | Frame::SnapshotBegin(_)
            | Frame::SnapshotPage(_)
            | Frame::Blob(_)
            | Frame::SnapshotEnd(_) => routes.applier.send(f).await.map_err(|_| gone())?,
            Frame::Refused(why) => return Err(LinkError::Refused(why)),
            other => {
                return Err(LinkError::Protocol(format!(
                    "unexpected frame on the link: {}",
                    other.name()
                )));
            }
        }
    }
}

/// Sends a message's bytes as chunks.
pub(crate) async fn send_bytes(out: &Out, bytes: &[u8]) -> Result<(), LinkError> {
    for c in bytes.chunks(CHUNK) {
        out.send(Frame::Chunk(c.to_vec()))
            .await
            .map_err(|_| LinkError::Closed)?;
    }
    Ok(())
}

/// Receives `len` bytes of chunks.
pub(crate) async fn recv_bytes(rx: &mut In, len: u64, max: u64) -> Result<Vec<u8>, LinkError> {
    if len > max {
        return Err(LinkError::Protocol(format!(
            "a message of {len} bytes exceeds the limit of {max}"
        )));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    while (bytes.len() as u64) < len {
        match rx.recv().await {
            Some(Frame::Chunk(c)) if bytes.len() as u64 + c.len() as u64 <= len => {
                bytes.extend_from_slice(&c)
            }
            Some(_) => return Err(LinkError::Protocol("message bytes out of step".into())),
            None => return Err(LinkError::Closed),
        }
    }
    Ok(bytes)
}

async fn send_loop(
    store: Store,
    mut ctrl: In,
    out: Out,
    acks: mpsc::Sender<i64>,
) -> Result<(), LinkError> {
    let pos = match ctrl.recv().await {
        Some(Frame::Position(p)) => p,
        _ => return Err(LinkError::Protocol("expected the twin's position".into())),
    };
    // The twin has applied more of this database's log than it holds: this database was
    // restored from a backup. New changes must never reuse the numbers the twin has seen
    // (it would skip them); what was lost with the restore, verify will show.
    if pos.incarnation == store.incarnation() && pos.applied > store.last_seq().await? {
        tracing::error!(
            twin_applied = pos.applied,
            "mirror: the twin has applied more of this twin's log than it holds (restored from a backup?); new changes continue after it"
        );
        store.skip_log_to(pos.applied).await?;
    }
    // A twin that never synced from this database, or whose position is older than what
    // the log still holds, gets a snapshot first.
    let mut next =
        if pos.incarnation != store.incarnation() || pos.applied + 1 < store.log_start().await? {
            snapshot::send(&store, &mut ctrl, &out).await?
        } else {
            // What the twin applied counts as acknowledged, even if its acknowledgement
            // was lost with the last link.
            let _ = acks.send(pos.applied).await;
            pos.applied
        };
    let mut changes = store.subscribe();
    loop {
        let page = store.changes_since(next, PAGE).await?;
        if page.is_empty() {
            tokio::select! {
                _ = changes.recv() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        for ev in page {
            let bytes = match ev.change.blob() {
                Some(blob) => Some(
                    store
                        .blob(blob)
                        .await?
                        .ok_or_else(|| StoreError::Corrupt(format!("blob {blob:?} missing")))?,
                ),
                None => None,
            };
            out.send(Frame::Change(ChangeHeader {
                seq: ev.seq,
                change: ev.change,
                blob_len: bytes.as_ref().map(|b| b.len() as u64),
            }))
            .await
            .map_err(|_| LinkError::Closed)?;
            if let Some(b) = bytes {
                send_bytes(&out, &b).await?;
            }
            next = ev.seq;
        }
    }
}

async fn ack_loop(
    store: Store,
    mut rx: mpsc::Receiver<i64>,
    fwd: Arc<Forwarding>,
) -> Result<(), LinkError> {
    // Acknowledgements are announced at once, but written (which trims the log, and
    // costs a transaction) at most every ACK_EVERY: a lost one is re-learnt from the
    // twin's position at the next link.
    let (mut latest, mut saved) = (0, 0);
    let mut next_save = tokio::time::Instant::now();
    loop {
        let deadline = if latest > saved {
            next_save
        } else {
            tokio::time::Instant::now() + Duration::from_secs(3600)
        };
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(seq)) => {
                latest = latest.max(seq);
                fwd.acked.send_modify(|a| *a = (*a).max(seq));
                if tokio::time::Instant::now() < next_save {
                    continue;
                }
            }
            Ok(None) => {
                if latest > saved {
                    store.record_ack(latest).await?;
                }
                return Ok(());
            }
            Err(_) => {}
        }
        if latest > saved {
            store.record_ack(latest).await?;
            saved = latest;
            next_save = tokio::time::Instant::now() + ACK_EVERY;
            // Sync mode resumes once the twin has everything again.
            if *fwd.fallback.borrow() && latest >= store.last_seq().await? {
                fwd.fallback.send_replace(false);
                tracing::info!("mirror: the twin caught up; sync mode resumes");
            }
        }
    }
}

/// Least time between two writes of the twin's acknowledgement.
const ACK_EVERY: Duration = Duration::from_millis(250);

/// What the applier works with.
struct Applier {
    /// The store.
    store: Store,
    /// The twin's node id.
    origin: String,
    /// The twin's database incarnation.
    incarnation: String,
    /// Outgoing frames (acknowledgements, want lists).
    out: Out,
    /// Largest message accepted.
    max: u64,
    /// Told how far the twin's log is applied (forwarded writes wait for it).
    forwarding: Arc<Forwarding>,
}

async fn apply_loop(a: Applier, mut rx: In) -> Result<(), LinkError> {
    let Applier {
        store,
        origin,
        incarnation,
        out,
        max,
        forwarding,
    } = a;
    let mut held: Option<Frame> = None;
    loop {
        let f = match held.take() {
            Some(f) => f,
            None => match rx.recv().await {
                Some(f) => f,
                None => return Ok(()),
            },
        };
        match f {
            Frame::Change(h) => {
                let mut batch = vec![change(&mut rx, h, max).await?];
                let mut bytes = 0;
                // Take what has already arrived into the same transaction.
                while batch.len() < BATCH && bytes < BATCH_BYTES {
                    let next = rx.try_recv().map_err(|_| ());
                    match next {
                        Ok(Frame::Change(h)) => {
                            let c = change(&mut rx, h, max).await?;
                            bytes += c.bytes.as_ref().map_or(0, |b| b.len());
                            batch.push(c);
                        }
                        Ok(other) => {
                            held = Some(other);
                            break;
                        }
                        Err(()) => break,
                    }
                }
                let last = apply(&store, &origin, batch).await?;
                merge_if_caught_up(&store, &origin, &forwarding, last).await?;
                forwarding.applied.send_replace(last);
                out.send(Frame::Ack(last))
                    .await
                    .map_err(|_| LinkError::Closed)?;
            }
            Frame::Position(_) => {
                let applied = *forwarding.applied.borrow();
                merge_if_caught_up(&store, &origin, &forwarding, applied).await?;
            }
            Frame::SnapshotBegin(seq) => {
                snapshot::receive(&store, &origin, &mut rx, &out, max).await?;
                store.finish_snapshot(&origin, &incarnation, seq).await?;
                forwarding.synced.store(true, Ordering::SeqCst);
                forwarding.applied.send_replace(seq);
                out.send(Frame::Ack(seq))
                    .await
                    .map_err(|_| LinkError::Closed)?;
                tracing::info!(twin = %origin, seq, "initial sync from the twin complete");
            }
            _ => {
                return Err(LinkError::Protocol(
                    "unexpected frame for the applier".into(),
                ));
            }
        }
    }
}

/// Once this twin holds everything the twin logged (both twins' numbers are known here),
/// the home merges what the twins did while apart, before it hands out UIDs again.
async fn merge_if_caught_up(
    store: &Store,
    origin: &str,
    forwarding: &Forwarding,
    applied: i64,
) -> Result<(), LinkError> {
    if forwarding.caught_up_to(applied) {
        let renumbered = store.merge(origin).await?;
        if renumbered > 0 {
            tracing::info!(twin = %origin, renumbered, "mirror: merged the split");
        }
    }
    Ok(())
}

async fn change(rx: &mut In, h: ChangeHeader, max: u64) -> Result<RemoteChange, LinkError> {
    let bytes = match h.blob_len {
        Some(len) => Some(recv_bytes(rx, len, max).await?),
        None => None,
    };
    Ok(RemoteChange {
        seq: h.seq,
        change: h.change,
        bytes: bytes.map(Arc::new),
    })
}

/// Applies a batch; on failure applies its changes one by one, passing over (and counting)
/// any that this twin cannot apply. Returns the last sequence number.
async fn apply(store: &Store, origin: &str, batch: Vec<RemoteChange>) -> Result<i64, LinkError> {
    let last = batch.last().map_or(0, |c| c.seq);
    let err = match store.apply_remote_batch(origin, batch.clone()).await {
        Ok(_) => return Ok(last),
        Err(e) => e,
    };
    if !unappliable(&err) && batch.len() == 1 {
        return Err(err.into());
    }
    for c in batch {
        let seq = c.seq;
        match store.apply_remote_batch(origin, vec![c]).await {
            Ok(_) => {}
            Err(e) if unappliable(&e) => {
                tracing::error!(twin = %origin, seq, error = %e, "mirror: cannot apply the twin's change");
                store.skip_remote(origin, seq, &e.to_string()).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(last)
}

/// An error that retrying will not cure: the change does not fit this twin's data.
pub(crate) fn unappliable(e: &StoreError) -> bool {
    e.is_client_error() || matches!(e, StoreError::Corrupt(_)) || constraint(e)
}

fn constraint(e: &StoreError) -> bool {
    matches!(e, StoreError::Database(sqlx_err) if sqlx_err.to_string().contains("constraint"))
}

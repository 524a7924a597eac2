//! The initial sync: a twin that has never synced from this database (new, or rebuilt) is
//! sent a consistent snapshot of it, in pages, before the log continues from the
//! snapshot's position. For each page of messages the receiver names the blobs it lacks
//! and only those are sent, so an interrupted sync that starts again sends only what is
//! still missing; the receiver applies pages idempotently. The outbound queue comes last,
//! with its bytes the same way, so a rebuilt twin can take it over like any twin.

use std::{collections::HashMap, sync::Arc};

use twinmail_store::{BlobHash, Change, RemoteChange, Store};

use crate::{
    LinkError,
    frame::{BlobHeader, Frame},
    session::{In, Out, recv_bytes, send_bytes},
};

/// Messages per snapshot page (1,024 × 10 KB: 4,666 msgs/s against 3,827 with 512).
const PAGE: u32 = 1024;
/// Folders, accounts and other small items per page.
const META_PAGE: usize = 1024;
/// Message bytes read from the database at once.
const BLOB_BATCH: u64 = 8 * 1024 * 1024;

fn gone() -> LinkError {
    LinkError::Closed
}

/// Sends a snapshot; returns the log position it corresponds to.
pub(crate) async fn send(store: &Store, ctrl: &mut In, out: &Out) -> Result<i64, LinkError> {
    let mut snap = store.snapshot().await?;
    tracing::info!(seq = snap.seq, "mirror: sending a snapshot to the twin");
    out.send(Frame::SnapshotBegin(snap.seq))
        .await
        .map_err(|_| gone())?;
    for page in snap.meta().await?.chunks(META_PAGE) {
        page_out(&mut snap, ctrl, out, page.to_vec()).await?;
    }
    let mut after = 0;
    loop {
        let msgs = snap.messages(after, PAGE).await?;
        let Some(last) = msgs.last() else { break };
        after = last.0;
        page_out(
            &mut snap,
            ctrl,
            out,
            msgs.into_iter().map(|m| m.1).collect(),
        )
        .await?;
    }
    for page in snap.mailbox_states().await?.chunks(META_PAGE) {
        page_out(&mut snap, ctrl, out, page.to_vec()).await?;
    }
    for page in snap.queue().await?.chunks(META_PAGE) {
        page_out(&mut snap, ctrl, out, page.to_vec()).await?;
    }
    out.send(Frame::SnapshotEnd(snap.seq))
        .await
        .map_err(|_| gone())?;
    Ok(snap.seq)
}

/// Sends one page, then the blobs the receiver asks for.
async fn page_out(
    snap: &mut twinmail_store::Snapshot,
    ctrl: &mut In,
    out: &Out,
    page: Vec<Change>,
) -> Result<(), LinkError> {
    let sizes: HashMap<BlobHash, u64> = page
        .iter()
        .filter_map(|c| match c {
            Change::MessageAdded { blob, size, .. } | Change::Queued { blob, size, .. } => {
                Some((*blob, *size))
            }
            _ => None,
        })
        .collect();
    out.send(Frame::SnapshotPage(page))
        .await
        .map_err(|_| gone())?;
    let wanted = match ctrl.recv().await {
        Some(Frame::Want(w)) => w,
        Some(_) => return Err(LinkError::Protocol("expected a want list".into())),
        None => return Err(gone()),
    };
    // Read in groups of up to BLOB_BATCH bytes: few queries, bounded memory.
    let mut group: Vec<BlobHash> = Vec::new();
    let mut group_bytes = 0;
    for (i, hash) in wanted.iter().enumerate() {
        group.push(*hash);
        group_bytes += sizes.get(hash).copied().unwrap_or(0);
        if group_bytes >= BLOB_BATCH || i + 1 == wanted.len() {
            let blobs = snap.blobs(&group).await?;
            for hash in group.drain(..) {
                let bytes = blobs.get(&hash).ok_or_else(|| {
                    LinkError::Protocol(format!("the twin wants an unknown blob {hash:?}"))
                })?;
                out.send(Frame::Blob(BlobHeader {
                    hash,
                    len: bytes.len() as u64,
                }))
                .await
                .map_err(|_| gone())?;
                send_bytes(out, bytes).await?;
            }
            group_bytes = 0;
        }
    }
    Ok(())
}

/// Receives a snapshot (after its `SnapshotBegin`) up to its `SnapshotEnd`.
pub(crate) async fn receive(
    store: &Store,
    origin: &str,
    rx: &mut In,
    out: &Out,
    max: u64,
) -> Result<(), LinkError> {
    // The previous page is applied while this one arrives (one page in flight).
    let mut applying: Option<tokio::task::JoinHandle<Result<(), LinkError>>> = None;
    let finish = |h: Option<tokio::task::JoinHandle<Result<(), LinkError>>>| async move {
        match h {
            Some(h) => h
                .await
                .map_err(|e| LinkError::Protocol(format!("applying a page: {e}")))?,
            None => Ok(()),
        }
    };
    loop {
        let page = match rx.recv().await {
            Some(Frame::SnapshotPage(p)) => p,
            Some(Frame::SnapshotEnd(_)) => return finish(applying.take()).await,
            Some(_) => return Err(LinkError::Protocol("snapshot out of step".into())),
            None => return Err(gone()),
        };
        let hashes: Vec<BlobHash> = page.iter().filter_map(|c| c.blob().copied()).collect();
        let missing = store.missing_blobs(&hashes).await?;
        out.send(Frame::Want(missing.clone()))
            .await
            .map_err(|_| gone())?;
        let mut blobs = HashMap::with_capacity(missing.len());
        for want in &missing {
            let h = match rx.recv().await {
                Some(Frame::Blob(h)) if h.hash == *want => h,
                _ => return Err(LinkError::Protocol("expected a wanted blob".into())),
            };
            let bytes = recv_bytes(rx, h.len, max).await?;
            if BlobHash::of(&bytes) != h.hash {
                return Err(LinkError::Protocol("a blob does not match its hash".into()));
            }
            blobs.insert(h.hash, bytes);
        }
        let changes = page
            .into_iter()
            .map(|change| {
                // The first message with a blob carries its bytes; the rest find it stored.
                let bytes = change.blob().and_then(|b| blobs.remove(b)).map(Arc::new);
                RemoteChange {
                    seq: 0,
                    change,
                    bytes,
                }
            })
            .collect();
        finish(applying.take()).await?;
        let (store, origin) = (store.clone(), origin.to_string());
        applying = Some(tokio::spawn(async move {
            apply_page(&store, &origin, changes).await
        }));
    }
}

/// Applies one page; a page that does not fit is applied row by row, and a row that this
/// twin cannot take is counted as a conflict instead of stopping the snapshot (and with it
/// the link) for good.
async fn apply_page(
    store: &Store,
    origin: &str,
    changes: Vec<RemoteChange>,
) -> Result<(), LinkError> {
    match store.apply_snapshot(origin, changes.clone()).await {
        Ok(()) => return Ok(()),
        Err(e) if !crate::session::unappliable(&e) => return Err(e.into()),
        Err(_) => {}
    }
    for c in changes {
        let kind = c.change.kind();
        match store.apply_snapshot(origin, vec![c]).await {
            Ok(()) => {}
            Err(e) if crate::session::unappliable(&e) => {
                tracing::error!(twin = %origin, kind, error = %e, "mirror: a snapshot row does not fit this twin");
                store
                    .snapshot_conflict(origin, &format!("{kind}: {e}"))
                    .await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use twinmail_store::{Guid, HashCost, StoreOptions};

    use super::*;

    /// A snapshot page with one row that does not fit this twin (a folder of an account it
    /// does not hold) is applied row by row: the rest lands, the misfit is counted and
    /// named, and the snapshot goes on instead of ending the link for good.
    #[tokio::test]
    async fn a_snapshot_row_that_does_not_fit_is_counted_and_the_rest_applied() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreOptions {
            hash_cost: HashCost::cheap(),
            ..StoreOptions::new(dir.path().join("b.db"), "b")
        })
        .await
        .unwrap();
        let row = |change| RemoteChange {
            seq: 0,
            change,
            bytes: None,
        };
        let page = vec![
            row(Change::DomainAdded {
                domain: "example.test".into(),
            }),
            row(Change::MailboxCreated {
                account: Guid::random(),
                mailbox: Guid::random(),
                name: "Orphan".into(),
                role: None,
                uidvalidity: 7,
                subscribed: true,
                knew: None,
            }),
            row(Change::DomainAdded {
                domain: "example.org".into(),
            }),
        ];
        apply_page(&store, "a", page).await.unwrap();
        assert_eq!(
            store.domains().await.unwrap(),
            vec!["example.org".to_string(), "example.test".to_string()]
        );
        let status = store.mirror_status().await.unwrap();
        assert_eq!(status.failed, 1);
        assert!(status.last_error.contains("mailbox_created"), "{status}");
        assert!(
            status.state().starts_with("diverged: 1 conflicts"),
            "{status}"
        );
    }
}

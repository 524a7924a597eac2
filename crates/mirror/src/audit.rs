//! The running twin's audit: every `audit_every`, while the link is up and nothing waits
//! to be acknowledged, it compares itself with the twin as `twinmail mirror verify` does
//! and records what it found for the status page and `/metrics`. A difference seen once
//! may be a change still in flight, so it is looked at again a few seconds later and
//! only a difference that stays is reported. Messages that stay different are then
//! repaired by the merge's rules (`Store::repair`), once this twin holds everything the
//! twin logged: the repairs travel the link like any change, and the next audit finds
//! the twins equal.

use std::time::Duration;

use tokio::sync::watch;
use twinmail_store::{Narrowed, Store, now_unix};

use crate::{MirrorSettings, verify::compare_with_twin};

/// How long to wait before looking at a difference again.
const RECHECK: Duration = Duration::from_secs(5);

/// Audits until shutdown; `linked` says whether the link is up.
pub(crate) async fn run(
    store: Store,
    settings: MirrorSettings,
    every: Duration,
    linked: impl Fn() -> bool,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if !linked() || !quiet(&store).await {
            continue;
        }
        let mut found = compare_with_twin(&store, &settings).await;
        if found.as_ref().is_ok_and(|d| !d.0.is_empty()) {
            tokio::time::sleep(RECHECK).await;
            found = compare_with_twin(&store, &settings).await;
        }
        let (diffs, narrowed) = match found {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "mirror audit could not run");
                continue;
            }
        };
        if diffs.is_empty() {
            tracing::info!("mirror audit: the twins match");
        } else {
            tracing::warn!(
                differences = diffs.len(),
                first = %diffs[0].what,
                "mirror audit: the twins differ; run `twinmail mirror verify`"
            );
        }
        let (at, n) = (now_unix().to_string(), diffs.len().to_string());
        let first = diffs.first().map_or("", |d| d.what.as_str());
        let mut facts = vec![
            ("audit_at", at.as_str()),
            ("audit_differences", n.as_str()),
            ("audit_first", first),
        ];
        // The twins match: every failure counted so far is resolved.
        let failed = match store.mirror_status().await {
            Ok(s) if diffs.is_empty() => s.failed.to_string(),
            _ => String::new(),
        };
        if !failed.is_empty() {
            facts.push(("failed_at_clean_audit", &failed));
        }
        if let Err(e) = store.set_mirror_state(&facts).await {
            tracing::warn!(error = %e, "mirror audit: cannot record the result");
        }
        repair(&store, &settings.twin_id, narrowed).await;
    }
}

/// Repairs the mailboxes whose messages differ, once this twin has applied everything the
/// twin logged (a difference the twin's log still resolves is no difference).
async fn repair(store: &Store, twin: &str, narrowed: Vec<Narrowed>) {
    if narrowed.is_empty() {
        return;
    }
    if let Err(e) = store.twin_ready().await {
        tracing::info!(error = %e, "mirror audit: repair put off");
        return;
    }
    for n in narrowed {
        if let Err(e) = store.repair(twin, n).await {
            tracing::warn!(error = %e, "mirror audit: a repair failed");
        }
    }
}

/// Nothing of this twin's log waits for the twin's acknowledgement.
async fn quiet(store: &Store) -> bool {
    store.mirror_status().await.is_ok_and(|s| s.pending() == 0)
}

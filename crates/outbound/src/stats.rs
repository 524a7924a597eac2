//! What the runner did, for the status page, its JSON and `/metrics`.

use std::{
    collections::VecDeque,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
};

use twinmail_store::{RcptOutcome, RcptState, now_unix};

use crate::dsn;

/// How many recent failures are kept for the status page.
const RECENT: usize = 10;

/// Counters since start.
#[derive(Debug, Default)]
pub struct Stats {
    /// Recipients delivered.
    pub delivered: AtomicU64,
    /// Recipient attempts deferred (to be retried).
    pub deferred: AtomicU64,
    /// Recipients failed for good.
    pub failed: AtomicU64,
    /// Failure notices (bounces) queued.
    pub bounces: AtomicU64,
    /// Delay notices queued.
    pub delay_notices: AtomicU64,
    /// Connections opened.
    pub connections: AtomicU64,
    /// Messages of the twin's taken over after the lease.
    pub takeovers: AtomicU64,
    /// The last failures and deferrals: (when, recipient, reply).
    recent: Mutex<VecDeque<(i64, String, String)>>,
}

impl Stats {
    pub(crate) fn count_outcome(&self, o: &RcptOutcome) {
        match o.state {
            RcptState::Delivered => {
                self.delivered.fetch_add(1, Relaxed);
                return;
            }
            RcptState::Pending => self.deferred.fetch_add(1, Relaxed),
            RcptState::Failed => self.failed.fetch_add(1, Relaxed),
        };
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back((now_unix(), o.rcpt.clone(), o.reply.clone()));
    }

    pub(crate) fn count_notice(&self, kind: dsn::Kind) {
        match kind {
            dsn::Kind::Failed => self.bounces.fetch_add(1, Relaxed),
            dsn::Kind::Delayed => self.delay_notices.fetch_add(1, Relaxed),
        };
    }

    pub(crate) fn count_connection(&self) {
        self.connections.fetch_add(1, Relaxed);
    }

    pub(crate) fn count_takeover(&self) {
        self.takeovers.fetch_add(1, Relaxed);
    }

    /// The last failures and deferrals, newest last: (when, recipient, remote reply).
    pub fn recent(&self) -> Vec<(i64, String, String)> {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

//! Per-filter outcome and latency counters, for the status page, JSON and metrics.

use std::{
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Instant,
};

use serde::Serialize;
use twinmail_smtp::Verdict;
use twinmail_store::Role;

/// One filter's running counts; shared between the filter and whoever reports them.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages let through unchanged or with headers only (INBOX).
    accepted: AtomicU64,
    /// Messages let through into the Junk folder.
    junked: AtomicU64,
    /// Messages refused for good (5xx).
    rejected: AtomicU64,
    /// Messages refused for now (4xx), the filter's wish or its daemon being down.
    tempfailed: AtomicU64,
    /// Times the filter could not decide (daemon down, timeout, bad answer), whether it
    /// then failed open or closed.
    errors: AtomicU64,
    /// Sum of the time spent deciding, in microseconds.
    micros: AtomicU64,
    /// The longest one decision took, in microseconds.
    max_micros: AtomicU64,
}

impl Counters {
    /// Counts one decision that began at `started`.
    pub fn record(&self, verdict: &Verdict, started: Instant) {
        let counter = match verdict {
            Verdict::Accept(e) if e.folder == Some(Role::Junk) => &self.junked,
            Verdict::Accept(_) => &self.accepted,
            Verdict::Reject(_) => &self.rejected,
            Verdict::TempFail(_) => &self.tempfailed,
        };
        counter.fetch_add(1, Relaxed);
        let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_add(us, Relaxed);
        self.max_micros.fetch_max(us, Relaxed);
    }

    /// Counts a failure to decide (the decision that followed is counted by `record`).
    pub fn error(&self) {
        self.errors.fetch_add(1, Relaxed);
    }

    /// The counts now, under this filter's name.
    pub fn snapshot(&self, name: &'static str) -> FilterStats {
        let accepted = self.accepted.load(Relaxed);
        let junked = self.junked.load(Relaxed);
        let rejected = self.rejected.load(Relaxed);
        let tempfailed = self.tempfailed.load(Relaxed);
        FilterStats {
            name,
            checked: accepted + junked + rejected + tempfailed,
            accepted,
            junked,
            rejected,
            tempfailed,
            errors: self.errors.load(Relaxed),
            total_micros: self.micros.load(Relaxed),
            max_micros: self.max_micros.load(Relaxed),
        }
    }
}

/// One filter's counts at one moment, as the status page and JSON show them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FilterStats {
    /// The filter (`auth`, `clamd`, `rspamd`).
    pub name: &'static str,
    /// Messages it decided on: the sum of the four outcomes.
    pub checked: u64,
    /// Let through into INBOX.
    pub accepted: u64,
    /// Let through into Junk.
    pub junked: u64,
    /// Refused with a 5xx.
    pub rejected: u64,
    /// Refused with a 4xx.
    pub tempfailed: u64,
    /// Failures to decide (daemon down, timeout, unreadable answer).
    pub errors: u64,
    /// Time spent deciding, in microseconds, summed over `checked`.
    pub total_micros: u64,
    /// The longest single decision, in microseconds.
    pub max_micros: u64,
}

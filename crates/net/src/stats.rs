//! What one protocol's listeners did, counted where it happens and read by the admin page,
//! `/metrics` and `twinmail status`. Counters only rise (Prometheus counters); the live
//! session count comes from [`Limits`](crate::Limits).

use std::{
    collections::VecDeque,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
};

/// How many recent rejections are remembered.
const RECENT: usize = 20;

/// One protocol's counters.
#[derive(Default)]
pub struct Stats {
    /// Connections admitted.
    connections: AtomicU64,
    /// Connections refused by the total or per-IP limit.
    refused: AtomicU64,
    /// Failed logins.
    auth_failures: AtomicU64,
    /// Messages accepted (SMTP: a 250 after DATA/BDAT; IMAP: APPEND OK).
    received: AtomicU64,
    /// Mailbox copies those messages became (one message to three users is three).
    delivered: AtomicU64,
    /// Refused senders, recipients and messages.
    rejected: AtomicU64,
    /// The last few rejections, newest last.
    recent: Mutex<VecDeque<Reject>>,
}

/// One rejection as the admin sees it: when, at which command, the reply. The reply is a
/// fixed text of ours, never an address or message content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// Unix seconds.
    pub at: i64,
    /// The command refused (`MAIL`, `RCPT`, `DATA`, `BDAT`).
    pub command: &'static str,
    /// The reply the client got.
    pub reply: String,
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Connections admitted.
    pub connections: u64,
    /// Connections refused by a limit.
    pub refused: u64,
    /// Failed logins.
    pub auth_failures: u64,
    /// Messages accepted.
    pub received: u64,
    /// Mailbox copies stored.
    pub delivered: u64,
    /// Rejections.
    pub rejected: u64,
}

impl Stats {
    /// Counts an admitted (`true`) or refused (`false`) connection.
    pub fn connection(&self, admitted: bool) {
        let c = if admitted {
            &self.connections
        } else {
            &self.refused
        };
        c.fetch_add(1, Relaxed);
    }

    /// Counts a failed login.
    pub fn auth_failure(&self) {
        self.auth_failures.fetch_add(1, Relaxed);
    }

    /// Counts a message accepted into `copies` mailboxes.
    pub fn received(&self, copies: usize) {
        self.received.fetch_add(1, Relaxed);
        self.delivered.fetch_add(copies as u64, Relaxed);
    }

    /// Counts a rejection and remembers why.
    pub fn rejected(&self, command: &'static str, reply: &str) {
        self.rejected.fetch_add(1, Relaxed);
        let mut r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if r.len() == RECENT {
            r.pop_front();
        }
        r.push_back(Reject {
            at: unix_now(),
            command,
            reply: reply.chars().take(200).collect(),
        });
    }

    /// The counters now.
    pub fn counts(&self) -> Counts {
        Counts {
            connections: self.connections.load(Relaxed),
            refused: self.refused.load(Relaxed),
            auth_failures: self.auth_failures.load(Relaxed),
            received: self.received.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
        }
    }

    /// The recent rejections, newest first.
    pub fn recent_rejects(&self) -> Vec<Reject> {
        let r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        r.iter().rev().cloned().collect()
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_keeps_the_last_rejections() {
        let s = Stats::default();
        s.connection(true);
        s.connection(false);
        s.received(3);
        for i in 0..25 {
            s.rejected("RCPT", &format!("550 {i}"));
        }
        let c = s.counts();
        assert_eq!(
            (c.connections, c.refused, c.received, c.delivered),
            (1, 1, 1, 3)
        );
        assert_eq!(c.rejected, 25);
        let recent = s.recent_rejects();
        assert_eq!(recent.len(), RECENT);
        assert_eq!(recent[0].reply, "550 24");
        assert_eq!(recent[RECENT - 1].reply, "550 5");
    }
}

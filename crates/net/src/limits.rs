//! Connection limits (total and per IP) and the per-IP memory of failed logins, shared
//! by every listener of a protocol.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Counts live sessions and recent login failures per IP, and keeps the protocol's
/// counters (connections and failed logins are counted here, the rest by the protocol).
#[derive(Default)]
pub struct Limits {
    /// The protocol's counters.
    pub stats: crate::Stats,
    /// Live sessions per IP; the total is the sum.
    sessions: Mutex<HashMap<IpAddr, usize>>,
    /// Failed logins per IP, with the time of the last one (forgotten after a quiet hour).
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

/// Releases a session slot when the session ends.
pub struct Slot {
    limits: Arc<Limits>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut s = self
            .limits
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = s.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                s.remove(&self.ip);
            }
        }
    }
}

/// How long a failure is remembered.
const FAILURE_MEMORY: Duration = Duration::from_secs(3600);

impl Limits {
    /// Takes a session slot for `ip`, or `None` when over either limit.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, total: usize, per_ip: usize) -> Option<Slot> {
        let mut s = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let all: usize = s.values().sum();
        let mine = s.get(&ip).copied().unwrap_or(0);
        if all >= total || mine >= per_ip {
            self.stats.connection(false);
            return None;
        }
        self.stats.connection(true);
        s.insert(ip, mine + 1);
        Some(Slot {
            limits: self.clone(),
            ip,
        })
    }

    /// Sessions open now.
    pub fn open(&self) -> usize {
        let s = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        s.values().sum()
    }

    /// True when at least three quarters of `total` sessions are open: then sessions
    /// that have not logged in get a shorter idle timeout (Postfix's stress mode).
    pub fn busy(&self, total: usize) -> bool {
        self.open().saturating_mul(4) >= total.saturating_mul(3)
    }

    /// Records a failed login and returns how long to make the client wait.
    pub fn auth_failed(&self, ip: IpAddr, unit: Duration) -> Duration {
        self.stats.auth_failure();
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        f.retain(|_, (_, at)| now.duration_since(*at) < FAILURE_MEMORY);
        let entry = f.entry(ip).or_insert((0, now));
        entry.0 += 1;
        entry.1 = now;
        unit * entry.0.min(10)
    }
}

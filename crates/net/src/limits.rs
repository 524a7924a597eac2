//! Connection limits (total and per address), connection and TLS-handshake rates per
//! address, the per-address memory of failed logins, and the queue in front of password
//! hashing, shared by every listener of a protocol (the rates and the queue by the whole
//! process).
//!
//! "Per address" means per address group ([`group`]): an IPv4 address, or an IPv6
//! address's /64 (configurable), since one IPv6 host gets a /64 and can use any address
//! in it. Every map kept per address is bounded ([`MAX_TRACKED`]), so a flood from many
//! addresses costs a bounded amount of memory.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

/// Process-wide limits, set once at start by the server ([`set_policy`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// IPv6 addresses sharing this many leading bits count as one address (64: a /64,
    /// what one customer or host gets). 128 counts each address alone.
    pub ipv6_prefix: u8,
    /// New connections one address may open per minute per protocol (its burst too);
    /// past it, connections are refused as over the per-address cap. 0: unlimited.
    pub connections_per_minute: u32,
    /// TLS handshakes one address may start per minute, all protocols together, checked
    /// before any handshake work; past it the connection is closed at once. 0: unlimited.
    pub tls_handshakes_per_minute: u32,
    /// Logins waiting for or computing a password hash, all protocols together; one more
    /// is answered with a temporary failure at once instead of queueing.
    pub max_logins_in_flight: usize,
    /// Of those, from one address.
    pub max_logins_in_flight_per_ip: usize,
    /// Loopback clients (local tools, a proxy on this host, benchmarks) are not subject
    /// to the connection and handshake rates.
    pub exempt_loopback: bool,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            ipv6_prefix: 64,
            connections_per_minute: 100,
            tls_handshakes_per_minute: 100,
            max_logins_in_flight: 32,
            max_logins_in_flight_per_ip: 4,
            exempt_loopback: true,
        }
    }
}

static POLICY: RwLock<Option<Policy>> = RwLock::new(None);

/// Sets the process-wide limits (the server does, from its config, before listening).
pub fn set_policy(p: Policy) {
    *POLICY.write().unwrap_or_else(|e| e.into_inner()) = Some(p);
}

/// The process-wide limits in force.
pub fn policy() -> Policy {
    POLICY
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

/// The address group `ip` is counted in: an IPv4 address itself (also when written as
/// an IPv4-mapped IPv6 address), an IPv6 address with all but its first
/// [`Policy::ipv6_prefix`] bits cleared.
pub fn group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let bits = u32::from(policy().ipv6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// Most addresses any one per-address map remembers; past it the stalest are forgotten.
pub const MAX_TRACKED: usize = 100_000;

/// A token bucket per address group: `per_minute` tokens, refilled evenly.
#[derive(Default)]
struct Rates(
    /// Per address group: the tokens left and when they were last counted.
    Mutex<HashMap<IpAddr, (f64, Instant)>>,
);

impl Rates {
    /// Takes a token for `key`, or says there is none. `per_minute` 0: always allowed.
    fn take(&self, key: IpAddr, per_minute: u32) -> bool {
        if per_minute == 0 {
            return true;
        }
        let cap = f64::from(per_minute);
        let now = Instant::now();
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= MAX_TRACKED && !m.contains_key(&key) {
            // Forget the buckets that have refilled (they hold nothing a fresh one
            // would not), then, if still full, any one.
            m.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * cap / 60.0 < cap
            });
            if m.len() >= MAX_TRACKED
                && let Some(k) = m.keys().next().copied()
            {
                m.remove(&k);
            }
        }
        let (tokens, at) = m.entry(key).or_insert((cap, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * cap / 60.0).min(cap);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// TLS handshakes started per address group, all protocols together.
static HANDSHAKES: std::sync::LazyLock<Rates> = std::sync::LazyLock::new(Rates::default);

/// Whether a TLS handshake from `ip` may start now (and counts it if so).
pub fn handshake_allowed(ip: IpAddr) -> bool {
    let p = policy();
    if p.exempt_loopback && ip.is_loopback() {
        return true;
    }
    HANDSHAKES.take(group(ip), p.tls_handshakes_per_minute)
}

/// Message bytes held in memory by every session of the process (SMTP DATA and BDAT,
/// IMAP APPEND literals), counted by [`HeldBytes`].
static MESSAGE_BYTES: AtomicUsize = AtomicUsize::new(0);

/// One session's share of the message bytes held in memory; given back when dropped.
/// Capping the sum keeps thousands of sessions each sending a large message from taking
/// all memory: past the cap a message is refused with a temporary failure.
#[derive(Debug, Default)]
pub struct HeldBytes(
    /// Bytes this share holds.
    usize,
);

impl HeldBytes {
    /// Grows this share to `total` bytes if every session together then holds at most
    /// `cap`; `false`, and no change, if not. A smaller `total` changes nothing.
    pub fn grow_to(&mut self, total: usize, cap: usize) -> bool {
        let Some(more) = total.checked_sub(self.0).filter(|m| *m > 0) else {
            return true;
        };
        let before = MESSAGE_BYTES.fetch_add(more, Ordering::AcqRel);
        if before.saturating_add(more) > cap {
            MESSAGE_BYTES.fetch_sub(more, Ordering::AcqRel);
            return false;
        }
        self.0 = total;
        true
    }

    /// Message bytes all sessions hold now.
    pub fn in_flight() -> usize {
        MESSAGE_BYTES.load(Ordering::Acquire)
    }
}

impl Drop for HeldBytes {
    fn drop(&mut self) {
        MESSAGE_BYTES.fetch_sub(self.0, Ordering::AcqRel);
    }
}

/// Logins waiting for or computing a hash, in the whole process.
static LOGINS: AtomicUsize = AtomicUsize::new(0);

/// Counts live sessions, connection rates and recent login failures per address group,
/// and keeps the protocol's counters (connections and failed logins are counted here,
/// the rest by the protocol).
#[derive(Default)]
pub struct Limits {
    /// The protocol's counters.
    pub stats: crate::Stats,
    /// Live sessions per address group; the total is the sum.
    sessions: Mutex<HashMap<IpAddr, usize>>,
    /// New connections per address group (a token bucket each).
    connects: Rates,
    /// Failed logins per address group, with the time of the last one (forgotten after
    /// a quiet hour, or when [`MAX_TRACKED`] groups are remembered and it is the oldest).
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    /// Logins under way (waiting for or computing a hash) per address group.
    logins: Mutex<HashMap<IpAddr, usize>>,
}

/// Releases a session slot when the session ends.
pub struct Slot {
    /// Whose sessions.
    limits: Arc<Limits>,
    /// The address group the session counts against.
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        release(&self.limits.sessions, self.ip);
    }
}

/// Takes one off `key`'s count in `map`, forgetting it at zero.
fn release(map: &Mutex<HashMap<IpAddr, usize>>, key: IpAddr) {
    let mut s = map.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = s.get_mut(&key) {
        *n -= 1;
        if *n == 0 {
            s.remove(&key);
        }
    }
}

/// A login's place in the queue in front of password hashing, and its address's; both
/// given back when dropped.
pub struct LoginTicket {
    /// The address's place (given back after the queue's).
    _place: AddressPlace,
}

impl Drop for LoginTicket {
    fn drop(&mut self) {
        LOGINS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An address's place among its logins under way.
struct AddressPlace {
    /// Whose count.
    limits: Arc<Limits>,
    /// The address group.
    key: IpAddr,
}

impl Drop for AddressPlace {
    fn drop(&mut self) {
        release(&self.limits.logins, self.key);
    }
}

/// Why a login was not let through to the password check: too many are waiting already
/// (in all, or from this address). The client hears a temporary failure and may retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginBusy;

/// How long a failure is remembered.
const FAILURE_MEMORY: Duration = Duration::from_secs(3600);

impl Limits {
    /// Takes a session slot for `ip`, or `None` when over either cap or over the
    /// address's connection rate.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, total: usize, per_ip: usize) -> Option<Slot> {
        let key = group(ip);
        let p = policy();
        let exempt = p.exempt_loopback && ip.is_loopback();
        if !exempt && !self.connects.take(key, p.connections_per_minute) {
            self.stats.connection(false);
            return None;
        }
        let mut s = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let all: usize = s.values().sum();
        let mine = s.get(&key).copied().unwrap_or(0);
        if all >= total || mine >= per_ip {
            self.stats.connection(false);
            return None;
        }
        self.stats.connection(true);
        s.insert(key, mine + 1);
        Some(Slot {
            limits: self.clone(),
            ip: key,
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

    /// The delay `ip`'s recent failures earn it: `unit` per failure, at most ten.
    pub fn auth_delay(&self, ip: IpAddr, unit: Duration) -> Duration {
        let key = group(ip);
        let f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match f.get(&key) {
            Some((n, at)) if at.elapsed() < FAILURE_MEMORY => unit * (*n).min(10),
            _ => Duration::ZERO,
        }
    }

    /// Call before checking a password. Takes one of the address's few places (none
    /// left: refused at once), waits out the delay the address's recent failures earned
    /// (before any hashing, so guessing from many connections at once waits as much as
    /// one after another), then takes a place in the process-wide bounded queue in front
    /// of the hash (full: refused). A refusal is answered with a temporary failure.
    pub async fn before_login(
        self: &Arc<Self>,
        ip: IpAddr,
        unit: Duration,
    ) -> Result<LoginTicket, LoginBusy> {
        let key = group(ip);
        let p = policy();
        {
            let mut l = self.logins.lock().unwrap_or_else(|e| e.into_inner());
            let mine = l.get(&key).copied().unwrap_or(0);
            if mine >= p.max_logins_in_flight_per_ip {
                return Err(LoginBusy);
            }
            l.insert(key, mine + 1);
        }
        // From here the address's place is given back by the ticket, or by this guard if
        // the queue is full or the caller goes away while waiting.
        let place = AddressPlace {
            limits: self.clone(),
            key,
        };
        let delay = self.auth_delay(ip, unit);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if LOGINS.fetch_add(1, Ordering::AcqRel) >= p.max_logins_in_flight {
            LOGINS.fetch_sub(1, Ordering::AcqRel);
            return Err(LoginBusy);
        }
        Ok(LoginTicket { _place: place })
    }

    /// Records a failed login and returns the delay the address has now earned (which
    /// [`before_login`](Limits::before_login) also applies to its next attempt).
    pub fn auth_failed(&self, ip: IpAddr, unit: Duration) -> Duration {
        self.stats.auth_failure();
        let key = group(ip);
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if !f.contains_key(&key) && f.len() >= MAX_TRACKED {
            f.retain(|_, (_, at)| now.duration_since(*at) < FAILURE_MEMORY);
            if f.len() >= MAX_TRACKED
                && let Some(oldest) = f.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| *k)
            {
                f.remove(&oldest);
            }
        }
        let entry = f.entry(key).or_insert((0, now));
        if now.duration_since(entry.1) >= FAILURE_MEMORY {
            entry.0 = 0;
        }
        entry.0 += 1;
        entry.1 = now;
        unit * entry.0.min(10)
    }
}

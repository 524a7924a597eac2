//! How the outbound runner behaves: from `[outbound]` in the server's config.

use std::time::Duration;

use crate::client::TlsMode;

/// A smarthost: all outbound mail goes there instead of to each domain's MX.
#[derive(Clone, Debug)]
pub struct Relay {
    /// Its host name (or address).
    pub host: String,
    /// Its port (587 or 465 usually; 25 on a trusted network).
    pub port: u16,
    /// STARTTLS required, implicit TLS, or none.
    pub tls: TlsMode,
    /// Login name and password, if it wants one.
    pub auth: Option<(String, String)>,
}

/// The runner's settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Our name in EHLO and in notifications (`MAILER-DAEMON@hostname`).
    pub hostname: String,
    /// The port of remote MXes (25; a test's sink's elsewhere).
    pub port: u16,
    /// Send everything through this smarthost instead.
    pub relay: Option<Relay>,
    /// Waits between attempts: the n-th retry waits the n-th (the last repeats).
    pub retry: Vec<Duration>,
    /// How long a message is tried before it is bounced.
    pub max_age: Duration,
    /// When the sender is told a message is late (once).
    pub delay_notice: Duration,
    /// How long the twin that owns a queued message must be gone before this twin
    /// delivers it instead.
    pub lease: Duration,
    /// Connect and per-command time limit.
    pub timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most connections to one destination (domain, or the smarthost) at once.
    pub per_destination: usize,
    /// Most messages sent to one destination per minute (0: no limit); the rest are
    /// deferred with a 4xx and retried on the usual schedule.
    pub per_destination_rate: u32,
    /// Most messages taken per pass.
    pub batch: u32,
    /// How often the queue is looked at when nothing wakes the runner.
    pub poll: Duration,
    /// The roots that verify certificates where verification is required (a smarthost
    /// with STARTTLS, an MX under MTA-STS, a policy host); `None`: the system's.
    pub roots: Option<std::sync::Arc<rustls::RootCertStore>>,
    /// The HTTPS port of MTA-STS policy hosts (443; a test's elsewhere).
    pub mta_sts_port: u16,
}

impl Settings {
    /// Production defaults (Postfix-like: retried for 5 days, late notice after 4 hours).
    pub fn new(hostname: impl Into<String>) -> Settings {
        Settings {
            hostname: hostname.into(),
            port: 25,
            relay: None,
            retry: [60, 300, 900, 1800, 3600, 7200, 14400]
                .map(Duration::from_secs)
                .to_vec(),
            max_age: Duration::from_secs(5 * 86_400),
            delay_notice: Duration::from_secs(4 * 3600),
            lease: Duration::from_secs(15 * 60),
            timeout: Duration::from_secs(60),
            max_connections: 100,
            per_destination: 20,
            per_destination_rate: 0,
            batch: 500,
            poll: Duration::from_secs(5),
            roots: None,
            mta_sts_port: 443,
        }
    }

    /// The wait after the `attempts`-th attempt.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let i = (attempts.max(1) as usize - 1).min(self.retry.len().saturating_sub(1));
        self.retry
            .get(i)
            .copied()
            .unwrap_or(Duration::from_secs(300))
    }
}

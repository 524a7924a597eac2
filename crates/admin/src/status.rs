//! The status the page, the JSON and the metrics show, gathered from the store and the
//! protocols' counters; and the last hour's samples of mirror lag, queue depth and busy %.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use twinmail_net::Counts;
use twinmail_store::{MirrorStatus, StoreError, now_unix};

use crate::App;

/// Seconds between samples.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Samples kept: one hour.
const SAMPLES: usize = 360;

/// Everything shown. The JSON at `/api/status` is this struct.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    /// This node's id.
    pub node: String,
    /// twinmail's version.
    pub version: String,
    /// Seconds since the server started.
    pub uptime_secs: u64,
    /// Share of one minute the process kept the CPUs busy, in percent of all CPUs
    /// (below 50 % mirroring is safe to enable).
    pub busy_percent: f64,
    /// Listeners: service and address.
    pub listeners: Vec<Listener>,
    /// Each protocol's connections and messages.
    pub protocols: Vec<Protocol>,
    /// The last rejections (senders, recipients, messages), newest first.
    pub recent_rejects: Vec<RecentReject>,
    /// Accounts held.
    pub accounts: usize,
    /// The mirror, if this server has a twin.
    pub mirror: Option<Mirror>,
    /// The outbound queue and what its runner did.
    #[serde(default)]
    pub outbound: Option<Outbound>,
    /// Samples of the last hour, oldest first.
    pub history: Vec<Sample>,
    /// Each enabled inbound filter's outcomes and time, in pipeline order.
    #[serde(default)]
    pub filters: Vec<FilterCounts>,
}

/// One inbound filter's outcomes since start (twinmail-filter's `FilterStats`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterCounts {
    /// auth, clamd or rspamd.
    pub name: String,
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
    /// Failures to decide (daemon down, timeout, unreadable answer), whether the filter
    /// then failed open or closed.
    pub errors: u64,
    /// Time spent deciding, in microseconds, summed over `checked`.
    pub total_micros: u64,
    /// The longest single decision, in microseconds.
    pub max_micros: u64,
}

/// The outbound queue (both twins' messages: it is mirrored) and this twin's runner.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Outbound {
    /// Messages queued.
    pub queued: u64,
    /// Of which held by an admin.
    pub held: u64,
    /// Recipients still to deliver.
    pub recipients: u64,
    /// Bytes queued.
    pub bytes: u64,
    /// Age of the oldest queued message, in seconds (0: empty).
    pub oldest_secs: u64,
    /// Recipients delivered since start.
    pub delivered: u64,
    /// Recipient attempts deferred since start.
    pub deferred: u64,
    /// Recipients failed for good since start.
    pub failed: u64,
    /// Failure notices (bounces) sent since start.
    pub bounces: u64,
    /// Messages of the twin's delivered here after its lease ran out, since start.
    pub takeovers: u64,
    /// The last failures and deferrals, newest first.
    pub recent: Vec<OutboundFailure>,
}

/// A recipient the runner could not deliver (yet).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutboundFailure {
    /// Unix seconds.
    pub at: i64,
    /// The recipient.
    pub rcpt: String,
    /// The remote server's reply (or what went wrong before one).
    pub reply: String,
}

/// One listener.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Listener {
    /// smtp, submission, submissions, imap, imaps, pop3, pop3s, mirror, admin.
    pub service: String,
    /// Its address.
    pub addr: String,
    /// When its TLS certificate expires (Unix seconds), if known.
    pub cert_expires: Option<i64>,
    /// True when that certificate is the self-signed one twinmail generated (no
    /// tls.cert configured), renewed at a start within 30 days of its expiry.
    #[serde(default)]
    pub cert_generated: bool,
}

/// One protocol's traffic since start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Protocol {
    /// smtp, imap or pop3 (every listener of the protocol together).
    pub name: String,
    /// Sessions open now.
    pub open: u64,
    /// Connections admitted.
    pub connections: u64,
    /// Connections refused by the connection limits.
    pub refused: u64,
    /// Failed logins.
    pub auth_failures: u64,
    /// Messages accepted (SMTP).
    pub received: u64,
    /// Mailbox copies those messages became.
    pub delivered: u64,
    /// Senders, recipients and messages refused.
    pub rejected: u64,
    /// Messages accepted per minute, over the last minute.
    pub received_per_min: f64,
    /// Mailbox copies stored per minute, over the last minute.
    pub delivered_per_min: f64,
    /// Rejections per minute, over the last minute.
    pub rejected_per_min: f64,
}

/// One rejection.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecentReject {
    /// Unix seconds.
    pub at: i64,
    /// The protocol.
    pub protocol: String,
    /// The command refused.
    pub command: String,
    /// The reply the client got.
    pub reply: String,
}

/// The last audit: the running twin compares itself with its twin (as `twinmail mirror
/// verify` does) while the link is up and quiet.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Audit {
    /// Unix seconds of the last audit; 0 for never.
    pub at: i64,
    /// Differences it found (0: the twins match).
    pub differences: i64,
    /// Messages the audits' repairs announced again, expunged again, renumbered or
    /// re-flagged here, in all.
    pub repaired: i64,
    /// The first difference, named (never a value).
    pub first: String,
}

/// The mirror panel.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Mirror {
    /// "async" or "sync".
    pub mode: String,
    /// "up", "down" or "never".
    pub link: String,
    /// Unix time of the last change of `link`.
    pub link_since: i64,
    /// The twin's node id.
    pub twin: String,
    /// Age in seconds of the oldest change the twin has not acknowledged.
    pub lag_secs: i64,
    /// Changes the twin has not acknowledged.
    pub queue: i64,
    /// Linked, nothing waiting, initial sync done, no unresolved conflict.
    pub in_sync: bool,
    /// "in sync", or what stands in the way ("diverged: N conflicts, ...", "catching up").
    pub state: String,
    /// Conflicts not known to be resolved: the twin's changes that could not be applied
    /// here since the last clean audit, or the differences the last audit found.
    pub unresolved: i64,
    /// Sync mode fell back to async.
    pub sync_fallback: bool,
    /// Outgoing counters.
    pub out: Out,
    /// Incoming counters.
    #[serde(rename = "in")]
    pub received: In,
    /// Writes forwarded to the accounts' home twin.
    pub forwarded: Forwarded,
    /// The merges of splits (both twins took writes while apart).
    pub merge: Merge,
    /// Connections refused on the mirror port.
    pub refused_peers: i64,
    /// The last problem.
    pub last_error: String,
    /// The last audit.
    pub audit: Audit,
    /// The two classic status lines.
    pub lines: [String; 2],
}

/// Messages added and expunged here, queued for and acknowledged by the twin.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Out {
    /// Adds ever queued.
    pub queued_add: i64,
    /// Adds acknowledged.
    pub sent_add: i64,
    /// Bytes of acknowledged adds.
    pub sent_add_bytes: i64,
    /// Expunged messages ever queued.
    pub queued_del: i64,
    /// Expunged messages acknowledged.
    pub sent_del: i64,
}

/// Writes of accounts homed on the twin, which this twin forwarded there (they do not
/// show in `out`: the home twin logs and ships them).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Forwarded {
    /// Writes done by the home twin.
    pub writes: i64,
    /// Message bytes they carried.
    pub bytes: i64,
    /// Writes that failed or stayed in doubt (the client heard a temporary failure or
    /// the home's refusal).
    pub failed: i64,
}

/// What the merges after splits did, and what waits for one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Merge {
    /// Messages given fresh UIDs by a merge (on the home twin) or taken so (on the other).
    pub renumbered: i64,
    /// Messages held for a merge plus mailboxes whose split-time changes wait for the
    /// home's merge: the twins differ until it is 0.
    pub waiting: i64,
}

/// Changes applied from the twin.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct In {
    /// Messages added.
    pub add: i64,
    /// Messages expunged.
    pub del: i64,
    /// Folders renamed.
    pub rename: i64,
    /// Flag changes (one per message).
    pub flags: i64,
    /// Other changes (accounts, folders, aliases, ...).
    pub other: i64,
    /// Changes that could not be applied (conflicts).
    pub failed: i64,
}

/// One sample of the plot.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Sample {
    /// Unix time.
    pub t: i64,
    /// Mirror lag, seconds.
    pub lag_secs: i64,
    /// Mirror queue depth (changes).
    pub queue: i64,
    /// Busy %.
    pub busy_percent: f64,
    /// Messages accepted so far (all protocols).
    pub received: u64,
    /// Rejections so far (all protocols).
    pub rejected: u64,
}

/// The last hour's samples, plus the CPU readings busy % is computed from.
#[derive(Default)]
pub struct History {
    /// Samples, oldest first.
    samples: Mutex<VecDeque<Sample>>,
    /// (when, process CPU seconds) readings of the last minute and a bit.
    cpu: Mutex<VecDeque<(Instant, f64)>>,
    /// (when, each protocol's counters) of the last minute and a bit, for the rates.
    counts: Mutex<VecDeque<(Instant, Vec<Counts>)>>,
    /// The rates computed at the last sample, per protocol.
    last_rates: Mutex<Vec<[f64; 3]>>,
}

impl History {
    /// Keeps this sample's counters and returns, per protocol, (received, delivered,
    /// rejected) per minute since the oldest kept sample (up to a minute back).
    fn rates(&self, now: &[Counts]) -> Vec<[f64; 3]> {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.push_back((Instant::now(), now.to_vec()));
        while c.len() > 2 && c[1].0.elapsed() >= Duration::from_secs(60) {
            c.pop_front();
        }
        let (then, old) = &c[0];
        let mins = then.elapsed().as_secs_f64() / 60.0;
        now.iter()
            .enumerate()
            .map(|(i, n)| {
                let o = old.get(i).copied().unwrap_or_default();
                let per = |a: u64, b: u64| {
                    if mins < 0.1 {
                        0.0
                    } else {
                        (a.saturating_sub(b)) as f64 / mins
                    }
                };
                [
                    per(n.received, o.received),
                    per(n.delivered, o.delivered),
                    per(n.rejected, o.rejected),
                ]
            })
            .collect()
    }

    fn busy(&self) -> f64 {
        let now = (Instant::now(), cpu_seconds());
        let mut cpu = self.cpu.lock().unwrap_or_else(|e| e.into_inner());
        cpu.push_back(now);
        while cpu.len() > 2 && cpu[1].0.elapsed() >= Duration::from_secs(60) {
            cpu.pop_front();
        }
        let first = cpu[0];
        let wall = now.0.duration_since(first.0).as_secs_f64();
        if wall < 0.5 {
            return 0.0;
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        ((now.1 - first.1) / wall / cpus * 100.0).clamp(0.0, 100.0)
    }
}

/// CPU time this process has used, from /proc/self/stat (utime + stime, in USER_HZ=100
/// ticks on Linux); 0 where it cannot be read.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map_or("", |r| r.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Samples every ten seconds, for as long as the server runs, and leaves the status in
/// the status file (written aside and renamed, so a reader never sees half of it).
pub(crate) async fn sample(app: Arc<App>) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    loop {
        tick.tick().await;
        let busy = app.history.busy();
        let counts: Vec<Counts> = app
            .settings
            .protocols
            .iter()
            .map(|(_, l)| l.stats.counts())
            .collect();
        let rates = app.history.rates(&counts);
        *app.history
            .last_rates
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = rates;
        let Ok(m) = app.store.mirror_status().await else {
            continue;
        };
        {
            let mut s = app
                .history
                .samples
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if s.len() == SAMPLES {
                s.pop_front();
            }
            s.push_back(Sample {
                t: now_unix(),
                lag_secs: m.lag_secs.unwrap_or(0),
                queue: m.pending(),
                busy_percent: busy,
                received: counts.iter().map(|c| c.received).sum(),
                rejected: counts.iter().map(|c| c.rejected).sum(),
            });
        }
        if let Some(path) = &app.settings.status_file
            && let Ok(status) = Status::gather(&app).await
        {
            let tmp = path.with_extension("json.tmp");
            let json = serde_json::to_vec_pretty(&status).unwrap_or_default();
            if let Err(e) = write_private(&tmp, &json).and_then(|()| std::fs::rename(&tmp, path)) {
                tracing::warn!(error = %e, file = %path.display(), "cannot write the status file");
            }
        }
    }
}

/// Writes `bytes` to a fresh file at `path`, readable by this user alone (a file an older
/// version left there, perhaps readable by others, is replaced, not reused).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

fn mirror(mode: &str, m: &MirrorStatus) -> Mirror {
    let text = m.to_string();
    let mut lines = text.lines().map(str::to_string);
    Mirror {
        mode: mode.to_string(),
        link: m.link.clone(),
        link_since: m.link_since,
        twin: m.peer.clone(),
        lag_secs: m.lag_secs.unwrap_or(0),
        queue: m.pending(),
        in_sync: m.in_sync(),
        state: m.state(),
        unresolved: m.unresolved(),
        sync_fallback: m.sync_fallback,
        out: Out {
            queued_add: m.queued_add,
            sent_add: m.sent_add,
            sent_add_bytes: m.sent_add_bytes,
            queued_del: m.queued_del,
            sent_del: m.sent_del,
        },
        received: In {
            add: m.recv_add,
            del: m.recv_del,
            rename: m.recv_rename,
            flags: m.recv_flags,
            other: m.recv_other,
            failed: m.failed,
        },
        forwarded: Forwarded {
            writes: m.forwarded,
            bytes: m.forwarded_bytes,
            failed: m.forward_failed,
        },
        merge: Merge {
            renumbered: m.renumbered,
            waiting: m.merging,
        },
        refused_peers: m.rejected,
        last_error: m.last_error.clone(),
        audit: Audit {
            at: m.audit_at,
            differences: m.audit_differences,
            first: m.audit_first.clone(),
            repaired: m.repaired,
        },
        lines: [
            lines.next().unwrap_or_default(),
            lines.next().unwrap_or_default(),
        ],
    }
}

impl Status {
    pub(crate) async fn gather(app: &App) -> Result<Status, StoreError> {
        let s = &app.settings;
        let mirror = if s.mirror_mode.is_empty() {
            None
        } else {
            Some(mirror(&s.mirror_mode, &app.store.mirror_status().await?))
        };
        let history: Vec<Sample> = app
            .history
            .samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        let rates = app
            .history
            .last_rates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let protocols = s
            .protocols
            .iter()
            .enumerate()
            .map(|(i, (name, limits))| {
                let c = limits.stats.counts();
                let [received_per_min, delivered_per_min, rejected_per_min] =
                    rates.get(i).copied().unwrap_or_default();
                Protocol {
                    name: name.clone(),
                    open: limits.open() as u64,
                    connections: c.connections,
                    refused: c.refused,
                    auth_failures: c.auth_failures,
                    received: c.received,
                    delivered: c.delivered,
                    rejected: c.rejected,
                    received_per_min,
                    delivered_per_min,
                    rejected_per_min,
                }
            })
            .collect();
        let mut recent_rejects: Vec<RecentReject> = s
            .protocols
            .iter()
            .flat_map(|(name, limits)| {
                limits
                    .stats
                    .recent_rejects()
                    .into_iter()
                    .map(|r| RecentReject {
                        at: r.at,
                        protocol: name.clone(),
                        command: r.command.to_string(),
                        reply: r.reply,
                    })
            })
            .collect();
        recent_rejects.sort_by_key(|r| std::cmp::Reverse(r.at));
        let outbound = match &s.outbound {
            Some(stats) => Some(outbound(&app.store, stats).await?),
            None => None,
        };
        Ok(Status {
            node: s.node.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_secs: app.started.elapsed().as_secs(),
            busy_percent: history.last().map_or(0.0, |h| h.busy_percent),
            listeners: s
                .listeners
                .iter()
                .map(|(service, addr)| Listener {
                    service: service.clone(),
                    addr: addr.to_string(),
                    cert_expires: s.cert_expires,
                    cert_generated: s.cert_generated,
                })
                .collect(),
            protocols,
            recent_rejects,
            accounts: app.store.accounts().await?.len(),
            mirror,
            outbound,
            history,
            filters: s.filters.as_ref().map(|f| f()).unwrap_or_default(),
        })
    }
}

async fn outbound(
    store: &twinmail_store::Store,
    stats: &twinmail_outbound::Stats,
) -> Result<Outbound, StoreError> {
    use std::sync::atomic::Ordering::Relaxed;
    let q = store.queue_stats().await?;
    let mut recent: Vec<OutboundFailure> = stats
        .recent()
        .into_iter()
        .map(|(at, rcpt, reply)| OutboundFailure { at, rcpt, reply })
        .collect();
    recent.reverse();
    Ok(Outbound {
        queued: q.messages,
        held: q.held,
        recipients: q.recipients,
        bytes: q.bytes,
        oldest_secs: q.oldest.map_or(0, |t| (now_unix() - t).max(0) as u64),
        delivered: stats.delivered.load(Relaxed),
        deferred: stats.deferred.load(Relaxed),
        failed: stats.failed.load(Relaxed),
        bounces: stats.bounces.load(Relaxed),
        takeovers: stats.takeovers.load(Relaxed),
        recent,
    })
}

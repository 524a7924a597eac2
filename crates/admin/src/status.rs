//! The status the page, the JSON and the metrics show, gathered from the store; and the
//! last hour's samples of mirror lag, queue depth and busy %.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde::Serialize;
use twinmail_store::{MirrorStatus, Store, StoreError, now_unix};

use crate::App;

/// Seconds between samples.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Samples kept: one hour.
const SAMPLES: usize = 360;

/// Everything shown. The JSON at `/api/status` is this struct.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// This node's id.
    pub node: String,
    /// twinmail's version.
    pub version: &'static str,
    /// Seconds since the server started.
    pub uptime_secs: u64,
    /// Share of one minute the process kept the CPUs busy, in percent of all CPUs
    /// (below 50 % mirroring is safe to enable).
    pub busy_percent: f64,
    /// Listeners: service and address.
    pub listeners: Vec<Listener>,
    /// Accounts held.
    pub accounts: usize,
    /// The mirror, if this server has a twin.
    pub mirror: Option<Mirror>,
    /// Samples of the last hour, oldest first.
    pub history: Vec<Sample>,
}

/// One listener.
#[derive(Clone, Debug, Serialize)]
pub struct Listener {
    /// smtp, submission, submissions, imap, imaps, pop3, pop3s, mirror, admin.
    pub service: String,
    /// Its address.
    pub addr: String,
}

/// The mirror panel.
#[derive(Clone, Debug, Serialize)]
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
    /// Linked, nothing waiting, initial sync done.
    pub in_sync: bool,
    /// Sync mode fell back to async.
    pub sync_fallback: bool,
    /// Outgoing counters.
    pub out: Out,
    /// Incoming counters.
    #[serde(rename = "in")]
    pub received: In,
    /// Connections refused on the mirror port.
    pub refused_peers: i64,
    /// The last problem.
    pub last_error: String,
    /// The two classic status lines.
    pub lines: [String; 2],
}

/// Messages added and expunged here, queued for and acknowledged by the twin.
#[derive(Clone, Debug, Serialize)]
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

/// Changes applied from the twin.
#[derive(Clone, Debug, Serialize)]
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
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Sample {
    /// Unix time.
    pub t: i64,
    /// Mirror lag, seconds.
    pub lag_secs: i64,
    /// Mirror queue depth (changes).
    pub queue: i64,
    /// Busy %.
    pub busy_percent: f64,
}

/// The last hour's samples, plus the CPU readings busy % is computed from.
#[derive(Default)]
pub struct History {
    /// Samples, oldest first.
    samples: Mutex<VecDeque<Sample>>,
    /// (when, process CPU seconds) readings of the last minute and a bit.
    cpu: Mutex<VecDeque<(Instant, f64)>>,
}

impl History {
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

/// Samples every ten seconds, for as long as the server runs.
pub(crate) async fn sample(store: Store, history: Arc<History>) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    loop {
        tick.tick().await;
        let busy = history.busy();
        let Ok(m) = store.mirror_status().await else {
            continue;
        };
        let mut s = history.samples.lock().unwrap_or_else(|e| e.into_inner());
        if s.len() == SAMPLES {
            s.pop_front();
        }
        s.push_back(Sample {
            t: now_unix(),
            lag_secs: m.lag_secs.unwrap_or(0),
            queue: m.pending(),
            busy_percent: busy,
        });
    }
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
        refused_peers: m.rejected,
        last_error: m.last_error.clone(),
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
        Ok(Status {
            node: s.node.clone(),
            version: env!("CARGO_PKG_VERSION"),
            uptime_secs: app.started.elapsed().as_secs(),
            busy_percent: history.last().map_or(0.0, |h| h.busy_percent),
            listeners: s
                .listeners
                .iter()
                .map(|(service, addr)| Listener {
                    service: service.clone(),
                    addr: addr.to_string(),
                })
                .collect(),
            accounts: app.store.accounts().await?.len(),
            mirror,
            history,
        })
    }
}

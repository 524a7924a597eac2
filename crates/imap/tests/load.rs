//! A strict client under concurrent load (issue 14): several sessions on one mailbox mix
//! SELECT, FETCH, STORE (with keywords), EXPUNGE, APPEND and NOOP, and each checks every
//! untagged response against everything it was told before (RFC 3501 §5.5, §7.3.1,
//! §7.4.1, §7.2.6; RFC 7162 §3.1): the sequence-number → UID map, EXISTS / EXPUNGE
//! arithmetic (no message number above the count told, EXISTS never shrinking the count),
//! keywords announced in FLAGS before a FETCH shows them, and a message's MODSEQ never
//! falling. Zero violations are allowed.
//!
//! By default 5 clients for 5 s; `TWINMAIL_LOAD_CLIENTS` and `TWINMAIL_LOAD_SECS` set
//! others (the figure: 10 clients for 60 s).

mod common;

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use common::{ALICE, Client, start};

/// The keywords the clients set and clear.
const KEYWORDS: [&str; 6] = ["$k0", "$k1", "$k2", "$k3", "Work", "Later"];

/// What one client was told and what it found wrong.
#[derive(Default)]
struct View {
    /// QRESYNC is enabled: expunges come as VANISHED (RFC 7162 §3.2.10).
    qresync: bool,
    /// UIDs by sequence number (index + 1); None until a FETCH names the UID.
    uids: Vec<Option<u32>>,
    /// Flags the last untagged FLAGS announced (system flags always count).
    flags: HashSet<String>,
    /// The highest MODSEQ seen per UID.
    modseq: HashMap<u32, u64>,
    /// What was wrong, each with the response that showed it.
    violations: Vec<String>,
    /// Untagged responses checked.
    checked: u64,
    /// Messages told gone (by EXPUNGE or VANISHED).
    gone: u64,
}

impl View {
    fn violation(&mut self, why: &str, line: &str, context: &str) {
        if self.violations.len() < 50 {
            self.violations
                .push(format!("{why}: {line:?} (after {context})"));
        }
    }

    /// Checks and takes in one untagged response line.
    fn take(&mut self, line: &str, context: &str) {
        let Some(rest) = line.strip_prefix("* ") else {
            return;
        };
        self.checked += 1;
        if let Some(list) = rest.strip_prefix("FLAGS (") {
            self.flags = list
                .trim_end_matches(')')
                .split_whitespace()
                .map(str::to_string)
                .collect();
            return;
        }
        if let Some(set) = rest.strip_prefix("VANISHED ") {
            if !self.qresync {
                self.violation("VANISHED without QRESYNC", line, context);
            }
            if set.starts_with("(EARLIER)") {
                return;
            }
            for uid in uid_set(set) {
                match self.place(uid) {
                    Some(i) => {
                        self.uids.remove(i);
                        self.gone += 1;
                    }
                    None => self.violation("VANISHED of a UID not told", line, context),
                }
            }
            return;
        }
        let mut words = rest.splitn(3, ' ');
        let (Some(n), Some(kind)) = (words.next(), words.next()) else {
            return;
        };
        let Ok(n) = n.parse::<usize>() else {
            return;
        };
        let count = self.uids.len();
        match kind {
            "EXISTS" => {
                if n < count {
                    self.violation("EXISTS below the count told", line, context);
                    self.uids.truncate(n);
                }
                self.uids.resize(n, None);
            }
            "RECENT" if n > count => {
                self.violation("RECENT above the count told", line, context);
            }
            "EXPUNGE" => {
                if self.qresync {
                    self.violation("EXPUNGE after ENABLE QRESYNC", line, context);
                }
                if n == 0 || n > count {
                    self.violation("EXPUNGE of a number not told", line, context);
                } else {
                    self.uids.remove(n - 1);
                    self.gone += 1;
                }
            }
            "FETCH" => self.fetch(n, words.next().unwrap_or_default(), line, context),
            _ => {}
        }
    }

    /// Where a VANISHED UID is: its number if the client learned it, else a message told
    /// by EXISTS whose UID the client has not learned yet and that can only be this one
    /// (UIDs rise with numbers, RFC 3501 §2.3.1.1: it lies between the known UIDs below
    /// and above `uid`; such unknowns are interchangeable). None: the client cannot have
    /// been told of it.
    fn place(&self, uid: u32) -> Option<usize> {
        if let Some(i) = self.uids.iter().position(|u| *u == Some(uid)) {
            return Some(i);
        }
        let start = self
            .uids
            .iter()
            .rposition(|u| u.is_some_and(|u| u < uid))
            .map_or(0, |i| i + 1);
        self.uids.get(start)?.is_none().then_some(start)
    }

    fn fetch(&mut self, seq: usize, items: &str, line: &str, context: &str) {
        if seq == 0 || seq > self.uids.len() {
            self.violation("FETCH of a number not told", line, context);
            return;
        }
        let uid = item_number(items, "UID ");
        if let Some(uid) = uid {
            let uid = uid as u32;
            match self.uids[seq - 1] {
                Some(known) if known != uid => {
                    self.violation("FETCH's UID is not the one of that number", line, context)
                }
                _ => {
                    // UIDs rise with sequence numbers (RFC 3501 §2.3.1.1).
                    let below = self.uids[..seq - 1].iter().rev().flatten().next();
                    let above = self.uids[seq..].iter().flatten().next();
                    if below.is_some_and(|&b| b >= uid) || above.is_some_and(|&a| a <= uid) {
                        self.violation("UIDs out of order", line, context);
                    }
                    self.uids[seq - 1] = Some(uid);
                }
            }
        }
        if let Some(i) = items.find("FLAGS (") {
            let list = &items[i + 7..];
            let list = &list[..list.find(')').unwrap_or(list.len())];
            for f in list.split_whitespace() {
                let system = f.starts_with('\\');
                if !system && !self.flags.contains(f) {
                    self.violation("keyword used before FLAGS announced it", line, context);
                }
            }
        }
        if let (Some(modseq), Some(uid)) = (
            item_number(items, "MODSEQ ("),
            uid.map(|u| u as u32).or(self.uids[seq - 1]),
        ) {
            let last = self.modseq.get(&uid).copied().unwrap_or(0);
            if modseq < last {
                self.violation("MODSEQ fell", line, context);
            }
            self.modseq.insert(uid, last.max(modseq));
        }
    }
}

/// The UIDs of a sequence set such as `3:5,9`.
fn uid_set(set: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in set.trim().split(',') {
        let (a, b) = part.split_once(':').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
            out.extend(a.min(b)..=a.max(b));
        }
    }
    out
}

/// The number after `name` in a FETCH item list.
fn item_number(items: &str, name: &str) -> Option<u64> {
    let i = items.find(name)? + name.len();
    let digits: String = items[i..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A small deterministic random source, one per client.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// One strict client: runs random commands until `until`; returns its view.
async fn run_client(mut c: Client, id: u64, until: Instant) -> (View, u64) {
    // Every other client enables QRESYNC and is told expunges as VANISHED.
    let qresync = id % 2 == 1;
    let mut view = View {
        qresync,
        ..View::default()
    };
    if qresync {
        let r = c.cmd("ENABLE QRESYNC").await;
        assert_eq!(r.last().map(String::as_str), Some("A OK ENABLE completed"));
    }
    let mut rng = Lcg(id * 7919 + 17);
    let mut commands = 0u64;
    let select = "SELECT INBOX (CONDSTORE)";
    for line in c.cmd(select).await {
        view.take(&line, select);
    }
    while Instant::now() < until {
        // A QRESYNC client learns the UIDs of messages it was told of before anything
        // else, so that each VANISHED names UIDs it knows (FETCH is never answered with
        // VANISHED or EXPUNGE, RFC 3501 §7.4.1).
        while qresync && let Some(first) = view.uids.iter().position(Option::is_none) {
            let cmd = format!("FETCH {}:* (UID)", first + 1);
            for line in c.cmd(&cmd).await {
                view.take(&line, &cmd);
            }
            if view.uids[first].is_none() {
                view.violation("FETCH did not tell the UID", &cmd, "learning UIDs");
                break;
            }
        }
        let count = view.uids.len();
        let seq = 1 + rng.below(count);
        let kw = KEYWORDS[rng.below(KEYWORDS.len())];
        let cmd = match rng.below(12) {
            0 | 1 => "FETCH 1:* (UID FLAGS)".to_string(),
            2 if count > 0 => format!("FETCH {seq} (FLAGS MODSEQ)"),
            3 | 4 if count > 0 => format!("STORE {seq} +FLAGS ({kw})"),
            5 if count > 0 => format!("STORE {seq} -FLAGS.SILENT ({kw} \\Seen)"),
            6 if count > 0 => "UID STORE 1:* +FLAGS.SILENT (\\Seen)".to_string(),
            7 if count > 2 => format!("STORE {seq} +FLAGS.SILENT (\\Deleted)"),
            8 => "EXPUNGE".to_string(),
            9 => {
                let body = format!("Subject: load {id}\r\n\r\nfrom client {id}\r\n");
                format!("APPEND INBOX ({kw}) {{{}+}}\r\n{body}", body.len())
            }
            10 if rng.below(8) == 0 => {
                view = View {
                    qresync,
                    violations: std::mem::take(&mut view.violations),
                    checked: view.checked,
                    gone: view.gone,
                    ..View::default()
                };
                select.to_string()
            }
            _ => "NOOP".to_string(),
        };
        let lines = c.cmd(&cmd).await;
        commands += 1;
        match lines.last() {
            Some(l) if l.starts_with("A OK") || l.starts_with("A NO") => {}
            other => view.violation("no tagged OK/NO", &format!("{other:?}"), &cmd),
        }
        for line in &lines {
            view.take(line, &cmd);
        }
        // Keep the mailbox from growing without bound.
        if view.uids.len() > 60 {
            let cmd = "STORE 1:20 +FLAGS.SILENT (\\Deleted)";
            for line in c.cmd(cmd).await {
                view.take(&line, cmd);
            }
        }
    }
    let cmd = "LOGOUT";
    for line in c.cmd(cmd).await {
        view.take(&line, cmd);
    }
    (view, commands)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sessions_are_told_a_consistent_story() {
    let clients = env_number("TWINMAIL_LOAD_CLIENTS", 5);
    let secs = env_number("TWINMAIL_LOAD_SECS", 5);
    let srv = start().await;
    srv.deliver(ALICE.0, 20).await;
    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for id in 0..clients {
        let c = srv.login(ALICE).await;
        tasks.push(tokio::spawn(run_client(c, id, until)));
    }
    let (mut violations, mut checked, mut commands, mut gone) = (Vec::new(), 0, 0, 0);
    for t in tasks {
        let (view, n) = t.await.unwrap();
        violations.extend(view.violations);
        checked += view.checked;
        commands += n;
        gone += view.gone;
    }
    println!(
        "{clients} clients, {secs} s: {commands} commands, {checked} untagged responses checked, {gone} expunges told, {} violations",
        violations.len()
    );
    assert!(
        gone > 0,
        "no expunge was told: the arithmetic went unchecked"
    );
    assert!(
        commands > clients * 10,
        "the clients hardly ran: {commands}"
    );
    assert!(
        violations.is_empty(),
        "{} violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

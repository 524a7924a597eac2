//! Seeded chaos on real twins (issue 13): SMTP deliveries, APPENDs, STOREs, EXPUNGEs,
//! MOVEs, COPYs, POP3 DELEs and folder CREATE/RENAME/DELETE on both twins, for accounts
//! homed on each, through link cuts longer and shorter than the grace period, a slow
//! link, and kill -9 of either twin; after each heal both twins must agree (verify clean) and every client-visible
//! promise must hold, checked over IMAP:
//! - every message acknowledged (250 / APPEND OK) and never targeted by a removal is there;
//! - a message removed (EXPUNGE / POP3 DELE answered OK) and never moved is gone for good;
//! - a message never moved or copied is there at most once;
//! - per twin, in INBOX and Work (the folders that live through the run), UIDVALIDITY
//!   never changes, a UID once seen never holds another message, and every UID new to a
//!   client is above all it saw before.
//!
//! `cargo test` runs a few seeds; `CHAOS_SEEDS=N` runs N. A failing seed is named in the
//! panic; `CHAOS_SEED=S` runs only seed S.

mod common;

use std::{collections::HashMap, time::Duration};

use common::{
    pair::{PASSWORD, Pair, dump, py},
    proxy::Fault,
};
use serde_json::{Value, json};

/// A small deterministic generator (Knuth's MMIX LCG).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Runs a list of client operations in one Python process; returns each one's outcome:
/// "ok", "no" (refused or failed: in doubt) or "skip" (nothing to act on).
const RUN: &str = r#"
import poplib
ops = json.loads(sys.argv[1])
out = []
def find(m, subj):
    typ, data = m.uid('SEARCH', None, 'HEADER', 'Subject', '"%s"' % subj)
    uids = data[0].split() if typ == 'OK' and data and data[0] else []
    return uids[0].decode() if uids else None
for op in ops:
    try:
        kind, port, user, subj = op['op'], op['port'], op['user'], op['subj']
        if kind == 'smtp':
            s = smtplib.SMTP('127.0.0.1', int(port), timeout=20)
            s.sendmail('someone@remote.test', [user], ('Subject: %s\r\nMessage-ID: <%s@remote.test>\r\n\r\nbody of %s\r\n' % (subj, subj, subj)).encode())
            s.quit(); out.append('ok'); continue
        if kind == 'dele':
            p = poplib.POP3('127.0.0.1', int(port), timeout=20); p.stls(CTX); p.user(user); p.pass_(sys.argv[2])
            n = len(p.list()[1]); hit = None
            for i in range(1, n + 1):
                head = b'\n'.join(p.top(i, 0)[1]).decode(errors='replace')
                if ('Subject: %s\n' % subj) in head + '\n':
                    hit = i
            if hit is None:
                p.quit(); out.append('skip'); continue
            p.dele(hit); r = p.quit()
            out.append('ok' if r.startswith(b'+OK') else 'no'); continue
        m = imap(port, user, sys.argv[2])
        if kind in ('mkdir', 'rename', 'rmdir'):
            if kind == 'mkdir':
                typ, _ = m.create(op['folder'])
            elif kind == 'rename':
                typ, _ = m.rename(op['folder'], op['to'])
            else:
                typ, _ = m.delete(op['folder'])
            out.append('ok' if typ == 'OK' else 'no')
        elif kind == 'append':
            typ, _ = m.append(op['folder'], None, None, ('Subject: %s\r\n\r\nappended %s\r\n' % (subj, subj)).encode())
            out.append('ok' if typ == 'OK' else 'no')
        else:
            m.select(op['folder'])
            uid = find(m, subj)
            if uid is None:
                out.append('skip')
            elif kind == 'flag':
                typ, _ = m.uid('STORE', uid, '+FLAGS', '(\\Flagged)')
                out.append('ok' if typ == 'OK' else 'no')
            elif kind == 'expunge':
                typ, _ = m.uid('STORE', uid, '+FLAGS', '(\\Deleted)')
                typ2, _ = m.uid('EXPUNGE', uid) if typ == 'OK' else ('NO', None)
                out.append('ok' if typ2 == 'OK' else 'no')
            elif kind == 'move':
                typ, _ = m.uid('MOVE', uid, op['to'])
                out.append('ok' if typ == 'OK' else 'no')
            elif kind == 'copy':
                typ, _ = m.uid('COPY', uid, op['to'])
                out.append('ok' if typ == 'OK' else 'no')
        m.logout()
    except Exception as e:
        out.append('no')
print(json.dumps(out))
"#;

/// What the test knows of one message, by subject.
#[derive(Default)]
struct Fate {
    /// Acknowledged to its client.
    acked: bool,
    /// A removal was answered OK.
    removed: bool,
    /// A removal, move or delivery was in doubt, or it was moved: its place is not known.
    loose: bool,
}

/// Per twin: folder -> (UIDVALIDITY, UID -> body hash, top UID), as a long-lived client knows.
type Seen = HashMap<String, (u64, HashMap<u64, String>, u64)>;

fn check_honest(seed: u64, twin: &str, seen: &mut Seen, d: &Value) {
    // INBOX and Work live through the run; P and Q come and go, and one made on both
    // twins while apart is folded into one with a new UIDVALIDITY for one side's clients.
    for (folder, f) in d
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| *name == "INBOX" || *name == "Work")
    {
        let uv: u64 = f[0].as_str().unwrap().parse().unwrap();
        let entry = seen
            .entry(folder.clone())
            .or_insert_with(|| (uv, HashMap::new(), 0));
        assert_eq!(
            entry.0, uv,
            "seed {seed}: {twin} {folder}: UIDVALIDITY changed"
        );
        let top = entry.2;
        for m in f[1].as_array().unwrap() {
            let uid = m[0].as_u64().unwrap();
            let hash = m[2].as_str().unwrap().to_string();
            match entry.1.get(&uid) {
                Some(was) => assert_eq!(
                    was, &hash,
                    "seed {seed}: {twin} {folder}: UID {uid} now holds another message"
                ),
                None => {
                    assert!(
                        uid > top,
                        "seed {seed}: {twin} {folder}: new UID {uid} not above {top}"
                    );
                    entry.1.insert(uid, hash);
                }
            }
            entry.2 = entry.2.max(uid);
        }
    }
}

/// Subjects in a dump, with how often each occurs.
fn subjects(pair: &Pair, user: &str) -> HashMap<String, usize> {
    let out = py(
        r#"
m = imap(sys.argv[1], sys.argv[2], sys.argv[3]); n = {}
for folder in ('INBOX', 'Work'):
    m.select(folder, readonly=True)
    typ, data = m.uid('FETCH', '1:*', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
    for d in data:
        if isinstance(d, tuple):
            s = d[1].decode().strip()[len('Subject: '):]
            n[s] = n.get(s, 0) + 1
print(json.dumps(n))
"#,
        &[
            pair.a.port("imaps").to_string(),
            user.to_string(),
            PASSWORD.to_string(),
        ],
    );
    serde_json::from_str(out.trim()).unwrap()
}

/// Runs one seed; returns a line of what it did.
fn run(seed: u64, rounds: usize) -> String {
    let mut rng = Lcg(seed ^ 0x9e37_79b9_7f4a_7c15);
    let (mut pair, proxy) = Pair::start_behind_proxy();
    let (u1, u2) = pair.users_on_both_homes();
    for u in [&u1, &u2] {
        py(
            "m = imap(sys.argv[1], sys.argv[2], sys.argv[3]); m.create('Work')",
            &[
                pair.a.port("imaps").to_string(),
                u.clone(),
                PASSWORD.to_string(),
            ],
        );
    }
    pair.wait_in_sync();
    let users = [u1.clone(), u2.clone()];
    let mut fates: HashMap<String, Fate> = HashMap::new();
    let mut seen: [HashMap<String, Seen>; 2] = Default::default();
    let mut n = 0;
    let (mut splits, mut killed, mut tally) = (0, 0, HashMap::<String, usize>::new());
    let (mut short_cuts, mut delays) = (0, 0);
    for round in 0..rounds {
        // Half the rounds run split (the link cut past the grace period); the others
        // start right after a cut shorter than it, or run over a slow link.
        let fault = rng.below(4);
        let split = fault < 2;
        if split {
            splits += 1;
            proxy.set(Fault::Refuse);
            proxy.cut();
            // Longer than the grace period (three 1-second heartbeats).
            std::thread::sleep(Duration::from_secs(4));
        } else if fault == 2 {
            short_cuts += 1;
            proxy.set(Fault::Refuse);
            proxy.cut();
            std::thread::sleep(Duration::from_secs(1));
            proxy.set(Fault::Pass);
        } else {
            delays += 1;
            proxy.set(Fault::Delay(Duration::from_millis(30)));
        }
        // Operations in chunks; between two chunks, now and then, kill -9 of a twin (it
        // comes back at once, on new ports).
        let mut chunks: Vec<Vec<Value>> = vec![Vec::new()];
        let mut kills = Vec::new();
        for _ in 0..6 + rng.below(6) {
            let twin = rng.below(2) as usize;
            let user = &users[rng.below(2) as usize];
            let known: Vec<&String> = fates
                .iter()
                .filter(|(_, f)| f.acked)
                .map(|(s, _)| s)
                .collect();
            let subj = known
                .get(rng.below(known.len().max(1) as u64) as usize)
                .map(|s| s.to_string());
            let folder = if rng.below(3) == 0 { "Work" } else { "INBOX" };
            let (p, q) = if rng.below(2) == 0 {
                ("P", "Q")
            } else {
                ("Q", "P")
            };
            let op = match rng.below(14) {
                0..=2 => {
                    n += 1;
                    json!({"op": "smtp", "twin": twin, "svc": "smtp", "user": user, "subj": format!("s{seed}n{n}x")})
                }
                3 | 4 => {
                    n += 1;
                    json!({"op": "append", "twin": twin, "svc": "imaps", "user": user, "folder": folder, "subj": format!("s{seed}n{n}x")})
                }
                5 => {
                    json!({"op": "flag", "twin": twin, "svc": "imaps", "user": user, "folder": folder, "subj": subj})
                }
                6 | 7 => {
                    json!({"op": "expunge", "twin": twin, "svc": "imaps", "user": user, "folder": folder, "subj": subj})
                }
                8 => {
                    json!({"op": "move", "twin": twin, "svc": "imaps", "user": user, "folder": "INBOX", "to": "Work", "subj": subj})
                }
                9 => json!({"op": "dele", "twin": twin, "svc": "pop3", "user": user, "subj": subj}),
                10 => {
                    json!({"op": "copy", "twin": twin, "svc": "imaps", "user": user, "folder": "INBOX", "to": "Work", "subj": subj})
                }
                11 => {
                    // Into a folder that may be folded, renamed or deleted: its fate is loose.
                    n += 1;
                    json!({"op": "append", "twin": twin, "svc": "imaps", "user": user, "folder": p, "subj": format!("s{seed}n{n}p")})
                }
                12 => {
                    let kind = ["mkdir", "mkdir", "rename", "rmdir"][rng.below(4) as usize];
                    json!({"op": kind, "twin": twin, "svc": "imaps", "user": user, "folder": p, "to": q, "subj": "-"})
                }
                _ => {
                    json!({"op": "move", "twin": twin, "svc": "imaps", "user": user, "folder": "INBOX", "to": p, "subj": subj})
                }
            };
            if op["subj"].is_null() {
                continue;
            }
            chunks.last_mut().unwrap().push(op);
            if rng.below(8) == 0 {
                kills.push(rng.below(2) as usize);
                chunks.push(Vec::new());
            }
        }
        let mut ops = Vec::new();
        let mut outcomes = Vec::new();
        for (k, mut chunk) in chunks.into_iter().enumerate() {
            if k > 0 {
                let victim = if kills[k - 1] == 0 {
                    &mut pair.a
                } else {
                    &mut pair.b
                };
                victim.kill();
                victim.start();
                killed += 1;
            }
            for op in &mut chunk {
                let twin = if op["twin"] == 0 { &pair.a } else { &pair.b };
                op["port"] = json!(twin.port(op["svc"].as_str().unwrap()));
            }
            if chunk.is_empty() {
                continue;
            }
            let out = py(
                RUN,
                &[serde_json::to_string(&chunk).unwrap(), PASSWORD.to_string()],
            );
            let out: Vec<String> = serde_json::from_str(out.trim()).unwrap();
            ops.extend(chunk);
            outcomes.extend(out);
        }
        for (op, outcome) in ops.iter().zip(outcomes) {
            *tally
                .entry(format!("{} {outcome}", op["op"].as_str().unwrap()))
                .or_default() += 1;
            let subj = op["subj"].as_str().unwrap().to_string();
            let fate = fates.entry(subj).or_default();
            match (op["op"].as_str().unwrap(), outcome.as_str()) {
                ("append", _) if op["folder"] == "P" || op["folder"] == "Q" => fate.loose = true,
                ("smtp" | "append", "ok") => fate.acked = true,
                ("smtp" | "append", _) => fate.loose = true,
                ("expunge" | "dele", "ok") => fate.removed = true,
                ("expunge" | "dele" | "move", "no") => fate.loose = true,
                ("move" | "copy", "ok") => fate.loose = true,
                ("copy", "no") => fate.loose = true,
                _ => {}
            }
        }
        if split {
            for (i, twin) in [&pair.a, &pair.b].into_iter().enumerate() {
                for u in &users {
                    let d = dump(twin.port("imaps"), u);
                    check_honest(seed, twin.id, seen[i].entry(u.clone()).or_default(), &d);
                }
            }
        }
        proxy.set(Fault::Pass);
        pair.wait_in_sync();
        pair.assert_identical();
        for (i, twin) in [&pair.a, &pair.b].into_iter().enumerate() {
            for u in &users {
                let d = dump(twin.port("imaps"), u);
                check_honest(seed, twin.id, seen[i].entry(u.clone()).or_default(), &d);
            }
        }
        let mut here: HashMap<String, usize> = HashMap::new();
        for u in &users {
            for (s, c) in subjects(&pair, u) {
                *here.entry(s).or_default() += c;
            }
        }
        for (subj, f) in &fates {
            let count = here.get(subj).copied().unwrap_or(0);
            if f.loose {
                continue;
            }
            if f.removed {
                assert_eq!(
                    count, 0,
                    "seed {seed}, round {round}: removed {subj} is back"
                );
            } else if f.acked {
                assert_eq!(
                    count, 1,
                    "seed {seed}, round {round}: {subj} is there {count} times"
                );
            }
        }
    }
    let renumbered: u64 = [&pair.a, &pair.b]
        .iter()
        .map(|t| {
            let status = t.status();
            status
                .split("renumbered=")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    let mut tally: Vec<_> = tally.into_iter().collect();
    tally.sort();
    format!(
        "{rounds} rounds, {splits} splits, {short_cuts} short cuts, {delays} slow links, \
         {killed} kill -9, renumbered {renumbered}; {tally:?}"
    )
}

#[test]
fn seeded_chaos_on_real_twins_keeps_every_promise() {
    let seeds: Vec<u64> = match std::env::var("CHAOS_SEED") {
        Ok(s) => vec![s.parse().unwrap()],
        Err(_) => (0..std::env::var("CHAOS_SEEDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2))
            .collect(),
    };
    for seed in seeds {
        let start = std::time::Instant::now();
        let what = run(seed, 4);
        eprintln!(
            "chaos seed {seed}: {:.1} s: {what}",
            start.elapsed().as_secs_f64()
        );
    }
}

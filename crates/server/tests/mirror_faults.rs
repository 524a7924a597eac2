//! The mirror under fire: a proxy in the mirror path that delays, duplicates, garbles and
//! cuts; peers without the secret, with garbage, or without TLS.

mod common;

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use common::{
    pair::{PASSWORD, Pair, py},
    proxy::{Fault, Proxy},
};

/// Sends messages with these subjects, going on after refusals (a client would retry
/// later); returns the subjects the server accepted with 250.
fn send_some(port: u16, rcpt: &str, subjects: &[String]) -> Vec<String> {
    let mut args = vec![port.to_string(), rcpt.to_string()];
    args.extend(subjects.iter().cloned());
    let out = py(
        r#"
ok = []
s = None
for subj in sys.argv[3:]:
    try:
        if s is None:
            s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]))
        s.sendmail('someone@remote.test', [sys.argv[2]], ('Subject: %s\r\n\r\nbody\r\n' % subj).encode())
        ok.append(subj)
    except smtplib.SMTPException:
        try: s.quit()
        except Exception: pass
        s = None
print(json.dumps(ok))
"#,
        &args,
    );
    serde_json::from_str(out.trim()).unwrap()
}

/// The INBOX subjects of an account, in UID order.
fn inbox_subjects(port: u16, user: &str) -> Vec<String> {
    let out = py(
        r#"
m = imap(sys.argv[1], sys.argv[2], sys.argv[3]); m.select('INBOX', readonly=True)
typ, data = m.uid('FETCH', '1:*', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
print(json.dumps([d[1].decode().strip()[len('Subject: '):] for d in data if isinstance(d, tuple)]))
"#,
        &[port.to_string(), user.to_string(), PASSWORD.to_string()],
    );
    serde_json::from_str(out.trim()).unwrap()
}

fn status_counter(status: &str, name: &str) -> u64 {
    status
        .split(|c: char| c.is_whitespace() || c == ';')
        .find_map(|w| w.strip_prefix(&format!("{name}="))?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {status}"))
}

/// Delays, duplicated and garbled bytes and cut connections in the mirror path, while
/// both twins take mail for accounts homed on each: nothing wrong is ever applied (TLS
/// rejects every altered record; the link reconnects and resumes), every accepted message
/// is on both twins exactly once after the proxy heals, and verify is clean.
/// Waits until both twins are linked with nothing queued: "in sync", or "diverged" or
/// "merging" where a conflict stands (which a status must never hide behind "in sync").
fn wait_settled(pair: &Pair) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let settled = |s: &str| {
        s.contains("State: in sync")
            || s.contains("State: diverged")
            || s.contains("State: merging a split")
    };
    loop {
        let (sa, sb) = (pair.a.status(), pair.b.status());
        // "log 20/20 acknowledged": nothing of its own waits for the twin.
        let quiet = |s: &str| {
            s.contains("Link: up")
                && s.split("; log ")
                    .nth(1)
                    .and_then(|r| r.split(' ').next())
                    .is_some_and(|n| {
                        let mut it = n.split('/');
                        it.next() == it.next()
                    })
        };
        if settled(&sa) && settled(&sb) && quiet(&sa) && quiet(&sb) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the twins did not settle:\n--- a\n{sa}\n--- b\n{sb}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn faults_in_the_mirror_path_never_apply_anything_wrong() {
    let mut proxy = None;
    // Heartbeats every 2 s: a twin is given 6 s to come back before the other serves its
    // accounts alone, longer than the link flaps under the garbling below.
    let pair = Pair::start_custom(
        |b| {
            let p = Proxy::start(b);
            let addr = p.addr;
            proxy = Some(p);
            addr
        },
        2,
        "",
    );
    let proxy = proxy.unwrap();
    let (home_a, home_b) = pair.users_on_both_homes();
    let mut accepted: Vec<(String, String)> = Vec::new();
    let faults = [
        Fault::Delay(Duration::from_millis(30)),
        Fault::Duplicate,
        Fault::Garble,
        Fault::Refuse,
        Fault::Pass,
        Fault::Garble,
    ];
    for (round, fault) in faults.into_iter().enumerate() {
        if fault == Fault::Refuse || (round > 0 && faults[round - 1] == Fault::Refuse) {
            // An outage longer than the grace period is a split: it may start only with
            // nothing unshipped on either side, and end before both sides take mail again
            // (otherwise it is a conflict: see the next test).
            proxy.set(Fault::Pass);
            pair.wait_in_sync();
        }
        proxy.set(fault);
        if round % 2 == 1 {
            proxy.cut();
        }
        // While the twin is unreachable for longer than the grace period, only one twin
        // takes mail: a real split with writes on both sides is a conflict, which the
        // mirror reports (see the test below) but does not merge yet.
        let twins: &[(&str, u16)] = if fault == Fault::Refuse {
            &[("a", pair.a.port("smtp"))]
        } else {
            &[("a", pair.a.port("smtp")), ("b", pair.b.port("smtp"))]
        };
        for user in [&home_a, &home_b] {
            for &(twin, port) in twins {
                let subjects: Vec<String> =
                    (0..5).map(|i| format!("r{round}-{twin}-{i}")).collect();
                for s in send_some(port, user, &subjects) {
                    accepted.push((user.clone(), s));
                }
            }
        }
    }
    proxy.set(Fault::Pass);
    proxy.cut();
    pair.wait_in_sync();
    pair.assert_identical();
    for user in [&home_a, &home_b] {
        let on_a = inbox_subjects(pair.a.port("imaps"), user);
        let on_b = inbox_subjects(pair.b.port("imaps"), user);
        assert_eq!(on_a, on_b, "{user}");
        for (u, s) in accepted.iter().filter(|(u, _)| u == user) {
            let n = on_a.iter().filter(|x| *x == s).count();
            assert_eq!(n, 1, "{u}: accepted message {s:?} is there {n} times");
        }
        for s in &on_a {
            assert!(
                on_a.iter().filter(|x| *x == s).count() == 1,
                "{s} duplicated"
            );
        }
    }
    // Most of the mail got through, and some of it while the link was being hurt.
    assert!(
        accepted.len() >= 60,
        "only {} of 120 accepted",
        accepted.len()
    );
    let status = pair.a.status();
    assert_eq!(status_counter(&status, "failed"), 0, "{status}");
}

/// Without the secret there is no link: wrong secret, another node's name, a plain-TCP
/// client, garbage. Each is refused and counted; nothing is applied; the real link goes on.
#[test]
fn only_the_twin_gets_onto_the_link() {
    let pair = Pair::start();
    pair.add_user(&pair.a, "alice@example.org");
    let before = pair.b.status();
    let refused_before = status_counter(&before, "peers");
    let mirror = pair.b_mirror;
    // Garbage, and a plain-TCP hello frame without TLS.
    for junk in [
        b"EHLO evil\r\n\x00\x01\x02garbage".to_vec(),
        twinmail_mirror::frame::Frame::Heartbeat.encode(),
    ] {
        let mut s = TcpStream::connect(mirror).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        s.write_all(&junk).unwrap();
        let mut buf = [0u8; 4096];
        // TLS alert or close; never a frame of ours.
        let n = s.read(&mut buf).unwrap_or(0);
        assert!(
            n == 0 || buf[0] == 0x15,
            "answered garbage with {:?}",
            &buf[..n]
        );
    }
    // A copy of twin a's config with the wrong secret, and one with another node id.
    let dir = pair.dir.path();
    let a_text = std::fs::read_to_string(&pair.a.config).unwrap();
    std::fs::write(
        dir.join("wrong.secret"),
        "not-the-secret-at-all-0123456789-not-the-secret-at-all",
    )
    .unwrap();
    let wrong_secret = dir.join("wrong-secret.toml");
    std::fs::write(
        &wrong_secret,
        a_text.replace(
            "secret_file = \"mirror.secret\"",
            "secret_file = \"wrong.secret\"",
        ),
    )
    .unwrap();
    let wrong_node = dir.join("wrong-node.toml");
    std::fs::write(
        &wrong_node,
        a_text
            .replace("id = \"a\"", "id = \"c\"")
            .replace("data_dir = \"a-data\"", "data_dir = \"c-data\""),
    )
    .unwrap();
    for config in [&wrong_secret, &wrong_node] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_twinmail"))
            .arg("--config")
            .arg(config)
            .args(["mirror", "verify"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{config:?} got through");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            !text.contains("0123456789abcdef"),
            "a secret leaked: {text}"
        );
    }
    // Refusals are counted in memory and written once a second.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut after = pair.b.status();
    while status_counter(&after, "peers") < refused_before + 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "refusals not counted:\n{after}"
        );
        std::thread::sleep(Duration::from_millis(200));
        after = pair.b.status();
    }
    for key in ["add", "del", "rename", "failed"] {
        assert_eq!(
            status_counter(&before, key),
            status_counter(&after, key),
            "{key} changed:\n{before}\n{after}"
        );
    }
    // The real link still works.
    common::pair::send(
        pair.a.port("smtp"),
        "alice@example.org",
        &["still here".into()],
    );
    pair.wait_in_sync();
    pair.assert_identical();
    let log = std::fs::read_to_string(pair.b.config.with_extension("log")).unwrap();
    assert!(log.contains("refused a connection"), "refusals not logged");
    assert!(
        !log.contains("0123456789abcdef"),
        "the secret is in the log"
    );
}

/// A twin restored from a backup while its twin lives holds less of its own log than the
/// twin has applied, and hands out UIDs the twin already holds. Nothing may be skipped
/// silently (no reused log numbers) or overwritten: the restore is reported, the clashing
/// message is held (not refused) on the other twin, which keeps every message it had;
/// then the audit repairs the difference by the merge's rules: the messages the restore
/// lost come back to the restored twin, the clash is renumbered, and verify is clean.
#[test]
fn a_twin_restored_from_a_backup_is_reported_harms_nothing_and_is_repaired() {
    let mut pair = Pair::start_custom(|b| b, 1, "audit_interval_secs = 1");
    let (home_a, _) = pair.users_on_both_homes();
    common::pair::send(pair.a.port("smtp"), &home_a, &["before the backup".into()]);
    pair.wait_in_sync();
    pair.a.kill();
    let data = pair.dir.path().join("a-data");
    let backup = pair.dir.path().join("a-backup");
    std::fs::create_dir(&backup).unwrap();
    for f in std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().path()) {
        if f.is_file() {
            std::fs::copy(&f, backup.join(f.file_name().unwrap())).unwrap();
        }
    }
    pair.a.start();
    let lost: Vec<String> = (0..3)
        .map(|i| format!("lost with the restore {i}"))
        .collect();
    common::pair::send(pair.a.port("smtp"), &home_a, &lost);
    pair.wait_in_sync();
    pair.a.kill();
    for f in std::fs::read_dir(&backup)
        .unwrap()
        .map(|e| e.unwrap().path())
    {
        std::fs::copy(&f, data.join(f.file_name().unwrap())).unwrap();
    }
    for stale in ["twinmail.db-wal", "twinmail.db-shm"] {
        if !backup.join(stale).exists() {
            let _ = std::fs::remove_file(data.join(stale));
        }
    }
    pair.a.start();
    common::pair::send(pair.a.port("smtp"), &home_a, &["after the restore".into()]);
    wait_settled(&pair);
    let status = pair.a.status();
    assert!(status.contains("restored from a backup"), "{status}");
    // The restored twin's new message reused UID 2: held on B (B shows no message twice
    // under one UID), never refused.
    let b_status = pair.b.status();
    assert_eq!(status_counter(&b_status, "failed"), 0, "{b_status}");
    let on_b = inbox_subjects(pair.b.port("imaps"), &home_a);
    for s in lost.iter().chain(["before the backup".to_string()].iter()) {
        assert!(on_b.contains(s), "{s} gone from B: {on_b:?}");
    }
    // The audits (every second here) repair it: B announces what A lost again, A holds
    // the clash and its merge renumbers it, and the twins end equal.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while pair.verify().0 != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the audit did not repair the restore:\n{}\n--- a\n{}\n--- b\n{}",
            pair.verify().1,
            pair.a.status(),
            pair.b.status()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    pair.wait_in_sync();
    pair.assert_identical();
    let everything: Vec<String> = ["before the backup", "after the restore"]
        .iter()
        .map(|s| s.to_string())
        .chain(lost.iter().cloned())
        .collect();
    for t in [&pair.a, &pair.b] {
        let there = inbox_subjects(t.port("imaps"), &home_a);
        for s in &everything {
            assert_eq!(
                there.iter().filter(|x| *x == s).count(),
                1,
                "{s} on {}: {there:?}",
                t.id
            );
        }
    }
    let repaired: i64 = [&pair.a, &pair.b]
        .iter()
        .map(|t| {
            let s = t.status();
            s.split("Audit repairs: ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        })
        .sum();
    assert!(repaired >= 3, "no repair counted");
}

/// The home twin of an account dies for longer than the grace period while its twin takes
/// that account's mail, and comes back while mail keeps arriving on both twins. The
/// returning home assigns no UID before it has the survivor's backlog, so the pair
/// converges: every message accepted with 250 is on both twins exactly once, with the
/// same UIDs, and verify is clean.
#[test]
fn the_home_twin_restarted_under_traffic_converges_with_nothing_lost_or_doubled() {
    let mut pair = Pair::start();
    let (home_a, home_b) = pair.users_on_both_homes();
    let mut accepted: Vec<(String, String)> = Vec::new();
    let mut round = 0;
    let mut traffic = |pair: &Pair, both: bool, accepted: &mut Vec<(String, String)>| {
        round += 1;
        let mut ports = vec![("a", pair.a.port("smtp"))];
        if both {
            ports.push(("b", pair.b.port("smtp")));
        }
        for (via, port) in ports {
            for user in [&home_a, &home_b] {
                let subject = format!("round {round} via {via}");
                for s in send_some(port, user, &[subject]) {
                    accepted.push((user.clone(), s));
                }
            }
        }
    };
    traffic(&pair, true, &mut accepted);
    pair.b.kill();
    // Past the grace period (three 1-second heartbeats): A serves B's account alone, and
    // takes a backlog big enough that B needs a moment to apply it when it returns.
    let down = std::time::Instant::now();
    let bulk: Vec<String> = (0..600).map(|i| format!("bulk {i}")).collect();
    common::pair::send(pair.a.port("smtp"), &home_b, &bulk);
    accepted.extend(bulk.into_iter().map(|s| (home_b.clone(), s)));
    while down.elapsed() < Duration::from_secs(5) {
        traffic(&pair, false, &mut accepted);
    }
    pair.b.start();
    // At once: mail for B's own account to B, while B still applies A's backlog.
    let early: Vec<String> = (0..20).map(|i| format!("early {i}")).collect();
    for s in send_some(pair.b.port("smtp"), &home_b, &early) {
        accepted.push((home_b.clone(), s));
    }
    // Mail keeps coming to both while B catches up.
    let back = std::time::Instant::now();
    while back.elapsed() < Duration::from_secs(5) {
        traffic(&pair, true, &mut accepted);
    }
    pair.wait_in_sync();
    for user in [&home_a, &home_b] {
        let want: std::collections::BTreeSet<&String> = accepted
            .iter()
            .filter(|(u, _)| u == user)
            .map(|(_, s)| s)
            .collect();
        let on_a = inbox_subjects(pair.a.port("imaps"), user);
        let on_b = inbox_subjects(pair.b.port("imaps"), user);
        if let Some(i) = (0..on_a.len().max(on_b.len())).find(|&i| on_a.get(i) != on_b.get(i)) {
            panic!(
                "the twins' INBOXes of {user} differ from position {i}: a has {:?}, b has {:?} \
                 ({} and {} messages)",
                on_a.get(i),
                on_b.get(i),
                on_a.len(),
                on_b.len()
            );
        }
        let mut sorted = on_a.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            on_a.len(),
            "a message doubled for {user}: {on_a:?}"
        );
        let got: std::collections::BTreeSet<&String> = on_a.iter().collect();
        assert_eq!(got, want, "accepted and stored differ for {user}");
        assert_eq!(
            common::pair::dump(pair.a.port("imaps"), user),
            common::pair::dump(pair.b.port("imaps"), user),
            "UIDs or flags differ for {user}"
        );
    }
    pair.assert_identical();
}

/// Sends one message per subject, one transaction each, and returns each subject with the
/// RCPT reply code (and, where RCPT was taken, the end-of-data code): what a client sees.
fn send_codes(port: u16, rcpt: &str, subjects: &[String]) -> Vec<(String, u16)> {
    let mut args = vec![port.to_string(), rcpt.to_string()];
    args.extend(subjects.iter().cloned());
    let out = py(
        r#"
got = []
for subj in sys.argv[3:]:
    try:
        s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]))
        s.ehlo()
        code, _ = s.mail('someone@remote.test')
        if code == 250:
            code, _ = s.rcpt(sys.argv[2])
        if code == 250:
            code, _ = s.data(('Subject: %s\r\n\r\nbody\r\n' % subj).encode())
        s.quit()
    except smtplib.SMTPServerDisconnected:
        code = 421
    got.append([subj, code])
print(json.dumps(got))
"#,
        &args,
    );
    serde_json::from_str(out.trim()).unwrap()
}

/// A twin rebuilt from nothing takes mail before and while its snapshot lands: it never
/// answers "user unknown" (5xx) for an account its twin holds (a 4xx until it has the
/// data), and never hands out a UID before it holds its twin's data — every message it
/// accepted is on both twins once, with the same UIDs.
#[test]
fn a_rebuilt_twin_never_refuses_or_misnumbers_mail_while_its_snapshot_lands() {
    let (mut pair, proxy) = Pair::start_behind_proxy();
    let (home_a, home_b) = pair.users_on_both_homes();
    for user in [&home_a, &home_b] {
        let old: Vec<String> = (0..400).map(|i| format!("old {i}")).collect();
        common::pair::send(pair.a.port("smtp"), user, &old);
    }
    pair.wait_in_sync();
    pair.b.kill();
    std::fs::remove_dir_all(pair.dir.path().join("b-data")).unwrap();
    // The rebuilt twin comes up before the link can: it must not answer from its empty
    // database.
    proxy.set(Fault::Refuse);
    pair.b.start();
    let mut accepted = Vec::new();
    let mut round = 0;
    let mut deliver = |pair: &Pair, accepted: &mut Vec<(String, String)>| {
        round += 1;
        let mut codes = Vec::new();
        for user in [&home_a, &home_b] {
            let subjects: Vec<String> = (0..3).map(|i| format!("new {round}.{i}")).collect();
            for (subject, code) in send_codes(pair.b.port("smtp"), user, &subjects) {
                assert!(code < 500, "{subject} to {user} refused with {code}");
                codes.push(code);
                if code == 250 {
                    accepted.push((user.clone(), subject));
                }
            }
        }
        codes
    };
    let unlinked = deliver(&pair, &mut accepted);
    assert!(
        unlinked.iter().all(|c| (400..500).contains(c)),
        "before its snapshot, the rebuilt twin answers 4xx: {unlinked:?}"
    );
    proxy.set(Fault::Pass);
    for _ in 0..3 {
        deliver(&pair, &mut accepted);
    }
    assert!(!accepted.is_empty(), "the rebuilt twin took nothing");
    pair.wait_in_sync();
    for user in [&home_a, &home_b] {
        let on_a = inbox_subjects(pair.a.port("imaps"), user);
        assert_eq!(on_a, inbox_subjects(pair.b.port("imaps"), user), "{user}");
        for (_, s) in accepted.iter().filter(|(u, _)| u == user) {
            assert_eq!(on_a.iter().filter(|x| *x == s).count(), 1, "{s} for {user}");
        }
        assert_eq!(
            common::pair::dump(pair.a.port("imaps"), user),
            common::pair::dump(pair.b.port("imaps"), user),
        );
    }
    pair.assert_identical();
}

/// Before a peer has proved the secret, the mirror port gives it little: a frame longer
/// than a KiB ends the handshake before its body is read (and nothing of it is logged),
/// and no address holds more than four handshakes at once — further connections are
/// closed at once — while the real link stays up.
#[test]
fn a_peer_without_the_secret_can_hold_little_on_the_mirror_port() {
    let pair = Pair::start();
    let port = pair.b_mirror.port().to_string();
    // TLS, then a 4 MiB frame: the twin closes before the body is sent.
    let out = py(
        r#"
import socket, ssl, struct, time
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))))
s.sendall(struct.pack('>I', 4 * 1024 * 1024) + b'\x01' + b'{"version":' )
s.settimeout(5)
t = time.monotonic()
try:
    got = s.recv(1)
except (ConnectionResetError, ssl.SSLError):
    got = b''
closed_big = got == b''
secs = time.monotonic() - t
# TLS 1.2: the link speaks 1.3 only; the twin closes before reading a frame.
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
try:
    s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))))
    s.settimeout(5)
    s.sendall(struct.pack('>I', 10) + b'\x01' + b'{"ver": 1}')
    old = s.recv(1)
except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
    old = b''
print(json.dumps({"closed": closed_big, "secs": secs, "tls12_closed": old == b''}))
"#,
        std::slice::from_ref(&port),
    );
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["closed"], true, "{r}");
    assert_eq!(r["tls12_closed"], true, "{r}");
    assert!(r["secs"].as_f64().unwrap() < 3.0, "{r}");
    // Ten silent connections from one address: four wait for their TLS hello, the rest
    // are closed at once.
    let silent: Vec<TcpStream> = (0..10)
        .map(|_| TcpStream::connect(pair.b_mirror).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut closed = 0;
    for c in &silent {
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut b = [0u8; 1];
        match (&*c).read(&mut b) {
            Ok(0) => closed += 1,
            // Still waiting for its TLS hello (a TLS server does not speak first).
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => closed += 1,
            Ok(_) => panic!("the mirror port spoke first"),
        }
    }
    assert_eq!(closed, 6, "connections closed at once of 10 silent ones");
    drop(silent);
    let log = std::fs::read_to_string(pair.b.config.with_extension("log")).unwrap();
    assert!(
        log.lines().all(|l| l.len() < 4096),
        "a peer's bytes reached the log"
    );
    // The twins still talk.
    pair.add_user(&pair.a, "alice@example.org");
    common::pair::send(pair.a.port("smtp"), "alice@example.org", &["after".into()]);
    pair.wait_in_sync();
    pair.assert_identical();
}

/// The twin's certificate can be pinned (mirror.twin_cert_sha256, the SPKI SHA-256 that
/// `twinmail cert fingerprint` prints), on both sides: a dialer pinning the acceptor's key
/// gets through and one pinning another key is refused in the TLS handshake and says
/// why; an acceptor pinning the dialer's key lets it in (dialers show their own
/// certificate), one pinning another key refuses it. And the mirror port speaks TLS 1.3
/// only: a TLS 1.2 client gets no handshake at all.
#[test]
fn a_pinned_twin_certificate_must_match_and_the_port_speaks_tls_1_3_only() {
    let mut pair = Pair::start();
    let dir = pair.dir.path();
    let fingerprint = |twin: &str| {
        let cert = dir.join(format!("{twin}-data/tls/cert.pem"));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_twinmail"))
            .args(["cert", "fingerprint"])
            .arg(&cert)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let hex = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert_eq!(hex.len(), 64, "{hex}");
        hex
    };
    let (a_pin, b_pin) = (fingerprint("a"), fingerprint("b"));
    assert_ne!(a_pin, b_pin);
    let a_text = std::fs::read_to_string(&pair.a.config).unwrap();
    let verify_with_pin = |name: &str, pin: &str| {
        let config = dir.join(name);
        std::fs::write(
            &config,
            a_text.replace(
                "secret_file = \"mirror.secret\"",
                &format!("secret_file = \"mirror.secret\"\ntwin_cert_sha256 = \"{pin}\""),
            ),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_twinmail"))
            .arg("--config")
            .arg(&config)
            .args(["mirror", "verify"])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, text) = verify_with_pin("pinned-right.toml", &b_pin);
    assert!(ok && text.contains("the twins match"), "{text}");
    let (ok, text) = verify_with_pin("pinned-wrong.toml", &a_pin);
    assert!(!ok, "a twin with another certificate got through: {text}");
    assert!(text.contains("not the pinned one"), "{text}");

    let out = py(
        r#"
import socket
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
try:
    print('handshake', ctx.wrap_socket(s).version())
except (ssl.SSLError, OSError) as e:
    print('refused', e)
"#,
        &[pair.b_mirror.port().to_string()],
    );
    assert!(
        out.starts_with("refused"),
        "TLS 1.2 on the mirror port: {out}"
    );

    // The acceptor's side: b pins a key a does not have, then a's.
    let b_config = pair.b.config.clone();
    let b_text = std::fs::read_to_string(&b_config).unwrap();
    let pin_b = |pin: &str| {
        std::fs::write(
            &b_config,
            b_text.replace(
                "secret_file = \"mirror.secret\"",
                &format!("secret_file = \"mirror.secret\"\ntwin_cert_sha256 = \"{pin}\""),
            ),
        )
        .unwrap()
    };
    pair.b.kill();
    pin_b(&b_pin);
    pair.b.start();
    let (ok, text) = verify_with_pin("pinned-right.toml", &b_pin);
    assert!(!ok, "b let in a dialer with another certificate: {text}");
    let log = std::fs::read_to_string(b_config.with_extension("log")).unwrap();
    assert!(
        log.contains("the dialer's certificate is not the pinned one"),
        "b does not say why"
    );
    pair.b.kill();
    pin_b(&a_pin);
    pair.b.start();
    let (ok, text) = verify_with_pin("pinned-right.toml", &b_pin);
    assert!(ok && text.contains("the twins match"), "{text}");
    // The real link, with b pinning a, is unharmed.
    pair.add_user(&pair.a, "pinned@example.org");
    common::pair::send(
        pair.a.port("smtp"),
        "pinned@example.org",
        &["after pinning".into()],
    );
    pair.wait_in_sync();
    pair.assert_identical();
}

/// Twins apart longer than tombstones are kept (here: twin b was off for 40 days, as its
/// mirror state says) are not merged when the link returns: mail expunged early in such a
/// split could come back. The status says why and what to do; nothing of a's reaches b.
/// `twinmail mirror merge-long-split` on b lets the next link-up merge, and the pair is in
/// sync with every message.
#[test]
fn a_split_longer_than_the_tombstone_period_waits_for_the_admin() {
    let mut pair = Pair::start();
    let (home_a, _) = pair.users_on_both_homes();
    pair.wait_in_sync();
    pair.b.kill();
    let db = pair.dir.path().join("b-data/twinmail.db");
    let forty_days_ago = (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 40 * 86_400)
        .to_string();
    py(
        "import sqlite3\n\
         c = sqlite3.connect(sys.argv[1])\n\
         c.execute(\"UPDATE mirror_state SET value = ? WHERE key = 'last_linked'\", (sys.argv[2],))\n\
         c.commit()",
        &[db.display().to_string(), forty_days_ago],
    );
    common::pair::send(pair.a.port("smtp"), &home_a, &["while b was away".into()]);
    pair.b.start();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = pair.b.status();
        if status.contains("not merged: the twins were apart 40 days") {
            assert!(status.contains("merge-long-split"), "{status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert!(!pair.b.status().contains("State: in sync"));
    assert!(
        !inbox_subjects(pair.b.port("imaps"), &home_a).contains(&"while b was away".to_string()),
        "merged without the admin"
    );
    let (code, out) = pair.b.cli(&["mirror", "merge-long-split"]);
    assert_eq!(code, 0, "{out}");
    pair.wait_in_sync();
    pair.assert_identical();
    assert!(
        inbox_subjects(pair.b.port("imaps"), &home_a).contains(&"while b was away".to_string())
    );
}

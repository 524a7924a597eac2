//! Outbound mail on real twins: submission with local and foreign recipients (one 250,
//! the local copy at once, the foreign one delivered to a real SMTP server), and a twin
//! killed with 100 queued messages: its twin delivers each exactly once after the lease,
//! and a twin rebuilt from nothing gets the queue (with what was delivered so far) in its
//! snapshot and takes it over like any twin.

mod common;

use std::{collections::HashMap, time::Duration};

use common::pair::{PASSWORD, Pair, Twin, dump, free_port, py};
use twinmail_testkit::{Sink, SinkOptions};

/// Both twins send through `127.0.0.1:port` (a smarthost without TLS: the test's sink),
/// retry every second, and take the twin's queue over after two seconds.
fn outbound_to(port: u16) -> String {
    format!(
        "[outbound]\nrelay_host = \"127.0.0.1:{port}\"\nrelay_tls = \"none\"\n\
         retry_secs = [1]\nlease_secs = 2\ntimeout_secs = 5\n"
    )
}

/// Sends `n` messages from `user` on submission (STARTTLS, login) to `rcpts`; the replies.
fn submit(port: u16, user: &str, rcpts: &[&str], n: usize, tag: &str) -> String {
    py(
        r#"
port, user, pw, n, tag = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
rcpts = sys.argv[6:]
s = smtplib.SMTP('127.0.0.1', port, timeout=30); s.starttls(context=CTX); s.login(user, pw)
for i in range(n):
    msg = 'From: %s\r\nTo: %s\r\nSubject: %s %d\r\nMessage-ID: <%s.%d@example.org>\r\n\r\nHello %d\r\n' % (user, ', '.join(rcpts), tag, i, tag, i, i)
    refused = s.sendmail(user, rcpts, msg.encode())
    print('refused' if refused else 'ok')
s.quit()
"#,
        &[
            port.to_string(),
            user.to_string(),
            PASSWORD.to_string(),
            n.to_string(),
            tag.to_string(),
        ]
        .into_iter()
        .chain(rcpts.iter().map(|r| r.to_string()))
        .collect::<Vec<_>>(),
    )
}

fn message_ids(sink: &Sink) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for m in sink.received() {
        let text = String::from_utf8_lossy(&m.data).into_owned();
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: "))
            .unwrap_or("?")
            .to_string();
        *seen.entry(id).or_insert(0) += 1;
    }
    seen
}

#[test]
fn submission_with_local_and_foreign_recipients_gets_one_250() {
    twinmail_testkit::require(&["python3", "aiosmtpd"]);
    let sink = Sink::start(SinkOptions::default());
    let pair = Pair::start_custom(|b| b, 1, &outbound_to(sink.port));
    pair.add_user(&pair.a, "ann@example.org");
    pair.add_user(&pair.a, "ben@example.org");
    let out = submit(
        pair.a.port("submission"),
        "ann@example.org",
        &["ben@example.org", "friend@elsewhere.test"],
        1,
        "mixed",
    );
    assert_eq!(out.trim(), "ok", "one 250 for both recipients");
    // The local copy is there at once, on both twins once mirrored.
    let inbox = &dump(pair.a.port("imaps"), "ben@example.org")["INBOX"][1];
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    // The foreign one reaches the remote server, once, DKIM-signed once keys exist (none
    // here: unsigned), with our trace header.
    let got = sink.wait_for(1, 20);
    assert_eq!(got.len(), 1, "delivered to the remote server");
    assert_eq!(got[0].rcpts, vec!["friend@elsewhere.test".to_string()]);
    assert_eq!(got[0].from, "ann@example.org");
    let text = String::from_utf8_lossy(&got[0].data);
    assert!(text.contains("Subject: mixed 0"), "{text}");
    assert!(text.contains("Received: from"), "{text}");
    // The queue empties on both twins (the attempt is mirrored).
    for twin in [&pair.a, &pair.b] {
        let until = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (code, out) = twin.cli(&["queue", "list"]);
            assert_eq!(code, 0, "{out}");
            if out.contains("0 message(s)") {
                break;
            }
            assert!(std::time::Instant::now() < until, "{out}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    pair.wait_in_sync();
    pair.assert_identical();
}

#[test]
fn a_twin_killed_with_100_queued_messages_its_twin_delivers_each_exactly_once() {
    twinmail_testkit::require(&["python3", "aiosmtpd"]);
    // Nothing listens on the smarthost port yet: twin a queues and defers.
    let port = free_port();
    let mut pair = Pair::start_custom(|b| b, 1, &outbound_to(port));
    pair.add_user(&pair.a, "ann@example.org");
    let out = submit(
        pair.a.port("submission"),
        "ann@example.org",
        &["friend@elsewhere.test"],
        100,
        "queued",
    );
    assert_eq!(out.matches("ok").count(), 100, "{out}");
    // b holds all 100 (mirrored), owned by a.
    let until = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, list) = pair.b.cli(&["queue", "list"]);
        if list.contains("100 message(s)") {
            break;
        }
        assert!(std::time::Instant::now() < until, "{list}");
        std::thread::sleep(Duration::from_millis(200));
    }
    pair.a.kill();
    // The remote server comes up; after the lease b delivers a's queue.
    let sink = Sink::start(SinkOptions {
        port,
        ..Default::default()
    });
    let got = sink.wait_for(100, 60);
    assert_eq!(got.len(), 100, "every queued message delivered");
    // And none twice, even a while later.
    std::thread::sleep(Duration::from_secs(3));
    let ids = message_ids(&sink);
    assert_eq!(ids.len(), 100, "{ids:?}");
    assert!(ids.values().all(|&n| n == 1), "{ids:?}");
    let (_, list) = pair.b.cli(&["queue", "list"]);
    assert!(list.contains("0 message(s)"), "{list}");
    // a comes back: it learns the outcomes and sends nothing again.
    pair.a.start();
    pair.wait_in_sync();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sink.received().len(), 100, "nothing sent again by a");
    let (_, list) = pair.a.cli(&["queue", "list"]);
    assert!(list.contains("0 message(s)"), "{list}");
}

/// Waits until `twin`'s `queue list` says `n message(s)`.
fn wait_queue(twin: &Twin, n: usize) {
    let until = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, list) = twin.cli(&["queue", "list"]);
        if list.contains(&format!("{n} message(s)")) {
            return;
        }
        assert!(std::time::Instant::now() < until, "{list}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A message to two remote recipients, one of whom the remote server took and one it
/// deferred; then twin b loses its data and is rebuilt by a snapshot, and twin a dies.
/// The rebuilt twin holds the queued message with its delivered recipient marked so:
/// after the lease it delivers to the deferred recipient only.
#[test]
fn a_rebuilt_twin_gets_the_queue_in_its_snapshot_and_takes_it_over() {
    twinmail_testkit::require(&["python3", "aiosmtpd"]);
    let port = free_port();
    let config = format!(
        "[outbound]\nrelay_host = \"127.0.0.1:{port}\"\nrelay_tls = \"none\"\n\
         retry_secs = [3]\nlease_secs = 2\ntimeout_secs = 5\n"
    );
    let mut pair = Pair::start_custom(|b| b, 1, &config);
    pair.add_user(&pair.a, "ann@example.org");
    // The first RCPT is deferred, the second taken; then the remote server goes away.
    let first = Sink::start(SinkOptions {
        port,
        tempfail: 1,
        ..Default::default()
    });
    let rcpts = ["one@elsewhere.test", "two@elsewhere.test"];
    let out = submit(
        pair.a.port("submission"),
        "ann@example.org",
        &rcpts,
        1,
        "half",
    );
    assert_eq!(out.trim(), "ok");
    let got = first.wait_for(1, 20);
    drop(first);
    assert_eq!(got.len(), 1, "one recipient taken");
    assert_eq!(got[0].rcpts.len(), 1, "{:?}", got[0].rcpts);
    let taken = got[0].rcpts[0].clone();
    let deferred = rcpts.iter().find(|r| **r != taken).unwrap().to_string();
    wait_queue(&pair.a, 1);
    pair.wait_in_sync();

    pair.b.kill();
    std::fs::remove_dir_all(pair.dir.path().join("b-data")).unwrap();
    pair.b.start();
    pair.wait_in_sync();
    let (_, shown) = pair.b.cli(&["queue", "list"]);
    assert!(shown.contains("1 message(s)"), "{shown}");
    pair.a.kill();

    let second = Sink::start(SinkOptions {
        port,
        ..Default::default()
    });
    let got = second.wait_for(1, 60);
    assert_eq!(got.len(), 1, "the rebuilt twin delivers a's queue");
    assert_eq!(got[0].rcpts, vec![deferred], "only the deferred recipient");
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(second.received().len(), 1, "nothing sent twice");
    wait_queue(&pair.b, 0);
}

/// Sends one message on port 25 from `from` to `rcpt`; the reply to RCPT and to DATA
/// ("250 ..." each, or the refusal).
fn send_mx(port: u16, from: &str, rcpt: &str, subject: &str) -> String {
    py(
        r#"
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30); s.ehlo('sender.test')
s.mail(sys.argv[2])
code, text = s.rcpt(sys.argv[3])
if code != 250:
    print(code, text.decode()); s.quit(); sys.exit(0)
code, text = s.data(('From: <%s>\r\nSubject: %s\r\n\r\nforward me\r\n' % (sys.argv[2] or 'mailer-daemon@x.test', sys.argv[4])).encode())
print(code, text.decode()); s.quit()
"#,
        &[
            port.to_string(),
            from.to_string(),
            rcpt.to_string(),
            subject.to_string(),
        ],
    )
}

/// An alias that forwards to another domain: mail to it from the Internet goes out with
/// its sender rewritten by SRS in the alias's domain (so SPF passes at the destination),
/// and a bounce to that address, taken by either twin, goes on to the original sender; a
/// forged or foreign SRS address is refused (no open relay).
#[test]
fn an_alias_forwards_to_another_domain_with_srs_and_bounces_find_their_way_back() {
    twinmail_testkit::require(&["python3", "aiosmtpd"]);
    let sink = Sink::start(SinkOptions::default());
    let pair = Pair::start_custom(|b| b, 1, &outbound_to(sink.port));
    let (code, out) = pair
        .a
        .cli(&["alias", "add", "fwd@example.org", "friend@remote.test"]);
    assert_eq!(code, 0, "{out}");
    pair.wait_in_sync();
    let reply = send_mx(
        pair.a.port("smtp"),
        "alice@sender.test",
        "fwd@example.org",
        "fw",
    );
    assert!(reply.starts_with("250"), "{reply}");
    let got = sink.wait_for(1, 20);
    assert_eq!(got.len(), 1, "forwarded");
    assert_eq!(got[0].rcpts, vec!["friend@remote.test".to_string()]);
    let srs = got[0].from.clone();
    assert!(
        srs.starts_with("SRS0=") && srs.ends_with("=sender.test=alice@example.org"),
        "{srs}"
    );
    assert!(String::from_utf8_lossy(&got[0].data).contains("Subject: fw"));
    // The destination bounces it: the reply to the SRS address, on the other twin, goes
    // on to alice.
    let reply = send_mx(pair.b.port("smtp"), "", &srs, "bounce");
    assert!(reply.starts_with("250"), "{reply}");
    let got = sink.wait_for(2, 20);
    assert_eq!(got.len(), 2, "the bounce went on");
    assert_eq!(got[1].rcpts, vec!["alice@sender.test".to_string()]);
    assert_eq!(got[1].from, "<>", "the null sender stays null");
    // Forged (the original sender swapped) or in a domain not ours: refused.
    let forged = srs.replace("=alice@", "=victim@");
    let reply = send_mx(pair.a.port("smtp"), "", &forged, "relay?");
    assert!(reply.starts_with("550"), "{reply}");
    let foreign = srs.replace("@example.org", "@remote.test");
    let reply = send_mx(pair.a.port("smtp"), "", &foreign, "relay?");
    assert!(reply.starts_with("554"), "{reply}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.received().len(), 2, "nothing relayed");
}

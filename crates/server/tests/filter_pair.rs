//! Filtering on a twin pair: a message that twin a's rspamd files into Junk (after a real
//! clamd found it clean) appears in Junk on twin b with the same bytes, the headers a
//! added included, and b never called a filter daemon: its clamd and rspamd addresses
//! lead to a listener that counts connections, and it counts none until b itself
//! receives mail (the check that the count can move).

mod common;
#[path = "../../filter/tests/common/daemons.rs"]
mod daemons;

use std::{
    io::{BufRead, BufReader, Write},
    net::{TcpListener, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use common::pair::{ADMIN_PASSWORD, PASSWORD, Pair, py};

/// Accepts connections, counts them and closes them at once.
fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            c.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    (addr, count)
}

/// Sends one message over SMTP; returns the final reply.
fn send(port: u16, rcpt: &str, message: &str) -> String {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut reply = || {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    };
    reply();
    for cmd in [
        "EHLO client.test".to_string(),
        "MAIL FROM:<bob@remote.test>".to_string(),
        format!("RCPT TO:<{rcpt}>"),
        "DATA".to_string(),
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
        reply();
    }
    w.write_all(message.as_bytes()).unwrap();
    w.write_all(b".\r\n").unwrap();
    let out = reply();
    let _ = w.write_all(b"QUIT\r\n");
    out
}

/// The raw messages of a folder over IMAP.
fn folder(port: u16, user: &str, name: &str) -> Vec<String> {
    let out = py(
        r#"
m = imap(sys.argv[1], sys.argv[2], sys.argv[3])
m.select(sys.argv[4], readonly=True)
typ, data = m.uid('FETCH', '1:*', '(BODY.PEEK[])')
print(json.dumps([d[1].decode('utf-8', 'replace') for d in data if isinstance(d, tuple)]))
"#,
        &[
            port.to_string(),
            user.to_string(),
            PASSWORD.to_string(),
            name.to_string(),
        ],
    );
    serde_json::from_str(out.trim()).unwrap()
}

/// A twin's filter counters from its admin page's `/api/status`, by filter name:
/// (checked, junked, errors).
fn counters(port: u16) -> std::collections::BTreeMap<String, (u64, u64, u64)> {
    let out = py(
        r#"
import urllib.request, base64
req = urllib.request.Request('https://127.0.0.1:%s/api/status' % sys.argv[1])
req.add_header('Authorization', 'Basic ' + base64.b64encode(('admin:%s' % sys.argv[2]).encode()).decode())
print(urllib.request.urlopen(req, context=CTX, timeout=30).read().decode())
"#,
        &[port.to_string(), ADMIN_PASSWORD.to_string()],
    );
    let status: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    status["filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let n = |k: &str| f[k].as_u64().unwrap();
            (
                f["name"].as_str().unwrap().to_string(),
                (n("checked"), n("junked"), n("errors")),
            )
        })
        .collect()
}

#[test]
fn junk_filed_on_a_arrives_on_b_with_the_same_headers_and_b_filters_nothing() {
    let rspamd = daemons::rspamd();
    let clamd = daemons::clamd();
    let (fake, calls) = counting_listener();
    let filter = format!(
        "[filter]\nclamd = \"{}\"\nrspamd = \"{}\"\nrspamd_fail_open = false\n",
        clamd.address, rspamd.address
    );
    let mut pair = Pair::start_custom(|b| b, 1, &filter);
    // b's daemons are the counting listener (failing open, so that b still delivers).
    pair.b.kill();
    let text = std::fs::read_to_string(&pair.b.config).unwrap().replace(
        &filter,
        &format!("[filter]\nclamd = \"{fake}\"\nclamd_fail_open = true\nrspamd = \"{fake}\"\n"),
    );
    std::fs::write(&pair.b.config, text).unwrap();
    pair.b.start();
    pair.wait_in_sync();
    let user = "alice@example.org";
    pair.add_user(&pair.a, user);

    let spam = "From: bob@remote.test\r\nTo: alice@example.org\r\nSubject: offer\r\nMessage-ID: <offer@remote.test>\r\n\r\nBuy now TWINMAIL-SPAM-TEST\r\n";
    let reply = send(pair.a.port("smtp"), user, spam);
    assert!(reply.starts_with("250 "), "{reply}");
    pair.wait_in_sync();

    let deadline = Instant::now() + Duration::from_secs(30);
    let (on_a, on_b) = loop {
        let a = folder(pair.a.port("imaps"), user, "Junk");
        let b = folder(pair.b.port("imaps"), user, "Junk");
        if (a.len(), b.len()) == (1, 1) || Instant::now() > deadline {
            break (a, b);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!((on_a.len(), on_b.len()), (1, 1), "a: {on_a:?}\nb: {on_b:?}");
    assert!(
        on_a[0].starts_with("Return-Path: <bob@remote.test>\r\nX-Spam: Yes\r\nX-Spam-Status: Yes"),
        "{}",
        on_a[0]
    );
    assert!(
        on_a[0].contains("Authentication-Results: localhost"),
        "{}",
        on_a[0]
    );
    assert_eq!(on_a[0], on_b[0], "the twins hold different bytes");
    assert!(folder(pair.b.port("imaps"), user, "INBOX").is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 0, "b called a filter daemon");
    pair.assert_identical();
    // The counters say the same: a checked it (clamd clean, rspamd Junk), b nothing.
    let on_a = counters(pair.a.port("admin"));
    assert_eq!(on_a["clamd"], (1, 0, 0), "{on_a:?}");
    assert_eq!(on_a["rspamd"], (1, 1, 0), "{on_a:?}");
    let on_b = counters(pair.b.port("admin"));
    assert_eq!(on_b["clamd"], (0, 0, 0), "{on_b:?}");
    assert_eq!(on_b["rspamd"], (0, 0, 0), "{on_b:?}");

    // Mail received by b is b's to filter: its (counting) daemons are called.
    let ham =
        "From: bob@remote.test\r\nSubject: hi\r\nMessage-ID: <hi@remote.test>\r\n\r\nhello\r\n";
    let reply = send(pair.b.port("smtp"), user, ham);
    assert!(reply.starts_with("250 "), "{reply}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "b's clamd and rspamd each once"
    );
    let on_b = counters(pair.b.port("admin"));
    assert_eq!(on_b["clamd"], (1, 0, 1), "{on_b:?}");
    assert_eq!(on_b["rspamd"], (1, 0, 1), "{on_b:?}");
}

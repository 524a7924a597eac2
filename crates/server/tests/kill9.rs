//! HOSTILE.md DUR: the server is killed with SIGKILL while clients are delivering. Every
//! message that got a 250 must be there after restart, whole, in a sound database.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use twinmail_store::{HashCost, Store, StoreOptions};

/// Delivers messages one after another until the server goes away; returns the ids of
/// those that were answered 250.
fn deliver_until_killed(
    addr: SocketAddr,
    client: usize,
    acked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
) {
    let Ok(stream) = TcpStream::connect(addr) else {
        return;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let reply = |r: &mut BufReader<TcpStream>| -> Option<String> {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(n) if n > 0 => Some(line),
            _ => None,
        }
    };
    if reply(&mut r).is_none()
        || w.write_all(b"HELO killer\r\n").is_err()
        || reply(&mut r).is_none()
    {
        return;
    }
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let id = format!("c{client}-m{n}");
        let body = format!(
            "MAIL FROM:<k@remote.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nSubject: {id}\r\nMessage-ID: <{id}@test>\r\n\r\n{}\r\n.\r\n",
            "payload line\r\n".repeat(200)
        );
        // HELO (not EHLO): no PIPELINING, so each command waits for its reply (the
        // server drops a client that does not), then the message.
        let mut ok = true;
        for part in body.split_inclusive("\r\n").take(3) {
            if w.write_all(part.as_bytes()).is_err() {
                return;
            }
            match reply(&mut r) {
                Some(l) if l.starts_with('2') || l.starts_with("354") => {}
                _ => ok = false,
            }
        }
        let message = body.split_inclusive("\r\n").skip(3).collect::<String>();
        if w.write_all(message.as_bytes()).is_err() {
            return;
        }
        match reply(&mut r) {
            Some(l) if ok && l.starts_with("250") => acked.lock().unwrap().push(id),
            _ => return,
        }
    }
}

#[test]
fn every_message_answered_250_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::write_config(dir.path());
    common::admin(&config, &["domain", "add", "example.com"], "");
    common::admin(&config, &["user", "add", "alice@example.com"], "pw\n");
    let mut server = common::serve(&config);
    let addr = server.addrs["smtp"];
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (acked, stop) = (acked.clone(), stop.clone());
            std::thread::spawn(move || deliver_until_killed(addr, i, acked, stop))
        })
        .collect();
    // Kill the moment the 200th 250 has been read: other deliveries are in flight.
    while acked.lock().unwrap().len() < 200 {
        std::thread::sleep(Duration::from_millis(1));
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 200);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(StoreOptions {
            hash_cost: HashCost::cheap(),
            ..StoreOptions::new(dir.path().join("twinmail-data/twinmail.db"), "a")
        })
        .await
        .unwrap();
        assert_eq!(store.integrity_check().await.unwrap(), "ok");
        let alice = store.account("alice@example.com").await.unwrap().unwrap();
        let inbox = store.mailbox(alice.id, "INBOX").await.unwrap().unwrap();
        let mut present = std::collections::HashSet::new();
        for m in store.messages(inbox.id).await.unwrap() {
            let bytes = store
                .blob(&m.blob)
                .await
                .unwrap()
                .expect("every message has its bytes");
            assert_eq!(bytes.len() as u64, m.size);
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.ends_with("payload line\r\n\r\n"), "message cut short");
            let id = text
                .split("Subject: ")
                .nth(1)
                .unwrap()
                .split("\r\n")
                .next()
                .unwrap()
                .to_string();
            present.insert(id);
        }
        for id in &acked {
            assert!(present.contains(id), "{id} was answered 250 but is gone");
        }
        // At most one in-flight message per client may have committed without its 250 read.
        assert!(present.len() <= acked.len() + 4);
    });
}

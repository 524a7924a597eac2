//! Fuzzes a whole IMAP session: arbitrary client bytes after a login, over an in-memory
//! stream, against a real store holding a few messages. Plaintext login is allowed from
//! the fuzzer's loopback peer so the selected state is reachable.
#![no_main]

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use libfuzzer_sys::fuzz_target;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    runtime::Runtime,
    sync::watch,
};
use twinmail_imap::{Imap, ImapSettings};
use twinmail_store::{HashCost, Store, StoreOptions};

struct World {
    rt: Runtime,
    imap: Arc<Imap>,
    shutdown: watch::Receiver<bool>,
    _stop: watch::Sender<bool>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = std::env::temp_dir().join(format!("twinmail-fuzz-imap-{}", std::process::id()));
        let store = rt.block_on(async {
            let store = Store::open(StoreOptions {
                hash_cost: HashCost::cheap(),
                ..StoreOptions::new(dir.join("db.sqlite"), "fuzz")
            })
            .await
            .unwrap();
            let _ = store.add_domain("example.com").await;
            let _ = store.create_account("a@example.com", "pw").await;
            let bodies = [
                "Subject: one\r\nFrom: A <a@x.org>\r\n\r\nbody\r\n".to_string(),
                "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nx\r\n--q\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ny\r\n--q--\r\n".to_string(),
            ];
            for b in bodies {
                let mut d = store.delivery();
                d.add_recipient("a@example.com").await.unwrap();
                d.commit(b.into_bytes()).await.unwrap();
            }
            store
        });
        let settings = ImapSettings {
            auth_failure_delay: Duration::ZERO,
            max_auth_failures: 1000,
            max_errors: 1000,
            plaintext_auth_on_loopback: true,
            max_literal_size: 64 * 1024,
            ..Default::default()
        };
        let imap = Imap::new(settings, store, None);
        let (stop, shutdown) = watch::channel(false);
        World { rt, imap, shutdown, _stop: stop }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let mut input = b"a LOGIN a@example.com pw\r\nb EXAMINE INBOX\r\n".to_vec();
    input.extend_from_slice(data);
    w.rt.block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let peer: SocketAddr = "127.0.0.1:143".parse().unwrap();
        // Not spawned: a panic in the session must reach the fuzzer.
        let session = twinmail_imap::serve_stream(server, peer, w.imap.clone(), w.shutdown.clone());
        let (mut rd, mut wr) = tokio::io::split(&mut client);
        let writer = async move {
            let _ = wr.write_all(&input).await;
            let _ = wr.shutdown().await;
        };
        let reader = async move {
            let mut sink = Vec::new();
            let _ = rd.read_to_end(&mut sink).await;
        };
        let all = async { tokio::join!(writer, reader, session) };
        tokio::time::timeout(Duration::from_secs(10), all)
            .await
            .expect("an IMAP session hung on finite input");
    });
});

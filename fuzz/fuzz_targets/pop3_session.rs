//! Fuzzes a whole POP3 session: arbitrary client bytes in, over an in-memory stream,
//! against a real store whose INBOX holds a few messages. Plaintext logins are allowed
//! from the fuzzer's loopback peer so that the TRANSACTION state is reachable.
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
use twinmail_pop3::{Pop3, Pop3Settings};
use twinmail_store::{HashCost, Store, StoreOptions};

struct World {
    rt: Runtime,
    pop3: Arc<Pop3>,
    shutdown: watch::Receiver<bool>,
    _stop: watch::Sender<bool>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = std::env::temp_dir().join(format!("twinmail-fuzz-pop3-{}", std::process::id()));
        let store = rt.block_on(async {
            let store = Store::open(StoreOptions {
                hash_cost: HashCost::cheap(),
                ..StoreOptions::new(dir.join("db.sqlite"), "fuzz")
            })
            .await
            .unwrap();
            let _ = store.add_domain("example.com").await;
            let _ = store.create_account("a@example.com", "pw").await;
            for i in 0..3 {
                let mut d = store.delivery();
                d.add_recipient("a@example.com").await.unwrap();
                d.commit(format!("Subject: {i}\r\n\r\n.dot\r\nbody\r\n").into_bytes()).await.unwrap();
            }
            store
        });
        let settings = Pop3Settings {
            error_delay: Duration::ZERO,
            auth_failure_delay: Duration::ZERO,
            max_auth_failures: 1000,
            max_errors: 1000,
            plaintext_auth_on_loopback: true,
            ..Default::default()
        };
        let pop3 = Pop3::new(settings, store, None);
        let (stop, shutdown) = watch::channel(false);
        World { rt, pop3, shutdown, _stop: stop }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    // Log in first, so the fuzzer's bytes reach the TRANSACTION commands; no QUIT is
    // sent unless the fuzzer sends it, so the messages mostly stay.
    let mut input = b"USER a@example.com\r\nPASS pw\r\n".to_vec();
    input.extend_from_slice(data);
    w.rt.block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let peer: SocketAddr = "127.0.0.1:110".parse().unwrap();
        // Not spawned: a panic in the session must reach the fuzzer.
        let session = twinmail_pop3::serve_stream(server, peer, w.pop3.clone(), w.shutdown.clone());
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
            .expect("a POP3 session hung on finite input");
    });
});

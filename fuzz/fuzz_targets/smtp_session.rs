//! Fuzzes a whole SMTP session: arbitrary client bytes in, over an in-memory stream, into
//! a real store. The server must answer and finish without panicking or hanging.
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
use twinmail_smtp::{Kind, Pipeline, Smtp, SmtpSettings};
use twinmail_store::{HashCost, Store, StoreOptions};

struct World {
    rt: Runtime,
    smtp: Arc<Smtp>,
    shutdown: watch::Receiver<bool>,
    _stop: watch::Sender<bool>,
    _dir: std::path::PathBuf,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = std::env::temp_dir().join(format!("twinmail-fuzz-{}", std::process::id()));
        let store = rt.block_on(async {
            let store = Store::open(StoreOptions {
                hash_cost: HashCost::cheap(),
                ..StoreOptions::new(dir.join("db.sqlite"), "fuzz")
            })
            .await
            .unwrap();
            let _ = store.add_domain("example.com").await;
            let _ = store.create_account("alice@example.com", "pw").await;
            store
        });
        let mut settings = SmtpSettings::new("fuzz.example.com");
        settings.error_delay = Duration::ZERO;
        settings.auth_failure_delay = Duration::ZERO;
        settings.max_message_size = 64 * 1024;
        settings.command_timeout = Duration::from_secs(5);
        settings.data_timeout = Duration::from_secs(5);
        let smtp = Smtp::new(settings, store, None, Pipeline::default());
        let (stop, shutdown) = watch::channel(false);
        World { rt, smtp, shutdown, _stop: stop, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    w.rt.block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let peer: SocketAddr = "192.0.2.1:25".parse().unwrap();
        // Not spawned: a panic in the session must reach the fuzzer.
        let session = twinmail_smtp::serve_stream(server, peer, Kind::Mx, w.smtp.clone(), w.shutdown.clone());
        let (mut rd, mut wr) = tokio::io::split(&mut client);
        let input = data.to_vec();
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
            .expect("an SMTP session hung on finite input");
    });
});

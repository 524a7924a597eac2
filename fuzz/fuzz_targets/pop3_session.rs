//! Fuzzes a whole POP3 session after a login, against a real store whose INBOX holds a
//! few messages. Plaintext logins are allowed from the fuzzer's loopback peer so that
//! the TRANSACTION state is reachable.
#![no_main]

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use libfuzzer_sys::fuzz_target;
use tokio::{runtime::Runtime, sync::watch};
use twinmail_pop3::{Pop3, Pop3Settings};

struct World {
    rt: Runtime,
    pop3: Arc<Pop3>,
    shutdown: watch::Receiver<bool>,
    _stop: watch::Sender<bool>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = twinmail_fuzz::runtime();
        let messages = ["Subject: 0\r\n\r\n.dot\r\nbody\r\n", "Subject: 1\r\n\r\nx\r\n", "Subject: 2\r\n\r\n"];
        let store = twinmail_fuzz::store(&rt, "pop3", &messages);
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
    // Log in first so the fuzzer's bytes reach the TRANSACTION commands.
    let mut input = b"USER a@example.com\r\nPASS pw\r\n".to_vec();
    input.extend_from_slice(data);
    twinmail_fuzz::drive(&w.rt, input, |server| {
        let peer = "127.0.0.1:110".parse().expect("address");
        twinmail_pop3::serve_stream(server, peer, w.pop3.clone(), w.shutdown.clone())
    });
});

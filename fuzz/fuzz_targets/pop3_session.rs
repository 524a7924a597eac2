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

/// Every input's maildrop.
const MESSAGES: [&str; 3] = [
    "Subject: 0\r\n\r\n.dot\r\nbody\r\n",
    "Subject: 1\r\n\r\nx\r\n",
    "Subject: 2\r\n\r\n",
];

struct World {
    rt: Runtime,
    store: twinmail_store::Store,
    pop3: Arc<Pop3>,
    shutdown: watch::Receiver<bool>,
    _stop: watch::Sender<bool>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = twinmail_fuzz::runtime();
        let store = twinmail_fuzz::store(&rt, "pop3");
        let settings = Pop3Settings {
            error_delay: Duration::ZERO,
            auth_failure_delay: Duration::ZERO,
            max_auth_failures: 1000,
            max_errors: 1000,
            plaintext_auth_on_loopback: true,
            ..Default::default()
        };
        let pop3 = Pop3::new(settings, store.clone(), None);
        let (stop, shutdown) = watch::channel(false);
        World {
            rt,
            store,
            pop3,
            shutdown,
            _stop: stop,
        }
    })
}

/// The account each input logs in to (a fresh one after an input that wrote).
static ACCOUNTS: twinmail_fuzz::Accounts = twinmail_fuzz::Accounts::new(&MESSAGES);

fuzz_target!(|data: &[u8]| {
    let w = world();
    // Log in first so the fuzzer's bytes reach the TRANSACTION commands.
    let user = ACCOUNTS.next(&w.rt, &w.store);
    let mut input = format!("USER {user}\r\nPASS pw\r\n").into_bytes();
    input.extend_from_slice(data);
    twinmail_fuzz::drive(&w.rt, input, |server| {
        let peer = "127.0.0.1:110".parse().expect("address");
        twinmail_pop3::serve_stream(server, peer, w.pop3.clone(), w.shutdown.clone())
    });
});

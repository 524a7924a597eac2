//! Fuzzes a whole IMAP session after a login and EXAMINE, against a real store holding a
//! plain and a nested MIME message. Plaintext login is allowed from the fuzzer's loopback
//! peer so the selected state is reachable.
#![no_main]

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use libfuzzer_sys::fuzz_target;
use tokio::{runtime::Runtime, sync::watch};
use twinmail_imap::{Imap, ImapSettings};

/// Every input's INBOX: a plain and a nested MIME message.
const MESSAGES: [&str; 2] = [
    "Subject: one\r\nFrom: A <a@x.org>\r\n\r\nbody\r\n",
    "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nx\r\n--q\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ny\r\n--q--\r\n",
];

struct World {
    rt: Runtime,
    store: twinmail_store::Store,
    imap: Arc<Imap>,
    shutdown: watch::Receiver<bool>,
    _stop: watch::Sender<bool>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = twinmail_fuzz::runtime();
        let store = twinmail_fuzz::store(&rt, "imap");
        let settings = ImapSettings {
            auth_failure_delay: Duration::ZERO,
            max_auth_failures: 1000,
            max_errors: 1000,
            plaintext_auth_on_loopback: true,
            max_literal_size: 64 * 1024,
            ..Default::default()
        };
        let imap = Imap::new(settings, store.clone(), None);
        let (stop, shutdown) = watch::channel(false);
        World {
            rt,
            store,
            imap,
            shutdown,
            _stop: stop,
        }
    })
}

/// The account each input logs in to (a fresh one after an input that wrote).
static ACCOUNTS: twinmail_fuzz::Accounts = twinmail_fuzz::Accounts::new(&MESSAGES);

fuzz_target!(|data: &[u8]| {
    let w = world();
    let user = ACCOUNTS.next(&w.rt, &w.store);
    let mut input = format!("a LOGIN {user} pw\r\nb EXAMINE INBOX\r\n").into_bytes();
    input.extend_from_slice(data);
    twinmail_fuzz::drive(&w.rt, input, |server| {
        let peer = "127.0.0.1:143".parse().expect("address");
        twinmail_imap::serve_stream(server, peer, w.imap.clone(), w.shutdown.clone())
    });
});

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

struct World {
    rt: Runtime,
    imap: Arc<Imap>,
    shutdown: watch::Receiver<bool>,
    _stop: watch::Sender<bool>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = twinmail_fuzz::runtime();
        let messages = [
            "Subject: one\r\nFrom: A <a@x.org>\r\n\r\nbody\r\n",
            "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nx\r\n--q\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ny\r\n--q--\r\n",
        ];
        let store = twinmail_fuzz::store(&rt, "imap", &messages);
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
    twinmail_fuzz::drive(&w.rt, input, |server| {
        let peer = "127.0.0.1:143".parse().expect("address");
        twinmail_imap::serve_stream(server, peer, w.imap.clone(), w.shutdown.clone())
    });
});

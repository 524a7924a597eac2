//! Fuzzes a whole ManageSieve session after a login, against a real store, and the
//! command parser on its own. Plaintext logins are allowed from the fuzzer's loopback
//! peer so that the authenticated commands are reachable.
#![no_main]

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use libfuzzer_sys::fuzz_target;
use tokio::{runtime::Runtime, sync::watch};
use twinmail_managesieve::{ManageSieve, ManageSieveSettings};

struct World {
    rt: Runtime,
    store: twinmail_store::Store,
    sieve: Arc<ManageSieve>,
    shutdown: watch::Receiver<bool>,
    _stop: watch::Sender<bool>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = twinmail_fuzz::runtime();
        let store = twinmail_fuzz::store(&rt, "managesieve");
        let settings = ManageSieveSettings {
            error_delay: Duration::ZERO,
            auth_failure_delay: Duration::ZERO,
            max_auth_failures: 1000,
            max_errors: 1000,
            plaintext_auth_on_loopback: true,
            ..Default::default()
        };
        let sieve = ManageSieve::new(settings, store.clone(), None);
        let (stop, shutdown) = watch::channel(false);
        World {
            rt,
            store,
            sieve,
            shutdown,
            _stop: stop,
        }
    })
}

/// The account each input logs in to (a fresh one after an input that wrote).
static ACCOUNTS: twinmail_fuzz::Accounts = twinmail_fuzz::Accounts::new(&[]);

fuzz_target!(|data: &[u8]| {
    // The parser alone: any input, never a panic.
    let _ = twinmail_managesieve::parse::parse_command(data);
    let w = world();
    // Log in first so the fuzzer's bytes reach the script commands.
    let user = ACCOUNTS.next(&w.rt, &w.store);
    let plain = format!("\0{user}\0pw");
    let mut input = format!(
        "AUTHENTICATE \"PLAIN\" \"{}\"\r\n",
        base64_encode(plain.as_bytes())
    )
    .into_bytes();
    input.extend_from_slice(data);
    twinmail_fuzz::drive(&w.rt, input, |server| {
        let peer = "127.0.0.1:4190".parse().expect("address");
        twinmail_managesieve::serve_stream(server, peer, w.sieve.clone(), w.shutdown.clone())
    });
});

/// Standard base64 (the fuzz crate has no base64 dependency; this is all it needs).
fn base64_encode(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

//! Fuzzes a whole SMTP session: arbitrary client bytes in, into a real store. The
//! server must answer and finish without panicking or hanging.
#![no_main]

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use libfuzzer_sys::fuzz_target;
use tokio::{runtime::Runtime, sync::watch};
use twinmail_smtp::{Kind, Pipeline, Smtp, SmtpSettings};

struct World {
    rt: Runtime,
    smtp: Arc<Smtp>,
    shutdown: watch::Receiver<bool>,
    _stop: watch::Sender<bool>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = twinmail_fuzz::runtime();
        let store = twinmail_fuzz::store(&rt, "smtp");
        let mut settings = SmtpSettings::new("fuzz.example.com");
        settings.error_delay = Duration::ZERO;
        settings.auth_failure_delay = Duration::ZERO;
        settings.max_message_size = 64 * 1024;
        // The whole input arrives at once: with sync enforced, every input would end at
        // the greeting as an early talker.
        settings.enforce_sync = false;
        let smtp = Smtp::new(settings, store, None, Pipeline::default());
        let (stop, shutdown) = watch::channel(false);
        World {
            rt,
            smtp,
            shutdown,
            _stop: stop,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    twinmail_fuzz::drive(&w.rt, data.to_vec(), |server| {
        let peer = "192.0.2.1:25".parse().expect("address");
        twinmail_smtp::serve_stream(server, peer, Kind::Mx, w.smtp.clone(), w.shutdown.clone())
    });
});

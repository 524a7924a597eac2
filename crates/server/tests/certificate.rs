//! The certificate twinmail generates when none is configured: valid for a year, made
//! afresh by a start within 30 days of its expiry (and only then), and shown as
//! "self-signed (generated)".

mod common;

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

/// `twinmail status` once the running server has written its status down.
fn status(config: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new(env!("CARGO_BIN_EXE_twinmail"))
            .arg("--config")
            .arg(config)
            .arg("status")
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.contains("TLS certificate expires") {
            return out;
        }
        assert!(Instant::now() < deadline, "no certificate line:\n{out}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_certificate_near_its_expiry_is_renewed_at_start_for_a_year() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::write_config(dir.path());
    // A generated certificate with ten days left, as a year-old twin has.
    let tls = dir.path().join("twinmail-data/tls");
    std::fs::create_dir_all(&tls).unwrap();
    let soon = chrono::Utc::now() + chrono::Duration::days(10);
    let mut params = rcgen::CertificateParams::new(vec!["mx.example.com".into()]).unwrap();
    use chrono::Datelike;
    params.not_after = rcgen::date_time_ymd(soon.year(), soon.month() as u8, soon.day() as u8);
    let key = rcgen::KeyPair::generate().unwrap();
    let old = params.self_signed(&key).unwrap().pem();
    std::fs::write(tls.join("cert.pem"), &old).unwrap();
    std::fs::write(tls.join("key.pem"), key.serialize_pem()).unwrap();

    let mut server = common::serve(&config);
    let out = status(&config);
    let _ = server.child.kill();
    let _ = server.child.wait();
    let renewed = std::fs::read_to_string(tls.join("cert.pem")).unwrap();
    assert_ne!(renewed, old, "the certificate was not renewed");
    // "expires 2027-12-03 00:00:00 UTC, in 364 d 16 h (self-signed, generated)"
    let line = out
        .lines()
        .find(|l| l.starts_with("TLS certificate expires"))
        .unwrap();
    assert!(line.contains(" UTC, in 364 d "), "{line}");
    assert!(line.ends_with("(self-signed, generated)"), "{line}");

    // A year left: the next start keeps it.
    let mut server = common::serve(&config);
    let _ = server.child.kill();
    let _ = server.child.wait();
    assert_eq!(
        std::fs::read_to_string(tls.join("cert.pem")).unwrap(),
        renewed
    );
}

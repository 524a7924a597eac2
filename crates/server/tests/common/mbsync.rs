//! mbsync, the real client of the failover tests, on a twin pair (the client itself is
//! twinmail_testkit's, shared with the IMAP tests).

use super::pair::{PASSWORD, Pair};

/// Writes an mbsyncrc for `user` on a twin's IMAPS `port`; the local side is a Maildir in
/// `dir`, kept across runs (the same channel pointed at another twin).
pub fn config(
    dir: &std::path::Path,
    ca: &std::path::Path,
    port: u16,
    user: &str,
) -> std::path::PathBuf {
    twinmail_testkit::mbsync_config(dir, ca, port, user, PASSWORD)
}

/// Runs mbsync; returns what went over the wire according to its protocol trace:
/// (bodies downloaded, messages uploaded, flag changes sent).
pub fn run(rc: &std::path::Path) -> (usize, usize, usize) {
    twinmail_testkit::mbsync(rc).0
}

/// One CA file that trusts both twins' self-signed certificates.
pub fn ca(pair: &Pair) -> std::path::PathBuf {
    let ca = pair.dir.path().join("ca.pem");
    let mut pem = String::new();
    for id in ["a", "b"] {
        pem += &std::fs::read_to_string(pair.dir.path().join(format!("{id}-data/tls/cert.pem")))
            .unwrap();
    }
    std::fs::write(&ca, pem).unwrap();
    ca
}

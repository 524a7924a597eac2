//! mbsync, the real client of the failover tests: a config for one account on one twin,
//! and a run that reports what went over the wire.

use super::pair::PASSWORD;

/// Writes an mbsyncrc for `user` on a twin's IMAPS `port`; the local side is a Maildir in
/// `dir`, kept across runs (the same channel pointed at another twin).
pub fn config(
    dir: &std::path::Path,
    ca: &std::path::Path,
    port: u16,
    user: &str,
) -> std::path::PathBuf {
    let rc = dir.join("mbsyncrc");
    let mail = dir.join("mail");
    std::fs::create_dir_all(&mail).unwrap();
    std::fs::write(
        &rc,
        format!(
            "IMAPAccount test\nHost localhost\nPort {port}\nUser {user}\nPass {PASSWORD}\nSSLType IMAPS\nCertificateFile {}\n\n\
             IMAPStore remote\nAccount test\n\n\
             MaildirStore local\nPath {}/\nInbox {}/INBOX\nSubFolders Verbatim\n\n\
             Channel test\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\nSync All\n",
            ca.display(),
            mail.display(),
            mail.display()
        ),
    )
    .unwrap();
    rc
}

/// Runs mbsync; returns what went over the wire according to its protocol trace:
/// (bodies downloaded, messages uploaded, flag changes sent).
pub fn run(rc: &std::path::Path) -> (usize, usize, usize) {
    run_traced(rc).0
}

/// Runs mbsync; returns what went over the wire and everything it printed.
pub fn run_traced(rc: &std::path::Path) -> ((usize, usize, usize), String) {
    let out = std::process::Command::new("mbsync")
        .arg("-c")
        .arg(rc)
        .arg("-a")
        .arg("-Dn")
        .output()
        .expect("mbsync runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "mbsync failed:\n{text}");
    let sent: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(">>> ").map(|(_, c)| c))
        .collect();
    let count = |what: &str| sent.iter().filter(|c| c.contains(what)).count();
    (
        (count("BODY.PEEK[]"), count("APPEND"), count("STORE")),
        text,
    )
}

/// One CA file that trusts both twins' self-signed certificates.
pub fn ca(pair: &super::pair::Pair) -> std::path::PathBuf {
    let ca = pair.dir.path().join("ca.pem");
    let mut pem = String::new();
    for id in ["a", "b"] {
        pem += &std::fs::read_to_string(pair.dir.path().join(format!("{id}-data/tls/cert.pem")))
            .unwrap();
    }
    std::fs::write(&ca, pem).unwrap();
    ca
}

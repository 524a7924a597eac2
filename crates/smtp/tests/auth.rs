//! HOSTILE.md AUTH and ENUM: authzid impersonation, brute force with growing delays that
//! never lock out the real user, and replies that do not tell who exists.

mod common;

use std::time::{Duration, Instant};

use common::{ALICE, BOB, Client, start, start_with};

async fn logged_out() -> (common::Server, Client) {
    let srv = start().await;
    let (mut c, _) = Client::connect_tls(&srv, srv.submissions).await;
    c.cmd("EHLO laptop").await;
    (srv, c)
}

#[tokio::test]
async fn authzid_must_be_the_user() {
    let (_srv, mut c) = logged_out().await;
    // Bob, with his own password, asks to act as alice.
    assert_eq!(
        c.auth_plain(ALICE.0, BOB.0, BOB.1).await,
        "535 5.7.8 Authentication credentials invalid"
    );
    // Naming himself is fine.
    assert_eq!(
        c.auth_plain(BOB.0, BOB.0, BOB.1).await,
        "235 2.7.0 Authentication successful"
    );
    assert_eq!(
        c.auth_plain("", BOB.0, BOB.1).await,
        "503 5.5.1 Already authenticated"
    );
}

#[tokio::test]
async fn auth_login_dialogue_and_cancel() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let (_srv, mut c) = logged_out().await;
    assert_eq!(c.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd("*").await, "501 5.0.0 Authentication cancelled");
    assert_eq!(c.cmd("AUTH PLAIN").await, "334 ");
    assert_eq!(
        c.cmd("!!!not base64").await,
        "501 5.5.2 Cannot decode response"
    );
    assert_eq!(
        c.cmd(&format!("AUTH LOGIN {}", b64(ALICE.0))).await,
        "334 UGFzc3dvcmQ6"
    );
    assert_eq!(
        c.cmd(&b64(ALICE.1)).await,
        "235 2.7.0 Authentication successful"
    );
}

#[tokio::test]
async fn brute_force_is_slowed_and_cut_off_but_the_user_still_gets_in() {
    let unit = Duration::from_millis(40);
    let srv = start_with(|s| s.auth_failure_delay = unit).await;
    let (mut c, _) = Client::connect_tls(&srv, srv.submissions).await;
    c.cmd("EHLO attacker").await;
    let mut took = Vec::new();
    for guess in ["123456", "password", "qwerty"] {
        let t = Instant::now();
        assert_eq!(
            c.auth_plain("", ALICE.0, guess).await,
            "535 5.7.8 Authentication credentials invalid"
        );
        took.push(t.elapsed());
    }
    // Each failure from this IP makes the next guess wait longer, before its password
    // is even checked.
    assert!(took[1] >= unit && took[2] >= unit * 2, "{took:?}");
    assert_eq!(
        c.reply().await,
        "421 4.7.0 Too many authentication failures"
    );
    assert!(c.closed().await);
    // The real user, from the same address, waits out the delay and is let in.
    let (mut c, _) = Client::connect_tls(&srv, srv.submissions).await;
    c.cmd("EHLO laptop").await;
    assert_eq!(
        c.auth_plain("", ALICE.0, ALICE.1).await,
        "235 2.7.0 Authentication successful"
    );
}

/// Guesses from many connections of one address at once: at most 4 wait for a password
/// check (after the delay earned so far), the others hear 454 at once instead of
/// queueing for the hash slots every login shares.
#[tokio::test]
async fn parallel_guesses_from_one_address_get_454_past_a_bounded_queue() {
    let unit = Duration::from_millis(300);
    let srv = start_with(|s| s.auth_failure_delay = unit).await;
    let (mut c, _) = Client::connect_tls(&srv, srv.submissions).await;
    c.cmd("EHLO attacker").await;
    assert_eq!(
        c.auth_plain("", ALICE.0, "first guess").await,
        "535 5.7.8 Authentication credentials invalid"
    );
    let mut clients = Vec::new();
    for _ in 0..10 {
        let (mut c, _) = Client::connect_tls(&srv, srv.submissions).await;
        c.cmd("EHLO attacker").await;
        clients.push(c);
    }
    let guesses = clients.into_iter().map(|mut c| {
        tokio::spawn(async move {
            let t = Instant::now();
            let reply = c.auth_plain("", ALICE.0, "another guess").await;
            (reply, t.elapsed())
        })
    });
    let mut busy = 0;
    for g in guesses.collect::<Vec<_>>() {
        let (reply, took) = g.await.unwrap();
        if reply.starts_with("454 4.7.0") {
            busy += 1;
            assert!(took < unit, "a 454 waited {took:?}");
        } else {
            assert_eq!(reply, "535 5.7.8 Authentication credentials invalid");
            assert!(
                took >= unit,
                "a guess was checked before the delay: {took:?}"
            );
        }
    }
    assert_eq!(busy, 6, "10 parallel guesses, 4 may wait");
}

#[tokio::test]
async fn replies_do_not_reveal_who_exists() {
    let (_srv, mut c) = logged_out().await;
    for cmd in ["VRFY", "EXPN"] {
        let known = c.cmd(&format!("{cmd} alice@example.com")).await;
        let unknown = c.cmd(&format!("{cmd} nobody@example.com")).await;
        assert_eq!(known, unknown);
        assert!(known.starts_with("252 2.5.0"), "{known}");
    }
    let (srv, mut c) = logged_out().await;
    let known = c.auth_plain("", ALICE.0, "wrong").await;
    let unknown = c.auth_plain("", "nobody@example.com", "wrong").await;
    assert_eq!(known, unknown);
    drop(srv);
}

#[tokio::test]
async fn auth_inside_a_mail_transaction_is_503() {
    let srv = start().await;
    // On the MX port, where AUTH is not offered at all, and on submission.
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO client").await;
    assert_eq!(c.cmd("MAIL FROM:<a@remote.org>").await, "250 2.1.0 Ok");
    assert_eq!(
        c.auth_plain("", ALICE.0, ALICE.1).await,
        "503 5.5.1 AUTH not allowed during a mail transaction"
    );
    let (mut c, _) = Client::connect_tls(&srv, srv.submissions).await;
    c.cmd("EHLO laptop").await;
    c.auth_plain("", ALICE.0, ALICE.1).await;
    assert_eq!(c.cmd("MAIL FROM:<alice@example.com>").await, "250 2.1.0 Ok");
    assert_eq!(
        c.cmd("AUTH LOGIN").await,
        "503 5.5.1 AUTH not allowed during a mail transaction"
    );
    assert_eq!(c.cmd("RCPT TO:<bob@example.com>").await, "250 2.1.5 Ok");
}

/// Where the server's log lines go in the test below.
struct Log(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn failed_user_names_are_logged_as_a_hash_and_client_text_escaped() {
    let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || Log(writer.clone()))
        .finish();
    // Global: a thread-local subscriber misses callsites other tests reached first.
    // The other tests of this file then log here too, which does not disturb them.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let srv = start().await;
    let (mut c, _) = Client::connect_tls(&srv, srv.submissions).await;
    c.cmd("EHLO laptop").await;
    // A password typed into the user name box, with a terminal escape for good measure.
    let typo = "correct-horse-battery\x1b[2J\x01";
    assert_eq!(
        c.auth_plain("", typo, "x").await,
        "535 5.7.8 Authentication credentials invalid"
    );
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO client").await;
    assert_eq!(
        c.cmd("MAIL FROM:<\"ev\x01il\x0b\x1b[31m\"\x7f\u{9b}@remote.org>")
            .await,
        "250 2.1.0 Ok"
    );
    c.cmd("RCPT TO:<alice@example.com>").await;
    c.cmd("DATA").await;
    c.send(common::message("log", "x").as_bytes()).await;
    assert!(c.cmd(".").await.starts_with("250 2.0.0 Ok"));
    let log = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    assert!(log.contains("authentication failed"), "{log}");
    assert!(!log.contains("correct-horse"), "{log}");
    assert!(log.contains("user_hash="), "{log}");
    assert!(
        log.contains(r"from=ev\x01il\x0b\x1b[31m\x7f\u{9b}@remote.org"),
        "{log}"
    );
    assert!(
        !log.chars().any(|c| c.is_control() && c != '\n'),
        "a control byte reached the log: {log:?}"
    );
}

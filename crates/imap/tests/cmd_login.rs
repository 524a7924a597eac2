//! LOGIN (RFC 3501 §6.2.3): under TLS (or plaintext on loopback when configured), with
//! atoms, quoted strings or literals; NO for wrong credentials; BAD once logged in; BYE
//! after too many failures; LOGINDISABLED refusal in plaintext.

mod common;

use common::{ALICE, BOB, Client, start, start_with};

const CAPS: &str = "IMAP4REV1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT CONDSTORE QRESYNC LIST-EXTENDED STATUS=SIZE QUOTA QUOTA=RES-STORAGE BINARY METADATA COMPRESS=DEFLATE MULTIAPPEND WITHIN CATENATE URLAUTH NOTIFY URL-PARTIAL CONTEXT=SEARCH CONTEXT=SORT PARTIAL CHILDREN SPECIAL-USE LIST-STATUS ESEARCH SEARCHRES UTF8=ACCEPT SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES THREAD=REFS PREVIEW I18NLEVEL=1 SAVEDATE ACL RIGHTS=texk";

fn logged_in() -> [String; 1] {
    [format!("A OK [CAPABILITY {CAPS}] Logged in")]
}

#[tokio::test]
async fn login_forms() {
    let srv = start().await;
    // Atoms.
    let mut c = Client::connect_tls(&srv).await;
    assert_eq!(c.cmd("SELECT INBOX").await, ["A BAD Log in first"]);
    assert_eq!(
        c.cmd("LOGIN alice@example.com alice-password").await,
        logged_in()
    );
    assert_eq!(
        c.cmd("SELECT INBOX").await.last().unwrap(),
        "A OK [READ-WRITE] SELECT completed"
    );
    // Quoted strings.
    let mut c = Client::connect_tls(&srv).await;
    assert_eq!(
        c.cmd("LOGIN \"bob@example.com\" \"bob-password\"").await,
        logged_in()
    );
    // Non-synchronising literals (LITERAL+).
    let mut c = Client::connect_tls(&srv).await;
    assert_eq!(
        c.cmd(&format!(
            "LOGIN {{{}+}}\r\n{} {{{}+}}\r\n{}",
            ALICE.0.len(),
            ALICE.0,
            ALICE.1.len(),
            ALICE.1
        ))
        .await,
        logged_in()
    );
    // Synchronising literals: the server asks for each.
    let mut c = Client::connect_tls(&srv).await;
    c.0.send_line(&format!("A LOGIN {{{}}}", BOB.0.len())).await;
    assert!(c.line().await.starts_with("+ "));
    c.0.send_line(&format!("{} {{{}}}", BOB.0, BOB.1.len()))
        .await;
    assert!(c.line().await.starts_with("+ "));
    c.0.send_line(BOB.1).await;
    assert_eq!(c.until_tagged().await, logged_in());
    assert_eq!(
        c.cmd("LOGIN bob@example.com bob-password").await,
        ["A BAD Already authenticated"]
    );
}

#[tokio::test]
async fn wrong_credentials_and_too_many_failures() {
    let srv = start().await;
    let mut c = Client::connect_tls(&srv).await;
    assert_eq!(
        c.cmd("LOGIN alice@example.com wrong").await,
        ["A NO Authentication failed"]
    );
    assert_eq!(
        c.cmd("LOGIN nobody@example.com alice-password").await,
        ["A NO Authentication failed"]
    );
    assert_eq!(c.cmd("SELECT INBOX").await, ["A BAD Log in first"]);
    // The third failure (max_auth_failures) ends the session.
    assert_eq!(
        c.cmd("LOGIN alice@example.com wrong").await,
        [
            "* BYE Too many authentication failures",
            "A NO Authentication failed"
        ]
    );
    assert!(c.0.closed().await);
}

#[tokio::test]
async fn plaintext_is_refused_unless_allowed_on_loopback() {
    let srv = start().await;
    let mut c = Client::connect(&srv).await;
    assert_eq!(
        c.cmd("LOGIN alice@example.com alice-password").await,
        ["A NO Plaintext authentication disallowed without TLS (use STARTTLS)"]
    );
    assert_eq!(c.cmd("SELECT INBOX").await, ["A BAD Log in first"]);

    let srv = start_with(|s| s.plaintext_auth_on_loopback = true).await;
    let mut c = Client::connect(&srv).await;
    // Logged in, the capabilities still lack AUTH= (none is offered once logged in).
    assert_eq!(
        c.cmd("LOGIN alice@example.com alice-password").await,
        logged_in()
    );
}

#[tokio::test]
async fn missing_arguments_are_a_syntax_error() {
    let srv = start().await;
    let mut c = Client::connect_tls(&srv).await;
    for cmd in ["A LOGIN", "A LOGIN alice@example.com"] {
        c.0.send_line(cmd).await;
        assert_eq!(c.line().await, "A BAD Malformed command", "{cmd}");
    }
    assert_eq!(
        c.cmd("LOGIN alice@example.com alice-password").await,
        logged_in()
    );
}

/// Guesses from many connections of one address at once, with LOGIN and AUTHENTICATE:
/// at most 4 wait for a password check (after the delay the address's failures earned,
/// before any hashing), the others hear NO [UNAVAILABLE] at once instead of queueing for
/// the hash slots every login shares. The real user then still gets in.
#[tokio::test]
async fn parallel_guesses_from_one_address_get_unavailable_past_a_bounded_queue() {
    use std::time::{Duration, Instant};
    let unit = Duration::from_millis(300);
    let srv = start_with(|s| s.auth_failure_delay = unit).await;
    let mut c = Client::connect_tls(&srv).await;
    assert_eq!(
        c.cmd("LOGIN alice@example.com first-guess").await,
        ["A NO Authentication failed"]
    );
    let mut clients = Vec::new();
    for _ in 0..10 {
        clients.push(Client::connect_tls(&srv).await);
    }
    let guesses = clients.into_iter().enumerate().map(|(i, mut c)| {
        tokio::spawn(async move {
            let command = if i % 2 == 0 {
                "LOGIN alice@example.com another-guess".to_string()
            } else {
                let ir = twinmail_testkit::plain("", ALICE.0, "another-guess");
                format!("AUTHENTICATE PLAIN {ir}")
            };
            let t = Instant::now();
            let reply = c.cmd(&command).await;
            (reply, t.elapsed())
        })
    });
    let mut busy = 0;
    for g in guesses.collect::<Vec<_>>() {
        let (reply, took) = g.await.unwrap();
        if reply == ["A NO [UNAVAILABLE] Too many logins at once, try again later"] {
            busy += 1;
            assert!(took < unit, "an UNAVAILABLE waited {took:?}");
        } else {
            assert_eq!(reply, ["A NO Authentication failed"]);
            assert!(
                took >= unit,
                "a guess was checked before the delay: {took:?}"
            );
        }
    }
    assert_eq!(busy, 6, "10 parallel guesses, 4 may wait");
    // The real user, from the same address, waits out the delay and is let in.
    let mut c = Client::connect_tls(&srv).await;
    assert_eq!(
        c.cmd("LOGIN alice@example.com alice-password").await,
        logged_in()
    );
}

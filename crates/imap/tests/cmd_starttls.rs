//! STARTTLS (RFC 3501 §6.2.1): only before login and only in plaintext; after the OK the
//! client handshakes, no second greeting comes, and the capabilities change.

mod common;

use common::{ALICE, Client, start, start_with};

#[tokio::test]
async fn starttls_then_login() {
    let srv = start().await;
    let mut c = Client::connect(&srv).await;
    assert_eq!(c.cmd("STARTTLS").await, ["A OK Begin TLS negotiation now"]);
    // `starttls` checks that the server sent nothing after the OK.
    let mut c = Client(c.0.starttls(&srv.tls).await);
    let caps = c.cmd("CAPABILITY").await;
    assert!(
        caps[0].contains(" AUTH=PLAIN ")
            && !caps[0].contains("STARTTLS")
            && !caps[0].contains("LOGINDISABLED"),
        "{caps:?}"
    );
    // A second STARTTLS on the now encrypted connection.
    assert_eq!(
        c.cmd("STARTTLS").await,
        ["A BAD TLS is already active or not available"]
    );
    let r = c.cmd(&format!("LOGIN {} {}", ALICE.0, ALICE.1)).await;
    assert!(r[0].starts_with("A OK [CAPABILITY "), "{r:?}");
    assert_eq!(c.cmd("STARTTLS").await, ["A BAD Already authenticated"]);
}

#[tokio::test]
async fn starttls_on_implicit_tls_is_refused() {
    let srv = start().await;
    let mut c = Client::connect_tls(&srv).await;
    assert_eq!(
        c.cmd("STARTTLS").await,
        ["A BAD TLS is already active or not available"]
    );
    // The session goes on.
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

#[tokio::test]
async fn starttls_after_plaintext_login_is_refused() {
    let srv = start_with(|s| s.plaintext_auth_on_loopback = true).await;
    let mut c = Client::connect(&srv).await;
    let r = c.cmd(&format!("LOGIN {} {}", ALICE.0, ALICE.1)).await;
    assert!(r[0].starts_with("A OK [CAPABILITY "), "{r:?}");
    assert_eq!(c.cmd("STARTTLS").await, ["A BAD Already authenticated"]);
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

#[tokio::test]
async fn starttls_with_arguments_is_a_syntax_error() {
    let srv = start().await;
    let mut c = Client::connect(&srv).await;
    c.0.send_line("A STARTTLS now").await;
    assert_eq!(c.line().await, "A BAD Malformed command");
    // Still plaintext, still able to upgrade.
    assert_eq!(c.cmd("STARTTLS").await, ["A OK Begin TLS negotiation now"]);
    let mut c = Client(c.0.starttls(&srv.tls).await);
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

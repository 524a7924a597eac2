//! HOSTILE.md STLS: bytes pipelined after STARTTLS are discarded, all pre-TLS state is
//! forgotten, no AUTH in plaintext, no STARTTLS on the implicit-TLS port.

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn bytes_pipelined_after_starttls_are_discarded() {
    let srv = start().await;
    let (mut c, _) = Client::connect(srv.mx).await;
    assert!(c.cmd("EHLO client").await.contains("STARTTLS"));
    // The injected MAIL arrives with STARTTLS, in plaintext, in the same packet.
    c.send(b"STARTTLS\r\nMAIL FROM:<injected@remote.org>\r\n")
        .await;
    assert_eq!(c.reply().await, "220 2.0.0 Ready to start TLS");
    let mut c = c.starttls(&srv).await;
    let ehlo = c.cmd("EHLO client").await;
    assert!(ehlo.starts_with("250-mx.example.com"), "{ehlo}");
    assert!(!ehlo.contains("STARTTLS"), "STARTTLS offered twice: {ehlo}");
    // Had the injected MAIL run, this RCPT would be accepted.
    assert_eq!(
        c.cmd("RCPT TO:<alice@example.com>").await,
        "503 5.5.1 Need MAIL before RCPT"
    );
    assert_eq!(c.cmd("STARTTLS").await, "503 5.5.1 TLS already active");
}

#[tokio::test]
async fn state_from_before_tls_is_forgotten() {
    let srv = start().await;
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO client").await;
    assert_eq!(c.cmd("MAIL FROM:<a@remote.org>").await, "250 2.1.0 Ok");
    assert_eq!(c.cmd("STARTTLS").await, "220 2.0.0 Ready to start TLS");
    let mut c = c.starttls(&srv).await;
    // Not even the greeting survives: EHLO is needed again.
    assert_eq!(
        c.cmd("MAIL FROM:<a@remote.org>").await,
        "503 5.5.1 Send HELO/EHLO first"
    );
    c.cmd("EHLO client").await;
    assert_eq!(
        c.cmd("RCPT TO:<alice@example.com>").await,
        "503 5.5.1 Need MAIL before RCPT"
    );
}

#[tokio::test]
async fn no_authentication_in_plaintext() {
    let srv = start().await;
    let (mut c, _) = Client::connect(srv.submission).await;
    let ehlo = c.cmd("EHLO laptop").await;
    assert!(!ehlo.contains("AUTH"), "AUTH offered before TLS: {ehlo}");
    assert!(
        c.auth_plain("", ALICE.0, ALICE.1)
            .await
            .starts_with("538 5.7.11")
    );
    assert_eq!(c.cmd("AUTH LOGIN").await.get(..3), Some("538"));
    assert_eq!(
        c.cmd("MAIL FROM:<alice@example.com>").await,
        "530 5.7.0 Authentication required"
    );
    assert_eq!(c.cmd("STARTTLS").await, "220 2.0.0 Ready to start TLS");
    let mut c = c.starttls(&srv).await;
    assert!(c.cmd("EHLO laptop").await.contains("AUTH PLAIN LOGIN"));
    assert_eq!(
        c.auth_plain("", ALICE.0, ALICE.1).await,
        "235 2.7.0 Authentication successful"
    );
}

#[tokio::test]
async fn no_auth_on_mx_and_no_starttls_on_implicit_tls() {
    let srv = start().await;
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO client").await;
    c.cmd("STARTTLS").await;
    let mut c = c.starttls(&srv).await;
    assert!(!c.cmd("EHLO client").await.contains("AUTH"));
    assert!(
        c.auth_plain("", ALICE.0, ALICE.1)
            .await
            .starts_with("502 5.5.1")
    );

    let (mut c, greeting) = Client::connect_tls(&srv, srv.submissions).await;
    assert_eq!(greeting, "220 mx.example.com ESMTP twinmail");
    let ehlo = c.cmd("EHLO phone").await;
    assert!(
        !ehlo.contains("STARTTLS") && ehlo.contains("AUTH PLAIN LOGIN"),
        "{ehlo}"
    );
    assert_eq!(c.cmd("STARTTLS").await, "503 5.5.1 TLS already active");
}

//! HOSTILE.md RELAY: nothing for a foreign domain is accepted, whatever the address trick.

mod common;

use common::{ALICE, BOB, Client, start, start_with};

#[tokio::test]
async fn foreign_domains_and_address_tricks_are_refused() {
    let srv = start().await;
    // Even with a catch-all, which would otherwise take any local part.
    srv.store.add_alias("@example.com", ALICE.0).await.unwrap();
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO relay-tester").await;
    assert_eq!(
        c.cmd("MAIL FROM:<spammer@remote.org>").await,
        "250 2.1.0 Ok"
    );
    for (rcpt, expected) in [
        ("<victim@gmail.com>", "554 5.7.1 Relay access denied"),
        (
            "<victim@example.com.evil.org>",
            "554 5.7.1 Relay access denied",
        ),
        ("<victim%gmail.com@example.com>", "553 5.1.3"),
        ("<gmail.com!victim@example.com>", "553 5.1.3"),
        ("<\"victim@gmail.com\"@example.com>", "553 5.1.3"),
        ("<victim@gmail.com@example.com>", "5"),
        ("<@example.com:victim@gmail.com>", "5"),
        ("<victim>", "5"),
    ] {
        let reply = c.cmd(&format!("RCPT TO:{rcpt}")).await;
        assert!(
            reply.starts_with(expected),
            "{rcpt} got {reply:?}, wanted {expected:?}"
        );
    }
    // Nothing was accepted, so there is nothing to send.
    assert_eq!(c.cmd("DATA").await.get(..3), Some("554"));
}

#[tokio::test]
async fn authenticated_users_cannot_relay_either_and_only_send_as_themselves() {
    let srv = start().await;
    let (mut c, _) = Client::connect_tls(&srv, srv.submissions).await;
    c.cmd("EHLO laptop").await;
    assert_eq!(
        c.auth_plain("", ALICE.0, ALICE.1).await,
        "235 2.7.0 Authentication successful"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<bob@example.com>").await,
        "553 5.7.1 Sender address not owned by the authenticated user"
    );
    assert_eq!(c.cmd("MAIL FROM:<>").await.get(..3), Some("553"));
    // An alias of alice's is hers to send from.
    assert_eq!(c.cmd("MAIL FROM:<sales@example.com>").await, "250 2.1.0 Ok");
    assert!(
        c.cmd("RCPT TO:<friend@gmail.com>")
            .await
            .starts_with("554 5.7.1")
    );
    assert_eq!(c.cmd("RCPT TO:<bob@example.com>").await, "250 2.1.5 Ok");
}

/// With the outbound queue on, only a logged-in user on submission reaches it, from an
/// address of theirs, and no address trick routes through it.
#[tokio::test]
async fn with_outbound_on_only_logged_in_submission_reaches_the_queue() {
    let srv = start_with(|s| s.outbound = true).await;
    // Port 25, even with a catch-all: still no relay.
    srv.store.add_alias("@example.com", ALICE.0).await.unwrap();
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO relay-tester").await;
    c.cmd("MAIL FROM:<alice@example.com>").await;
    assert_eq!(
        c.cmd("RCPT TO:<victim@gmail.com>").await,
        "554 5.7.1 Relay access denied"
    );
    // Submission without a login: no transaction at all.
    let (mut c, _) = Client::connect_tls(&srv, srv.submissions).await;
    c.cmd("EHLO laptop").await;
    assert!(
        c.cmd("MAIL FROM:<alice@example.com>")
            .await
            .starts_with("530")
    );
    assert_eq!(
        c.auth_plain("", ALICE.0, ALICE.1).await,
        "235 2.7.0 Authentication successful"
    );
    assert!(
        c.cmd("MAIL FROM:<bob@example.com>")
            .await
            .starts_with("553 5.7.1")
    );
    assert_eq!(c.cmd("MAIL FROM:<alice@example.com>").await, "250 2.1.0 Ok");
    for trick in [
        "<victim%gmail.com@example.com>",
        "<gmail.com!victim@example.com>",
        "<\"victim@gmail.com\"@example.com>",
    ] {
        let reply = c.cmd(&format!("RCPT TO:{trick}")).await;
        assert!(reply.starts_with('5'), "{trick}: {reply}");
    }
    // (A source route, `<@example.com:victim@gmail.com>`, is ignored as RFC 5321
    // §4.1.1.3 says: to a logged-in user it names victim@gmail.com, where they may send
    // anyway; on port 25 it is refused like any foreign address, above.)
    assert_eq!(c.cmd("RCPT TO:<friend@gmail.com>").await, "250 2.1.5 Ok");
    assert_eq!(c.cmd("RCPT TO:<bob@example.com>").await, "250 2.1.5 Ok");
    assert_eq!(c.cmd("DATA").await.get(..3), Some("354"));
    let reply = c
        .cmd("Subject: out\r\nMessage-ID: <1@example.com>\r\n\r\nhello\r\n.")
        .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    // One queued message for the foreign recipient; bob has his copy already.
    let queue = srv.store.queue_list().await.unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(
        queue[0].pending().collect::<Vec<_>>(),
        vec!["friend@gmail.com"]
    );
    assert_eq!(srv.inbox(BOB.0).await.len(), 1);
}

//! NOOP (RFC 3501 §6.1.2): valid in every state; with a mailbox selected it is where
//! other sessions' changes are told (EXISTS, FETCH FLAGS, EXPUNGE).

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn noop_in_every_state() {
    let srv = start().await;
    let mut c = Client::connect(&srv).await;
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
    let mut c = srv.login(ALICE).await;
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
    // Nothing selected: deliveries are not told.
    srv.deliver(ALICE.0, 1).await;
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
    c.0.send_line("A NOOP now").await;
    assert_eq!(c.line().await, "A BAD Malformed command");
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

#[tokio::test]
async fn noop_reports_other_sessions_changes() {
    let srv = start().await;
    srv.deliver(ALICE.0, 4).await;
    let mut a = srv.login(ALICE).await;
    let mut b = srv.login(ALICE).await;
    a.cmd("SELECT INBOX").await;
    b.cmd("SELECT INBOX").await;
    assert_eq!(a.cmd("NOOP").await, ["A OK NOOP completed"]);

    // A delivery.
    srv.deliver(ALICE.0, 1).await;
    assert_eq!(
        a.cmd("NOOP").await,
        ["* 5 EXISTS", "* 5 RECENT", "A OK NOOP completed"]
    );
    // Told once only.
    assert_eq!(a.cmd("NOOP").await, ["A OK NOOP completed"]);

    // Another session's flag change, with its UID.
    b.cmd("STORE 1 +FLAGS.SILENT (\\Seen)").await;
    assert_eq!(
        a.cmd("NOOP").await,
        [
            "* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent))",
            "A OK NOOP completed"
        ]
    );

    // Another session's expunge: EXPUNGE with the number as a knows it, then EXISTS.
    b.cmd("STORE 2,4 +FLAGS.SILENT (\\Deleted)").await;
    b.cmd("EXPUNGE").await;
    assert_eq!(
        a.cmd("NOOP").await,
        [
            "* 2 FETCH (UID 2 FLAGS (\\Deleted \\Recent))",
            "* 4 FETCH (UID 4 FLAGS (\\Deleted \\Recent))",
            "* 2 EXPUNGE",
            "* 3 EXPUNGE",
            "* 3 EXISTS",
            "* 3 RECENT",
            "A OK NOOP completed"
        ]
    );
    assert_eq!(
        a.cmd("FETCH 1:* (UID)").await,
        [
            "* 1 FETCH (UID 1)",
            "* 2 FETCH (UID 3)",
            "* 3 FETCH (UID 5)",
            "A OK FETCH completed"
        ]
    );
}

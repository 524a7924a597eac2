//! CLOSE (RFC 3501 §6.4.2): expunges \Deleted messages without EXPUNGE responses and
//! leaves the selected state; after EXAMINE nothing is expunged; UNSELECT (RFC 3691)
//! leaves without expunging. Other sessions see the expunges.

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn close_expunges_silently() {
    let srv = start().await;
    srv.deliver(ALICE.0, 4).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    other.cmd("SELECT INBOX").await;
    c.cmd("STORE 2:3 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(c.cmd("CLOSE").await, ["A OK CLOSE completed"]);
    assert_eq!(c.cmd("FETCH 1 (UID)").await, ["A BAD No mailbox selected"]);
    assert_eq!(c.cmd("CLOSE").await, ["A BAD No mailbox selected"]);
    assert_eq!(
        c.cmd("STATUS INBOX (MESSAGES)").await,
        ["* STATUS INBOX (MESSAGES 2)", "A OK STATUS completed"]
    );
    assert_eq!(
        other.cmd("NOOP").await,
        [
            "* 2 FETCH (UID 2 FLAGS (\\Deleted))",
            "* 3 FETCH (UID 3 FLAGS (\\Deleted))",
            "* 2 EXPUNGE",
            "* 2 EXPUNGE",
            "* 2 EXISTS",
            "A OK NOOP completed"
        ]
    );
    assert_eq!(
        other.cmd("FETCH 1:* (UID)").await,
        [
            "* 1 FETCH (UID 1)",
            "* 2 FETCH (UID 4)",
            "A OK FETCH completed"
        ]
    );
}

#[tokio::test]
async fn close_after_examine_and_unselect_keep_deleted_messages() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(c.cmd("UNSELECT").await, ["A OK UNSELECT completed"]);
    c.cmd("EXAMINE INBOX").await;
    assert_eq!(c.cmd("CLOSE").await, ["A OK CLOSE completed"]);
    assert_eq!(
        c.cmd("STATUS INBOX (MESSAGES)").await,
        ["* STATUS INBOX (MESSAGES 3)", "A OK STATUS completed"]
    );
    // A read-write CLOSE does expunge it.
    c.cmd("SELECT INBOX").await;
    assert_eq!(c.cmd("CLOSE").await, ["A OK CLOSE completed"]);
    assert_eq!(
        c.cmd("STATUS INBOX (MESSAGES)").await,
        ["* STATUS INBOX (MESSAGES 2)", "A OK STATUS completed"]
    );
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("CLOSE").await, ["A BAD Log in first"]);
}

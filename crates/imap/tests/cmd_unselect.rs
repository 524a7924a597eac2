//! UNSELECT (RFC 3691): leaves the selected state without expunging; BAD when nothing is
//! selected.

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn unselect_keeps_deleted_messages() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    srv.take_recent(ALICE).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    other.cmd("SELECT INBOX").await;
    c.cmd("SELECT INBOX").await;
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(c.cmd("UNSELECT").await, ["A OK UNSELECT completed"]);
    assert_eq!(
        c.cmd("FETCH 1 (FLAGS)").await,
        ["A BAD No mailbox selected"]
    );
    assert_eq!(c.cmd("UNSELECT").await, ["A BAD No mailbox selected"]);
    // The other session sees only the flag change, no EXPUNGE.
    assert_eq!(
        other.cmd("NOOP").await,
        ["* 1 FETCH (UID 1 FLAGS (\\Deleted))", "A OK NOOP completed"]
    );
    // Nothing selected, deliveries are not told.
    srv.deliver(ALICE.0, 1).await;
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
    let r = c.cmd("SELECT INBOX").await;
    assert_eq!(r[2], "* 3 EXISTS", "{r:?}");
    assert!(!r.iter().any(|l| l.contains("[CLOSED]")), "{r:?}");
    assert_eq!(
        c.cmd("FETCH 1 (FLAGS)").await,
        ["* 1 FETCH (FLAGS (\\Deleted))", "A OK FETCH completed"]
    );
}

#[tokio::test]
async fn unselect_needs_a_selected_mailbox() {
    let srv = start().await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("UNSELECT").await, ["A BAD Log in first"]);
    let mut c = srv.login(ALICE).await;
    assert_eq!(c.cmd("UNSELECT").await, ["A BAD No mailbox selected"]);
    c.cmd("EXAMINE INBOX").await;
    assert_eq!(c.cmd("UNSELECT").await, ["A OK UNSELECT completed"]);
    c.0.send_line("A UNSELECT INBOX").await;
    assert_eq!(c.line().await, "A BAD Malformed command");
}

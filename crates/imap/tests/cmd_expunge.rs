//! EXPUNGE (RFC 3501 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1): one EXPUNGE response per
//! message, each number valid after the ones before; UID EXPUNGE only the named UIDs;
//! NO when read-only. Other sessions are told, but never during FETCH, STORE or SEARCH.

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn expunge_and_uid_expunge() {
    let srv = start().await;
    srv.deliver(ALICE.0, 6).await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    assert_eq!(c.cmd("EXPUNGE").await, ["A OK EXPUNGE completed"]);
    c.cmd("STORE 2,4 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(
        c.cmd("EXPUNGE").await,
        ["* 2 EXPUNGE", "* 3 EXPUNGE", "A OK EXPUNGE completed"]
    );
    // Left: UIDs 1 3 5 6. All deleted, but UID EXPUNGE takes only 5:6.
    c.cmd("STORE 1:* +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(
        c.cmd("UID EXPUNGE 5:6").await,
        ["* 3 EXPUNGE", "* 3 EXPUNGE", "A OK EXPUNGE completed"]
    );
    assert_eq!(c.cmd("UID EXPUNGE 99").await, ["A OK EXPUNGE completed"]);
    assert_eq!(
        c.cmd("FETCH 1:* (UID FLAGS)").await,
        [
            "* 1 FETCH (UID 1 FLAGS (\\Deleted \\Recent))",
            "* 2 FETCH (UID 3 FLAGS (\\Deleted \\Recent))",
            "A OK FETCH completed"
        ]
    );
    // UID EXPUNGE of a UID without \Deleted does nothing.
    c.cmd("STORE 1 -FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(
        c.cmd("UID EXPUNGE 1:3").await,
        ["* 2 EXPUNGE", "A OK EXPUNGE completed"]
    );
    assert_eq!(
        c.cmd("UID SEARCH ALL").await,
        ["* SEARCH 1", "A OK SEARCH completed"]
    );
}

#[tokio::test]
async fn expunge_refusals() {
    let srv = start().await;
    srv.deliver(ALICE.0, 1).await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("EXPUNGE").await, ["A BAD Log in first"]);
    let mut c = srv.login(ALICE).await;
    assert_eq!(c.cmd("EXPUNGE").await, ["A BAD No mailbox selected"]);
    assert_eq!(c.cmd("UID EXPUNGE 1").await, ["A BAD No mailbox selected"]);
    c.cmd("SELECT INBOX").await;
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    c.cmd("EXAMINE INBOX").await;
    assert_eq!(c.cmd("EXPUNGE").await, ["A NO Mailbox is read-only"]);
    assert_eq!(c.cmd("UID EXPUNGE 1").await, ["A NO Mailbox is read-only"]);
    c.0.send_line("A UID EXPUNGE").await;
    assert_eq!(c.line().await, "A BAD Malformed command");
    assert_eq!(
        c.cmd("STATUS INBOX (MESSAGES)").await,
        ["* STATUS INBOX (MESSAGES 1)", "A OK STATUS completed"]
    );
}

#[tokio::test]
async fn other_sessions_are_told_at_the_right_time() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    other.cmd("SELECT INBOX").await;
    c.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    c.cmd("EXPUNGE").await;
    // Not during FETCH, STORE or SEARCH (RFC 3501 §7.4.1): message 2 is still there,
    // and its UID, all that is left of it, is told when asked (RFC 2180 §4.1.3).
    assert_eq!(
        other.cmd("FETCH 1:3 (UID)").await,
        [
            "* 1 FETCH (UID 1)",
            "* 2 FETCH (UID 2)",
            "* 3 FETCH (UID 3)",
            "* 2 FETCH (UID 2 FLAGS (\\Deleted))",
            "A OK FETCH completed"
        ]
    );
    assert_eq!(
        other.cmd("STORE 3 +FLAGS (\\Flagged)").await,
        ["* 3 FETCH (FLAGS (\\Flagged))", "A OK STORE completed"]
    );
    assert_eq!(
        other.cmd("SEARCH ALL").await,
        ["* SEARCH 1 3", "A OK SEARCH completed"]
    );
    // UID forms follow the same rule.
    assert_eq!(
        other.cmd("UID SEARCH ALL").await,
        ["* SEARCH 1 3", "A OK SEARCH completed"]
    );
    // At NOOP it is told, then the numbers close up.
    assert_eq!(
        other.cmd("NOOP").await,
        ["* 2 EXPUNGE", "* 2 EXISTS", "A OK NOOP completed"]
    );
    assert_eq!(
        other.cmd("FETCH 2 (UID FLAGS)").await,
        [
            "* 2 FETCH (UID 3 FLAGS (\\Flagged))",
            "A OK FETCH completed"
        ]
    );
    // c sees other's flag change, and its own expunge is not told again.
    assert_eq!(
        c.cmd("NOOP").await,
        // Recent in c, which selected first (RFC 3501 §2.3.2), not in `other`.
        [
            "* 2 FETCH (UID 3 FLAGS (\\Flagged \\Recent))",
            "A OK NOOP completed"
        ]
    );
}

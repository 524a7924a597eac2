//! MOVE and UID MOVE (RFC 6851): COPYUID in an untagged OK, then one EXPUNGE per moved
//! message, then the tagged OK; NO [TRYCREATE] for a mailbox that does not exist; NO when
//! read-only; other sessions on the source see EXPUNGE (not during FETCH), sessions on
//! the target see EXISTS.

mod common;

use common::{ALICE, Client, start, status_item};

#[tokio::test]
async fn move_and_uid_move() {
    let srv = start().await;
    srv.deliver(ALICE.0, 5).await;
    let mut c = srv.login(ALICE).await;
    let mut source = srv.login(ALICE).await;
    let mut target = srv.login(ALICE).await;
    let trash = status_item(&c.cmd("STATUS Trash (UIDVALIDITY)").await[0], "UIDVALIDITY");
    c.cmd("SELECT INBOX").await;
    source.cmd("SELECT INBOX").await;
    target.cmd("SELECT Trash").await;
    c.cmd("STORE 2 +FLAGS.SILENT (\\Flagged)").await;
    source.cmd("NOOP").await;

    assert_eq!(
        c.cmd("MOVE 2:3 Trash").await,
        [
            format!("* OK [COPYUID {trash} 2:3 1:2] Moved"),
            "* 2 EXPUNGE".to_string(),
            "* 2 EXPUNGE".to_string(),
            "A OK MOVE completed".to_string()
        ]
    );
    // Left in INBOX: UIDs 1 4 5 as 1 2 3.
    assert_eq!(
        c.cmd("UID MOVE 5 Trash").await,
        [
            format!("* OK [COPYUID {trash} 5 3] Moved"),
            "* 3 EXPUNGE".to_string(),
            "A OK MOVE completed".to_string()
        ]
    );
    // UIDs that do not exist: nothing moved, no COPYUID, no EXPUNGE.
    assert_eq!(
        c.cmd("UID MOVE 99 Trash").await,
        ["* OK Moved", "A OK MOVE completed"]
    );
    assert_eq!(
        c.cmd("FETCH 1:* (UID)").await,
        [
            "* 1 FETCH (UID 1)",
            "* 2 FETCH (UID 4)",
            "A OK FETCH completed"
        ]
    );

    // The other session on INBOX: no EXPUNGE during FETCH, then all at NOOP.
    assert_eq!(
        source.cmd("FETCH 1 (UID)").await,
        ["* 1 FETCH (UID 1)", "A OK FETCH completed"]
    );
    assert_eq!(
        source.cmd("NOOP").await,
        [
            "* 2 EXPUNGE",
            "* 2 EXPUNGE",
            "* 3 EXPUNGE",
            "* 2 EXISTS",
            "A OK NOOP completed"
        ]
    );
    // The session on Trash sees them arrive, flags kept.
    assert_eq!(
        target.cmd("NOOP").await,
        ["* 3 EXISTS", "* 3 RECENT", "A OK NOOP completed"]
    );
    assert_eq!(
        target.cmd("FETCH 1:* (UID FLAGS)").await,
        [
            "* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))",
            "* 2 FETCH (UID 2 FLAGS (\\Recent))",
            "* 3 FETCH (UID 3 FLAGS (\\Recent))",
            "A OK FETCH completed"
        ]
    );
}

#[tokio::test]
async fn move_refusals() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("MOVE 1 Trash").await, ["A BAD Log in first"]);
    let mut c = srv.login(ALICE).await;
    assert_eq!(c.cmd("MOVE 1 Trash").await, ["A BAD No mailbox selected"]);
    c.cmd("SELECT INBOX").await;
    assert_eq!(
        c.cmd("MOVE 1 Nowhere").await,
        ["A NO [TRYCREATE] No such mailbox"]
    );
    assert_eq!(
        c.cmd("UID MOVE 1 Nowhere").await,
        ["A NO [TRYCREATE] No such mailbox"]
    );
    assert_eq!(
        c.cmd("MOVE 3 Trash").await,
        ["A BAD Invalid message sequence number"]
    );
    c.cmd("EXAMINE INBOX").await;
    assert_eq!(c.cmd("MOVE 1 Trash").await, ["A NO Mailbox is read-only"]);
    assert_eq!(
        c.cmd("UID MOVE 1 Trash").await,
        ["A NO Mailbox is read-only"]
    );
    assert_eq!(
        c.cmd("STATUS INBOX (MESSAGES)").await,
        ["* STATUS INBOX (MESSAGES 2)", "A OK STATUS completed"]
    );
}

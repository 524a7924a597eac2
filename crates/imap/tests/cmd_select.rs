//! SELECT and EXAMINE (RFC 3501 §6.3.1-2): the full untagged set (FLAGS, PERMANENTFLAGS,
//! EXISTS, RECENT, UNSEEN, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ) and READ-WRITE /
//! READ-ONLY; a second SELECT closes the first ([CLOSED]) even when it fails; EXAMINE
//! refuses changes and does not set \Seen.

mod common;

use common::{ALICE, Client, start, status_item};

const FLAGS: &str = "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)";
const PERM_RW: &str =
    "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted";
const PERM_RO: &str = "* OK [PERMANENTFLAGS ()] Flags permitted";

#[tokio::test]
async fn select_and_examine() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut c = srv.login(ALICE).await;
    // STATUS (HIGHESTMODSEQ) enables CONDSTORE (RFC 7162 §3.1): another session reads it,
    // so `c` stays a plain IMAP4rev1 client.
    let mut o = srv.login(ALICE).await;
    let st = o
        .cmd("STATUS INBOX (UIDVALIDITY UIDNEXT HIGHESTMODSEQ)")
        .await;
    let (validity, next, hms) = (
        status_item(&st[0], "UIDVALIDITY"),
        status_item(&st[0], "UIDNEXT"),
        status_item(&st[0], "HIGHESTMODSEQ"),
    );
    assert_eq!(next, 4);
    assert_eq!(
        c.cmd("SELECT INBOX").await,
        [
            FLAGS.to_string(),
            PERM_RW.to_string(),
            "* 3 EXISTS".to_string(),
            // The first session to SELECT gets the delivered messages as recent.
            "* 3 RECENT".to_string(),
            "* OK [UNSEEN 1] First unseen".to_string(),
            format!("* OK [UIDVALIDITY {validity}] UIDs valid"),
            "* OK [UIDNEXT 4] Predicted next UID".to_string(),
            format!("* OK [HIGHESTMODSEQ {hms}] Highest"),
            "A OK [READ-WRITE] SELECT completed".to_string(),
        ]
    );
    let r = c.cmd("STORE 1 +FLAGS.SILENT (\\Seen)").await;
    assert_eq!(r, ["A OK STORE completed"]);
    let hms = status_item(
        &o.cmd("STATUS INBOX (HIGHESTMODSEQ)").await[0],
        "HIGHESTMODSEQ",
    );

    // EXAMINE while selected: [CLOSED] first; the first unseen is now 2; no flags
    // may be changed.
    assert_eq!(
        c.cmd("EXAMINE inbox").await,
        [
            "* OK [CLOSED] Previous mailbox closed".to_string(),
            FLAGS.to_string(),
            PERM_RO.to_string(),
            "* 3 EXISTS".to_string(),
            "* 0 RECENT".to_string(),
            "* OK [UNSEEN 2] First unseen".to_string(),
            format!("* OK [UIDVALIDITY {validity}] UIDs valid"),
            "* OK [UIDNEXT 4] Predicted next UID".to_string(),
            format!("* OK [HIGHESTMODSEQ {hms}] Highest"),
            "A OK [READ-ONLY] EXAMINE completed".to_string(),
        ]
    );
    assert_eq!(
        c.cmd("STORE 2 +FLAGS (\\Seen)").await,
        ["A NO Mailbox is read-only"]
    );
    assert_eq!(c.cmd("EXPUNGE").await, ["A NO Mailbox is read-only"]);
    assert_eq!(c.cmd("MOVE 2 Trash").await, ["A NO Mailbox is read-only"]);
    // A body fetch in EXAMINE does not set \Seen.
    let r = c.cmd("FETCH 2 (BODY[TEXT])").await;
    assert_eq!(r.last().unwrap(), "A OK FETCH completed");
    assert!(!r.iter().any(|l| l.contains("FLAGS")), "{r:?}");
    assert_eq!(
        c.cmd("FETCH 2 (FLAGS)").await,
        ["* 2 FETCH (FLAGS ())", "A OK FETCH completed"]
    );
}

#[tokio::test]
async fn empty_mailbox_has_no_unseen() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let st = c.cmd("STATUS Trash (UIDVALIDITY HIGHESTMODSEQ)").await;
    let validity = status_item(&st[0], "UIDVALIDITY");
    let hms = status_item(&st[0], "HIGHESTMODSEQ");
    assert_eq!(
        c.cmd("SELECT Trash").await,
        [
            FLAGS.to_string(),
            PERM_RW.to_string(),
            "* 0 EXISTS".to_string(),
            "* 0 RECENT".to_string(),
            format!("* OK [UIDVALIDITY {validity}] UIDs valid"),
            "* OK [UIDNEXT 1] Predicted next UID".to_string(),
            format!("* OK [HIGHESTMODSEQ {hms}] Highest"),
            "A OK [READ-WRITE] SELECT completed".to_string(),
        ]
    );
}

#[tokio::test]
async fn failures_and_state() {
    let srv = start().await;
    srv.deliver(ALICE.0, 1).await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("SELECT INBOX").await, ["A BAD Log in first"]);
    assert_eq!(u.cmd("EXAMINE INBOX").await, ["A BAD Log in first"]);

    let mut c = srv.login(ALICE).await;
    assert_eq!(c.cmd("SELECT Nowhere").await, ["A NO No such mailbox"]);
    assert_eq!(c.cmd("EXAMINE Nowhere").await, ["A NO No such mailbox"]);
    c.cmd("SELECT INBOX").await;
    assert_eq!(
        c.cmd("FETCH 1 (UID)").await,
        ["* 1 FETCH (UID 1)", "A OK FETCH completed"]
    );
    // A failed SELECT still closes the old mailbox (RFC 3501 §6.3.1).
    assert_eq!(
        c.cmd("SELECT Nowhere").await,
        [
            "* OK [CLOSED] Previous mailbox closed",
            "A NO No such mailbox"
        ]
    );
    assert_eq!(c.cmd("FETCH 1 (UID)").await, ["A BAD No mailbox selected"]);
    c.0.send_line("A SELECT").await;
    assert_eq!(c.line().await, "A BAD Malformed command");
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

#[tokio::test]
async fn select_sees_what_other_sessions_did() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    let mut a = srv.login(ALICE).await;
    let mut b = srv.login(ALICE).await;
    b.cmd("SELECT INBOX").await;
    b.cmd("STORE 1:2 +FLAGS.SILENT (\\Seen)").await;
    srv.deliver(ALICE.0, 1).await;
    let r = a.cmd("SELECT INBOX").await;
    assert_eq!(r[2], "* 3 EXISTS", "{r:?}");
    assert_eq!(r[4], "* OK [UNSEEN 3] First unseen", "{r:?}");
    assert_eq!(r[6], "* OK [UIDNEXT 4] Predicted next UID", "{r:?}");
    // b learns of the delivery at its next command.
    assert_eq!(b.cmd("NOOP").await, ["* 3 EXISTS", "A OK NOOP completed"]);
}

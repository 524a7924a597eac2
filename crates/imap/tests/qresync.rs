//! QRESYNC (RFC 7162 §3.2): ENABLE QRESYNC, SELECT with the QRESYNC parameter answering
//! VANISHED (EARLIER) and the flag changes, VANISHED instead of EXPUNGE (own and other
//! sessions' expunges), UID FETCH (CHANGEDSINCE n VANISHED), and [CLOSED].

mod common;

use common::{ALICE, start};

/// The number after `key ` up to the next `]` or `)`.
fn number_after(lines: &[String], key: &str) -> u64 {
    let line = lines.iter().find(|l| l.contains(key)).expect(key);
    let i = line.find(key).unwrap() + key.len();
    line[i..]
        .split([']', ')'])
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn resync_after_changes_elsewhere() {
    let srv = start().await;
    srv.deliver(ALICE.0, 5).await;
    srv.take_recent(ALICE).await;
    let mut c = srv.login(ALICE).await;
    let caps = c.cmd("CAPABILITY").await;
    assert!(caps[0].contains(" QRESYNC"), "{caps:?}");

    // The QRESYNC parameter needs ENABLE QRESYNC first.
    let r = c.cmd("SELECT INBOX (QRESYNC (1 1))").await;
    assert_eq!(r, ["A BAD ENABLE QRESYNC first"]);
    assert_eq!(
        c.cmd("ENABLE QRESYNC").await,
        ["* ENABLED QRESYNC", "A OK ENABLE completed"]
    );
    let sel = c.cmd("SELECT INBOX").await;
    let validity = number_after(&sel, "UIDVALIDITY ");
    let hms = number_after(&sel, "HIGHESTMODSEQ ");

    // Another (CONDSTORE-only) session changes flags and expunges 3 and 4.
    let mut other = srv.login(ALICE).await;
    other.cmd("ENABLE CONDSTORE").await;
    other.cmd("SELECT INBOX").await;
    let r = other.cmd("STORE 2 +FLAGS (\\Seen)").await;
    let m2 = number_after(&r, "MODSEQ (");
    let r = other.cmd("STORE 3:4 +FLAGS (\\Deleted)").await;
    let m34 = number_after(&r, "MODSEQ (");
    let r = other.cmd("EXPUNGE").await;
    assert_eq!(r, ["* 3 EXPUNGE", "* 3 EXPUNGE", "A OK EXPUNGE completed"]);

    // This session hears of the expunges as VANISHED, with UIDs.
    let r = c.cmd("NOOP").await;
    assert_eq!(
        r,
        [
            format!("* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ ({m2}))"),
            format!("* 3 FETCH (UID 3 FLAGS (\\Deleted) MODSEQ ({m34}))"),
            format!("* 4 FETCH (UID 4 FLAGS (\\Deleted) MODSEQ ({m34}))"),
            "* VANISHED 3:4".to_string(),
            "* 3 EXISTS".to_string(),
            "A OK NOOP completed".to_string(),
        ]
    );

    // UID FETCH ... (CHANGEDSINCE n VANISHED): the expunged UIDs of the set first.
    let r = c
        .cmd(&format!(
            "UID FETCH 1:* (FLAGS) (CHANGEDSINCE {hms} VANISHED)"
        ))
        .await;
    assert_eq!(
        r,
        [
            "* VANISHED (EARLIER) 3:4".to_string(),
            format!("* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ ({m2}))"),
            "A OK UID FETCH completed".to_string(),
        ]
    );
    let r = c
        .cmd(&format!(
            "UID FETCH 4:5 (FLAGS) (CHANGEDSINCE {hms} VANISHED)"
        ))
        .await;
    assert_eq!(r, ["* VANISHED (EARLIER) 4", "A OK UID FETCH completed"]);
    // VANISHED only with UID FETCH and CHANGEDSINCE.
    let r = c.cmd("UID FETCH 1:* (FLAGS) (VANISHED)").await;
    assert_eq!(r, ["A BAD VANISHED needs UID FETCH with CHANGEDSINCE"]);
    let r = c.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)").await;
    assert_eq!(r, ["A BAD VANISHED needs UID FETCH with CHANGEDSINCE"]);

    // This session's own expunge is VANISHED too.
    let r = c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    let m1 = number_after(&r, "MODSEQ (");
    assert_eq!(
        r,
        [
            format!("* 1 FETCH (UID 1 MODSEQ ({m1}))"),
            "A OK STORE completed".to_string()
        ]
    );
    assert_eq!(
        c.cmd("EXPUNGE").await,
        ["* VANISHED 1", "A OK EXPUNGE completed"]
    );
    assert_eq!(
        other.cmd("NOOP").await,
        [
            format!("* 1 FETCH (UID 1 FLAGS (\\Deleted) MODSEQ ({m1}))"),
            "* 1 EXPUNGE".to_string(),
            "* 2 EXISTS".to_string(),
            "A OK NOOP completed".to_string(),
        ]
    );

    // A fresh session resynchronises in one SELECT: what vanished since `hms`, then
    // what changed.
    let mut d = srv.login(ALICE).await;
    d.cmd("ENABLE QRESYNC").await;
    let r = d
        .cmd(&format!("SELECT INBOX (QRESYNC ({validity} {hms}))"))
        .await;
    let now = number_after(&r, "HIGHESTMODSEQ ");
    assert_eq!(
        r,
        [
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)".to_string(),
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted".to_string(),
            "* 2 EXISTS".to_string(),
            "* 0 RECENT".to_string(),
            "* OK [UNSEEN 2] First unseen".to_string(),
            format!("* OK [UIDVALIDITY {validity}] UIDs valid"),
            "* OK [UIDNEXT 6] Predicted next UID".to_string(),
            format!("* OK [HIGHESTMODSEQ {now}] Highest"),
            "* VANISHED (EARLIER) 1,3:4".to_string(),
            format!("* 1 FETCH (UID 2 FLAGS (\\Seen) MODSEQ ({m2}))"),
            "A OK [READ-WRITE] SELECT completed".to_string(),
        ]
    );

    // Known UIDs narrow VANISHED; re-selecting closes the old mailbox with [CLOSED].
    let r = d
        .cmd(&format!("EXAMINE INBOX (QRESYNC ({validity} {hms} 1:3))"))
        .await;
    assert_eq!(r[0], "* OK [CLOSED] Previous mailbox closed", "{r:?}");
    assert!(r.contains(&"* VANISHED (EARLIER) 1,3".to_string()), "{r:?}");
    assert_eq!(r.last().unwrap(), "A OK [READ-ONLY] EXAMINE completed");

    // Nothing changed since `now`: no VANISHED, no FETCH.
    let r = d
        .cmd(&format!("SELECT INBOX (QRESYNC ({validity} {now}))"))
        .await;
    assert!(
        !r.iter()
            .any(|l| l.contains("VANISHED") || l.contains("FETCH")),
        "{r:?}"
    );
    // A stale UIDVALIDITY: the client must resync from scratch; nothing incremental.
    let r = d
        .cmd(&format!("SELECT INBOX (QRESYNC ({} {hms}))", validity + 1))
        .await;
    assert!(
        !r.iter()
            .any(|l| l.contains("VANISHED") || l.contains("FETCH")),
        "{r:?}"
    );
    assert_eq!(r.last().unwrap(), "A OK [READ-WRITE] SELECT completed");
}

#[tokio::test]
async fn condstore_only_clients_keep_expunge() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    srv.take_recent(ALICE).await;
    let mut c = srv.login(ALICE).await;
    assert_eq!(
        c.cmd("ENABLE CONDSTORE QRESYNC").await,
        ["* ENABLED CONDSTORE QRESYNC", "A OK ENABLE completed"]
    );
    let mut plain = srv.login(ALICE).await;
    plain.cmd("SELECT INBOX").await;
    c.cmd("SELECT INBOX").await;
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(
        c.cmd("EXPUNGE").await,
        ["* VANISHED 1", "A OK EXPUNGE completed"]
    );
    // The session that did not enable QRESYNC still sees EXPUNGE.
    let r = plain.cmd("NOOP").await;
    assert_eq!(
        r[..2],
        ["* 1 FETCH (UID 1 FLAGS (\\Deleted))", "* 1 EXPUNGE"]
    );
    // MOVE under QRESYNC: COPYUID, then VANISHED.
    let r = c.cmd("MOVE 1 Archive").await;
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(r[0].starts_with("* OK [COPYUID "), "{r:?}");
    assert_eq!(r[1..], ["* VANISHED 2", "A OK MOVE completed"]);
}

//! CONDSTORE (RFC 7162): HIGHESTMODSEQ, MODSEQ in FETCH, CHANGEDSINCE, UNCHANGEDSINCE
//! with [MODIFIED], SEARCH MODSEQ, STATUS HIGHESTMODSEQ, and MODSEQ in unsolicited FETCH.

mod common;

use common::{ALICE, start};

fn modseq_of(line: &str) -> u64 {
    let i = line.find("MODSEQ (").expect("a MODSEQ") + 8;
    line[i..].split(')').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn conditional_store_and_changes_since() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    srv.take_recent(ALICE).await;
    let mut c = srv.login(ALICE).await;
    let caps = c.cmd("CAPABILITY").await;
    assert!(caps[0].contains("CONDSTORE"), "{caps:?}");
    let sel = c.cmd("SELECT INBOX (CONDSTORE)").await;
    let hms_line = sel
        .iter()
        .find(|l| l.contains("HIGHESTMODSEQ"))
        .expect("HIGHESTMODSEQ on SELECT");
    let hms: u64 = hms_line
        .split("HIGHESTMODSEQ ")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // Message 2 changes; only it is newer than the old HIGHESTMODSEQ.
    let r = c.cmd("STORE 2 +FLAGS (\\Flagged)").await;
    assert!(
        r[0].starts_with("* 2 FETCH (FLAGS (\\Flagged) MODSEQ ("),
        "{r:?}"
    );
    let m2 = modseq_of(&r[0]);
    assert!(m2 > hms);
    let r = c
        .cmd(&format!("FETCH 1:* (FLAGS) (CHANGEDSINCE {hms})"))
        .await;
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r[0].starts_with("* 2 FETCH (FLAGS (\\Flagged) MODSEQ ("));

    // UNCHANGEDSINCE older than message 2's MODSEQ: refused for 2, done for 1.
    let r = c
        .cmd(&format!(
            "STORE 1:2 (UNCHANGEDSINCE {hms}) +FLAGS.SILENT (\\Seen)"
        ))
        .await;
    assert!(r.last().unwrap().starts_with("A OK [MODIFIED 2]"), "{r:?}");
    let r = c.cmd("FETCH 1:2 (FLAGS)").await;
    assert!(r[0].contains("\\Seen") && !r[1].contains("\\Seen"), "{r:?}");

    let r = c.cmd(&format!("UID SEARCH MODSEQ {}", hms + 1)).await;
    assert!(r[0].starts_with("* SEARCH 1 2 (MODSEQ "), "{r:?}");
    let r = c.cmd("STATUS Sent (HIGHESTMODSEQ MESSAGES)").await;
    assert!(r[0].contains("HIGHESTMODSEQ 1"), "{r:?}");

    // Another session's change arrives with its MODSEQ.
    let mut other = srv.login(ALICE).await;
    other.cmd("SELECT INBOX").await;
    other.cmd("STORE 3 +FLAGS.SILENT (\\Answered)").await;
    let r = c.cmd("NOOP").await;
    assert!(
        r[0].starts_with("* 3 FETCH (UID 3 FLAGS (\\Answered) MODSEQ ("),
        "{r:?}"
    );
}

/// The number in a `[HIGHESTMODSEQ n]` code.
fn highest_of(line: &str) -> u64 {
    let i = line.find("[HIGHESTMODSEQ ").expect("a HIGHESTMODSEQ") + 15;
    line[i..].split(']').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_command_that_enables_condstore_tells_highestmodseq_in_its_tagged_ok() {
    // RFC 7162 §3.1: FETCH with MODSEQ, SEARCH MODSEQ, STORE UNCHANGEDSINCE and STATUS
    // (HIGHESTMODSEQ) are CONDSTORE enabling commands; the first one run with a mailbox
    // selected tells the mailbox's HIGHESTMODSEQ in its tagged OK. Later ones do not.
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut other = srv.login(ALICE).await;
    other.cmd("SELECT INBOX").await;

    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    // Another session's change moves HIGHESTMODSEQ on; the FETCH tells it, then the OK
    // carries the new HIGHESTMODSEQ, which is that change's MODSEQ.
    other.cmd("STORE 2 +FLAGS.SILENT (\\Flagged)").await;
    let r = c.cmd("FETCH 1 (FLAGS MODSEQ)").await;
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(r[0].starts_with("* 1 FETCH (FLAGS () MODSEQ ("), "{r:?}");
    assert!(
        r[1].starts_with("* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ ("),
        "{r:?}"
    );
    let changed = modseq_of(&r[1]);
    assert_eq!(
        r[2],
        format!("A OK [HIGHESTMODSEQ {changed}] FETCH completed")
    );
    let r = c.cmd("FETCH 1 (MODSEQ)").await;
    assert_eq!(r.last().unwrap(), "A OK FETCH completed", "{r:?}");

    // SEARCH MODSEQ.
    let mut s = srv.login(ALICE).await;
    s.cmd("SELECT INBOX").await;
    assert_eq!(
        s.cmd("SEARCH MODSEQ 1").await,
        [
            format!("* SEARCH 1 2 3 (MODSEQ {changed})"),
            format!("A OK [HIGHESTMODSEQ {changed}] SEARCH completed")
        ]
    );

    // STORE UNCHANGEDSINCE: its own change is the highest now.
    let mut t = srv.login(ALICE).await;
    t.cmd("SELECT INBOX").await;
    let r = t
        .cmd(&format!(
            "STORE 3 (UNCHANGEDSINCE {changed}) +FLAGS (\\Seen)"
        ))
        .await;
    assert_eq!(r.len(), 2, "{r:?}");
    let stored = modseq_of(&r[0]);
    assert!(stored > changed);
    assert_eq!(
        r[1],
        format!("A OK [HIGHESTMODSEQ {stored}] STORE completed")
    );
    // With [MODIFIED] in the OK, HIGHESTMODSEQ comes in an untagged OK just before it.
    let mut u = srv.login(ALICE).await;
    u.cmd("SELECT INBOX").await;
    let r = u
        .cmd("STORE 3 (UNCHANGEDSINCE 1) +FLAGS.SILENT (\\Answered)")
        .await;
    assert_eq!(
        r[r.len() - 2..],
        [
            format!("* OK [HIGHESTMODSEQ {stored}] Highest"),
            "A OK [MODIFIED 3] Conditional STORE failed for some messages".to_string()
        ]
    );

    // STATUS (HIGHESTMODSEQ) with a mailbox selected.
    let mut v = srv.login(ALICE).await;
    v.cmd("SELECT INBOX").await;
    let r = v.cmd("STATUS INBOX (HIGHESTMODSEQ)").await;
    assert_eq!(
        r,
        [
            format!("* STATUS INBOX (HIGHESTMODSEQ {stored})"),
            format!("A OK [HIGHESTMODSEQ {stored}] STATUS completed")
        ]
    );
    // A session that enabled CONDSTORE before SELECT was told at SELECT.
    let mut w = srv.login(ALICE).await;
    w.cmd("ENABLE CONDSTORE").await;
    let sel = w.cmd("SELECT INBOX").await;
    let told = sel.iter().find(|l| l.contains("HIGHESTMODSEQ")).unwrap();
    assert_eq!(highest_of(told), stored);
    let r = w.cmd("FETCH 1 (MODSEQ)").await;
    assert_eq!(r.last().unwrap(), "A OK FETCH completed", "{r:?}");
}

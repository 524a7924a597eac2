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

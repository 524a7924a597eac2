//! CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267) with PARTIAL (RFC 9394): paged ESEARCH
//! and ESORT results, live results (RETURN (UPDATE)) told as ADDTO / REMOVEFROM while
//! messages arrive, change flags and are expunged, NOUPDATE past the limit, and
//! CANCELUPDATE.

mod common;

use common::{ALICE, Client, start};

/// Sends `tag command` and returns every line through the tagged reply.
async fn tagged_cmd(c: &mut Client, tag: &str, command: &str) -> Vec<String> {
    c.0.send_line(&format!("{tag} {command}")).await;
    let mut lines = Vec::new();
    loop {
        let l = c.line().await;
        let done = l.starts_with(&format!("{tag} ")) || l.is_empty();
        lines.push(l);
        if done {
            return lines;
        }
    }
}

/// The ESEARCH lines among `lines`.
fn esearch(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter(|l| l.starts_with("* ESEARCH"))
        .map(String::as_str)
        .collect()
}

/// Where `line` is in `lines` (panics when absent).
fn at(lines: &[String], line: &str) -> usize {
    lines
        .iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("{line} in {lines:?}"))
}

/// A second session of alice with INBOX selected, to change things behind the first.
async fn other(srv: &common::Server) -> Client {
    let mut d = srv.login(ALICE).await;
    d.cmd("SELECT INBOX").await;
    d
}

#[tokio::test]
async fn partial_pages_search_and_sort_results_from_either_end() {
    let srv = start().await;
    srv.deliver(ALICE.0, 10).await;
    let mut c = srv.login(ALICE).await;
    let caps = c.cmd("CAPABILITY").await;
    for cap in [" CONTEXT=SEARCH", " CONTEXT=SORT", " PARTIAL"] {
        assert!(caps[0].contains(cap), "{caps:?}");
    }
    c.cmd("SELECT INBOX").await;
    for (cmd, reply) in [
        (
            "UID SEARCH RETURN (PARTIAL 1:3) ALL",
            "* ESEARCH (TAG \"A\") UID PARTIAL (1:3 1:3)",
        ),
        (
            "SEARCH RETURN (PARTIAL -1:-4) ALL",
            "* ESEARCH (TAG \"A\") PARTIAL (-1:-4 7:10)",
        ),
        (
            "UID SEARCH RETURN (COUNT PARTIAL 20:30) ALL",
            "* ESEARCH (TAG \"A\") UID COUNT 10 PARTIAL (20:30 NIL)",
        ),
        (
            "SEARCH RETURN (MIN PARTIAL 2:3) 5:*",
            "* ESEARCH (TAG \"A\") MIN 5 PARTIAL (2:3 6:7)",
        ),
    ] {
        assert_eq!(c.cmd(cmd).await, [reply, "A OK SEARCH completed"], "{cmd}");
    }
    // ESORT: positions in sort order ("message 9" first when reversed).
    for (cmd, reply) in [
        (
            "UID SORT RETURN (PARTIAL 1:3) (REVERSE SUBJECT) UTF-8 ALL",
            "* ESEARCH (TAG \"A\") UID PARTIAL (1:3 10,9,8)",
        ),
        (
            "SORT RETURN (COUNT PARTIAL -1:-2) (REVERSE SUBJECT) UTF-8 ALL",
            "* ESEARCH (TAG \"A\") COUNT 10 PARTIAL (-1:-2 2,1)",
        ),
    ] {
        assert_eq!(c.cmd(cmd).await, [reply, "A OK SORT completed"], "{cmd}");
    }
    assert_eq!(
        c.cmd("SEARCH RETURN (ALL PARTIAL 1:5) ALL").await,
        ["A BAD PARTIAL and ALL cannot be combined"]
    );
    for bad in [
        "SEARCH RETURN (PARTIAL 0:5) ALL",
        "SEARCH RETURN (PARTIAL 1:-5) ALL",
        "SEARCH RETURN (PARTIAL) ALL",
    ] {
        assert_eq!(c.cmd(bad).await, ["A BAD Invalid PARTIAL range"], "{bad}");
    }
}

#[tokio::test]
async fn a_live_search_tells_arrivals_flag_changes_and_expunges() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    let r = tagged_cmd(&mut c, "s1", "UID SEARCH RETURN (UPDATE) UNSEEN").await;
    assert_eq!(
        r,
        [
            "* ESEARCH (TAG \"s1\") UID ALL 1:3",
            "s1 OK SEARCH completed"
        ]
    );

    // A delivery: told after its EXISTS.
    srv.deliver(ALICE.0, 1).await;
    let r = c.cmd("NOOP").await;
    let addto = "* ESEARCH (TAG \"s1\") UID ADDTO (0 4)";
    assert!(at(&r, "* 4 EXISTS") < at(&r, addto), "{r:?}");

    // Another session marks 2 seen: it leaves the UNSEEN result.
    let mut d = other(&srv).await;
    d.cmd("UID STORE 2 +FLAGS.SILENT (\\Seen)").await;
    let r = c.cmd("NOOP").await;
    assert_eq!(
        esearch(&r),
        ["* ESEARCH (TAG \"s1\") UID REMOVEFROM (0 2)"],
        "{r:?}"
    );

    // This session's own STORE changes the result too, in the STORE's responses.
    let r = c.cmd("UID STORE 1 +FLAGS (\\Seen)").await;
    assert_eq!(
        esearch(&r),
        ["* ESEARCH (TAG \"s1\") UID REMOVEFROM (0 1)"],
        "{r:?}"
    );
    let r = c.cmd("UID STORE 1:2 -FLAGS (\\Seen)").await;
    assert_eq!(
        esearch(&r),
        ["* ESEARCH (TAG \"s1\") UID ADDTO (0 1:2)"],
        "{r:?}"
    );

    // An expunge elsewhere: REMOVEFROM comes ahead of the EXPUNGE.
    d.cmd("UID STORE 3 +FLAGS.SILENT (\\Deleted)").await;
    d.cmd("EXPUNGE").await;
    let r = c.cmd("NOOP").await;
    let removefrom = "* ESEARCH (TAG \"s1\") UID REMOVEFROM (0 3)";
    assert!(at(&r, removefrom) < at(&r, "* 3 EXPUNGE"), "{r:?}");

    // Nothing changed: nothing told.
    let r = c.cmd("NOOP").await;
    assert!(esearch(&r).is_empty(), "{r:?}");
}

#[tokio::test]
async fn a_live_search_is_told_during_idle() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    tagged_cmd(&mut c, "s1", "UID SEARCH RETURN (COUNT UPDATE) ALL").await;
    // Delivered before IDLE: told as IDLE starts.
    srv.deliver(ALICE.0, 1).await;
    c.0.send_line("i IDLE").await;
    let mut lines = Vec::new();
    while lines.len() < 3 {
        let l = c.line().await;
        if !l.ends_with("RECENT") {
            lines.push(l);
        }
    }
    lines.sort();
    assert_eq!(
        lines,
        [
            "* 3 EXISTS",
            "* ESEARCH (TAG \"s1\") UID ADDTO (0 3)",
            "+ idling"
        ]
    );
    // Delivered during IDLE: told as it comes.
    srv.deliver(ALICE.0, 1).await;
    assert_eq!(c.line().await, "* 4 EXISTS");
    let mut next = c.line().await;
    if next.ends_with("RECENT") {
        next = c.line().await;
    }
    assert_eq!(next, "* ESEARCH (TAG \"s1\") UID ADDTO (0 4)");
    c.0.send_line("DONE").await;
    assert_eq!(c.line().await, "i OK IDLE terminated");
}

#[tokio::test]
async fn a_live_sort_tells_where_new_messages_go() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    let r = tagged_cmd(
        &mut c,
        "s2",
        "UID SORT RETURN (UPDATE) (REVERSE SUBJECT) UTF-8 ALL",
    )
    .await;
    assert_eq!(
        r,
        [
            "* ESEARCH (TAG \"s2\") UID ALL 3,2,1",
            "s2 OK SORT completed"
        ]
    );
    // Reversed, "zzz" sorts first and "message 1a" third (after "message 2").
    let mut d = other(&srv).await;
    for subject in ["zzz", "message 1a"] {
        let m = format!("Subject: {subject}\r\n\r\nx\r\n");
        let r = d
            .cmd(&format!("APPEND INBOX {{{}+}}\r\n{m}", m.len()))
            .await;
        assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
    }
    let r = c.cmd("NOOP").await;
    assert_eq!(
        esearch(&r),
        ["* ESEARCH (TAG \"s2\") UID ADDTO (1 4 3 5)"],
        "{r:?}"
    );
    // Expunged from a sorted result (4, 3, 5, 2, 1): REMOVEFROM with its place.
    d.cmd("UID STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    d.cmd("EXPUNGE").await;
    let r = c.cmd("NOOP").await;
    assert_eq!(
        esearch(&r),
        ["* ESEARCH (TAG \"s2\") UID REMOVEFROM (4 2)"],
        "{r:?}"
    );
}

#[tokio::test]
async fn past_the_limit_noupdate_and_cancelupdate_ends_contexts() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    // Results by sequence number are not kept live: NOUPDATE, and the result as asked.
    assert_eq!(
        c.cmd("SEARCH RETURN (UPDATE) ALL").await,
        [
            "* NO [NOUPDATE \"A\"] Only UID SEARCH and UID SORT results are kept updated",
            "* ESEARCH (TAG \"A\") ALL 1:2",
            "A OK SEARCH completed"
        ]
    );
    let r = c
        .cmd("SORT RETURN (COUNT UPDATE) (SUBJECT) UTF-8 ALL")
        .await;
    assert!(r[0].starts_with("* NO [NOUPDATE \"A\"]"), "{r:?}");
    assert_eq!(
        r[1..],
        ["* ESEARCH (TAG \"A\") COUNT 2", "A OK SORT completed"]
    );
    for n in 1..=5 {
        let tag = format!("t{n}");
        let r = tagged_cmd(&mut c, &tag, "UID SEARCH RETURN (UPDATE) ALL").await;
        assert_eq!(r.len(), 2, "{r:?}");
    }
    // A live context's tag may not be reused for another.
    assert_eq!(
        tagged_cmd(&mut c, "t1", "UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL").await,
        ["t1 BAD Tag reuse"]
    );
    let r = tagged_cmd(&mut c, "t6", "UID SEARCH RETURN (UPDATE) ALL").await;
    assert!(r[0].starts_with("* NO [NOUPDATE \"t6\"] "), "{r:?}");
    assert_eq!(
        r[1..],
        [
            "* ESEARCH (TAG \"t6\") UID ALL 1:2",
            "t6 OK SEARCH completed"
        ]
    );

    assert_eq!(
        c.cmd("CANCELUPDATE \"t1\" \"t2\" \"t3\" \"t4\"").await,
        ["A OK CANCELUPDATE completed"]
    );
    // An unknown tag: BAD, and t5 lives on.
    assert_eq!(
        c.cmd("CANCELUPDATE \"t5\" \"t9\"").await,
        ["A BAD No live search has that tag"]
    );
    srv.deliver(ALICE.0, 1).await;
    let r = c.cmd("NOOP").await;
    assert_eq!(
        esearch(&r),
        ["* ESEARCH (TAG \"t5\") UID ADDTO (0 3)"],
        "{r:?}"
    );

    // Contexts end with the selection.
    c.cmd("SELECT INBOX").await;
    srv.deliver(ALICE.0, 1).await;
    let r = c.cmd("NOOP").await;
    assert!(esearch(&r).is_empty(), "{r:?}");
    assert_eq!(
        c.cmd("CANCELUPDATE \"t5\"").await,
        ["A BAD No live search has that tag"]
    );
    c.cmd("UNSELECT").await;
    assert_eq!(
        c.cmd("CANCELUPDATE \"t5\"").await,
        ["A BAD No mailbox selected"]
    );
}

#[tokio::test]
async fn fetch_partial_pages_a_uid_set_from_either_end() {
    let srv = start().await;
    srv.deliver(ALICE.0, 6).await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    // The last two messages of the whole mailbox, newest paging style.
    let r = c.cmd("UID FETCH 1:* (FLAGS) (PARTIAL -1:-2)").await;
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(r[0].starts_with("* 5 FETCH (UID 5 FLAGS"), "{r:?}");
    assert!(r[1].starts_with("* 6 FETCH (UID 6 FLAGS"), "{r:?}");
    assert_eq!(r[2], "A OK UID FETCH completed");
    // Positions within the set asked for.
    let r = c.cmd("FETCH 2:5 (UID) (PARTIAL 2:3)").await;
    assert_eq!(
        r,
        [
            "* 3 FETCH (UID 3)",
            "* 4 FETCH (UID 4)",
            "A OK FETCH completed"
        ]
    );
    // With CHANGEDSINCE, positions count the changed messages only.
    let r = c.cmd("FETCH 6 (MODSEQ)").await;
    let modseq: u64 = r[0]
        .split("MODSEQ (")
        .nth(1)
        .and_then(|x| x.split(')').next())
        .unwrap()
        .parse()
        .unwrap();
    c.cmd("UID STORE 1,3,4 +FLAGS.SILENT (\\Flagged)").await;
    let r = c
        .cmd(&format!(
            "UID FETCH 1:* (UID) (CHANGEDSINCE {modseq} PARTIAL -1:-2)"
        ))
        .await;
    let uids: Vec<&str> = r
        .iter()
        .filter(|l| l.starts_with("* "))
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(uids, ["3", "4"], "{r:?}");
    // Nothing at those positions: just OK.
    assert_eq!(
        c.cmd("UID FETCH 1:* (UID) (PARTIAL 7:9)").await,
        ["A OK UID FETCH completed"]
    );
    assert_eq!(
        c.cmd("UID FETCH 1:* (UID) (PARTIAL 0:9)").await,
        ["A BAD Invalid PARTIAL range"]
    );
}

//! STORE and UID STORE (RFC 3501 §6.4.6): FLAGS, +FLAGS and -FLAGS, with .SILENT;
//! keywords; the untagged FETCH shows every message's flags after the change (with UID
//! for UID STORE); other sessions see the change as FETCH FLAGS; NO when read-only; a new
//! keyword is announced in FLAGS and PERMANENTFLAGS to every session before a FETCH uses it.

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn store_forms() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    srv.take_recent(ALICE).await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    let (label, work) = (flags_told(" $Label1"), flags_told(" $Label1 work"));
    for (cmd, reply) in [
        (
            "STORE 1 FLAGS (\\Answered)",
            vec!["* 1 FETCH (FLAGS (\\Answered))"],
        ),
        (
            "STORE 1 +FLAGS (\\Draft $Label1)",
            // A new keyword: FLAGS and PERMANENTFLAGS first (RFC 3501 §7.2.6).
            vec![
                &label[0],
                &label[1],
                "* 1 FETCH (FLAGS ($Label1 \\Answered \\Draft))",
            ],
        ),
        (
            "STORE 1 -FLAGS (\\Answered $Label1)",
            vec!["* 1 FETCH (FLAGS (\\Draft))"],
        ),
        // Removing what is not there, adding what is: the flags are still reported.
        (
            "STORE 1 -FLAGS (\\Seen)",
            vec!["* 1 FETCH (FLAGS (\\Draft))"],
        ),
        // A bare flag without parentheses is allowed.
        (
            "STORE 1:2 +FLAGS \\Seen",
            vec![
                "* 1 FETCH (FLAGS (\\Draft \\Seen))",
                "* 2 FETCH (FLAGS (\\Seen))",
            ],
        ),
        ("STORE 1 FLAGS.SILENT ()", vec![]),
        ("STORE 2:3 +FLAGS.SILENT (\\Flagged work)", vec![]),
        ("STORE 2 -FLAGS.SILENT (work)", vec![]),
        (
            "UID STORE 2:3 +FLAGS (\\Answered)",
            // `work` was stored silently: it is announced when a FETCH first shows it.
            vec![
                &work[0],
                &work[1],
                "* 2 FETCH (UID 2 FLAGS (\\Answered \\Flagged \\Seen))",
                "* 3 FETCH (UID 3 FLAGS (\\Answered \\Flagged work))",
            ],
        ),
        ("UID STORE 3 -FLAGS.SILENT (\\Answered)", vec![]),
        // UIDs that do not exist are skipped.
        ("UID STORE 99 +FLAGS (\\Seen)", vec![]),
    ] {
        let mut want: Vec<String> = reply.iter().map(|s| s.to_string()).collect();
        want.push("A OK STORE completed".into());
        assert_eq!(c.cmd(cmd).await, want, "{cmd}");
    }
    assert_eq!(
        c.cmd("FETCH 1:* (FLAGS)").await,
        [
            "* 1 FETCH (FLAGS ())",
            "* 2 FETCH (FLAGS (\\Answered \\Flagged \\Seen))",
            "* 3 FETCH (FLAGS (\\Flagged work))",
            "A OK FETCH completed"
        ]
    );
    assert_eq!(
        c.cmd("SEARCH KEYWORD work").await,
        ["* SEARCH 3", "A OK SEARCH completed"]
    );
}

#[tokio::test]
async fn store_refusals() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    srv.take_recent(ALICE).await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(
        u.cmd("STORE 1 +FLAGS (\\Seen)").await,
        ["A BAD Log in first"]
    );
    let mut c = srv.login(ALICE).await;
    assert_eq!(
        c.cmd("STORE 1 +FLAGS (\\Seen)").await,
        ["A BAD No mailbox selected"]
    );
    c.cmd("SELECT INBOX").await;
    assert_eq!(
        c.cmd("STORE 3 +FLAGS (\\Seen)").await,
        ["A BAD Invalid message sequence number"]
    );
    assert_eq!(
        c.cmd("STORE 1:3 +FLAGS (\\Seen)").await,
        ["A BAD Invalid message sequence number"]
    );
    // System flags are the server's to define: a made-up one is refused, \Recent ignored.
    assert_eq!(
        c.cmd("STORE 1 +FLAGS (\\Seen \\Bogus)").await,
        ["A BAD Unknown system flag"]
    );
    assert_eq!(
        c.cmd("STORE 1 +FLAGS (\\Recent)").await,
        ["* 1 FETCH (FLAGS ())", "A OK STORE completed"]
    );
    for cmd in [
        "A STORE 1 BOGUS (\\Seen)",
        "A STORE 1 +FLAGS",
        "A STORE 0 +FLAGS (\\Seen)",
    ] {
        c.0.send_line(cmd).await;
        assert_eq!(c.line().await, "A BAD Malformed command", "{cmd}");
    }
    c.cmd("EXAMINE INBOX").await;
    assert_eq!(
        c.cmd("STORE 1 +FLAGS (\\Seen)").await,
        ["A NO Mailbox is read-only"]
    );
    assert_eq!(
        c.cmd("UID STORE 1 +FLAGS (\\Seen)").await,
        ["A NO Mailbox is read-only"]
    );
    // Nothing changed.
    assert_eq!(
        c.cmd("FETCH 1:2 (FLAGS)").await,
        [
            "* 1 FETCH (FLAGS ())",
            "* 2 FETCH (FLAGS ())",
            "A OK FETCH completed"
        ]
    );
}

#[tokio::test]
async fn other_sessions_see_flag_changes() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    srv.take_recent(ALICE).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    other.cmd("SELECT INBOX").await;
    c.cmd("STORE 2 +FLAGS.SILENT (\\Flagged)").await;
    c.cmd("UID STORE 3 FLAGS (\\Seen $Done)").await;
    let [flags, perm] = flags_told(" $Done");
    assert_eq!(
        other.cmd("NOOP").await,
        [
            flags.as_str(),
            &perm,
            "* 2 FETCH (UID 2 FLAGS (\\Flagged))",
            "* 3 FETCH (UID 3 FLAGS ($Done \\Seen))",
            "A OK NOOP completed"
        ]
    );
    // The session that stored does not hear its own change again.
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
    // Another session's change arrives even with a STORE of one's own, after its own
    // FETCH responses; an expunge elsewhere is held back until NOOP.
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    c.cmd("EXPUNGE").await;
    assert_eq!(
        other.cmd("STORE 3 -FLAGS ($Done)").await,
        [
            "* 3 FETCH (FLAGS (\\Seen))",
            "* 1 FETCH (UID 1 FLAGS (\\Deleted))",
            "A OK STORE completed"
        ]
    );
    assert_eq!(
        other.cmd("NOOP").await,
        ["* 1 EXPUNGE", "* 2 EXISTS", "A OK NOOP completed"]
    );
    assert_eq!(
        c.cmd("NOOP").await,
        ["* 2 FETCH (UID 3 FLAGS (\\Seen))", "A OK NOOP completed"]
    );
}

/// `* FLAGS` and `* OK [PERMANENTFLAGS]` for the system flags and these keywords, as a
/// session with the mailbox selected read-write is told them (RFC 3501 §7.2.6, §7.1).
fn flags_told(keywords: &str) -> [String; 2] {
    let system = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
    [
        format!("* FLAGS ({system}{keywords})"),
        format!("* OK [PERMANENTFLAGS ({system}{keywords} \\*)] Flags permitted"),
    ]
}

#[tokio::test]
async fn a_new_keyword_is_announced_in_flags_to_every_session_before_a_fetch_uses_it() {
    // RFC 3501 §7.2.6: "If the server ... allows the creation of new keywords, [it]
    // MUST send an untagged FLAGS response" when the defined flags change, and RFC 9051
    // §7.3.5 the same; no FETCH may show a flag that FLAGS has not defined (§7.4.2).
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    srv.take_recent(ALICE).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    other.cmd("SELECT INBOX").await;
    let [flags, perm] = flags_told(" $Todo");
    assert_eq!(
        c.cmd("STORE 1 +FLAGS ($Todo \\Seen)").await,
        [
            flags.as_str(),
            &perm,
            "* 1 FETCH (FLAGS ($Todo \\Seen))",
            "A OK STORE completed"
        ]
    );
    // Known now: not announced again.
    assert_eq!(
        c.cmd("STORE 2 +FLAGS ($Todo)").await,
        ["* 2 FETCH (FLAGS ($Todo))", "A OK STORE completed"]
    );
    assert_eq!(
        other.cmd("NOOP").await,
        [
            flags.as_str(),
            &perm,
            "* 1 FETCH (UID 1 FLAGS ($Todo \\Seen))",
            "* 2 FETCH (UID 2 FLAGS ($Todo))",
            "A OK NOOP completed"
        ]
    );
    // A session selecting later is told the keyword with SELECT's FLAGS.
    let mut late = srv.login(ALICE).await;
    let selected = late.cmd("SELECT INBOX").await;
    assert!(selected.contains(&flags), "{selected:?}");
    assert!(selected.contains(&perm), "{selected:?}");
    assert_eq!(
        late.cmd("FETCH 2 (FLAGS)").await,
        ["* 2 FETCH (FLAGS ($Todo))", "A OK FETCH completed"]
    );
}

#[tokio::test]
async fn nil_is_refused_as_a_flag_with_a_precise_bad() {
    // RFC 3501 §4.5: NIL is the nil of nstrings and lists. The grammar lets the atom
    // "NIL" stand as a keyword (flag-keyword = atom), but a client reading `FLAGS (NIL)`
    // back sees nil: STORE and APPEND refuse it with a BAD that says why, as Dovecot
    // does, and nothing is stored; the session goes on.
    let srv = start().await;
    srv.deliver(ALICE.0, 1).await;
    srv.take_recent(ALICE).await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    for cmd in [
        "STORE 1 +FLAGS NIL",
        "STORE 1 FLAGS (NIL)",
        "STORE 1 -FLAGS.SILENT (\\Seen nil)",
        "UID STORE 1 +FLAGS (Nil)",
    ] {
        assert_eq!(c.cmd(cmd).await, ["A BAD NIL is not a flag"], "{cmd}");
    }
    assert_eq!(
        c.cmd("APPEND INBOX (NIL) {1+}\r\nx").await,
        ["A BAD NIL is not a flag"]
    );
    assert_eq!(
        c.cmd("FETCH 1:* (FLAGS)").await,
        ["* 1 FETCH (FLAGS ())", "A OK FETCH completed"]
    );
    // NIL is still a keyword one may search for (it matches nothing).
    assert_eq!(
        c.cmd("SEARCH KEYWORD NIL").await,
        ["* SEARCH", "A OK SEARCH completed"]
    );
}

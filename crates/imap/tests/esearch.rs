//! ESEARCH (RFC 4731): SEARCH / UID SEARCH RETURN (MIN MAX COUNT ALL) answered with
//! `* ESEARCH (TAG ...)`, with CONDSTORE's MODSEQ, and BAD for what is not supported.

mod common;

use common::{ALICE, start};

#[tokio::test]
async fn search_return_options() {
    let srv = start().await;
    srv.deliver(ALICE.0, 5).await;
    let mut c = srv.login(ALICE).await;
    let caps = c.cmd("CAPABILITY").await;
    assert!(caps[0].contains(" ESEARCH"), "{caps:?}");
    c.cmd("SELECT INBOX").await;
    c.cmd("STORE 2,4 +FLAGS.SILENT (\\Seen)").await;

    for (cmd, reply) in [
        (
            "SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN",
            "* ESEARCH (TAG \"A\") MIN 1 MAX 5 COUNT 3 ALL 1,3,5",
        ),
        (
            "UID SEARCH RETURN (COUNT) SEEN",
            "* ESEARCH (TAG \"A\") UID COUNT 2",
        ),
        (
            "UID SEARCH RETURN (MAX MIN) 1:*",
            "* ESEARCH (TAG \"A\") UID MIN 1 MAX 5",
        ),
        // RETURN () is ALL.
        ("SEARCH RETURN () 2:4", "* ESEARCH (TAG \"A\") ALL 2:4"),
        // Nothing matches: only COUNT 0 is said.
        (
            "SEARCH RETURN (MIN MAX COUNT ALL) DELETED",
            "* ESEARCH (TAG \"A\") COUNT 0",
        ),
        (
            "SEARCH RETURN (ALL) CHARSET UTF-8 SUBJECT {9+}\r\nmessage 3",
            "* ESEARCH (TAG \"A\") ALL 4",
        ),
        // Without RETURN, IMAP4rev1's SEARCH stays as it was.
        ("SEARCH UNSEEN", "* SEARCH 1 3 5"),
    ] {
        assert_eq!(c.cmd(cmd).await, [reply, "A OK SEARCH completed"], "{cmd}");
    }

    // CONDSTORE: a MODSEQ criterion adds the highest MODSEQ of the matches.
    let r = c.cmd("FETCH 2 (MODSEQ)").await;
    let modseq: u64 = r[0]
        .split("MODSEQ (")
        .nth(1)
        .and_then(|x| x.split(')').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        c.cmd(&format!("UID SEARCH RETURN (ALL) MODSEQ {modseq}"))
            .await,
        [
            format!("* ESEARCH (TAG \"A\") UID ALL 2,4 MODSEQ {modseq}"),
            "A OK SEARCH completed".to_string()
        ]
    );

    // The response names the command's own tag.
    c.0.send_line("t.7 SEARCH RETURN (COUNT) ALL").await;
    assert_eq!(c.0.line().await.unwrap(), "* ESEARCH (TAG \"t.7\") COUNT 5");
    assert_eq!(c.0.line().await.unwrap(), "t.7 OK SEARCH completed");

    for (cmd, reply) in [
        (
            "SEARCH RETURN (FIRST) ALL",
            "A BAD Unknown SEARCH RETURN option",
        ),
        (
            "SEARCH RETURN (MIN MAX",
            "A BAD Malformed SEARCH RETURN options",
        ),
        (
            "SEARCH RETURN MIN ALL",
            "A BAD RETURN needs a parenthesised list",
        ),
        ("SEARCH RETURN (MIN) NONSENSE", "A BAD Malformed SEARCH"),
    ] {
        assert_eq!(c.cmd(cmd).await, [reply], "{cmd}");
    }
    // Not before SELECT: the validity table applies as to any SEARCH.
    c.cmd("UNSELECT").await;
    assert_eq!(
        c.cmd("SEARCH RETURN (COUNT) ALL").await,
        ["A BAD No mailbox selected"]
    );
}

#[tokio::test]
async fn esearch_modseq_is_the_highest_modseq_of_the_messages_returned() {
    // RFC 4731 §3.2 / RFC 7162 §3.1.5: with MIN and/or MAX alone, MODSEQ is the highest
    // MODSEQ of the message(s) returned; with ALL or COUNT, of every match.
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX (CONDSTORE)").await;
    // Message 2 changes last, so it has the highest MODSEQ; then 3, then 1.
    for n in [1, 3, 2] {
        c.cmd(&format!("STORE {n} +FLAGS.SILENT (\\Seen)")).await;
    }
    let r = c.cmd("FETCH 1:3 (MODSEQ)").await;
    let m: Vec<u64> = r[..3]
        .iter()
        .map(|l| {
            l.split("MODSEQ (")
                .nth(1)
                .unwrap()
                .split(')')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(m[1] > m[2] && m[2] > m[0], "{m:?}");
    for (ret, want) in [
        ("MIN", format!("MIN 1 MODSEQ {}", m[0])),
        ("MAX", format!("MAX 3 MODSEQ {}", m[2])),
        ("MIN MAX", format!("MIN 1 MAX 3 MODSEQ {}", m[2])),
        ("COUNT", format!("COUNT 3 MODSEQ {}", m[1])),
        ("MIN ALL", format!("MIN 1 ALL 1:3 MODSEQ {}", m[1])),
    ] {
        assert_eq!(
            c.cmd(&format!("SEARCH RETURN ({ret}) MODSEQ 1")).await,
            [
                format!("* ESEARCH (TAG \"A\") {want}"),
                "A OK SEARCH completed".to_string()
            ],
            "{ret}"
        );
    }
    // Nothing matches: no MODSEQ at all.
    assert_eq!(
        c.cmd(&format!("SEARCH RETURN (MIN) MODSEQ {}", m[1] + 1))
            .await,
        ["* ESEARCH (TAG \"A\")", "A OK SEARCH completed"]
    );
}

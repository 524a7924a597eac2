//! SEARCHRES (RFC 5182): SEARCH RETURN (SAVE) keeps its result; `$` stands for it in
//! FETCH, STORE, COPY, MOVE, UID EXPUNGE and SEARCH, as sequence numbers or UIDs as the
//! command wants. An empty `$` matches nothing; expunged messages drop out of it; SELECT,
//! EXAMINE, CLOSE and UNSELECT forget it.

mod common;

use common::{ALICE, start};

#[tokio::test]
async fn saved_result_stands_for_dollar() {
    let srv = start().await;
    srv.deliver(ALICE.0, 5).await;
    srv.take_recent(ALICE).await;
    let mut c = srv.login(ALICE).await;
    let caps = c.cmd("CAPABILITY").await;
    assert!(caps[0].contains(" SEARCHRES"), "{caps:?}");
    c.cmd("SELECT INBOX").await;

    let steps: &[(&str, &[&str])] = &[
        // Nothing saved yet: `$` is empty, valid, and matches nothing.
        ("FETCH $ (FLAGS)", &[]),
        ("SEARCH $", &["* SEARCH"]),
        ("STORE 2,4 +FLAGS.SILENT (\\Seen)", &[]),
        // SAVE alone answers nothing but the tagged OK (RFC 5182 §2.4).
        ("SEARCH RETURN (SAVE) UNSEEN", &[]),
        (
            "FETCH $ (UID)",
            &[
                "* 1 FETCH (UID 1)",
                "* 3 FETCH (UID 3)",
                "* 5 FETCH (UID 5)",
            ],
        ),
        ("SEARCH $", &["* SEARCH 1 3 5"]),
        ("SEARCH NOT $", &["* SEARCH 2 4"]),
        ("UID SEARCH UID $ SUBJECT \"message 2\"", &["* SEARCH 3"]),
        (
            "SEARCH RETURN (COUNT) OR $ SEEN",
            &["* ESEARCH (TAG \"A\") COUNT 5"],
        ),
        // SAVE with MIN and MAX only keeps those two (RFC 5182 §2.4) ...
        (
            "SEARCH RETURN (SAVE MIN MAX) ALL",
            &["* ESEARCH (TAG \"A\") MIN 1 MAX 5"],
        ),
        ("SEARCH $", &["* SEARCH 1 5"]),
        // ... with COUNT or ALL it keeps everything.
        (
            "UID SEARCH RETURN (MIN COUNT SAVE) SEEN",
            &["* ESEARCH (TAG \"A\") UID MIN 2 COUNT 2"],
        ),
        ("SEARCH $", &["* SEARCH 2 4"]),
        // A SEARCH naming `$` and saving uses the old result, then replaces it.
        ("SEARCH RETURN (SAVE) $ SUBJECT \"message 3\"", &[]),
        ("UID SEARCH $", &["* SEARCH 4"]),
        (
            "STORE $ +FLAGS (\\Flagged)",
            &["* 4 FETCH (FLAGS (\\Flagged \\Seen))"],
        ),
        (
            "UID FETCH $ (FLAGS)",
            &["* 4 FETCH (UID 4 FLAGS (\\Flagged \\Seen))"],
        ),
        // A BAD SEARCH with SAVE leaves the saved result alone (RFC 5182 §2.1).
        ("SEARCH $ KEYWORD $", &[]),
        ("SEARCH RETURN (SAVE) BOGUS", &[]),
        ("SEARCH $", &["* SEARCH 4"]),
        // A `$` in a literal or a quoted string is data, never the saved result.
        ("SEARCH $ NOT SUBJECT {1+}\r\n$", &["* SEARCH 4"]),
        ("SEARCH $ NOT SUBJECT \"$\"", &["* SEARCH 4"]),
    ];
    for &(cmd, reply) in steps {
        let r = c.cmd(cmd).await;
        let (tagged, untagged) = r.split_last().unwrap();
        assert_eq!(untagged, reply, "{cmd}");
        if cmd.contains("BOGUS") || cmd.contains("KEYWORD $") {
            assert!(tagged.starts_with("A BAD"), "{cmd}: {tagged}");
        } else {
            assert!(tagged.starts_with("A OK"), "{cmd}: {tagged}");
        }
    }
    assert_eq!(
        c.cmd("SEARCH $ KEYWORD $").await,
        ["A BAD Ambiguous $ in SEARCH; quote it if it is a string"]
    );
    // Each `$` is a copy of the saved result: a SEARCH may name only a few.
    assert_eq!(
        c.cmd(&format!("SEARCH{}", " OR $ $".repeat(5))).await,
        ["A BAD Too many $ in SEARCH"]
    );

    // COPY and MOVE take `$` too, with COPYUID as usual.
    let r = c.cmd("COPY $ Trash").await;
    assert!(
        r.len() == 1
            && r[0].starts_with("A OK [COPYUID ")
            && r[0].ends_with(" 4 1] COPY completed"),
        "{r:?}"
    );
    c.cmd("SEARCH RETURN (SAVE) SUBJECT \"message 0\"").await;
    let r = c.cmd("UID MOVE $ Trash").await;
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(
        r[0].starts_with("* OK [COPYUID ") && r[0].ends_with(" 1 2] Moved"),
        "{r:?}"
    );
    assert_eq!(r[1..], ["* 1 EXPUNGE", "A OK MOVE completed"]);
    // The moved message dropped out of `$`: it is empty now.
    assert_eq!(c.cmd("FETCH $ (UID)").await, ["A OK FETCH completed"]);
    assert_eq!(c.cmd("UID COPY $ Trash").await, ["A OK COPY completed"]);
    assert_eq!(c.cmd("UID EXPUNGE $").await, ["A OK EXPUNGE completed"]);
    assert_eq!(
        c.cmd("SEARCH NOT $").await,
        ["* SEARCH 1 2 3 4", "A OK SEARCH completed"]
    );
}

#[tokio::test]
async fn expunges_elsewhere_drop_out_and_select_forgets() {
    let srv = start().await;
    srv.deliver(ALICE.0, 4).await;
    srv.take_recent(ALICE).await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    c.cmd("SEARCH RETURN (SAVE) NOT SUBJECT \"message 3\"")
        .await;
    assert_eq!(
        c.cmd("SEARCH $").await,
        ["* SEARCH 1 2 3", "A OK SEARCH completed"]
    );

    // Another session expunges UID 2: once told, it is gone from `$`, and the
    // sequence numbers `$` stands for follow.
    let mut other = srv.login(ALICE).await;
    other.cmd("SELECT INBOX").await;
    other.cmd("UID STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    other.cmd("EXPUNGE").await;
    assert_eq!(
        c.cmd("NOOP").await,
        [
            "* 2 FETCH (UID 2 FLAGS (\\Deleted))",
            "* 2 EXPUNGE",
            "* 3 EXISTS",
            "A OK NOOP completed"
        ]
    );
    assert_eq!(
        c.cmd("FETCH $ (UID)").await,
        [
            "* 1 FETCH (UID 1)",
            "* 2 FETCH (UID 3)",
            "A OK FETCH completed"
        ]
    );
    assert_eq!(
        c.cmd("UID SEARCH $").await,
        ["* SEARCH 1 3", "A OK SEARCH completed"]
    );

    // UNSELECT, CLOSE, SELECT and EXAMINE each forget it.
    for leave in ["UNSELECT", "CLOSE", "EXAMINE INBOX", "SELECT INBOX"] {
        c.cmd("SELECT INBOX").await;
        c.cmd("SEARCH RETURN (SAVE) ALL").await;
        assert_eq!(
            c.cmd("SEARCH $").await,
            ["* SEARCH 1 2 3", "A OK SEARCH completed"]
        );
        let r = c.cmd(leave).await;
        assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
        if !leave.ends_with("INBOX") {
            c.cmd("EXAMINE INBOX").await;
        }
        assert_eq!(
            c.cmd("SEARCH $").await,
            ["* SEARCH", "A OK SEARCH completed"],
            "after {leave}"
        );
    }
    // Without a selected mailbox `$` is as refused as any FETCH.
    c.cmd("UNSELECT").await;
    assert_eq!(
        c.cmd("FETCH $ (FLAGS)").await,
        ["A BAD No mailbox selected"]
    );
}

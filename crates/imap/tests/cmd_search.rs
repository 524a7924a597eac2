//! SEARCH and UID SEARCH (RFC 3501 §6.4.4): flag, header, body, size, date and set keys,
//! AND by juxtaposition, OR, NOT and parentheses; CHARSET UTF-8 / US-ASCII, and
//! NO [BADCHARSET] for one the server does not know.

mod common;

use common::{ALICE, Client, append_mixed, start};

/// Four delivered messages (UIDs 1-4, "message 0".."message 3", sent today) and MIXED
/// (UID 5, dated 1994, \Flagged); 1-3 \Seen, 2 \Answered, 3 $Label.
async fn setup() -> (common::Server, Client) {
    let srv = start().await;
    srv.deliver(ALICE.0, 4).await;
    let mut c = srv.login(ALICE).await;
    append_mixed(&mut c).await;
    c.cmd("SELECT INBOX").await;
    c.cmd("STORE 1:3 +FLAGS.SILENT (\\Seen)").await;
    c.cmd("STORE 2 +FLAGS.SILENT (\\Answered)").await;
    c.cmd("STORE 3 +FLAGS.SILENT ($Label)").await;
    (srv, c)
}

#[tokio::test]
async fn search_keys() {
    let (_srv, mut c) = setup().await;
    for (criteria, hits) in [
        ("ALL", "1 2 3 4 5"),
        ("SEEN", "1 2 3"),
        ("UNSEEN", "4 5"),
        ("FLAGGED", "5"),
        ("UNFLAGGED", "1 2 3 4"),
        ("ANSWERED", "2"),
        ("UNANSWERED", "1 3 4 5"),
        ("DELETED", ""),
        ("UNDELETED", "1 2 3 4 5"),
        ("DRAFT", ""),
        ("KEYWORD $Label", "3"),
        ("UNKEYWORD $Label", "1 2 4 5"),
        ("NEW", ""),
        ("OLD", "1 2 3 4 5"),
        // Headers and text, case-insensitive substrings.
        ("SUBJECT \"message 2\"", "3"),
        ("SUBJECT MESSAGE", "1 2 3 4"),
        ("FROM ann", "5"),
        ("FROM remote.org", "1 2 3 4"),
        ("TO carol", "5"),
        ("CC dave", "5"),
        ("BCC dave", ""),
        ("HEADER Message-ID m1@", "2"),
        ("HEADER MIME-Version \"\"", "5"),
        ("BODY \"part one\"", "5"),
        ("BODY Subject", ""),
        ("TEXT multipart", "5"),
        ("TEXT \"body of 3\"", "4"),
        // Sizes: the delivered ones are 134 bytes.
        ("LARGER 134", "5"),
        ("SMALLER 135", "1 2 3 4"),
        // Dates: internal dates, and Date: headers.
        ("BEFORE 1-Jan-2000", "5"),
        ("SINCE 1-Jan-2000", "1 2 3 4"),
        ("ON 8-Feb-1994", "5"),
        ("SENTON 7-Feb-1994", "5"),
        ("SENTBEFORE 8-Feb-1994", "5"),
        ("SENTSINCE 8-Feb-1994", ""),
        // Sets, AND, OR, NOT, parentheses.
        ("2:4", "2 3 4"),
        ("4:*", "4 5"),
        ("*", "5"),
        ("2:4 NOT 3", "2 4"),
        ("SEEN UNANSWERED", "1 3"),
        ("OR FLAGGED ANSWERED", "2 5"),
        ("OR (SEEN KEYWORD $Label) FLAGGED", "3 5"),
        ("NOT (SEEN)", "4 5"),
        ("NOT OR SEEN FLAGGED", "4"),
        ("UID 2,4:5", "2 4 5"),
    ] {
        let want = if hits.is_empty() {
            "* SEARCH".to_string()
        } else {
            format!("* SEARCH {hits}")
        };
        assert_eq!(
            c.cmd(&format!("SEARCH {criteria}")).await,
            [want, "A OK SEARCH completed".to_string()],
            "{criteria}"
        );
    }
}

#[tokio::test]
async fn uid_search_and_charsets() {
    let (_srv, mut c) = setup().await;
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    c.cmd("EXPUNGE").await;
    // Now UIDs 2-5 are messages 1-4.
    for (cmd, reply) in [
        ("SEARCH SEEN", "* SEARCH 1 2"),
        ("UID SEARCH SEEN", "* SEARCH 2 3"),
        // A sequence set in UID SEARCH is still message numbers; UID names UIDs.
        ("UID SEARCH 1:2", "* SEARCH 2 3"),
        ("UID SEARCH UID 1:2", "* SEARCH 2"),
        ("SEARCH UID 5", "* SEARCH 4"),
        ("UID SEARCH UID 9:*", "* SEARCH 5"),
        ("UID SEARCH NOT ALL", "* SEARCH"),
        ("SEARCH CHARSET UTF-8 SUBJECT part", "* SEARCH 4"),
        ("SEARCH CHARSET us-ascii FROM ann", "* SEARCH 4"),
        (
            "UID SEARCH CHARSET UTF-8 SUBJECT {5+}\r\nMULTI",
            "* SEARCH 5",
        ),
    ] {
        assert_eq!(c.cmd(cmd).await, [reply, "A OK SEARCH completed"], "{cmd}");
    }
    // RFC 3501 §6.4.4: an unknown charset is NO (not BAD), naming the known ones.
    for cmd in [
        "SEARCH CHARSET X-UNKNOWN ALL",
        "UID SEARCH CHARSET ISO-8859-99 SUBJECT x",
    ] {
        assert_eq!(
            c.cmd(cmd).await,
            ["A NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset"],
            "{cmd}"
        );
    }
}

#[tokio::test]
async fn search_refusals() {
    let (srv, mut c) = setup().await;
    for cmd in [
        "A SEARCH",
        "A SEARCH BOGUS",
        "A SEARCH OR SEEN",
        "A SEARCH 0",
    ] {
        c.0.send_line(cmd).await;
        assert_eq!(c.line().await, "A BAD Malformed command", "{cmd}");
    }
    // Numbers beyond the mailbox simply match nothing.
    assert_eq!(
        c.cmd("SEARCH 9").await,
        ["* SEARCH", "A OK SEARCH completed"]
    );
    c.cmd("UNSELECT").await;
    assert_eq!(c.cmd("SEARCH ALL").await, ["A BAD No mailbox selected"]);
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("SEARCH ALL").await, ["A BAD Log in first"]);
}

#[tokio::test]
async fn address_keys_match_decoded_addresses_as_well_as_the_raw_header() {
    // RFC 3501 §6.4.4: FROM/TO/CC/BCC match "the ... structure's field". What a user
    // types is what the client shows: the decoded display name (RFC 2047 encoded words,
    // quoted phrases), the address, "name <address>", a group's name (RFC 5322 §3.4).
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let messages = [
        "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>\r\nTo: \"Doe, Jane\" <jane@example.org>\r\nSubject: one\r\n\r\nx\r\n",
        "From: ann@example.org (Ann Example)\r\nTo: Team: =?ISO-8859-1?Q?Fran=E7ois?= <f@example.fr>,\r\n bob@example.net;\r\nCc: undisclosed-recipients:;\r\nBcc: =?UTF-8?B?w4lsb2RpZQ==?= <elodie@example.fr>\r\nSubject: two\r\n\r\nx\r\n",
    ];
    for m in messages {
        let r = c
            .cmd(&format!("APPEND INBOX {{{}+}}\r\n{m}", m.len()))
            .await;
        assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
    }
    c.cmd("SELECT INBOX").await;
    let utf8 = |key: &str, s: &str| format!("SEARCH CHARSET UTF-8 {key} {{{}+}}\r\n{s}", s.len());
    for (cmd, hits) in [
        // Encoded words, decoded.
        (utf8("FROM", "Jürgen"), "1"),
        (utf8("FROM", "jürgen müller <jm@"), "1"),
        (utf8("TO", "François"), "2"),
        (utf8("BCC", "Élodie <elodie@example.fr>"), "2"),
        // The quoted phrase's display name, with the address as a client shows it.
        ("SEARCH TO \"Doe, Jane <jane@example.org>\"".into(), "1"),
        // A comment-style name (RFC 5322 obsolete form) still matches raw and decoded.
        ("SEARCH FROM \"Ann Example\"".into(), "2"),
        // Groups: by the group's name, by a member, an empty group by its name.
        ("SEARCH TO Team".into(), "2"),
        ("SEARCH TO bob@example.net".into(), "2"),
        ("SEARCH CC undisclosed-recipients".into(), "2"),
        // The raw header still counts (the encoded word as it stands).
        ("SEARCH FROM \"=?UTF-8?Q?J\"".into(), "1"),
        ("SEARCH FROM example.org".into(), "2"),
        (utf8("FROM", "Élodie"), ""),
    ] {
        let want = if hits.is_empty() {
            "* SEARCH".to_string()
        } else {
            format!("* SEARCH {hits}")
        };
        assert_eq!(
            c.cmd(&cmd).await,
            [want, "A OK SEARCH completed".to_string()],
            "{cmd}"
        );
    }
}

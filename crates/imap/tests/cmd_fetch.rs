//! FETCH and UID FETCH (RFC 3501 §6.4.5): FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE,
//! BODY and BODYSTRUCTURE of a multipart message, BODY[section] with HEADER.FIELDS,
//! HEADER.FIELDS.NOT, TEXT, MIME and partial ranges, RFC822*, the macros; BODY[] sets
//! \Seen (and says so) where BODY.PEEK[] does not; UID FETCH adds UID; ENVELOPE keeps groups.

mod common;

use common::{ALICE, Client, MIXED, append_mixed, start};

/// Two delivered messages (UIDs 1-2) and MIXED (UID 3, \Flagged, dated 1994), selected.
async fn setup() -> (common::Server, Client) {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    let mut c = srv.login(ALICE).await;
    append_mixed(&mut c).await;
    c.cmd("SELECT INBOX").await;
    (srv, c)
}

#[tokio::test]
async fn attributes_envelope_and_structure() {
    let (_srv, mut c) = setup().await;
    assert_eq!(
        c.cmd("FETCH 3 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)")
            .await,
        [
            format!(
                "* 3 FETCH (FLAGS (\\Flagged) INTERNALDATE \"08-Feb-1994 05:52:25 +0000\" RFC822.SIZE {} ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800\" \"multi part\" ((\"Ann Example\" NIL \"ann\" \"example.org\")) ((\"Ann Example\" NIL \"ann\" \"example.org\")) ((\"Ann Example\" NIL \"ann\" \"example.org\")) ((\"Bob\" NIL \"bob\" \"example.net\")(NIL NIL \"carol\" \"example.net\")) ((NIL NIL \"dave\" \"example.net\")) NIL NIL \"<mp1@example.org>\"))",
                MIXED.len()
            ),
            "A OK FETCH completed".to_string()
        ]
    );
    let structure = "((\"TEXT\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 29 0)(\"TEXT\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"quoted-printable\" 10 0) \"mixed\")";
    assert_eq!(
        c.cmd("FETCH 3 (BODYSTRUCTURE)").await,
        [
            format!("* 3 FETCH (BODYSTRUCTURE {structure})"),
            "A OK FETCH completed".to_string()
        ]
    );
    assert_eq!(
        c.cmd("FETCH 3 BODY").await,
        [
            format!("* 3 FETCH (BODY {structure})"),
            "A OK FETCH completed".to_string()
        ]
    );
    // A one-part message.
    assert_eq!(
        c.cmd("FETCH 1 (BODYSTRUCTURE ENVELOPE)").await,
        [
            "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 31 2) ENVELOPE (NIL \"message 0\" ((\"Sender\" NIL \"x\" \"remote.org\")) ((\"Sender\" NIL \"x\" \"remote.org\")) ((\"Sender\" NIL \"x\" \"remote.org\")) ((NIL NIL \"alice\" \"example.com\")) NIL NIL NIL \"<m0@remote.org>\"))",
            "A OK FETCH completed"
        ]
    );
    // Macros: FAST, ALL (adds ENVELOPE), FULL (adds BODY). Read FAST's INTERNALDATE.
    let fast = c.cmd("FETCH 2 FAST").await;
    assert!(
        fast[0].starts_with("* 2 FETCH (FLAGS () INTERNALDATE \""),
        "{fast:?}"
    );
    assert!(fast[0].ends_with("\" RFC822.SIZE 134)"), "{fast:?}");
    let all = c.cmd("FETCH 2 ALL").await;
    assert!(all[0].starts_with(&fast[0][..fast[0].len() - 1]), "{all:?}");
    assert!(all[0].contains(" ENVELOPE (NIL \"message 1\" "), "{all:?}");
    let full = c.cmd("FETCH 2 FULL").await;
    assert!(full[0].starts_with(&all[0][..all[0].len() - 1]), "{full:?}");
    assert!(
        full[0].ends_with(
            " BODY (\"TEXT\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 31 2))"
        ),
        "{full:?}"
    );
    // No \Seen from any of that.
    assert_eq!(
        c.cmd("FETCH 1:* (FLAGS)").await,
        [
            "* 1 FETCH (FLAGS ())",
            "* 2 FETCH (FLAGS ())",
            "* 3 FETCH (FLAGS (\\Flagged))",
            "A OK FETCH completed"
        ]
    );
}

#[tokio::test]
async fn body_sections_and_seen() {
    let (srv, mut c) = setup().await;
    let mut other = srv.login(ALICE).await;
    other.cmd("SELECT INBOX").await;
    assert_eq!(
        c.cmd("FETCH 3 (BODY.PEEK[HEADER.FIELDS (Subject From)])")
            .await,
        [
            "* 3 FETCH (BODY[HEADER.FIELDS (Subject From)] {60}",
            "From: Ann Example <ann@example.org>",
            "Subject: multi part",
            "",
            ")",
            "A OK FETCH completed"
        ]
    );
    assert_eq!(
        c.cmd("FETCH 3 (BODY.PEEK[HEADER.FIELDS.NOT (From To Cc Subject Date Message-ID MIME-Version)])")
            .await,
        [
            "* 3 FETCH (BODY[HEADER.FIELDS.NOT (From To Cc Subject Date Message-ID MIME-Version)] {48}",
            "Content-Type: multipart/mixed; boundary=\"XX\"",
            "",
            ")",
            "A OK FETCH completed"
        ]
    );
    assert_eq!(
        c.cmd("FETCH 3 (BODY.PEEK[1] BODY.PEEK[2.MIME])").await,
        [
            "* 3 FETCH (BODY[1] {29}",
            "hello world, this is part one BODY[2.MIME] {72}",
            "Content-Type: text/html",
            "Content-Transfer-Encoding: quoted-printable",
            "",
            ")",
            "A OK FETCH completed"
        ]
    );
    assert_eq!(
        c.cmd("FETCH 3 (BODY.PEEK[1]<6.5> BODY.PEEK[1]<100.5>)")
            .await,
        [
            "* 3 FETCH (BODY[1]<6> {5}",
            "world BODY[1]<100> {0}",
            ")",
            "A OK FETCH completed"
        ]
    );
    // Nothing so far set \Seen, so other sessions heard nothing.
    assert_eq!(other.cmd("NOOP").await, ["A OK NOOP completed"]);

    // BODY[...] without PEEK sets \Seen, and the response says so.
    assert_eq!(
        c.cmd("FETCH 3 BODY[1]<0.10>").await,
        [
            "* 3 FETCH (BODY[1]<0> {10}",
            "hello worl FLAGS (\\Flagged \\Seen))",
            "A OK FETCH completed"
        ]
    );
    assert_eq!(
        other.cmd("NOOP").await,
        [
            "* 3 FETCH (UID 3 FLAGS (\\Flagged \\Seen))",
            "A OK NOOP completed"
        ]
    );
    assert_eq!(
        c.cmd("FETCH 1 (BODY[TEXT])").await,
        [
            "* 1 FETCH (BODY[TEXT] {31}",
            "body of 0",
            ".starts with a dot",
            " FLAGS (\\Seen))",
            "A OK FETCH completed"
        ]
    );
    // RFC822.HEADER does not set \Seen; RFC822.TEXT does.
    assert_eq!(
        c.cmd("FETCH 2 (RFC822.HEADER)").await,
        [
            "* 2 FETCH (RFC822.HEADER {103}",
            "From: Sender <x@remote.org>",
            "To: alice@example.com",
            "Subject: message 1",
            "Message-ID: <m1@remote.org>",
            "",
            ")",
            "A OK FETCH completed"
        ]
    );
    assert_eq!(
        c.cmd("FETCH 2 (FLAGS RFC822.TEXT)").await,
        [
            "* 2 FETCH (FLAGS (\\Seen) RFC822.TEXT {31}",
            "body of 1",
            ".starts with a dot",
            ")",
            "A OK FETCH completed"
        ]
    );
}

#[tokio::test]
async fn uid_fetch_and_refusals() {
    let (srv, mut c) = setup().await;
    assert_eq!(
        c.cmd("UID FETCH 2:* (FLAGS)").await,
        [
            "* 2 FETCH (UID 2 FLAGS ())",
            "* 3 FETCH (UID 3 FLAGS (\\Flagged))",
            "A OK UID FETCH completed"
        ]
    );
    assert_eq!(
        c.cmd("UID FETCH 1,3 (UID RFC822.SIZE)").await,
        [
            "* 1 FETCH (UID 1 RFC822.SIZE 134)",
            format!("* 3 FETCH (UID 3 RFC822.SIZE {})", MIXED.len()).as_str(),
            "A OK UID FETCH completed"
        ]
    );
    // UIDs that do not exist are no error.
    assert_eq!(
        c.cmd("UID FETCH 99 (FLAGS)").await,
        ["A OK UID FETCH completed"]
    );
    // After an expunge, numbers and UIDs part ways.
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    c.cmd("EXPUNGE").await;
    assert_eq!(
        c.cmd("FETCH 2 (UID)").await,
        ["* 2 FETCH (UID 3)", "A OK FETCH completed"]
    );
    assert_eq!(
        c.cmd("UID FETCH 3 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            .await,
        [
            "* 2 FETCH (UID 3 BODY[HEADER.FIELDS (SUBJECT)] {23}",
            "Subject: multi part",
            "",
            ")",
            "A OK UID FETCH completed"
        ]
    );
    assert_eq!(
        c.cmd("FETCH 3 (FLAGS)").await,
        ["A BAD Invalid message sequence number"]
    );
    for cmd in ["A FETCH 0 (FLAGS)", "A FETCH 1 (BOGUS)", "A FETCH 1"] {
        c.0.send_line(cmd).await;
        assert_eq!(c.line().await, "A BAD Malformed command", "{cmd}");
    }
    c.cmd("UNSELECT").await;
    assert_eq!(
        c.cmd("FETCH 1 (FLAGS)").await,
        ["A BAD No mailbox selected"]
    );
    assert_eq!(
        c.cmd("UID FETCH 1 (FLAGS)").await,
        ["A BAD No mailbox selected"]
    );
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("FETCH 1 (FLAGS)").await, ["A BAD Log in first"]);
}

#[tokio::test]
async fn envelope_keeps_groups_with_their_start_and_end_markers() {
    // RFC 3501 §7.4.2: "[RFC-2822] group syntax is indicated by a special form of address
    // structure in which the host name field is NIL. If the mailbox name field is also
    // NIL, this is an end of group marker (semi-colon in RFC 822 syntax). If the mailbox
    // name field is non-NIL, this is a start of group marker, and the mailbox name field
    // holds the group name phrase." An empty group (RFC 5322 §3.4) is the two markers.
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let msg = "From: a@example.org\r\n\
               To: Team: Bob <bob@example.net>, carol@example.net;, dave@example.net\r\n\
               Cc: undisclosed-recipients:;\r\n\
               Subject: g\r\n\r\nhi\r\n";
    let r = c
        .cmd(&format!("APPEND INBOX {{{}+}}\r\n{msg}", msg.len()))
        .await;
    assert!(r[0].starts_with("A OK"), "{r:?}");
    c.cmd("SELECT INBOX").await;
    assert_eq!(
        c.cmd("FETCH 1 (ENVELOPE)").await,
        [
            "* 1 FETCH (ENVELOPE (NIL \"g\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"Team\" NIL)(\"Bob\" NIL \"bob\" \"example.net\")(NIL NIL \"carol\" \"example.net\")(NIL NIL NIL NIL)(NIL NIL \"dave\" \"example.net\")) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL))",
            "A OK FETCH completed"
        ]
    );
}

#[tokio::test]
async fn text_of_an_encapsulated_message_is_its_body_without_its_header() {
    // RFC 3501 §6.4.5: "1.TEXT" where part 1 is MESSAGE/RFC822 is the text body of the
    // encapsulated message (its header is 1.HEADER, its MIME header 1.MIME); the CRLF
    // before the outer boundary belongs to the boundary (RFC 2046 §5.1.1). A message
    // that is itself MESSAGE/RFC822 has one part, 1, the encapsulated message.
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let nested = "Subject: outer\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\nplain\r\n--i--\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--o--\r\n";
    let forwarded =
        "Subject: fwd\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner2\r\n\r\ninner text\r\n";
    for m in [nested, forwarded] {
        c.cmd(&format!("APPEND INBOX {{{}+}}\r\n{m}", m.len()))
            .await;
    }
    c.cmd("SELECT INBOX").await;
    assert_eq!(
        c.cmd("FETCH 1 (BODY.PEEK[1.TEXT] BODY.PEEK[1.HEADER] BODY.PEEK[1.MIME] BODY.PEEK[1.1])")
            .await,
        [
            "* 1 FETCH (BODY[1.TEXT] {47}",
            "--i",
            "Content-Type: text/plain",
            "",
            "plain",
            "--i--",
            " BODY[1.HEADER] {67}",
            "Subject: inner",
            "Content-Type: multipart/alternative; boundary=i",
            "",
            " BODY[1.MIME] {32}",
            "Content-Type: message/rfc822",
            "",
            " BODY[1.1] {5}",
            "plain)",
            "A OK FETCH completed"
        ]
    );
    assert_eq!(
        c.cmd("FETCH 2 (BODY.PEEK[1.TEXT] BODY.PEEK[1.HEADER] BODY.PEEK[1.TEXT]<6.4>)")
            .await,
        [
            "* 2 FETCH (BODY[1.TEXT] {12}",
            "inner text",
            " BODY[1.HEADER] {19}",
            "Subject: inner2",
            "",
            " BODY[1.TEXT]<6> {4}",
            "text)",
            "A OK FETCH completed"
        ]
    );
}

//! APPEND (RFC 3501 §6.3.11, RFC 4315 APPENDUID, RFC 7888 LITERAL+): flags and internal
//! date kept; synchronising and non-synchronising literals; NO [TRYCREATE] for a mailbox
//! that does not exist; the selected session and others see the new message.

mod common;

use common::{ALICE, Client, start, status_item};

#[tokio::test]
async fn append_forms_flags_and_dates() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    let st = c.cmd("STATUS INBOX (UIDVALIDITY)").await;
    let inbox = status_item(&st[0], "UIDVALIDITY");
    let st = c.cmd("STATUS Drafts (UIDVALIDITY)").await;
    let drafts = status_item(&st[0], "UIDVALIDITY");
    other.cmd("SELECT INBOX").await;

    // Not selected: no EXISTS, only the tagged OK with APPENDUID.
    assert_eq!(
        c.cmd("APPEND INBOX (\\Seen $Important) \"17-Jul-1996 02:44:25 -0700\" {12+}\r\nSubject: a\r\n")
            .await,
        [format!("A OK [APPENDUID {inbox} 3] APPEND completed")]
    );
    // Synchronising literal: the server asks for it first.
    c.0.send_line("A APPEND Drafts (\\Draft) {12}").await;
    assert!(c.line().await.starts_with("+ "));
    c.0.send(b"Subject: d\r\n\r\n").await;
    assert_eq!(
        c.until_tagged().await,
        [format!("A OK [APPENDUID {drafts} 1] APPEND completed")]
    );

    // The other session learns of the INBOX one, and of its new keyword first.
    let system = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
    assert_eq!(
        other.cmd("NOOP").await,
        [
            format!("* FLAGS ({system} $Important)"),
            format!("* OK [PERMANENTFLAGS ({system} $Important \\*)] Flags permitted"),
            "* 3 EXISTS".into(),
            "* 3 RECENT".into(),
            "A OK NOOP completed".into()
        ]
    );
    assert_eq!(
        other
            .cmd("FETCH 3 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
            .await,
        [
            "* 3 FETCH (UID 3 FLAGS ($Important \\Seen \\Recent) INTERNALDATE \"17-Jul-1996 09:44:25 +0000\" RFC822.SIZE 12 BODY[] {12}",
            "Subject: a",
            ")",
            "A OK FETCH completed"
        ]
    );

    // Selected: the new message is told with the APPEND.
    c.cmd("SELECT Drafts").await;
    assert_eq!(
        c.cmd("APPEND Drafts {12+}\r\nSubject: e\r\n").await,
        [
            "* 2 EXISTS".to_string(),
            "* 2 RECENT".to_string(),
            format!("A OK [APPENDUID {drafts} 2] APPEND completed")
        ]
    );
    assert_eq!(
        c.cmd("UID FETCH 1:* (FLAGS RFC822.SIZE)").await,
        [
            // The first session to select Drafts gets both as recent.
            "* 1 FETCH (UID 1 FLAGS (\\Draft \\Recent) RFC822.SIZE 12)",
            "* 2 FETCH (UID 2 FLAGS (\\Recent) RFC822.SIZE 12)",
            "A OK UID FETCH completed"
        ]
    );
}

#[tokio::test]
async fn append_refusals() {
    let srv = start().await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(
        u.cmd("APPEND INBOX {1+}\r\nx").await,
        ["A BAD Log in first"]
    );
    let mut c = srv.login(ALICE).await;
    assert_eq!(
        c.cmd("APPEND Nowhere {12+}\r\nSubject: a\r\n").await,
        ["A NO [TRYCREATE] No such mailbox"]
    );
    assert_eq!(
        c.cmd("APPEND INBOX (\\Bogus) {12+}\r\nSubject: a\r\n")
            .await,
        ["A BAD Unknown system flag"]
    );
    // After CREATE, as TRYCREATE suggests, it works.
    c.cmd("CREATE Nowhere").await;
    let r = c.cmd("APPEND Nowhere {12+}\r\nSubject: a\r\n").await;
    assert!(r[0].starts_with("A OK [APPENDUID "), "{r:?}");
    for cmd in [
        "A APPEND INBOX",
        "A APPEND INBOX \"not a date\" {1+}\r\nx",
        "A APPEND INBOX (\\Seen",
    ] {
        c.0.send_line(cmd).await;
        assert_eq!(c.line().await, "A BAD Malformed command", "{cmd}");
    }
    assert_eq!(
        c.cmd("STATUS INBOX (MESSAGES)").await,
        ["* STATUS INBOX (MESSAGES 0)", "A OK STATUS completed"]
    );
}

#[tokio::test]
async fn a_keyword_new_with_an_appended_message_is_announced_in_flags_with_its_exists() {
    // RFC 3501 §7.2.6 / RFC 9051 §7.3.5: a session with the mailbox selected is told the
    // new keyword in FLAGS (and PERMANENTFLAGS) before any FETCH can show it; the
    // session that appended into its own selected mailbox too.
    let srv = start().await;
    srv.deliver(ALICE.0, 1).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    other.cmd("SELECT INBOX").await;
    let system = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
    let flags = format!("* FLAGS ({system} $Invoice)");
    let perm = format!("* OK [PERMANENTFLAGS ({system} $Invoice \\*)] Flags permitted");
    let st = c.cmd("STATUS INBOX (UIDVALIDITY)").await;
    let inbox = status_item(&st[0], "UIDVALIDITY");
    assert_eq!(
        c.cmd("APPEND INBOX ($Invoice) {12+}\r\nSubject: i\r\n")
            .await,
        [
            flags.clone(),
            perm.clone(),
            "* 2 EXISTS".into(),
            // RFC 3501 §7.3.2: this session is the first told of it, so it is recent here.
            "* 2 RECENT".into(),
            format!("A OK [APPENDUID {inbox} 2] APPEND completed")
        ]
    );
    assert_eq!(
        other.cmd("NOOP").await,
        [flags.as_str(), &perm, "* 2 EXISTS", "A OK NOOP completed"]
    );
    assert_eq!(
        other.cmd("FETCH 2 (FLAGS)").await,
        ["* 2 FETCH (FLAGS ($Invoice))", "A OK FETCH completed"]
    );
}

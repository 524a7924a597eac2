//! COPY and UID COPY (RFC 3501 §6.4.7, RFC 4315 COPYUID): flags and internal dates go
//! along; COPYUID pairs source and destination UIDs; NO [TRYCREATE] for a mailbox that
//! does not exist; allowed from a read-only mailbox; sessions on the target see EXISTS.

mod common;

use common::{ALICE, Client, start, status_item};

#[tokio::test]
async fn copy_and_uid_copy() {
    let srv = start().await;
    srv.deliver(ALICE.0, 4).await;
    let mut c = srv.login(ALICE).await;
    let mut watcher = srv.login(ALICE).await;
    let sent = status_item(&c.cmd("STATUS Sent (UIDVALIDITY)").await[0], "UIDVALIDITY");
    let inbox = status_item(&c.cmd("STATUS INBOX (UIDVALIDITY)").await[0], "UIDVALIDITY");
    watcher.cmd("SELECT Sent").await;
    c.cmd("SELECT INBOX").await;
    c.cmd("STORE 3 +FLAGS.SILENT (\\Flagged $Keep)").await;
    let date = c.cmd("FETCH 3 (INTERNALDATE)").await[0].clone();
    let date = date
        .split("INTERNALDATE ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')')
        .to_string();

    assert_eq!(
        c.cmd("COPY 1,3 Sent").await,
        [format!("A OK [COPYUID {sent} 1,3 1:2] COPY completed")]
    );
    assert_eq!(
        c.cmd("UID COPY 2:4 Sent").await,
        [format!("A OK [COPYUID {sent} 2:4 3:5] COPY completed")]
    );
    // UIDs that do not exist: nothing copied, no COPYUID.
    assert_eq!(c.cmd("UID COPY 99 Sent").await, ["A OK COPY completed"]);
    // The copy keeps flags and internal date; the source is untouched. The copied
    // keyword is new to Sent's session: FLAGS first (RFC 3501 §7.2.6).
    let system = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
    assert_eq!(
        watcher.cmd("NOOP").await,
        [
            format!("* FLAGS ({system} $Keep)"),
            format!("* OK [PERMANENTFLAGS ({system} $Keep \\*)] Flags permitted"),
            "* 5 EXISTS".into(),
            "* 5 RECENT".into(),
            "A OK NOOP completed".into()
        ]
    );
    assert_eq!(
        watcher
            .cmd("UID FETCH 2 (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (Subject)])")
            .await,
        [
            format!(
                "* 2 FETCH (UID 2 FLAGS ($Keep \\Flagged \\Recent) INTERNALDATE {date} BODY[HEADER.FIELDS (Subject)] {{22}}"
            ),
            "Subject: message 2".to_string(),
            String::new(),
            ")".to_string(),
            "A OK UID FETCH completed".to_string()
        ]
    );
    assert_eq!(
        c.cmd("STATUS INBOX (MESSAGES)").await,
        ["* STATUS INBOX (MESSAGES 4)", "A OK STATUS completed"]
    );
    // Into the selected mailbox itself: told as EXISTS with the COPY.
    assert_eq!(
        c.cmd("COPY 1 INBOX").await,
        [
            "* 5 EXISTS".to_string(),
            "* 5 RECENT".to_string(),
            format!("A OK [COPYUID {inbox} 1 5] COPY completed")
        ]
    );
    // From a read-only mailbox copying is fine.
    c.cmd("EXAMINE Sent").await;
    let r = c.cmd("COPY 1 Trash").await;
    assert!(
        r[0].starts_with("A OK [COPYUID ") && r[0].ends_with(" 1 1] COPY completed"),
        "{r:?}"
    );
}

#[tokio::test]
async fn copy_refusals() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("COPY 1 Sent").await, ["A BAD Log in first"]);
    let mut c = srv.login(ALICE).await;
    assert_eq!(c.cmd("COPY 1 Sent").await, ["A BAD No mailbox selected"]);
    c.cmd("SELECT INBOX").await;
    assert_eq!(
        c.cmd("COPY 1 Nowhere").await,
        ["A NO [TRYCREATE] No such mailbox"]
    );
    assert_eq!(
        c.cmd("UID COPY 1 Nowhere").await,
        ["A NO [TRYCREATE] No such mailbox"]
    );
    assert_eq!(
        c.cmd("COPY 3 Sent").await,
        ["A BAD Invalid message sequence number"]
    );
    c.0.send_line("A COPY 1").await;
    assert_eq!(c.line().await, "A BAD Malformed command");
    assert_eq!(
        c.cmd("STATUS Sent (MESSAGES)").await,
        ["* STATUS Sent (MESSAGES 0)", "A OK STATUS completed"]
    );
}

//! UTF8=ACCEPT (RFC 6855) and IMAP4rev2 (RFC 9051) for clients that enable them: mailbox
//! names in UTF-8 both ways instead of modified UTF-7; for IMAP4rev2 also no RECENT or
//! UNSEEN on SELECT but a LIST of the mailbox, SEARCH answered with ESEARCH, and LIST
//! per RFC 5258.

mod common;

use common::{ALICE, start};

#[tokio::test]
async fn utf8_accept_mailbox_names() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let caps = c.cmd("CAPABILITY").await;
    assert!(
        caps[0].starts_with("* CAPABILITY IMAP4REV1 IMAP4rev2 ")
            && caps[0].split(' ').any(|c| c == "UTF8=ACCEPT"),
        "{caps:?}"
    );
    // Before ENABLE: modified UTF-7 both ways.
    c.cmd("CREATE Entw&APw-rfe").await;
    assert_eq!(
        c.cmd("LIST \"\" Entw*").await,
        [
            "* LIST (\\HasNoChildren) \"/\" Entw&APw-rfe",
            "A OK LIST completed"
        ]
    );
    assert_eq!(
        c.cmd("ENABLE UTF8=ACCEPT").await,
        ["* ENABLED UTF8=ACCEPT", "A OK ENABLE completed"]
    );
    // After: UTF-8 both ways; "&" is just a character now.
    assert_eq!(
        c.cmd("LIST \"\" Entw*").await,
        [
            "* LIST (\\HasNoChildren) \"/\" \"Entwürfe\"",
            "A OK LIST completed"
        ]
    );
    assert_eq!(
        c.cmd("CREATE \"Grüße/Ärger\"").await,
        ["A OK CREATE completed"]
    );
    assert_eq!(
        c.cmd("LIST \"\" Gr*").await,
        [
            "* LIST (\\HasChildren) \"/\" \"Grüße\"",
            "* LIST (\\HasNoChildren) \"/\" \"Grüße/Ärger\"",
            "A OK LIST completed"
        ]
    );
    assert_eq!(
        c.cmd(&format!(
            "STATUS {{{}+}}\r\nGrüße/Ärger (MESSAGES)",
            "Grüße/Ärger".len()
        ))
        .await,
        [
            "* STATUS \"Grüße/Ärger\" (MESSAGES 0)",
            "A OK STATUS completed"
        ]
    );
    assert_eq!(c.cmd("SELECT Entw&APw-rfe").await, ["A NO No such mailbox"]);
    let r = c.cmd("SELECT \"Entwürfe\"").await;
    assert_eq!(r.last().unwrap(), "A OK [READ-WRITE] SELECT completed");

    // Another session without UTF8=ACCEPT still sees modified UTF-7.
    let mut old = srv.login(ALICE).await;
    assert_eq!(
        old.cmd("LIST \"\" Gr*").await,
        [
            "* LIST (\\HasChildren) \"/\" Gr&APwA3w-e",
            "* LIST (\\HasNoChildren) \"/\" Gr&APwA3w-e/&AMQ-rger",
            "A OK LIST completed"
        ]
    );
}

#[tokio::test]
async fn imap4rev2_when_enabled() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut c = srv.login(ALICE).await;
    c.cmd("CREATE \"Grüße\"").await;
    assert_eq!(
        c.cmd("ENABLE IMAP4rev2").await,
        ["* ENABLED IMAP4rev2", "A OK ENABLE completed"]
    );
    let r = c.cmd("SELECT INBOX").await;
    let validity = r
        .iter()
        .find_map(|l| l.strip_prefix("* OK [UIDVALIDITY "))
        .and_then(|l| l.split(']').next())
        .unwrap()
        .to_string();
    assert_eq!(
        r,
        [
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)".to_string(),
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted".to_string(),
            "* 3 EXISTS".to_string(),
            "* LIST () \"/\" INBOX".to_string(),
            format!("* OK [UIDVALIDITY {validity}] UIDs valid"),
            "* OK [UIDNEXT 4] Predicted next UID".to_string(),
            "* OK [HIGHESTMODSEQ 4] Highest".to_string(),
            "A OK [READ-WRITE] SELECT completed".to_string(),
        ]
    );
    c.cmd("STORE 2 +FLAGS.SILENT (\\Seen)").await;
    assert_eq!(
        c.cmd("SEARCH UNSEEN").await,
        ["* ESEARCH (TAG \"A\") ALL 1,3", "A OK SEARCH completed"]
    );
    assert_eq!(
        c.cmd("UID SEARCH RETURN (COUNT) ALL").await,
        ["* ESEARCH (TAG \"A\") UID COUNT 3", "A OK SEARCH completed"]
    );
    assert_eq!(
        c.cmd("LIST \"\" Gr%").await,
        [
            "* LIST (\\HasNoChildren) \"/\" \"Grüße\"",
            "A OK LIST completed"
        ]
    );
    assert_eq!(
        c.cmd("STATUS INBOX (MESSAGES DELETED)").await,
        [
            "* STATUS INBOX (MESSAGES 3 DELETED 0)",
            "A OK STATUS completed"
        ]
    );
    let r = c.cmd("EXAMINE \"Grüße\"").await;
    assert_eq!(r[0], "* OK [CLOSED] Previous mailbox closed");
    assert!(
        r.contains(&"* LIST () \"/\" \"Grüße\"".to_string()),
        "{r:?}"
    );
}

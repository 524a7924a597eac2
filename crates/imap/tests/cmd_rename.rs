//! RENAME (RFC 3501 §6.3.5): children move along, missing parents of the new name are
//! created, a mailbox keeps its UIDVALIDITY and role; renaming INBOX moves its messages
//! to the new name and leaves an empty INBOX (its children stay).

mod common;

use common::{ALICE, Client, start, status_item};

#[tokio::test]
async fn rename_with_children() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("CREATE a/b").await;
    c.cmd("APPEND a {12+}\r\nSubject: x\r\n").await;
    let st = c.cmd("STATUS a (UIDVALIDITY)").await;
    let validity = status_item(&st[0], "UIDVALIDITY");

    assert_eq!(c.cmd("RENAME a z/y").await, ["A OK RENAME completed"]);
    assert_eq!(
        other.cmd("LIST \"\" *").await[6..],
        [
            "* LIST (\\HasChildren) \"/\" z",
            "* LIST (\\HasChildren) \"/\" z/y",
            "* LIST (\\HasNoChildren) \"/\" z/y/b",
            "A OK LIST completed",
        ]
    );
    assert_eq!(
        other.cmd("STATUS z/y (MESSAGES UIDVALIDITY)").await,
        [
            format!("* STATUS z/y (MESSAGES 1 UIDVALIDITY {validity})"),
            "A OK STATUS completed".to_string()
        ]
    );
    assert_eq!(
        other.cmd("STATUS a (MESSAGES)").await,
        ["A NO No such mailbox"]
    );

    // A special-use mailbox keeps its role under its new name.
    assert_eq!(c.cmd("RENAME Sent Outbox").await, ["A OK RENAME completed"]);
    assert_eq!(
        c.cmd("LIST \"\" Outbox").await,
        [
            "* LIST (\\HasNoChildren \\Sent) \"/\" Outbox",
            "A OK LIST completed"
        ]
    );
}

#[tokio::test]
async fn rename_refusals() {
    let srv = start().await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("RENAME Sent x").await, ["A BAD Log in first"]);
    let mut c = srv.login(ALICE).await;
    c.cmd("CREATE a").await;
    for (cmd, reply) in [
        ("RENAME Nowhere x", "A NO mailbox Nowhere not found"),
        ("RENAME Drafts Trash", "A NO mailbox Trash already exists"),
        ("RENAME Drafts INBOX", "A NO mailbox INBOX already exists"),
        (
            "RENAME a a/b",
            "A NO invalid: cannot rename a mailbox into itself",
        ),
    ] {
        assert_eq!(c.cmd(cmd).await, [reply], "{cmd}");
    }
    c.0.send_line("A RENAME a").await;
    assert_eq!(c.line().await, "A BAD Malformed command");
    // Nothing moved.
    assert_eq!(
        c.cmd("LIST \"\" a*").await,
        ["* LIST (\\HasNoChildren) \"/\" a", "A OK LIST completed"]
    );
}

#[tokio::test]
async fn renaming_inbox_moves_its_messages() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("CREATE INBOX/sub").await;
    let st = c.cmd("STATUS INBOX (UIDVALIDITY UIDNEXT)").await;
    let validity = status_item(&st[0], "UIDVALIDITY");
    let next = status_item(&st[0], "UIDNEXT");
    other.cmd("SELECT INBOX").await;

    assert_eq!(c.cmd("RENAME INBOX Old").await, ["A OK RENAME completed"]);
    // INBOX is empty, keeps its UIDVALIDITY and does not reuse UIDs; its child stays.
    assert_eq!(
        c.cmd("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY)").await,
        [
            format!("* STATUS INBOX (MESSAGES 0 UIDNEXT {next} UIDVALIDITY {validity})"),
            "A OK STATUS completed".to_string()
        ]
    );
    assert_eq!(
        c.cmd("STATUS Old (MESSAGES UNSEEN)").await,
        [
            "* STATUS Old (MESSAGES 3 UNSEEN 3)",
            "A OK STATUS completed"
        ]
    );
    assert_eq!(
        c.cmd("LIST \"\" *").await,
        [
            "* LIST (\\HasNoChildren \\Archive) \"/\" Archive",
            "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts",
            "* LIST (\\HasChildren) \"/\" INBOX",
            "* LIST (\\HasNoChildren) \"/\" INBOX/sub",
            "* LIST (\\HasNoChildren \\Junk) \"/\" Junk",
            "* LIST (\\HasNoChildren) \"/\" Old",
            "* LIST (\\HasNoChildren \\Sent) \"/\" Sent",
            "* LIST (\\HasNoChildren \\Trash) \"/\" Trash",
            "A OK LIST completed",
        ]
    );
    c.cmd("SELECT Old").await;
    assert_eq!(
        c.cmd("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (Subject)])")
            .await,
        [
            "* 1 FETCH (BODY[HEADER.FIELDS (Subject)] {22}",
            "Subject: message 0",
            "",
            ")",
            "* 2 FETCH (BODY[HEADER.FIELDS (Subject)] {22}",
            "Subject: message 1",
            "",
            ")",
            "* 3 FETCH (BODY[HEADER.FIELDS (Subject)] {22}",
            "Subject: message 2",
            "",
            ")",
            "A OK FETCH completed",
        ]
    );
    // A session that had INBOX selected sees its messages go.
    assert_eq!(
        other.cmd("NOOP").await,
        [
            "* 1 EXPUNGE",
            "* 1 EXPUNGE",
            "* 1 EXPUNGE",
            "* 0 EXISTS",
            "* 0 RECENT",
            "A OK NOOP completed"
        ]
    );
    // New mail still arrives in INBOX.
    srv.deliver(ALICE.0, 1).await;
    assert_eq!(
        other.cmd("NOOP").await,
        ["* 1 EXISTS", "* 1 RECENT", "A OK NOOP completed"]
    );
}

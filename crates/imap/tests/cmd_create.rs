//! CREATE (RFC 3501 §6.3.3): missing parents are created; a trailing delimiter only
//! announces children; INBOX and existing names are refused; names are modified UTF-7.

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn create_with_parents_and_seen_by_another_session() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    assert_eq!(c.cmd("CREATE a/b/c").await, ["A OK CREATE completed"]);
    // A trailing delimiter is dropped.
    assert_eq!(c.cmd("CREATE d/").await, ["A OK CREATE completed"]);
    assert_eq!(c.cmd("CREATE &AOQ-pfel").await, ["A OK CREATE completed"]);
    assert_eq!(
        other.cmd("LIST \"\" *").await,
        [
            "* LIST (\\HasNoChildren \\Archive) \"/\" Archive",
            "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts",
            "* LIST (\\HasNoChildren) \"/\" INBOX",
            "* LIST (\\HasNoChildren \\Junk) \"/\" Junk",
            "* LIST (\\HasNoChildren \\Sent) \"/\" Sent",
            "* LIST (\\HasNoChildren \\Trash) \"/\" Trash",
            "* LIST (\\HasChildren) \"/\" a",
            "* LIST (\\HasChildren) \"/\" a/b",
            "* LIST (\\HasNoChildren) \"/\" a/b/c",
            "* LIST (\\HasNoChildren) \"/\" d",
            "* LIST (\\HasNoChildren) \"/\" &AOQ-pfel",
            "A OK LIST completed",
        ]
    );
    // A new mailbox is empty, selectable and its UIDs start at 1.
    let r = other.cmd("STATUS a/b/c (MESSAGES UIDNEXT)").await;
    assert_eq!(
        r,
        [
            "* STATUS a/b/c (MESSAGES 0 UIDNEXT 1)",
            "A OK STATUS completed"
        ]
    );
    let r = other.cmd("SELECT a/b").await;
    assert_eq!(r.last().unwrap(), "A OK [READ-WRITE] SELECT completed");
    // Children under INBOX are allowed.
    assert_eq!(c.cmd("CREATE INBOX/sub").await, ["A OK CREATE completed"]);
    assert_eq!(
        c.cmd("LIST \"\" INBOX*").await,
        [
            "* LIST (\\HasChildren) \"/\" INBOX",
            "* LIST (\\HasNoChildren) \"/\" INBOX/sub",
            "A OK LIST completed"
        ]
    );
}

#[tokio::test]
async fn create_refusals() {
    let srv = start().await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("CREATE x").await, ["A BAD Log in first"]);

    let mut c = srv.login(ALICE).await;
    for (cmd, reply) in [
        ("CREATE INBOX", "A NO INBOX already exists"),
        ("CREATE inbox", "A NO INBOX already exists"),
        ("CREATE Sent", "A NO mailbox Sent already exists"),
        ("CREATE \"\"", "A NO invalid: empty mailbox name"),
        // Not valid modified UTF-7.
        ("CREATE \"&\"", "A NO Invalid mailbox name"),
    ] {
        assert_eq!(c.cmd(cmd).await, [reply], "{cmd}");
    }
    assert_eq!(c.cmd("CREATE x").await, ["A OK CREATE completed"]);
    assert_eq!(c.cmd("CREATE x").await, ["A NO mailbox x already exists"]);
    // Also when it was created as a parent.
    assert_eq!(c.cmd("CREATE p/q").await, ["A OK CREATE completed"]);
    assert_eq!(c.cmd("CREATE p").await, ["A NO mailbox p already exists"]);
    c.0.send_line("A CREATE").await;
    assert_eq!(c.line().await, "A BAD Malformed command");
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

//! LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819): selection options SUBSCRIBED,
//! RECURSIVEMATCH and SPECIAL-USE, return options SUBSCRIBED, CHILDREN, SPECIAL-USE and
//! STATUS, several patterns, \NonExistent parents, CHILDINFO, and BAD for what is wrong.

mod common;

use common::{ALICE, start};

#[tokio::test]
async fn extended_list_selection_and_return_options() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    let mut c = srv.login(ALICE).await;
    let caps = c.cmd("CAPABILITY").await;
    assert!(
        caps[0].contains(" LIST-EXTENDED") && caps[0].contains(" LIST-STATUS"),
        "{caps:?}"
    );
    for cmd in [
        "CREATE Fruit/Apple",
        "CREATE Fruit/Banana",
        "CREATE Veg",
        "UNSUBSCRIBE Fruit",
        "UNSUBSCRIBE Fruit/Apple",
        "UNSUBSCRIBE Veg",
    ] {
        let r = c.cmd(cmd).await;
        assert_eq!(r.len(), 1, "{cmd}: {r:?}");
        assert!(r[0].starts_with("A OK"), "{cmd}: {r:?}");
    }

    // SUBSCRIBED selection: subscribed names only, each marked \Subscribed.
    assert_eq!(
        c.cmd("LIST (SUBSCRIBED) \"\" Fruit*").await,
        [
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" Fruit/Banana",
            "A OK LIST completed"
        ]
    );
    // RECURSIVEMATCH: an unsubscribed parent of a subscribed child, with CHILDINFO.
    assert_eq!(
        c.cmd("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (Fruit Veg INBOX)")
            .await,
        [
            "* LIST (\\HasChildren) \"/\" Fruit (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" INBOX",
            "A OK LIST completed"
        ]
    );
    // Several patterns, RETURN (SUBSCRIBED CHILDREN STATUS (...)): STATUS follows each
    // mailbox's LIST response.
    assert_eq!(
        c.cmd(
            "LIST \"\" (INBOX Fruit/% Veg) RETURN (SUBSCRIBED CHILDREN STATUS (MESSAGES UNSEEN))"
        )
        .await,
        [
            "* LIST (\\HasNoChildren) \"/\" Fruit/Apple",
            "* STATUS Fruit/Apple (MESSAGES 0 UNSEEN 0)",
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" Fruit/Banana",
            "* STATUS Fruit/Banana (MESSAGES 0 UNSEEN 0)",
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" INBOX",
            "* STATUS INBOX (MESSAGES 2 UNSEEN 2)",
            "* LIST (\\HasNoChildren) \"/\" Veg",
            "* STATUS Veg (MESSAGES 0 UNSEEN 0)",
            "A OK LIST completed",
        ]
    );
    // SPECIAL-USE selection (RFC 6154 §3) with STATUS SIZE (RFC 8438).
    assert_eq!(
        c.cmd("LIST (SPECIAL-USE) \"\" % RETURN (SPECIAL-USE STATUS (MESSAGES SIZE))")
            .await,
        [
            "* LIST (\\HasNoChildren \\Archive) \"/\" Archive",
            "* STATUS Archive (MESSAGES 0 SIZE 0)",
            "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts",
            "* STATUS Drafts (MESSAGES 0 SIZE 0)",
            "* LIST (\\HasNoChildren \\Junk) \"/\" Junk",
            "* STATUS Junk (MESSAGES 0 SIZE 0)",
            "* LIST (\\HasNoChildren \\Sent) \"/\" Sent",
            "* STATUS Sent (MESSAGES 0 SIZE 0)",
            "* LIST (\\HasNoChildren \\Trash) \"/\" Trash",
            "* STATUS Trash (MESSAGES 0 SIZE 0)",
            "A OK LIST completed",
        ]
    );
    // A pattern in a literal; an empty selection list is the plain selection.
    assert_eq!(
        c.cmd("LIST () \"\" {5+}\r\nFruit RETURN (SUBSCRIBED)")
            .await,
        ["* LIST (\\HasChildren) \"/\" Fruit", "A OK LIST completed"]
    );

    // Errors are BAD, tagged, and the session goes on.
    for (cmd, reply) in [
        (
            "LIST (RECURSIVEMATCH) \"\" *",
            "A BAD RECURSIVEMATCH needs another selection option",
        ),
        ("LIST (BOGUS) \"\" *", "A BAD Unknown LIST selection option"),
        (
            "LIST \"\" * RETURN (BOGUS)",
            "A BAD Unknown LIST return option",
        ),
        (
            "LIST \"\" * RETURN (STATUS (BOGUS))",
            "A BAD Unknown STATUS item",
        ),
        ("LIST \"\" () RETURN ()", "A BAD Malformed LIST patterns"),
        (
            "LIST \"\" * RETURN (STATUS",
            "A BAD STATUS needs a parenthesised list",
        ),
    ] {
        assert_eq!(c.cmd(cmd).await, [reply], "{cmd}");
    }
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

#[tokio::test]
async fn subscribed_parent_with_subscribed_child() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    c.cmd("CREATE Tree/Leaf").await;
    // The store keeps parents: DELETE of one with children is refused, so every
    // listed name exists here (\NonExistent never shows through IMAP alone).
    assert_eq!(
        c.cmd("DELETE Tree").await,
        ["A NO not allowed: Tree has child mailboxes; delete them first"]
    );
    assert_eq!(
        c.cmd("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" Tree").await,
        [
            "* LIST (\\Subscribed \\HasChildren) \"/\" Tree (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "A OK LIST completed"
        ]
    );
    c.cmd("UNSUBSCRIBE Tree/Leaf").await;
    assert_eq!(
        c.cmd("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" Tree").await,
        [
            "* LIST (\\Subscribed \\HasChildren) \"/\" Tree",
            "A OK LIST completed"
        ]
    );
    // LSUB and plain LIST are as before.
    assert_eq!(
        c.cmd("LSUB \"\" Tree*").await,
        ["* LSUB (\\HasChildren) \"/\" Tree", "A OK LSUB completed"]
    );
}

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
        ["* LSUB () \"/\" Tree", "A OK LSUB completed"]
    );
}

/// Runs commands that must each answer just a tagged OK.
async fn all_ok(c: &mut common::Client, cmds: &[&str]) {
    for cmd in cmds {
        let r = c.cmd(cmd).await;
        assert!(r.len() == 1 && r[0].starts_with("A OK"), "{cmd}: {r:?}");
    }
}

/// The mailboxes every account starts with, all subscribed.
const DEFAULTS: [&str; 6] = ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"];

#[tokio::test]
async fn rfc_5258_fruit_and_vegetable_examples() {
    // RFC 5258 §5, examples 1-3, on its hierarchy: Fruit, Fruit/Apple, Fruit/Banana,
    // Tofu, Vegetable, Vegetable/Broccoli, Vegetable/Corn; subscribed: Fruit/Banana,
    // Vegetable, Vegetable/Broccoli. (Its Fruit/Peach, subscribed but not existing,
    // cannot be had here: subscriptions belong to existing mailboxes in the store.)
    // Children attributes come whether or not CHILDREN is asked for (RFC 5258 §4 lets
    // a server send them).
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    all_ok(
        &mut c,
        &[
            "CREATE Fruit/Apple",
            "CREATE Fruit/Banana",
            "CREATE Tofu",
            "CREATE Vegetable/Broccoli",
            "CREATE Vegetable/Corn",
            "UNSUBSCRIBE Fruit",
            "UNSUBSCRIBE Fruit/Apple",
            "UNSUBSCRIBE Tofu",
            "UNSUBSCRIBE Vegetable/Corn",
        ],
    )
    .await;
    for m in DEFAULTS {
        all_ok(&mut c, &[&format!("UNSUBSCRIBE {m}")]).await;
    }
    let subscribed = [
        "* LIST (\\Subscribed \\HasNoChildren) \"/\" Fruit/Banana",
        "* LIST (\\Subscribed \\HasChildren) \"/\" Vegetable",
        "* LIST (\\Subscribed \\HasNoChildren) \"/\" Vegetable/Broccoli",
        "A OK LIST completed",
    ];
    // Example 2: the subscribed mailboxes.
    assert_eq!(c.cmd("LIST (SUBSCRIBED) \"\" \"*\"").await, subscribed);
    // RECURSIVEMATCH with `*`: every subscribed name is listed itself, so no parent is
    // added for it and no CHILDINFO is sent (§3.5: "servers SHOULD suppress redundant
    // CHILDINFO responses").
    assert_eq!(
        c.cmd("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"*\"").await,
        subscribed
    );
    // With `%` the children are not listed: Fruit comes for its subscribed child, and
    // Vegetable, subscribed itself, tells of its subscribed child too.
    assert_eq!(
        c.cmd("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"").await,
        [
            "* LIST (\\HasChildren) \"/\" Fruit (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "* LIST (\\Subscribed \\HasChildren) \"/\" Vegetable (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "A OK LIST completed"
        ]
    );
    // Example 3: RETURN (CHILDREN) on the top level.
    assert_eq!(
        c.cmd("LIST () \"\" (Fruit Tofu Vegetable) RETURN (CHILDREN SUBSCRIBED)")
            .await,
        [
            "* LIST (\\HasChildren) \"/\" Fruit",
            "* LIST (\\HasNoChildren) \"/\" Tofu",
            "* LIST (\\Subscribed \\HasChildren) \"/\" Vegetable",
            "A OK LIST completed"
        ]
    );
    // The same through LSUB (RFC 3501 §6.3.9): Fruit is not subscribed, but `%` stops
    // at it above a subscribed name, so it comes \Noselect; nothing but that attribute.
    assert_eq!(
        c.cmd("LSUB \"\" \"%\"").await,
        [
            "* LSUB (\\Noselect) \"/\" Fruit",
            "* LSUB () \"/\" Vegetable",
            "A OK LSUB completed"
        ]
    );
    assert_eq!(
        c.cmd("LSUB \"\" \"*\"").await,
        [
            "* LSUB () \"/\" Fruit/Banana",
            "* LSUB () \"/\" Vegetable",
            "* LSUB () \"/\" Vegetable/Broccoli",
            "A OK LSUB completed"
        ]
    );
}

#[tokio::test]
async fn rfc_5258_childinfo_examples() {
    // RFC 5258 §5, the CHILDINFO examples: INBOX, Foo, Foo/Bar, Foo/Baz, Moo (with the
    // other default mailboxes, unsubscribed, kept out by the patterns).
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    all_ok(&mut c, &["CREATE Foo/Bar", "CREATE Foo/Baz", "CREATE Moo"]).await;
    for m in DEFAULTS.iter().chain(&["Foo", "Foo/Bar", "Moo"]) {
        all_ok(&mut c, &[&format!("UNSUBSCRIBE {m}")]).await;
    }
    // A) Only Foo/Baz is subscribed.
    assert_eq!(
        c.cmd("LIST (SUBSCRIBED) \"\" \"*\"").await,
        [
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" Foo/Baz",
            "A OK LIST completed"
        ]
    );
    assert_eq!(
        c.cmd("LIST (SUBSCRIBED) \"\" \"%\"").await,
        ["A OK LIST completed"]
    );
    assert_eq!(
        c.cmd("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"").await,
        [
            "* LIST (\\HasChildren) \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "A OK LIST completed"
        ]
    );
    // A1) Foo subscribed as well.
    all_ok(&mut c, &["SUBSCRIBE Foo"]).await;
    assert_eq!(
        c.cmd("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"").await,
        [
            "* LIST (\\Subscribed \\HasChildren) \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "A OK LIST completed"
        ]
    );
    // B) Nothing subscribed: nothing, though Foo has children.
    all_ok(&mut c, &["UNSUBSCRIBE Foo", "UNSUBSCRIBE Foo/Baz"]).await;
    assert_eq!(
        c.cmd("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"").await,
        ["A OK LIST completed"]
    );
    // C) Foo and Moo subscribed: Foo has children, none of them subscribed.
    all_ok(&mut c, &["SUBSCRIBE Foo", "SUBSCRIBE Moo"]).await;
    assert_eq!(
        c.cmd("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)")
            .await,
        [
            "* LIST (\\Subscribed \\HasChildren) \"/\" Foo",
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" Moo",
            "A OK LIST completed"
        ]
    );
}

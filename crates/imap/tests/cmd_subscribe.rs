//! SUBSCRIBE, UNSUBSCRIBE and LSUB (RFC 3501 §6.3.6-9): new mailboxes start subscribed;
//! only existing names may be (un)subscribed here; LSUB lists subscribed names, with
//! patterns and reference names, and no attribute but \Noselect (for a level shown only
//! for the subscribed names below it); the change is seen by other sessions.

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn subscribe_unsubscribe_lsub() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    assert_eq!(
        c.cmd("LSUB \"\" *").await,
        [
            "* LSUB () \"/\" Archive",
            "* LSUB () \"/\" Drafts",
            "* LSUB () \"/\" INBOX",
            "* LSUB () \"/\" Junk",
            "* LSUB () \"/\" Sent",
            "* LSUB () \"/\" Trash",
            "A OK LSUB completed",
        ]
    );
    assert_eq!(
        c.cmd("UNSUBSCRIBE Sent").await,
        ["A OK UNSUBSCRIBE completed"]
    );
    assert_eq!(
        c.cmd("UNSUBSCRIBE Junk").await,
        ["A OK UNSUBSCRIBE completed"]
    );
    // Idempotent.
    assert_eq!(
        c.cmd("UNSUBSCRIBE Junk").await,
        ["A OK UNSUBSCRIBE completed"]
    );
    assert_eq!(
        other.cmd("LSUB \"\" *").await,
        [
            "* LSUB () \"/\" Archive",
            "* LSUB () \"/\" Drafts",
            "* LSUB () \"/\" INBOX",
            "* LSUB () \"/\" Trash",
            "A OK LSUB completed",
        ]
    );
    // LIST still shows them all.
    assert_eq!(other.cmd("LIST \"\" *").await.len(), 7);
    assert_eq!(c.cmd("SUBSCRIBE Sent").await, ["A OK SUBSCRIBE completed"]);
    assert_eq!(
        other.cmd("LSUB \"\" S*").await,
        ["* LSUB () \"/\" Sent", "A OK LSUB completed"]
    );
    for (cmd, reply) in [
        ("SUBSCRIBE Nowhere", "A NO mailbox Nowhere not found"),
        ("UNSUBSCRIBE Nowhere", "A NO mailbox Nowhere not found"),
    ] {
        assert_eq!(c.cmd(cmd).await, [reply], "{cmd}");
    }
    let mut u = Client::connect_tls(&srv).await;
    for cmd in ["SUBSCRIBE Sent", "UNSUBSCRIBE Sent", "LSUB \"\" *"] {
        assert_eq!(u.cmd(cmd).await, ["A BAD Log in first"], "{cmd}");
    }
}

#[tokio::test]
async fn lsub_patterns_and_hierarchy() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    c.cmd("CREATE a/b/c").await;
    c.cmd("CREATE k/l").await;
    assert_eq!(
        c.cmd("LSUB a %").await,
        ["* LSUB () \"/\" a", "A OK LSUB completed"]
    );
    assert_eq!(
        c.cmd("LSUB a/ %").await,
        ["* LSUB () \"/\" a/b", "A OK LSUB completed"]
    );
    assert_eq!(
        c.cmd("LSUB \"\" a/*").await,
        [
            "* LSUB () \"/\" a/b",
            "* LSUB () \"/\" a/b/c",
            "A OK LSUB completed"
        ]
    );
    // An unsubscribed name is not listed by `*`...
    c.cmd("UNSUBSCRIBE k").await;
    assert_eq!(
        c.cmd("LSUB \"\" k*").await,
        ["* LSUB () \"/\" k/l", "A OK LSUB completed"]
    );
    // ...but `%` must still reach a subscribed child through it: the parent is listed,
    // \Noselect (RFC 3501 §6.3.9).
    assert_eq!(
        c.cmd("LSUB \"\" k%").await,
        ["* LSUB (\\Noselect) \"/\" k", "A OK LSUB completed"]
    );
}

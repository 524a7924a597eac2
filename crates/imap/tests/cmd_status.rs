//! STATUS (RFC 3501 §6.3.10): MESSAGES, RECENT, UIDNEXT, UIDVALIDITY and UNSEEN, in the
//! order asked; of any mailbox, the selected one included; NO for one that does not
//! exist (no TRYCREATE: RFC 3501 gives that only to APPEND and COPY).

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn status_items_and_changes() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    // UIDVALIDITY as SELECT told it.
    let sel = other.cmd("EXAMINE INBOX").await;
    let validity: u32 = sel
        .iter()
        .find_map(|l| l.strip_prefix("* OK [UIDVALIDITY "))
        .and_then(|r| r.split(']').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        c.cmd("STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)")
            .await,
        [
            format!(
                // EXAMINE does not take \\Recent (RFC 3501 §6.3.2): all 3 still are.
                "* STATUS INBOX (MESSAGES 3 RECENT 3 UIDNEXT 4 UIDVALIDITY {validity} UNSEEN 3)"
            ),
            "A OK STATUS completed".to_string()
        ]
    );
    // Items come in the order asked; the name as the server spells it.
    assert_eq!(
        c.cmd("STATUS inbox (UNSEEN MESSAGES)").await,
        [
            "* STATUS INBOX (UNSEEN 3 MESSAGES 3)",
            "A OK STATUS completed"
        ]
    );
    // Another session's changes count at once.
    other.cmd("SELECT INBOX").await;
    other.cmd("STORE 1 +FLAGS.SILENT (\\Seen)").await;
    srv.deliver(ALICE.0, 1).await;
    assert_eq!(
        c.cmd("STATUS INBOX (MESSAGES UNSEEN UIDNEXT)").await,
        [
            "* STATUS INBOX (MESSAGES 4 UNSEEN 3 UIDNEXT 5)",
            "A OK STATUS completed"
        ]
    );
    other.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    other.cmd("EXPUNGE").await;
    // STATUS of the selected mailbox works too, and the selected session's own view
    // is told its changes as usual.
    c.cmd("SELECT INBOX").await;
    srv.deliver(ALICE.0, 1).await;
    assert_eq!(
        c.cmd("STATUS INBOX (MESSAGES UIDNEXT)").await,
        [
            "* STATUS INBOX (MESSAGES 4 UIDNEXT 6)",
            "* 4 EXISTS",
            "* 1 RECENT",
            "A OK STATUS completed"
        ]
    );
    assert_eq!(
        c.cmd("STATUS Trash (MESSAGES UIDNEXT UNSEEN)").await,
        [
            "* STATUS Trash (MESSAGES 0 UIDNEXT 1 UNSEEN 0)",
            "A OK STATUS completed"
        ]
    );
}

#[tokio::test]
async fn status_refusals() {
    let srv = start().await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(
        u.cmd("STATUS INBOX (MESSAGES)").await,
        ["A BAD Log in first"]
    );
    let mut c = srv.login(ALICE).await;
    assert_eq!(
        c.cmd("STATUS Nowhere (MESSAGES)").await,
        ["A NO No such mailbox"]
    );
    for cmd in [
        "A STATUS INBOX (BOGUS)",
        "A STATUS INBOX",
        "A STATUS INBOX MESSAGES",
    ] {
        c.0.send_line(cmd).await;
        assert_eq!(c.line().await, "A BAD Malformed command", "{cmd}");
    }
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

//! DELETE (RFC 3501 §6.3.4): a mailbox and its messages go; INBOX and mailboxes with
//! children are refused; deleting the selected mailbox leaves the selected state.

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn delete_and_refusals() {
    let srv = start().await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("DELETE Trash").await, ["A BAD Log in first"]);

    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("CREATE a/b").await;
    let r = c.cmd("APPEND a/b {12+}\r\nSubject: x\r\n").await;
    assert!(r[0].starts_with("A OK [APPENDUID "), "{r:?}");
    for (cmd, reply) in [
        ("DELETE INBOX", "A NO not allowed: INBOX cannot be deleted"),
        ("DELETE inbox", "A NO not allowed: INBOX cannot be deleted"),
        ("DELETE Nowhere", "A NO mailbox Nowhere not found"),
        (
            "DELETE a",
            "A NO not allowed: a has child mailboxes; delete them first",
        ),
        // Names are case-sensitive.
        ("DELETE A/B", "A NO mailbox A/B not found"),
    ] {
        assert_eq!(c.cmd(cmd).await, [reply], "{cmd}");
    }
    assert_eq!(c.cmd("DELETE a/b").await, ["A OK DELETE completed"]);
    assert_eq!(c.cmd("DELETE a/b").await, ["A NO mailbox a/b not found"]);
    assert_eq!(
        c.cmd("STATUS a/b (MESSAGES)").await,
        ["A NO No such mailbox"]
    );
    // Now a has no children and may go too; another session no longer lists either.
    assert_eq!(c.cmd("DELETE a").await, ["A OK DELETE completed"]);
    assert_eq!(other.cmd("LIST \"\" a*").await, ["A OK LIST completed"]);
    // A name can be created again after deletion, starting empty.
    assert_eq!(c.cmd("CREATE a/b").await, ["A OK CREATE completed"]);
    assert_eq!(
        c.cmd("STATUS a/b (MESSAGES)").await,
        ["* STATUS a/b (MESSAGES 0)", "A OK STATUS completed"]
    );
}

#[tokio::test]
async fn deleting_the_selected_mailbox_deselects_it() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    c.cmd("CREATE t").await;
    c.cmd("APPEND t {12+}\r\nSubject: x\r\n").await;
    c.cmd("SELECT t").await;
    assert_eq!(
        c.cmd("FETCH 1 (UID)").await,
        ["* 1 FETCH (UID 1)", "A OK FETCH completed"]
    );
    assert_eq!(c.cmd("DELETE t").await, ["A OK DELETE completed"]);
    assert_eq!(c.cmd("FETCH 1 (UID)").await, ["A BAD No mailbox selected"]);
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
    c.0.send_line("A DELETE").await;
    assert_eq!(c.line().await, "A BAD Malformed command");
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

#[tokio::test]
async fn a_session_whose_mailbox_another_deletes_is_told_and_ends() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("CREATE t").await;
    c.cmd("SELECT t").await;
    assert_eq!(other.cmd("DELETE t").await, ["A OK DELETE completed"]);
    assert_eq!(
        c.cmd("NOOP").await,
        [
            "* BYE Selected mailbox was deleted, have to disconnect",
            "A OK NOOP completed"
        ]
    );
    assert!(c.0.closed().await, "the session should end");
}

#[tokio::test]
async fn an_idling_session_whose_mailbox_is_deleted_is_told_at_once() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("CREATE t").await;
    c.cmd("SELECT t").await;
    c.0.send_line("A IDLE").await;
    assert_eq!(c.line().await, "+ idling");
    assert_eq!(other.cmd("DELETE t").await, ["A OK DELETE completed"]);
    assert_eq!(
        c.line().await,
        "* BYE Selected mailbox was deleted, have to disconnect"
    );
    assert!(c.0.closed().await, "the session should end without a DONE");
}

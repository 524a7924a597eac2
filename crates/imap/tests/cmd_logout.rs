//! LOGOUT (RFC 3501 §6.1.3): valid in every state; an untagged BYE, the tagged OK, and
//! the connection closes. Nothing pipelined behind it runs.

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn logout_before_login() {
    let srv = start().await;
    let mut c = Client::connect(&srv).await;
    assert_eq!(
        c.cmd("LOGOUT").await,
        ["* BYE twinmail logging out", "A OK LOGOUT completed"]
    );
    assert!(c.0.closed().await);
}

#[tokio::test]
async fn logout_when_selected_and_pipelined_commands_are_dropped() {
    let srv = start().await;
    srv.deliver(ALICE.0, 1).await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    c.0.send(b"A LOGOUT\r\nB CREATE Behind\r\nC NOOP\r\n").await;
    assert_eq!(
        c.until_tagged().await,
        ["* BYE twinmail logging out", "A OK LOGOUT completed"]
    );
    assert!(c.0.closed().await);
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    assert!(
        srv.store.mailbox(a.id, "Behind").await.unwrap().is_none(),
        "a command behind LOGOUT ran"
    );
}

#[tokio::test]
async fn logout_with_arguments_is_a_syntax_error() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    c.0.send_line("A LOGOUT now").await;
    assert_eq!(c.line().await, "A BAD Malformed command");
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
    assert_eq!(
        c.cmd("LOGOUT").await,
        ["* BYE twinmail logging out", "A OK LOGOUT completed"]
    );
    assert!(c.0.closed().await);
}

#[tokio::test]
async fn logout_tells_nothing_after_bye_about_the_mailbox_left() {
    // RFC 3501 §6.1.3: BYE, then the tagged OK. Changes made elsewhere meanwhile (a flag,
    // an expunge, a delivery) are not told after BYE: no FETCH or EXPUNGE for a message
    // the client is leaving, numbered by a view that is closing.
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    other.cmd("SELECT INBOX").await;
    other.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    other.cmd("EXPUNGE").await;
    other.cmd("STORE 2 +FLAGS.SILENT (\\Flagged)").await;
    srv.deliver(ALICE.0, 1).await;
    assert_eq!(
        c.cmd("LOGOUT").await,
        ["* BYE twinmail logging out", "A OK LOGOUT completed"]
    );
    assert!(c.0.closed().await);
}

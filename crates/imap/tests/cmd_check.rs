//! CHECK (RFC 3501 §6.4.1): only with a mailbox selected; every commit is already
//! durable, so it does what NOOP does, telling pending changes.

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn check_when_selected() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    other.cmd("SELECT INBOX").await;
    assert_eq!(c.cmd("CHECK").await, ["A OK CHECK completed"]);
    srv.deliver(ALICE.0, 1).await;
    other.cmd("STORE 1 +FLAGS.SILENT (\\Answered)").await;
    assert_eq!(
        c.cmd("CHECK").await,
        [
            // Message 1 is recent here (this session selected first); message 3 went
            // to `other`, told of it first by its STORE (RFC 3501 §2.3.2).
            "* 1 FETCH (UID 1 FLAGS (\\Answered \\Recent))",
            "* 3 EXISTS",
            "A OK CHECK completed"
        ]
    );
    // Also in a read-only mailbox.
    c.cmd("EXAMINE INBOX").await;
    assert_eq!(c.cmd("CHECK").await, ["A OK CHECK completed"]);
}

#[tokio::test]
async fn check_needs_a_selected_mailbox() {
    let srv = start().await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("CHECK").await, ["A BAD Log in first"]);
    let mut c = srv.login(ALICE).await;
    assert_eq!(c.cmd("CHECK").await, ["A BAD No mailbox selected"]);
    c.cmd("SELECT INBOX").await;
    c.cmd("UNSELECT").await;
    assert_eq!(c.cmd("CHECK").await, ["A BAD No mailbox selected"]);
}

//! IDLE (RFC 2177): a continuation, then changes as they commit (a delivery, another
//! session's STORE and EXPUNGE), until DONE ends it with the tagged OK. Also allowed
//! with nothing selected; BAD before login.

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn idle_is_woken_by_deliveries_and_other_sessions() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    other.cmd("SELECT INBOX").await;

    c.0.send_line("A IDLE").await;
    assert_eq!(c.line().await, "+ idling");
    srv.deliver(ALICE.0, 1).await;
    // `c` selected first and is first told of the delivery: all are \Recent to it.
    assert_eq!(c.line().await, "* 3 EXISTS");
    assert_eq!(c.line().await, "* 3 RECENT");
    other.cmd("STORE 1 +FLAGS.SILENT (\\Flagged)").await;
    assert_eq!(
        c.line().await,
        "* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))"
    );
    other.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(
        c.line().await,
        "* 2 FETCH (UID 2 FLAGS (\\Deleted \\Recent))"
    );
    other.cmd("EXPUNGE").await;
    assert_eq!(c.line().await, "* 2 EXPUNGE");
    assert_eq!(c.line().await, "* 2 EXISTS");
    assert_eq!(c.line().await, "* 2 RECENT");
    c.0.send_line("DONE").await;
    assert_eq!(c.until_tagged().await, ["A OK IDLE terminated"]);
    // Nothing is told twice.
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
    assert_eq!(
        c.cmd("FETCH 1:* (UID)").await,
        [
            "* 1 FETCH (UID 1)",
            "* 2 FETCH (UID 3)",
            "A OK FETCH completed"
        ]
    );
}

#[tokio::test]
async fn changes_before_idle_are_told_at_once() {
    let srv = start().await;
    srv.deliver(ALICE.0, 1).await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    srv.deliver(ALICE.0, 1).await;
    c.0.send_line("A IDLE").await;
    assert_eq!(c.line().await, "+ idling");
    assert_eq!(c.line().await, "* 2 EXISTS");
    assert_eq!(c.line().await, "* 2 RECENT");
    c.0.send_line("DONE").await;
    assert_eq!(c.until_tagged().await, ["A OK IDLE terminated"]);
}

#[tokio::test]
async fn idle_without_a_mailbox_and_before_login() {
    let srv = start().await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("IDLE").await, ["A BAD Log in first"]);
    assert_eq!(u.cmd("NOOP").await, ["A OK NOOP completed"]);

    let mut c = srv.login(ALICE).await;
    c.0.send_line("A IDLE").await;
    assert_eq!(c.line().await, "+ idling");
    // Nothing selected: a delivery is not told.
    srv.deliver(ALICE.0, 1).await;
    c.0.send_line("DONE").await;
    assert_eq!(c.until_tagged().await, ["A OK IDLE terminated"]);
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

#[tokio::test]
async fn an_idling_session_is_told_a_new_keyword_in_flags_before_the_fetch_that_uses_it() {
    // RFC 3501 §7.2.6 / RFC 9051 §7.3.5: FLAGS first, then the FETCH that shows it.
    let srv = start().await;
    srv.deliver(ALICE.0, 1).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    other.cmd("SELECT INBOX").await;
    c.0.send_line("A IDLE").await;
    assert_eq!(c.line().await, "+ idling");
    other.cmd("STORE 1 +FLAGS.SILENT ($Later)").await;
    let system = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
    assert_eq!(c.line().await, format!("* FLAGS ({system} $Later)"));
    assert_eq!(
        c.line().await,
        format!("* OK [PERMANENTFLAGS ({system} $Later \\*)] Flags permitted")
    );
    assert_eq!(c.line().await, "* 1 FETCH (UID 1 FLAGS ($Later \\Recent))");
    c.0.send_line("DONE").await;
    assert_eq!(c.until_tagged().await, ["A OK IDLE terminated"]);
}

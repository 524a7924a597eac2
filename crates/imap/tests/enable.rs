//! ENABLE (RFC 5161): only in the authenticated state, before a mailbox is selected
//! (RFC 5161 §3.1, RFC 9051 §6.3.1); what it enables holds for the rest of the session.

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn enable_only_while_nothing_is_selected() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    let mut anon = Client::connect_tls(&srv).await;
    assert_eq!(anon.cmd("ENABLE CONDSTORE").await, ["A BAD Log in first"]);

    let mut c = srv.login(ALICE).await;
    assert_eq!(
        c.cmd("ENABLE CONDSTORE").await,
        ["* ENABLED CONDSTORE", "A OK ENABLE completed"]
    );
    for select in ["SELECT INBOX", "EXAMINE INBOX"] {
        let r = c.cmd(select).await;
        assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
        assert_eq!(
            c.cmd("ENABLE QRESYNC").await,
            ["A BAD ENABLE is not allowed while a mailbox is selected"],
            "{select}"
        );
    }
    // The refused ENABLE enabled nothing: without QRESYNC, the SELECT parameter is
    // refused and expunges are still told as EXPUNGE, not VANISHED.
    let r = c.cmd("SELECT INBOX (QRESYNC (1 1))").await;
    assert_eq!(
        r,
        [
            "* OK [CLOSED] Previous mailbox closed",
            "A BAD ENABLE QRESYNC first"
        ]
    );
    c.cmd("SELECT INBOX").await;
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(
        c.cmd("EXPUNGE").await,
        ["* 1 EXPUNGE", "A OK EXPUNGE completed"]
    );

    // Once the mailbox is left, ENABLE works again.
    assert_eq!(c.cmd("UNSELECT").await, ["A OK UNSELECT completed"]);
    assert_eq!(
        c.cmd("ENABLE QRESYNC").await,
        ["* ENABLED QRESYNC", "A OK ENABLE completed"]
    );
    c.cmd("SELECT INBOX").await;
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(
        c.cmd("EXPUNGE").await,
        ["* VANISHED 2", "A OK EXPUNGE completed"]
    );
}

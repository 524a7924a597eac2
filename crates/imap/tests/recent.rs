//! `\Recent` (RFC 3501 §2.3.2, §6.3.1-2, §6.3.10, §6.4.4, §7.3.2): one IMAP4rev1 session
//! per mailbox gets each new message as recent, the first to SELECT it or to be told of
//! it while selected; EXAMINE takes none (and, so that read-only sessions see both twins
//! alike, is shown none);
//! `* n RECENT` with SELECT/EXAMINE and when the count changes; STATUS RECENT; SEARCH
//! RECENT / NEW / OLD; FETCH FLAGS with `\Recent`. IMAP4rev2 sessions (RFC 9051) neither
//! see nor take it. Kept per twin and per process, in memory (see src/recent.rs).

mod common;

use common::{ALICE, start};

#[tokio::test]
async fn one_session_gets_each_new_message_as_recent() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;

    // Nobody has selected INBOX yet: both are recent.
    let mut e = srv.login(ALICE).await;
    assert_eq!(
        e.cmd("STATUS INBOX (RECENT MESSAGES)").await,
        [
            "* STATUS INBOX (RECENT 2 MESSAGES 2)",
            "A OK STATUS completed"
        ]
    );
    // EXAMINE does not take them (§6.3.2); a read-only session is shown none.
    let r = e.cmd("EXAMINE INBOX").await;
    assert_eq!(r[3], "* 0 RECENT", "{r:?}");
    assert_eq!(
        e.cmd("FETCH 1:* (FLAGS)").await,
        [
            "* 1 FETCH (FLAGS ())",
            "* 2 FETCH (FLAGS ())",
            "A OK FETCH completed"
        ]
    );
    assert_eq!(
        e.cmd("STATUS INBOX (RECENT)").await,
        ["* STATUS INBOX (RECENT 2)", "A OK STATUS completed"]
    );
    for (key, hits) in [("RECENT", ""), ("NEW", ""), ("OLD", " 1 2")] {
        assert_eq!(
            e.cmd(&format!("SEARCH {key}")).await,
            [format!("* SEARCH{hits}"), "A OK SEARCH completed".into()],
            "{key}"
        );
    }

    // The first SELECT takes them.
    let mut a = srv.login(ALICE).await;
    let r = a.cmd("SELECT INBOX").await;
    assert_eq!(r[3], "* 2 RECENT", "{r:?}");
    // The next one gets none.
    let mut b = srv.login(ALICE).await;
    let r = b.cmd("SELECT INBOX").await;
    assert_eq!(r[3], "* 0 RECENT", "{r:?}");
    assert_eq!(
        b.cmd("FETCH 1:* (FLAGS)").await,
        [
            "* 1 FETCH (FLAGS ())",
            "* 2 FETCH (FLAGS ())",
            "A OK FETCH completed"
        ]
    );
    assert_eq!(
        b.cmd("SEARCH OLD").await,
        ["* SEARCH 1 2", "A OK SEARCH completed"]
    );
    assert_eq!(
        b.cmd("STATUS INBOX (RECENT)").await,
        ["* STATUS INBOX (RECENT 0)", "A OK STATUS completed"]
    );

    // A delivery: the first session told of it gets it as recent, with `* n RECENT`
    // since its count changed (§7.3.2); the other is told EXISTS only.
    srv.deliver(ALICE.0, 1).await;
    assert_eq!(
        b.cmd("NOOP").await,
        ["* 3 EXISTS", "* 1 RECENT", "A OK NOOP completed"]
    );
    assert_eq!(a.cmd("NOOP").await, ["* 3 EXISTS", "A OK NOOP completed"]);
    assert_eq!(
        b.cmd("FETCH 3 (FLAGS)").await,
        ["* 3 FETCH (FLAGS (\\Recent))", "A OK FETCH completed"]
    );
    assert_eq!(
        a.cmd("FETCH 3 (FLAGS)").await,
        ["* 3 FETCH (FLAGS ())", "A OK FETCH completed"]
    );
    // NEW is RECENT and UNSEEN (§6.4.4); a STORE shows \Recent too.
    assert_eq!(
        a.cmd("STORE 1 +FLAGS (\\Seen)").await,
        [
            "* 1 FETCH (FLAGS (\\Seen \\Recent))",
            "A OK STORE completed"
        ]
    );
    for (key, hits) in [("NEW", " 2"), ("RECENT", " 1 2"), ("OLD", " 3")] {
        assert_eq!(
            a.cmd(&format!("SEARCH {key}")).await,
            [format!("* SEARCH{hits}"), "A OK SEARCH completed".into()],
            "{key}"
        );
    }
    // \Recent is the server's: a client cannot store it.
    assert_eq!(
        b.cmd("STORE 1 +FLAGS (\\Recent)").await,
        ["* 1 FETCH (FLAGS (\\Seen))", "A OK STORE completed"]
    );
}

#[tokio::test]
async fn imap4rev2_sessions_neither_see_nor_take_recent() {
    let srv = start().await;
    srv.deliver(ALICE.0, 1).await;
    let mut r2 = srv.login(ALICE).await;
    r2.cmd("ENABLE IMAP4rev2").await;
    let r = r2.cmd("SELECT INBOX").await;
    assert!(!r.iter().any(|l| l.contains("RECENT")), "{r:?}");
    assert_eq!(
        r2.cmd("FETCH 1 (FLAGS)").await,
        ["* 1 FETCH (FLAGS ())", "A OK FETCH completed"]
    );
    srv.deliver(ALICE.0, 1).await;
    assert_eq!(r2.cmd("NOOP").await, ["* 2 EXISTS", "A OK NOOP completed"]);
    // Both are still there for the first IMAP4rev1 session.
    let mut r1 = srv.login(ALICE).await;
    let r = r1.cmd("SELECT INBOX").await;
    assert_eq!(r[3], "* 2 RECENT", "{r:?}");
}

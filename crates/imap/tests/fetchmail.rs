//! fetchmail over IMAP as a real client: it fetches unseen mail, marks it seen, and on a
//! second run finds nothing new; without `keep` it deletes and expunges what it took.

mod common;

use common::{ALICE, start};

fn fetchmail(dir: &std::path::Path, port: u16, keep: bool) -> (i32, usize) {
    twinmail_testkit::fetchmail(dir, "IMAP", port, if keep { "keep" } else { "nokeep" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetchmail_over_imap() {
    twinmail_testkit::require(&["fetchmail"]);
    let srv = start().await;
    srv.deliver(ALICE.0, 50).await;
    let dir = srv.dir.path().to_path_buf();
    let port = srv.imaps.port();
    let d = dir.clone();
    assert_eq!(
        tokio::task::spawn_blocking(move || fetchmail(&d, port, true))
            .await
            .unwrap(),
        (0, 50)
    );
    let d = dir.clone();
    assert_eq!(
        tokio::task::spawn_blocking(move || fetchmail(&d, port, true))
            .await
            .unwrap(),
        (1, 0),
        "everything was marked seen: nothing new"
    );
    srv.deliver(ALICE.0, 2).await;
    let d = dir.clone();
    assert_eq!(
        tokio::task::spawn_blocking(move || fetchmail(&d, port, false))
            .await
            .unwrap(),
        (0, 2)
    );
    // The two it took without keep are gone; the 50 kept ones stay.
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    let inbox = srv.store.mailbox(a.id, "INBOX").await.unwrap().unwrap();
    assert_eq!(srv.store.messages(inbox.id).await.unwrap().len(), 50);
}

//! mbsync (isync) as a real sync client: a full two-way sync of a 500-message account,
//! an incremental sync that transfers nothing, changes flowing both ways, and a sync
//! after a server restart that transfers nothing (UIDVALIDITY and UIDs are stable).

mod common;

use std::path::Path;

use common::{ALICE, Server, start};

/// Writes the mbsyncrc for a server on `port`; the local side is a Maildir in `dir`.
fn config(dir: &Path, port: u16) -> std::path::PathBuf {
    twinmail_testkit::mbsync_config(dir, &dir.join("ca.pem"), port, ALICE.0, ALICE.1)
}

/// Runs mbsync (off the async runtime); returns what went over the wire: (bodies
/// downloaded, messages uploaded, flag changes sent).
async fn sync(rc: &Path) -> (usize, usize, usize) {
    let rc = rc.to_path_buf();
    tokio::task::spawn_blocking(move || twinmail_testkit::mbsync(&rc).0)
        .await
        .unwrap()
}

fn maildir_count(dir: &Path, folder: &str) -> usize {
    let base = dir.join("mail").join(folder);
    ["cur", "new"]
        .iter()
        .map(|d| {
            std::fs::read_dir(base.join(d))
                .map(|r| r.count())
                .unwrap_or(0)
        })
        .sum()
}

async fn restart(old: Server) -> Server {
    // Same database file, fresh store handles and listeners: what a restart does.
    let dir = old.dir;
    let _ = old.stop.send(true);
    old.store.close().await;
    drop(old.store);
    let store = twinmail_store::Store::open(twinmail_store::StoreOptions {
        hash_cost: twinmail_store::HashCost::cheap(),
        ..twinmail_store::StoreOptions::new(dir.path().join("db.sqlite"), "a")
    })
    .await
    .unwrap();
    let tls = old.tls;
    let imap = twinmail_imap::Imap::new(Default::default(), store.clone(), Some(tls.acceptor()));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let imaps = l.local_addr().unwrap();
    tokio::spawn(twinmail_imap::run(
        l,
        twinmail_imap::Kind::Imaps,
        imap,
        shutdown,
    ));
    Server {
        store,
        imap: imaps,
        imaps,
        tls,
        stop,
        dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mbsync_full_then_incremental_then_after_restart() {
    twinmail_testkit::require(&["mbsync"]);
    let srv = start().await;
    srv.deliver(ALICE.0, 500).await;
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("ca.pem"), srv.tls.cert_pem()).unwrap();
    let rc = config(work.path(), srv.imaps.port());

    let (pulled, pushed, _) = sync(&rc).await;
    assert_eq!((pulled, pushed), (500, 0));
    assert_eq!(maildir_count(work.path(), "INBOX"), 500);

    let (pulled, pushed, flags) = sync(&rc).await;
    assert_eq!(
        (pulled, pushed, flags),
        (0, 0, 0),
        "an incremental sync transfers nothing"
    );

    // Two-way: a message written locally goes up; one delivered on the server comes down.
    let new = work.path().join("mail/INBOX/new/1700000000.local.host");
    std::fs::write(
        &new,
        "From: me@example.com\r\nSubject: written offline\r\n\r\nhi\r\n",
    )
    .unwrap();
    srv.deliver(ALICE.0, 1).await;
    let (pulled, pushed, _) = sync(&rc).await;
    assert_eq!((pulled, pushed), (1, 1));
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    let inbox = srv.store.mailbox(a.id, "INBOX").await.unwrap().unwrap();
    assert_eq!(srv.store.messages(inbox.id).await.unwrap().len(), 502);

    let srv = restart(srv).await;
    let rc = config(work.path(), srv.imaps.port());
    let (pulled, pushed, flags) = sync(&rc).await;
    assert_eq!(
        (pulled, pushed, flags),
        (0, 0, 0),
        "nothing transferred after a restart"
    );
}

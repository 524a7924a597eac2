//! Housekeeping: tombstones expire after their keeping period (QRESYNC still answers
//! right), and the bytes of expunged mail are removed once nothing needs them — never while
//! a log entry the twin has not taken still names them.

mod common;

use twinmail_store::{Flags, HashCost, Store, StoreOptions, UidSet, now_unix};

#[tokio::test]
async fn expunged_mail_gives_its_bytes_back_and_old_tombstones_expire() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreOptions {
        hash_cost: HashCost::cheap(),
        tombstone_secs: 100,
        ..StoreOptions::new(dir.path().join("store.db"), "a")
    })
    .await
    .unwrap();
    store.add_domain("example.com").await.unwrap();
    let acc = store.create_account("ann@example.com", "pw").await.unwrap();
    let inbox = store.mailbox(acc.id, "INBOX").await.unwrap().unwrap();
    let body = |i: usize| {
        let mut m = common::message(&format!("m{i}"));
        m.extend(std::iter::repeat_n(b'x', 10_000));
        m.extend(b"\r\n");
        m
    };
    for i in 0..20 {
        store
            .append(inbox.id, body(i), Flags::default(), None)
            .await
            .unwrap();
    }
    let before = store.blob_use().await.unwrap();
    let modseq = store
        .mailbox(acc.id, "INBOX")
        .await
        .unwrap()
        .unwrap()
        .highestmodseq;
    store
        .store_flags(
            inbox.id,
            UidSet::from_uids(1..=15),
            twinmail_store::FlagMode::Add,
            Flags::new(["\\Deleted"]),
            None,
        )
        .await
        .unwrap();
    store.expunge(inbox.id, None).await.unwrap();
    let now = now_unix();

    // The twin has not taken the log yet: its entries still name the bytes.
    store.housekeep(now + 50).await.unwrap();
    assert_eq!(
        store.blob_use().await.unwrap(),
        before,
        "bytes removed under the log"
    );
    // Tombstones within their period answer QRESYNC themselves.
    assert_eq!(
        store.expunged_since(inbox.id, modseq).await.unwrap(),
        (1..=15).collect::<Vec<u32>>()
    );
    store
        .record_ack(store.last_seq().await.unwrap())
        .await
        .unwrap();

    // Unreferenced now: marked, then removed an hour later.
    let first = store.housekeep(now + 60).await.unwrap();
    assert_eq!(first.blobs, 0);
    assert_eq!(store.blob_use().await.unwrap(), before);
    let second = store.housekeep(now + 3661).await.unwrap();
    let after = store.blob_use().await.unwrap();
    assert_eq!(second.blobs, 15, "{second:?}");
    assert_eq!(after.0, 5);
    assert_eq!(before.1 - after.1, second.bytes);
    println!(
        "message bytes stored: before {} bodies, {} bytes; after expunging 15 and housekeeping: {} bodies, {} bytes",
        before.0, before.1, after.0, after.1
    );
    for m in store.messages(inbox.id).await.unwrap() {
        assert!(
            store.blob(&m.blob).await.unwrap().is_some(),
            "a live message lost its bytes"
        );
    }

    // Tombstones: kept for 100 s, then expired; a QRESYNC client that knows less than the
    // expired ones is told every UID not present as vanished.
    assert_eq!(first.tombstones, 0);
    assert_eq!(second.tombstones, 15, "expired at now + 3661");
    let vanished = store.expunged_since(inbox.id, modseq).await.unwrap();
    assert_eq!(vanished, (1..=15).collect::<Vec<u32>>());
}

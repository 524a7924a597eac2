//! URLAUTH mailbox access keys (RFC 4467): made and reset through the write seam, the
//! same on a twin that applies the log or a snapshot, converging when both twins made
//! one while apart, and never shown by a change's `Debug`.

mod common;

use twinmail_store::{AccessKey, Change, RemoteChange, Store};

/// Applies every change `from` logged after `after` to `to`, as the mirror would.
async fn ship(from: &Store, origin: &str, after: i64, to: &Store) -> i64 {
    let mut last = after;
    for e in from.changes_since(after, 10_000).await.unwrap() {
        assert_eq!(e.origin, origin);
        to.apply_remote(origin, e.seq, e.change, None)
            .await
            .unwrap();
        last = e.seq;
    }
    last
}

/// The key of `user`'s mailbox `name` on `store`.
async fn key(store: &Store, user: &str, name: &str) -> Option<AccessKey> {
    let a = store.account(user).await.unwrap().unwrap();
    let m = store.mailbox(a.id, name).await.unwrap().unwrap();
    store.access_key(m.id).await.unwrap()
}

/// A store with alice (and her default mailboxes), and her INBOX's local id.
async fn origin(dir: &std::path::Path, node: &str) -> (Store, i64, i64) {
    let s = common::open(dir, node).await;
    s.add_domain("example.com").await.unwrap();
    let alice = s.create_account("alice@example.com", "pw").await.unwrap();
    s.create_mailbox(alice.id, "Work").await.unwrap();
    let inbox = s.mailbox(alice.id, "INBOX").await.unwrap().unwrap();
    (s, alice.id, inbox.id)
}

#[tokio::test]
async fn keys_made_and_reset_on_one_twin_are_the_same_on_the_other() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, alice, inbox) = origin(da.path(), "a").await;
    let b = common::open(db.path(), "b").await;
    let mut at = ship(&a, "a", 0, &b).await;
    assert_eq!(key(&b, "alice@example.com", "INBOX").await, None);

    // The first GENURLAUTH makes the key; a second finds it.
    let made = a.make_access_key(alice, inbox).await.unwrap();
    assert_eq!(a.make_access_key(alice, inbox).await.unwrap(), made);
    let log = a.changes_since(at, 100).await.unwrap();
    assert_eq!(log.len(), 1, "one change for one key: {log:?}");
    // The change is logged and shown without the key.
    let shown = format!("{:?}", log[0].change);
    let secret = serde_json::to_value(&log[0].change).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(secret.len(), 64);
    assert!(
        shown.contains("AccessKey(<redacted>)") && !shown.contains(&secret[..16]),
        "{shown}"
    );
    at = ship(&a, "a", at, &b).await;
    assert_eq!(
        key(&b, "alice@example.com", "INBOX").await,
        Some(made.clone())
    );
    // A URL signed on one twin verifies on the other.
    let url = b"imap://alice%40example.com@h/INBOX;UIDVALIDITY=1/;UID=1;URLAUTH=anonymous";
    let token = made.sign(url);
    assert!(
        key(&b, "alice@example.com", "INBOX")
            .await
            .unwrap()
            .verify(url, &token)
    );

    // RESETKEY of one mailbox: a new key there, on both twins.
    a.reset_access_keys(alice, Some(inbox)).await.unwrap();
    at = ship(&a, "a", at, &b).await;
    let reset = key(&a, "alice@example.com", "INBOX").await.unwrap();
    assert_ne!(reset, made);
    assert!(!reset.verify(url, &token));
    assert_eq!(
        key(&b, "alice@example.com", "INBOX").await,
        Some(reset.clone())
    );
    // RESETKEY of a mailbox without a key makes one.
    let work = a.mailbox(alice, "Work").await.unwrap().unwrap().id;
    a.reset_access_keys(alice, Some(work)).await.unwrap();
    let work_key = key(&a, "alice@example.com", "Work").await.unwrap();
    // RESETKEY of every mailbox: both keys are new, on both twins.
    a.reset_access_keys(alice, None).await.unwrap();
    ship(&a, "a", at, &b).await;
    for (name, before) in [("INBOX", &reset), ("Work", &work_key)] {
        let now = key(&a, "alice@example.com", name).await.unwrap();
        assert_ne!(&now, before, "{name}");
        assert_eq!(
            key(&b, "alice@example.com", name).await,
            Some(now),
            "{name}"
        );
    }
    // mirror verify sees the keys alike.
    assert_eq!(
        a.account_facts().await.unwrap(),
        b.account_facts().await.unwrap()
    );
    // Applied changes are not logged again (no ping-pong).
    assert!(b.changes_since(0, 100).await.unwrap().is_empty());
    // Another account's mailbox is not this account's to sign.
    let bob = a.create_account("bob@example.com", "pw").await.unwrap();
    assert!(a.make_access_key(bob.id, inbox).await.is_err());
    assert!(a.reset_access_keys(bob.id, Some(inbox)).await.is_err());
}

#[tokio::test]
async fn a_rebuilt_twin_gets_the_keys_in_the_snapshot() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, alice, inbox) = origin(da.path(), "a").await;
    let made = a.make_access_key(alice, inbox).await.unwrap();
    let mut snap = a.snapshot().await.unwrap();
    let meta = snap.meta().await.unwrap();
    assert_eq!(
        meta.iter()
            .filter(|c| matches!(c, Change::AccessKeySet { .. }))
            .count(),
        1,
        "{meta:?}"
    );
    let b = common::open(db.path(), "b").await;
    let page = meta
        .into_iter()
        .map(|change| RemoteChange {
            seq: 0,
            change,
            bytes: None,
        })
        .collect::<Vec<_>>();
    b.apply_snapshot("a", page.clone()).await.unwrap();
    assert_eq!(
        key(&b, "alice@example.com", "INBOX").await,
        Some(made.clone())
    );
    // A snapshot page applied twice (an interrupted sync) changes nothing.
    b.apply_snapshot("a", page).await.unwrap();
    assert_eq!(key(&b, "alice@example.com", "INBOX").await, Some(made));
    assert_eq!(
        a.account_facts().await.unwrap(),
        b.account_facts().await.unwrap()
    );
}

#[tokio::test]
async fn keys_made_on_both_twins_while_apart_converge_on_the_later() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, alice_a, inbox_a) = origin(da.path(), "a").await;
    let b = common::open(db.path(), "b").await;
    let at = ship(&a, "a", 0, &b).await;
    // Apart: each twin makes (then b resets) a key of its own for the same mailbox.
    a.make_access_key(alice_a, inbox_a).await.unwrap();
    let alice_b = b.account("alice@example.com").await.unwrap().unwrap().id;
    let inbox_b = b.mailbox(alice_b, "INBOX").await.unwrap().unwrap().id;
    b.make_access_key(alice_b, inbox_b).await.unwrap();
    b.reset_access_keys(alice_b, Some(inbox_b)).await.unwrap();
    let (ka, kb) = (
        key(&a, "alice@example.com", "INBOX").await.unwrap(),
        key(&b, "alice@example.com", "INBOX").await.unwrap(),
    );
    assert_ne!(ka, kb);
    // Healed: each applies the other's changes; both keep the same one, b's (its
    // RESETKEY came last).
    ship(&a, "a", at, &b).await;
    ship(&b, "b", 0, &a).await;
    assert_eq!(
        key(&a, "alice@example.com", "INBOX").await,
        Some(kb.clone())
    );
    assert_eq!(key(&b, "alice@example.com", "INBOX").await, Some(kb));
    assert_eq!(
        a.account_facts().await.unwrap(),
        b.account_facts().await.unwrap()
    );
}

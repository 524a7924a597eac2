//! What an admin or an IMAP client would notice: default folders, logins, address
//! resolution, delivery, CREATE / RENAME / DELETE, COPY / MOVE, STORE and UIDVALIDITY.

mod common;

use twinmail_store::{Account, Change, FlagMode, Flags, Mailbox, Role, Store, StoreError, UidSet};

async fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open(dir.path(), "a").await;
    store.add_domain("example.com").await.unwrap();
    (dir, store)
}

async fn mailbox(store: &Store, account: &Account, name: &str) -> Mailbox {
    store
        .mailbox(account.id, name)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no mailbox {name}"))
}

async fn names(store: &Store, account: &Account) -> Vec<String> {
    store
        .mailboxes(account.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect()
}

async fn deliver(store: &Store, rcpts: &[&str], tag: &str) -> Vec<twinmail_store::Placed> {
    let mut d = store.delivery();
    for r in rcpts {
        d.add_recipient(r).await.unwrap();
    }
    d.commit(common::message(tag)).await.unwrap()
}

async fn uids(store: &Store, mailbox_id: i64) -> Vec<u32> {
    store
        .messages(mailbox_id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.uid)
        .collect()
}

async fn log_len(store: &Store) -> usize {
    store.changes_since(0, u32::MAX).await.unwrap().len()
}

fn set(v: &[u32]) -> UidSet {
    UidSet::from_uids(v.iter().copied())
}

#[tokio::test]
async fn a_new_account_has_the_special_use_folders() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("Alice@Example.com", "pw")
        .await
        .unwrap();
    assert_eq!(alice.name, "alice@example.com");
    assert!(!alice.disabled);
    let boxes = store.mailboxes(alice.id).await.unwrap();
    let mut got: Vec<(String, Option<Role>)> =
        boxes.iter().map(|m| (m.name.clone(), m.role)).collect();
    got.sort_by(|x, y| x.0.cmp(&y.0));
    let mut want: Vec<(String, Option<Role>)> = [
        ("Archive", Role::Archive),
        ("Drafts", Role::Drafts),
        ("INBOX", Role::Inbox),
        ("Junk", Role::Junk),
        ("Sent", Role::Sent),
        ("Trash", Role::Trash),
    ]
    .into_iter()
    .map(|(n, r)| (n.to_string(), Some(r)))
    .collect();
    want.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(got, want);
    let mut validities: Vec<u32> = boxes.iter().map(|m| m.uidvalidity).collect();
    validities.sort_unstable();
    validities.dedup();
    assert_eq!(validities.len(), 6, "UIDVALIDITY shared between folders");
    for m in &boxes {
        assert!(m.subscribed, "{} not subscribed", m.name);
        assert_eq!((m.uidnext, m.highestmodseq), (1, 1), "{}", m.name);
        assert_eq!(store.counts(m.id).await.unwrap(), Default::default());
    }
    for role in Role::ALL {
        let m = store
            .mailbox_by_role(alice.id, role)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.name, role.default_name());
    }
    assert_eq!(
        mailbox(&store, &alice, "inbox").await.role,
        Some(Role::Inbox)
    );

    // The log holds the account and its six folders.
    let log = store.changes_since(0, 100).await.unwrap();
    let kinds: Vec<&str> = log.iter().map(|e| e.change.kind()).collect();
    assert_eq!(
        kinds,
        ["domain_added", "account_created"]
            .into_iter()
            .chain(["mailbox_created"; 6])
            .collect::<Vec<_>>()
    );
    let Change::AccountCreated { password_hash, .. } = &log[1].change else {
        unreachable!()
    };
    assert!(
        password_hash.starts_with("$argon2id$"),
        "not a hash: {password_hash}"
    );

    // Same name twice, and an account outside the local domains: refused.
    let err = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    let err = store
        .create_account("bob@elsewhere.org", "pw")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotAllowed(_)), "{err:?}");
    assert_eq!(store.accounts().await.unwrap().len(), 1);
}

#[tokio::test]
async fn login_checks_password_user_and_disabled() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "correct horse")
        .await
        .unwrap();
    let ok = store
        .authenticate("alice@example.com", "correct horse")
        .await
        .unwrap();
    assert_eq!(ok, Some(alice.clone()));
    assert_eq!(
        store
            .authenticate("ALICE@example.COM", "correct horse")
            .await
            .unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store
            .authenticate("alice@example.com", "wrong")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.authenticate("alice@example.com", "").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .authenticate("nobody@example.com", "correct horse")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .authenticate("not an address", "correct horse")
            .await
            .unwrap(),
        None
    );

    store.set_disabled("alice@example.com", true).await.unwrap();
    assert_eq!(
        store
            .authenticate("alice@example.com", "correct horse")
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .account("alice@example.com")
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    store
        .set_disabled("alice@example.com", false)
        .await
        .unwrap();
    assert!(
        store
            .authenticate("alice@example.com", "correct horse")
            .await
            .unwrap()
            .is_some()
    );

    store
        .set_password("alice@example.com", "battery staple")
        .await
        .unwrap();
    assert_eq!(
        store
            .authenticate("alice@example.com", "correct horse")
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .authenticate("alice@example.com", "battery staple")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn recipients_resolve_through_aliases_tags_and_catch_all() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    let bob = store.create_account("bob@example.com", "pw").await.unwrap();
    let resolve = async |a: &str| -> Vec<String> {
        store
            .resolve_recipient(a)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect()
    };
    assert_eq!(resolve("alice@example.com").await, ["alice@example.com"]);
    assert_eq!(resolve("ALICE@EXAMPLE.COM").await, ["alice@example.com"]);
    assert_eq!(
        resolve("alice+lists@example.com").await,
        ["alice@example.com"]
    );
    assert!(resolve("sales@example.com").await.is_empty());

    store
        .add_alias("sales@example.com", "alice@example.com")
        .await
        .unwrap();
    store
        .add_alias("team@example.com", "alice@example.com")
        .await
        .unwrap();
    store
        .add_alias("team@example.com", "bob@example.com")
        .await
        .unwrap();
    assert_eq!(resolve("sales@example.com").await, ["alice@example.com"]);
    assert_eq!(resolve("sales+q3@example.com").await, ["alice@example.com"]);
    assert_eq!(
        resolve("team@example.com").await,
        ["alice@example.com", "bob@example.com"]
    );
    // An alias may not shadow an account, nor point at nobody.
    let err = store
        .add_alias("bob@example.com", "alice@example.com")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    let err = store
        .add_alias("x@example.com", "ghost@example.com")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    // Catch-all: only for addresses nobody else takes.
    assert!(resolve("whoever@example.com").await.is_empty());
    store
        .add_alias("@example.com", "bob@example.com")
        .await
        .unwrap();
    assert_eq!(resolve("whoever@example.com").await, ["bob@example.com"]);
    assert_eq!(resolve("alice@example.com").await, ["alice@example.com"]);
    assert_eq!(resolve("sales@example.com").await, ["alice@example.com"]);
    assert!(
        resolve("whoever@elsewhere.org").await.is_empty(),
        "foreign domain resolved"
    );

    // A disabled account receives nothing, directly or through an alias.
    store.set_disabled("alice@example.com", true).await.unwrap();
    assert_eq!(resolve("team@example.com").await, ["bob@example.com"]);
    store
        .delete_alias("@example.com", "bob@example.com")
        .await
        .unwrap();
    assert!(resolve("alice@example.com").await.is_empty());
    assert!(resolve("sales@example.com").await.is_empty());
    let _ = (alice, bob);
}

#[tokio::test]
async fn an_unknown_recipient_is_refused_and_nothing_is_written() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    let inbox = mailbox(&store, &alice, "INBOX").await;
    let before = log_len(&store).await;

    for rcpt in [
        "nobody@example.com",
        "alice@elsewhere.org",
        "not-an-address",
        "@example.com",
    ] {
        let mut d = store.delivery();
        let err = d.add_recipient(rcpt).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{rcpt}: {err:?}");
        assert!(d.accounts().next().is_none());
        let err = d.commit(common::message(rcpt)).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    // One good and one bad recipient: the good one still gets it.
    let mut d = store.delivery();
    d.add_recipient("alice@example.com").await.unwrap();
    assert!(d.add_recipient("nobody@example.com").await.is_err());
    assert_eq!(d.accounts().count(), 1);
    drop(d); // aborted: nothing written

    assert_eq!(
        log_len(&store).await,
        before,
        "a refused delivery was logged"
    );
    assert!(store.messages(inbox.id).await.unwrap().is_empty());
    assert_eq!(
        store
            .mailbox_by_id(inbox.id)
            .await
            .unwrap()
            .unwrap()
            .uidnext,
        1
    );
}

#[tokio::test]
async fn one_delivery_is_one_message_per_mailbox() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    let bob = store.create_account("bob@example.com", "pw").await.unwrap();
    store
        .add_alias("team@example.com", "alice@example.com")
        .await
        .unwrap();
    store
        .add_alias("team@example.com", "bob@example.com")
        .await
        .unwrap();
    let a_inbox = mailbox(&store, &alice, "INBOX").await;
    let b_inbox = mailbox(&store, &bob, "INBOX").await;

    let placed = deliver(&store, &["team@example.com"], "to the team").await;
    assert_eq!(placed.len(), 2);
    let mut boxes: Vec<_> = placed.iter().map(|p| p.mailbox).collect();
    boxes.sort();
    let mut want = vec![a_inbox.guid, b_inbox.guid];
    want.sort();
    assert_eq!(boxes, want);
    assert_ne!(placed[0].guid, placed[1].guid, "one GUID per copy");
    let a_msgs = store.messages(a_inbox.id).await.unwrap();
    let b_msgs = store.messages(b_inbox.id).await.unwrap();
    assert_eq!((a_msgs.len(), b_msgs.len()), (1, 1));
    assert_eq!(a_msgs[0].blob, b_msgs[0].blob, "one blob for both");
    assert_eq!(
        store.blob(&a_msgs[0].blob).await.unwrap().unwrap(),
        common::message("to the team")
    );

    // The same account by three routes: one message.
    store
        .add_alias("sales@example.com", "alice@example.com")
        .await
        .unwrap();
    let placed = deliver(
        &store,
        &[
            "alice@example.com",
            "alice+x@example.com",
            "sales@example.com",
            "team@example.com",
        ],
        "thrice",
    )
    .await;
    assert_eq!(placed.len(), 2, "{placed:?}");
    assert_eq!(uids(&store, a_inbox.id).await, [1, 2]);
    assert_eq!(uids(&store, b_inbox.id).await, [1, 2]);
    let counts = store.counts(a_inbox.id).await.unwrap();
    assert_eq!((counts.messages, counts.unseen), (2, 2));
}

#[tokio::test]
async fn create_makes_missing_parents() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    let c = store.create_mailbox(alice.id, "a/b/c").await.unwrap();
    assert_eq!(c.name, "a/b/c");
    let all = names(&store, &alice).await;
    for n in ["a", "a/b", "a/b/c"] {
        assert!(all.contains(&n.to_string()), "{n} missing from {all:?}");
    }
    let err = store.create_mailbox(alice.id, "a/b").await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    let err = store.create_mailbox(alice.id, "inbox").await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    for bad in ["", "a//b", "x/../y", "a*"] {
        let err = store.create_mailbox(alice.id, bad).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{bad:?}: {err:?}");
    }
    // An existing parent is reused, not re-created.
    let a = mailbox(&store, &alice, "a").await;
    store.create_mailbox(alice.id, "a/d").await.unwrap();
    assert_eq!(mailbox(&store, &alice, "a").await, a);
}

#[tokio::test]
async fn rename_takes_children_along() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    store.create_mailbox(alice.id, "a/b/c").await.unwrap();
    store.create_mailbox(alice.id, "ab").await.unwrap();
    let a = mailbox(&store, &alice, "a").await;
    let ab = mailbox(&store, &alice, "a/b").await;
    let abc = mailbox(&store, &alice, "a/b/c").await;
    store
        .append(
            abc.id,
            common::message("deep"),
            Flags::new(["\\Seen"]),
            None,
        )
        .await
        .unwrap();

    store.rename_mailbox(alice.id, "a", "x/y").await.unwrap();
    let all = names(&store, &alice).await;
    for n in ["x", "x/y", "x/y/b", "x/y/b/c", "ab"] {
        assert!(all.contains(&n.to_string()), "{n} missing from {all:?}");
    }
    assert!(
        !all.iter().any(|n| n == "a" || n.starts_with("a/")),
        "{all:?}"
    );
    // Same mailboxes (GUID, UIDVALIDITY, messages), new names.
    for (old, new) in [(&a, "x/y"), (&ab, "x/y/b"), (&abc, "x/y/b/c")] {
        let m = mailbox(&store, &alice, new).await;
        assert_eq!(
            (m.id, m.guid, m.uidvalidity),
            (old.id, old.guid, old.uidvalidity),
            "{new}"
        );
    }
    assert_eq!(uids(&store, abc.id).await, [1]);

    let err = store.rename_mailbox(alice.id, "x", "ab").await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    let err = store
        .rename_mailbox(alice.id, "x", "x/z")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = store
        .rename_mailbox(alice.id, "nothing", "z")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn rename_inbox_moves_its_messages_and_keeps_inbox() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    let inbox = mailbox(&store, &alice, "INBOX").await;
    for i in 0..5 {
        deliver(&store, &["alice@example.com"], &format!("m{i}")).await;
    }
    store
        .store_flags(
            inbox.id,
            set(&[1, 2]),
            FlagMode::Add,
            Flags::new(["\\Deleted"]),
            None,
        )
        .await
        .unwrap();
    store
        .store_flags(
            inbox.id,
            set(&[4]),
            FlagMode::Add,
            Flags::new(["\\Flagged"]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(store.expunge(inbox.id, None).await.unwrap(), [1, 2]);
    let originals = store.messages(inbox.id).await.unwrap();
    assert_eq!(
        originals.iter().map(|m| m.uid).collect::<Vec<_>>(),
        [3, 4, 5]
    );

    store
        .rename_mailbox(alice.id, "INBOX", "Old/Mail")
        .await
        .unwrap();
    let old = mailbox(&store, &alice, "Old/Mail").await;
    assert_ne!(old.guid, inbox.guid);
    assert_eq!(old.role, None);
    let moved = store.messages(old.id).await.unwrap();
    assert_eq!(
        moved.iter().map(|m| m.uid).collect::<Vec<_>>(),
        [1, 2, 3],
        "new UIDs"
    );
    for (o, m) in originals.iter().zip(&moved) {
        assert_eq!(
            (&o.blob, &o.flags, o.size, o.internal_date),
            (&m.blob, &m.flags, m.size, m.internal_date)
        );
    }

    let now = mailbox(&store, &alice, "INBOX").await;
    assert_eq!(
        (now.id, now.guid, now.uidvalidity, now.role),
        (inbox.id, inbox.guid, inbox.uidvalidity, Some(Role::Inbox))
    );
    assert!(
        store.messages(inbox.id).await.unwrap().is_empty(),
        "INBOX not emptied"
    );
    assert_eq!(now.uidnext, 6, "INBOX UIDNEXT must not fall");
    assert_eq!(
        store.expunged_since(inbox.id, 0).await.unwrap(),
        [1, 2, 3, 4, 5]
    );
    // New mail still lands in INBOX, after the old UIDs.
    let p = deliver(&store, &["alice@example.com"], "after").await;
    assert_eq!((p[0].mailbox, p[0].uid), (inbox.guid, 6));
}

#[tokio::test]
async fn delete_refuses_inbox_and_parents() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    store.create_mailbox(alice.id, "p/q").await.unwrap();
    let before = log_len(&store).await;

    let err = store.delete_mailbox(alice.id, "INBOX").await.unwrap_err();
    assert!(matches!(err, StoreError::NotAllowed(_)), "{err:?}");
    let err = store.delete_mailbox(alice.id, "inbox").await.unwrap_err();
    assert!(matches!(err, StoreError::NotAllowed(_)), "{err:?}");
    let err = store.delete_mailbox(alice.id, "p").await.unwrap_err();
    assert!(matches!(err, StoreError::NotAllowed(_)), "{err:?}");
    let err = store.delete_mailbox(alice.id, "nope").await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert_eq!(log_len(&store).await, before, "refused DELETE was logged");

    let q = mailbox(&store, &alice, "p/q").await;
    store
        .append(q.id, common::message("in q"), Flags::default(), None)
        .await
        .unwrap();
    store.delete_mailbox(alice.id, "p/q").await.unwrap();
    store.delete_mailbox(alice.id, "p").await.unwrap();
    let all = names(&store, &alice).await;
    assert!(!all.iter().any(|n| n.starts_with('p')), "{all:?}");
    assert!(store.mailbox_by_id(q.id).await.unwrap().is_none());
    assert!(
        store.messages(q.id).await.unwrap().is_empty(),
        "messages outlived their mailbox"
    );
}

/// Mailbox names are case-sensitive (all but INBOX): `foo/bar` is no child of `Foo`, and
/// `Foo_x` no child pattern of `Foo%`.
#[tokio::test]
async fn delete_sees_children_by_exact_name() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    store.create_mailbox(alice.id, "Foo").await.unwrap();
    store.create_mailbox(alice.id, "foo/bar").await.unwrap();
    store.create_mailbox(alice.id, "a_b").await.unwrap();
    store.create_mailbox(alice.id, "axb/c").await.unwrap();
    store.delete_mailbox(alice.id, "Foo").await.unwrap();
    store.delete_mailbox(alice.id, "a_b").await.unwrap();
    let all = names(&store, &alice).await;
    assert!(all.contains(&"foo/bar".to_string()) && all.contains(&"axb/c".to_string()));
    assert!(!all.contains(&"Foo".to_string()) && !all.contains(&"a_b".to_string()));
}

#[tokio::test]
async fn copy_reports_copyuid_and_makes_new_messages() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    let inbox = mailbox(&store, &alice, "INBOX").await;
    let archive = mailbox(&store, &alice, "Archive").await;
    for i in 0..4 {
        deliver(&store, &["alice@example.com"], &format!("m{i}")).await;
    }
    store
        .store_flags(
            inbox.id,
            set(&[2]),
            FlagMode::Add,
            Flags::new(["\\Seen", "$Important"]),
            None,
        )
        .await
        .unwrap();
    store
        .append(
            archive.id,
            common::message("already"),
            Flags::default(),
            None,
        )
        .await
        .unwrap();

    let copied = store
        .copy(inbox.id, set(&[2, 3, 4, 99]), archive.id, false)
        .await
        .unwrap();
    assert_eq!(copied.uidvalidity, archive.uidvalidity);
    assert_eq!(copied.uids, [(2, 2), (3, 3), (4, 4)]);
    let src = store.messages(inbox.id).await.unwrap();
    let dst = store.messages(archive.id).await.unwrap();
    assert_eq!(src.len(), 4, "COPY removed originals");
    for (from, to) in &copied.uids {
        let s = src.iter().find(|m| m.uid == *from).unwrap();
        let d = dst.iter().find(|m| m.uid == *to).unwrap();
        assert_ne!(s.guid, d.guid, "a copy is a new message");
        assert_eq!(
            (&s.blob, &s.flags, s.size, s.internal_date),
            (&d.blob, &d.flags, d.size, d.internal_date)
        );
    }
    let a = store.mailbox_by_id(archive.id).await.unwrap().unwrap();
    assert_eq!(a.uidnext, 5);
    // Nothing to copy: nothing happens.
    let before = log_len(&store).await;
    let none = store
        .copy(inbox.id, set(&[50]), archive.id, false)
        .await
        .unwrap();
    assert!(none.uids.is_empty());
    assert_eq!(log_len(&store).await, before);
}

#[tokio::test]
async fn move_removes_originals_and_leaves_tombstones() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    let inbox = mailbox(&store, &alice, "INBOX").await;
    let trash = mailbox(&store, &alice, "Trash").await;
    for i in 0..3 {
        deliver(&store, &["alice@example.com"], &format!("m{i}")).await;
    }
    let before = store.messages(inbox.id).await.unwrap();
    let moved = store
        .copy(inbox.id, set(&[1, 3]), trash.id, true)
        .await
        .unwrap();
    assert_eq!(moved.uids, [(1, 1), (3, 2)]);
    assert_eq!(uids(&store, inbox.id).await, [2]);
    assert_eq!(store.expunged_since(inbox.id, 0).await.unwrap(), [1, 3]);
    let in_trash = store.messages(trash.id).await.unwrap();
    assert_eq!(
        in_trash.iter().map(|m| m.blob).collect::<Vec<_>>(),
        [before[0].blob, before[2].blob]
    );

    // The expunge is visible by MODSEQ (QRESYNC) and in the log with the old GUIDs.
    let hms = store
        .mailbox_by_id(inbox.id)
        .await
        .unwrap()
        .unwrap()
        .highestmodseq;
    assert_eq!(
        store.expunged_since(inbox.id, hms).await.unwrap(),
        Vec::<u32>::new()
    );
    assert_eq!(
        store.expunged_since(inbox.id, hms - 1).await.unwrap(),
        [1, 3]
    );
    let log = store.changes_since(0, u32::MAX).await.unwrap();
    let Some(Change::MessagesExpunged {
        messages, modseq, ..
    }) = log.last().map(|e| &e.change)
    else {
        panic!("MOVE did not end with an expunge: {:?}", log.last());
    };
    assert_eq!(*modseq, hms);
    assert_eq!(
        messages
            .iter()
            .map(|e| (e.uid, e.message))
            .collect::<Vec<_>>(),
        [(1, before[0].guid), (3, before[2].guid)]
    );

    // Across accounts: refused, nothing moves.
    let bob = store.create_account("bob@example.com", "pw").await.unwrap();
    let bob_inbox = mailbox(&store, &bob, "INBOX").await;
    let err = store
        .copy(inbox.id, set(&[2]), bob_inbox.id, true)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotAllowed(_)), "{err:?}");
    assert_eq!(uids(&store, inbox.id).await, [2]);
}

#[tokio::test]
async fn store_flags_honours_unchanged_since() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    let inbox = mailbox(&store, &alice, "INBOX").await;
    for i in 0..3 {
        deliver(&store, &["alice@example.com"], &format!("m{i}")).await;
    }
    let since = store
        .mailbox_by_id(inbox.id)
        .await
        .unwrap()
        .unwrap()
        .highestmodseq;
    let first = store
        .store_flags(
            inbox.id,
            set(&[2]),
            FlagMode::Add,
            Flags::new(["\\Seen"]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(first.changed, [(2, Flags::new(["\\Seen"]))]);
    assert_eq!(first.modseq, since + 1);

    // A client that last saw `since` tries to flag all three: UID 2 changed meanwhile.
    let cond = store
        .store_flags(
            inbox.id,
            set(&[1, 2, 3]),
            FlagMode::Add,
            Flags::new(["\\Flagged"]),
            Some(since),
        )
        .await
        .unwrap();
    assert_eq!(cond.modified, [2]);
    assert_eq!(cond.changed.iter().map(|c| c.0).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(cond.modseq, since + 2);
    let msgs = store.messages(inbox.id).await.unwrap();
    assert_eq!(msgs[1].flags, Flags::new(["\\Seen"]), "UID 2 was touched");
    assert_eq!(msgs[0].flags, Flags::new(["\\Flagged"]));
    assert_eq!(
        store
            .changed_since(inbox.id, since + 1)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_no_op_store_does_not_bump_modseq() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    let inbox = mailbox(&store, &alice, "INBOX").await;
    deliver(&store, &["alice@example.com"], "m").await;
    store
        .store_flags(
            inbox.id,
            set(&[1]),
            FlagMode::Add,
            Flags::new(["\\Seen"]),
            None,
        )
        .await
        .unwrap();
    let before = store.mailbox_by_id(inbox.id).await.unwrap().unwrap();
    let msg_before = store.messages(inbox.id).await.unwrap();
    let log_before = log_len(&store).await;

    for (mode, flags) in [
        (FlagMode::Add, Flags::new(["\\Seen"])),
        (FlagMode::Remove, Flags::new(["\\Deleted"])),
        (FlagMode::Replace, Flags::new(["\\seen"])),
    ] {
        let out = store
            .store_flags(inbox.id, set(&[1, 7]), mode, flags, None)
            .await
            .unwrap();
        assert!(out.changed.is_empty(), "{mode:?}: {out:?}");
        assert_eq!(out.modseq, before.highestmodseq, "{mode:?}");
    }
    assert_eq!(
        store.mailbox_by_id(inbox.id).await.unwrap().unwrap(),
        before
    );
    assert_eq!(store.messages(inbox.id).await.unwrap(), msg_before);
    assert_eq!(log_len(&store).await, log_before);
}

#[tokio::test]
async fn a_recreated_mailbox_gets_a_new_uidvalidity() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    let first = store.create_mailbox(alice.id, "Projects").await.unwrap();
    store
        .append(first.id, common::message("x"), Flags::default(), None)
        .await
        .unwrap();
    store.delete_mailbox(alice.id, "Projects").await.unwrap();
    let second = store.create_mailbox(alice.id, "Projects").await.unwrap();
    assert!(
        second.uidvalidity > first.uidvalidity,
        "{} then {}",
        first.uidvalidity,
        second.uidvalidity
    );
    assert_ne!(second.guid, first.guid);
    assert_eq!(second.uidnext, 1);
    assert!(store.messages(second.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_database_belongs_to_one_node() {
    let dir = tempfile::tempdir().unwrap();
    {
        let a = common::open(dir.path(), "a").await;
        a.add_domain("example.com").await.unwrap();
        a.close().await;
    }
    let err = match twinmail_store::Store::open(common::options(dir.path(), "b")).await {
        Ok(_) => panic!("node b opened node a's database"),
        Err(e) => e,
    };
    assert!(matches!(err, StoreError::NotAllowed(_)), "{err:?}");
    // The rightful owner still opens it, data intact.
    let a = common::open(dir.path(), "a").await;
    assert_eq!(a.node(), "a");
    assert_eq!(a.domains().await.unwrap(), ["example.com"]);
}

#[tokio::test]
async fn a_disabled_account_takes_no_mail_and_it_does_not_fall_to_the_catch_all() {
    let (_dir, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    store.create_account("bob@example.com", "pw").await.unwrap();
    store
        .add_alias("@example.com", "bob@example.com")
        .await
        .unwrap();
    store
        .add_alias("team@example.com", "alice@example.com")
        .await
        .unwrap();
    store.set_disabled("alice@example.com", true).await.unwrap();
    for addr in [
        "alice@example.com",
        "alice+tag@example.com",
        "team@example.com",
    ] {
        assert!(
            store.resolve_recipient(addr).await.unwrap().is_empty(),
            "{addr} went somewhere"
        );
    }
    // Unknown names still reach the catch-all.
    assert_eq!(
        store.resolve_recipient("nobody@example.com").await.unwrap()[0].name,
        "bob@example.com"
    );
    assert!(
        store
            .authenticate("alice@example.com", "pw")
            .await
            .unwrap()
            .is_none()
    );
    store
        .set_disabled("alice@example.com", false)
        .await
        .unwrap();
    assert_eq!(
        store.resolve_recipient("team@example.com").await.unwrap(),
        vec![alice]
    );
}

#[tokio::test]
async fn ids_of_deleted_accounts_and_mailboxes_are_never_reused() {
    let (_dir, store) = fresh().await;
    store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    let bob = store.create_account("bob@example.com", "pw").await.unwrap();
    let bob_box = store.create_mailbox(bob.id, "Projects").await.unwrap();
    store.delete_account("bob@example.com").await.unwrap();
    let carol = store
        .create_account("carol@example.com", "pw")
        .await
        .unwrap();
    assert!(carol.id > bob.id, "carol got bob's id");
    // A stale session holding bob's id reaches nothing.
    assert!(store.create_mailbox(bob.id, "Stolen").await.is_err());
    let carol_box = store.create_mailbox(carol.id, "Projects").await.unwrap();
    assert!(carol_box.id > bob_box.id);
}

#[tokio::test]
async fn a_delivery_to_an_account_deleted_after_rcpt_fails() {
    let (_dir, store) = fresh().await;
    store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    let mut d = store.delivery();
    d.add_recipient("alice@example.com").await.unwrap();
    store.delete_account("alice@example.com").await.unwrap();
    assert!(matches!(
        d.commit(common::message("late")).await,
        Err(StoreError::NotFound(_))
    ));
}

/// An admin command run beside the server opens the same database with a store of its
/// own: both logs interleave without a reused or skipped sequence number, and neither
/// side's writes fail.
#[tokio::test]
async fn a_second_store_on_the_same_database_continues_the_log() {
    let (dir, server) = fresh().await;
    server
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    let mut log = Vec::new();
    for round in 0..3 {
        deliver(&server, &["alice@example.com"], &format!("before {round}")).await;
        let admin = common::open(dir.path(), "a").await;
        admin
            .create_account(&format!("user{round}@example.com"), "pw")
            .await
            .unwrap();
        admin.close().await;
        // The twin acknowledged everything so far (the log is trimmed): what follows
        // must still get new numbers, or the twin would never be sent it.
        let shipped = server.changes_since(0, 10_000).await.unwrap();
        log.extend(shipped.iter().map(|e| (e.seq, e.change.clone())));
        server
            .record_ack(shipped.last().unwrap().seq)
            .await
            .unwrap();
        deliver(&server, &["alice@example.com"], &format!("after {round}")).await;
    }
    let rest = server.changes_since(0, 10_000).await.unwrap();
    log.extend(rest.into_iter().map(|e| (e.seq, e.change)));
    let seqs: Vec<i64> = log.iter().map(|e| e.0).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    let adds = log
        .iter()
        .filter(|e| matches!(e.1, Change::MessageAdded { .. }))
        .count();
    assert_eq!(adds, 6);
    let accounts = log
        .iter()
        .filter(|e| matches!(e.1, Change::AccountCreated { .. }))
        .count();
    assert_eq!(accounts, 4);
}

#[tokio::test]
async fn quota_limits_append_and_copy_but_not_moves() {
    let (_d, store) = fresh().await;
    let alice = store
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    let inbox = mailbox(&store, &alice, "INBOX").await;
    let archive = store.create_mailbox(alice.id, "Kept").await.unwrap();
    let q = store.quota(alice.id).await.unwrap();
    assert_eq!((q.used_bytes, q.messages, q.limit_bytes), (0, 0, None));
    let msg = common::message("first");
    let size = msg.len() as u64;
    store
        .append(inbox.id, msg, Flags::default(), None)
        .await
        .unwrap();
    store
        .set_quota("alice@example.com", Some(size * 2 + size / 2))
        .await
        .unwrap();
    store
        .append(inbox.id, common::message("secnd"), Flags::default(), None)
        .await
        .unwrap();
    let q = store.quota(alice.id).await.unwrap();
    assert_eq!((q.used_bytes, q.messages), (size * 2, 2));
    // A third would pass the limit: refused, nothing stored.
    let e = store
        .append(inbox.id, common::message("third"), Flags::default(), None)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::OverQuota(_)), "{e:?}");
    assert!(e.is_client_error());
    let e = store
        .copy(inbox.id, UidSet::all(), archive.id, false)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::OverQuota(_)), "{e:?}");
    // A move takes no more room.
    store
        .copy(inbox.id, UidSet::all(), archive.id, true)
        .await
        .unwrap();
    assert_eq!(store.quota(alice.id).await.unwrap().messages, 2);
    // A delivery to a full account is refused at RCPT; lifting the limit lets it in.
    store
        .set_quota("alice@example.com", Some(size))
        .await
        .unwrap();
    let mut d = store.delivery();
    let e = d.add_recipient("alice@example.com").await.unwrap_err();
    assert!(matches!(e, StoreError::OverQuota(_)), "{e:?}");
    store.set_quota("alice@example.com", None).await.unwrap();
    d.add_recipient("alice@example.com").await.unwrap();
    assert_eq!(store.quota(alice.id).await.unwrap().limit_bytes, None);
}

/// An admin command run beside the server (another process with the same database) logs
/// its changes; the server's watchers (IDLE sessions) hear of them within the writer's
/// one-second poll, in log order, and the server's own next changes follow them.
#[tokio::test]
async fn changes_made_by_another_process_reach_this_ones_watchers() {
    let (dir, server) = fresh().await;
    let alice = server
        .create_account("alice@example.com", "pw")
        .await
        .unwrap();
    let inbox = mailbox(&server, &alice, "INBOX").await;
    let mut watch = server.subscribe();
    let beside = common::open(dir.path(), "a").await;
    let placed = beside
        .append(
            inbox.id,
            common::message("imported"),
            Flags::default(),
            None,
        )
        .await
        .unwrap();
    let ev = tokio::time::timeout(std::time::Duration::from_secs(5), watch.recv())
        .await
        .expect("the import was never published here")
        .unwrap();
    assert!(
        matches!(&ev.change, Change::MessageAdded { uid, .. } if *uid == placed.uid),
        "{ev:?}"
    );
    // The server's own next change comes after it, numbered after it.
    let own = server
        .append(inbox.id, common::message("own"), Flags::default(), None)
        .await
        .unwrap();
    assert!(own.uid > placed.uid);
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), watch.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(next.seq > ev.seq, "{} after {}", next.seq, ev.seq);
    assert!(matches!(&next.change, Change::MessageAdded { uid, .. } if *uid == own.uid));
    beside.close().await;
}

//! `apply_remote`: a twin that applies another's change log, in order or not, once or
//! twice, ends in exactly the state of the origin, and logs nothing of it (no ping-pong).

mod common;

use common::Lcg;
use tokio::sync::broadcast::error::TryRecvError;
use twinmail_store::{
    Applied, BlobHash, Change, ChangeEvent, FlagMode, Flags, Guid, Role, Store, StoreError, UidSet,
};

/// One change as the mirror ships it: the log entry plus the bytes of an added message.
#[derive(Clone, Debug)]
struct Shipped {
    origin: String,
    seq: i64,
    change: Change,
    bytes: Option<Vec<u8>>,
}

async fn apply(store: &Store, s: &Shipped) -> Result<Applied, StoreError> {
    store
        .apply_remote(&s.origin, s.seq, s.change.clone(), s.bytes.clone())
        .await
}

/// Everything that must be equal on both twins (local row ids excluded).
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    domains: Vec<String>,
    aliases: Vec<(String, String)>,
    accounts: Vec<AccountSnap>,
}

#[derive(Debug, PartialEq, Eq)]
struct AccountSnap {
    guid: Guid,
    name: String,
    disabled: bool,
    quota: Option<u64>,
    mailboxes: Vec<MailboxSnap>,
}

#[derive(Debug, PartialEq, Eq)]
struct MailboxSnap {
    guid: Guid,
    name: String,
    role: Option<Role>,
    uidvalidity: u32,
    uidnext: u32,
    highestmodseq: u64,
    subscribed: bool,
    expunged: Vec<u32>,
    messages: Vec<MessageSnap>,
}

#[derive(Debug, PartialEq, Eq)]
struct MessageSnap {
    uid: u32,
    guid: Guid,
    flags: Flags,
    modseq: u64,
    internal_date: i64,
    size: u64,
    bytes: Vec<u8>,
}

async fn snapshot(store: &Store) -> Snapshot {
    let mut accounts = Vec::new();
    for a in store.accounts().await.unwrap() {
        let mut mailboxes = Vec::new();
        for m in store.mailboxes(a.id).await.unwrap() {
            let mut messages = Vec::new();
            for x in store.messages(m.id).await.unwrap() {
                let bytes = store
                    .blob(&x.blob)
                    .await
                    .unwrap()
                    .expect("blob of a message");
                assert_eq!(BlobHash::of(&bytes), x.blob);
                messages.push(MessageSnap {
                    uid: x.uid,
                    guid: x.guid,
                    flags: x.flags,
                    modseq: x.modseq,
                    internal_date: x.internal_date,
                    size: x.size,
                    bytes,
                });
            }
            mailboxes.push(MailboxSnap {
                guid: m.guid,
                name: m.name,
                role: m.role,
                uidvalidity: m.uidvalidity,
                uidnext: m.uidnext,
                highestmodseq: m.highestmodseq,
                subscribed: m.subscribed,
                expunged: store.expunged_since(m.id, 0).await.unwrap(),
                messages,
            });
        }
        accounts.push(AccountSnap {
            guid: a.guid,
            name: a.name,
            disabled: a.disabled,
            quota: store.quota(a.id).await.unwrap().limit_bytes,
            mailboxes,
        });
    }
    Snapshot {
        domains: store.domains().await.unwrap(),
        aliases: store.aliases().await.unwrap(),
        accounts,
    }
}

async fn deliver(store: &Store, rcpts: &[&str], body: Vec<u8>) {
    let mut d = store.delivery();
    for r in rcpts {
        d.add_recipient(r).await.unwrap();
    }
    d.commit(body).await.unwrap();
}

/// A history touching every kind of change, made on `a`.
async fn build_history(a: &Store) {
    a.add_domain("example.com").await.unwrap();
    a.add_domain("other.org").await.unwrap();
    let alice = a
        .create_account("alice@example.com", "alice-pw")
        .await
        .unwrap();
    let bob = a.create_account("bob@example.com", "bob-pw").await.unwrap();
    let carol = a
        .create_account("carol@other.org", "carol-pw")
        .await
        .unwrap();
    a.add_alias("team@example.com", "alice@example.com")
        .await
        .unwrap();
    a.add_alias("team@example.com", "bob@example.com")
        .await
        .unwrap();
    a.add_alias("@example.com", "bob@example.com")
        .await
        .unwrap();
    a.create_mailbox(alice.id, "Work/Projects").await.unwrap();

    for i in 0..6 {
        deliver(
            a,
            &["team@example.com"],
            common::message(&format!("team {i}")),
        )
        .await;
    }
    // The same bytes twice: one blob, two messages.
    deliver(a, &["alice@example.com"], common::message("same")).await;
    deliver(a, &["alice+x@example.com"], common::message("same")).await;
    deliver(a, &["carol@other.org"], common::message("carol")).await;

    let inbox = a.mailbox(alice.id, "INBOX").await.unwrap().unwrap();
    let work = a.mailbox(alice.id, "Work").await.unwrap().unwrap();
    let trash = a
        .mailbox_by_role(alice.id, Role::Trash)
        .await
        .unwrap()
        .unwrap();
    a.append(
        work.id,
        common::message("appended"),
        Flags::new(["\\Seen", "$Label1"]),
        Some(1_700_000_000),
    )
    .await
    .unwrap();
    let all = |v: &[u32]| UidSet::from_uids(v.iter().copied());
    a.store_flags(
        inbox.id,
        all(&[1, 2, 3]),
        FlagMode::Add,
        Flags::new(["\\Deleted", "\\Flagged"]),
        None,
    )
    .await
    .unwrap();
    a.store_flags(
        inbox.id,
        all(&[2]),
        FlagMode::Remove,
        Flags::new(["\\Deleted"]),
        None,
    )
    .await
    .unwrap();
    a.store_flags(
        inbox.id,
        all(&[4]),
        FlagMode::Replace,
        Flags::new(["\\Answered", "$Work"]),
        None,
    )
    .await
    .unwrap();
    assert_eq!(a.expunge(inbox.id, None).await.unwrap(), [1, 3]);
    a.copy(inbox.id, all(&[2, 4]), work.id, false)
        .await
        .unwrap();
    a.copy(inbox.id, all(&[5]), trash.id, true).await.unwrap();
    a.rename_mailbox(alice.id, "Work", "Jobs/Current")
        .await
        .unwrap();
    a.set_subscribed(alice.id, "Jobs/Current/Projects", false)
        .await
        .unwrap();
    a.set_subscribed(alice.id, "Junk", false).await.unwrap();
    a.create_mailbox(bob.id, "Tmp").await.unwrap();
    a.delete_mailbox(bob.id, "Tmp").await.unwrap();
    a.rename_mailbox(bob.id, "INBOX", "Old Inbox")
        .await
        .unwrap();
    let bob_old = a.mailbox(bob.id, "Old Inbox").await.unwrap().unwrap();
    a.remove(bob_old.id, all(&[1])).await.unwrap();
    a.set_password("alice@example.com", "alice-new")
        .await
        .unwrap();
    a.set_quota("bob@example.com", Some(50_000_000))
        .await
        .unwrap();
    a.set_disabled("bob@example.com", true).await.unwrap();
    a.set_disabled("bob@example.com", false).await.unwrap();
    a.set_disabled("bob@example.com", true).await.unwrap();
    a.delete_alias("team@example.com", "bob@example.com")
        .await
        .unwrap();
    a.delete_account("carol@other.org").await.unwrap();
    a.delete_domain("other.org").await.unwrap();
    let _ = carol;
}

/// `a`'s whole log, with the bytes of every added message.
async fn ship(a: &Store) -> Vec<Shipped> {
    let mut out = Vec::new();
    for e in a.changes_since(0, 10_000).await.unwrap() {
        let bytes = match &e.change {
            Change::MessageAdded { blob, .. } => Some(a.blob(blob).await.unwrap().expect("blob")),
            _ => None,
        };
        out.push(Shipped {
            origin: e.origin,
            seq: e.seq,
            change: e.change,
            bytes,
        });
    }
    out
}

async fn origin_with_history() -> (tempfile::TempDir, Store, Vec<Shipped>) {
    let dir = tempfile::tempdir().unwrap();
    let a = common::open(dir.path(), "a").await;
    build_history(&a).await;
    let shipped = ship(&a).await;
    assert!(shipped.len() > 60, "history too short: {}", shipped.len());
    let kinds: std::collections::BTreeSet<&str> = shipped.iter().map(|s| s.change.kind()).collect();
    assert_eq!(kinds.len(), 16, "history misses kinds of change: {kinds:?}");
    (dir, a, shipped)
}

#[tokio::test]
async fn applied_once_in_order_equals_origin_and_resends_are_skipped() {
    let (_da, a, shipped) = origin_with_history().await;
    let dir = tempfile::tempdir().unwrap();
    let b = common::open(dir.path(), "b").await;
    let mut rx = b.subscribe();

    for s in &shipped {
        assert_eq!(
            apply(&b, s).await.unwrap(),
            Applied::Applied,
            "first apply of {s:?}"
        );
        let once = snapshot(&b).await;
        assert_eq!(b.applied_seq("a").await.unwrap(), s.seq);
        assert_eq!(
            apply(&b, s).await.unwrap(),
            Applied::AlreadyApplied,
            "resend of seq {}",
            s.seq
        );
        assert_eq!(
            snapshot(&b).await,
            once,
            "a resend of seq {} changed the state",
            s.seq
        );
    }
    // An old resend long after is skipped as well.
    assert_eq!(
        apply(&b, &shipped[3]).await.unwrap(),
        Applied::AlreadyApplied
    );

    assert_eq!(snapshot(&b).await, snapshot(&a).await, "twins differ");
    assert!(
        b.changes_since(0, 10_000).await.unwrap().is_empty(),
        "applied changes were logged"
    );
    assert_eq!(
        b.applied_seq("a").await.unwrap(),
        shipped.last().unwrap().seq
    );

    // Watchers on B saw each applied change once, with its origin, in order.
    let mut seen: Vec<ChangeEvent> = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(e) => seen.push((*e).clone()),
            Err(TryRecvError::Empty) => break,
            Err(e) => panic!("stream: {e:?}"),
        }
    }
    let expected: Vec<ChangeEvent> = shipped
        .iter()
        .map(|s| ChangeEvent {
            origin: s.origin.clone(),
            seq: s.seq,
            change: s.change.clone(),
        })
        .collect();
    assert_eq!(seen, expected);

    // Passwords travel as hashes: the new one works on B, the old one does not.
    assert!(
        b.authenticate("alice@example.com", "alice-new")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        b.authenticate("alice@example.com", "alice-pw")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        b.authenticate("bob@example.com", "bob-pw")
            .await
            .unwrap()
            .is_none(),
        "disabled"
    );
    assert_eq!(b.integrity_check().await.unwrap(), "ok");
}

#[tokio::test]
async fn applied_out_of_order_ends_in_the_same_state() {
    let (_da, a, shipped) = origin_with_history().await;
    let want = snapshot(&a).await;
    for seed in [1, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let b = common::open(dir.path(), "b").await;
        let mut pending = shipped.clone();
        Lcg::new(seed).shuffle(&mut pending);
        assert_ne!(
            pending.iter().map(|s| s.seq).collect::<Vec<_>>(),
            shipped.iter().map(|s| s.seq).collect::<Vec<_>>(),
            "shuffle did nothing"
        );
        let (mut gaps, mut rounds) = (0, 0);
        while !pending.is_empty() {
            rounds += 1;
            assert!(rounds <= shipped.len(), "seed {seed}: no progress");
            let mut left = Vec::new();
            for s in pending {
                let before = b.applied_seq("a").await.unwrap();
                match apply(&b, &s).await {
                    Ok(Applied::Applied) => assert_eq!(s.seq, before + 1, "applied out of order"),
                    Ok(Applied::AlreadyApplied) => {
                        panic!("seed {seed}: seq {} applied twice", s.seq)
                    }
                    Err(StoreError::Gap {
                        origin,
                        expected,
                        got,
                    }) => {
                        assert_eq!((origin.as_str(), expected, got), ("a", before + 1, s.seq));
                        assert_eq!(
                            b.applied_seq("a").await.unwrap(),
                            before,
                            "a gap moved the mark"
                        );
                        gaps += 1;
                        left.push(s);
                    }
                    Err(e) => panic!("seed {seed}: seq {}: {e}", s.seq),
                }
            }
            pending = left;
        }
        assert!(gaps > 0, "seed {seed}: no gap was ever reported");
        assert_eq!(snapshot(&b).await, want, "seed {seed}: twins differ");
        assert!(
            b.changes_since(0, 10_000).await.unwrap().is_empty(),
            "seed {seed}: ping-pong"
        );
    }
}

#[tokio::test]
async fn message_bytes_must_match_their_hash() {
    let (_da, a, shipped) = origin_with_history().await;
    let dir = tempfile::tempdir().unwrap();
    let b = common::open(dir.path(), "b").await;
    let first_add = shipped
        .iter()
        .position(|s| matches!(s.change, Change::MessageAdded { .. }))
        .unwrap();
    for s in &shipped[..first_add] {
        apply(&b, s).await.unwrap();
    }
    let before = snapshot(&b).await;
    let mark = b.applied_seq("a").await.unwrap();
    let add = &shipped[first_add];

    let wrong = b"From: mallory\r\n\r\nnot the message\r\n".to_vec();
    let forged = Shipped {
        bytes: Some(wrong.clone()),
        ..add.clone()
    };
    let err = apply(&b, &forged).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let missing = Shipped {
        bytes: None,
        ..add.clone()
    };
    let err = apply(&b, &missing).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    assert_eq!(snapshot(&b).await, before, "a refused change left traces");
    assert_eq!(
        b.applied_seq("a").await.unwrap(),
        mark,
        "a refused change moved the mark"
    );
    assert_eq!(
        b.blob(&BlobHash::of(&wrong)).await.unwrap(),
        None,
        "forged bytes stored"
    );
    assert!(b.changes_since(0, 100).await.unwrap().is_empty());

    // The genuine change still applies, and so does everything after it.
    for s in &shipped[first_add..] {
        assert_eq!(apply(&b, s).await.unwrap(), Applied::Applied);
    }
    assert_eq!(snapshot(&b).await, snapshot(&a).await);
}

#[tokio::test]
async fn a_change_is_refused_by_its_own_origin() {
    let dir = tempfile::tempdir().unwrap();
    let a = common::open(dir.path(), "a").await;
    let change = Change::DomainAdded {
        domain: "example.com".into(),
    };
    let err = a.apply_remote("a", 1, change, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(a.domains().await.unwrap().is_empty());
    assert_eq!(a.applied_seq("a").await.unwrap(), 0);
    assert!(a.changes_since(0, 100).await.unwrap().is_empty());
}

/// A twin may have to create a mailbox locally (split mode) with the name of one it got
/// from the other twin and deleted since. RFC 3501 §2.3.1.1: the new UIDVALIDITY must be
/// greater than the old one, even when the other twin handed out values ahead of this
/// twin's clock (a burst of creations, or a clock that runs ahead).
#[tokio::test]
async fn recreating_a_mirrored_mailbox_gives_a_greater_uidvalidity() {
    let dir_a = tempfile::tempdir().unwrap();
    let a = common::open(dir_a.path(), "a").await;
    a.add_domain("example.com").await.unwrap();
    let alice = a.create_account("alice@example.com", "pw").await.unwrap();
    // Forty creations in a burst: UIDVALIDITY runs ahead of the clock by about as many.
    for i in 0..40 {
        a.create_mailbox(alice.id, &format!("F{i:02}"))
            .await
            .unwrap();
    }
    let old = a.mailbox(alice.id, "F39").await.unwrap().unwrap();

    let dir_b = tempfile::tempdir().unwrap();
    let b = common::open(dir_b.path(), "b").await;
    for s in ship(&a).await {
        apply(&b, &s).await.unwrap();
    }
    let b_alice = b.account("alice@example.com").await.unwrap().unwrap();
    assert_eq!(
        b.mailbox(b_alice.id, "F39")
            .await
            .unwrap()
            .unwrap()
            .uidvalidity,
        old.uidvalidity
    );
    b.delete_mailbox(b_alice.id, "F39").await.unwrap();
    let new = b.create_mailbox(b_alice.id, "F39").await.unwrap();
    assert!(
        new.uidvalidity > old.uidvalidity,
        "re-created F39 has UIDVALIDITY {} after {}",
        new.uidvalidity,
        old.uidvalidity
    );
    // B's own changes are logged with B's origin.
    let log = b.changes_since(0, 100).await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|e| e.origin == "b"));
}

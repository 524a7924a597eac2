//! Concurrency property test: many tasks deliver, flag and expunge in one INBOX at once,
//! with failing operations mixed in so that they share group-commit batches with good
//! ones. Afterwards the change stream, the change log and the mailbox must tell one
//! consistent story: unique, rising UIDs that are never reused, MODSEQs that never fall,
//! exactly one log entry per committed mutation and nothing from a failed one.

mod common;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Arc, Mutex},
};

use common::Lcg;
use tokio::sync::broadcast::error::TryRecvError;
use twinmail_store::{
    BlobHash, Change, ChangeEvent, FlagMode, Flags, Guid, Placed, Store, StoreError, UidSet,
};

const TASKS: u64 = 16;
const OPS_PER_TASK: u64 = 30;
const SEEDS: [u64; 3] = [1, 0xdead_beef, 20_240_611];

/// What the tasks saw succeed or fail.
#[derive(Default)]
struct Outcome {
    /// Every successful delivery's placement.
    placed: Vec<Placed>,
    /// STORE calls that changed at least one message.
    flag_changes: usize,
    /// The result of every EXPUNGE that removed something.
    expunges: Vec<Vec<u32>>,
    /// Failed operations, by kind.
    failures: BTreeMap<&'static str, usize>,
    /// Hashes of bodies whose APPEND failed: their blobs must not exist.
    failed_blobs: Vec<BlobHash>,
}

/// What every task needs.
#[derive(Clone)]
struct Fixture {
    store: Store,
    inbox: i64,
    /// A mailbox id that existed once and was deleted.
    gone: i64,
    /// INBOX of another account (COPY across accounts is refused).
    other_inbox: i64,
    account_id: i64,
    /// UIDs handed out so far, for flagging and expunging.
    uids: Arc<Mutex<Vec<u32>>>,
    outcome: Arc<Mutex<Outcome>>,
}

fn pick_uids(f: &Fixture, rng: &mut Lcg) -> Vec<u32> {
    let uids = f.uids.lock().unwrap();
    if uids.is_empty() {
        return Vec::new();
    }
    // Favour recent UIDs (most likely still present), sometimes an old one.
    (0..1 + rng.below(3))
        .map(|_| {
            let back = rng.below(uids.len().min(12) as u64) as usize;
            if rng.below(4) == 0 {
                uids[rng.below(uids.len() as u64) as usize]
            } else {
                uids[uids.len() - 1 - back]
            }
        })
        .collect()
}

fn fail(f: &Fixture, kind: &'static str) {
    *f.outcome.lock().unwrap().failures.entry(kind).or_default() += 1;
}

async fn worker(f: Fixture, seed: u64, task: u64) {
    let mut rng = Lcg::new(seed.wrapping_mul(1000).wrapping_add(task));
    for op in 0..OPS_PER_TASK {
        let tag = format!("s{seed}-t{task}-o{op}");
        match rng.below(100) {
            0..45 => {
                let mut d = f.store.delivery();
                let rcpt = if rng.below(2) == 0 {
                    "user@example.com".to_string()
                } else {
                    format!("user+{tag}@example.com")
                };
                d.add_recipient(&rcpt).await.expect("add recipient");
                let placed = d.commit(common::message(&tag)).await.expect("deliver");
                assert_eq!(placed.len(), 1, "one recipient, one message");
                f.uids.lock().unwrap().push(placed[0].uid);
                f.outcome.lock().unwrap().placed.extend(placed);
            }
            45..62 => {
                let uids = pick_uids(&f, &mut rng);
                if uids.is_empty() {
                    continue;
                }
                let (mode, flags) = match rng.below(4) {
                    0 => (FlagMode::Add, Flags::new(["\\Seen"])),
                    1 => (FlagMode::Remove, Flags::new(["\\Seen"])),
                    _ => (FlagMode::Add, Flags::new(["\\Deleted"])),
                };
                let set = UidSet::from_uids(uids.iter().copied());
                let done = f
                    .store
                    .store_flags(f.inbox, set.clone(), mode, flags, None)
                    .await
                    .expect("store flags");
                for (uid, _) in &done.changed {
                    assert!(
                        set.contains(*uid),
                        "STORE changed UID {uid} outside {set:?}"
                    );
                }
                if !done.changed.is_empty() {
                    f.outcome.lock().unwrap().flag_changes += 1;
                }
            }
            62..74 => {
                let uids = if rng.below(2) == 0 {
                    None
                } else {
                    Some(UidSet::from_uids(pick_uids(&f, &mut rng)))
                };
                let gone = f
                    .store
                    .expunge(f.inbox, uids.clone())
                    .await
                    .expect("expunge");
                if let Some(set) = &uids {
                    assert!(
                        gone.iter().all(|u| set.contains(*u)),
                        "expunged outside the set"
                    );
                }
                if !gone.is_empty() {
                    f.outcome.lock().unwrap().expunges.push(gone);
                }
            }
            _ => failing_op(&f, &mut rng, &tag).await,
        }
    }
}

/// One operation that must fail and leave no trace.
async fn failing_op(f: &Fixture, rng: &mut Lcg, tag: &str) {
    match rng.below(7) {
        0 => {
            // Writes the blob before it finds the mailbox missing: the blob must go too.
            let body = common::message(&format!("failed-{tag}"));
            let hash = BlobHash::of(&body);
            let err = f
                .store
                .append(f.gone, body, Flags::default(), None)
                .await
                .unwrap_err();
            assert!(
                matches!(err, StoreError::NotFound(_)),
                "append to deleted mailbox: {err:?}"
            );
            f.outcome.lock().unwrap().failed_blobs.push(hash);
            fail(f, "append");
        }
        1 => {
            let mailbox = if rng.below(2) == 0 {
                f.gone
            } else {
                987_654_321
            };
            let err = f
                .store
                .store_flags(
                    mailbox,
                    UidSet::all(),
                    FlagMode::Add,
                    Flags::new(["\\Seen"]),
                    None,
                )
                .await
                .unwrap_err();
            assert!(
                matches!(err, StoreError::NotFound(_)),
                "store on missing mailbox: {err:?}"
            );
            fail(f, "store_flags");
        }
        2 => {
            let err = f.store.expunge(f.gone, None).await.unwrap_err();
            assert!(
                matches!(err, StoreError::NotFound(_)),
                "expunge missing mailbox: {err:?}"
            );
            fail(f, "expunge");
        }
        3 => {
            // Creates 15 parents and renames `P` (all logged) before the child `P/c` would
            // become 17 levels deep and fails: every one of those changes must be undone.
            let to = format!("d{}/{}", tag.replace('-', ""), ["d"; 15].join("/"));
            let err = f
                .store
                .rename_mailbox(f.account_id, "P", &to)
                .await
                .unwrap_err();
            assert!(
                matches!(err, StoreError::Invalid(_)),
                "rename too deep: {err:?}"
            );
            fail(f, "rename");
        }
        4 => {
            let mut d = f.store.delivery();
            let err = d.add_recipient("nobody@example.com").await.unwrap_err();
            assert!(
                matches!(err, StoreError::NotFound(_)),
                "unknown recipient: {err:?}"
            );
            let err = d.commit(common::message(tag)).await.unwrap_err();
            assert!(
                matches!(err, StoreError::Invalid(_)),
                "commit without recipients: {err:?}"
            );
            fail(f, "delivery");
        }
        5 => {
            let err = f
                .store
                .copy(f.inbox, UidSet::all(), f.other_inbox, rng.below(2) == 0)
                .await
                .unwrap_err();
            assert!(
                matches!(err, StoreError::NotAllowed(_)),
                "copy across accounts: {err:?}"
            );
            fail(f, "copy");
        }
        _ => {
            let change = Change::DomainAdded {
                domain: "gap.example".into(),
            };
            let err = f
                .store
                .apply_remote("b", 7, change, None)
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    StoreError::Gap {
                        expected: 1,
                        got: 7,
                        ..
                    }
                ),
                "{err:?}"
            );
            fail(f, "apply_remote");
        }
    }
}

/// Per-mailbox facts read back from the log, checked as the log is walked.
#[derive(Default)]
struct MailboxLog {
    last_uid: u32,
    last_modseq: u64,
    live: BTreeSet<u32>,
    expunged: BTreeSet<u32>,
    /// GUID of each UID ever added.
    guids: HashMap<u32, Guid>,
    /// Flags and MODSEQ each live message should now have.
    state: BTreeMap<u32, (Flags, u64)>,
}

async fn run(seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open(dir.path(), "a").await;
    let mut rx = store.subscribe();

    store.add_domain("example.com").await.unwrap();
    let account = store
        .create_account("user@example.com", "secret")
        .await
        .unwrap();
    let other = store
        .create_account("other@example.com", "secret")
        .await
        .unwrap();
    let inbox = store.mailbox(account.id, "INBOX").await.unwrap().unwrap();
    let other_inbox = store.mailbox(other.id, "INBOX").await.unwrap().unwrap();
    // Not the newest mailbox: SQLite hands the newest row's id out again once it is deleted.
    let gone = store.create_mailbox(account.id, "Gone").await.unwrap();
    store.create_mailbox(account.id, "P/c").await.unwrap();
    store.delete_mailbox(account.id, "Gone").await.unwrap();
    assert!(store.mailbox_by_id(gone.id).await.unwrap().is_none());
    let folders_before: Vec<String> = names(&store, account.id).await;
    let setup = store.changes_since(0, 1_000_000).await.unwrap();
    let setup_seq = setup.last().unwrap().seq;

    let fixture = Fixture {
        store: store.clone(),
        inbox: inbox.id,
        gone: gone.id,
        other_inbox: other_inbox.id,
        account_id: account.id,
        uids: Arc::default(),
        outcome: Arc::default(),
    };
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        tasks.spawn(worker(fixture.clone(), seed, task));
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("worker panicked");
    }
    let outcome = std::mem::take(&mut *fixture.outcome.lock().unwrap());
    let ctx = format!("seed {seed}");
    assert!(!outcome.placed.is_empty(), "{ctx}: no delivery");
    assert!(outcome.flag_changes > 0, "{ctx}: no STORE changed anything");
    assert!(
        !outcome.expunges.is_empty(),
        "{ctx}: no EXPUNGE removed anything"
    );
    assert!(
        outcome.failures.len() >= 5,
        "{ctx}: too few kinds of failure: {:?}",
        outcome.failures
    );

    // The stream delivered exactly the log, in the same order.
    let mut stream: Vec<ChangeEvent> = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(e) => stream.push((*e).clone()),
            Err(TryRecvError::Empty) => break,
            Err(e) => panic!("{ctx}: stream: {e:?}"),
        }
    }
    let log = store.changes_since(0, 1_000_000).await.unwrap();
    assert_eq!(stream, log, "{ctx}: stream and log differ");
    assert!(
        log.iter().all(|e| e.origin == "a"),
        "{ctx}: foreign origin in the log"
    );
    assert!(
        log.windows(2).all(|w| w[0].seq + 1 == w[1].seq),
        "{ctx}: log out of order or with a gap (the twin applies it strictly in order)"
    );
    assert_eq!(
        &log[..setup.len()],
        &setup[..],
        "{ctx}: setup entries changed"
    );

    // Exactly one entry per committed mutation, nothing from failed ones.
    let work: Vec<&ChangeEvent> = log.iter().filter(|e| e.seq > setup_seq).collect();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &work {
        *kinds.entry(e.change.kind()).or_default() += 1;
    }
    let mut expected = BTreeMap::from([
        ("message_added", outcome.placed.len()),
        ("flags_changed", outcome.flag_changes),
        ("messages_expunged", outcome.expunges.len()),
    ]);
    expected.retain(|_, n| *n > 0);
    assert_eq!(kinds, expected, "{ctx}: log entries by kind");

    // UIDs from deliveries: unique, all in INBOX, and the same as the log's.
    let mut placed_uids: Vec<u32> = outcome.placed.iter().map(|p| p.uid).collect();
    placed_uids.sort_unstable();
    let n = placed_uids.len();
    placed_uids.dedup();
    assert_eq!(placed_uids.len(), n, "{ctx}: a UID was handed out twice");
    assert!(
        outcome
            .placed
            .iter()
            .all(|p| p.mailbox == inbox.guid && p.uidvalidity == inbox.uidvalidity)
    );
    let placed: BTreeSet<(u32, Guid)> = outcome.placed.iter().map(|p| (p.uid, p.guid)).collect();
    let logged: BTreeSet<(u32, Guid)> = work
        .iter()
        .filter_map(|e| match &e.change {
            Change::MessageAdded { uid, message, .. } => Some((*uid, *message)),
            _ => None,
        })
        .collect();
    assert_eq!(
        placed, logged,
        "{ctx}: deliveries and logged additions differ"
    );

    // Walk the whole log per mailbox: IMAP's laws, step by step.
    let mut per_mailbox: HashMap<Guid, MailboxLog> = HashMap::new();
    for e in &log {
        let Some(mb) = e.change.mailbox() else {
            continue;
        };
        let m = per_mailbox.entry(mb).or_default();
        match &e.change {
            Change::MessageAdded {
                uid,
                modseq,
                message,
                flags,
                ..
            } => {
                assert!(
                    *uid > m.last_uid,
                    "{ctx}: UID {uid} after {} (seq {})",
                    m.last_uid,
                    e.seq
                );
                assert!(
                    !m.expunged.contains(uid),
                    "{ctx}: expunged UID {uid} reused"
                );
                assert!(
                    *modseq > m.last_modseq,
                    "{ctx}: MODSEQ fell at seq {}",
                    e.seq
                );
                m.last_uid = *uid;
                m.last_modseq = *modseq;
                m.live.insert(*uid);
                m.guids.insert(*uid, *message);
                m.state.insert(*uid, (flags.clone(), *modseq));
            }
            Change::FlagsChanged {
                modseq, messages, ..
            } => {
                assert!(
                    *modseq > m.last_modseq,
                    "{ctx}: MODSEQ fell at seq {}",
                    e.seq
                );
                m.last_modseq = *modseq;
                assert!(!messages.is_empty(), "{ctx}: empty FlagsChanged");
                for u in messages {
                    assert!(
                        m.live.contains(&u.uid),
                        "{ctx}: flags of absent UID {}",
                        u.uid
                    );
                    assert_eq!(m.guids[&u.uid], u.message, "{ctx}: UID/GUID mismatch");
                    m.state.insert(u.uid, (u.flags.clone(), *modseq));
                }
            }
            Change::MessagesExpunged {
                modseq, messages, ..
            } => {
                assert!(
                    *modseq > m.last_modseq,
                    "{ctx}: MODSEQ fell at seq {}",
                    e.seq
                );
                m.last_modseq = *modseq;
                assert!(!messages.is_empty(), "{ctx}: empty MessagesExpunged");
                assert!(
                    messages.windows(2).all(|w| w[0].uid < w[1].uid),
                    "{ctx}: unsorted expunge"
                );
                for x in messages {
                    assert!(
                        m.live.remove(&x.uid),
                        "{ctx}: expunged absent UID {}",
                        x.uid
                    );
                    assert_eq!(m.guids[&x.uid], x.message, "{ctx}: UID/GUID mismatch");
                    assert!(x.message != Guid([0; 16]));
                    m.expunged.insert(x.uid);
                    m.state.remove(&x.uid);
                }
            }
            _ => {}
        }
    }

    // The mailbox as stored agrees with the log and the tasks.
    let m = &per_mailbox[&inbox.guid];
    let returned: BTreeSet<u32> = outcome.expunges.iter().flatten().copied().collect();
    let n_returned: usize = outcome.expunges.iter().map(Vec::len).sum();
    assert_eq!(
        returned.len(),
        n_returned,
        "{ctx}: a UID was expunged twice"
    );
    assert_eq!(
        returned, m.expunged,
        "{ctx}: expunge results and log differ"
    );
    let tombstones: BTreeSet<u32> = store
        .expunged_since(inbox.id, 0)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(tombstones, m.expunged, "{ctx}: tombstones and log differ");
    let now = store.mailbox_by_id(inbox.id).await.unwrap().unwrap();
    assert_eq!(
        now.uidnext as usize,
        outcome.placed.len() + 1,
        "{ctx}: UIDNEXT"
    );
    assert_eq!(
        now.highestmodseq, m.last_modseq,
        "{ctx}: HIGHESTMODSEQ vs log"
    );
    assert_eq!(
        now.uidvalidity, inbox.uidvalidity,
        "{ctx}: UIDVALIDITY changed"
    );
    let messages = store.messages(inbox.id).await.unwrap();
    let stored: BTreeMap<u32, (Flags, u64)> = messages
        .iter()
        .map(|x| (x.uid, (x.flags.clone(), x.modseq)))
        .collect();
    assert_eq!(
        stored, m.state,
        "{ctx}: messages (flags, MODSEQ) differ from the log"
    );
    for x in &messages {
        assert_eq!(m.guids[&x.uid], x.guid, "{ctx}: GUID of UID {}", x.uid);
        assert!(
            !tombstones.contains(&x.uid),
            "{ctx}: expunged UID {} present",
            x.uid
        );
    }

    // Failed operations left nothing behind.
    for hash in &outcome.failed_blobs {
        assert_eq!(
            store.blob(hash).await.unwrap(),
            None,
            "{ctx}: blob of a failed APPEND kept"
        );
    }
    assert_eq!(
        names(&store, account.id).await,
        folders_before,
        "{ctx}: folders changed"
    );
    assert_eq!(
        store.domains().await.unwrap(),
        ["example.com"],
        "{ctx}: domains"
    );
    assert_eq!(
        store.applied_seq("b").await.unwrap(),
        0,
        "{ctx}: a gap was applied"
    );
    assert!(
        store.messages(other_inbox.id).await.unwrap().is_empty(),
        "{ctx}: copied across accounts"
    );
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
}

async fn names(store: &Store, account_id: i64) -> Vec<String> {
    store
        .mailboxes(account_id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mutations_keep_uids_modseqs_and_log_consistent() {
    for seed in SEEDS {
        run(seed).await;
    }
}

//! The seam between the store and the mirror: every write one command with a request id,
//! done once however often it is sent; deliveries named by what the client sent, so a
//! retried SMTP transaction lands once; changes of any size logged in entries that fit
//! the mirror's frames.

mod common;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use twinmail_store::{
    BoxFuture, Change, Command, FlagMode, Flags, Forwarder, Guid, Outcome, Route, Store,
    StoreError, Targets, UidSet, Write, request_id,
};

/// An account `u@example.test`: its id and its INBOX's id.
async fn account(store: &Store) -> (i64, i64) {
    store.add_domain("example.test").await.unwrap();
    let a = store
        .create_account("u@example.test", "a long password")
        .await
        .unwrap();
    (
        a.id,
        store.mailbox(a.id, "INBOX").await.unwrap().unwrap().id,
    )
}

#[tokio::test]
async fn a_command_sent_twice_is_done_once_and_answered_alike() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open(dir.path(), "a").await;
    let (account_id, inbox) = account(&store).await;
    let mailbox = store.mailbox_by_id(inbox).await.unwrap().unwrap().guid;
    let bytes = Arc::new(b"Subject: x\r\n\r\nx\r\n".to_vec());
    let add = Command {
        id: Guid::random(),
        write: Write::Add {
            mailboxes: vec![mailbox],
            blob: twinmail_store::BlobHash::of(&bytes),
            flags: Flags::default(),
            internal_date: 1,
        },
    };
    let first = store.write(add.clone(), Some(bytes.clone())).await.unwrap();
    let again = store.write(add, Some(bytes.clone())).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(store.messages(inbox).await.unwrap().len(), 1);
    // The same for a MOVE: sent again, it moves nothing more and reports the first result.
    let archive = store.create_mailbox(account_id, "Kept").await.unwrap();
    let mv = Command {
        id: Guid::random(),
        write: Write::Copy {
            from: mailbox,
            messages: Targets::Uids(UidSet::all()),
            to: archive.guid,
            remove: true,
        },
    };
    let moved = store.write(mv.clone(), None).await.unwrap();
    assert_eq!(store.write(mv, None).await.unwrap(), moved);
    assert_eq!(store.messages(archive.id).await.unwrap().len(), 1);
    assert!(matches!(moved, Outcome::Copied { .. }));
}

#[tokio::test]
async fn a_delivery_retried_by_the_client_lands_once_and_a_new_one_lands_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open(dir.path(), "a").await;
    let (_, inbox) = account(&store).await;
    let message = b"Subject: retried\r\n\r\nbody\r\n".to_vec();
    let key = request_id(&[b"smtp", b"from@x.test", b"u@example.test", &message]);
    let mut placed = Vec::new();
    for _ in 0..2 {
        let mut d = store.delivery();
        d.add_recipient("u@example.test").await.unwrap();
        d.identify(key);
        placed.push(d.commit(message.clone()).await.unwrap());
    }
    assert_eq!(
        placed[0], placed[1],
        "the retry is told where the first copy landed"
    );
    assert_eq!(store.messages(inbox).await.unwrap().len(), 1);
    // Without a key (or with another), the same bytes are a new delivery.
    let mut d = store.delivery();
    d.add_recipient("u@example.test").await.unwrap();
    d.commit(message).await.unwrap();
    assert_eq!(store.messages(inbox).await.unwrap().len(), 2);
}

/// A twin whose home answers nothing the first time (the write done there, the answer
/// lost) and everything after.
struct AnswerLostOnce {
    /// The account's home twin.
    home: Store,
    /// Commands forwarded so far.
    calls: AtomicUsize,
}

impl Forwarder for AnswerLostOnce {
    fn route<'a>(
        &'a self,
        _account: &'a Guid,
        _home: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Route, StoreError>> {
        Box::pin(async { Ok(Route::Forward) })
    }
    fn ready(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
    fn synced(&self) -> bool {
        true
    }
    fn replicate(&self, _seq: i64) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
    fn forward(
        &self,
        command: Command,
        bytes: Option<Arc<Vec<u8>>>,
    ) -> BoxFuture<'static, Result<Outcome, StoreError>> {
        let (home, n) = (self.home.clone(), self.calls.fetch_add(1, Ordering::SeqCst));
        Box::pin(async move {
            let done = home.execute(command, bytes).await;
            if n == 0 {
                return Err(StoreError::Unavailable("the answer was lost".into()));
            }
            done
        })
    }
}

#[tokio::test]
async fn an_append_retried_after_an_answer_in_doubt_is_one_message_and_a_deliberate_one_two() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let home = common::open(dir_b.path(), "b").await;
    let (_, home_inbox) = account(&home).await;
    let here = common::open(dir_a.path(), "a").await;
    for e in home.changes_since(0, 1000).await.unwrap() {
        here.apply_remote("b", e.seq, e.change, None).await.unwrap();
    }
    here.set_forwarder(Arc::new(AnswerLostOnce {
        home: home.clone(),
        calls: AtomicUsize::new(0),
    }));
    let a = here.account("u@example.test").await.unwrap().unwrap();
    let inbox = here.mailbox(a.id, "INBOX").await.unwrap().unwrap().id;
    let m = b"Subject: draft\r\n\r\n1\r\n".to_vec();
    let seen = Flags::new(["\\Seen"]);
    let first = here.append(inbox, m.clone(), seen.clone(), None).await;
    assert!(
        matches!(first, Err(StoreError::Unavailable(_))),
        "{first:?}"
    );
    // The client retries: the home already has it, and answers where it put it.
    let retried = here
        .append(inbox, m.clone(), seen.clone(), None)
        .await
        .unwrap();
    assert_eq!(retried.uid, 1);
    assert_eq!(home.messages(home_inbox).await.unwrap().len(), 1);
    // The same message appended again on purpose is a second message.
    let again = here.append(inbox, m, seen, None).await.unwrap();
    assert_eq!(again.uid, 2);
    assert_eq!(home.messages(home_inbox).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_flag_change_over_thousands_of_messages_is_logged_in_entries_that_fit_a_frame() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open(dir.path(), "a").await;
    let (_, inbox) = account(&store).await;
    let n = 6_000usize;
    // Appended concurrently, so they share the writer's group commits.
    let mut adds = tokio::task::JoinSet::new();
    for i in 0..n {
        let store = store.clone();
        let m = format!("Subject: {i}\r\n\r\n{i}\r\n").into_bytes();
        adds.spawn(async move { store.append(inbox, m, Flags::default(), None).await });
    }
    while let Some(r) = adds.join_next().await {
        r.unwrap().unwrap();
    }
    let before = store.last_seq().await.unwrap();
    let seen = Flags::new(["\\Seen"]);
    let stored = store
        .store_flags(inbox, UidSet::all(), FlagMode::Add, seen, None)
        .await
        .unwrap();
    assert_eq!(stored.changed.len(), n);
    let log = store.changes_since(before, 100).await.unwrap();
    assert_eq!(log.len(), 2, "6,000 messages in entries of at most 5,000");
    let mut named = 0;
    for e in &log {
        let Change::FlagsChanged {
            messages, modseq, ..
        } = &e.change
        else {
            panic!("expected flag changes, got {:?}", e.change.kind());
        };
        assert_eq!(*modseq, stored.modseq);
        named += messages.len();
        let size = serde_json::to_vec(&e.change).unwrap().len();
        assert!(
            size < 4 * 1024 * 1024,
            "an entry of {size} bytes outgrows a frame"
        );
    }
    assert_eq!(named, n);
    // The twin applies the entries and ends with the same flags.
    let dir_b = tempfile::tempdir().unwrap();
    let b = common::open(dir_b.path(), "b").await;
    let all = store.changes_since(0, 100_000).await.unwrap();
    for e in &all {
        let bytes = match &e.change {
            Change::MessageAdded { blob, .. } => store.blob(blob).await.unwrap(),
            _ => None,
        };
        b.apply_remote("a", e.seq, e.change.clone(), bytes)
            .await
            .unwrap();
    }
    let guid = store.mailbox_by_id(inbox).await.unwrap().unwrap().guid;
    let on_b = b.mailbox_by_guid(&guid).await.unwrap().unwrap();
    let flags = |ms: Vec<twinmail_store::Message>| {
        ms.into_iter()
            .map(|m| (m.uid, m.flags.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        flags(b.messages(on_b.id).await.unwrap()),
        flags(store.messages(inbox).await.unwrap())
    );
}

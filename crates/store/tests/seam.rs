//! The seam between the store and the mirror: every write one command with a request id,
//! done once however often it is sent; deliveries named by what the client sent, so a
//! retried SMTP transaction lands once; changes of any size logged in entries that fit
//! the mirror's frames.

mod common;

use std::sync::Arc;

use twinmail_store::{
    Change, Command, FlagMode, Flags, Guid, Outcome, Store, Targets, UidSet, Write, request_id,
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

#[tokio::test]
async fn an_append_sent_again_after_a_lost_answer_is_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open(dir.path(), "a").await;
    let (_, inbox) = account(&store).await;
    let m = b"Subject: draft\r\n\r\n1\r\n".to_vec();
    let seen = Flags::new(["\\Seen"]);
    let a = store
        .append(inbox, m.clone(), seen.clone(), None)
        .await
        .unwrap();
    let b = store.append(inbox, m.clone(), seen, None).await.unwrap();
    assert_eq!(a, b);
    // Other flags make it another write.
    store
        .append(inbox, m, Flags::default(), None)
        .await
        .unwrap();
    assert_eq!(store.messages(inbox).await.unwrap().len(), 2);
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

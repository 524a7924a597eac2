//! The routing of forwarded writes, in one process: a real home store, the forwarding
//! state, and a scripted link (an mpsc queue standing for a session) that is cut at every
//! step of a forwarded write: before it is sent, after the home's commit, before the
//! answer. What must hold: the write is done once, the client is told the truth, and a
//! command never sent while the twin is down is done locally.

use std::{sync::Arc, time::Duration};

use tokio::sync::mpsc;
use twinmail_store::{
    Command, Flags, Guid, HashCost, Outcome, Route, Store, StoreError, StoreOptions, Targets,
    Write, request_id,
};

use super::Forwarding;
use crate::frame::{Frame, ResponseFrame};

const GRACE: Duration = Duration::from_secs(2);
const WAIT: Duration = Duration::from_secs(3);

async fn home_store(dir: &tempfile::TempDir) -> (Store, i64) {
    let store = Store::open(StoreOptions {
        hash_cost: HashCost::cheap(),
        ..StoreOptions::new(dir.path().join("b.db"), "b")
    })
    .await
    .unwrap();
    store.add_domain("example.test").await.unwrap();
    let account = store
        .create_account("u@example.test", "a long password")
        .await
        .unwrap();
    let inbox = store.mailbox(account.id, "INBOX").await.unwrap().unwrap();
    (store, inbox.id)
}

async fn inbox_guid(store: &Store, inbox: i64) -> Guid {
    store.mailbox_by_id(inbox).await.unwrap().unwrap().guid
}

/// A delivery of `bytes` into `mailbox`, with an id derived from its content (as SMTP's).
fn delivery(mailbox: Guid, bytes: &[u8]) -> Command {
    Command {
        id: request_id(&[b"test", bytes]),
        write: Write::Add {
            mailboxes: vec![mailbox],
            blob: twinmail_store::BlobHash::of(bytes),
            flags: Flags::default(),
            internal_date: 1_700_000_000,
        },
    }
}

/// A forwarding twin "a" whose twin "b" is reachable (within its start-up grace).
fn forwarding(startup: Duration) -> Arc<Forwarding> {
    Forwarding::new("a".into(), "b".into(), GRACE, startup, WAIT, None)
}

/// A session: its queue, attached as if this twin had applied everything already.
fn session(fwd: &Forwarding) -> mpsc::Receiver<Frame> {
    let (tx, rx) = mpsc::channel(64);
    fwd.attach(tx, i64::MAX / 2);
    rx
}

/// Reads a forwarded command and its bytes off a session, as the home's reader would.
async fn receive(rx: &mut mpsc::Receiver<Frame>) -> (Command, Option<Arc<Vec<u8>>>) {
    let Some(Frame::Request(h)) = rx.recv().await else {
        panic!("expected a request");
    };
    let mut bytes = Vec::new();
    while (bytes.len() as u64) < h.blob_len.unwrap_or(0) {
        match rx.recv().await {
            Some(Frame::RequestChunk(id, b)) if id == h.command.id => bytes.extend(b),
            other => panic!("expected the request's bytes, got {other:?}"),
        }
    }
    (h.command, h.blob_len.map(|_| Arc::new(bytes)))
}

fn answer(fwd: &Forwarding, id: Guid, outcome: Result<Outcome, StoreError>) {
    fwd.answered(ResponseFrame {
        id,
        result: outcome.map_err(|e| twinmail_store::WriteError::from(&e)),
        seq: 0,
    });
}

#[tokio::test]
async fn a_write_whose_answer_is_lost_after_the_homes_commit_is_sent_again_and_done_once() {
    let dir = tempfile::tempdir().unwrap();
    let (home, inbox) = home_store(&dir).await;
    let fwd = forwarding(GRACE);
    let mut first = session(&fwd);
    let bytes = b"Subject: once\r\n\r\nbody\r\n".to_vec();
    let command = delivery(inbox_guid(&home, inbox).await, &bytes);
    let write = tokio::spawn(
        fwd.clone()
            .forward_inner(command.clone(), Some(Arc::new(bytes))),
    );
    // The home commits; the link breaks before its answer leaves.
    let (got, body) = receive(&mut first).await;
    let committed = home.execute(got, body).await.unwrap();
    fwd.detach();
    drop(first);
    // The next session: the forwarder sends the same command again, with the same id.
    let mut second = session(&fwd);
    let (again, body) = receive(&mut second).await;
    assert_eq!(again, command, "the resend is the same command, same id");
    let repeated = home.execute(again, body).await.unwrap();
    assert_eq!(repeated, committed, "the home answers its first outcome");
    answer(&fwd, command.id, Ok(repeated));
    let told = write.await.unwrap().unwrap();
    assert_eq!(told, committed);
    assert_eq!(home.messages(inbox).await.unwrap().len(), 1, "done once");
}

#[tokio::test]
async fn a_write_made_while_the_link_is_down_waits_for_it_within_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let (home, inbox) = home_store(&dir).await;
    let fwd = forwarding(GRACE);
    let bytes = b"Subject: waits\r\n\r\nbody\r\n".to_vec();
    let command = delivery(inbox_guid(&home, inbox).await, &bytes);
    let write = tokio::spawn(
        fwd.clone()
            .forward_inner(command.clone(), Some(Arc::new(bytes))),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !write.is_finished(),
        "no link yet: the write waits, it does not fail"
    );
    let mut link = session(&fwd);
    let (got, body) = receive(&mut link).await;
    let outcome = home.execute(got, body).await;
    answer(&fwd, command.id, outcome);
    let placed = write.await.unwrap().unwrap().placed().unwrap();
    assert_eq!(placed[0].uid, 1);
}

#[tokio::test]
async fn a_write_never_sent_before_the_twin_is_given_up_on_is_done_here() {
    let fwd = forwarding(Duration::ZERO);
    let command = delivery(Guid::random(), b"x");
    let r = fwd
        .forward_inner(command, Some(Arc::new(b"x".to_vec())))
        .await;
    assert!(matches!(r, Err(StoreError::TwinDown)), "{r:?}");
}

#[tokio::test]
async fn a_write_in_doubt_is_a_temporary_failure_and_the_clients_retry_gets_the_first_result() {
    let dir = tempfile::tempdir().unwrap();
    let (home, inbox) = home_store(&dir).await;
    let fwd = forwarding(GRACE);
    let mut first = session(&fwd);
    let bytes = b"Subject: in doubt\r\n\r\nbody\r\n".to_vec();
    let command = delivery(inbox_guid(&home, inbox).await, &bytes);
    let write = tokio::spawn(
        fwd.clone()
            .forward_inner(command.clone(), Some(Arc::new(bytes.clone()))),
    );
    let (got, body) = receive(&mut first).await;
    let committed = home.execute(got, body).await.unwrap();
    fwd.detach();
    drop(first);
    // No link comes back within the wait: the client must not be told "done", nor may
    // this twin do it itself (the home may well have it).
    let r = write.await.unwrap();
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    // The client retries the same transaction once the link is back: same id, first result.
    let mut link = session(&fwd);
    let retry = tokio::spawn(
        fwd.clone()
            .forward_inner(command.clone(), Some(Arc::new(bytes))),
    );
    let (got, body) = receive(&mut link).await;
    let outcome = home.execute(got, body).await;
    answer(&fwd, command.id, outcome);
    assert_eq!(retry.await.unwrap().unwrap(), committed);
    assert_eq!(
        home.messages(inbox).await.unwrap().len(),
        1,
        "one delivery, one message"
    );
}

#[tokio::test]
async fn a_forwarded_write_naming_a_message_that_differs_at_the_home_is_refused_not_misapplied() {
    let dir = tempfile::tempdir().unwrap();
    let (home, inbox) = home_store(&dir).await;
    for s in ["Y", "Z"] {
        let m = format!("Subject: {s}\r\n\r\n{s}\r\n").into_bytes();
        home.append(inbox, m, Flags::default(), None).await.unwrap();
    }
    let mailbox = inbox_guid(&home, inbox).await;
    let here = home.messages(inbox).await.unwrap();
    // The forwarding twin's client saw UID 2 holding another message than the home's.
    let removal = Command {
        id: Guid::random(),
        write: Write::Expunge {
            mailbox,
            messages: Some(Targets::Seen(vec![(2, Guid::random())])),
            only_deleted: false,
        },
    };
    let r = home.execute(removal, None).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert_eq!(
        home.messages(inbox).await.unwrap(),
        here,
        "nothing was removed"
    );
    let text = r.unwrap_err().to_string();
    assert!(
        !text.contains(&mailbox.to_hex()),
        "no identifiers for clients: {text}"
    );
    // Bare UIDs mean nothing at the home: refused.
    let bare = Command {
        id: Guid::random(),
        write: Write::Expunge {
            mailbox,
            messages: Some(Targets::Uids(twinmail_store::UidSet::from_uids([1]))),
            only_deleted: false,
        },
    };
    assert!(matches!(
        home.execute(bare, None).await,
        Err(StoreError::Invalid(_))
    ));
    // The right pair removes exactly that message; one already gone is passed over.
    let exact = Command {
        id: Guid::random(),
        write: Write::Expunge {
            mailbox,
            messages: Some(Targets::Seen(vec![(1, here[0].guid), (7, Guid::random())])),
            only_deleted: false,
        },
    };
    let gone = home.execute(exact, None).await.unwrap().expunged().unwrap();
    assert_eq!(gone, vec![1]);
    assert_eq!(home.messages(inbox).await.unwrap(), vec![here[1].clone()]);
}

#[tokio::test(start_paused = true)]
async fn a_home_twin_assigns_no_uid_before_it_has_applied_its_twins_backlog() {
    let fwd = forwarding(GRACE);
    let mine = Guid::random();
    // Homed here ("a"); the link is up but the twin's log end is not known yet.
    let (tx, _rx) = mpsc::channel(4);
    fwd.attach(tx, 5);
    let route = {
        let fwd = fwd.clone();
        tokio::spawn(async move { fwd.route(&mine, Some("a")).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!route.is_finished(), "no position from the twin yet");
    fwd.twin_log_end.send_replace(Some(9));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!route.is_finished(), "applied 5 of the twin's 9");
    fwd.applied.send_replace(9);
    assert_eq!(route.await.unwrap().unwrap(), Route::Local);
    // Still behind when the wait runs out: a temporary failure, not a UID.
    fwd.twin_log_end.send_replace(Some(20));
    let r = fwd.route(&mine, Some("a")).await;
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    // The twin's accounts go there while it is reachable.
    assert_eq!(fwd.route(&mine, Some("b")).await.unwrap(), Route::Forward);
}

#[tokio::test(start_paused = true)]
async fn a_twin_that_stays_away_past_the_grace_period_leaves_this_twin_serving_alone() {
    let fwd = forwarding(GRACE);
    let mine = Guid::random();
    // Started, never linked: the start-up grace runs out, then every account is local.
    let route = {
        let fwd = fwd.clone();
        tokio::spawn(async move { fwd.route(&mine, Some("a")).await })
    };
    tokio::time::sleep(GRACE + Duration::from_millis(100)).await;
    assert_eq!(route.await.unwrap().unwrap(), Route::Local);
    assert_eq!(fwd.route(&mine, Some("b")).await.unwrap(), Route::Local);
}

//! Crash test: a child process (this very test binary, re-executed) delivers mail from
//! several tasks and reports each delivery only after `commit` returned Ok. The parent
//! SIGKILLs it mid-stream, reopens the database and checks that every reported message is
//! there, intact, and logged, and that the database is sound. Twice, so that the second
//! child also starts from a database that was killed under load.

mod common;

use std::{
    collections::{BTreeSet, HashSet},
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::Duration,
};

use sha2::Digest;
use twinmail_store::{BlobHash, Change, Guid};

/// Set (to the database path) in the child's environment.
const CHILD_ENV: &str = "TWINMAIL_CRASH_CHILD";
/// The name of the child's test function, for `--exact`.
const CHILD_TEST: &str = "crash_child";
/// Lines to read before the kill.
const LINES_BEFORE_KILL: usize = 300;
const ACCOUNTS: usize = 4;
const CHILD_TASKS: usize = 6;
/// A child left running on its own stops after this many deliveries per task.
const CHILD_MAX_PER_TASK: usize = 5_000;
/// Longest the parent waits for the child's lines.
const WATCHDOG: Duration = Duration::from_secs(180);

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The child: does nothing unless started by the parent with `CHILD_ENV` set.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(child_main(PathBuf::from(path)));
}

async fn child_main(db: PathBuf) {
    let dir = db.parent().unwrap();
    let store = common::open(dir, "a").await;
    if !store.is_local_domain("example.com").await.unwrap() {
        store.add_domain("example.com").await.unwrap();
    }
    for i in 0..ACCOUNTS {
        let name = format!("user{i}@example.com");
        if store.account(&name).await.unwrap().is_none() {
            store.create_account(&name, "secret").await.unwrap();
        }
    }
    // Distinct bodies across runs, so that blobs never dedup between the two children.
    let run = Guid::random();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..CHILD_TASKS {
        let store = store.clone();
        tasks.spawn(async move {
            for i in 0..CHILD_MAX_PER_TASK {
                let mut d = store.delivery();
                d.add_recipient(&format!("user{}@example.com", (t + i) % ACCOUNTS))
                    .await
                    .unwrap();
                if i % 5 == 0 {
                    // Now and then a delivery to two accounts: two lines, one transaction.
                    d.add_recipient(&format!("user{}@example.com", (t + i + 1) % ACCOUNTS))
                        .await
                        .unwrap();
                }
                let mut body = common::message(&format!("{run}-{t}-{i}"));
                body.extend(std::iter::repeat_n(b'x', 500 + (i * 37) % 3000));
                body.extend_from_slice(b"\r\n");
                let hash = sha256_hex(&body);
                let placed = d.commit(body).await.expect("commit");
                let mut out = std::io::stdout().lock();
                for p in placed {
                    writeln!(out, "committed {} {} {} {hash}", p.mailbox, p.uid, p.guid).unwrap();
                }
                out.flush().unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

/// One "committed" line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Reported {
    mailbox: Guid,
    uid: u32,
    message: Guid,
    sha256: String,
}

fn parse(line: &str) -> Option<Reported> {
    let line = line.strip_suffix('\n')?;
    let mut f = line.split(' ');
    if f.next()? != "committed" {
        return None;
    }
    let r = Reported {
        mailbox: f.next()?.parse().ok()?,
        uid: f.next()?.parse().ok()?,
        message: f.next()?.parse().ok()?,
        sha256: f.next()?.to_string(),
    };
    (r.sha256.len() == 64 && f.next().is_none()).then_some(r)
}

/// Kills the child if the parent panics while it runs.
struct KillOnDrop(Arc<Mutex<Child>>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let mut c = self.0.lock().unwrap();
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// Runs a child on `db`, reads `n` reported deliveries, SIGKILLs it, and returns every
/// complete line it wrote (including those still in the pipe after the kill).
fn run_child_and_kill(db: &Path, n: usize) -> Vec<Reported> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, db)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start child");
    let stdout = child.stdout.take().unwrap();
    let child = Arc::new(Mutex::new(child));
    let guard = KillOnDrop(child.clone());

    // A watchdog, so that a hung child fails the test instead of hanging it.
    let (done, timeout) = mpsc::channel::<()>();
    let watchdog = {
        let child = child.clone();
        std::thread::spawn(move || {
            if timeout.recv_timeout(WATCHDOG).is_err() {
                let _ = child.lock().unwrap().kill();
            }
        })
    };

    let mut reader = BufReader::new(stdout);
    let mut reported = Vec::new();
    let mut line = String::new();
    while reported.len() < n {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            let status = child.lock().unwrap().wait().unwrap();
            panic!("child ended ({status}) after {} deliveries", reported.len());
        }
        reported.extend(parse(&line));
    }
    {
        let mut c = child.lock().unwrap();
        c.kill().expect("SIGKILL the child");
        let status = c.wait().unwrap();
        assert!(!status.success(), "the child was not killed: {status}");
    }
    let _ = done.send(());
    watchdog.join().unwrap();
    // Lines written before the kill are still in the pipe: they were committed too.
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        reported.extend(parse(&line));
    }
    drop(guard);
    reported
}

/// Reopens the store after a kill and checks it against everything ever reported.
async fn verify(dir: &Path, reported: &[Reported]) {
    let store = common::open(dir, "a").await;
    assert_eq!(store.integrity_check().await.unwrap(), "ok");

    let guids: HashSet<Guid> = reported.iter().map(|r| r.message).collect();
    assert_eq!(
        guids.len(),
        reported.len(),
        "a message GUID was reported twice"
    );

    for r in reported {
        let mb = store
            .mailbox_by_guid(&r.mailbox)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("mailbox of {r:?} missing"));
        let m = store
            .messages(mb.id)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.uid == r.uid)
            .unwrap_or_else(|| panic!("reported message lost: {r:?}"));
        assert_eq!(m.guid, r.message, "UID {} holds another message", r.uid);
        let bytes = store
            .blob(&m.blob)
            .await
            .unwrap()
            .expect("blob of a reported message");
        assert_eq!(sha256_hex(&bytes), r.sha256, "bytes of {r:?} damaged");
        assert_eq!(m.size, bytes.len() as u64);
    }

    // Every message present has its blob and its log entry, and the log nothing more.
    let mut present = BTreeSet::new();
    for account in store.accounts().await.unwrap() {
        for mb in store.mailboxes(account.id).await.unwrap() {
            let messages = store.messages(mb.id).await.unwrap();
            assert!(
                mb.uidnext as usize > messages.last().map_or(0, |m| m.uid as usize),
                "UIDNEXT {} not above the messages of {}",
                mb.uidnext,
                mb.name
            );
            for m in messages {
                let bytes = store
                    .blob(&m.blob)
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("message {} has no blob", m.guid));
                assert_eq!(BlobHash::of(&bytes), m.blob, "blob bytes damaged");
                present.insert((mb.guid, m.uid, m.guid));
            }
        }
    }
    let logged: BTreeSet<(Guid, u32, Guid)> = store
        .changes_since(0, u32::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.change {
            Change::MessageAdded {
                mailbox,
                uid,
                message,
                ..
            } => Some((mailbox, uid, message)),
            _ => None,
        })
        .collect();
    assert_eq!(
        present, logged,
        "messages present and logged additions differ"
    );
    assert!(present.len() >= reported.len());
}

#[test]
fn sigkill_during_delivery_loses_nothing_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::options(dir.path(), "a").path;
    let mut reported = Vec::new();
    for round in 0..2 {
        let got = run_child_and_kill(&db, LINES_BEFORE_KILL);
        assert!(
            got.len() >= LINES_BEFORE_KILL,
            "round {round}: {} lines",
            got.len()
        );
        reported.extend(got);
        // A runtime per round: dropping it closes every connection before the next child.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(verify(dir.path(), &reported));
    }
}

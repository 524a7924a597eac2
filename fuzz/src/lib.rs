//! What the session fuzz targets share: a runtime and store made once per process, and
//! the driver that feeds one input to one session over an in-memory stream.

use std::{future::Future, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, DuplexStream},
    runtime::Runtime,
};
use twinmail_store::{HashCost, Store, StoreOptions};

/// A single-threaded runtime for the fuzzer's process.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A fresh store in a temp dir with domain example.com and account a@example.com
/// (password "pw", an empty INBOX); inputs that need mail log in to an account from `Accounts`. The
/// database lives in memory-backed /dev/shm where there is one: every input's writes
/// are committed with fsync, which on a disk costs more than the session under test.
pub fn store(rt: &Runtime, name: &str) -> Store {
    let shm = std::path::Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("twinmail-fuzz-{name}-{}", std::process::id()));
    rt.block_on(async {
        let store = Store::open(StoreOptions {
            hash_cost: HashCost::cheap(),
            ..StoreOptions::new(dir.join("db.sqlite"), "fuzz")
        })
        .await
        .expect("open the fuzz store");
        let _ = store.add_domain("example.com").await;
        let _ = store.create_account("a@example.com", "pw").await;
        store
    })
}

/// The account each input logs in to: one holding `messages` in its INBOX, with a 64 KiB
/// storage limit (password "pw"). Every input starts from the same mailbox, and none can
/// grow one without bound (COPY 1:* doubles it): with one account shared by every input,
/// later inputs ran ever slower (14 execs/s) until replays looked like hangs. Making an
/// account per input kept that but cost more than most sessions (a fsync'd create and
/// deliveries each time), so an account is reused for as long as no input has written
/// to the store (its change log's last sequence number has not moved), and replaced by a
/// fresh one after an input that did.
pub struct Accounts {
    /// What each account's INBOX holds when it is made.
    messages: &'static [&'static str],
    /// The account in use and the store's last change sequence number once it was made
    /// (or last found unchanged).
    current: std::sync::Mutex<Option<(String, i64)>>,
}

impl Accounts {
    /// Accounts whose INBOX holds `messages`.
    pub const fn new(messages: &'static [&'static str]) -> Self {
        Self {
            messages,
            current: std::sync::Mutex::new(None),
        }
    }

    /// The account for the next input: the previous one while the store is unchanged
    /// since it was made, else a fresh one.
    pub fn next(&self, rt: &Runtime, store: &Store) -> String {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let seq = rt
            .block_on(store.last_seq())
            .expect("the store's last sequence number");
        if let Some((name, at)) = current.as_ref()
            && *at == seq
        {
            return name.clone();
        }
        let name = fresh_account(rt, store, self.messages);
        let at = rt
            .block_on(store.last_seq())
            .expect("the store's last sequence number");
        *current = Some((name.clone(), at));
        name
    }
}

/// A fresh account holding `messages` in its INBOX, with a 64 KiB storage limit; returns
/// its name (password "pw").
fn fresh_account(rt: &Runtime, store: &Store, messages: &[&str]) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("u{n}@example.com");
    rt.block_on(async {
        store
            .create_account(&name, "pw")
            .await
            .expect("a fresh account");
        store
            .set_quota(&name, Some(64 * 1024))
            .await
            .expect("a quota");
        for m in messages {
            let mut d = store.delivery();
            d.add_recipient(&name).await.expect("recipient");
            d.commit(m.as_bytes().to_vec()).await.expect("delivery");
        }
    });
    name
}

/// Runs `session` on one end of an in-memory stream while `input` is written to the
/// other end (then closed) and the replies are drained. The session is polled here,
/// not spawned, so a panic inside it reaches the fuzzer; a session that does not end on
/// finite input is a failure too.
pub fn drive<F>(rt: &Runtime, input: Vec<u8>, session: impl FnOnce(DuplexStream) -> F)
where
    F: Future<Output = ()>,
{
    rt.block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let session = session(server);
        let (mut rd, mut wr) = tokio::io::split(&mut client);
        let writer = async move {
            let _ = wr.write_all(&input).await;
            let _ = wr.shutdown().await;
        };
        let reader = async move {
            let mut sink = Vec::new();
            let _ = rd.read_to_end(&mut sink).await;
        };
        let all = async { tokio::join!(writer, reader, session) };
        tokio::time::timeout(Duration::from_secs(10), all)
            .await
            .expect("a session hung on finite input");
    });
}

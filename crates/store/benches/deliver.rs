//! Delivery throughput: the store against the bare-SQLite ceiling on the same disk.
//!
//! `cargo bench -p twinmail-store --bench deliver`
//! (`TWINMAIL_BENCH_MESSAGES=2000` for a quick run).
//!
//! 1. The store: 20 concurrent tasks deliver N messages of 10 KB (distinct bodies, so no
//!    blob dedup) to 20 accounts through `delivery()` / `add_recipient()` / `commit()`.
//! 2. The ceiling: one connection with the store's pragmas (WAL, synchronous=FULL, foreign
//!    keys) inserting the same N bodies into a bare table, 20 rows per transaction.

use std::{path::PathBuf, str::FromStr, time::Instant};

use sqlx::{
    Connection,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
};
use twinmail_store::{HashCost, Store, StoreOptions};

const BODY_SIZE: usize = 10 * 1024;
const TASKS: usize = 20;
const ROWS_PER_TXN: usize = 20;
const TARGET_MSGS: f64 = 8_000.0;
const TARGET_RATIO: f64 = 0.5;

/// Message `i`: headers naming it, then filler from a per-message generator, `BODY_SIZE`
/// bytes in all.
fn body(i: usize) -> Vec<u8> {
    let mut b = format!(
        "From: bench@example.org\r\nTo: user{}@bench.test\r\nSubject: message {i}\r\n\
         Message-ID: <{i}@bench.example.org>\r\n\r\n",
        i % TASKS
    )
    .into_bytes();
    let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while b.len() < BODY_SIZE {
        if b.len() % 78 == 76 {
            b.extend_from_slice(b"\r\n");
            continue;
        }
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        b.push(b'a' + ((x >> 59) as u8 % 26));
    }
    b.truncate(BODY_SIZE);
    b
}

fn bench_dir() -> tempfile::TempDir {
    let base = PathBuf::from(option_env!("CARGO_TARGET_TMPDIR").unwrap_or("target"));
    std::fs::create_dir_all(&base).expect("create bench directory");
    tempfile::tempdir_in(base).expect("bench temp dir")
}

/// Delivers `n` messages through the store; returns elapsed seconds.
async fn bench_store(n: usize) -> f64 {
    let dir = bench_dir();
    let store = Store::open(StoreOptions {
        hash_cost: HashCost::cheap(),
        ..StoreOptions::new(dir.path().join("store.db"), "a")
    })
    .await
    .expect("open store");
    store.add_domain("bench.test").await.unwrap();
    let mut accounts = Vec::new();
    for t in 0..TASKS {
        accounts.push(
            store
                .create_account(&format!("user{t}@bench.test"), "pw")
                .await
                .unwrap(),
        );
    }

    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let store = store.clone();
        tasks.spawn(async move {
            let rcpt = format!("user{t}@bench.test");
            for i in (t..n).step_by(TASKS) {
                let mut d = store.delivery();
                d.add_recipient(&rcpt).await.expect("recipient");
                let placed = d.commit(body(i)).await.expect("deliver");
                assert_eq!(placed.len(), 1);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("delivery task");
    }
    let secs = start.elapsed().as_secs_f64();

    // Sanity: everything arrived, once.
    let mut total = 0;
    for a in &accounts {
        let inbox = store.mailbox(a.id, "INBOX").await.unwrap().unwrap();
        total += store.counts(inbox.id).await.unwrap().messages;
    }
    assert_eq!(total as usize, n, "messages delivered");
    store.close().await;
    secs
}

/// Inserts the same `n` bodies into a bare table, `ROWS_PER_TXN` per transaction, on one
/// connection with the store's pragmas; returns elapsed seconds.
async fn bench_ceiling(n: usize) -> f64 {
    let dir = bench_dir();
    let opts = SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(dir.path().join("ceiling.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    sqlx::raw_sql("CREATE TABLE bench (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        .execute(&mut conn)
        .await
        .unwrap();

    let start = Instant::now();
    let mut i = 0;
    while i < n {
        let mut tx = conn.begin().await.unwrap();
        for _ in 0..ROWS_PER_TXN.min(n - i) {
            sqlx::query("INSERT INTO bench (data) VALUES ($1)")
                .bind(body(i))
                .execute(&mut *tx)
                .await
                .unwrap();
            i += 1;
        }
        tx.commit().await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM bench")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows as usize, n);
    conn.close().await.unwrap();
    secs
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument would be meaningless here.
    let n: usize = std::env::var("TWINMAIL_BENCH_MESSAGES")
        .ok()
        .map(|v| v.parse().expect("TWINMAIL_BENCH_MESSAGES must be a number"))
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mb = (n * BODY_SIZE) as f64 / 1e6;

    println!("deliver: {n} messages of {BODY_SIZE} bytes ({mb:.0} MB)");
    let store_secs = rt.block_on(bench_store(n));
    let store_rate = n as f64 / store_secs;
    println!(
        "store:   {TASKS} tasks, delivery()+commit(): {store_secs:.2} s, {store_rate:.0} msgs/s, {:.1} MB/s",
        mb / store_secs
    );
    let ceil_secs = rt.block_on(bench_ceiling(n));
    let ceil_rate = n as f64 / ceil_secs;
    println!(
        "ceiling: bare SQLite, 1 connection, {ROWS_PER_TXN} rows/txn: {ceil_secs:.2} s, {ceil_rate:.0} msgs/s, {:.1} MB/s",
        mb / ceil_secs
    );

    let ratio = store_rate / ceil_rate;
    println!();
    println!("| {:<30} | {:>10} | {:>8} |", "", "msgs/s", "MB/s");
    println!("|{:-<32}|{:-<12}|{:-<10}|", "", "", "");
    println!(
        "| {:<30} | {:>10.0} | {:>8.1} |",
        "store (20 tasks)",
        store_rate,
        mb / store_secs
    );
    println!(
        "| {:<30} | {:>10.0} | {:>8.1} |",
        "bare SQLite ceiling",
        ceil_rate,
        mb / ceil_secs
    );
    println!(
        "| {:<30} | {:>10.2} | {:>8} |",
        "ratio store / ceiling", ratio, ""
    );
    println!();
    println!(
        "targets: >= {TARGET_MSGS:.0} msgs/s: {}; >= {TARGET_RATIO} of ceiling: {}",
        if store_rate >= TARGET_MSGS {
            "met"
        } else {
            "MISSED"
        },
        if ratio >= TARGET_RATIO {
            "met"
        } else {
            "MISSED"
        },
    );
}

//! The single writer and its group commit.
//!
//! Rules of the house:
//! - Every mutation runs here, on one connection, so UIDs and MODSEQs are handed out in
//!   one order with no lock juggling.
//! - Whatever jobs are waiting when the writer comes round share one transaction and so
//!   one fsync (group commit). Each job runs inside its own SAVEPOINT (unless it declares
//!   its partial effects harmless): a job that fails is rolled back alone, and its queued
//!   change events and log rows are dropped with it.
//! - Change events are published only after COMMIT succeeded, in commit order.
//! - A job's caller hears back only after COMMIT: an OK means durable.

use std::{future::Future, pin::Pin, sync::Arc};

use sqlx::{Connection, SqliteConnection};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::{Change, ChangeEvent, StoreError, types::now_unix};

/// A boxed future borrowing the writer's context.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Most jobs one transaction takes; more wait for the next commit.
const MAX_BATCH: usize = 256;
/// How often an idle writer looks for changes another process logged.
const EXTERNAL_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// One store mutation: runs inside the writer's transaction and returns what the caller
/// gets once the transaction has committed.
pub(crate) trait Op: Send + 'static {
    /// What the caller gets back.
    type Output: Send + 'static;
    /// Whether a failure part-way could leave effects behind that must be undone (the
    /// default). An op whose partial effects are harmless, and which logs nothing before
    /// its last statement, may say no and save two round trips to SQLite.
    fn needs_savepoint(&self) -> bool {
        true
    }
    /// Does the work; changes it makes are logged through `ctx`.
    fn apply(
        self,
        ctx: &mut WriteCtx,
    ) -> impl Future<Output = Result<Self::Output, StoreError>> + Send;
}

/// Does nothing: once it answers, every job queued before it has committed.
pub(crate) struct Barrier;

impl Op for Barrier {
    type Output = ();
    async fn apply(self, _ctx: &mut WriteCtx) -> Result<(), StoreError> {
        Ok(())
    }
}

/// What the writer holds while running jobs.
pub(crate) struct WriteCtx {
    /// The one write connection.
    pub conn: SqliteConnection,
    /// This node's id, the origin of every change logged here.
    pub node: Arc<str>,
    /// Events of the current transaction, published after commit.
    events: Vec<ChangeEvent>,
    /// Changes another process logged since this writer's last look, published before
    /// this transaction's own (they are committed already, whatever becomes of it).
    external: Vec<ChangeEvent>,
    /// Change-log rows of the current transaction, written in one statement at its end.
    log_rows: Vec<LogRow>,
    /// The sequence number the next logged change gets. Only this writer appends to the
    /// log, so it is kept here, rewound with a rolled-back job, and re-read after a
    /// failed transaction: the log never has a gap (the twin applies it strictly in order).
    next_seq: i64,
    /// The hybrid logical clock of flag changes (milliseconds): the wall clock, or one
    /// more than the latest value made or seen from the twin, whichever is larger.
    hlc: u64,
}

/// One change-log row waiting for the end of the transaction.
struct LogRow {
    seq: i64,
    kind: &'static str,
    payload: String,
    created_at: i64,
}

/// Most messages one log entry names (about 120 bytes of JSON each: well under the
/// mirror's 4 MiB frame).
pub(crate) const MESSAGES_PER_ENTRY: usize = 5000;

/// Rows per multi-row INSERT into the log (4 binds each, far below SQLite's limit).
const LOG_ROWS_PER_INSERT: usize = 500;

impl WriteCtx {
    /// A new value of the flag clock, above every one made or seen before.
    pub fn tick(&mut self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.hlc = now.max(self.hlc + 1);
        self.hlc
    }

    /// Takes in a flag clock value from the twin.
    pub fn observe(&mut self, at: u64) {
        self.hlc = self.hlc.max(at);
    }

    /// Appends a local change to the log (written before this transaction commits) and
    /// queues its event.
    /// A change about more messages than [`MESSAGES_PER_ENTRY`] (a STORE or EXPUNGE over
    /// a whole large mailbox) is logged as several entries of that many, so that no entry
    /// outgrows the mirror's frame: the twin applies them in order, with the same MODSEQ.
    pub async fn log(&mut self, change: Change) -> Result<i64, StoreError> {
        let mut last = 0;
        for part in change.split(MESSAGES_PER_ENTRY) {
            last = self.log_one(part)?;
        }
        Ok(last)
    }

    /// Appends a local change to the log, but tells this twin's sessions `seen` instead
    /// (the merge's renumbering is an EXPUNGE and a new message to an IMAP session; a
    /// re-emitted expunge is nothing new to it).
    pub fn log_seen_as(&mut self, change: Change, seen: Vec<Change>) -> Result<i64, StoreError> {
        let mut last = 0;
        for part in change.split(MESSAGES_PER_ENTRY) {
            last = self.log_one(part)?;
            self.events.pop();
        }
        let node = self.node.to_string();
        self.events
            .extend(seen.into_iter().map(|change| ChangeEvent {
                origin: node.clone(),
                seq: last,
                change,
            }));
        Ok(last)
    }

    fn log_one(&mut self, change: Change) -> Result<i64, StoreError> {
        let payload = serde_json::to_string(&change)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode change: {e}")))?;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.log_rows.push(LogRow {
            seq,
            kind: change.kind(),
            payload,
            created_at: now_unix(),
        });
        self.events.push(ChangeEvent {
            origin: self.node.to_string(),
            seq,
            change,
        });
        Ok(seq)
    }

    /// Writes the transaction's log rows, a few hundred per statement.
    async fn flush_log(&mut self) -> Result<(), sqlx::Error> {
        for chunk in self.log_rows.chunks(LOG_ROWS_PER_INSERT) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO changelog (seq, origin, kind, payload, created_at) ",
            );
            q.push_values(chunk, |mut b, row| {
                b.push_bind(row.seq)
                    .push_bind(&*self.node)
                    .push_bind(row.kind)
                    .push_bind(&row.payload)
                    .push_bind(row.created_at);
            });
            q.build().execute(&mut self.conn).await?;
        }
        self.log_rows.clear();
        Ok(())
    }

    /// The next sequence number, from the database: the largest ever handed out (the
    /// AUTOINCREMENT counter survives trimming of the log) plus one.
    async fn read_next_seq(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
        let last: i64 = sqlx::query_scalar(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changelog'), 0), \
             coalesce((SELECT max(seq) FROM changelog), 0))",
        )
        .fetch_one(&mut *conn)
        .await?;
        Ok(last + 1)
    }

    /// Reads the changes another process (an admin command run beside the server: an
    /// import, a new user) logged in `from..to`, so that this process's sessions and
    /// watchers hear of them as of its own: an IDLE session sees imported mail at once.
    async fn read_external(&mut self, from: i64, to: i64) -> Result<(), sqlx::Error> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT seq, origin, payload FROM changelog WHERE seq >= $1 AND seq < $2 \
             ORDER BY seq",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&mut self.conn)
        .await?;
        for (seq, origin, payload) in rows {
            match serde_json::from_str(&payload) {
                Ok(change) => self.external.push(ChangeEvent {
                    origin,
                    seq,
                    change,
                }),
                Err(e) => tracing::error!(seq, error = %e, "unreadable change in the log"),
            }
        }
        Ok(())
    }

    /// Looks for changes another process logged since this writer's last transaction (at
    /// the start of each, and once a second while idle), and continues the log after them.
    async fn poll_external(&mut self) -> Result<(), sqlx::Error> {
        let next = Self::read_next_seq(&mut self.conn).await?;
        if next > self.next_seq {
            let from = self.next_seq;
            self.next_seq = next;
            self.read_external(from, next).await?;
        }
        Ok(())
    }

    /// Makes the next logged change get a number above `seq`.
    pub fn skip_seq_to(&mut self, seq: i64) {
        self.next_seq = self.next_seq.max(seq + 1);
    }

    /// Queues the event of a change applied from the twin: published to local watchers
    /// (IDLE sessions see it) but never written to the log, so it is never sent back.
    pub fn publish_remote(&mut self, origin: &str, seq: i64, change: Change) {
        self.events.push(ChangeEvent {
            origin: origin.to_string(),
            seq,
            change,
        });
    }
}

/// A type-erased job in the writer's queue.
trait Job: Send {
    fn needs_savepoint(&self) -> bool;
    fn run<'a>(self: Box<Self>, ctx: &'a mut WriteCtx) -> BoxFuture<'a, Box<dyn Finish>>;
}

/// A job that ran and waits for the commit's outcome to answer its caller.
trait Finish: Send {
    fn succeeded(&self) -> bool;
    fn finish(self: Box<Self>, commit: Result<(), Arc<sqlx::Error>>);
}

struct Pending<O: Op> {
    op: O,
    reply: oneshot::Sender<Result<O::Output, StoreError>>,
}

struct Done<T> {
    result: Result<T, StoreError>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<O: Op> Job for Pending<O> {
    fn needs_savepoint(&self) -> bool {
        self.op.needs_savepoint()
    }
    fn run<'a>(self: Box<Self>, ctx: &'a mut WriteCtx) -> BoxFuture<'a, Box<dyn Finish>> {
        Box::pin(async move {
            let Pending { op, reply } = *self;
            // A bug that panics inside one operation fails that operation (its savepoint
            // is rolled back), not the writer and with it every later write.
            let result = CatchUnwind(Box::pin(op.apply(ctx)))
                .await
                .unwrap_or_else(|()| {
                    tracing::error!("a store operation panicked; rolled back");
                    Err(StoreError::Corrupt(
                        "internal error in a store operation".into(),
                    ))
                });
            Box::new(Done { result, reply }) as Box<dyn Finish>
        })
    }
}

/// Turns a panic while polling the inner future into `Err(())`. Hand-written (a few lines)
/// rather than pulling in the futures crate for `catch_unwind`.
struct CatchUnwind<'a, T>(BoxFuture<'a, T>);

impl<T> Future for CatchUnwind<'_, T> {
    type Output = Result<T, ()>;
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let fut = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(_) => std::task::Poll::Ready(Err(())),
        }
    }
}

impl<T: Send> Finish for Done<T> {
    fn succeeded(&self) -> bool {
        self.result.is_ok()
    }
    fn finish(self: Box<Self>, commit: Result<(), Arc<sqlx::Error>>) {
        let outcome = match commit {
            Ok(()) => self.result,
            Err(e) => Err(StoreError::Commit(e)),
        };
        // The caller may have gone away (client disconnected): the change stands anyway.
        let _ = self.reply.send(outcome);
    }
}

/// The handle callers submit jobs through.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the writer task on `conn`.
    pub async fn start(
        mut conn: SqliteConnection,
        node: Arc<str>,
        stream: broadcast::Sender<Arc<ChangeEvent>>,
    ) -> Result<Writer, StoreError> {
        let (queue, rx) = mpsc::channel(4096);
        let next_seq = WriteCtx::read_next_seq(&mut conn).await?;
        let ctx = WriteCtx {
            conn,
            node,
            events: Vec::new(),
            external: Vec::new(),
            log_rows: Vec::new(),
            next_seq,
            hlc: 0,
        };
        // The writer gets a thread and a runtime of its own: it is the one path every
        // write takes, and on a busy machine it must not wait behind sessions for a turn
        // on the shared workers between its statements.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Invalid(format!("cannot start the writer: {e}")))?;
        std::thread::Builder::new()
            .name("twinmail-writer".into())
            .spawn(move || rt.block_on(run(ctx, rx, stream)))
            .map_err(|e| StoreError::Invalid(format!("cannot start the writer: {e}")))?;
        Ok(Writer { queue })
    }

    /// Runs `op` in the next transaction and returns its output once committed.
    pub async fn submit<O: Op>(&self, op: O) -> Result<O::Output, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.queue
            .send(Box::new(Pending { op, reply }))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(
    mut ctx: WriteCtx,
    mut rx: mpsc::Receiver<Box<dyn Job>>,
    stream: broadcast::Sender<Arc<ChangeEvent>>,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    // While no write comes, look once a second for changes another process logged.
    let mut poll = tokio::time::interval(EXTERNAL_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let received = tokio::select! {
            n = rx.recv_many(&mut batch, MAX_BATCH) => n,
            _ = poll.tick() => {
                if let Err(e) = ctx.poll_external().await {
                    tracing::warn!(error = %e, "cannot read the change log");
                }
                for event in ctx.external.drain(..) {
                    let _ = stream.send(Arc::new(event));
                }
                continue;
            }
        };
        if received == 0 {
            break;
        }
        // Group commit: give callers that are about to submit one more turn of the
        // runtime, so they share this transaction's fsync instead of waiting for the next.
        tokio::task::yield_now().await;
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut done: Vec<Box<dyn Finish>> = Vec::with_capacity(batch.len());
        let commit = run_batch(&mut ctx, &mut batch, &mut done).await;
        for event in ctx.external.drain(..) {
            let _ = stream.send(Arc::new(event));
        }
        let events = std::mem::take(&mut ctx.events);
        let commit = match commit {
            Ok(()) => {
                for event in events {
                    // No receiver is fine: nobody is watching yet.
                    let _ = stream.send(Arc::new(event));
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = done.len(), "store transaction failed");
                Err(Arc::new(e))
            }
        };
        for d in done {
            d.finish(commit.clone());
        }
    }
    let _ = ctx.conn.close().await;
}

/// Runs one batch in one transaction. Errors here are the transaction's own (BEGIN,
/// SAVEPOINT, COMMIT): they fail every job of the batch.
async fn run_batch(
    ctx: &mut WriteCtx,
    batch: &mut Vec<Box<dyn Job>>,
    done: &mut Vec<Box<dyn Finish>>,
) -> Result<(), sqlx::Error> {
    // Each job that needs it runs in its own savepoint, so a failure undoes that job
    // alone; its log rows and events are dropped with it either way.
    let result = async {
        sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut ctx.conn)
            .await?;
        // Another process (an admin command run beside the server) may have logged
        // changes since our last transaction: continue after them. One cheap query under
        // the write lock; the log stays gap-free and unique either way.
        ctx.poll_external().await?;
        for job in batch.drain(..) {
            let mark = (ctx.events.len(), ctx.log_rows.len(), ctx.next_seq);
            let savepoint = job.needs_savepoint();
            if savepoint {
                sqlx::raw_sql("SAVEPOINT job")
                    .execute(&mut ctx.conn)
                    .await?;
            }
            let d = job.run(ctx).await;
            if !d.succeeded() {
                ctx.events.truncate(mark.0);
                ctx.log_rows.truncate(mark.1);
                ctx.next_seq = mark.2;
            }
            if savepoint {
                let end = if d.succeeded() {
                    "RELEASE job"
                } else {
                    "ROLLBACK TO job; RELEASE job"
                };
                sqlx::raw_sql(end).execute(&mut ctx.conn).await?;
            }
            done.push(d);
        }
        ctx.flush_log().await?;
        sqlx::raw_sql("COMMIT").execute(&mut ctx.conn).await?;
        Ok(())
    }
    .await;
    if result.is_err() {
        batch.clear();
        ctx.events.clear();
        ctx.log_rows.clear();
        // Leave no transaction open for the next batch; failure here means none was.
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut ctx.conn).await;
        if let Ok(next) = WriteCtx::read_next_seq(&mut ctx.conn).await {
            ctx.next_seq = next;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Panics;

    impl Op for Panics {
        type Output = ();
        async fn apply(self, _ctx: &mut WriteCtx) -> Result<(), StoreError> {
            panic!("a bug in an operation");
        }
    }

    #[tokio::test]
    async fn a_panicking_operation_fails_alone_and_the_writer_lives_on() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE changelog (seq INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT, kind TEXT, payload TEXT, created_at INTEGER)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let (stream, _) = broadcast::channel(16);
        let writer = Writer::start(conn, Arc::from("a"), stream).await.unwrap();
        assert!(matches!(
            writer.submit(Panics).await,
            Err(StoreError::Corrupt(_))
        ));
        writer.submit(Barrier).await.unwrap();
    }
}

//! The accept loop every listener runs: spawn a task per connection, stop accepting on
//! shutdown, then give sessions a moment to finish.

use std::{future::Future, net::SocketAddr, time::Duration};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinSet,
};

/// A number for each connection, unique in this process, for the session's log span
/// (`conn=`): every line of one session carries it.
pub fn connection_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Longest shutdown waits for sessions to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections on `listener` and runs `handle` for each until `shutdown` turns
/// true; then waits up to ten seconds for the sessions (which see the same signal).
pub async fn accept_loop<F, Fut>(listener: TcpListener, shutdown: watch::Receiver<bool>, handle: F)
where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut sessions = JoinSet::new();
    let mut stop = shutdown;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    sessions.spawn(handle(stream, peer));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            _ = async {
                if stop.wait_for(|&s| s).await.is_err() {
                    // The server dropped its handle without shutting down: never fires.
                    std::future::pending::<()>().await;
                }
            } => break,
        }
    }
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
}

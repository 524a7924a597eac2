//! The server side of a TLS handshake, bounded in time so that half-open handshakes
//! cannot pile up (HOSTILE.md CONN).

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, server::TlsStream};

/// Longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs the handshake on `stream`; `None` when there is no TLS configured, or the client
/// failed or took too long.
pub async fn handshake(
    acceptor: Option<&TlsAcceptor>,
    stream: TcpStream,
) -> Option<TlsStream<TcpStream>> {
    let acceptor = acceptor?;
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        _ => {
            tracing::debug!("TLS handshake failed");
            None
        }
    }
}

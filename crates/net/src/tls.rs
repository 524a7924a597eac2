//! The server side of a TLS handshake, bounded in time so that half-open handshakes
//! cannot pile up, and in rate per address (HOSTILE.md CONN).

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
    // Checked before the handshake does any work: a handshake costs this side a key
    // exchange and a signature, so a flood of them from one address is cut off here.
    if let Ok(peer) = stream.peer_addr()
        && !crate::limits::handshake_allowed(peer.ip())
    {
        tracing::debug!(%peer, "too many TLS handshakes from this address; closed");
        return None;
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        _ => {
            tracing::debug!("TLS handshake failed");
            None
        }
    }
}

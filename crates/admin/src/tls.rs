//! The admin listener speaks TLS only: a TCP listener whose connections are handed to
//! axum after the TLS handshake (bounded in time, so a stalled client cannot block it).

use std::{net::SocketAddr, time::Duration};

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, server::TlsStream};

/// Longest a TLS handshake may take.
const HANDSHAKE: Duration = Duration::from_secs(5);

/// A TLS listener for axum.
pub(crate) struct TlsListener {
    /// The TCP listener.
    tcp: TcpListener,
    /// The TLS configuration.
    tls: TlsAcceptor,
}

impl TlsListener {
    pub(crate) fn new(tcp: TcpListener, tls: TlsAcceptor) -> TlsListener {
        TlsListener { tcp, tls }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (tcp, addr) = match self.tcp.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(error = %e, "admin: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match tokio::time::timeout(HANDSHAKE, self.tls.accept(tcp)).await {
                Ok(Ok(s)) => return (s, addr),
                Ok(Err(e)) => tracing::debug!(peer = %addr, error = %e, "admin: TLS failed"),
                Err(_) => tracing::debug!(peer = %addr, "admin: TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

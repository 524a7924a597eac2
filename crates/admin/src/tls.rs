//! The admin listener speaks TLS only: a TCP listener whose connections are handed to
//! axum after the TLS handshake. Each handshake runs in its own task, bounded in time
//! and in number, so a client that connects and says nothing (or dribbles its hello)
//! delays nobody else: `accept` returns whichever handshake finishes first.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinSet,
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};

/// Longest a TLS handshake may take.
const HANDSHAKE: Duration = Duration::from_secs(5);
/// Handshakes under way at once; a connection beyond them is closed at once (the page
/// is for one admin, not a crowd).
const MAX_HANDSHAKES: usize = 64;

/// The client's address, for handlers (the auth layer's failure delays).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(
    /// The client's address and port.
    pub(crate) SocketAddr,
);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

/// A TLS listener for axum.
pub(crate) struct TlsListener {
    /// The TCP listener.
    tcp: TcpListener,
    /// The TLS configuration.
    tls: TlsAcceptor,
    /// Handshakes under way, each in its own task; aborted when the listener is dropped.
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    pub(crate) fn new(tcp: TcpListener, tls: TlsAcceptor) -> TlsListener {
        TlsListener {
            tcp,
            tls,
            handshakes: JoinSet::new(),
        }
    }

    /// Starts the handshake of a new connection in its own task.
    fn start(&mut self, tcp: TcpStream, addr: SocketAddr) {
        if self.handshakes.len() >= MAX_HANDSHAKES {
            tracing::debug!(peer = %addr, "admin: too many TLS handshakes under way; closed");
            return;
        }
        let tls = self.tls.clone();
        self.handshakes.spawn(async move {
            match tokio::time::timeout(HANDSHAKE, tls.accept(tcp)).await {
                Ok(Ok(s)) => Some((s, addr)),
                Ok(Err(e)) => {
                    tracing::debug!(peer = %addr, error = %e, "admin: TLS failed");
                    None
                }
                Err(_) => {
                    tracing::debug!(peer = %addr, "admin: TLS handshake timed out");
                    None
                }
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok((tcp, addr)) => self.start(tcp, addr),
                    Err(e) => {
                        tracing::debug!(error = %e, "admin: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(connection)) = done {
                        return connection;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

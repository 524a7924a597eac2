//! Accepting ManageSieve connections: limits, then a plaintext session that may hand its
//! stream to TLS (STARTTLS, RFC 5804 §2.2); there is no implicit-TLS port.

use std::{net::SocketAddr, sync::Arc};

use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    sync::watch,
};
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;
use twinmail_net::{Limits, Stream};
use twinmail_store::Store;

use crate::{
    ManageSieveSettings,
    session::{End, Session},
};

/// Everything the ManageSieve listeners of one node share.
pub struct ManageSieve {
    /// Timeouts and limits, from the config's `[managesieve]` section.
    pub settings: ManageSieveSettings,
    /// Where the scripts live (and from where they mirror to the twin).
    pub store: Store,
    /// TLS for STARTTLS; `None` disables it (and with it logins from the network).
    pub tls: Option<TlsAcceptor>,
    /// Live sessions, login failures and the counters the admin page shows.
    pub limits: Arc<Limits>,
}

impl ManageSieve {
    /// Shared state for the listeners.
    pub fn new(
        settings: ManageSieveSettings,
        store: Store,
        tls: Option<TlsAcceptor>,
    ) -> Arc<ManageSieve> {
        Arc::new(ManageSieve {
            settings,
            store,
            tls,
            limits: Arc::default(),
        })
    }
}

/// Serves one listener until `shutdown` turns true.
pub async fn run(listener: TcpListener, sieve: Arc<ManageSieve>, shutdown: watch::Receiver<bool>) {
    let sessions = shutdown.clone();
    twinmail_net::accept_loop(listener, shutdown, move |stream, peer| {
        let span = tracing::info_span!(
            "managesieve",
            conn = twinmail_net::connection_id(),
            %peer
        );
        handle(stream, peer, sieve.clone(), sessions.clone()).instrument(span)
    })
    .await;
}

/// Runs one plaintext session over any stream (tests and fuzzing); STARTTLS ends it.
pub async fn serve_stream<S: Stream>(
    stream: S,
    peer: SocketAddr,
    sieve: Arc<ManageSieve>,
    shutdown: watch::Receiver<bool>,
) {
    let _ = Session::new(stream, peer, sieve, false, shutdown)
        .run()
        .await;
}

async fn handle(
    mut stream: TcpStream,
    peer: SocketAddr,
    sieve: Arc<ManageSieve>,
    shutdown: watch::Receiver<bool>,
) {
    let s = &sieve.settings;
    let Some(_slot) = sieve
        .limits
        .admit(peer.ip(), s.max_connections, s.max_connections_per_ip)
    else {
        let _ = stream
            .write_all(b"BYE (TRYLATER) \"Too many connections\"\r\n")
            .await;
        return;
    };
    let session = Session::new(stream, peer, sieve.clone(), false, shutdown.clone());
    if let End::StartTls(plain) = session.run().await
        && let Some(tls) = twinmail_net::handshake(sieve.tls.as_ref(), plain).await
    {
        // A fresh session: nothing from before TLS carries over, and it starts by
        // re-issuing the capabilities (RFC 5804 §2.2).
        let _ = Session::new(tls, peer, sieve.clone(), true, shutdown)
            .run()
            .await;
    }
}

//! The accept loop: connection limits, implicit TLS on 465, STARTTLS hand-over, and
//! graceful shutdown (stop accepting, tell sessions 421, wait for them).

use std::{net::SocketAddr, sync::Arc};

use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    sync::watch,
};
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;
use twinmail_store::Store;

use crate::{
    Kind, Pipeline, SmtpSettings,
    session::{End, Session, Stream, TlsInfo},
};

/// Everything the SMTP listeners of one node share.
pub struct Smtp {
    /// Limits and names.
    pub settings: SmtpSettings,
    /// Where mail goes.
    pub store: Store,
    /// TLS for STARTTLS and port 465; `None` disables both (and so AUTH).
    pub tls: Option<TlsAcceptor>,
    /// Filters between session and store.
    pub pipeline: Pipeline,
    /// Live sessions and login failures.
    pub limits: Arc<twinmail_net::Limits>,
}

impl Smtp {
    /// Shared state for the listeners.
    pub fn new(
        settings: SmtpSettings,
        store: Store,
        tls: Option<TlsAcceptor>,
        pipeline: Pipeline,
    ) -> Arc<Smtp> {
        Arc::new(Smtp {
            settings,
            store,
            tls,
            pipeline,
            limits: Arc::default(),
        })
    }
}

/// Serves one listener until `shutdown` turns true, then waits (briefly) for sessions.
pub async fn run(
    listener: TcpListener,
    kind: Kind,
    smtp: Arc<Smtp>,
    shutdown: watch::Receiver<bool>,
) {
    let sessions = shutdown.clone();
    twinmail_net::accept_loop(listener, shutdown, move |stream, peer| {
        let span = tracing::info_span!(
            "smtp",
            conn = twinmail_net::connection_id(),
            service = kind.name(),
            %peer
        );
        handle(stream, peer, kind, smtp.clone(), sessions.clone()).instrument(span)
    })
    .await;
}

async fn handle(
    mut stream: TcpStream,
    peer: SocketAddr,
    kind: Kind,
    smtp: Arc<Smtp>,
    shutdown: watch::Receiver<bool>,
) {
    let s = &smtp.settings;
    let Some(_slot) = smtp
        .limits
        .admit(peer.ip(), s.max_connections, s.max_connections_per_ip)
    else {
        tracing::info!(%peer, "too many connections");
        if kind != Kind::Submissions {
            let _ = stream
                .write_all(b"421 4.7.0 Too many connections, try again later\r\n")
                .await;
        }
        return;
    };
    if kind == Kind::Submissions {
        let Some(tls) = twinmail_net::handshake(smtp.tls.as_ref(), stream).await else {
            return;
        };
        let info = TlsInfo::of(tls.get_ref().1);
        session(tls, peer, kind, &smtp, Some(info), shutdown, true).await;
        return;
    }
    let Some(plain) = session(stream, peer, kind, &smtp, None, shutdown.clone(), true).await else {
        return;
    };
    let Some(tls) = twinmail_net::handshake(smtp.tls.as_ref(), plain).await else {
        return;
    };
    let info = TlsInfo::of(tls.get_ref().1);
    // A fresh session: nothing from before TLS carries over (RFC 3207 §4.2).
    session(tls, peer, kind, &smtp, Some(info), shutdown, false).await;
}

/// Runs one session over any stream, as if accepted on a `kind` listener (tests and
/// fuzzing). STARTTLS is answered but ends the session.
pub async fn serve_stream<S: Stream>(
    stream: S,
    peer: SocketAddr,
    kind: Kind,
    smtp: Arc<Smtp>,
    shutdown: watch::Receiver<bool>,
) {
    let _ = session(stream, peer, kind, &smtp, None, shutdown, true).await;
}

/// Runs a session; returns the raw stream when the client asked for STARTTLS.
async fn session<S: Stream>(
    stream: S,
    peer: SocketAddr,
    kind: Kind,
    smtp: &Arc<Smtp>,
    tls: Option<TlsInfo>,
    shutdown: watch::Receiver<bool>,
    greet: bool,
) -> Option<S> {
    let session = Session::new(stream, peer, kind, smtp.clone(), tls, shutdown);
    match session.run(greet).await {
        End::StartTls(stream) => Some(stream),
        End::Closed => None,
    }
}

//! Accepting POP3 connections: limits, implicit TLS on 995, the STLS hand-over, and the
//! per-maildrop lock that keeps two POP3 sessions off one INBOX ([IN-USE]).

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

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
    Kind, Pop3Settings,
    session::{End, Session},
};

/// Everything the POP3 listeners of one node share.
pub struct Pop3 {
    /// Limits.
    pub settings: Pop3Settings,
    /// The mail.
    pub store: Store,
    /// TLS for STLS and port 995; `None` disables both.
    pub tls: Option<TlsAcceptor>,
    /// Live sessions and login failures.
    pub limits: Arc<Limits>,
    /// Mailboxes (local ids) held by a POP3 session in the TRANSACTION state.
    locks: Arc<Mutex<HashSet<i64>>>,
}

/// Holds a maildrop lock; released when dropped (QUIT or a broken connection).
pub struct MaildropLock {
    locks: Arc<Mutex<HashSet<i64>>>,
    mailbox: i64,
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        self.locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.mailbox);
    }
}

impl Pop3 {
    /// Shared state for the listeners.
    pub fn new(settings: Pop3Settings, store: Store, tls: Option<TlsAcceptor>) -> Arc<Pop3> {
        Arc::new(Pop3 {
            settings,
            store,
            tls,
            limits: Arc::default(),
            locks: Arc::default(),
        })
    }

    /// Takes the exclusive lock on a maildrop, or `None` when another session has it.
    pub(crate) fn lock(&self, mailbox: i64) -> Option<MaildropLock> {
        let mut held = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        held.insert(mailbox).then(|| MaildropLock {
            locks: self.locks.clone(),
            mailbox,
        })
    }
}

/// Serves one listener until `shutdown` turns true.
pub async fn run(
    listener: TcpListener,
    kind: Kind,
    pop3: Arc<Pop3>,
    shutdown: watch::Receiver<bool>,
) {
    let sessions = shutdown.clone();
    twinmail_net::accept_loop(listener, shutdown, move |stream, peer| {
        let span = tracing::info_span!(
            "pop3",
            conn = twinmail_net::connection_id(),
            service = kind.name(),
            %peer
        );
        handle(stream, peer, kind, pop3.clone(), sessions.clone()).instrument(span)
    })
    .await;
}

/// Runs one plaintext session over any stream (tests and fuzzing).
pub async fn serve_stream<S: Stream>(
    stream: S,
    peer: SocketAddr,
    pop3: Arc<Pop3>,
    shutdown: watch::Receiver<bool>,
) {
    let _ = Session::new(stream, peer, pop3, false, shutdown)
        .run(true)
        .await;
}

async fn handle(
    mut stream: TcpStream,
    peer: SocketAddr,
    kind: Kind,
    pop3: Arc<Pop3>,
    shutdown: watch::Receiver<bool>,
) {
    let s = &pop3.settings;
    let Some(_slot) = pop3
        .limits
        .admit(peer.ip(), s.max_connections, s.max_connections_per_ip)
    else {
        if kind == Kind::Pop3 {
            let _ = stream
                .write_all(b"-ERR [SYS/TEMP] Too many connections\r\n")
                .await;
        }
        return;
    };
    if kind == Kind::Pop3s {
        let Some(tls) = twinmail_net::handshake(pop3.tls.as_ref(), stream).await else {
            return;
        };
        let _ = Session::new(tls, peer, pop3.clone(), true, shutdown)
            .run(true)
            .await;
        return;
    }
    let session = Session::new(stream, peer, pop3.clone(), false, shutdown.clone());
    if let End::StartTls(plain) = session.run(true).await
        && let Some(tls) = twinmail_net::handshake(pop3.tls.as_ref(), plain).await
    {
        // A fresh session: nothing from before TLS carries over (RFC 2595 §4).
        let _ = Session::new(tls, peer, pop3.clone(), true, shutdown)
            .run(false)
            .await;
    }
}

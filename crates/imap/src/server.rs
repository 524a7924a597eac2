//! Accepting IMAP connections: limits, implicit TLS on 993, the STARTTLS hand-over.

use std::{
    collections::HashMap,
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
    ImapSettings, Kind,
    session::{End, Session},
};

/// Everything the IMAP listeners of one node share.
pub struct Imap {
    /// Limits.
    pub settings: ImapSettings,
    /// The mail.
    pub store: Store,
    /// TLS for STARTTLS and port 993; `None` disables both.
    pub tls: Option<TlsAcceptor>,
    /// Live sessions and login failures.
    pub limits: Arc<Limits>,
    /// Logged-in sessions per account (local id).
    users: Arc<Mutex<HashMap<i64, usize>>>,
    /// Which messages are `\Recent` to which session: per mailbox, the highest UID a
    /// session has claimed (in memory, per twin and per process; see `recent.rs`).
    pub recent: crate::recent::Recent,
    /// What SORT and THREAD read of message headers, by blob (see `sortkeys.rs`).
    pub headers: crate::sortkeys::HeaderCache,
    /// Each message's blob, size and INTERNALDATE by mailbox and UID, for SORT and
    /// THREAD (see `sortkeys.rs`).
    pub fixed: crate::sortkeys::FixedCache,
    /// Sessions compressing now (COMPRESS=DEFLATE), against `max_compressed_sessions`.
    pub compressing: Arc<std::sync::atomic::AtomicUsize>,
}

/// A logged-in session's place in the per-user count; released when the session ends.
pub struct UserSlot {
    users: Arc<Mutex<HashMap<i64, usize>>>,
    account: i64,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = users.get_mut(&self.account) {
            *n -= 1;
            if *n == 0 {
                users.remove(&self.account);
            }
        }
    }
}

impl Imap {
    /// Shared state for the listeners.
    pub fn new(settings: ImapSettings, store: Store, tls: Option<TlsAcceptor>) -> Arc<Imap> {
        Arc::new(Imap {
            settings,
            store,
            tls,
            limits: Arc::default(),
            users: Arc::default(),
            recent: crate::recent::Recent::default(),
            headers: crate::sortkeys::HeaderCache::default(),
            fixed: crate::sortkeys::FixedCache::default(),
            compressing: Arc::default(),
        })
    }

    /// Counts a login of `account`, or `None` when it already has the most sessions.
    pub(crate) fn user_slot(&self, account: i64) -> Option<UserSlot> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let n = users.entry(account).or_insert(0);
        if *n >= self.settings.max_sessions_per_user {
            return None;
        }
        *n += 1;
        Some(UserSlot {
            users: self.users.clone(),
            account,
        })
    }
}

/// Serves one listener until `shutdown` turns true.
pub async fn run(
    listener: TcpListener,
    kind: Kind,
    imap: Arc<Imap>,
    shutdown: watch::Receiver<bool>,
) {
    let sessions = shutdown.clone();
    twinmail_net::accept_loop(listener, shutdown, move |stream, peer| {
        let span = tracing::info_span!(
            "imap",
            conn = twinmail_net::connection_id(),
            service = kind.name(),
            %peer
        );
        handle(stream, peer, kind, imap.clone(), sessions.clone()).instrument(span)
    })
    .await;
}

/// Runs one plaintext session over any stream (tests and fuzzing).
pub async fn serve_stream<S: Stream>(
    stream: S,
    peer: SocketAddr,
    imap: Arc<Imap>,
    shutdown: watch::Receiver<bool>,
) {
    let _ = Session::new(stream, peer, imap, false, shutdown, true)
        .run()
        .await;
}

async fn handle(
    mut stream: TcpStream,
    peer: SocketAddr,
    kind: Kind,
    imap: Arc<Imap>,
    shutdown: watch::Receiver<bool>,
) {
    let s = &imap.settings;
    let Some(_slot) = imap
        .limits
        .admit(peer.ip(), s.max_connections, s.max_connections_per_ip)
    else {
        if kind == Kind::Imap {
            let _ = stream
                .write_all(b"* BYE [UNAVAILABLE] Too many connections\r\n")
                .await;
        }
        return;
    };
    // The handshake and each session run boxed: a task is as big as the largest state
    // its future can be in, and every idle session would otherwise carry the space of a
    // TLS handshake and of both kinds of session (bench/imap-idle.sh: 6.4 → 3 KiB).
    if kind == Kind::Imaps {
        let Some(tls) = Box::pin(twinmail_net::handshake(imap.tls.as_ref(), stream)).await else {
            return;
        };
        let _ = Box::pin(Session::new(tls, peer, imap.clone(), true, shutdown, true).run()).await;
        return;
    }
    let session = Session::new(stream, peer, imap.clone(), false, shutdown.clone(), true);
    if let End::StartTls(plain) = Box::pin(session.run()).await
        && let Some(tls) = Box::pin(twinmail_net::handshake(imap.tls.as_ref(), plain)).await
    {
        // A fresh session without a greeting: nothing from before TLS carries over.
        let _ = Box::pin(Session::new(tls, peer, imap.clone(), true, shutdown, false).run()).await;
    }
}

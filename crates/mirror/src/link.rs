//! Making and keeping the link: the twin whose id sorts first dials (with capped
//! exponential backoff), the other accepts; only one link is up at a time. Every refused
//! connection is counted and logged, without secrets.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};
use tokio_rustls::TlsAcceptor;
use twinmail_store::{Store, now_unix};

use crate::{
    LinkError, MirrorSettings,
    auth::{self, Me},
    forward::{Forwarding, Router},
    frame::{Frame, Purpose},
    session, verify,
};

/// Longest a handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes on the mirror port at once, in total and from one address: a peer that has
/// not proved the secret holds at most a TLS session and a KiB, and only this many of them.
const MAX_HANDSHAKES: usize = 16;
const MAX_HANDSHAKES_PER_IP: usize = 4;

/// Longest a TCP connect to the twin may take (an unreachable address would otherwise
/// hold the dialer for the kernel's minutes).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The mirror of one twin.
#[derive(Clone)]
pub struct Mirror {
    inner: Arc<Inner>,
}

struct Inner {
    /// The settings.
    settings: MirrorSettings,
    /// The store mirrored.
    store: Store,
    /// TLS for the listener.
    acceptor: TlsAcceptor,
    /// Link state and forwarded writes (one link per pair).
    forwarding: Arc<Forwarding>,
    /// Told when the twin, just started, asks this (dialing) twin to dial now.
    wake: tokio::sync::Notify,
    /// Refused connections not yet added to the store's counter (persisted once a
    /// second, so a flood of refusals costs no write each).
    refused: std::sync::atomic::AtomicI64,
    /// Handshakes under way, in total (permits) and per peer address.
    handshakes: Arc<tokio::sync::Semaphore>,
    /// Handshakes under way per peer address.
    handshakes_by_ip: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
}

impl Mirror {
    /// A mirror for `store`; nothing runs until [`run`](Mirror::run).
    /// Installs itself as the store's home-twin router.
    pub fn new(settings: MirrorSettings, store: Store, acceptor: TlsAcceptor) -> Mirror {
        let forwarding = Forwarding::new(
            settings.node.clone(),
            settings.twin_id.clone(),
            settings.heartbeat * 3,
            settings.heartbeat,
            settings.write_wait,
            settings.sync_timeout,
        );
        store.set_forwarder(Arc::new(Router(forwarding.clone())));
        Mirror {
            inner: Arc::new(Inner {
                settings,
                store,
                acceptor,
                forwarding,
                wake: tokio::sync::Notify::new(),
                refused: Default::default(),
                handshakes: Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES)),
                handshakes_by_ip: Default::default(),
            }),
        }
    }

    /// Whether the link to the twin is up now.
    pub fn is_linked(&self) -> bool {
        self.inner.forwarding.linked.load(Ordering::SeqCst)
    }

    /// Watches the twin's acknowledgements of this twin's log.
    pub fn acked(&self) -> watch::Receiver<i64> {
        self.inner.forwarding.acked.subscribe()
    }

    fn me(&self) -> Me {
        Me {
            node: self.inner.settings.node.clone(),
            incarnation: self.inner.store.incarnation().to_string(),
        }
    }

    /// Runs until `shutdown`: accepts on `listener`, and dials the twin if this twin is
    /// the one that dials.
    pub async fn run(self, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
        let fwd = &self.inner.forwarding;
        if let Err(e) = self.inner.store.mark_started().await {
            tracing::error!(error = %e, "mirror: cannot record the log position");
        }
        if let Ok(s) = self.inner.store.mirror_status().await {
            fwd.acked.send_replace(s.acked_seq);
        }
        // Whether this database ever completed a sync from the twin (until the first
        // link says whether a snapshot comes).
        if let Ok((incarnation, _)) = self
            .inner
            .store
            .remote_position(&self.inner.settings.twin_id)
            .await
        {
            fwd.synced.store(!incarnation.is_empty(), Ordering::SeqCst);
        }
        // Sync mode's fallback is shown by the status: keep it in the store.
        let mut fallback = fwd.fallback.subscribe();
        let store = self.inner.store.clone();
        tokio::spawn(async move {
            while fallback.changed().await.is_ok() {
                let on = if *fallback.borrow_and_update() {
                    "1"
                } else {
                    "0"
                };
                let _ = store.set_mirror_state(&[("sync_fallback", on)]).await;
            }
        });
        let _ = self
            .inner
            .store
            .set_mirror_state(&[("link", "down"), ("link_since", &now_unix().to_string())])
            .await;
        // Forwarding counters go to the store (where `mirror status` reads them) once a
        // second, not once per write.
        let (store, f, me) = (self.inner.store.clone(), fwd.clone(), self.clone());
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            for second in 1u64.. {
                let done = tokio::select! {
                    _ = stop.changed() => true,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => false,
                };
                // When the twins were last together, kept across a crash of either: how
                // long a split lasted is measured from it.
                if second % 60 == 0 && me.is_linked() {
                    let now = now_unix().to_string();
                    let _ = store.set_mirror_state(&[("last_linked", &now)]).await;
                }
                let mut counts = f.take_counts().to_vec();
                counts.push(("rejected", me.inner.refused.swap(0, Ordering::Relaxed)));
                if counts.iter().any(|c| c.1 != 0) {
                    let _ = store.add_mirror_counters(&counts).await;
                }
                if done {
                    return;
                }
            }
        });
        if let Some(every) = self.inner.settings.audit_every {
            let me = self.clone();
            tokio::spawn(crate::audit::run(
                self.inner.store.clone(),
                self.inner.settings.clone(),
                every,
                move || me.is_linked(),
                shutdown.clone(),
            ));
        }
        let dialer = self.inner.settings.dials().then(|| {
            let me = self.clone();
            let stop = shutdown.clone();
            tokio::spawn(async move { me.dial_loop(stop).await })
        });
        if !self.inner.settings.dials() {
            let me = self.clone();
            tokio::spawn(async move { me.wake_twin().await });
        }
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                accepted = listener.accept() => {
                    let Ok((tcp, addr)) = accepted else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    let Some(slot) = self.handshake_slot(addr.ip()) else {
                        // Too many handshakes under way: closed at once, counted.
                        drop(tcp);
                        self.inner.refused.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    let me = self.clone();
                    let stop = shutdown.clone();
                    tokio::spawn(async move {
                        if let Err(e) = me.accepted(tcp, slot, stop).await {
                            tracing::warn!(peer = %addr, error = %e, "mirror connection ended");
                        }
                    });
                }
            }
        }
        if let Some(d) = dialer {
            let _ = d.await;
        }
    }

    /// A place for one more handshake from `ip`, if the caps allow; freed when dropped.
    fn handshake_slot(&self, ip: std::net::IpAddr) -> Option<HandshakeSlot> {
        let permit = self.inner.handshakes.clone().try_acquire_owned().ok()?;
        let mut by_ip = self
            .inner
            .handshakes_by_ip
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let n = by_ip.entry(ip).or_default();
        if *n >= MAX_HANDSHAKES_PER_IP {
            return None;
        }
        *n += 1;
        Some(HandshakeSlot {
            mirror: self.clone(),
            ip,
            _permit: permit,
        })
    }

    async fn accepted(
        &self,
        tcp: TcpStream,
        slot: HandshakeSlot,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), LinkError> {
        // Frames are small and latency matters (forwarded writes wait on them).
        let _ = tcp.set_nodelay(true);
        let s = &self.inner.settings;
        let authed = tokio::time::timeout(
            HANDSHAKE_TIMEOUT,
            auth::accept(tcp, &self.inner.acceptor, &self.me(), &s.secret),
        )
        .await
        .unwrap_or_else(|_| Err(LinkError::Auth("handshake timed out".into())));
        drop(slot);
        let mut authed = match authed {
            Ok(a) => a,
            Err(e) => {
                self.refused(&e).await;
                return Err(e);
            }
        };
        if authed.peer.node != s.twin_id {
            let e = LinkError::Auth(format!(
                "the peer is {:?}, the twin is {:?}",
                authed.peer.node, s.twin_id
            ));
            self.refused(&e).await;
            return Err(e);
        }
        match authed.peer.purpose {
            Purpose::Verify => verify::serve(&self.inner.store, &mut authed.stream).await,
            Purpose::Wake => {
                self.inner.wake.notify_one();
                Ok(())
            }
            Purpose::Link => {
                if self.inner.forwarding.linked.swap(true, Ordering::SeqCst) {
                    let _ = crate::frame::write(
                        &mut authed.stream,
                        &Frame::Refused("a link is already up".into()),
                    )
                    .await;
                    return Err(LinkError::Refused("a second link from the twin".into()));
                }
                self.linked(authed, shutdown).await
            }
        }
    }

    async fn refused(&self, e: &LinkError) {
        tracing::warn!(error = %e, "mirror: refused a connection");
        self.inner.refused.fetch_add(1, Ordering::Relaxed);
    }

    async fn dial_loop(&self, mut shutdown: watch::Receiver<bool>) {
        let s = &self.inner.settings;
        let mut backoff = Duration::from_millis(100);
        loop {
            if *shutdown.borrow() {
                return;
            }
            let result = match self.dial(Purpose::Link).await {
                Ok(authed) if authed.peer.node != s.twin_id => Err(LinkError::Auth(format!(
                    "the peer is {:?}, the twin is {:?}",
                    authed.peer.node, s.twin_id
                ))),
                Ok(authed) => {
                    backoff = Duration::from_millis(100);
                    self.inner.forwarding.linked.store(true, Ordering::SeqCst);
                    self.linked(authed, shutdown.clone()).await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "mirror: no link to the twin");
                let _ = self
                    .inner
                    .store
                    .set_mirror_state(&[("last_error", &format!("{} {e}", now_unix()))])
                    .await;
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(backoff) => backoff = (backoff * 2).min(s.max_backoff),
                // The twin has just started: dial now, and from a short backoff again.
                _ = self.inner.wake.notified() => backoff = Duration::from_millis(100),
            }
        }
    }

    /// Connects to the twin and authenticates, for `purpose`.
    async fn dial(&self, purpose: Purpose) -> Result<auth::Authed, LinkError> {
        let s = &self.inner.settings;
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(s.twin_addr))
            .await
            .map_err(|_| LinkError::Io(std::io::ErrorKind::TimedOut.into()))??;
        tcp.set_nodelay(true)?;
        tokio::time::timeout(
            HANDSHAKE_TIMEOUT,
            auth::dial(tcp, &self.me(), &s.secret, purpose),
        )
        .await
        .unwrap_or_else(|_| Err(LinkError::Auth("handshake timed out".into())))
    }

    /// At start, the accepting twin asks the dialing twin to dial now (it may be deep in
    /// its backoff after a long outage), a few times until the link is up.
    async fn wake_twin(&self) {
        for _ in 0..5 {
            if self.is_linked() {
                return;
            }
            match self.dial(Purpose::Wake).await {
                Ok(_) => return,
                Err(e) => tracing::debug!(error = %e, "mirror: cannot wake the twin"),
            }
            tokio::time::sleep(self.inner.settings.heartbeat).await;
        }
    }

    /// Runs one authenticated link until it fails or we shut down.
    async fn linked(
        &self,
        authed: auth::Authed,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), LinkError> {
        let store = &self.inner.store;
        let peer = authed.peer.node.clone();
        tracing::info!(twin = %peer, "mirror link up");
        let before = store.mirror_status().await?;
        // Measured from when the twins were last together (a twin that was off for weeks
        // restarts with a fresh link_since); older installs know only link_since.
        let since = match before.last_linked {
            0 => before.link_since,
            t => t,
        };
        let apart = now_unix() - since;
        if before.link == "down" && apart > store.tombstone_secs() {
            // Tombstones of what was expunged early in the split are gone: the merge could
            // bring such mail back. Refused until the admin says how to go on.
            if !store.take_long_split_ok().await? {
                let why = format!(
                    "{} not merged: the twins were apart {} days, longer than tombstones are kept ({} days), so mail expunged early in the split could come back. Either `twinmail mirror resync` on the twin to be replaced, or `twinmail mirror merge-long-split` on both twins to merge anyway",
                    now_unix(),
                    apart / 86_400,
                    store.tombstone_secs() / 86_400
                );
                tracing::error!(twin = %peer, apart_days = apart / 86_400, "mirror: split longer than the tombstone period; not merged");
                store.set_mirror_state(&[("last_error", &why)]).await?;
                self.inner.forwarding.linked.store(false, Ordering::SeqCst);
                return Err(LinkError::LongSplit(apart / 86_400));
            }
            tracing::warn!(twin = %peer, apart_days = apart / 86_400, "mirror: merging a split longer than the tombstone period, as the admin asked");
        }
        store
            .set_mirror_state(&[
                ("link", "up"),
                ("peer", &peer),
                ("link_since", &now_unix().to_string()),
                ("last_linked", &now_unix().to_string()),
            ])
            .await?;
        let fwd = &self.inner.forwarding;
        let result = tokio::select! {
            r = session::run(store, authed, &self.inner.settings, fwd) => r,
            _ = shutdown.changed() => Ok(()),
        };
        fwd.linked.store(false, Ordering::SeqCst);
        fwd.detach();
        let mut facts = vec![
            ("link", "down".to_string()),
            ("link_since", now_unix().to_string()),
            ("last_linked", now_unix().to_string()),
        ];
        if let Err(e) = &result {
            tracing::warn!(twin = %peer, error = %e, "mirror link down");
            facts.push(("last_error", format!("{} {e}", now_unix())));
        }
        let facts: Vec<(&str, &str)> = facts.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let _ = store.set_mirror_state(&facts).await;
        result
    }
}

/// One handshake under way on the mirror port: its share of the total and per-address
/// caps, given back when dropped (when the peer has proved itself, or failed to).
struct HandshakeSlot {
    /// Whose caps.
    mirror: Mirror,
    /// The peer's address.
    ip: std::net::IpAddr,
    /// The share of the total cap.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let mut by_ip = self
            .mirror
            .inner
            .handshakes_by_ip
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                by_ip.remove(&self.ip);
            }
        }
    }
}

//! The twin link. Ships this twin's change log to the twin over an authenticated TLS
//! connection and applies the twin's log here, exactly once and in order. Knows nothing of
//! SMTP, IMAP or POP3: it moves change-log entries and message bytes.
//!
//! - `auth`: TLS plus the HMAC challenge–response bound to the TLS session.
//! - `frame`: the length-delimited, versioned wire format.
//! - `forward`: home twins; writes of accounts homed on the twin are forwarded there.
//! - `link`: dialing, accepting, backoff, one link per pair.
//! - `session`: one live link: sender, receiver, acknowledgements, heartbeats.
//! - `snapshot`: the initial sync of a new twin.
//! - `verify`: `twinmail mirror verify`; `audit`: the same, run by the live twin.
#![forbid(unsafe_code)]

mod audit;
mod auth;
mod forward;
pub mod frame;
mod link;
mod session;
mod snapshot;
mod verify;

use std::{net::SocketAddr, time::Duration};

pub use auth::{Identity, MAKE_SECRET, Secret, acceptor_config, spki_sha256};
pub use link::Mirror;
pub use verify::{Difference, verify};

/// How a twin mirrors.
#[derive(Clone, Debug)]
pub struct MirrorSettings {
    /// This node's id.
    pub node: String,
    /// The twin's node id.
    pub twin_id: String,
    /// The twin's mirror address. The twin whose id sorts first dials; the other accepts.
    pub twin_addr: SocketAddr,
    /// The shared secret.
    pub secret: Secret,
    /// Interval between heartbeats; the link is dropped after three missed ones.
    pub heartbeat: Duration,
    /// Longest wait between reconnection attempts (backoff doubles from 100 ms up to it).
    pub max_backoff: Duration,
    /// Longest a client's write is held waiting for the link, the home twin's answer, or
    /// this twin's catching up; then the client hears a temporary failure.
    pub write_wait: Duration,
    /// Largest message accepted from the twin, in bytes.
    pub max_message_size: u64,
    /// Sync mode: SMTP 250 and APPEND OK wait (up to this long) until the twin has
    /// stored the message too. `None`: async mode.
    pub sync_timeout: Option<Duration>,
    /// How often the running twin audits itself against the twin; `None`: never.
    pub audit_every: Option<Duration>,
}

impl MirrorSettings {
    /// Whether this twin dials (its id sorts before the twin's).
    pub fn dials(&self) -> bool {
        self.node < self.twin_id
    }
}

pub use twinmail_store::home_twin;

/// Why a link failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The connection failed or closed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// A frame could not be read.
    #[error("{0}")]
    Frame(#[from] frame::FrameError),
    /// The peer did not prove the secret, or sent a bad handshake.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The peer speaks another protocol version.
    #[error("the peer speaks mirror protocol version {0}, this twin speaks {v}", v = frame::VERSION)]
    Version(u32),
    /// The peer refused us.
    #[error("refused by the twin: {0}")]
    Refused(String),
    /// The peer broke the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] twinmail_store::StoreError),
    /// Another part of the link ended (the connection closed under it).
    #[error("the link closed")]
    Closed,
    /// Nothing heard for three heartbeats.
    #[error("the twin went silent")]
    Silent,
    /// The twins were apart longer than tombstones are kept: not merged until the admin
    /// says so (`twinmail mirror merge-long-split`) or replaces a twin.
    #[error(
        "not merged: the twins were apart {0} days, longer than tombstones are kept; \
         `twinmail mirror merge-long-split` on both twins merges anyway, \
         `twinmail mirror resync` on one replaces its data"
    )]
    LongSplit(i64),
    /// `twinmail mirror resync` asked for a fresh copy of the twin's data.
    #[error("resync requested: reconnecting for a snapshot")]
    Resync,
}

//! Connection plumbing shared by the SMTP, IMAP and POP3 servers: a buffered connection
//! with timeouts and shutdown, connection and login-failure limits, the counters the admin
//! page shows, and the accept loop.
//! Protocol logic stays in the protocol crates.
#![forbid(unsafe_code)]

mod accept;
mod conn;
mod limits;
pub mod log;
pub mod sasl;
mod stats;
mod tls;

pub use accept::{accept_loop, connection_id};
pub use conn::{Conn, Stop};
pub use limits::{
    HeldBytes, Limits, LoginBusy, LoginTicket, MAX_TRACKED, Policy, Slot, group, handshake_allowed,
    policy, set_policy,
};
pub use log::{escaped, name_hash};
pub use stats::{Counts, Reject, Stats};
pub use tls::{CertCheck, CheckedBy, handshake};

/// What a session runs on: a TCP stream or a TLS stream over one.
pub trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

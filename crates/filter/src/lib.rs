//! twinmail's inbound filters, the stages of the SMTP delivery pipeline
//! (`twinmail_smtp::Filter`) between an accepted DATA and the store:
//!
//! - [`SenderAuth`]: SPF (HELO and MAIL FROM), DKIM (every signature), ARC and DMARC
//!   through mail-auth, summed up in one `Authentication-Results` header (RFC 8601);
//! - [`Clamd`]: a virus scan through clamd's INSTREAM command;
//! - [`Rspamd`]: a spam check through rspamd's HTTP `/checkv2`.
//!
//! Each counts its outcomes and latency in [`Counters`], read by the status page through
//! [`FilterSet::stats`]. Filters run once, on the twin that received the message: the
//! twin gets the finished bytes from the mirror and never filters them again.
#![forbid(unsafe_code)]

mod auth;
mod chain;
mod clamd;
mod dns;
mod error;
mod headers;
mod rspamd;
mod stats;

pub use auth::{AuthSettings, SenderAuth};
pub use chain::{AuthParts, FilterSet, Stage};
pub use clamd::{Clamd, ClamdSettings, Scan, SocketAddress, scan};
pub use dns::{DnsCaches, TtlCache, offline_resolver, system_resolver};
pub use error::FilterError;
pub use rspamd::{Rspamd, RspamdReply, RspamdSettings, check};
pub use stats::{Counters, FilterStats};

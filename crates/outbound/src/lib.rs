//! twinmail's outbound mail: the queue runner that delivers what users send to other
//! domains (and the notices it causes), by MX or through a smarthost, DKIM-signed.
//!
//! The queue itself is in the store (and so mirrored): this crate reads it, delivers,
//! and records each attempt there. The SMTP client side is mail-send's `SmtpClient` with
//! smtp-proto's reply parser; MX lookups go through the [`Dns`] trait (hickory in
//! production); signatures and key generation are mail-auth's; notices are built with
//! mail-builder.
#![forbid(unsafe_code)]

pub mod client;
pub mod dane;
pub mod dkim;
pub mod dns;
pub mod dsn;
pub mod mta_sts;
mod runner;
mod settings;
mod stats;

pub use client::TlsMode;
pub use dns::{Dns, DnsError, Hickory, StaticDns};
pub use runner::Runner;
pub use settings::{Relay, Settings};
pub use stats::Stats;

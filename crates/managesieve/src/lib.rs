//! twinmail's ManageSieve server (RFC 5804): Thunderbird's and Roundcube's Sieve editors
//! store, check, list and activate an account's scripts here. The scripts live in the
//! store (so they mirror to the twin) and every script is parsed by `twinmail-sieve`
//! before it is stored: a script with an error is refused with its line and column.
//!
//! The protocol parser is hand-written: no ManageSieve crate exists.
//!
//! How far RFC 5804 is implemented: every command of §2 but the optional SASL
//! mechanisms other than PLAIN (PLAIN only under TLS, or on loopback when configured),
//! no SASL security layers, no REFERRAL, no WARNINGS (scripts either parse or are
//! refused).
#![forbid(unsafe_code)]

mod command;
pub mod parse;
mod server;
mod session;
mod settings;

pub use server::{ManageSieve, run, serve_stream};
pub use settings::ManageSieveSettings;

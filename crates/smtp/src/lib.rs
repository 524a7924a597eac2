//! twinmail's SMTP receiver: inbound MX (25), submission with STARTTLS (587) and
//! implicit TLS (465), and the delivery pipeline between the session and the store.
//!
//! Built on smtp-proto's sans-I/O request, DATA and BDAT receivers (which own command
//! parsing and dot-unstuffing); the session state machine, policy and limits are ours.
#![forbid(unsafe_code)]

mod command;
mod date;
mod pipeline;
mod server;
mod session;
mod settings;
mod sieve;
pub mod srs;

pub use pipeline::{Check, Edits, Envelope, Filter, HopLimit, Pipeline, Verdict};
pub use server::{Smtp, run, serve_stream};
pub use settings::{Kind, SAVE_SENT_ENTRY, SmtpSettings};
pub use twinmail_net::Stream;

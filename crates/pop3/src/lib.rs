//! twinmail's POP3 server (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH).
//! The maildrop is the INBOX as it was at login; deletions are applied at QUIT as
//! expunges through the store, so they are logged and mirrored like any other. UIDLs are
//! the messages' GUIDs: the same on both twins, whatever their UIDs.
#![forbid(unsafe_code)]

mod command;
mod server;
mod session;
mod settings;

pub use server::{Pop3, run, serve_stream};
pub use settings::{Kind, Pop3Settings};

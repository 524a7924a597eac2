//! twinmail's IMAP server: IMAP4rev1 (RFC 3501) with UIDPLUS, MOVE, IDLE, NAMESPACE, ID,
//! ENABLE, UNSELECT, SPECIAL-USE, CHILDREN, SASL-IR, LITERAL+, CONDSTORE and QRESYNC, over
//! the store.
//!
//! imap-next and imap-codec own the wire: framing, literals, command decoding and
//! response encoding. What is ours: the session states and their validity table, the
//! mapping between sequence numbers and UIDs, what other sessions' changes look like to
//! this one (EXISTS / EXPUNGE / FETCH FLAGS), SEARCH, and the message structure
//! (ENVELOPE, BODYSTRUCTURE, sections) computed with mail-parser.
#![forbid(unsafe_code)]

mod command;
mod convert;
mod message;
pub mod mutf7;
mod selected;
mod server;
mod session;
mod settings;

pub use server::{Imap, run, serve_stream};
pub use settings::{ImapSettings, Kind};

//! twinmail's IMAP server: IMAP4rev1 (RFC 3501) with UIDPLUS, MOVE, IDLE, NAMESPACE, ID,
//! ENABLE, UNSELECT, SPECIAL-USE, CHILDREN, SASL-IR, LITERAL+, CONDSTORE, QRESYNC,
//! LIST-EXTENDED, LIST-STATUS, STATUS=SIZE, ESEARCH, SEARCHRES, QUOTA (reporting), BINARY,
//! UTF8=ACCEPT, SORT, SORT=DISPLAY, ESORT, THREAD=ORDEREDSUBJECT, THREAD=REFERENCES,
//! THREAD=REFS, METADATA, COMPRESS=DEFLATE, MULTIAPPEND, WITHIN, PREVIEW, I18NLEVEL=1,
//! CATENATE, URLAUTH, URL-PARTIAL, CONTEXT=SEARCH, CONTEXT=SORT, PARTIAL and NOTIFY,
//! over the store; IMAP4rev2 (RFC 9051) for clients that ENABLE it.
//!
//! imap-next and imap-codec own the wire: framing, literals, command decoding and
//! response encoding; `extparse` rescues the command forms imap-codec cannot decode
//! (extended LIST, SEARCH RETURN, SEARCHRES's `$`). What is ours: the session states and
//! their validity table, the mapping between sequence numbers and UIDs, what other
//! sessions' changes look like to this one (EXISTS / EXPUNGE or VANISHED / FETCH FLAGS),
//! SEARCH, and the message structure (ENVELOPE, BODYSTRUCTURE, sections, BINARY)
//! computed with mail-parser.
#![forbid(unsafe_code)]

// Public only for the fuzz crate (fuzz/fuzz_targets/imap_acl_metadata.rs); not an API.
#[doc(hidden)]
pub mod acl;
mod casemap;
// Public only for the fuzz crate (fuzz/fuzz_targets/imap_catenate.rs); not an API.
#[doc(hidden)]
pub mod catenate;
mod command;
mod contexts;
mod convert;
// Public only for the tests' compressing client (RFC 4978 is symmetric); not an API.
#[doc(hidden)]
pub mod deflate;
mod framing;
// Public only for the fuzz crate (fuzz/fuzz_targets/imap_catenate.rs); not an API.
#[doc(hidden)]
pub mod imapurl;
// Public only for the fuzz crate (fuzz/fuzz_targets/extparse.rs); not an API.
#[doc(hidden)]
pub mod extparse;
mod message;
// Public only for the fuzz crate (fuzz/fuzz_targets/imap_notify.rs); not an API.
#[doc(hidden)]
pub mod notify;
// Public only for the fuzz crate (fuzz/fuzz_targets/imap_preview.rs); not an API.
#[doc(hidden)]
pub mod preview;
// Public only for the fuzz crate (fuzz/fuzz_targets/imap_multiappend.rs); not an API.
#[doc(hidden)]
pub mod multiappend;
pub mod mutf7;
mod recent;
mod savedate;
mod selected;
mod server;
mod session;
mod settings;
// Public only for the fuzz crate (fuzz/fuzz_targets/imap_sort_thread.rs); not an API.
#[doc(hidden)]
pub mod sortkeys;
#[doc(hidden)]
pub mod threading;
mod uidmap;

// For the fuzz crate (fuzz/fuzz_targets/imap_acl_metadata.rs); not an API.
#[doc(hidden)]
pub use command::getmetadata::entry_name as metadata_entry_name;
// Public only for the fuzz crate (fuzz/fuzz_targets/imap_urlauth.rs); not an API.
#[doc(hidden)]
pub mod urlauth;
mod urlpart;
mod watch;

pub use server::{Imap, run, serve_stream};
pub use settings::{ImapSettings, Kind};

//! twinmail's mailbox store: accounts, domains and aliases, mailboxes, messages, flags,
//! content-addressed blobs, and the change log that the mirror ships to the twin.
//!
//! The store is the only code that touches the database. Every mutation runs on one
//! writer that batches concurrent callers into one transaction (group commit: one fsync
//! for many deliveries), appends a change-log entry in the same transaction, and publishes
//! the change on a stream after commit, in commit order.
#![forbid(unsafe_code)]

mod change;
mod error;
mod mirror;
pub mod names;
mod ops;
mod password;
mod queue;
mod rows;
mod sieve;
mod store;
mod types;
mod uidset;
mod write;
mod writer;

pub use change::{Change, ChangeEvent, Expunged, FlagUpdate, QueueAction, RcptOutcome, RcptState};
pub use error::StoreError;
pub use mirror::{
    AccountFacts, DigestRow, MailboxDigest, MirrorStatus, Narrowed, Snapshot, digest_rows,
};
pub use ops::access_key::{ACCESS_KEY_BYTES, AccessKey, TOKEN_BYTES};
pub use ops::metadata::{
    MAX_ENTRIES as METADATA_MAX_ENTRIES, MAX_VALUE_BYTES as METADATA_MAX_VALUE,
};
pub use ops::{
    housekeep::Housekept,
    message::{Copied, FlagsStored},
    remote::{Applied, RemoteChange},
};
pub use password::HashCost;
pub use queue::{Attempt, Bounce, DkimKey, MtaStsPolicy, QueueStats, Queued, QueuedRcpt};
pub use sieve::{MAX_SCRIPT_BYTES, MAX_SCRIPTS};
pub use store::{Delivery, Store, StoreOptions};
pub use types::{
    Account, BlobHash, FlagMode, Flags, Guid, Mailbox, MailboxCounts, Message, Placed, Quota, Role,
    now_unix,
};
pub use uidset::UidSet;
pub use write::{
    BoxFuture, Command, ErrorKind, Forwarder, Outcome, REQUEST_MEMORY_SECS, Route, Targets, Write,
    WriteError, home_twin, request_id,
};

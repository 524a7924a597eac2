//! NOOP and CHECK (RFC 3501 §6.1.2, §6.4.1): nothing to do but report what changed,
//! which the session does after every command. Every commit is durable, so CHECK has
//! nothing to flush.

use imap_types::{core::Tag, response::Status};

use crate::convert::ok;

/// `done` is the reply text: "NOOP completed" or "CHECK completed".
pub fn noop(tag: &Tag<'static>, done: &'static str) -> Status<'static> {
    ok(tag, None, done)
}

//! CANCELUPDATE (RFC 5267 §4.3.5): the live SEARCH / SORT results the named tags made
//! stop being updated (see `contexts.rs`). A tag that names no live context is BAD, and
//! then none ends.

use imap_types::{core::Tag, response::Status};
use twinmail_net::Stream;

use crate::{
    convert::{bad, ok},
    session::Session,
};

pub fn cancelupdate<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    tags: &[Vec<u8>],
) -> Status<'static> {
    if crate::contexts::cancel(s, tags) {
        ok(tag, None, "CANCELUPDATE completed")
    } else {
        s.errors += 1;
        bad(tag, "No live search has that tag")
    }
}

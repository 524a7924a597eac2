//! LOGOUT (RFC 3501 §6.1.3).

use imap_types::{core::Tag, response::Status};
use twinmail_net::Stream;

use crate::{convert::ok, session::Session};

pub fn logout<S: Stream>(s: &mut Session<S>, tag: &Tag<'static>) -> Status<'static> {
    s.bye("twinmail logging out");
    ok(tag, None, "LOGOUT completed")
}

//! STARTTLS (RFC 3501 §6.2.1, RFC 2595): the plaintext session ends once the OK is sent;
//! a fresh one runs over TLS. Anything the client pipelined behind it is dropped.

use imap_types::{core::Tag, response::Status};
use twinmail_net::Stream;

use crate::{
    convert::{bad, ok},
    session::Session,
};

pub fn starttls<S: Stream>(s: &mut Session<S>, tag: &Tag<'static>) -> Status<'static> {
    if s.tls || s.imap.tls.is_none() {
        s.errors += 1;
        return bad(tag, "TLS is already active or not available");
    }
    s.starttls = true;
    ok(tag, None, "Begin TLS negotiation now")
}

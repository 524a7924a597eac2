//! ENABLE (RFC 5161): nothing enable-able is implemented yet, so nothing is enabled.

use imap_types::{
    core::Tag,
    response::{Data, Status},
};
use twinmail_net::Stream;

use crate::{convert::ok, session::Session};

pub fn enable<S: Stream>(s: &mut Session<S>, tag: &Tag<'static>) -> Status<'static> {
    s.data(Data::Enabled {
        capabilities: Vec::new(),
    });
    ok(tag, None, "ENABLE completed")
}

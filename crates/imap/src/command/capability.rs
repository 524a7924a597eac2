//! CAPABILITY (RFC 3501 §6.1.1).

use imap_types::{
    core::Tag,
    response::{Data, Status},
};
use twinmail_net::Stream;

use crate::{
    convert::{ok, vec1},
    session::{Session, capabilities},
};

pub fn capability<S: Stream>(s: &mut Session<S>, tag: &Tag<'static>) -> Status<'static> {
    let caps = capabilities(&s.imap, s.tls, s.state.account().is_some());
    if let Some(caps) = vec1(caps) {
        s.data(Data::Capability(caps));
    }
    ok(tag, None, "CAPABILITY completed")
}

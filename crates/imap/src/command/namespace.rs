//! NAMESPACE (RFC 2342): one personal namespace, "" with delimiter "/".

use imap_types::{
    core::{IString, QuotedChar, Tag},
    extensions::namespace::Namespace,
    response::{Data, Status},
};
use twinmail_net::Stream;

use crate::{convert::ok, session::Session};

pub fn namespace<S: Stream>(s: &mut Session<S>, tag: &Tag<'static>) -> Status<'static> {
    if let Ok(prefix) = IString::try_from("") {
        let personal = vec![Namespace {
            prefix,
            delimiter: QuotedChar::try_from('/').ok(),
            extensions: Vec::new(),
        }];
        s.data(Data::Namespace {
            personal,
            other: Vec::new(),
            shared: Vec::new(),
        });
    }
    ok(tag, None, "NAMESPACE completed")
}

//! NAMESPACE (RFC 2342): the personal namespace, "" with delimiter "/", and the other
//! users' namespace, "Other Users/", where mailboxes other accounts shared (ACL, RFC 4314,
//! `acl.rs`) are found.

use imap_types::{
    core::{IString, QuotedChar, Tag},
    extensions::namespace::Namespace,
    response::{Data, Status},
};
use twinmail_net::Stream;

use crate::{convert::ok, session::Session};

pub fn namespace<S: Stream>(s: &mut Session<S>, tag: &Tag<'static>) -> Status<'static> {
    let namespace = |prefix: String| {
        IString::try_from(prefix).ok().map(|prefix| Namespace {
            prefix,
            delimiter: QuotedChar::try_from('/').ok(),
            extensions: Vec::new(),
        })
    };
    if let (Some(personal), Some(other)) = (
        namespace(String::new()),
        namespace(format!("{}/", crate::acl::OTHER_USERS)),
    ) {
        s.data(Data::Namespace {
            personal: vec![personal],
            other: vec![other],
            shared: Vec::new(),
        });
    }
    ok(tag, None, "NAMESPACE completed")
}

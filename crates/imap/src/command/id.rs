//! ID (RFC 2971): name and version, nothing about the host.

use imap_types::{
    core::{IString, NString, Tag},
    response::{Data, Status},
};
use twinmail_net::Stream;

use crate::{
    convert::{nstring_text, ok},
    session::Session,
};

pub fn id<S: Stream>(s: &mut Session<S>, tag: &Tag<'static>) -> Status<'static> {
    let pairs: Vec<(IString<'static>, NString<'static>)> =
        [("name", "twinmail"), ("version", env!("CARGO_PKG_VERSION"))]
            .into_iter()
            .filter_map(|(k, v)| Some((IString::try_from(k).ok()?, nstring_text(Some(v)))))
            .collect();
    s.data(Data::Id {
        parameters: Some(pairs),
    });
    ok(tag, None, "ID completed")
}

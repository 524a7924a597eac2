//! ENABLE (RFC 5161): CONDSTORE can be enabled; nothing else enable-able is offered.

use imap_types::{
    core::Tag,
    extensions::enable::CapabilityEnable,
    response::{Data, Status},
};
use twinmail_net::Stream;

use crate::{convert::ok, session::Session};

pub fn enable<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    wanted: &[CapabilityEnable<'_>],
) -> Status<'static> {
    let mut enabled = Vec::new();
    if wanted
        .iter()
        .any(|c| matches!(c, CapabilityEnable::CondStore))
    {
        s.condstore = true;
        enabled.push(CapabilityEnable::CondStore);
    }
    s.data(Data::Enabled {
        capabilities: enabled,
    });
    ok(tag, None, "ENABLE completed")
}

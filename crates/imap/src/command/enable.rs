//! ENABLE (RFC 5161): CONDSTORE and QRESYNC (RFC 7162 §3.2.3; QRESYNC implies CONDSTORE),
//! UTF8=ACCEPT (RFC 6855) and IMAP4rev2 (RFC 9051 §6.3.1; implies UTF-8 mailbox names)
//! can be enabled. Anything else is ignored, as RFC 5161 §3.1 asks: the ENABLED response
//! names only what was enabled.

use imap_types::{
    core::{Atom, Tag},
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
    let mut enabled: Vec<CapabilityEnable<'static>> = Vec::new();
    for c in wanted {
        // imap-types knows CONDSTORE and UTF8=ACCEPT; QRESYNC and IMAP4rev2 arrive as
        // "other" capabilities, by name.
        let mut name = c.to_string().to_ascii_uppercase();
        let known = match name.as_str() {
            "UTF8=ACCEPT" => {
                s.utf8 = true;
                true
            }
            "IMAP4REV2" => {
                s.utf8 = true;
                s.rev2 = true;
                name = "IMAP4rev2".into();
                true
            }
            "CONDSTORE" => {
                s.condstore = true;
                true
            }
            "QRESYNC" => {
                s.condstore = true;
                s.qresync = true;
                true
            }
            _ => false,
        };
        if known
            && !enabled.iter().any(|e| e.to_string() == name)
            && let Ok(atom) = Atom::try_from(name)
        {
            enabled.push(CapabilityEnable::from(atom));
        }
    }
    s.data(Data::Enabled {
        capabilities: enabled,
    });
    ok(tag, None, "ENABLE completed")
}

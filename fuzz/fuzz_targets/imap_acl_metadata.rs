//! Fuzzes what ACL (RFC 4314) and METADATA (RFC 5464) read from clients beyond
//! imap-codec: the rights strings of SETACL (strict) and of stored grants (lenient), the
//! "Other Users/owner/name" split, the same-domain rule, and the METADATA entry-name
//! rules applied to every entry a decoded GETMETADATA / SETMETADATA names. Nothing may
//! panic; what parses must print back to a set that parses to itself.
#![no_main]

use imap_codec::{CommandCodec, decode::Decoder};
use imap_types::command::CommandBody;
use libfuzzer_sys::fuzz_target;
use twinmail_imap::{
    acl::{Rights, granted, may_share, split_shared},
    metadata_entry_name,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(r) = Rights::parse(&text) {
        assert_eq!(Rights::parse(&r.to_string()), Ok(r));
    }
    let lenient = Rights::lenient(&text);
    assert_eq!(Rights::parse(&lenient.to_string()), Ok(lenient));
    if let Some((owner, rest)) = split_shared(&text) {
        assert!(!owner.contains('/'));
        let _ = may_share(owner, rest);
        let _ = granted(owner, rest, data);
    }
    let _ = metadata_entry_name(data);
    let mut line = data.to_vec();
    if !line.ends_with(b"\r\n") {
        line.extend_from_slice(b"\r\n");
    }
    if let Ok((_, command)) = CommandCodec::default().decode(&line) {
        match &command.body {
            CommandBody::GetMetadata { entries, .. } => {
                for e in entries.as_ref() {
                    let _ = metadata_entry_name(e.as_ref());
                }
            }
            CommandBody::SetMetadata { entry_values, .. } => {
                for ev in entry_values.as_ref() {
                    let _ = metadata_entry_name(ev.entry.as_ref());
                }
            }
            _ => {}
        }
    }
});

//! MULTIAPPEND's split (crates/imap/src/multiappend.rs) on arbitrary bytes: never
//! panics, and every message it finds is a range of the input, in order, at least two.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(Ok(m)) = twinmail_imap::multiappend::parse(data) {
        assert!(m.parts.len() >= 2);
        let mut after = 0;
        for part in &m.parts {
            assert!(part.bytes.start >= after && part.bytes.end <= data.len());
            after = part.bytes.end;
        }
    }
});

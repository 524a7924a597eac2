//! Fuzzes the pre-parser for the commands imap-codec cannot decode (extended LIST,
//! SEARCH RETURN, SEARCHRES's `$`, FETCH PREVIEW) on its own: any bytes, with and
//! without the CRLF every complete command ends in. It must never panic, and what it
//! rescues must keep the tag the bytes started with.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twinmail_imap::extparse::rescue;

fuzz_target!(|data: &[u8]| {
    let _ = rescue(data);
    if !data.ends_with(b"\r\n") {
        let mut line = data.to_vec();
        line.extend_from_slice(b"\r\n");
        let _ = rescue(&line);
    }
});

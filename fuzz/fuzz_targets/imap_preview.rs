//! Fuzzes what FETCH PREVIEW (RFC 8970) makes of a message (`preview.rs`): the input as
//! a whole message, and as an HTML document on its own. Never a panic; the preview is at
//! most 256 characters, on one line (no control characters), with no space at either
//! end; its wire form is a quoted string, or a literal ending in exactly its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twinmail_imap::preview::{MAX_CHARS, html_text, of_message, wire};

fuzz_target!(|data: &[u8]| {
    let text = of_message(data);
    assert!(text.chars().count() <= MAX_CHARS, "{text:?}");
    assert!(!text.starts_with(' ') && !text.ends_with(' '), "{text:?}");
    assert!(!text.chars().any(char::is_control), "{text:?}");
    let w = wire(Some(&text));
    assert!(w.starts_with(b"\"") || w.ends_with(text.as_bytes()), "{w:?}");
    let _ = html_text(&String::from_utf8_lossy(data));
});

//! CATENATE's parsers on arbitrary bytes: the part list (crates/imap/src/catenate.rs)
//! and the IMAP URLs it carries (crates/imap/src/imapurl.rs). Never panics; TEXT parts
//! are ranges of the input, in order; the part and URL caps hold; what a URL parses to
//! is what it said; an echoed URL cannot end a response code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twinmail_imap::{
    catenate::{CatPart, MAX_CAT_PARTS, parse},
    imapurl::{self, MAX_URL},
};

fuzz_target!(|data: &[u8]| {
    if let Ok((parts, end)) = parse(data, 0) {
        assert!(!parts.is_empty() && parts.len() <= MAX_CAT_PARTS);
        assert!(end <= data.len() && data[end - 1] == b')');
        let mut after = 0;
        for part in &parts {
            match part {
                CatPart::Text(r) => {
                    assert!(r.start >= after && r.end <= end);
                    after = r.end;
                }
                CatPart::Url(url) => {
                    assert!(url.len() <= MAX_URL);
                    check_url(url);
                }
            }
        }
    }
    // The URL parser on its own, on the whole input.
    check_url(data);
});

fn check_url(url: &[u8]) {
    let echoed = imapurl::for_response(url);
    assert!(
        !echoed
            .bytes()
            .any(|b| matches!(b, b']' | b'\r' | b'\n' | b' '))
    );
    if let Some(u) = std::str::from_utf8(url).ok().and_then(imapurl::parse) {
        assert!(u.uid > 0);
        assert!(u.uidvalidity != Some(0));
        assert!(u.mailbox.as_ref().is_none_or(|m| !m.is_empty()));
        assert!(u.partial.is_none_or(|(_, len)| len != Some(0)));
    }
}

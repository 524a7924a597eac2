//! URLAUTH's parsers (crates/imap/src/urlauth.rs) on arbitrary bytes: the three commands
//! (GENURLAUTH, URLFETCH, RESETKEY) and the URLAUTH URL, with the token check URLFETCH
//! makes (a mailbox access key's HMAC, crates/store/src/ops/access_key.rs). Never panics;
//! the URL and argument caps hold; a rump is a prefix of its URL and nothing else signs
//! to its token; what `precheck` lets through has an INTERNAL token; a value echoed in a
//! response cannot end the line unannounced.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use twinmail_imap::{
    imapurl::MAX_URL,
    urlauth::{
        self, MAX_URLS, MIN_TOKEN, UrlAuthCommand, astring_for_response, parse_url, precheck,
    },
};
use twinmail_store::AccessKey;

fn key() -> &'static AccessKey {
    static KEY: OnceLock<AccessKey> = OnceLock::new();
    KEY.get_or_init(AccessKey::random)
}

fuzz_target!(|data: &[u8]| {
    if let Some(Ok((_, command))) = urlauth::parse(data) {
        match command {
            UrlAuthCommand::GenUrlAuth { pairs } => {
                assert!(!pairs.is_empty() && pairs.len() <= MAX_URLS);
                for (url, mechanism) in &pairs {
                    assert!(url.len() <= MAX_URL && mechanism.len() <= MAX_URL);
                    check_url(url);
                }
            }
            UrlAuthCommand::UrlFetch { urls } => {
                assert!(!urls.is_empty() && urls.len() <= MAX_URLS);
                for url in &urls {
                    assert!(url.len() <= MAX_URL);
                    check_url(url);
                }
            }
            UrlAuthCommand::ResetKey {
                mailbox,
                mechanisms,
            } => {
                assert!(mailbox.is_some() || mechanisms.is_empty());
                assert!(mechanisms.len() <= MAX_URLS);
            }
        }
    }
    // The URL reader on its own, on the whole input.
    check_url(data);
});

fn check_url(raw: &[u8]) {
    let echoed = astring_for_response(raw);
    if echoed.first() == Some(&b'"') {
        assert!(!echoed.iter().any(|&b| b == b'\r' || b == b'\n'));
    }
    let Ok(text) = std::str::from_utf8(raw) else {
        return;
    };
    if let Some(url) = parse_url(text) {
        assert!(text.starts_with(url.rump));
        assert!(url.url.uid > 0);
        assert!(url.url.user.is_some() && url.url.host.is_some() && url.url.mailbox.is_some());
        let token = key().sign(url.rump.as_bytes());
        assert!(key().verify(url.rump.as_bytes(), &token));
        match &url.verifier {
            None => assert_eq!(text.len(), url.rump.len()),
            Some(v) => {
                assert!(v.token.len() >= MIN_TOKEN);
                if v.token[..] != token[..] {
                    assert!(!key().verify(url.rump.as_bytes(), &v.token));
                }
            }
        }
    }
    if let Some(url) = precheck(text, "a@example.com", 0) {
        assert!(
            url.verifier
                .as_ref()
                .is_some_and(|v| v.mechanism.eq_ignore_ascii_case("INTERNAL"))
        );
    }
}

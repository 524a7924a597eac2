//! Fuzzes the other input of a Sieve run: an arbitrary message (headers, MIME, broken
//! encodings) under a fixed script that uses every test the interpreter has, so header
//! decoding, address parsing and body extraction all see hostile bytes. The first
//! byte picks the envelope sender, so the vacation rules see both kinds.
//!
//! Run it with `-O` (`cargo fuzz run -O -s none sieve_message`): mail-parser 0.11.9 has
//! a `debug_assert!(false, "Invalid part ID, could not find multipart.")` in its MIME
//! walk (parsers/message.rs) that some broken multiparts reach. Release builds, which
//! the server runs, compile it out and carry on; with debug assertions on, it panics
//! inside mail-parser, not here. The IMAP crate's BODYSTRUCTURE has the same exposure.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use twinmail_sieve::{Input, Limits, Script};

const SCRIPT: &str = r#"
require ["fileinto", "reject", "envelope", "body", "variables", "vacation", "imap4flags",
         "copy", "comparator-i;ascii-numeric"];
if header :matches "List-ID" "*<*@*" { set :lower "list" "${2}"; fileinto :copy "Lists/${list}"; }
if address :domain :matches ["From", "To", "Cc", "Sender", "Reply-To"] "*.example" {
    addflag "$${1}";
}
if header :contains ["Subject", "X-Spam"] ["money", "=?utf-8?"] { addflag "\\Flagged"; }
if header :is :comparator "i;ascii-numeric" "X-Score" "10" { setflag "junk"; }
if exists ["Date", "Message-ID"] { addflag "dated"; }
if body :text :contains ["missile", "unsubscribe"] { fileinto "Body"; }
if body :raw :matches "*=?*?=*" { addflag "encoded"; }
if body :content ["text/html", "image", ""] :contains "x" { addflag "content"; }
if envelope :localpart :matches "from" "*-request" { discard; }
if size :over 100K { addflag "big"; }
if hasflag :contains "flagged" { fileinto :flags "${list}" "Flagged"; }
vacation :days 2 :subject "Re: ${list}" "I am away.";
"#;

fuzz_target!(|data: &[u8]| {
    static PARSED: OnceLock<Script> = OnceLock::new();
    let script = PARSED.get_or_init(|| {
        Script::parse(SCRIPT, &Limits::default()).expect("the fixed script parses")
    });
    let (from, message) = match data.split_first() {
        Some((b, rest)) if b % 2 == 0 => ("", rest),
        Some((_, rest)) => ("sender@example.org", rest),
        None => ("", data),
    };
    let users = vec!["user@example.com".to_string()];
    let _ = script.run(&Input {
        envelope_from: from,
        envelope_to: "user@example.com",
        message,
        size: message.len() as u64,
        user_addresses: &users,
    });
});

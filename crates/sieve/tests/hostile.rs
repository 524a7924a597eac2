//! Hostile messages (HOSTILE.md, MIME): 8-bit junk, NULs, deep MIME nesting, huge
//! header counts, no header/body separator. Each run must finish, quickly, with an
//! outcome or a clean error, never a panic.

mod common;

use std::time::{Duration, Instant};

use common::*;
use twinmail_sieve::{Input, Limits, Script};

const ALL_TESTS: &str = r#"
require ["fileinto", "body", "envelope", "variables", "imap4flags", "vacation"];
if header :matches "subject" "*x*" { set "s" "${1}"; }
if address :domain :contains ["from", "to", "cc"] "example" { addflag "a"; }
if body :text :contains "needle" { fileinto "Body"; }
if body :raw :matches "*needle*" { addflag "raw"; }
if body :content "" :contains "needle" { addflag "content"; }
if exists "x-missing" { discard; }
vacation "away";
"#;

fn run_fast(message: &[u8]) {
    let users = strings(&[ME]);
    let script = Script::parse(ALL_TESTS, &Limits::default()).expect("parses");
    let start = Instant::now();
    let out = script.run(&Input {
        envelope_from: SENDER,
        envelope_to: ME,
        message,
        size: message.len() as u64,
        user_addresses: &users,
    });
    assert!(out.is_ok(), "{out:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn eight_bit_junk_and_nuls() {
    let mut m =
        b"From: \xff\xfe<a@\x00example.com>\r\nSubject: \x80x\x81 =?bogus?q?=ZZ?=\r\nTo: \r\n\r\n"
            .to_vec();
    m.extend((0..=255u8).cycle().take(20_000));
    run_fast(&m);
}

#[test]
fn deep_mime_nesting() {
    let mut m = String::from("From: a@example.com\r\nTo: me@example.com\r\n");
    for i in 0..500 {
        m.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
        ));
    }
    m.push_str("Content-Type: text/plain\r\n\r\nneedle\r\n");
    for i in (0..500).rev() {
        m.push_str(&format!("--b{i}--\r\n"));
    }
    run_fast(m.as_bytes());
}

#[test]
fn many_headers_and_a_long_line() {
    let mut m = String::new();
    for i in 0..20_000 {
        m.push_str(&format!("X-H{i}: value {i}\r\n"));
    }
    m.push_str(&format!("Subject: {}\r\n\r\n", "x".repeat(500_000)));
    run_fast(m.as_bytes());
}

#[test]
fn no_separator_and_empty_message() {
    run_fast(b"From: a@example.com\r\nSubject: x");
    run_fast(b"");
    run_fast(b"\r\n\r\n");
    run_fast(b"just a body without headers");
}

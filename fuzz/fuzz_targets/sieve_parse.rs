//! Fuzzes the Sieve parser with arbitrary bytes (as UTF-8, lossily, since scripts are
//! text) and runs whatever parses over a fixed message with every extension in play.
//! Neither may panic or hang; the limits are the defaults the server uses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twinmail_sieve::{Input, Limits, Script};

const MESSAGE: &[u8] = b"Return-Path: <sender@example.org>\r\n\
From: =?utf-8?q?S=C3=A9nder?= <sender@example.org>\r\n\
To: user@example.com, \"Other\" <other@example.net>\r\n\
Cc: list@lists.example.org\r\n\
Subject: [acme-users] [fwd] version 1.0 is out\r\n\
List-Id: Acme users <acme-users.lists.example.org>\r\n\
Message-ID: <1@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=b\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
The missile coordinates are attached. Make money fast.\r\n\
--b\r\n\
Content-Type: text/html\r\n\
\r\n\
<p>The <b>missile</b> coordinates</p>\r\n\
--b--\r\n";

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let limits = Limits::default();
    if let Ok(script) = Script::parse(&src, &limits) {
        let users = vec!["user@example.com".to_string()];
        let input = Input {
            envelope_from: "sender@example.org",
            envelope_to: "user@example.com",
            message: MESSAGE,
            size: MESSAGE.len() as u64,
            user_addresses: &users,
        };
        let _ = script.run(&input);
    }
});

//! Fuzzes what the outbound runner reads from the network and writes onto it: MTA-STS
//! policies (from any HTTPS server a domain names), a domain's policy matching, and the
//! DATA transparency step (bare CR/LF to CRLF, dot-stuffing). Never a panic; on the wire
//! every line ends CRLF and the data ends CRLF.CRLF with no earlier lone-dot line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twinmail_outbound::{client::on_the_wire, mta_sts::Policy};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(p) = Policy::parse(text)
    {
        let _ = p.allows("mx.example.net");
        let _ = p.allows(text);
    }
    let wire = on_the_wire(data);
    assert!(wire.ends_with(b"\r\n.\r\n"));
    let body = &wire[..wire.len() - 3];
    assert!(
        !body.windows(5).any(|w| w == b"\r\n.\r\n") && !body.starts_with(b".\r\n"),
        "the data ends early"
    );
    assert!(
        body.iter().enumerate().all(|(i, &b)| match b {
            b'\r' => body.get(i + 1) == Some(&b'\n'),
            b'\n' => i > 0 && body[i - 1] == b'\r',
            _ => true,
        }),
        "a bare CR or LF on the wire"
    );
});

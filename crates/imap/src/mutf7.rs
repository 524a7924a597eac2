//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3). Hand-written: it is a dozen lines
//! over base64's IMAP alphabet, and decoding must be strict so that no two spellings name
//! one mailbox (HOSTILE.md MBX: "modified UTF-7 disguises").

use base64::{
    Engine, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};

const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::IMAP_MUTF7,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Encodes a UTF-8 name for the wire.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    let flush = |run: &mut Vec<u16>, out: &mut String| {
        if !run.is_empty() {
            let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('&');
            out.push_str(&B64.encode(bytes));
            out.push('-');
            run.clear();
        }
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut run, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Decodes a name from the wire; `None` for anything that is not canonical modified
/// UTF-7 (raw 8-bit, bad base64, encoded printable ASCII, an unterminated shift, two
/// encoded runs side by side, or any other spelling `encode` would not write): RFC 3501
/// §5.1.3 has one way to write each name, and a second would be a second mailbox that
/// looks the same.
pub fn decode(wire: &str) -> Option<String> {
    let name = decode_any(wire)?;
    (encode(&name) == wire).then_some(name)
}

/// Decodes what modified UTF-7 could mean, canonical or not.
fn decode_any(wire: &str) -> Option<String> {
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some(i) = rest.find('&') {
        let (plain, tail) = rest.split_at(i);
        if !plain.chars().all(|c| (' '..='~').contains(&c)) {
            return None;
        }
        out.push_str(plain);
        let tail = &tail[1..];
        let end = tail.find('-')?;
        let (b64, after) = (&tail[..end], &tail[end + 1..]);
        if b64.is_empty() {
            out.push('&');
        } else {
            let bytes = B64.decode(b64).ok()?;
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            let decoded = String::from_utf16(&units).ok()?;
            if decoded.chars().any(|c| (' '..='~').contains(&c)) {
                return None;
            }
            out.push_str(&decoded);
        }
        rest = after;
    }
    if !rest.chars().all(|c| (' '..='~').contains(&c)) {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_disguises() {
        for (utf8, wire) in [
            ("INBOX", "INBOX"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("日本語", "&ZeVnLIqe-"),
            ("A&B", "A&-B"),
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("😀", "&2D3eAA-"),
        ] {
            assert_eq!(encode(utf8), wire);
            assert_eq!(decode(wire).as_deref(), Some(utf8));
        }
        // "A" encoded inside a shift, unterminated shift, raw 8-bit, bad base64.
        // Two runs where one would do; "&-" written as a shift of "&".
        for bad in [
            "&AEE-",
            "&APw",
            "Entwürfe",
            "&!!-",
            "&AP-",
            "&APw-&APw-",
            "&ZeVn-&LIqe-",
            "&ACY-",
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}

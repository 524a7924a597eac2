//! CATENATE's argument (RFC 4469 §5): `CATENATE (cat-part *(SP cat-part))`, where
//! `cat-part = "TEXT" SP literal / "URL" SP astring`. imap-codec 2.0.0-alpha.10 has no
//! CATENATE, so an APPEND that carries one reaches `multiappend::parse` as a malformed
//! message (its literals already received), which hands the bytes after `CATENATE ` here.
//!
//! Hand-written, as `extparse` and `multiappend` are: only the split, one flat pass that
//! checks every length against the bytes present and caps the part count; a TEXT part is
//! a range of the command's bytes, never copied; a URL is kept as text for `imapurl`.

use std::ops::Range;

use crate::imapurl::MAX_URL;

/// Most parts one CATENATE may have: each URL costs a message read.
pub const MAX_CAT_PARTS: usize = 64;

/// One piece of a message to build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatPart {
    /// Literal text: where its bytes are in the command.
    Text(Range<usize>),
    /// An IMAP URL (RFC 5092) naming a message or part of one: the astring's value.
    Url(Vec<u8>),
}

/// Why a CATENATE argument is refused (BAD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatError {
    /// Not the grammar: no parenthesis, an unknown part kind, a literal that does not
    /// frame, NUL in a TEXT literal, an empty list.
    Malformed,
    /// More than `MAX_CAT_PARTS` parts, or a URL longer than `MAX_URL`.
    TooMany,
}

/// Reads the parenthesised list starting at `at` in `bytes` (just after `CATENATE `):
/// its parts, and where the list ends (just past its `)`).
pub fn parse(bytes: &[u8], mut at: usize) -> Result<(Vec<CatPart>, usize), CatError> {
    use CatError::Malformed;
    at = expect(bytes, at, b"(").ok_or(Malformed)?;
    let mut parts = Vec::new();
    loop {
        if parts.len() >= MAX_CAT_PARTS {
            return Err(CatError::TooMany);
        }
        let word_end = at
            + bytes[at..]
                .iter()
                .position(|&b| b == b' ')
                .ok_or(Malformed)?;
        let word = &bytes[at..word_end];
        at = word_end + 1;
        if word.eq_ignore_ascii_case(b"TEXT") {
            let binary = bytes.get(at) == Some(&b'~');
            if binary {
                at += 1;
            }
            let (len, data) = literal_at(bytes, at).ok_or(Malformed)?;
            let end = data.checked_add(len).ok_or(Malformed)?;
            let text = bytes.get(data..end).ok_or(Malformed)?;
            // RFC 3501 §4.3: a literal holds no NUL; literal8 (RFC 3516) may.
            if !binary && text.contains(&0) {
                return Err(Malformed);
            }
            parts.push(CatPart::Text(data..end));
            at = end;
        } else if word.eq_ignore_ascii_case(b"URL") {
            let (url, end) = astring(bytes, at)?;
            parts.push(CatPart::Url(url));
            at = end;
        } else {
            return Err(Malformed);
        }
        match bytes.get(at) {
            Some(b' ') => at += 1,
            Some(b')') => return Ok((parts, at + 1)),
            _ => return Err(Malformed),
        }
    }
}

/// An astring at `at`: an atom (up to a space or `)`; `%` is let through, since URLs
/// are full of it and clients send them bare), a quoted string, or a literal. Its value
/// and where it ends.
fn astring(bytes: &[u8], at: usize) -> Result<(Vec<u8>, usize), CatError> {
    use CatError::Malformed;
    let (value, end) = match bytes.get(at).ok_or(Malformed)? {
        b'"' => quoted_at(bytes, at, MAX_URL).map_err(|e| match e {
            QuotedError::Malformed => Malformed,
            QuotedError::TooLong => CatError::TooMany,
        })?,
        b'{' => {
            let (len, data) = literal_at(bytes, at).ok_or(Malformed)?;
            if len > MAX_URL {
                return Err(CatError::TooMany);
            }
            let end = data.checked_add(len).ok_or(Malformed)?;
            (bytes.get(data..end).ok_or(Malformed)?.to_vec(), end)
        }
        _ => {
            let len = bytes[at..]
                .iter()
                .position(|&b| matches!(b, b' ' | b')' | b'(' | b'"' | b'{' | b'\r' | b'\n'))
                .ok_or(Malformed)?;
            if len == 0 {
                return Err(Malformed);
            }
            if len > MAX_URL {
                return Err(CatError::TooMany);
            }
            (bytes[at..at + len].to_vec(), at + len)
        }
    };
    Ok((value, end))
}

/// Why a quoted string could not be read.
pub(crate) enum QuotedError {
    /// Not a quoted string: unterminated, a CR, LF or NUL, or an escape of anything
    /// but `"` and `\\`.
    Malformed,
    /// Longer than allowed.
    TooLong,
}

/// The quoted string (RFC 3501 `quoted`) whose opening `"` is at `at`: its value and
/// where it ends, the value at most `max` bytes. Shared by the hand-written parsers
/// (CATENATE here, URLAUTH in `urlauth.rs`).
pub(crate) fn quoted_at(
    bytes: &[u8],
    at: usize,
    max: usize,
) -> Result<(Vec<u8>, usize), QuotedError> {
    let mut value = Vec::new();
    let mut i = at + 1;
    loop {
        match *bytes.get(i).ok_or(QuotedError::Malformed)? {
            b'\\' => {
                let escaped = *bytes.get(i + 1).ok_or(QuotedError::Malformed)?;
                if escaped != b'"' && escaped != b'\\' {
                    return Err(QuotedError::Malformed);
                }
                value.push(escaped);
                i += 2;
            }
            b'"' => return Ok((value, i + 1)),
            b'\r' | b'\n' | 0 => return Err(QuotedError::Malformed),
            b => {
                value.push(b);
                i += 1;
            }
        }
        if value.len() > max {
            return Err(QuotedError::TooLong);
        }
    }
}

/// The byte just past `word` at `at`, if it is there.
fn expect(bytes: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    (bytes.get(at..at.checked_add(word.len())?)? == word).then_some(at + word.len())
}

/// A literal's announcement `{N}` or `{N+}` and its CRLF at `at`: N and where its bytes
/// begin.
pub fn literal_at(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut i = expect(bytes, at, b"{")?;
    let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 10 {
        return None;
    }
    let len: u32 = std::str::from_utf8(&bytes[i..i + digits])
        .ok()?
        .parse()
        .ok()?;
    i += digits;
    if bytes.get(i) == Some(&b'+') {
        i += 1;
    }
    let data = expect(bytes, i, b"}\r\n")?;
    Some((len as usize, data))
}

#[cfg(test)]
mod tests {
    use super::{CatError, CatPart, MAX_CAT_PARTS, parse};

    #[test]
    fn text_and_url_parts_in_every_astring_form() {
        let cmd = b"(TEXT {3}\r\nabc URL /INBOX/;UID=1 url \"/A%20B/;UID=2\" URL {13}\r\n/Sent/;UID=31 text ~{2+}\r\nd\0) rest";
        let (parts, end) = parse(cmd, 0).unwrap();
        assert_eq!(&cmd[end..], b" rest");
        assert_eq!(
            parts,
            [
                CatPart::Text(11..14),
                CatPart::Url(b"/INBOX/;UID=1".to_vec()),
                CatPart::Url(b"/A%20B/;UID=2".to_vec()),
                CatPart::Url(b"/Sent/;UID=31".to_vec()),
                CatPart::Text(89..91),
            ]
        );
        assert_eq!(&cmd[89..91], b"d\0");
    }

    #[test]
    fn refuses_what_does_not_frame() {
        for bad in [
            &b""[..],
            b"TEXT {1}\r\na)",
            b"()",
            b"(TEXT {5}\r\nab)",
            b"(TEXT {1}\r\n\0)",
            b"(BODY {1}\r\na)",
            b"(URL )",
            b"(URL \"unterminated)",
            b"(URL \"bad\\escape\")",
            b"(TEXT {1}\r\nax",
            b"(TEXT {99999999999}\r\na)",
            b"(URL /a",
        ] {
            assert_eq!(parse(bad, 0), Err(CatError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn caps_parts_and_url_length() {
        let mut many = b"(".to_vec();
        for _ in 0..=MAX_CAT_PARTS {
            many.extend_from_slice(b"URL /I/;UID=1 ");
        }
        many.push(b')');
        assert_eq!(parse(&many, 0), Err(CatError::TooMany));
        let long = format!("(URL /{}/;UID=1)", "a".repeat(super::MAX_URL));
        assert_eq!(parse(long.as_bytes(), 0), Err(CatError::TooMany));
    }
}

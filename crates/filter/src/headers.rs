//! Finding header fields in raw message bytes: each field with its continuation lines and
//! its byte range, so a filter can name fields to cut out (pipeline `Edits::remove`).

use std::ops::Range;

/// One header field as it sits in the message.
pub struct Field<'a> {
    /// The name, as written.
    pub name: &'a [u8],
    /// The value: everything after the colon up to the field's final CRLF, unfolded
    /// lines included.
    pub value: &'a [u8],
    /// The whole field, name to final CRLF inclusive.
    pub range: Range<usize>,
}

/// The header fields of a message, in order; stops at the empty line (or at a line that
/// is no field, which ends the header section for our purpose).
pub fn fields(message: &[u8]) -> Vec<Field<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < message.len() {
        let rest = &message[at..];
        if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            break;
        }
        // The field ends at the first line end not followed by a space or a tab.
        let mut end = at;
        loop {
            match message[end..].iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    end += nl + 1;
                    if !matches!(message.get(end), Some(b' ' | b'\t')) {
                        break;
                    }
                }
                None => {
                    end = message.len();
                    break;
                }
            }
        }
        let field = &message[at..end];
        let Some(colon) = field.iter().position(|&b| b == b':') else {
            break;
        };
        let value = field[colon + 1..]
            .strip_suffix(b"\n")
            .map(|v| v.strip_suffix(b"\r").unwrap_or(v))
            .unwrap_or(&field[colon + 1..]);
        out.push(Field {
            name: trim(&field[..colon]),
            value,
            range: at..end,
        });
        at = end;
    }
    out
}

/// The bytes without leading and trailing white space.
pub fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// The first field of this name (case-insensitive).
pub fn first<'a>(fields: &'a [Field<'a>], name: &str) -> Option<&'a Field<'a>> {
    fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_continuations_and_ranges() {
        let m = b"A: 1\r\nB: two\r\n\tlines\r\nC:3\r\n\r\nbody: no\r\n";
        let f = fields(m);
        assert_eq!(f.len(), 3);
        assert_eq!(f[1].name, b"B");
        assert_eq!(f[1].value, b" two\r\n\tlines");
        assert_eq!(&m[f[1].range.clone()], b"B: two\r\n\tlines\r\n");
        assert_eq!(f[2].value, b"3");
    }
}

//! The "encoded-character" extension (RFC 5228 §2.4.2.4): `${hex: 41 42}` and
//! `${unicode: 263A}` in strings, decoded at parse time when the script requires it.
//! A sequence that does not follow the syntax stays as written; one that does but
//! names no character (a surrogate, past U+10FFFF, octets that are not UTF-8) is an
//! error, as the RFC says.

/// Decodes the encoded characters of `s`; `Err` names the offending sequence.
pub(crate) fn decode(s: &str) -> Result<String, String> {
    if !s.contains("${") {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        match sequence(tail)? {
            Some((text, used)) => {
                out.push_str(&text);
                rest = &tail[used..];
            }
            None => {
                out.push_str("${");
                rest = &tail[2..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// One `${hex:...}` or `${unicode:...}` at the start of `s`: its text and length, or
/// `None` if it is not one.
fn sequence(s: &str) -> Result<Option<(String, usize)>, String> {
    let body_start = s.find(':').map_or(0, |c| c + 1);
    let kind = s[2..body_start.max(2)].trim_end_matches(':');
    let hex = kind.eq_ignore_ascii_case("hex");
    if !hex && !kind.eq_ignore_ascii_case("unicode") {
        return Ok(None);
    }
    let Some(end) = s[body_start..].find('}') else {
        return Ok(None);
    };
    let body = &s[body_start..body_start + end];
    let used = body_start + end + 1;
    let units: Vec<&str> = body
        .split([' ', '\t', '\r', '\n'])
        .filter(|u| !u.is_empty())
        .collect();
    let well_formed = !units.is_empty()
        && units
            .iter()
            .all(|u| u.bytes().all(|b| b.is_ascii_hexdigit()) && (!hex || u.len() <= 2));
    if !well_formed {
        return Ok(None);
    }
    let bad = || format!("invalid encoded character \"{}\"", &s[..used]);
    if hex {
        let bytes: Vec<u8> = units
            .iter()
            .map(|u| u8::from_str_radix(u, 16).map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        return String::from_utf8(bytes)
            .map(|t| Some((t, used)))
            .map_err(|_| bad());
    }
    let mut text = String::new();
    for u in units {
        let digits = u.trim_start_matches('0');
        let code = if digits.len() > 6 {
            None
        } else {
            u32::from_str_radix(if digits.is_empty() { "0" } else { digits }, 16).ok()
        };
        text.push(code.and_then(char::from_u32).ok_or_else(bad)?);
    }
    Ok(Some((text, used)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5228_section_2_4_2_4_examples() {
        assert_eq!(decode("${hex:40}").as_deref(), Ok("@"));
        assert_eq!(decode("${hex: 40 }").as_deref(), Ok("@"));
        assert_eq!(decode("${HEX: 40}").as_deref(), Ok("@"));
        assert_eq!(decode("${hex:40").as_deref(), Ok("${hex:40"));
        assert_eq!(decode("${hex:400}").as_deref(), Ok("${hex:400}"));
        assert_eq!(decode("${hex:4${hex:30}}").as_deref(), Ok("${hex:40}"));
        assert_eq!(decode("${unicode:40}").as_deref(), Ok("@"));
        assert_eq!(decode("${ unicode:40}").as_deref(), Ok("${ unicode:40}"));
        assert_eq!(decode("${UNICODE:40}").as_deref(), Ok("@"));
        assert_eq!(decode("${UnICoDE:0000040}").as_deref(), Ok("@"));
        assert_eq!(decode("${Unicode:40}").as_deref(), Ok("@"));
        assert_eq!(decode("${Unicode:Cool}").as_deref(), Ok("${Unicode:Cool}"));
        assert!(decode("${unicode:D800}").is_err());
        assert!(decode("${unicode:110000}").is_err());
        assert_eq!(decode("${hex:c3 a9}${var}").as_deref(), Ok("é${var}"));
    }
}

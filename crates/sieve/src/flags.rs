//! The "imap4flags" extension (RFC 5232): flag lists held in variables (the internal
//! one and named ones) as space-separated strings, changed by setflag/addflag/removeflag.
//!
//! Rules of the house:
//! - Flags compare case-insensitively and a list never holds one twice (RFC 5232 §3).
//! - Strings that cannot be IMAP flags (atom-specials, a `\` that does not start a
//!   system flag) are dropped, so the store never sees them.

use crate::ast::FlagOp;

/// The system flags (RFC 9051 §2.3.2) in their usual spelling.
const SYSTEM: [&str; 5] = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"];

/// A flag as the store will take it, or `None` if `raw` cannot be one.
fn normalise(raw: &str) -> Option<String> {
    if let Some(name) = raw.strip_prefix('\\') {
        return SYSTEM
            .iter()
            .find(|s| s[1..].eq_ignore_ascii_case(name))
            .map(|s| s.to_string());
    }
    let atom = !raw.is_empty()
        && raw.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        });
    atom.then(|| raw.to_string())
}

/// The flags in some strings, each string holding flags separated by spaces, valid
/// ones only, without duplicates.
pub(crate) fn parse<'a>(strings: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in strings {
        for raw in s.split_ascii_whitespace() {
            if let Some(flag) = normalise(raw)
                && !out.iter().any(|f| f.eq_ignore_ascii_case(&flag))
            {
                out.push(flag);
            }
        }
    }
    out
}

/// A flag variable's new value after `op` with `flags`.
pub(crate) fn update(op: FlagOp, current: &str, flags: &[String]) -> String {
    let mut list = parse([current]);
    match op {
        FlagOp::Set => list = flags.to_vec(),
        FlagOp::Add => {
            for f in flags {
                if !list.iter().any(|l| l.eq_ignore_ascii_case(f)) {
                    list.push(f.clone());
                }
            }
        }
        FlagOp::Remove => list.retain(|l| !flags.iter().any(|f| f.eq_ignore_ascii_case(l))),
    }
    list.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5232_section_3_add_and_remove() {
        // §3.2: addflag to "A B" with "B C" gives "A B C"; removeflag "A" leaves "B C".
        let v = update(FlagOp::Add, "A B", &parse(["b C"]));
        assert_eq!(v, "A B C");
        assert_eq!(update(FlagOp::Remove, &v, &parse(["a"])), "B C");
        assert_eq!(update(FlagOp::Set, &v, &parse(["\\seen"])), "\\Seen");
    }

    #[test]
    fn invalid_flags_are_dropped() {
        assert_eq!(
            parse(["\\Bogus ok (bad) \\flagged"]),
            vec!["ok", "\\Flagged"]
        );
    }
}

//! SAVEDATE (RFC 8514) search keys. imap-codec 2.0.0-alpha.10 decodes neither the FETCH
//! item nor the SAVEDBEFORE / SAVEDON / SAVEDSINCE / SAVEDATESUPPORTED search keys, so
//! this is hand-written: `extparse` rewrites each key into a `HEADER` key whose field name
//! ends in ':' (no real header field name can: RFC 5322 §3.6.8), and SEARCH reads them
//! back here. Every mailbox here keeps save dates, so SAVEDATESUPPORTED matches all.

use chrono::NaiveDate;

/// A save-date search key, as `extparse` rewrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SavedKey {
    /// SAVEDBEFORE date: saved on a day before it.
    Before(NaiveDate),
    /// SAVEDON date: saved on that day.
    On(NaiveDate),
    /// SAVEDSINCE date: saved on that day or later.
    Since(NaiveDate),
    /// SAVEDATESUPPORTED: the mailbox keeps save dates (all of ours do).
    Supported,
}

/// The keys and the `HEADER "field"` text each is rewritten to (its argument, if any,
/// stays where the client put it and becomes the header value).
const KEYS: [(&str, &[u8]); 4] = [
    ("SAVEDBEFORE", b"HEADER \"SAVEDBEFORE:\""),
    ("SAVEDON", b"HEADER \"SAVEDON:\""),
    ("SAVEDSINCE", b"HEADER \"SAVEDSINCE:\""),
    ("SAVEDATESUPPORTED", b"HEADER \"SAVEDATESUPPORTED:\" \"\""),
];

/// The rewrite of a search-key atom, when it is one of RFC 8514's.
pub fn rewrite(atom: &[u8]) -> Option<&'static [u8]> {
    KEYS.iter()
        .find(|(k, _)| atom.eq_ignore_ascii_case(k.as_bytes()))
        .map(|(_, r)| *r)
}

/// The save-date key a `HEADER name value` key stands for: None when it is a real HEADER
/// key, Some(Err) when it is ours with a date that is not one (RFC 3501 `date`).
pub fn key(name: &[u8], value: &[u8]) -> Option<Result<SavedKey, &'static str>> {
    let word = name.strip_suffix(b":")?;
    let date = || {
        std::str::from_utf8(value)
            .ok()
            .and_then(|v| NaiveDate::parse_from_str(v, "%d-%b-%Y").ok())
            .ok_or("Invalid date in a SAVEDBEFORE, SAVEDON or SAVEDSINCE key")
    };
    Some(match word.to_ascii_uppercase().as_slice() {
        b"SAVEDBEFORE" => date().map(SavedKey::Before),
        b"SAVEDON" => date().map(SavedKey::On),
        b"SAVEDSINCE" => date().map(SavedKey::Since),
        b"SAVEDATESUPPORTED" => Ok(SavedKey::Supported),
        _ => return None,
    })
}

impl SavedKey {
    /// Whether a message saved on `day` (UTC) matches.
    pub fn matches(&self, day: NaiveDate) -> bool {
        match *self {
            SavedKey::Before(d) => day < d,
            SavedKey::On(d) => day == d,
            SavedKey::Since(d) => day >= d,
            SavedKey::Supported => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back() {
        let d = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
        assert_eq!(
            key(b"SAVEDSINCE:", b"1-Feb-2026"),
            Some(Ok(SavedKey::Since(d)))
        );
        assert_eq!(key(b"savedon:", b"01-feb-2026"), Some(Ok(SavedKey::On(d))));
        assert_eq!(
            key(b"SAVEDATESUPPORTED:", b""),
            Some(Ok(SavedKey::Supported))
        );
        assert!(matches!(key(b"SAVEDBEFORE:", b"2026-02-01"), Some(Err(_))));
        assert_eq!(key(b"Subject", b"x"), None);
        assert_eq!(key(b"X-Other:", b"x"), None);
        assert!(SavedKey::Before(d).matches(d.pred_opt().unwrap()));
        assert!(!SavedKey::Before(d).matches(d));
        assert_eq!(rewrite(b"savedon"), Some(&b"HEADER \"SAVEDON:\""[..]));
        assert_eq!(rewrite(b"SAVED"), None);
    }
}

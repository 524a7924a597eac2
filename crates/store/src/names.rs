//! Validation and normalisation of the names the store keeps: addresses, domains and
//! mailbox names. Everything a client or an admin types passes through here first, so a
//! name can never alias another one or smuggle in hierarchy tricks (HOSTILE.md: MBX).

use crate::StoreError;

/// Hierarchy delimiter of mailbox names.
pub const DELIMITER: char = '/';
/// Longest mailbox name, in bytes.
pub const MAX_MAILBOX_NAME: usize = 512;
/// Longest single level of a mailbox name, in bytes.
pub const MAX_MAILBOX_LEVEL: usize = 255;
/// Deepest mailbox hierarchy.
pub const MAX_MAILBOX_DEPTH: usize = 16;

fn invalid(msg: impl Into<String>) -> StoreError {
    StoreError::Invalid(msg.into())
}

/// Normalises a domain: lower-case ASCII letters, digits, `-` and `.`, in labels of 1–63
/// characters, 253 at most in all. A trailing dot is dropped.
pub fn domain(d: &str) -> Result<String, StoreError> {
    let d = d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase();
    if d.is_empty() || d.len() > 253 {
        return Err(invalid(format!("bad domain length: {d:?}")));
    }
    for label in d.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(invalid(format!("bad domain: {d:?}")));
        }
    }
    Ok(d)
}

/// Normalises an account or alias address `local@domain`: lower-cased; the local part is
/// 1–64 of ASCII letters, digits, `.`, `_`, `-` (no leading, trailing or double dot). `+`
/// is kept out of account names so that `user+tag@domain` can reach `user@domain`.
pub fn address(a: &str) -> Result<String, StoreError> {
    let (local, dom) = a
        .rsplit_once('@')
        .ok_or_else(|| invalid(format!("not an address: {a:?}")))?;
    let local = local.to_ascii_lowercase();
    let ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !ok {
        return Err(invalid(format!("bad local part: {a:?}")));
    }
    Ok(format!("{local}@{}", domain(dom)?))
}

/// Normalises an alias address: a full address, or `@domain` for a catch-all.
pub fn alias(a: &str) -> Result<String, StoreError> {
    match a.strip_prefix('@') {
        Some(d) => Ok(format!("@{}", domain(d)?)),
        None => address(a),
    }
}

/// Normalises a mailbox name (already decoded from modified UTF-7 by the protocol):
/// `INBOX` in any case becomes `INBOX`, also as the first level; no empty levels, no `.`
/// or `..` levels, no control characters, no LIST wildcards, bounded length and depth.
pub fn mailbox(name: &str) -> Result<String, StoreError> {
    if name.is_empty() {
        return Err(invalid("empty mailbox name"));
    }
    if name.len() > MAX_MAILBOX_NAME {
        return Err(invalid("mailbox name too long"));
    }
    let mut out = String::with_capacity(name.len());
    for (i, level) in name.split(DELIMITER).enumerate() {
        if i >= MAX_MAILBOX_DEPTH {
            return Err(invalid("mailbox hierarchy too deep"));
        }
        if level.is_empty() {
            return Err(invalid("empty level in mailbox name"));
        }
        if level == "." || level == ".." {
            return Err(invalid("`.` and `..` are not mailbox names"));
        }
        if level.len() > MAX_MAILBOX_LEVEL {
            return Err(invalid("mailbox name level too long"));
        }
        if level
            .chars()
            .any(|c| c.is_control() || c == '*' || c == '%' || c == '\u{feff}')
        {
            return Err(invalid(
                "mailbox name holds a control or wildcard character",
            ));
        }
        if i > 0 {
            out.push(DELIMITER);
        }
        if i == 0 && level.eq_ignore_ascii_case("INBOX") {
            out.push_str("INBOX");
        } else {
            out.push_str(level);
        }
    }
    Ok(out)
}

/// The parent names of a mailbox name, nearest last (`a/b/c` → `a`, `a/b`).
pub fn parents(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices(DELIMITER).map(|(i, _)| &name[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_names() {
        assert_eq!(mailbox("inbox").unwrap(), "INBOX");
        assert_eq!(mailbox("Inbox/Sub").unwrap(), "INBOX/Sub");
        assert_eq!(mailbox("Work/inbox").unwrap(), "Work/inbox");
        assert_eq!(mailbox("Données/été").unwrap(), "Données/été");
        for bad in [
            "", "/", "a/", "/a", "a//b", "..", "a/../b", ".", "a\0b", "a\rb", "a*", "b%",
        ] {
            assert!(mailbox(bad).is_err(), "{bad:?} accepted");
        }
        assert!(mailbox(&"x".repeat(300)).is_err());
        assert!(mailbox(&vec!["a"; 17].join("/")).is_err());
        assert!(mailbox(&vec!["a"; 16].join("/")).is_ok());
        assert_eq!(parents("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
    }

    #[test]
    fn addresses_and_domains() {
        assert_eq!(address("Alice@Example.COM").unwrap(), "alice@example.com");
        assert_eq!(domain("Example.com.").unwrap(), "example.com");
        assert_eq!(alias("@Example.com").unwrap(), "@example.com");
        for bad in [
            "alice",
            "@example.com",
            "a..b@x.com",
            ".a@x.com",
            "a b@x.com",
            "a@",
            "a@-x.com",
            "a@x..com",
            "a%b@x.com",
            "a!b@x.com",
            "\"a@b\"@x.com",
            "a+tag@x.com",
        ] {
            assert!(address(bad).is_err(), "{bad:?} accepted");
        }
    }
}

//! Client text in log fields. Whatever a client sends (an address, a name, a reason that
//! quotes either) goes into a log field through [`escaped`], so that no control byte (ESC
//! sequences for a terminal, CR/LF forging a log line, DEL, C1 controls) reaches the log
//! as it is; and a user name that failed to log in goes in only as [`name_hash`]: such
//! names are often passwords typed into the wrong box (HOSTILE.md AUTH).

use std::{
    fmt,
    hash::{BuildHasher, Hasher, RandomState},
    sync::OnceLock,
};

/// A string that displays with its control characters and backslashes escaped
/// (`\x1b`, `\x7f`, `\u{85}`, `\\`), everything else as it is.
pub struct Escaped<'a>(
    /// The client's text, as it came.
    &'a str,
);

/// `s`, ready for a log field (`tracing::info!(from = %escaped(&from), ...)`).
pub fn escaped(s: &str) -> Escaped<'_> {
    Escaped(s)
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                c if (c as u32) < 0x80 && c.is_control() => write!(f, "\\x{:02x}", c as u32)?,
                c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// A short name for a login name that failed (8 hex digits): the same name gives the
/// same hash for the life of the process, so repeated guesses at one name can be told
/// apart from a spray over many, but the name itself (often a password) never reaches the
/// log. Keyed with a random key per process (SipHash), so a hash cannot be reversed by
/// hashing a dictionary.
pub fn name_hash(name: &str) -> String {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    let mut h = KEY.get_or_init(RandomState::new).build_hasher();
    h.write(name.as_bytes());
    format!("{:08x}", h.finish() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_are_escaped_and_text_kept() {
        let s = escaped("a\x1b[31mb\r\nc\x7f\u{85}d\\é\t");
        assert_eq!(
            s.to_string(),
            "a\\x1b[31mb\\x0d\\x0ac\\x7f\\u{85}d\\\\é\\x09"
        );
        assert_eq!(
            escaped("alice@example.com").to_string(),
            "alice@example.com"
        );
    }

    #[test]
    fn name_hashes_are_short_stable_and_hide_the_name() {
        let a = name_hash("hunter2");
        assert_eq!(a.len(), 8);
        assert_eq!(a, name_hash("hunter2"));
        assert_ne!(a, name_hash("hunter3"));
        assert!(!a.contains("hunter"));
    }
}

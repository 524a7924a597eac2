//! The i;unicode-casemap comparator (RFC 5051) that I18NLEVEL=1 (RFC 5255 §4) makes the
//! default for SEARCH's substring matches and SORT's text keys: two strings are equal
//! when their folded forms are, one contains the other when its folded form does, and
//! order is the octet order of the folded forms' UTF-8.
//!
//! RFC 5051 §2 folds each character to its titlecase and then decomposes (NFKD). We
//! fold with Rust's uppercase mapping (std, Unicode's full mapping) instead of the
//! simple titlecase, and fold the decomposed result a second time. The differences are
//! deliberate and only ever make more strings equal, the way a user expects:
//!
//! - the second pass makes compatibility decompositions case-blind too: "ﬁ" decomposes
//!   to "fi" after the titlecase step, so RFC 5051's literal algorithm leaves "ﬁle"
//!   unequal to "FILE"; here it is equal;
//! - the full uppercase mapping folds "ß" to "SS" (so "Straße" matches "STRASSE"),
//!   where the simple titlecase of ß is ß;
//! - for the few titlecase digraphs (ǅ) uppercase and titlecase differ, but they
//!   decompose to the same letters, which the second pass folds alike.
//!
//! The `unicode-normalization` crate does NFKD (CRATES.md: the Unicode crate of the
//! set); std does the case mapping.

use unicode_normalization::UnicodeNormalization;

/// The i;unicode-casemap form of `s`: what is compared, searched and sorted.
pub fn fold(s: &str) -> String {
    // Most header text, and most bodies, are ASCII: there uppercasing is all of it.
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    let once: String = s.chars().flat_map(char::to_uppercase).nfkd().collect();
    once.chars().flat_map(char::to_uppercase).nfkd().collect()
}

/// True when `haystack` contains `needle` under i;unicode-casemap (RFC 5051 §2's
/// "substring" operation); an empty needle is in everything.
pub fn contains(haystack: &str, needle: &str) -> bool {
    fold(haystack).contains(&fold(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_and_compatibility_forms() {
        assert_eq!(fold("Ärger"), fold("ärger"));
        assert_eq!(fold("ÄRGER"), "A\u{308}RGER");
        assert_eq!(fold("ﬁle"), "FILE");
        assert_eq!(fold("Straße"), fold("STRASSE"));
        assert_eq!(fold("ǅemal"), fold("ǆemal"));
        assert_eq!(fold("Ｗｉｄｅ"), "WIDE");
        assert_eq!(fold("mixed Case"), "MIXED CASE");
        // Precomposed and decomposed forms are one string.
        assert_eq!(fold("\u{e9}"), fold("e\u{301}"));
        assert_ne!(fold("arger"), fold("ärger"));
    }

    #[test]
    fn folding_is_idempotent() {
        for s in ["Ärger", "ﬁ", "ß", "ǅ", "ΐ", "ŉ", "㎓", "İstanbul", "ﬃ", "ᾳ"] {
            let once = fold(s);
            assert_eq!(fold(&once), once, "{s}");
        }
    }

    #[test]
    fn substrings() {
        assert!(contains("Viele Grüße aus Köln", "GRÜSSE"));
        assert!(contains("the ﬁnal ﬁle", "FINAL FILE"));
        assert!(contains("anything", ""));
        assert!(!contains("Koln", "köln"));
    }
}

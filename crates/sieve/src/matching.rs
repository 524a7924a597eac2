//! Comparators (RFC 4790, as RFC 5228 §2.7.3 uses them) and match types (RFC 5228
//! §2.7.1), with the `:matches` wildcard captures of RFC 5229 §3.2.
//!
//! Rules of the house:
//! - Every comparison charges the run's [`Budget`] for the work it does, wildcard
//!   backtracking included, so a pattern built to backtrack cannot run long.
//! - Wildcards match as little as possible, leftmost first (RFC 5229 §3.2: in
//!   `"[*] *"` against `"[acme-users] [fwd] version 1.0 is out"` the first `*` is
//!   `acme-users`); `?` is one Unicode character.

use std::cmp::Ordering;

use crate::{budget::Budget, error::RunError};

/// A comparator (RFC 4790).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Comparator {
    /// `i;octet`: byte for byte.
    Octet,
    /// `i;ascii-casemap`, the default: ASCII letters compare case-insensitively.
    #[default]
    AsciiCasemap,
    /// `i;ascii-numeric`: leading decimal digits compared as numbers; a string without
    /// one is positive infinity. Equality only (no `:contains` or `:matches`).
    AsciiNumeric,
}

impl Comparator {
    /// The comparator called `name` (as in `:comparator "i;octet"`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "i;octet" => Some(Comparator::Octet),
            "i;ascii-casemap" => Some(Comparator::AsciiCasemap),
            "i;ascii-numeric" => Some(Comparator::AsciiNumeric),
            _ => None,
        }
    }

    /// The comparator's registered name.
    pub fn name(self) -> &'static str {
        match self {
            Comparator::Octet => "i;octet",
            Comparator::AsciiCasemap => "i;ascii-casemap",
            Comparator::AsciiNumeric => "i;ascii-numeric",
        }
    }
}

/// A match type (RFC 5228 §2.7.1, and RFC 5231's relational ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchType {
    /// `:is`, the default: the whole value equals the key.
    #[default]
    Is,
    /// `:contains`: the key is a substring of the value.
    Contains,
    /// `:matches`: the key is a pattern with `*` and `?` wildcards.
    Matches,
    /// `:value "op"` (RFC 5231 §4.1): the value stands in that relation to the key,
    /// in the comparator's order.
    Value(RelOp),
    /// `:count "op"` (RFC 5231 §4.2): the number of values stands in that relation to
    /// the key.
    Count(RelOp),
}

impl MatchType {
    /// The tag's name without the colon.
    pub fn name(self) -> &'static str {
        match self {
            MatchType::Is => "is",
            MatchType::Contains => "contains",
            MatchType::Matches => "matches",
            MatchType::Value(_) => "value",
            MatchType::Count(_) => "count",
        }
    }
}

/// A relational operator (RFC 5231 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelOp {
    /// `"gt"`
    Gt,
    /// `"ge"`
    Ge,
    /// `"lt"`
    Lt,
    /// `"le"`
    Le,
    /// `"eq"`
    Eq,
    /// `"ne"`
    Ne,
}

impl RelOp {
    /// The operator called `name`, case-insensitively.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "gt" => RelOp::Gt,
            "ge" => RelOp::Ge,
            "lt" => RelOp::Lt,
            "le" => RelOp::Le,
            "eq" => RelOp::Eq,
            "ne" => RelOp::Ne,
            _ => return None,
        })
    }

    /// Whether `value <op> key` holds, given how value compares with key.
    pub(crate) fn holds(self, ord: Ordering) -> bool {
        match self {
            RelOp::Gt => ord == Ordering::Greater,
            RelOp::Ge => ord != Ordering::Less,
            RelOp::Lt => ord == Ordering::Less,
            RelOp::Le => ord != Ordering::Greater,
            RelOp::Eq => ord == Ordering::Equal,
            RelOp::Ne => ord != Ordering::Equal,
        }
    }
}

/// How `a` orders against `b` under a comparator (RFC 4790 §9).
pub(crate) fn order(comparator: Comparator, a: &str, b: &str) -> Ordering {
    match comparator {
        Comparator::Octet => a.as_bytes().cmp(b.as_bytes()),
        Comparator::AsciiCasemap => a
            .bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase())),
        Comparator::AsciiNumeric => match (numeric(a), numeric(b)) {
            // A string without leading digits is positive infinity.
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            // Leading zeros trimmed: longer is larger, then digit by digit.
            (Some(x), Some(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
        },
    }
}

/// Compares one value with one key. With `:matches` and `captures` given, a match fills
/// `captures` with `${0}` (the whole value) and one entry per wildcard.
pub(crate) fn compare(
    comparator: Comparator,
    match_type: MatchType,
    value: &str,
    key: &str,
    captures: Option<&mut Vec<String>>,
    budget: &mut Budget,
) -> Result<bool, RunError> {
    budget.charge_bytes(value.len() + key.len())?;
    let fold = comparator == Comparator::AsciiCasemap;
    Ok(match (comparator, match_type) {
        (c, MatchType::Value(op) | MatchType::Count(op)) => op.holds(order(c, value, key)),
        (Comparator::AsciiNumeric, _) => numeric_eq(value, key),
        (_, MatchType::Is) => {
            if fold {
                value.eq_ignore_ascii_case(key)
            } else {
                value == key
            }
        }
        (_, MatchType::Contains) => {
            if fold {
                contains_folded(value.as_bytes(), key.as_bytes())
            } else {
                value.contains(key)
            }
        }
        (_, MatchType::Matches) => wildcard(value, key, fold, captures, budget)?,
    })
}

/// The leading digits of a string without leading zeros, or `None` (positive
/// infinity) if it does not start with a digit (RFC 4790 §9.1.1).
fn numeric(s: &str) -> Option<&str> {
    let end = s.bytes().take_while(u8::is_ascii_digit).count();
    if end == 0 {
        return None;
    }
    Some(s[..end].trim_start_matches('0'))
}

/// `i;ascii-numeric` equality.
fn numeric_eq(a: &str, b: &str) -> bool {
    numeric(a) == numeric(b)
}

/// Case-insensitive (ASCII) substring search.
pub(crate) fn contains_folded(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if needle.len() > hay.len() {
        return false;
    }
    // Candidates are found with memchr on both cases of the first byte.
    let last_start = hay.len() - needle.len();
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    memchr::memchr2_iter(lo, up, &hay[..=last_start])
        .any(|i| hay[i + 1..i + needle.len()].eq_ignore_ascii_case(rest))
}

/// One element of a `:matches` pattern.
#[derive(Clone, Copy)]
enum Pat {
    /// One literal byte.
    Byte(u8),
    /// `?`
    One,
    /// `*`
    Star,
}

fn pattern(key: &str) -> Vec<Pat> {
    let mut out = Vec::with_capacity(key.len());
    let mut bytes = key.bytes();
    while let Some(b) = bytes.next() {
        out.push(match b {
            b'*' => Pat::Star,
            b'?' => Pat::One,
            b'\\' => match bytes.next() {
                Some(escaped) => Pat::Byte(escaped),
                None => Pat::Byte(b'\\'),
            },
            other => Pat::Byte(other),
        });
    }
    out
}

/// Length of the UTF-8 character starting with `lead` (1 for a stray byte).
fn char_len(lead: u8) -> usize {
    match lead {
        0xF0..=0xF7 => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// `:matches`: the classic one-star-backtrack algorithm, which is linear per
/// backtrack and gives each wildcard the shortest match that lets the rest match.
fn wildcard(
    value: &str,
    key: &str,
    fold: bool,
    captures: Option<&mut Vec<String>>,
    budget: &mut Budget,
) -> Result<bool, RunError> {
    let pat = pattern(key);
    let text = value.as_bytes();
    let n = text.len();
    // Wildcard number of each pattern element (for captures).
    let mut slot = Vec::with_capacity(pat.len());
    let mut wildcards = 0usize;
    for p in &pat {
        slot.push(wildcards);
        if matches!(p, Pat::Star | Pat::One) {
            wildcards += 1;
        }
    }
    let mut spans = vec![(0usize, 0usize); wildcards];
    let (mut pi, mut ti) = (0usize, 0usize);
    // The last star seen: the pattern index after it and where its match ends now.
    let mut star: Option<(usize, usize)> = None;
    let mut work = 0usize;
    loop {
        work += 1;
        if work >= 4096 {
            budget.charge_bytes(work)?;
            work = 0;
        }
        if let Some(p) = pat.get(pi) {
            match *p {
                Pat::Star => {
                    spans[slot[pi]] = (ti, ti);
                    pi += 1;
                    star = Some((pi, ti));
                    continue;
                }
                Pat::One if ti < n => {
                    let len = char_len(text[ti]).min(n - ti);
                    spans[slot[pi]] = (ti, ti + len);
                    ti += len;
                    pi += 1;
                    continue;
                }
                Pat::Byte(b)
                    if ti < n && (text[ti] == b || fold && text[ti].eq_ignore_ascii_case(&b)) =>
                {
                    ti += 1;
                    pi += 1;
                    continue;
                }
                _ => {}
            }
        } else if ti == n {
            break;
        }
        // Mismatch: let the last star take one more character, or fail.
        match star {
            Some((after, end)) if end < n => {
                let end = end + char_len(text[end]).min(n - end);
                star = Some((after, end));
                let s = slot[after - 1];
                spans[s].1 = end;
                ti = end;
                pi = after;
            }
            _ => {
                budget.charge_bytes(work)?;
                return Ok(false);
            }
        }
    }
    budget.charge_bytes(work)?;
    if let Some(captures) = captures {
        captures.clear();
        captures.push(value.to_string());
        for (start, end) in spans {
            // Spans fall on character boundaries; `get` keeps a stray byte from panicking.
            captures.push(value.get(start..end).unwrap_or_default().to_string());
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(value: &str, key: &str) -> Option<Vec<String>> {
        let mut budget = Budget::new(1_000_000);
        let mut caps = Vec::new();
        compare(
            Comparator::AsciiCasemap,
            MatchType::Matches,
            value,
            key,
            Some(&mut caps),
            &mut budget,
        )
        .expect("within budget")
        .then_some(caps)
    }

    #[test]
    fn rfc5229_section_3_2_leftmost_shortest() {
        let caps = m("[acme-users] [fwd] version 1.0 is out", "[*] *").expect("matches");
        assert_eq!(caps[1], "acme-users");
        assert_eq!(caps[2], "[fwd] version 1.0 is out");
        let caps = m("coyote@ACME.Example.COM", "coyote@**.com").expect("matches");
        assert_eq!(caps[1], "");
        assert_eq!(caps[2], "ACME.Example");
    }

    #[test]
    fn question_mark_is_one_character() {
        assert!(m("é1", "?1").is_some());
        assert!(m("ab", "?").is_none());
        assert!(m("", "*").is_some());
    }

    #[test]
    fn escapes_are_literal() {
        assert!(m("a*b", "a\\*b").is_some());
        assert!(m("axb", "a\\*b").is_none());
        assert!(m("a?", "a\\?").is_some());
    }

    #[test]
    fn folded_substrings() {
        assert!(contains_folded(b"Hello World", b"WORLD"));
        assert!(contains_folded(b"Hello World", b"o w"));
        assert!(!contains_folded(b"Hello World", b"worlds"));
        assert!(contains_folded(b"abc", b""));
        assert!(contains_folded(b"x\xc3\xa9y", b"\xc3\xa9Y"));
    }

    #[test]
    fn numeric_equality() {
        assert!(numeric_eq("007", "7"));
        assert!(numeric_eq("abc", "xyz"));
        assert!(!numeric_eq("1", "abc"));
        assert!(numeric_eq("0", "000"));
    }

    #[test]
    fn relational_orders() {
        use Comparator::*;
        assert_eq!(order(AsciiNumeric, "10", "9"), Ordering::Greater);
        assert_eq!(order(AsciiNumeric, "007", "7"), Ordering::Equal);
        assert_eq!(order(AsciiNumeric, "x", "99999"), Ordering::Greater);
        assert_eq!(order(AsciiCasemap, "10", "9"), Ordering::Less);
        assert_eq!(order(AsciiCasemap, "ABC", "abd"), Ordering::Less);
        assert_eq!(order(Octet, "B", "a"), Ordering::Less);
        assert!(RelOp::Ge.holds(Ordering::Equal) && !RelOp::Ne.holds(Ordering::Equal));
    }

    #[test]
    fn backtracking_is_charged() {
        let mut budget = Budget::new(10);
        let value = "a".repeat(20_000);
        let r = compare(
            Comparator::Octet,
            MatchType::Matches,
            &value,
            "*a*a*a*a*a*a*b",
            None,
            &mut budget,
        );
        assert!(matches!(r, Err(RunError::StepBudget { .. })));
    }
}

//! The "variables" extension (RFC 5229): `${name}` and `${N}` references in strings,
//! split at parse time and expanded at run time, and the `set` modifiers.
//!
//! Rules of the house:
//! - A `${...}` that is not a valid reference stays as literal text (RFC 5229 §3).
//! - Variable names are case-insensitive and kept lower-cased.
//! - An expansion never grows past `Limits::max_expanded_bytes`.

use std::{borrow::Cow, collections::HashMap};

use crate::{
    ast::{Modifier, Part, Str},
    error::RunError,
};

/// Whether `name` is a variable name `set` may assign: an identifier (RFC 5229 §3).
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// What a `${...}` body names, if it is a valid reference.
enum Reference {
    /// A match variable number (any number of digits; large ones expand to "").
    Match(usize),
    /// A variable name, lower-cased.
    Name(String),
    /// `namespace.name`: valid syntax, but no namespace extension is supported.
    Namespaced(String),
}

fn reference(body: &str) -> Option<Reference> {
    if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        let n = body
            .trim_start_matches('0')
            .parse::<usize>()
            .unwrap_or(if body.len() > 20 { usize::MAX } else { 0 });
        return Some(Reference::Match(n));
    }
    let mut pieces = body.split('.');
    if body.split('.').all(is_identifier) {
        let first = pieces.next().unwrap_or_default();
        if first.len() == body.len() {
            return Some(Reference::Name(body.to_ascii_lowercase()));
        }
        return Some(Reference::Namespaced(body.to_string()));
    }
    None
}

/// Splits a string argument into literal text and references. `Err` carries a
/// namespaced name (`${env.x}`), which RFC 5229 §3 makes an error when no extension
/// provides the namespace.
pub(crate) fn split(text: String) -> Result<Str, String> {
    if !text.contains("${") {
        return Ok(Str::Lit(text));
    }
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after
            .find('}')
            .and_then(|end| Some((end, reference(&after[..end])?)))
        {
            Some((end, r)) => {
                literal.push_str(&rest[..start]);
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                match r {
                    Reference::Match(n) => parts.push(Part::Match(n)),
                    Reference::Name(name) => parts.push(Part::Var(name)),
                    Reference::Namespaced(name) => return Err(name),
                }
                rest = &after[end + 1..];
            }
            None => {
                // Not a reference: keep "${" literally and look further on.
                literal.push_str(&rest[..start + 2]);
                rest = after;
            }
        }
    }
    literal.push_str(rest);
    if parts.is_empty() {
        return Ok(Str::Lit(literal));
    }
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    Ok(Str::Parts(parts))
}

/// The variables of one run.
#[derive(Debug, Default)]
pub(crate) struct Variables {
    /// `set` and flag variables by lower-cased name.
    pub named: HashMap<String, String>,
    /// `${0}`..: the captures of the last successful `:matches`.
    pub matches: Vec<String>,
}

impl Variables {
    /// Expands a string argument.
    pub(crate) fn expand<'s>(&self, s: &'s Str, max: usize) -> Result<Cow<'s, str>, RunError> {
        let parts = match s {
            Str::Lit(text) => return Ok(Cow::Borrowed(text)),
            Str::Parts(parts) => parts,
        };
        let mut out = String::new();
        for part in parts {
            let piece = match part {
                Part::Text(t) => t.as_str(),
                Part::Var(name) => self.named.get(name).map(String::as_str).unwrap_or(""),
                Part::Match(n) => self.matches.get(*n).map(String::as_str).unwrap_or(""),
            };
            if out.len() + piece.len() > max {
                return Err(RunError::StringTooLong {
                    len: out.len() + piece.len(),
                    max,
                });
            }
            out.push_str(piece);
        }
        Ok(Cow::Owned(out))
    }
}

/// Applies `set`'s modifiers (already sorted, highest precedence first).
pub(crate) fn apply_modifiers(mut value: String, modifiers: &[Modifier]) -> String {
    for m in modifiers {
        value = match m {
            Modifier::Lower => value.to_lowercase(),
            Modifier::Upper => value.to_uppercase(),
            Modifier::LowerFirst => first_char(&value, false),
            Modifier::UpperFirst => first_char(&value, true),
            Modifier::QuoteWildcard => {
                let mut out = String::with_capacity(value.len());
                for c in value.chars() {
                    if matches!(c, '*' | '?' | '\\') {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out
            }
            // RFC 5229 §4.1.1: the length in characters.
            Modifier::Length => value.chars().count().to_string(),
        };
    }
    value
}

fn first_char(value: &str, upper: bool) -> String {
    let mut chars = value.chars();
    match chars.next() {
        None => String::new(),
        Some(c) => {
            let mut out: String = if upper {
                c.to_uppercase().collect()
            } else {
                c.to_lowercase().collect()
            };
            out.push_str(chars.as_str());
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_references_stay_literal() {
        // RFC 5229 §3: "${" without a valid reference is not expanded.
        assert_eq!(
            split("a ${} ${1a} b".into()),
            Ok(Str::Lit("a ${} ${1a} b".into()))
        );
        assert_eq!(
            split("x${Name}y${2}".into()),
            Ok(Str::Parts(vec![
                Part::Text("x".into()),
                Part::Var("name".into()),
                Part::Text("y".into()),
                Part::Match(2),
            ]))
        );
        assert_eq!(split("${env.user}".into()), Err("env.user".into()));
    }

    #[test]
    fn modifiers_rfc5229_section_4_1() {
        use Modifier::*;
        assert_eq!(
            apply_modifiers("juMBlEd lETteRS".into(), &[Lower]),
            "jumbled letters"
        );
        assert_eq!(
            apply_modifiers("juMBlEd lETteRS".into(), &[Upper]),
            "JUMBLED LETTERS"
        );
        assert_eq!(apply_modifiers("juMBlEd".into(), &[UpperFirst]), "JuMBlEd");
        assert_eq!(apply_modifiers("Bear".into(), &[LowerFirst]), "bear");
        assert_eq!(apply_modifiers("Rock*".into(), &[QuoteWildcard]), "Rock\\*");
        assert_eq!(apply_modifiers("$32".into(), &[Length]), "3");
        // :lower and :upperfirst together give "Jumbled letters" (§4.1 example).
        assert_eq!(
            apply_modifiers("juMBlEd lETteRS".into(), &[Lower, UpperFirst]),
            "Jumbled letters"
        );
    }
}

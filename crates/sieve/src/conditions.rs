//! Evaluating tests (RFC 5228 §5 and the extensions' tests) for a run: the values a
//! test looks at, compared with its keys, and the match variables a `:matches` sets.
//!
//! Rules of the house:
//! - Every test is charged one step before it runs, and every comparison its bytes.
//! - Values come from the message view's caches; nothing here parses the message.

use std::borrow::Cow;

use crate::{
    ast::{AddressPart, BodyTransform, Compare, EnvelopePart, Str, Test},
    budget::Budget,
    error::RunError,
    flags,
    interpreter::Run,
    matching::{Comparator, MatchType, compare},
};

impl Run<'_, '_> {
    /// Header names expanded and lower-cased (literal ones already are).
    pub(crate) fn header_names<'x>(&self, list: &'x [Str]) -> Result<Vec<Cow<'x, str>>, RunError> {
        list.iter()
            .map(|s| {
                Ok(match self.expand(s)? {
                    Cow::Borrowed(b) => lower(b),
                    Cow::Owned(o) => Cow::Owned(o.to_ascii_lowercase()),
                })
            })
            .collect()
    }

    /// Evaluates a test.
    pub(crate) fn test(&mut self, t: &Test) -> Result<bool, RunError> {
        self.budget.step()?;
        match t {
            Test::True => Ok(true),
            Test::False => Ok(false),
            Test::Not(inner) => Ok(!self.test(inner)?),
            Test::AllOf(list) => {
                for t in list {
                    if !self.test(t)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Test::AnyOf(list) => {
                for t in list {
                    if self.test(t)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Test::Exists(names) => {
                for name in self.header_names(names)? {
                    if !self.msg.has(&name) {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Test::Size { over, limit } => Ok(if *over {
                self.input.size > *limit
            } else {
                self.input.size < *limit
            }),
            Test::Header {
                compare,
                headers,
                keys,
            } => {
                let names = self.header_names(headers)?;
                let keys = self.expand_all(keys)?;
                let msg = &self.msg;
                let values = names.iter().flat_map(|n| msg.values(n));
                any_match(
                    *compare,
                    values,
                    &keys,
                    &mut self.budget,
                    self.captures.then_some(&mut self.vars.matches),
                )
            }
            Test::Address {
                compare,
                part,
                headers,
                keys,
            } => {
                let names = self.header_names(headers)?;
                let keys = self.expand_all(keys)?;
                let msg = &self.msg;
                let part = *part;
                let values = names
                    .iter()
                    .flat_map(|n| msg.addresses(n).filter_map(move |a| address_part(a, part)));
                any_match(
                    *compare,
                    values,
                    &keys,
                    &mut self.budget,
                    self.captures.then_some(&mut self.vars.matches),
                )
            }
            Test::Envelope {
                compare,
                part,
                parts,
                keys,
            } => {
                let keys = self.expand_all(keys)?;
                let from = self
                    .input
                    .envelope_from
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>');
                let values = parts.iter().filter_map(|p| match p {
                    // RFC 5228 §5.4: the null reverse-path compares as "".
                    EnvelopePart::From if from.is_empty() => Some(""),
                    EnvelopePart::From => address_part(from, *part),
                    EnvelopePart::To => address_part(self.input.envelope_to, *part),
                });
                any_match(
                    *compare,
                    values,
                    &keys,
                    &mut self.budget,
                    self.captures.then_some(&mut self.vars.matches),
                )
            }
            Test::String {
                compare,
                sources,
                keys,
            } => {
                let sources = self.expand_all(sources)?;
                let keys = self.expand_all(keys)?;
                // RFC 5229 §5: with :count, only non-empty strings count.
                let count = matches!(compare.match_type, MatchType::Count(_));
                any_match(
                    *compare,
                    sources
                        .iter()
                        .map(|s| s.as_ref())
                        .filter(|s| !(count && s.is_empty())),
                    &keys,
                    &mut self.budget,
                    self.captures.then_some(&mut self.vars.matches),
                )
            }
            Test::HasFlag {
                compare,
                variables,
                keys,
            } => {
                let keys = self.expand_all(keys)?;
                // Keys are split like flag lists but not validated: with :matches they
                // are patterns.
                let keys: Vec<Cow<str>> = keys
                    .iter()
                    .flat_map(|k| k.split_ascii_whitespace())
                    .map(|k| Cow::Owned(k.to_string()))
                    .collect();
                let held: Vec<String> = match variables {
                    None => flags::parse([self.flags.as_str()]),
                    Some(names) => {
                        let names = self.expand_all(names)?;
                        flags::parse(names.iter().map(|n| {
                            self.vars
                                .named
                                .get(&n.to_ascii_lowercase())
                                .map(String::as_str)
                                .unwrap_or("")
                        }))
                    }
                };
                any_match(
                    *compare,
                    held.iter().map(String::as_str),
                    &keys,
                    &mut self.budget,
                    self.captures.then_some(&mut self.vars.matches),
                )
            }
            Test::Body {
                compare,
                transform,
                keys,
            } => {
                let keys = self.expand_all(keys)?;
                self.body(*compare, transform, &keys)
            }
        }
    }

    /// The body test (RFC 5173). `:contains`, the common case, searches with memchr's
    /// substring finder over a lower-cased copy kept for the run.
    fn body(
        &mut self,
        compare: Compare,
        transform: &BodyTransform,
        keys: &[Cow<'_, str>],
    ) -> Result<bool, RunError> {
        let parts = self.msg.body(transform);
        for key in keys {
            // One searcher per key, reused over every part.
            let finder = match (compare.comparator, compare.match_type) {
                (Comparator::AsciiCasemap, MatchType::Contains) => Some(
                    memchr::memmem::Finder::new(key.to_ascii_lowercase().as_bytes()).into_owned(),
                ),
                (Comparator::Octet, MatchType::Contains) => {
                    Some(memchr::memmem::Finder::new(key.as_bytes()).into_owned())
                }
                _ => None,
            };
            for part in parts.iter() {
                self.budget.charge_bytes(part.text.len())?;
                let hit = match (&finder, compare.comparator) {
                    (Some(f), Comparator::AsciiCasemap) => {
                        f.find(part.folded().as_bytes()).is_some()
                    }
                    (Some(f), _) => f.find(part.text.as_bytes()).is_some(),
                    // RFC 5173 §6: the body test sets no match variables.
                    (None, c) => {
                        compare_fn(c, compare.match_type, &part.text, key, &mut self.budget)?
                    }
                };
                if hit {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

fn compare_fn(
    c: Comparator,
    m: MatchType,
    value: &str,
    key: &str,
    budget: &mut Budget,
) -> Result<bool, RunError> {
    compare(c, m, value, key, None, budget)
}

fn lower(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// The part of an address a test compares. RFC 5228 §5.1: an address without an `@`
/// (not syntactically valid) is not matched by `:localpart` or `:domain`.
fn address_part(addr: &str, part: AddressPart) -> Option<&str> {
    match part {
        AddressPart::All => Some(addr),
        AddressPart::LocalPart => addr.rsplit_once('@').map(|(local, _)| local),
        AddressPart::Domain => addr.rsplit_once('@').map(|(_, domain)| domain),
    }
}

/// True if any value matches any key; a `:matches` hit sets the match variables when
/// `captures` is given (RFC 5229 §3.2: only a successful test changes them).
fn any_match<'v>(
    cmp: Compare,
    values: impl IntoIterator<Item = &'v str>,
    keys: &[Cow<'_, str>],
    budget: &mut Budget,
    captures: Option<&mut Vec<String>>,
) -> Result<bool, RunError> {
    if let MatchType::Count(_) = cmp.match_type {
        // RFC 5231 §4.2: the number of values, compared with each key.
        let n = values.into_iter().count().to_string();
        for key in keys {
            if compare(cmp.comparator, cmp.match_type, &n, key, None, budget)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    let want = captures.is_some() && cmp.match_type == MatchType::Matches;
    let mut caps = Vec::new();
    for value in values {
        for key in keys {
            let hit = compare(
                cmp.comparator,
                cmp.match_type,
                value,
                key,
                want.then_some(&mut caps),
                budget,
            )?;
            if hit {
                if want && let Some(c) = captures {
                    *c = caps;
                }
                return Ok(true);
            }
        }
    }
    Ok(false)
}

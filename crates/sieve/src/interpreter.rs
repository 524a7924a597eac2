//! Runs a parsed script over one message and says what to do with it.
//!
//! Rules of the house:
//! - Nothing here does I/O: the outcome is a list of actions for the delivery pipeline
//!   to carry out, in order, and a run error means "keep in INBOX and log"
//!   (RFC 5228 §2.10.6).
//! - Every command and test is charged to the step budget before it runs; recursion
//!   follows the script's nesting, which the parser capped.
//! - Implicit keep (RFC 5228 §2.10.2) is cancelled by keep, discard, fileinto and
//!   redirect without `:copy`, reject and ereject; never by vacation or flag commands.
//!   When it survives, it is the last action, with the internal flag variable's flags.
//! - Repeated fileinto to one mailbox, redirect to one address, keep or discard are
//!   carried out once (RFC 5228 §2.10.3).

use std::borrow::Cow;

use crate::{
    Action, Input, Limits, Outcome, VacationReply,
    ast::{AddressPart, BodyTransform, Command, Compare, EnvelopePart, Str, Test},
    budget::Budget,
    error::RunError,
    flags,
    matching::{Comparator, MatchType, compare},
    message::{MessageView, split_address},
    parser::plausible_address,
    vacation,
    variables::{Variables, apply_modifiers},
};

/// Whether to go on after a command.
enum Flow {
    /// Next command.
    Next,
    /// `stop`: end the script.
    Stop,
}

/// The state of one run.
pub(crate) struct Run<'s, 'a> {
    /// The script's limits.
    limits: &'s Limits,
    /// Whether the script required "variables" (so `:matches` must keep captures).
    captures: bool,
    /// The envelope and message.
    input: &'a Input<'a>,
    /// The parsed message.
    msg: MessageView<'a>,
    /// `set` variables and match variables.
    vars: Variables,
    /// The internal flag variable (RFC 5232 §3), space-separated flags.
    flags: String,
    /// What is left of the step budget.
    budget: Budget,
    /// Actions so far, in order.
    actions: Vec<Action>,
    /// Actions executed, counting repeats, for `Limits::max_actions`.
    executed: usize,
    /// Redirects executed, for `Limits::max_redirects`.
    redirects: usize,
    /// Whether implicit keep still holds.
    implicit_keep: bool,
    /// Whether vacation ran (it may run once).
    vacation_ran: bool,
    /// Why a vacation reply was dropped, if one was.
    vacation_suppressed: Option<vacation::VacationSuppressed>,
}

impl<'s, 'a> Run<'s, 'a> {
    pub(crate) fn new(
        limits: &'s Limits,
        captures: bool,
        body: bool,
        input: &'a Input<'a>,
    ) -> Self {
        Self {
            limits,
            captures,
            input,
            msg: MessageView::new(input.message, body),
            vars: Variables::default(),
            flags: String::new(),
            budget: Budget::new(limits.max_steps),
            actions: Vec::new(),
            executed: 0,
            redirects: 0,
            implicit_keep: true,
            vacation_ran: false,
            vacation_suppressed: None,
        }
    }

    /// Runs the script to its end or its `stop`.
    pub(crate) fn run(mut self, commands: &[Command]) -> Result<Outcome, RunError> {
        self.block(commands)?;
        if self.implicit_keep {
            let flags = flags::parse([self.flags.as_str()]);
            self.actions.push(Action::Keep { flags });
        }
        Ok(Outcome {
            actions: self.actions,
            implicit_keep: self.implicit_keep,
            vacation_suppressed: self.vacation_suppressed,
        })
    }

    fn block(&mut self, commands: &[Command]) -> Result<Flow, RunError> {
        for c in commands {
            if let Flow::Stop = self.command(c)? {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Next)
    }

    fn expand<'x>(&self, s: &'x Str) -> Result<Cow<'x, str>, RunError> {
        self.vars.expand(s, self.limits.max_expanded_bytes)
    }

    fn expand_all<'x>(&self, list: &'x [Str]) -> Result<Vec<Cow<'x, str>>, RunError> {
        list.iter().map(|s| self.expand(s)).collect()
    }

    /// Header names expanded and lower-cased (literal ones already are).
    fn header_names<'x>(&self, list: &'x [Str]) -> Result<Vec<Cow<'x, str>>, RunError> {
        list.iter()
            .map(|s| {
                Ok(match self.expand(s)? {
                    Cow::Borrowed(b) => lower(b),
                    Cow::Owned(o) => Cow::Owned(o.to_ascii_lowercase()),
                })
            })
            .collect()
    }

    fn flag_list(&self, list: &Option<Vec<Str>>) -> Result<Vec<String>, RunError> {
        Ok(match list {
            Some(list) => {
                let expanded = self.expand_all(list)?;
                flags::parse(expanded.iter().map(|c| c.as_ref()))
            }
            None => flags::parse([self.flags.as_str()]),
        })
    }

    fn command(&mut self, c: &Command) -> Result<Flow, RunError> {
        self.budget.step()?;
        match c {
            Command::If {
                branches,
                otherwise,
            } => {
                for (test, block) in branches {
                    if self.test(test)? {
                        return self.block(block);
                    }
                }
                if let Some(block) = otherwise {
                    return self.block(block);
                }
            }
            Command::Stop => return Ok(Flow::Stop),
            Command::Keep { flags } => {
                let flags = self.flag_list(flags)?;
                self.act(Action::Keep { flags })?;
                self.implicit_keep = false;
            }
            Command::Discard => {
                self.act(Action::Discard)?;
                self.implicit_keep = false;
            }
            Command::Redirect { address, copy } => {
                let address = self.expand(address)?.trim().to_string();
                if !plausible_address(&address) {
                    return Err(RunError::InvalidAddress { address });
                }
                self.redirects += 1;
                if self.redirects > self.limits.max_redirects {
                    return Err(RunError::TooManyRedirects {
                        max: self.limits.max_redirects,
                    });
                }
                self.act(Action::Redirect {
                    address,
                    copy: *copy,
                })?;
                if !copy {
                    self.implicit_keep = false;
                }
            }
            Command::FileInto {
                mailbox,
                flags,
                copy,
            } => {
                let mailbox = self.expand(mailbox)?.into_owned();
                let flags = self.flag_list(flags)?;
                self.act(Action::FileInto {
                    mailbox,
                    flags,
                    copy: *copy,
                })?;
                if !copy {
                    self.implicit_keep = false;
                }
            }
            Command::Reject { reason, ereject } => {
                let reason = self.expand(reason)?.into_owned();
                self.act(Action::Reject {
                    reason,
                    ereject: *ereject,
                })?;
                self.implicit_keep = false;
            }
            Command::Flag {
                op,
                variable,
                flags: list,
            } => {
                let expanded = self.expand_all(list)?;
                let new = flags::parse(expanded.iter().map(|c| c.as_ref()));
                match variable {
                    None => self.flags = flags::update(*op, &self.flags, &new),
                    Some(name) => {
                        let current = self.vars.named.get(name).map(String::as_str).unwrap_or("");
                        let value = flags::update(*op, current, &new);
                        self.set_var(name, value)?;
                    }
                }
            }
            Command::Set {
                name,
                value,
                modifiers,
            } => {
                let value = self.expand(value)?.into_owned();
                let value = apply_modifiers(value, modifiers);
                self.set_var(name, value)?;
            }
            Command::Vacation(v) => {
                if self.vacation_ran {
                    return Err(RunError::DuplicateVacation);
                }
                self.vacation_ran = true;
                let subject = v.subject.as_ref().map(|s| self.expand(s)).transpose()?;
                let from = v.from.as_ref().map(|s| self.expand(s)).transpose()?;
                let handle = v.handle.as_ref().map(|s| self.expand(s)).transpose()?;
                let reason = self.expand(&v.reason)?;
                let addresses: Vec<String> = self
                    .expand_all(&v.addresses)?
                    .into_iter()
                    .map(Cow::into_owned)
                    .collect();
                let reply = VacationReply {
                    handle: match handle {
                        Some(h) => h.into_owned(),
                        None => vacation::default_handle(
                            subject.as_deref(),
                            from.as_deref(),
                            v.mime,
                            &reason,
                        ),
                    },
                    days: vacation::days(v.days),
                    subject: match subject {
                        Some(s) => s.into_owned(),
                        None => vacation::default_subject(self.msg.first("subject")),
                    },
                    from: from.map(Cow::into_owned),
                    reason: reason.into_owned(),
                    mime: v.mime,
                    reply_to: self.input.envelope_from.to_string(),
                    in_reply_to: self.msg.first("message-id").map(str::to_string),
                    addresses,
                };
                // Conflicts and limits apply whether or not the reply is sent.
                self.check(&Action::Vacation(Box::new(reply.clone())))?;
                self.executed += 1;
                match vacation::suppressed(&self.msg, self.input, &reply.addresses) {
                    Some(why) => self.vacation_suppressed = Some(why),
                    None => self.actions.push(Action::Vacation(Box::new(reply))),
                }
            }
        }
        Ok(Flow::Next)
    }

    fn set_var(&mut self, name: &str, value: String) -> Result<(), RunError> {
        if value.len() > self.limits.max_variable_bytes {
            return Err(RunError::StringTooLong {
                len: value.len(),
                max: self.limits.max_variable_bytes,
            });
        }
        if !self.vars.named.contains_key(name) && self.vars.named.len() >= self.limits.max_variables
        {
            return Err(RunError::TooManyVariables {
                max: self.limits.max_variables,
            });
        }
        self.vars.named.insert(name.to_string(), value);
        Ok(())
    }

    /// Checks an action against the limits and the actions so far (RFC 5429 §2.1).
    fn check(&self, action: &Action) -> Result<(), RunError> {
        if self.executed >= self.limits.max_actions {
            return Err(RunError::TooManyActions {
                max: self.limits.max_actions,
            });
        }
        let is_reject = matches!(action, Action::Reject { .. });
        let clashes_with_reject = |a: &Action| {
            matches!(
                a,
                Action::Keep { .. }
                    | Action::FileInto { .. }
                    | Action::Redirect { .. }
                    | Action::Vacation(_)
                    | Action::Reject { .. }
            )
        };
        let vacation_ran = self.vacation_ran && !matches!(action, Action::Vacation(_));
        for earlier in &self.actions {
            let conflict = if is_reject {
                clashes_with_reject(earlier)
            } else {
                matches!(earlier, Action::Reject { .. }) && clashes_with_reject(action)
            };
            if conflict {
                return Err(RunError::Conflict {
                    first: earlier.name(),
                    second: action.name(),
                });
            }
        }
        // A suppressed vacation left no action behind but still clashes with reject.
        if is_reject && vacation_ran {
            return Err(RunError::Conflict {
                first: "vacation",
                second: action.name(),
            });
        }
        Ok(())
    }

    /// Records an action, merging repeats (RFC 5228 §2.10.3).
    fn act(&mut self, action: Action) -> Result<(), RunError> {
        self.check(&action)?;
        self.executed += 1;
        for earlier in &mut self.actions {
            match (earlier, &action) {
                (Action::Keep { flags: a }, Action::Keep { flags: b }) => {
                    merge_flags(a, b);
                    return Ok(());
                }
                (
                    Action::FileInto {
                        mailbox: m1,
                        flags: a,
                        copy: c1,
                    },
                    Action::FileInto {
                        mailbox: m2,
                        flags: b,
                        copy: c2,
                    },
                ) if m1 == m2 => {
                    merge_flags(a, b);
                    *c1 = *c1 && *c2;
                    return Ok(());
                }
                (
                    Action::Redirect {
                        address: a1,
                        copy: c1,
                    },
                    Action::Redirect {
                        address: a2,
                        copy: c2,
                    },
                ) if a1.eq_ignore_ascii_case(a2) => {
                    *c1 = *c1 && *c2;
                    return Ok(());
                }
                (Action::Discard, Action::Discard) => return Ok(()),
                _ => {}
            }
        }
        self.actions.push(action);
        Ok(())
    }

    fn test(&mut self, t: &Test) -> Result<bool, RunError> {
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
                    .flat_map(|n| msg.addresses(n).map(move |a| address_part(a, part)));
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
                let values = parts.iter().map(|p| match p {
                    // RFC 5228 §5.4: the null reverse-path compares as "".
                    EnvelopePart::From if from.is_empty() => "",
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
                any_match(
                    *compare,
                    sources.iter().map(|s| s.as_ref()),
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

fn address_part(addr: &str, part: AddressPart) -> &str {
    match part {
        AddressPart::All => addr,
        AddressPart::LocalPart => split_address(addr).0,
        AddressPart::Domain => split_address(addr).1,
    }
}

fn merge_flags(into: &mut Vec<String>, more: &[String]) {
    for f in more {
        if !into.iter().any(|i| i.eq_ignore_ascii_case(f)) {
            into.push(f.clone());
        }
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

//! Runs a parsed script over one message and says what to do with it: commands and
//! actions here, tests in `conditions.rs`.
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
    ast::{Command, Str},
    budget::Budget,
    error::RunError,
    flags,
    message::MessageView,
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
    pub(crate) limits: &'s Limits,
    /// Whether the script required "variables" (so `:matches` must keep captures).
    pub(crate) captures: bool,
    /// The envelope and message.
    pub(crate) input: &'a Input<'a>,
    /// The parsed message.
    pub(crate) msg: MessageView<'a>,
    /// `set` variables and match variables.
    pub(crate) vars: Variables,
    /// The internal flag variable (RFC 5232 §3), space-separated flags.
    pub(crate) flags: String,
    /// What is left of the step budget.
    pub(crate) budget: Budget,
    /// Actions so far, in order.
    pub(crate) actions: Vec<Action>,
    /// Actions executed, counting repeats, for `Limits::max_actions`.
    pub(crate) executed: usize,
    /// Redirects executed, for `Limits::max_redirects`.
    pub(crate) redirects: usize,
    /// Whether implicit keep still holds.
    pub(crate) implicit_keep: bool,
    /// Whether vacation ran (it may run once).
    pub(crate) vacation_ran: bool,
    /// Why a vacation reply was dropped, if one was.
    pub(crate) vacation_suppressed: Option<vacation::VacationSuppressed>,
}

impl<'s, 'a> Run<'s, 'a> {
    pub(crate) fn new(limits: &'s Limits, captures: bool, input: &'a Input<'a>) -> Self {
        Self {
            limits,
            captures,
            input,
            msg: MessageView::new(input.message),
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

    pub(crate) fn expand<'x>(&self, s: &'x Str) -> Result<Cow<'x, str>, RunError> {
        self.vars.expand(s, self.limits.max_expanded_bytes)
    }

    pub(crate) fn expand_all<'x>(&self, list: &'x [Str]) -> Result<Vec<Cow<'x, str>>, RunError> {
        list.iter().map(|s| self.expand(s)).collect()
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
}

fn merge_flags(into: &mut Vec<String>, more: &[String]) {
    for f in more {
        if !into.iter().any(|i| i.eq_ignore_ascii_case(f)) {
            into.push(f.clone());
        }
    }
}

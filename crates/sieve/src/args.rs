//! A command's or test's arguments as the parser consumes them: tagged arguments
//! first, then positional ones (RFC 5228 §2.6), each with its position for errors.

use std::collections::VecDeque;

use crate::{
    ast::{Str, StrList},
    error::{ParseError, ParseErrorKind, Pos},
    grammar::RawArg,
    parser::{bad, err},
    variables,
};

/// A command's or test's arguments, consumed in order: tags first, then positional.
pub(crate) struct Args {
    /// The command or test, for messages.
    pub(crate) name: String,
    /// Where it starts, for messages about missing arguments.
    pos: Pos,
    /// What is left.
    items: VecDeque<RawArg>,
    /// Whether strings are split into variable references.
    variables: bool,
}

impl Args {
    pub(crate) fn new(name: &str, pos: Pos, raw: Vec<RawArg>, variables: bool) -> Self {
        Self {
            name: name.to_string(),
            pos,
            items: raw.into(),
            variables,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn tag(&mut self) -> Option<(String, Pos)> {
        if let Some(RawArg::Tag(..)) = self.items.front()
            && let Some(RawArg::Tag(t, p)) = self.items.pop_front()
        {
            return Some((t, p));
        }
        None
    }

    pub(crate) fn unknown_tag(&self, tag: &str, at: Pos) -> ParseError {
        bad(&self.name, at, &format!("unknown or misplaced tag :{tag}"))
    }

    pub(crate) fn missing(&self, what: &str) -> ParseError {
        match self.items.front() {
            Some(arg) => bad(
                &self.name,
                arg.pos(),
                &format!("expected {what}, found {}", describe(arg)),
            ),
            None => bad(&self.name, self.pos, &format!("{what} is missing")),
        }
    }

    pub(crate) fn string_at(&mut self, what: &str) -> Result<(String, Pos), ParseError> {
        match self.items.front() {
            Some(RawArg::String(..)) => match self.items.pop_front() {
                Some(RawArg::String(s, p)) => Ok((s, p)),
                _ => Err(self.missing(what)),
            },
            _ => Err(self.missing(what)),
        }
    }

    pub(crate) fn string_list_at(&mut self, what: &str) -> Result<(Vec<String>, Pos), ParseError> {
        match self.items.front() {
            Some(RawArg::String(..) | RawArg::List(..)) => match self.items.pop_front() {
                Some(RawArg::String(s, p)) => Ok((vec![s], p)),
                Some(RawArg::List(l, p)) => Ok((l, p)),
                _ => Err(self.missing(what)),
            },
            _ => Err(self.missing(what)),
        }
    }

    pub(crate) fn string_list(&mut self, what: &str) -> Result<Vec<String>, ParseError> {
        Ok(self.string_list_at(what)?.0)
    }

    pub(crate) fn to_str(&self, text: String, at: Pos) -> Result<Str, ParseError> {
        if !self.variables {
            return Ok(Str::Lit(text));
        }
        variables::split(text).map_err(|name| err(at, ParseErrorKind::BadVariableName(name)))
    }

    pub(crate) fn str(&mut self, what: &str) -> Result<Str, ParseError> {
        let (s, at) = self.string_at(what)?;
        self.to_str(s, at)
    }

    pub(crate) fn str_list(&mut self, what: &str) -> Result<StrList, ParseError> {
        let (list, at) = self.string_list_at(what)?;
        list.into_iter().map(|s| self.to_str(s, at)).collect()
    }

    pub(crate) fn number(&mut self, what: &str) -> Result<u64, ParseError> {
        match self.items.front() {
            Some(RawArg::Number(n, _)) => {
                let n = *n;
                self.items.pop_front();
                Ok(n)
            }
            _ => Err(self.missing(what)),
        }
    }

    pub(crate) fn done(&self) -> Result<(), ParseError> {
        match self.items.front() {
            None => Ok(()),
            Some(arg) => Err(bad(
                &self.name,
                arg.pos(),
                &format!("unexpected {}", describe(arg)),
            )),
        }
    }
}

fn describe(arg: &RawArg) -> String {
    match arg {
        RawArg::Tag(t, _) => format!("tag :{t}"),
        RawArg::Number(n, _) => format!("number {n}"),
        RawArg::String(..) => "a string".to_string(),
        RawArg::List(..) => "a string list".to_string(),
    }
}

//! From the generic grammar tree to the typed script: `require` handling, and each
//! command's and test's arguments checked against RFC 5228 and the extensions' RFCs.
//!
//! Rules of the house:
//! - Everything that can be decided without a message is decided here, so authors hear
//!   about it from CHECKSCRIPT rather than at delivery time.
//! - An extension's command, test or tag without its `require` is an error
//!   (RFC 5228 §3.2), as is a `require` of anything not in [`crate::CAPABILITIES`].

use std::collections::HashSet;

use crate::{
    CAPABILITIES,
    args::Args,
    ast::{
        AddressPart, BodyTransform, Command, Compare, EnvelopePart, FlagOp, Modifier, Str, StrList,
        Test, Vacation,
    },
    encoded,
    error::{ParseError, ParseErrorKind, Pos},
    grammar::{RawArg, RawCommand, RawTest, RawTests},
    matching::{Comparator, MatchType, RelOp},
    variables,
};

/// What the script declared with `require`.
pub(crate) struct Parser {
    /// Capabilities required, lower-cased.
    required: HashSet<String>,
}

impl Parser {
    /// Turns the grammar tree into typed commands.
    pub(crate) fn build(raw: Vec<RawCommand>) -> Result<(Vec<Command>, Vec<String>), ParseError> {
        let mut parser = Parser {
            required: HashSet::new(),
        };
        let mut order = Vec::new();
        let mut rest = Vec::new();
        let mut seen_other = false;
        for cmd in raw {
            if cmd.name == "require" {
                if seen_other {
                    return Err(err(cmd.pos, ParseErrorKind::RequireNotFirst));
                }
                for cap in parser.require(cmd)? {
                    if parser.required.insert(cap.clone()) {
                        order.push(cap);
                    }
                }
            } else {
                seen_other = true;
                rest.push(cmd);
            }
        }
        let commands = parser.block(rest)?;
        Ok((commands, order))
    }

    fn require(&self, cmd: RawCommand) -> Result<Vec<String>, ParseError> {
        let mut args = Args::new(&cmd.name, cmd.pos, cmd.args, false);
        let caps = args.string_list("capabilities")?;
        args.done()?;
        no_tests_or_block(&cmd.name, cmd.pos, &cmd.tests, &cmd.block)?;
        let mut out = Vec::new();
        for cap in caps {
            let lower = cap.to_ascii_lowercase();
            if !CAPABILITIES.contains(&lower.as_str()) {
                return Err(err(cmd.pos, ParseErrorKind::UnknownCapability(cap)));
            }
            out.push(lower);
        }
        Ok(out)
    }

    fn has(&self, cap: &str) -> bool {
        self.required.contains(cap)
    }

    fn need(&self, cap: &str, what: &str, pos: Pos) -> Result<(), ParseError> {
        if self.has(cap) {
            Ok(())
        } else {
            Err(err(
                pos,
                ParseErrorKind::NotRequired {
                    what: what.to_string(),
                    capability: cap.to_string(),
                },
            ))
        }
    }

    /// A command's arguments, `${hex:..}`/`${unicode:..}` decoded first if the script
    /// requires "encoded-character".
    fn args(&self, name: &str, pos: Pos, mut raw: Vec<RawArg>) -> Result<Args, ParseError> {
        if self.has("encoded-character") {
            for arg in &mut raw {
                let at = arg.pos();
                let fail = |m: String| bad(name, at, &m);
                match arg {
                    RawArg::String(s, _) => *s = encoded::decode(s).map_err(fail)?,
                    RawArg::List(list, _) => {
                        for s in list {
                            *s = encoded::decode(s).map_err(fail)?;
                        }
                    }
                    RawArg::Tag(..) | RawArg::Number(..) => {}
                }
            }
        }
        Ok(Args::new(name, pos, raw, self.has("variables")))
    }

    /// A list of commands: folds `elsif`/`else` into the `if` before them.
    fn block(&self, raw: Vec<RawCommand>) -> Result<Vec<Command>, ParseError> {
        let mut out: Vec<Command> = Vec::with_capacity(raw.len());
        // Whether the last command is an `if` that may still take `elsif`/`else`.
        let mut open_if = false;
        for cmd in raw {
            match cmd.name.as_str() {
                "elsif" | "else" => {
                    let Some(Command::If {
                        branches,
                        otherwise,
                    }) = out.last_mut().filter(|_| open_if)
                    else {
                        return Err(err(cmd.pos, ParseErrorKind::OrphanElse(cmd.name)));
                    };
                    if cmd.name == "elsif" {
                        let (test, block) = self.conditional(cmd)?;
                        branches.push((test, block));
                    } else {
                        let name = cmd.name.clone();
                        let args = self.args(&name, cmd.pos, cmd.args)?;
                        args.done()?;
                        if cmd.tests.is_some() {
                            return Err(bad(&name, cmd.pos, "takes no test"));
                        }
                        let Some(block) = cmd.block else {
                            return Err(bad(&name, cmd.pos, "needs a block"));
                        };
                        *otherwise = Some(self.block(block)?);
                        open_if = false;
                    }
                }
                "if" => {
                    let (test, block) = self.conditional(cmd)?;
                    out.push(Command::If {
                        branches: vec![(test, block)],
                        otherwise: None,
                    });
                    open_if = true;
                }
                "require" => return Err(err(cmd.pos, ParseErrorKind::RequireNotFirst)),
                _ => {
                    out.push(self.command(cmd)?);
                    open_if = false;
                }
            }
        }
        Ok(out)
    }

    fn conditional(&self, cmd: RawCommand) -> Result<(Test, Vec<Command>), ParseError> {
        let args = self.args(&cmd.name, cmd.pos, cmd.args)?;
        args.done()?;
        let test = match cmd.tests {
            Some(RawTests::One(test)) => self.test(*test)?,
            Some(RawTests::List(_)) => {
                return Err(bad(&cmd.name, cmd.pos, "takes one test, not a test list"));
            }
            None => return Err(bad(&cmd.name, cmd.pos, "needs a test")),
        };
        let Some(block) = cmd.block else {
            return Err(bad(&cmd.name, cmd.pos, "needs a block"));
        };
        Ok((test, self.block(block)?))
    }

    /// An action or `stop`/`set`: arguments, then `;`.
    fn command(&self, cmd: RawCommand) -> Result<Command, ParseError> {
        let name = cmd.name.as_str();
        let pos = cmd.pos;
        no_tests_or_block(name, pos, &cmd.tests, &cmd.block)?;
        let mut args = self.args(name, pos, cmd.args)?;
        let command = match name {
            "stop" => Command::Stop,
            "discard" => Command::Discard,
            "keep" => {
                let mut flags = None;
                while let Some((tag, at)) = args.tag() {
                    match tag.as_str() {
                        "flags" => {
                            self.need("imap4flags", ":flags", at)?;
                            flags = Some(args.str_list("the :flags list")?);
                        }
                        _ => return Err(args.unknown_tag(&tag, at)),
                    }
                }
                Command::Keep { flags }
            }
            "redirect" => {
                let mut copy = false;
                while let Some((tag, at)) = args.tag() {
                    match tag.as_str() {
                        "copy" => {
                            self.need("copy", ":copy", at)?;
                            copy = true;
                        }
                        _ => return Err(args.unknown_tag(&tag, at)),
                    }
                }
                let address = args.str("the address")?;
                if let Str::Lit(a) = &address
                    && !plausible_address(a)
                {
                    return Err(bad(name, pos, "the address is not a valid mail address"));
                }
                Command::Redirect { address, copy }
            }
            "fileinto" => {
                self.need("fileinto", "fileinto", pos)?;
                let (mut copy, mut flags) = (false, None);
                while let Some((tag, at)) = args.tag() {
                    match tag.as_str() {
                        "copy" => {
                            self.need("copy", ":copy", at)?;
                            copy = true;
                        }
                        "flags" => {
                            self.need("imap4flags", ":flags", at)?;
                            flags = Some(args.str_list("the :flags list")?);
                        }
                        _ => return Err(args.unknown_tag(&tag, at)),
                    }
                }
                let mailbox = args.str("the mailbox")?;
                Command::FileInto {
                    mailbox,
                    flags,
                    copy,
                }
            }
            "reject" | "ereject" => {
                self.need(name, name, pos)?;
                let reason = args.str("the reason")?;
                Command::Reject {
                    reason,
                    ereject: name == "ereject",
                }
            }
            "setflag" | "addflag" | "removeflag" => {
                self.need("imap4flags", name, pos)?;
                let op = match name {
                    "setflag" => FlagOp::Set,
                    "addflag" => FlagOp::Add,
                    _ => FlagOp::Remove,
                };
                let variable = if args.len() == 2 {
                    let (var, at) = args.string_at("the variable name")?;
                    if !variables::is_identifier(&var) {
                        return Err(err(at, ParseErrorKind::BadVariableName(var)));
                    }
                    Some(var.to_ascii_lowercase())
                } else {
                    None
                };
                let flags = args.str_list("the flags")?;
                Command::Flag {
                    op,
                    variable,
                    flags,
                }
            }
            "set" => {
                self.need("variables", "set", pos)?;
                let mut modifiers: Vec<Modifier> = Vec::new();
                while let Some((tag, at)) = args.tag() {
                    let m = match tag.as_str() {
                        "lower" => Modifier::Lower,
                        "upper" => Modifier::Upper,
                        "lowerfirst" => Modifier::LowerFirst,
                        "upperfirst" => Modifier::UpperFirst,
                        "quotewildcard" => Modifier::QuoteWildcard,
                        "length" => Modifier::Length,
                        _ => return Err(args.unknown_tag(&tag, at)),
                    };
                    // RFC 5229 §4.1: two modifiers of one precedence are an error.
                    if modifiers.iter().any(|o| o.precedence() == m.precedence()) {
                        return Err(bad(
                            name,
                            at,
                            &format!(
                                ":{tag} cannot be combined with a modifier of the same precedence"
                            ),
                        ));
                    }
                    modifiers.push(m);
                }
                modifiers.sort_by_key(|m| std::cmp::Reverse(m.precedence()));
                let (var, at) = args.string_at("the variable name")?;
                if !variables::is_identifier(&var) {
                    return Err(err(at, ParseErrorKind::BadVariableName(var)));
                }
                let value = args.str("the value")?;
                Command::Set {
                    name: var.to_ascii_lowercase(),
                    value,
                    modifiers,
                }
            }
            "vacation" => {
                self.need("vacation", name, pos)?;
                self.vacation(&mut args)?
            }
            _ => return Err(err(pos, ParseErrorKind::UnknownCommand(name.to_string()))),
        };
        args.done()?;
        Ok(command)
    }

    fn vacation(&self, args: &mut Args) -> Result<Command, ParseError> {
        let mut v = Vacation {
            days: None,
            subject: None,
            from: None,
            addresses: Vec::new(),
            mime: false,
            handle: None,
            reason: Str::Lit(String::new()),
        };
        while let Some((tag, at)) = args.tag() {
            match tag.as_str() {
                "days" => v.days = Some(args.number(":days")?),
                "subject" => v.subject = Some(args.str(":subject")?),
                "from" => v.from = Some(args.str(":from")?),
                "addresses" => v.addresses = args.str_list(":addresses")?,
                "mime" => v.mime = true,
                "handle" => v.handle = Some(args.str(":handle")?),
                _ => return Err(args.unknown_tag(&tag, at)),
            }
        }
        v.reason = args.str("the reason")?;
        Ok(Command::Vacation(Box::new(v)))
    }

    fn tests(
        &self,
        name: &str,
        pos: Pos,
        tests: Option<RawTests>,
    ) -> Result<Vec<Test>, ParseError> {
        match tests {
            Some(RawTests::List(list)) => list.into_iter().map(|t| self.test(t)).collect(),
            _ => Err(bad(name, pos, "needs a test list in parentheses")),
        }
    }

    fn test(&self, raw: RawTest) -> Result<Test, ParseError> {
        let name = raw.name.as_str();
        let pos = raw.pos;
        if !matches!(name, "not" | "allof" | "anyof") && raw.tests.is_some() {
            return Err(bad(name, pos, "takes no test inside it"));
        }
        let mut args = self.args(name, pos, raw.args)?;
        let test = match name {
            "true" => Test::True,
            "false" => Test::False,
            "not" => match raw.tests {
                Some(RawTests::One(t)) => Test::Not(Box::new(self.test(*t)?)),
                _ => return Err(bad(name, pos, "takes exactly one test")),
            },
            "allof" => Test::AllOf(self.tests(name, pos, raw.tests)?),
            "anyof" => Test::AnyOf(self.tests(name, pos, raw.tests)?),
            "address" | "envelope" => {
                if name == "envelope" {
                    self.need("envelope", name, pos)?;
                }
                let mut tags = MatchTags::default();
                while let Some((tag, at)) = args.tag() {
                    if !self.match_tag(&mut tags, &tag, at, &mut args, true)? {
                        return Err(args.unknown_tag(&tag, at));
                    }
                }
                let compare = tags.compare(pos)?;
                let part = tags.part.unwrap_or_default();
                if name == "address" {
                    let headers = lower_names(args.str_list("the header list")?);
                    let keys = args.str_list("the key list")?;
                    Test::Address {
                        compare,
                        part,
                        headers,
                        keys,
                    }
                } else {
                    let (names, at) = args.string_list_at("the envelope part")?;
                    let mut parts = Vec::new();
                    for n in names {
                        parts.push(match n.to_ascii_lowercase().as_str() {
                            "from" => EnvelopePart::From,
                            "to" => EnvelopePart::To,
                            _ => {
                                return Err(bad(
                                    name,
                                    at,
                                    &format!("unknown envelope part \"{n}\" (\"from\" or \"to\")"),
                                ));
                            }
                        });
                    }
                    let keys = args.str_list("the key list")?;
                    Test::Envelope {
                        compare,
                        part,
                        parts,
                        keys,
                    }
                }
            }
            "header" | "string" | "hasflag" | "body" => {
                match name {
                    "string" => self.need("variables", name, pos)?,
                    "hasflag" => self.need("imap4flags", name, pos)?,
                    "body" => self.need("body", name, pos)?,
                    _ => {}
                }
                let mut tags = MatchTags::default();
                let mut transform = None;
                while let Some((tag, at)) = args.tag() {
                    if self.match_tag(&mut tags, &tag, at, &mut args, false)? {
                        continue;
                    }
                    if name == "body" && transform.is_none() {
                        match tag.as_str() {
                            "raw" => transform = Some(BodyTransform::Raw),
                            "text" => transform = Some(BodyTransform::Text),
                            "content" => {
                                transform = Some(BodyTransform::Content(
                                    args.string_list("the :content types")?,
                                ))
                            }
                            _ => return Err(args.unknown_tag(&tag, at)),
                        }
                        continue;
                    }
                    return Err(args.unknown_tag(&tag, at));
                }
                let compare = tags.compare(pos)?;
                match name {
                    "header" => Test::Header {
                        compare,
                        headers: lower_names(args.str_list("the header names")?),
                        keys: args.str_list("the key list")?,
                    },
                    "string" => Test::String {
                        compare,
                        sources: args.str_list("the source list")?,
                        keys: args.str_list("the key list")?,
                    },
                    "body" if matches!(compare.match_type, MatchType::Count(_)) => {
                        return Err(bad(name, pos, ":count cannot be used with body"));
                    }
                    "body" => Test::Body {
                        compare,
                        transform: transform.unwrap_or_default(),
                        keys: args.str_list("the key list")?,
                    },
                    _ => {
                        let variables = if args.len() == 2 {
                            Some(args.str_list("the variable list")?)
                        } else {
                            None
                        };
                        Test::HasFlag {
                            compare,
                            variables,
                            keys: args.str_list("the flags")?,
                        }
                    }
                }
            }
            "exists" => Test::Exists(lower_names(args.str_list("the header names")?)),
            "size" => {
                let over = match args.tag() {
                    Some((t, _)) if t == "over" => true,
                    Some((t, _)) if t == "under" => false,
                    Some((t, at)) => return Err(args.unknown_tag(&t, at)),
                    None => return Err(bad(name, pos, "needs :over or :under")),
                };
                Test::Size {
                    over,
                    limit: args.number("the limit")?,
                }
            }
            _ => return Err(err(pos, ParseErrorKind::UnknownTest(name.to_string()))),
        };
        args.done()?;
        Ok(test)
    }

    /// Handles a match-type, comparator or (if `address`) address-part tag; false if the
    /// tag is none of these.
    fn match_tag(
        &self,
        tags: &mut MatchTags,
        tag: &str,
        at: Pos,
        args: &mut Args,
        address: bool,
    ) -> Result<bool, ParseError> {
        let cmd = args.name.clone();
        let twice = |what: &str| bad(&cmd, at, &format!("{what} given twice"));
        match tag {
            "is" | "contains" | "matches" | "value" | "count" => {
                if tags.match_type.is_some() {
                    return Err(twice("match type"));
                }
                tags.match_type = Some(match tag {
                    "is" => MatchType::Is,
                    "contains" => MatchType::Contains,
                    "matches" => MatchType::Matches,
                    _ => {
                        self.need("relational", &format!(":{tag}"), at)?;
                        let (name, opos) = args.string_at("the relational operator")?;
                        let Some(op) = RelOp::from_name(&name) else {
                            return Err(bad(
                                &cmd,
                                opos,
                                &format!(
                                    "unknown relational operator \"{name}\" (gt, ge, lt, le, eq or ne)"
                                ),
                            ));
                        };
                        if tag == "value" {
                            MatchType::Value(op)
                        } else {
                            MatchType::Count(op)
                        }
                    }
                });
            }
            "comparator" => {
                if tags.comparator.is_some() {
                    return Err(twice(":comparator"));
                }
                let (cname, cpos) = args.string_at("the comparator name")?;
                let Some(c) = Comparator::from_name(&cname) else {
                    return Err(err(cpos, ParseErrorKind::UnknownComparator(cname)));
                };
                if c == Comparator::AsciiNumeric {
                    self.need(
                        "comparator-i;ascii-numeric",
                        "comparator \"i;ascii-numeric\"",
                        cpos,
                    )?;
                }
                tags.comparator = Some(c);
            }
            "all" | "localpart" | "domain" if address => {
                if tags.part.is_some() {
                    return Err(twice("address part"));
                }
                tags.part = Some(match tag {
                    "all" => AddressPart::All,
                    "localpart" => AddressPart::LocalPart,
                    _ => AddressPart::Domain,
                });
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The optional tags of a matching test.
#[derive(Default)]
struct MatchTags {
    /// `:comparator`, if given.
    comparator: Option<Comparator>,
    /// `:is`, `:contains` or `:matches`, if given.
    match_type: Option<MatchType>,
    /// `:all`, `:localpart` or `:domain`, if given (address and envelope only).
    part: Option<AddressPart>,
}

impl MatchTags {
    /// The comparison, checked: i;ascii-numeric does equality only.
    fn compare(&self, pos: Pos) -> Result<Compare, ParseError> {
        let compare = Compare {
            comparator: self.comparator.unwrap_or_default(),
            match_type: self.match_type.unwrap_or_default(),
        };
        if compare.comparator == Comparator::AsciiNumeric
            && matches!(compare.match_type, MatchType::Contains | MatchType::Matches)
        {
            return Err(err(
                pos,
                ParseErrorKind::ComparatorMismatch {
                    comparator: compare.comparator.name().to_string(),
                    match_type: compare.match_type.name().to_string(),
                },
            ));
        }
        Ok(compare)
    }
}

/// Header names are case-insensitive: literal ones are lower-cased once here.
fn lower_names(list: StrList) -> StrList {
    list.into_iter()
        .map(|s| match s {
            Str::Lit(t) => Str::Lit(t.to_ascii_lowercase()),
            other => other,
        })
        .collect()
}

/// A loose check of a literal redirect address: `local@domain`, no spaces or angle
/// brackets (RFC 5228 §4.2 requires a valid address; the pipeline checks it fully).
pub(crate) fn plausible_address(a: &str) -> bool {
    match a.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !a
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ','))
        }
        None => false,
    }
}

fn no_tests_or_block(
    name: &str,
    pos: Pos,
    tests: &Option<RawTests>,
    block: &Option<Vec<RawCommand>>,
) -> Result<(), ParseError> {
    if tests.is_some() {
        return Err(bad(name, pos, "takes no test (is a `;` missing after it?)"));
    }
    if block.is_some() {
        return Err(bad(name, pos, "takes no block; end it with `;`"));
    }
    Ok(())
}

pub(crate) fn err(pos: Pos, kind: ParseErrorKind) -> ParseError {
    ParseError { pos, kind }
}

pub(crate) fn bad(command: &str, pos: Pos, message: &str) -> ParseError {
    err(
        pos,
        ParseErrorKind::BadArguments {
            command: command.to_string(),
            message: message.to_string(),
        },
    )
}

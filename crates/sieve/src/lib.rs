//! twinmail's Sieve: a parser and interpreter for RFC 5228 mail filters, with the
//! extensions delivery needs: fileinto, reject and ereject (RFC 5429), envelope, body
//! (RFC 5173), variables (RFC 5229), imap4flags (RFC 5232), vacation (RFC 5230) and copy
//! (RFC 3894), relational (RFC 5231), and the comparators i;octet, i;ascii-casemap and
//! i;ascii-numeric.
//!
//! Hand-written: no Sieve crate with a usable licence exists: sieve-rs is AGPL.
//!
//! Rules of the house:
//! - A script is parsed once ([`Script::parse`]) and run once per message
//!   ([`Script::run`]). Parsing decides everything the message does not; a run only
//!   fails on a limit, a conflict between actions or a bad expanded address.
//! - Nothing here does I/O or keeps state between runs: the outcome says what to do,
//!   the delivery pipeline does it (and keeps the vacation once-per-days database).
//! - Every input is hostile: the script's size and nesting, the actions, variables and
//!   run time are all capped by [`Limits`], and hitting a cap is an error value, never a
//!   panic or a hang.
//!
//! How far each RFC is implemented:
//! - RFC 5228: all of it, "encoded-character" included; the address test accepts any
//!   header that holds addresses.
//! - RFC 5173 (body): `:raw`, `:text`, `:content`; `:content` does not look into the
//!   prologue/epilogue of multiparts or the header of message/rfc822 parts.
//! - RFC 5229 (variables): all of it; no namespaces (a `${ns.name}` is a parse error).
//! - RFC 5230 (vacation): all arguments; the once-per-days check is the caller's.
//! - RFC 5232 (imap4flags): all of it.
//! - RFC 5429 (reject/ereject) and RFC 3894 (copy): all of it; delivering the reject is
//!   the caller's.
//! - RFC 5231 (relational): `:value` and `:count` on every test but body.

#![forbid(unsafe_code)]

mod args;
mod ast;
mod budget;
mod conditions;
mod encoded;
mod error;
mod flags;
mod grammar;
mod html;
mod interpreter;
mod lexer;
mod limits;
mod matching;
mod message;
mod parser;
mod vacation;
mod variables;

pub use error::{ParseError, ParseErrorKind, Pos, RunError};
pub use limits::Limits;
pub use matching::{Comparator, MatchType, RelOp};
pub use vacation::VacationSuppressed;

/// The capabilities `require` accepts, as ManageSieve's SIEVE capability lists them
/// (RFC 5804 §1.7).
pub const CAPABILITIES: &[&str] = &[
    "fileinto",
    "reject",
    "ereject",
    "envelope",
    "body",
    "variables",
    "vacation",
    "imap4flags",
    "copy",
    "relational",
    "encoded-character",
    "comparator-i;octet",
    "comparator-i;ascii-casemap",
    "comparator-i;ascii-numeric",
];

/// The SIEVE capability string for ManageSieve: the capabilities separated by spaces.
pub fn capability_string() -> String {
    CAPABILITIES.join(" ")
}

/// A parsed script, ready to run on any number of messages.
#[derive(Debug, Clone)]
pub struct Script {
    /// The commands, checked and typed.
    commands: Vec<ast::Command>,
    /// The capabilities the script requires, lower-cased, in the order first required.
    required: Vec<String>,
    /// The limits given to `parse`, applied to every run.
    limits: Limits,
}

impl Script {
    /// Parses and checks a script. The error names the line and column of the problem
    /// and says what it is in words for the script's author.
    pub fn parse(src: &str, limits: &Limits) -> Result<Script, ParseError> {
        if src.len() > limits.max_script_bytes {
            return Err(ParseError {
                pos: Pos { line: 1, column: 1 },
                kind: ParseErrorKind::ScriptTooLarge {
                    size: src.len(),
                    max: limits.max_script_bytes,
                },
            });
        }
        let raw = grammar::Grammar::parse(src, limits.max_nesting)?;
        let (commands, required) = parser::Parser::build(raw)?;
        Ok(Script {
            commands,
            required,
            limits: limits.clone(),
        })
    }

    /// The capabilities the script requires, lower-cased.
    pub fn required(&self) -> &[String] {
        &self.required
    }

    /// Runs the script over one message. On `Err` the caller keeps the message in the
    /// INBOX (RFC 5228 §2.10.6) and logs the error.
    pub fn run(&self, input: &Input<'_>) -> Result<Outcome, RunError> {
        let captures = self.required.iter().any(|c| c == "variables");
        interpreter::Run::new(&self.limits, captures, input).run(&self.commands)
    }
}

/// What a run looks at.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// MAIL FROM as given in SMTP, angle brackets optional; `""` for the null
    /// reverse-path (a bounce).
    pub envelope_from: &'a str,
    /// The RCPT TO this delivery is for (one user's address).
    pub envelope_to: &'a str,
    /// The message as received, headers and body.
    pub message: &'a [u8],
    /// The message's size in bytes, for the size test (normally `message.len()`).
    pub size: u64,
    /// All of the user's addresses (primary and aliases). A vacation reply is sent only
    /// if one of them, `envelope_to` or a `:addresses` entry is in To/Cc/Bcc.
    pub user_addresses: &'a [String],
}

/// What to do with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The actions in the order the script executed them, repeats merged; when implicit
    /// keep survives, a final [`Action::Keep`] carries it.
    pub actions: Vec<Action>,
    /// Whether the final `Keep` (if any) is the implicit keep rather than an explicit
    /// `keep`.
    pub implicit_keep: bool,
    /// Set when a vacation action ran but no reply is due, and why (the action is then
    /// absent from `actions`).
    pub vacation_suppressed: Option<VacationSuppressed>,
}

/// One thing to do with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Store in the INBOX with these flags (from `:flags`, or the internal flag variable
    /// at the time of the keep; for implicit keep, at the end of the run).
    Keep {
        /// IMAP flags and keywords to set, system flags spelled `\Seen` etc.
        flags: Vec<String>,
    },
    /// Store in a mailbox.
    FileInto {
        /// The mailbox name as the script wrote it (after variable expansion); the caller
        /// validates it and decides what a missing mailbox means.
        mailbox: String,
        /// IMAP flags and keywords to set.
        flags: Vec<String>,
        /// `:copy` was given (RFC 3894): this action did not cancel implicit keep.
        copy: bool,
    },
    /// Forward the message unchanged to another address.
    Redirect {
        /// The address (`local@domain`), checked only loosely here.
        address: String,
        /// `:copy` was given: this action did not cancel implicit keep.
        copy: bool,
    },
    /// `discard` ran: implicit keep is cancelled. Other actions in the list (an
    /// explicit keep, a fileinto) still apply; alone, it means the message is dropped
    /// silently.
    Discard,
    /// Refuse the message: with an SMTP error if still in the session, else with a
    /// DSN/MDN (RFC 5429 §2.1, §2.2).
    Reject {
        /// The text for the sender.
        reason: String,
        /// `ereject`: prefer refusing in SMTP over a bounce.
        ereject: bool,
    },
    /// Send a vacation reply, if the caller's once-per-days database allows.
    Vacation(Box<VacationReply>),
}

impl Action {
    /// The action's Sieve name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Keep { .. } => "keep",
            Action::FileInto { .. } => "fileinto",
            Action::Redirect { .. } => "redirect",
            Action::Discard => "discard",
            Action::Reject { ereject: false, .. } => "reject",
            Action::Reject { ereject: true, .. } => "ereject",
            Action::Vacation(_) => "vacation",
        }
    }
}

/// A vacation reply to send (RFC 5230), already past every check the message alone
/// decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VacationReply {
    /// The key of the once-per-days database, with the sender: `:handle`, or a digest of
    /// `:subject`, `:from`, `:mime` and the reason (RFC 5230 §4.2).
    pub handle: String,
    /// Reply at most once per this many days to one sender: `:days`, default 7, kept
    /// within 1..=30.
    pub days: u32,
    /// The reply's Subject: `:subject`, or "Auto: " and the original subject (§4.3).
    pub subject: String,
    /// `:from`: the reply's From; `None` means the user's own address.
    pub from: Option<String>,
    /// `:addresses`: further addresses of the user's given by the script.
    pub addresses: Vec<String>,
    /// The reply's body text, or with `mime` a whole MIME entity.
    pub reason: String,
    /// `:mime`: `reason` is a MIME entity (headers and body).
    pub mime: bool,
    /// Where the reply goes: the envelope sender (RFC 5230 §4.5 says reply to the
    /// return path).
    pub reply_to: String,
    /// The original Message-ID, for the reply's In-Reply-To and References.
    pub in_reply_to: Option<String>,
}

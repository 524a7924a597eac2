//! The errors a script can give: at parse time (shown to the script's author by
//! ManageSieve CHECKSCRIPT/PUTSCRIPT and `twinmail sieve check`, so every one names a line
//! and a column) and at run time (the delivery falls back to implicit keep, RFC 5228
//! §2.10.6, and the reason goes to the log).

use std::fmt;

/// A place in the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line number, from 1; a CRLF or a bare LF ends a line.
    pub line: u32,
    /// Column, from 1, counted in Unicode characters (not bytes) from the line's start.
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// A script that cannot be accepted, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {kind}")]
pub struct ParseError {
    /// Where the offending token starts (for a whole-script problem such as its size,
    /// line 1 column 1).
    pub pos: Pos,
    /// What is wrong, worded for the script's author.
    pub kind: ParseErrorKind,
}

/// What is wrong with a script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The script is longer than [`crate::Limits::max_script_bytes`].
    #[error("the script is {size} bytes long; at most {max} are allowed")]
    ScriptTooLarge {
        /// The script's length in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// Blocks or tests nest deeper than [`crate::Limits::max_nesting`].
    #[error("blocks and tests nest deeper than the limit of {max}")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// A character that starts no Sieve token.
    #[error("unexpected character {0:?}")]
    UnexpectedChar(char),
    /// A `:` not followed by a tag name.
    #[error("`:` must be followed by a tag name")]
    BadTag,
    /// A quoted or `text:` string runs to the end of the script.
    #[error("string not terminated")]
    UnterminatedString,
    /// Something other than white space or a comment after `text:`.
    #[error("`text:` must be followed by the end of the line")]
    TextNotAtLineEnd,
    /// A `/*` comment runs to the end of the script.
    #[error("comment not terminated (`*/` missing)")]
    UnterminatedComment,
    /// A number too large for 64 bits once its K/M/G quantifier is applied.
    #[error("number too large")]
    NumberTooLarge,
    /// A token that the grammar does not allow here.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What the grammar allows here.
        expected: String,
        /// What the script has.
        found: String,
    },
    /// A command this implementation does not know.
    #[error("unknown command `{0}`")]
    UnknownCommand(String),
    /// A test this implementation does not know.
    #[error("unknown test `{0}`")]
    UnknownTest(String),
    /// `require` names a capability this implementation does not have.
    #[error("unsupported capability \"{0}\"")]
    UnknownCapability(String),
    /// A command, test, tag or comparator used without the `require` for it.
    #[error("{what} needs `require \"{capability}\"`")]
    NotRequired {
        /// The command, test or tag used.
        what: String,
        /// The capability to require.
        capability: String,
    },
    /// `require` after another command (RFC 5228 §3.2).
    #[error("`require` must come before any other command")]
    RequireNotFirst,
    /// `elsif`/`else` without an `if` before it.
    #[error("`{0}` must follow `if` or `elsif`")]
    OrphanElse(String),
    /// A command, test or tag given the wrong arguments.
    #[error("{command}: {message}")]
    BadArguments {
        /// The command or test.
        command: String,
        /// What is wrong with its arguments.
        message: String,
    },
    /// A comparator this implementation does not know.
    #[error("unknown comparator \"{0}\"")]
    UnknownComparator(String),
    /// A comparator that cannot do the match type (i;ascii-numeric has no substring
    /// matching, RFC 4790 §9.1).
    #[error("comparator \"{comparator}\" cannot be used with :{match_type}")]
    ComparatorMismatch {
        /// The comparator's name.
        comparator: String,
        /// The match type.
        match_type: String,
    },
    /// A variable name that is not an identifier, or names an unknown namespace
    /// (RFC 5229 §3).
    #[error("invalid variable name \"{0}\"")]
    BadVariableName(String),
}

/// Why a run stopped before it finished. The caller falls back to implicit keep
/// (RFC 5228 §2.10.6) and logs this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The run took more than [`crate::Limits::max_steps`] steps (commands, tests and
    /// comparisons, long strings costing more).
    #[error("the script ran longer than its budget of {max} steps")]
    StepBudget {
        /// The budget.
        max: u64,
    },
    /// More actions than [`crate::Limits::max_actions`].
    #[error("the script asked for more than {max} actions")]
    TooManyActions {
        /// The limit.
        max: usize,
    },
    /// More redirects than [`crate::Limits::max_redirects`] (RFC 5228 §4.2 lets an
    /// implementation cap them).
    #[error("the script asked for more than {max} redirects")]
    TooManyRedirects {
        /// The limit.
        max: usize,
    },
    /// More distinct variables than [`crate::Limits::max_variables`].
    #[error("the script set more than {max} variables")]
    TooManyVariables {
        /// The limit.
        max: usize,
    },
    /// A variable value or an expanded string longer than the limits allow.
    #[error("a string grew to {len} bytes; at most {max} are allowed")]
    StringTooLong {
        /// The length it would have had.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Two actions that cannot both happen (RFC 5429 §2.1: reject or ereject with keep,
    /// fileinto, redirect or vacation; or two rejects).
    #[error("`{first}` and `{second}` cannot both be executed")]
    Conflict {
        /// The action executed earlier.
        first: &'static str,
        /// The action that conflicts with it.
        second: &'static str,
    },
    /// A redirect to something that is not a mail address once variables are expanded.
    #[error("cannot redirect to \"{address}\": not a mail address")]
    InvalidAddress {
        /// The expanded address.
        address: String,
    },
    /// `vacation` executed twice (RFC 5230 §4.7).
    #[error("`vacation` can be executed only once per message")]
    DuplicateVacation,
}

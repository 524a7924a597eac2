//! The typed script: what `parser.rs` builds once and `interpreter.rs` runs for every
//! message. Every argument is checked here, at parse time, so a run only meets errors
//! that depend on the message (limits, conflicting actions).

use crate::matching::{Comparator, MatchType};

/// A string argument, split once at parse time into literal text and variable
/// references when the script requires "variables" (RFC 5229 §3); otherwise always
/// [`Str::Lit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Str {
    /// Text used as it is.
    Lit(String),
    /// Text with `${...}` references, expanded on each use.
    Parts(Vec<Part>),
}

/// One piece of a string with variable references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Literal text.
    Text(String),
    /// `${name}`: a variable set by `set` (or a flag command), lower-cased.
    Var(String),
    /// `${N}`: match variable N from the last successful `:matches`.
    Match(usize),
}

/// A string-list argument.
pub(crate) type StrList = Vec<Str>;

/// Which part of an address a test compares (RFC 5228 §2.7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum AddressPart {
    /// The whole `local@domain`.
    #[default]
    All,
    /// Before the last `@`.
    LocalPart,
    /// After the last `@`.
    Domain,
}

/// How a test compares: comparator and match type, defaults `i;ascii-casemap` and
/// `:is`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Compare {
    /// The comparator.
    pub comparator: Comparator,
    /// The match type.
    pub match_type: MatchType,
}

/// What the body test looks at (RFC 5173 §5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum BodyTransform {
    /// `:text` (the default): the decoded text of every text part, HTML reduced to text.
    #[default]
    Text,
    /// `:raw`: the body as it is on the wire, headers excluded.
    Raw,
    /// `:content`: the decoded parts whose Content-Type matches one of these
    /// (`"text"` matches `text/*`, `""` matches all).
    Content(Vec<String>),
}

/// The envelope parts the envelope test knows (RFC 5228 §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EnvelopePart {
    /// MAIL FROM.
    From,
    /// The RCPT TO that caused this delivery.
    To,
}

/// A test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Test {
    /// `true`
    True,
    /// `false`
    False,
    /// `not test`
    Not(Box<Test>),
    /// `allof (tests)`
    AllOf(Vec<Test>),
    /// `anyof (tests)`
    AnyOf(Vec<Test>),
    /// `address [COMPARATOR] [ADDRESS-PART] [MATCH-TYPE] <header-list> <key-list>`
    Address {
        /// How to compare.
        compare: Compare,
        /// Which part of each address.
        part: AddressPart,
        /// The header names.
        headers: StrList,
        /// The keys.
        keys: StrList,
    },
    /// `envelope [COMPARATOR] [ADDRESS-PART] [MATCH-TYPE] <envelope-part> <key-list>`
    Envelope {
        /// How to compare.
        compare: Compare,
        /// Which part of each address.
        part: AddressPart,
        /// "from" and/or "to".
        parts: Vec<EnvelopePart>,
        /// The keys.
        keys: StrList,
    },
    /// `header [COMPARATOR] [MATCH-TYPE] <header-names> <key-list>`
    Header {
        /// How to compare.
        compare: Compare,
        /// The header names.
        headers: StrList,
        /// The keys.
        keys: StrList,
    },
    /// `exists <header-names>`: true if every header is present.
    Exists(StrList),
    /// `size :over|:under <limit>`
    Size {
        /// `:over` (true) or `:under` (false).
        over: bool,
        /// The limit in bytes.
        limit: u64,
    },
    /// `body [COMPARATOR] [MATCH-TYPE] [BODY-TRANSFORM] <key-list>` (RFC 5173)
    Body {
        /// How to compare.
        compare: Compare,
        /// What part of the body.
        transform: BodyTransform,
        /// The keys.
        keys: StrList,
    },
    /// `string [MATCH-TYPE] [COMPARATOR] <source> <key-list>` (RFC 5229 §5)
    String {
        /// How to compare.
        compare: Compare,
        /// The strings to test.
        sources: StrList,
        /// The keys.
        keys: StrList,
    },
    /// `hasflag [MATCH-TYPE] [COMPARATOR] [<variable-list>] <list-of-flags>`
    /// (RFC 5232 §4)
    HasFlag {
        /// How to compare.
        compare: Compare,
        /// The variables holding flags; `None` means the internal flag variable.
        variables: Option<StrList>,
        /// The flags looked for.
        keys: StrList,
    },
}

/// How a flag command changes a flag variable (RFC 5232 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagOp {
    /// `setflag`: replace.
    Set,
    /// `addflag`: add those not present.
    Add,
    /// `removeflag`: remove those present.
    Remove,
}

/// A `set` modifier (RFC 5229 §4.1), in the order they apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Modifier {
    /// `:lower` (precedence 40).
    Lower,
    /// `:upper` (precedence 40).
    Upper,
    /// `:lowerfirst` (precedence 30).
    LowerFirst,
    /// `:upperfirst` (precedence 30).
    UpperFirst,
    /// `:quotewildcard` (precedence 20).
    QuoteWildcard,
    /// `:length` (precedence 10).
    Length,
}

impl Modifier {
    /// The RFC 5229 precedence; higher applies first, and two of one precedence are an
    /// error.
    pub(crate) fn precedence(self) -> u8 {
        match self {
            Modifier::Lower | Modifier::Upper => 40,
            Modifier::LowerFirst | Modifier::UpperFirst => 30,
            Modifier::QuoteWildcard => 20,
            Modifier::Length => 10,
        }
    }
}

/// The arguments of `vacation` (RFC 5230 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Vacation {
    /// `:days`, before clamping.
    pub days: Option<u64>,
    /// `:subject`
    pub subject: Option<Str>,
    /// `:from`
    pub from: Option<Str>,
    /// `:addresses`: more addresses of the user's.
    pub addresses: StrList,
    /// `:mime`: the reason is a MIME entity.
    pub mime: bool,
    /// `:handle`
    pub handle: Option<Str>,
    /// The reply's text.
    pub reason: Str,
}

/// A command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// `if`, its `elsif`s and its `else`, folded into one.
    If {
        /// Each test with the block run when it is the first to hold.
        branches: Vec<(Test, Vec<Command>)>,
        /// The `else` block.
        otherwise: Option<Vec<Command>>,
    },
    /// `stop`
    Stop,
    /// `keep [:flags <list>]`
    Keep {
        /// `:flags`; `None` takes the internal flag variable.
        flags: Option<StrList>,
    },
    /// `discard`
    Discard,
    /// `redirect [:copy] <address>`
    Redirect {
        /// The address.
        address: Str,
        /// `:copy` (RFC 3894): do not cancel implicit keep.
        copy: bool,
    },
    /// `fileinto [:copy] [:flags <list>] <mailbox>`
    FileInto {
        /// The mailbox.
        mailbox: Str,
        /// `:flags`; `None` takes the internal flag variable.
        flags: Option<StrList>,
        /// `:copy`
        copy: bool,
    },
    /// `reject <reason>` / `ereject <reason>` (RFC 5429)
    Reject {
        /// The reason given to the sender.
        reason: Str,
        /// `ereject` rather than `reject`.
        ereject: bool,
    },
    /// `setflag` / `addflag` / `removeflag` (RFC 5232 §3)
    Flag {
        /// What to do.
        op: FlagOp,
        /// The variable; `None` means the internal flag variable.
        variable: Option<String>,
        /// The flags (each string may hold several, separated by spaces).
        flags: StrList,
    },
    /// `set [modifiers] <name> <value>` (RFC 5229 §4)
    Set {
        /// The variable, lower-cased.
        name: String,
        /// The value.
        value: Str,
        /// The modifiers, sorted by precedence, highest first.
        modifiers: Vec<Modifier>,
    },
    /// `vacation` (RFC 5230)
    Vacation(Box<Vacation>),
}

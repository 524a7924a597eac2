//! The ManageSieve command grammar (RFC 5804 §4), hand-written: no crate exists. A
//! command is atoms and strings separated by spaces; a string is quoted (`"..."` with
//! `\"` and `\\` the only escapes, at most [`MAX_QUOTED`] octets) or a literal
//! (`{n+}` or `{n}`, CRLF, then n octets), after which the command goes on on the next
//! line. Everything here is pure: the session feeds it lines and literal bytes, so the
//! unit tests and the fuzz target drive exactly the code the server runs.

use thiserror::Error;

/// Longest command line, literal contents aside.
pub const MAX_LINE: usize = 8 * 1024;
/// Longest quoted string, in octets (RFC 5804 §4: quoted strings are short).
pub const MAX_QUOTED: usize = 1024;
/// Largest literal accepted: a whole script, with room for a client that counts a
/// little generously.
pub const MAX_LITERAL: usize = twinmail_store::MAX_SCRIPT_BYTES + 1024;
/// Most atoms and strings in one command (PUTSCRIPT, the longest, has three).
pub const MAX_TOKENS: usize = 8;

/// One element of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A bare word: the command name or a number.
    Atom(String),
    /// A quoted string or a literal, decoded.
    Str(String),
}

/// A literal announced at the end of a line: its octets follow the CRLF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Literal {
    /// How many octets follow.
    pub size: usize,
    /// `{n}` (the client may wait to be told to go on) rather than `{n+}`.
    pub sync: bool,
}

/// Why a command cannot be read; each is answered NO (a few then BYE).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SyntaxError {
    /// A line over [`MAX_LINE`] octets.
    #[error("line too long")]
    LineTooLong,
    /// A quoted string without its closing quote.
    #[error("unterminated quoted string")]
    Unterminated,
    /// A backslash not followed by `"` or `\`, or a CR, LF or NUL in a quoted string.
    #[error("invalid character in quoted string")]
    BadQuoted,
    /// A quoted string over [`MAX_QUOTED`] octets.
    #[error("quoted string too long, use a literal")]
    QuotedTooLong,
    /// A `{` not followed by digits, an optional `+`, `}` and the end of the line.
    #[error("invalid literal")]
    BadLiteral,
    /// A literal over [`MAX_LITERAL`] octets.
    #[error("literal too big")]
    LiteralTooBig(
        /// What the client announced.
        Literal,
    ),
    /// A string that is not UTF-8 (RFC 5804 §1.6: strings are UTF-8).
    #[error("string is not UTF-8")]
    NotUtf8,
    /// A character that starts no atom or string.
    #[error("unexpected character")]
    Unexpected,
    /// More than [`MAX_TOKENS`] elements.
    #[error("too many arguments")]
    TooMany,
    /// An empty line where a command was expected.
    #[error("empty command")]
    Empty,
}

impl SyntaxError {
    /// Whether the session must end after this error: the rest of the command cannot be
    /// told from the next one (a line cut short may have announced a literal; a refused
    /// synchronising literal may be on its way regardless).
    pub fn ends_session(&self) -> bool {
        matches!(self, SyntaxError::LineTooLong)
            || matches!(self, SyntaxError::LiteralTooBig(l) if l.sync)
    }
}

/// Whether `b` may be part of an atom: printable ASCII but the grammar's specials.
fn atom_char(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'"' | b'{' | b'}' | b'(' | b')' | b'\\' | b'%' | b'*')
}

/// Scans one line (without its CRLF), appending its elements to `tokens`. `Ok(Some)`
/// when the line ends with a literal marker: its octets come next, then the command
/// goes on on the following line.
pub fn scan_line(line: &[u8], tokens: &mut Vec<Token>) -> Result<Option<Literal>, SyntaxError> {
    if line.len() > MAX_LINE {
        return Err(SyntaxError::LineTooLong);
    }
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b' ' | b'\t' => i += 1,
            b'"' => {
                let (s, next) = quoted(line, i + 1)?;
                push(tokens, Token::Str(s))?;
                i = next;
            }
            b'{' => {
                let lit = literal(&line[i..])?;
                if lit.size > MAX_LITERAL {
                    return Err(SyntaxError::LiteralTooBig(lit));
                }
                if tokens.len() >= MAX_TOKENS {
                    return Err(SyntaxError::TooMany);
                }
                return Ok(Some(lit));
            }
            b if atom_char(b) => {
                let end = line[i..]
                    .iter()
                    .position(|&b| !atom_char(b))
                    .map_or(line.len(), |n| i + n);
                // Atom characters are ASCII, so this cannot fail.
                let atom = String::from_utf8_lossy(&line[i..end]).into_owned();
                push(tokens, Token::Atom(atom))?;
                i = end;
            }
            _ => return Err(SyntaxError::Unexpected),
        }
    }
    Ok(None)
}

/// The literal announced at the end of `line`, if any, however bad the rest of the line
/// is and however big: after a syntax error its octets must still be skipped, never read
/// as commands.
pub fn trailing_literal(line: &[u8]) -> Option<Literal> {
    let start = line.iter().rposition(|&b| b == b'{')?;
    literal(&line[start..]).ok()
}

fn push(tokens: &mut Vec<Token>, t: Token) -> Result<(), SyntaxError> {
    if tokens.len() >= MAX_TOKENS {
        return Err(SyntaxError::TooMany);
    }
    tokens.push(t);
    Ok(())
}

/// A quoted string whose contents start at `from`; the string and the index after the
/// closing quote.
fn quoted(line: &[u8], from: usize) -> Result<(String, usize), SyntaxError> {
    let mut out = Vec::new();
    let mut i = from;
    loop {
        let Some(&b) = line.get(i) else {
            return Err(SyntaxError::Unterminated);
        };
        match b {
            b'"' => break,
            b'\\' => match line.get(i + 1) {
                Some(&e @ (b'"' | b'\\')) => {
                    out.push(e);
                    i += 1;
                }
                Some(_) => return Err(SyntaxError::BadQuoted),
                None => return Err(SyntaxError::Unterminated),
            },
            b'\r' | b'\n' | 0 => return Err(SyntaxError::BadQuoted),
            b => out.push(b),
        }
        if out.len() > MAX_QUOTED {
            return Err(SyntaxError::QuotedTooLong);
        }
        i += 1;
    }
    let s = String::from_utf8(out).map_err(|_| SyntaxError::NotUtf8)?;
    Ok((s, i + 1))
}

/// `{n+}` or `{n}` ending the line.
fn literal(rest: &[u8]) -> Result<Literal, SyntaxError> {
    let inner = rest
        .strip_prefix(b"{")
        .and_then(|r| r.strip_suffix(b"}"))
        .ok_or(SyntaxError::BadLiteral)?;
    let (digits, sync) = match inner.strip_suffix(b"+") {
        Some(d) => (d, false),
        None => (inner, true),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(SyntaxError::BadLiteral);
    }
    let size: u64 = digits.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(Literal { size, sync })
}

/// A literal's octets as a string element.
pub fn literal_token(bytes: Vec<u8>) -> Result<Token, SyntaxError> {
    String::from_utf8(bytes)
        .map(Token::Str)
        .map_err(|_| SyntaxError::NotUtf8)
}

/// Parses one whole command from the start of `input` (lines and literals as they came
/// from the wire); the elements and the octets used, or `None` when `input` ends before
/// the command does. The server reads the same way from its connection; this is for
/// tests and fuzzing.
pub fn parse_command(input: &[u8]) -> Option<(Result<Vec<Token>, SyntaxError>, usize)> {
    let mut tokens = Vec::new();
    let mut at = 0;
    loop {
        let nl = input[at..].iter().position(|&b| b == b'\n')?;
        let mut line = &input[at..at + nl];
        at += nl + 1;
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        match scan_line(line, &mut tokens) {
            Ok(None) if tokens.is_empty() => return Some((Err(SyntaxError::Empty), at)),
            Ok(None) => return Some((Ok(tokens), at)),
            Ok(Some(lit)) => {
                let bytes = input.get(at..at.checked_add(lit.size)?)?.to_vec();
                at += lit.size;
                match literal_token(bytes) {
                    Ok(t) => tokens.push(t),
                    Err(e) => return Some((Err(e), at)),
                }
            }
            Err(e) => return Some((Err(e), at)),
        }
    }
}

/// A string for a response: quoted when short and plain, else a literal (`{n}` CRLF
/// octets), as RFC 5804 §4 allows either.
pub fn string(text: &str) -> String {
    if text.len() <= MAX_QUOTED && !text.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        let mut out = String::with_capacity(text.len() + 2);
        out.push('"');
        for c in text.chars() {
            if matches!(c, '"' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    } else {
        format!("{{{}}}\r\n{text}", text.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Result<Vec<Token>, SyntaxError> {
        parse_command(input.as_bytes()).expect("complete").0
    }

    fn s(x: &str) -> Token {
        Token::Str(x.into())
    }

    fn a(x: &str) -> Token {
        Token::Atom(x.into())
    }

    #[test]
    fn atoms_and_quoted_strings_with_escapes() {
        assert_eq!(parse("CAPABILITY\r\n"), Ok(vec![a("CAPABILITY")]));
        assert_eq!(
            parse("HAVESPACE \"my \\\"best\\\" \\\\ script\" 1234\r\n"),
            Ok(vec![a("HAVESPACE"), s("my \"best\" \\ script"), a("1234")])
        );
        assert_eq!(parse("noop \"\"\n"), Ok(vec![a("noop"), s("")]));
        assert_eq!(
            parse("SETACTIVE \"r\u{e9}sum\u{e9}\"\r\n"),
            Ok(vec![a("SETACTIVE"), s("r\u{e9}sum\u{e9}")])
        );
    }

    #[test]
    fn literals_both_kinds_and_the_command_goes_on_after_them() {
        assert_eq!(
            parse("PUTSCRIPT \"a\" {9+}\r\nkeep;\r\n\r\n\r\n"),
            Ok(vec![a("PUTSCRIPT"), s("a"), s("keep;\r\n\r\n")])
        );
        assert_eq!(
            parse("RENAMESCRIPT {1}\r\nx {3+}\r\nyyy\r\n"),
            Ok(vec![a("RENAMESCRIPT"), s("x"), s("yyy")])
        );
        // A literal may hold what looks like commands: it stays data.
        let (r, used) = parse_command(b"CHECKSCRIPT {8+}\r\nLOGOUT\r\n\r\nNOOP\r\n").unwrap();
        assert_eq!(r, Ok(vec![a("CHECKSCRIPT"), s("LOGOUT\r\n")]));
        assert_eq!(used, 28);
        // Incomplete input is not a command yet.
        assert_eq!(parse_command(b"PUTSCRIPT \"a\" {10+}\r\nshort"), None);
        assert_eq!(parse_command(b"NOOP"), None);
    }

    #[test]
    fn bad_input_is_an_error_never_a_panic() {
        assert_eq!(parse("NOOP \"open\r\n"), Err(SyntaxError::Unterminated));
        assert_eq!(parse("NOOP \"a\\nb\"\r\n"), Err(SyntaxError::BadQuoted));
        assert_eq!(parse("NOOP \"a\\\r\n"), Err(SyntaxError::Unterminated));
        assert_eq!(parse("NOOP {x}\r\n"), Err(SyntaxError::BadLiteral));
        assert_eq!(parse("NOOP {}\r\n"), Err(SyntaxError::BadLiteral));
        assert_eq!(parse("NOOP {5+} x\r\n"), Err(SyntaxError::BadLiteral));
        assert_eq!(
            parse("PUTSCRIPT \"a\" {99999999999999999999+}\r\n"),
            Err(SyntaxError::BadLiteral)
        );
        assert_eq!(
            parse("PUTSCRIPT \"a\" {999999999}\r\n"),
            Err(SyntaxError::LiteralTooBig(Literal {
                size: 999_999_999,
                sync: true
            }))
        );
        assert_eq!(parse("NOOP (x)\r\n"), Err(SyntaxError::Unexpected));
        assert_eq!(parse("\r\n"), Err(SyntaxError::Empty));
        assert_eq!(parse("a b c d e f g h i\r\n"), Err(SyntaxError::TooMany));
        let long = format!("NOOP \"{}\"\r\n", "x".repeat(MAX_QUOTED + 1));
        assert_eq!(parse(&long), Err(SyntaxError::QuotedTooLong));
        assert_eq!(
            parse_command(b"NOOP \"\xff\"\r\n").unwrap().0,
            Err(SyntaxError::NotUtf8)
        );
        assert_eq!(
            parse_command(b"CHECKSCRIPT {1+}\r\n\xff\r\n").unwrap().0,
            Err(SyntaxError::NotUtf8)
        );
        assert_eq!(
            trailing_literal(b"NOOP \"bad\\x\" {12+}"),
            Some(Literal {
                size: 12,
                sync: false
            })
        );
        assert_eq!(
            trailing_literal(b"NOOP {99999999+}"),
            Some(Literal {
                size: 99_999_999,
                sync: false
            })
        );
    }

    #[test]
    fn response_strings_quote_or_fall_back_to_literals() {
        assert_eq!(string("a \"b\" \\"), "\"a \\\"b\\\" \\\\\"");
        assert_eq!(string("two\r\nlines"), "{10}\r\ntwo\r\nlines");
        let (r, _) = parse_command(format!("X {}\r\n", string("q\"\\")).as_bytes()).unwrap();
        assert_eq!(r, Ok(vec![a("X"), s("q\"\\")]));
    }
}

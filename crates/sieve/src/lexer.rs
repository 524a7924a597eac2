//! The lexer: Sieve source text to tokens with their line and column (RFC 5228 §2 and
//! the ABNF of §8.1).
//!
//! Rules of the house:
//! - Every token carries the position of its first character, so every parse error can
//!   name a line and a column.
//! - The lexer never allocates more than the script's own size: strings are copied once,
//!   escapes and dot-stuffing removed on the way.
//! - Numbers that do not fit in a `u64` after their K/M/G quantifier are an error, not a
//!   wrap-around.

use crate::error::{ParseError, ParseErrorKind, Pos};

/// One lexical token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// A command or test name (`if`, `header`, ...), lower-cased: Sieve identifiers are
    /// case-insensitive.
    Identifier(String),
    /// A tagged argument such as `:contains`, lower-cased, without the colon.
    Tag(String),
    /// A number with its K/M/G quantifier already applied.
    Number(u64),
    /// A quoted string or a `text:` multi-line string, escapes and dot-stuffing removed.
    String(String),
    /// `[`
    LeftBracket,
    /// `]`
    RightBracket,
    /// `(`
    LeftParen,
    /// `)`
    RightParen,
    /// `{`
    LeftBrace,
    /// `}`
    RightBrace,
    /// `,`
    Comma,
    /// `;`
    Semicolon,
    /// The end of the script.
    Eof,
}

impl Token {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Token::Identifier(name) => format!("identifier `{name}`"),
            Token::Tag(name) => format!("tag `:{name}`"),
            Token::Number(n) => format!("number {n}"),
            Token::String(_) => "a string".to_string(),
            Token::LeftBracket => "`[`".to_string(),
            Token::RightBracket => "`]`".to_string(),
            Token::LeftParen => "`(`".to_string(),
            Token::RightParen => "`)`".to_string(),
            Token::LeftBrace => "`{`".to_string(),
            Token::RightBrace => "`}`".to_string(),
            Token::Comma => "`,`".to_string(),
            Token::Semicolon => "`;`".to_string(),
            Token::Eof => "the end of the script".to_string(),
        }
    }
}

/// The lexer over one script.
pub(crate) struct Lexer<'a> {
    /// The script's bytes (valid UTF-8: it came from a `&str`).
    src: &'a [u8],
    /// Byte offset of the next unread character.
    at: usize,
    /// Line of the next unread character, from 1.
    line: u32,
    /// Column of the next unread character, from 1, counted in characters.
    column: u32,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `src`.
    pub(crate) fn new(src: &'a str) -> Self {
        Self {
            src: src.as_bytes(),
            at: 0,
            line: 1,
            column: 1,
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.at).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.src.get(self.at + ahead).copied()
    }

    /// Consumes one byte, keeping line and column right (continuation bytes of a UTF-8
    /// character do not count as columns).
    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        if byte == b'\n' {
            self.line += 1;
            self.column = 1;
        } else if byte & 0xC0 != 0x80 {
            self.column += 1;
        }
        Some(byte)
    }

    fn error(&self, pos: Pos, kind: ParseErrorKind) -> ParseError {
        ParseError { pos, kind }
    }

    /// Skips white space, `#` comments and `/* */` comments.
    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => {
                    self.bump();
                }
                Some(b'#') => {
                    while let Some(byte) = self.peek() {
                        if byte == b'\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                Some(b'/') if self.peek_at(1) == Some(b'*') => {
                    let start = self.pos();
                    self.bump();
                    self.bump();
                    loop {
                        match self.bump() {
                            Some(b'*') if self.peek() == Some(b'/') => {
                                self.bump();
                                break;
                            }
                            Some(_) => {}
                            None => {
                                return Err(self.error(start, ParseErrorKind::UnterminatedComment));
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// The next token and where it starts.
    pub(crate) fn next_token(&mut self) -> Result<(Token, Pos), ParseError> {
        self.skip_trivia()?;
        let pos = self.pos();
        let Some(byte) = self.peek() else {
            return Ok((Token::Eof, pos));
        };
        let token = match byte {
            b'[' => self.single(Token::LeftBracket),
            b']' => self.single(Token::RightBracket),
            b'(' => self.single(Token::LeftParen),
            b')' => self.single(Token::RightParen),
            b'{' => self.single(Token::LeftBrace),
            b'}' => self.single(Token::RightBrace),
            b',' => self.single(Token::Comma),
            b';' => self.single(Token::Semicolon),
            b'"' => self.quoted_string(pos)?,
            b':' => {
                self.bump();
                match self.peek() {
                    Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                        Token::Tag(self.identifier_text())
                    }
                    _ => return Err(self.error(pos, ParseErrorKind::BadTag)),
                }
            }
            b'0'..=b'9' => self.number(pos)?,
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let name = self.identifier_text();
                if name == "text" && self.peek() == Some(b':') {
                    self.bump();
                    self.multi_line(pos)?
                } else {
                    Token::Identifier(name)
                }
            }
            _ => {
                let ch = self.char_at_cursor();
                return Err(self.error(pos, ParseErrorKind::UnexpectedChar(ch)));
            }
        };
        Ok((token, pos))
    }

    fn char_at_cursor(&self) -> char {
        std::str::from_utf8(&self.src[self.at..])
            .ok()
            .and_then(|rest| rest.chars().next())
            .unwrap_or('\u{FFFD}')
    }

    fn single(&mut self, token: Token) -> Token {
        self.bump();
        token
    }

    fn identifier_text(&mut self) -> String {
        let start = self.at;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' {
                self.bump();
            } else {
                break;
            }
        }
        // Only ASCII bytes were consumed.
        String::from_utf8_lossy(&self.src[start..self.at]).to_ascii_lowercase()
    }

    fn number(&mut self, pos: Pos) -> Result<Token, ParseError> {
        let mut value: u64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            self.bump();
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
                .ok_or_else(|| self.error(pos, ParseErrorKind::NumberTooLarge))?;
        }
        let shift = match self.peek() {
            Some(b'k' | b'K') => 10,
            Some(b'm' | b'M') => 20,
            Some(b'g' | b'G') => 30,
            _ => 0,
        };
        if shift > 0 {
            self.bump();
            value = value
                .checked_mul(1u64 << shift)
                .ok_or_else(|| self.error(pos, ParseErrorKind::NumberTooLarge))?;
        }
        if let Some(c) = self.peek()
            && (c.is_ascii_alphanumeric() || c == b'_')
        {
            let p = self.pos();
            let ch = self.char_at_cursor();
            return Err(self.error(p, ParseErrorKind::UnexpectedChar(ch)));
        }
        Ok(Token::Number(value))
    }

    /// A quoted string (RFC 5228 §2.4.2): `\"` and `\\` are the escapes; any other
    /// backslash is dropped, as the RFC says an undefined escape reads as if the
    /// backslash were not there.
    fn quoted_string(&mut self, pos: Pos) -> Result<Token, ParseError> {
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.bump() {
                None => return Err(self.error(pos, ParseErrorKind::UnterminatedString)),
                Some(b'"') => break,
                Some(b'\\') => match self.bump() {
                    None => return Err(self.error(pos, ParseErrorKind::UnterminatedString)),
                    Some(c) => out.push(c),
                },
                Some(c) => out.push(c),
            }
        }
        Ok(Token::String(self.string_from(out, pos)?))
    }

    /// A `text:` multi-line string (RFC 5228 §2.4.2): the rest of the `text:` line may
    /// hold only white space and a `#` comment; then lines up to one holding a single
    /// `.`; a line starting with `..` loses its first dot. Line ends are kept as written.
    fn multi_line(&mut self, pos: Pos) -> Result<Token, ParseError> {
        while let Some(b' ' | b'\t') = self.peek() {
            self.bump();
        }
        match self.peek() {
            Some(b'#') => {
                while let Some(c) = self.peek() {
                    if c == b'\n' {
                        break;
                    }
                    self.bump();
                }
            }
            Some(b'\r' | b'\n') => {}
            None => return Err(self.error(pos, ParseErrorKind::UnterminatedString)),
            Some(_) => {
                let p = self.pos();
                return Err(self.error(p, ParseErrorKind::TextNotAtLineEnd));
            }
        }
        if self.peek() == Some(b'\r') {
            self.bump();
        }
        if self.bump() != Some(b'\n') {
            return Err(self.error(pos, ParseErrorKind::UnterminatedString));
        }
        let mut out = Vec::new();
        loop {
            let start = self.at;
            if start >= self.src.len() {
                return Err(self.error(pos, ParseErrorKind::UnterminatedString));
            }
            while let Some(c) = self.peek() {
                self.bump();
                if c == b'\n' {
                    break;
                }
            }
            let line = &self.src[start..self.at];
            let content = line
                .strip_suffix(b"\n")
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .unwrap_or(line);
            if content == b"." {
                break;
            }
            if line.is_empty() || !line.ends_with(b"\n") && content != b"." {
                // The script ended inside the string.
                return Err(self.error(pos, ParseErrorKind::UnterminatedString));
            }
            let line = if line.starts_with(b"..") {
                &line[1..]
            } else {
                line
            };
            out.extend_from_slice(line);
        }
        Ok(Token::String(self.string_from(out, pos)?))
    }

    fn string_from(&self, bytes: Vec<u8>, pos: Pos) -> Result<String, ParseError> {
        // Only whole characters were copied from valid UTF-8, so this cannot fail; the
        // error path is kept rather than an unwrap.
        String::from_utf8(bytes).map_err(|_| self.error(pos, ParseErrorKind::UnterminatedString))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> Vec<Token> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let (t, _) = lexer.next_token().expect("lexes");
            if t == Token::Eof {
                return out;
            }
            out.push(t);
        }
    }

    #[test]
    fn numbers_take_their_quantifier() {
        assert_eq!(
            tokens("1 2K 3m 1G"),
            vec![
                Token::Number(1),
                Token::Number(2048),
                Token::Number(3 << 20),
                Token::Number(1 << 30)
            ]
        );
    }

    #[test]
    fn quoted_strings_drop_undefined_escapes() {
        assert_eq!(
            tokens(r#""a\"b\\c\d""#),
            vec![Token::String("a\"b\\cd".into())]
        );
    }

    #[test]
    fn multi_line_strings_are_dot_unstuffed() {
        let src = "text: # comment\r\nline one\r\n..dotted\r\n.\r\n";
        assert_eq!(
            tokens(src),
            vec![Token::String("line one\r\n.dotted\r\n".into())]
        );
    }

    #[test]
    fn comments_are_skipped() {
        assert_eq!(
            tokens("/* a\n b */ keep; # c\n"),
            vec![Token::Identifier("keep".into()), Token::Semicolon]
        );
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let mut lexer = Lexer::new("\n  é keep");
        let err = lexer.next_token().expect_err("é is not a token");
        assert_eq!((err.pos.line, err.pos.column), (2, 3));
    }
}

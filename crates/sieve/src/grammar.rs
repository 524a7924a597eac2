//! The generic Sieve grammar (RFC 5228 §8.2): commands, arguments, tests, test lists
//! and blocks, without knowing what any command means. `parser.rs` then turns this tree
//! into the typed one in `ast.rs`, checking each command's arguments.
//!
//! Rules of the house:
//! - Recursion (blocks, test lists) is bounded by `Limits::max_nesting`, checked before
//!   descending, so a hostile script cannot overflow the stack.

use crate::{
    error::{ParseError, ParseErrorKind, Pos},
    lexer::{Lexer, Token},
};

/// A command as written: `identifier arguments (";" / block)`.
#[derive(Debug)]
pub(crate) struct RawCommand {
    /// The command's name, lower-cased.
    pub name: String,
    /// Where the name starts.
    pub pos: Pos,
    /// Its arguments, tests and test lists aside.
    pub args: Vec<RawArg>,
    /// The test or test list after the arguments, if any.
    pub tests: Option<RawTests>,
    /// The block, if the command ends with one instead of `;`.
    pub block: Option<Vec<RawCommand>>,
}

/// A test as written: `identifier arguments`.
#[derive(Debug)]
pub(crate) struct RawTest {
    /// The test's name, lower-cased.
    pub name: String,
    /// Where the name starts.
    pub pos: Pos,
    /// Its arguments.
    pub args: Vec<RawArg>,
    /// The test or test list inside it (`not`, `allof`, `anyof`).
    pub tests: Option<RawTests>,
}

/// A single test or a parenthesised test list; the difference matters (`not` takes one
/// test, `allof` a list).
#[derive(Debug)]
pub(crate) enum RawTests {
    /// `test`
    One(Box<RawTest>),
    /// `( test *("," test) )`
    List(Vec<RawTest>),
}

/// One argument.
#[derive(Debug, Clone)]
pub(crate) enum RawArg {
    /// `:name`
    Tag(String, Pos),
    /// A number, quantifier applied.
    Number(u64, Pos),
    /// A single string, not in brackets.
    String(String, Pos),
    /// A bracketed string list.
    List(Vec<String>, Pos),
}

impl RawArg {
    pub(crate) fn pos(&self) -> Pos {
        match self {
            RawArg::Tag(_, p)
            | RawArg::Number(_, p)
            | RawArg::String(_, p)
            | RawArg::List(_, p) => *p,
        }
    }
}

/// The grammar's parser, one token of look-ahead.
pub(crate) struct Grammar<'a> {
    /// Where tokens come from.
    lexer: Lexer<'a>,
    /// The current (look-ahead) token.
    token: Token,
    /// Where the current token starts.
    pos: Pos,
    /// `Limits::max_nesting`: how deep blocks and tests may nest.
    max_nesting: usize,
}

impl<'a> Grammar<'a> {
    /// Parses a whole script into its commands.
    pub(crate) fn parse(src: &'a str, max_nesting: usize) -> Result<Vec<RawCommand>, ParseError> {
        let mut lexer = Lexer::new(src);
        let (token, pos) = lexer.next_token()?;
        let mut grammar = Grammar {
            lexer,
            token,
            pos,
            max_nesting,
        };
        let commands = grammar.commands(0)?;
        if grammar.token != Token::Eof {
            return Err(grammar.unexpected("a command"));
        }
        Ok(commands)
    }

    fn advance(&mut self) -> Result<(Token, Pos), ParseError> {
        let (next, pos) = self.lexer.next_token()?;
        let token = std::mem::replace(&mut self.token, next);
        let at = std::mem::replace(&mut self.pos, pos);
        Ok((token, at))
    }

    fn unexpected(&self, expected: &str) -> ParseError {
        ParseError {
            pos: self.pos,
            kind: ParseErrorKind::Unexpected {
                expected: expected.to_string(),
                found: self.token.describe(),
            },
        }
    }

    fn deeper(&self, depth: usize) -> Result<usize, ParseError> {
        if depth >= self.max_nesting {
            return Err(ParseError {
                pos: self.pos,
                kind: ParseErrorKind::TooDeep {
                    max: self.max_nesting,
                },
            });
        }
        Ok(depth + 1)
    }

    /// `*command` up to `}` or the end.
    fn commands(&mut self, depth: usize) -> Result<Vec<RawCommand>, ParseError> {
        let mut out = Vec::new();
        while let Token::Identifier(_) = self.token {
            out.push(self.command(depth)?);
        }
        Ok(out)
    }

    fn command(&mut self, depth: usize) -> Result<RawCommand, ParseError> {
        let (Token::Identifier(name), pos) = self.advance()? else {
            return Err(self.unexpected("a command"));
        };
        let args = self.arguments()?;
        let tests = self.tests(depth)?;
        let block = match self.token {
            Token::Semicolon => {
                self.advance()?;
                None
            }
            Token::LeftBrace => {
                let inner = self.deeper(depth)?;
                self.advance()?;
                let commands = self.commands(inner)?;
                if self.token != Token::RightBrace {
                    return Err(self.unexpected("a command or `}`"));
                }
                self.advance()?;
                Some(commands)
            }
            _ => return Err(self.unexpected("`;` or `{`")),
        };
        Ok(RawCommand {
            name,
            pos,
            args,
            tests,
            block,
        })
    }

    fn arguments(&mut self) -> Result<Vec<RawArg>, ParseError> {
        let mut args = Vec::new();
        loop {
            let arg = match &self.token {
                Token::Tag(_) | Token::Number(_) | Token::String(_) => match self.advance()? {
                    (Token::Tag(t), p) => RawArg::Tag(t, p),
                    (Token::Number(n), p) => RawArg::Number(n, p),
                    (Token::String(s), p) => RawArg::String(s, p),
                    _ => return Err(self.unexpected("an argument")),
                },
                Token::LeftBracket => {
                    let (_, pos) = self.advance()?;
                    let mut list = Vec::new();
                    loop {
                        if !matches!(self.token, Token::String(_)) {
                            return Err(self.unexpected("a string"));
                        }
                        if let (Token::String(s), _) = self.advance()? {
                            list.push(s);
                        }
                        match self.token {
                            Token::Comma => {
                                self.advance()?;
                            }
                            Token::RightBracket => {
                                self.advance()?;
                                break;
                            }
                            _ => return Err(self.unexpected("`,` or `]`")),
                        }
                    }
                    RawArg::List(list, pos)
                }
                _ => return Ok(args),
            };
            args.push(arg);
        }
    }

    /// An optional test or test list after a command's or test's arguments.
    fn tests(&mut self, depth: usize) -> Result<Option<RawTests>, ParseError> {
        match self.token {
            Token::Identifier(_) => {
                let inner = self.deeper(depth)?;
                Ok(Some(RawTests::One(Box::new(self.test(inner)?))))
            }
            Token::LeftParen => {
                let inner = self.deeper(depth)?;
                self.advance()?;
                let mut list = Vec::new();
                loop {
                    list.push(self.test(inner)?);
                    match self.token {
                        Token::Comma => {
                            self.advance()?;
                        }
                        Token::RightParen => {
                            self.advance()?;
                            break;
                        }
                        _ => return Err(self.unexpected("`,` or `)`")),
                    }
                }
                Ok(Some(RawTests::List(list)))
            }
            _ => Ok(None),
        }
    }

    fn test(&mut self, depth: usize) -> Result<RawTest, ParseError> {
        let Token::Identifier(_) = self.token else {
            return Err(self.unexpected("a test"));
        };
        let (Token::Identifier(name), pos) = self.advance()? else {
            return Err(self.unexpected("a test"));
        };
        let args = self.arguments()?;
        let tests = self.tests(depth)?;
        Ok(RawTest {
            name,
            pos,
            args,
            tests,
        })
    }
}

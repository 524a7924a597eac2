//! URLAUTH (RFC 4467) on the wire: the three commands GENURLAUTH, URLFETCH and RESETKEY,
//! and the URLAUTH part of an IMAP URL (`;EXPIRE=`, `;URLAUTH=access`, and the verifier
//! `:mechanism:token`) around the message URL that `imapurl` reads.
//!
//! Hand-written, as `extparse`, `multiappend` and `catenate` are: imap-codec
//! 2.0.0-alpha.10 decodes none of the three commands, so they reach the session as
//! malformed messages (literals already received) and `parse` recognises them; and no kept
//! library reads RFC 4467's URL grammar (see `imapurl` for why not the `url` crate). Both
//! parsers are one flat pass over bytes whose every length is checked against what is
//! present; the URL count and URL length are capped; neither ever panics.
//!
//! Grammar taken (RFC 4467 §8, RFC 5092 §11):
//! - `tag GENURLAUTH SP url-rump SP mechanism *(SP url-rump SP mechanism)`;
//! - `tag URLFETCH 1*(SP url)`;
//! - `tag RESETKEY [SP mailbox *(SP mechanism)]`;
//! - `authimapurl [";EXPIRE=" date-time] ";URLAUTH=" access [":" mechanism ":" token]`,
//!   where `authimapurl` is an absolute `imap://user@host/...;UID=n...` URL naming one
//!   message or part, and `access` is `anonymous`, `authuser`, `user+` name or `submit+`
//!   name.
//!
//! URLs, mechanisms and mailbox names are astrings: an atom (taken up to the next space,
//! so `%` and `*`, which URLs are full of and clients send bare, get through), a quoted
//! string or a literal.

use imap_types::core::Tag;

use crate::{
    catenate::literal_at,
    imapurl::{self, ImapUrl, MAX_URL},
};

/// Most URLs one GENURLAUTH or URLFETCH may name (each costs a message read), and most
/// mechanisms one RESETKEY may name.
pub const MAX_URLS: usize = 64;

/// Fewest bytes an INTERNAL token may have (RFC 4467 `enc-urlauth = 32*HEXDIG`).
pub const MIN_TOKEN: usize = 16;

/// One of the three commands, as the client sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlAuthCommand {
    /// GENURLAUTH (RFC 4467 §7.1): sign these rump URLs.
    GenUrlAuth {
        /// Each rump URL with the mechanism to sign it with, in the client's order (at
        /// least one, at most `MAX_URLS`).
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// URLFETCH (RFC 4467 §7.3): the data these URLAUTH URLs name.
    UrlFetch {
        /// The URLs as sent (at least one, at most `MAX_URLS`, each at most `MAX_URL`
        /// bytes): each is echoed back in the response.
        urls: Vec<Vec<u8>>,
    },
    /// RESETKEY (RFC 4467 §7.2): new access keys.
    ResetKey {
        /// The mailbox's name as sent (modified UTF-7 or UTF-8, decoded by the handler);
        /// `None`: every mailbox of the user.
        mailbox: Option<Vec<u8>>,
        /// The mechanisms whose keys are reset (none named: all); only with a mailbox.
        mechanisms: Vec<Vec<u8>>,
    },
}

impl UrlAuthCommand {
    /// The command's name, for logs (its stand-in `CommandBody` would say NAMESPACE).
    pub fn name(&self) -> &'static str {
        match self {
            UrlAuthCommand::GenUrlAuth { .. } => "GENURLAUTH",
            UrlAuthCommand::UrlFetch { .. } => "URLFETCH",
            UrlAuthCommand::ResetKey { .. } => "RESETKEY",
        }
    }
}

/// Why one of the three commands is refused with BAD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not the grammar: a missing argument, a literal that does not frame, a URL
    /// without its mechanism.
    Malformed,
    /// More than `MAX_URLS` URLs (or mechanisms).
    TooMany,
    /// A URL (or mechanism, or mailbox name) longer than `MAX_URL` bytes.
    TooLong,
}

impl ParseError {
    /// The BAD response's text.
    pub fn text(self) -> &'static str {
        match self {
            ParseError::Malformed => "Invalid arguments",
            ParseError::TooMany => "Too many URLs in one command",
            ParseError::TooLong => "URL too long",
        }
    }
}

/// A recognised command (its tag, and it), or the tag and why it is refused.
pub type Parsed = Result<(Tag<'static>, UrlAuthCommand), (Tag<'static>, ParseError)>;

/// Reads a whole client message (ending in CRLF) as one of the three commands; `None`
/// when it is none of them (or its tag cannot be read): the caller goes on as for any
/// command imap-codec refused.
pub fn parse(bytes: &[u8]) -> Option<Parsed> {
    let space = bytes.iter().take(65).position(|&b| b == b' ')?;
    let tag = Tag::try_from(std::str::from_utf8(&bytes[..space]).ok()?.to_string()).ok()?;
    let at = space + 1;
    let name_end = at
        + bytes[at..]
            .iter()
            .position(|&b| b == b' ' || b == b'\r' || b == b'\n')?;
    let name = &bytes[at..name_end];
    let kind = if name.eq_ignore_ascii_case(b"GENURLAUTH") {
        Kind::Gen
    } else if name.eq_ignore_ascii_case(b"URLFETCH") {
        Kind::Fetch
    } else if name.eq_ignore_ascii_case(b"RESETKEY") {
        Kind::Reset
    } else {
        return None;
    };
    Some(
        match arguments(bytes, name_end).and_then(|args| build(kind, args)) {
            Ok(command) => Ok((tag, command)),
            Err(why) => Err((tag, why)),
        },
    )
}

/// Which command is being read.
#[derive(Clone, Copy)]
enum Kind {
    /// GENURLAUTH: pairs of rump URL and mechanism.
    Gen,
    /// URLFETCH: URLs.
    Fetch,
    /// RESETKEY: an optional mailbox, then mechanisms.
    Reset,
}

/// The command from its arguments.
fn build(kind: Kind, mut args: Vec<Vec<u8>>) -> Result<UrlAuthCommand, ParseError> {
    // GENURLAUTH names a pair per URL; RESETKEY a mailbox before its mechanisms.
    let most = match kind {
        Kind::Gen => 2 * MAX_URLS,
        Kind::Fetch => MAX_URLS,
        Kind::Reset => 1 + MAX_URLS,
    };
    if args.len() > most {
        return Err(ParseError::TooMany);
    }
    match kind {
        Kind::Gen => {
            if args.is_empty() || !args.len().is_multiple_of(2) {
                return Err(ParseError::Malformed);
            }
            let mut pairs = Vec::with_capacity(args.len() / 2);
            let mut it = args.into_iter();
            while let (Some(url), Some(mechanism)) = (it.next(), it.next()) {
                pairs.push((url, mechanism));
            }
            Ok(UrlAuthCommand::GenUrlAuth { pairs })
        }
        Kind::Fetch if args.is_empty() => Err(ParseError::Malformed),
        Kind::Fetch => Ok(UrlAuthCommand::UrlFetch { urls: args }),
        Kind::Reset if args.is_empty() => Ok(UrlAuthCommand::ResetKey {
            mailbox: None,
            mechanisms: Vec::new(),
        }),
        Kind::Reset => {
            let mailbox = args.remove(0);
            Ok(UrlAuthCommand::ResetKey {
                mailbox: Some(mailbox),
                mechanisms: args,
            })
        }
    }
}

/// The space-separated astrings from `at` (just past the command name) to the final
/// CRLF: at most `2 * MAX_URLS` (GENURLAUTH's pairs), each at most `MAX_URL` bytes.
fn arguments(bytes: &[u8], mut at: usize) -> Result<Vec<Vec<u8>>, ParseError> {
    let mut args = Vec::new();
    loop {
        match bytes.get(at..) {
            Some(b"\r\n") => return Ok(args),
            Some([b' ', ..]) => at += 1,
            _ => return Err(ParseError::Malformed),
        }
        if args.len() > 2 * MAX_URLS {
            return Err(ParseError::TooMany);
        }
        let (value, end) = astring(bytes, at)?;
        args.push(value);
        at = end;
    }
}

/// An astring at `at`: its value and where it ends.
fn astring(bytes: &[u8], at: usize) -> Result<(Vec<u8>, usize), ParseError> {
    use ParseError::{Malformed, TooLong};
    match *bytes.get(at).ok_or(Malformed)? {
        b'"' => crate::catenate::quoted_at(bytes, at, MAX_URL).map_err(|e| match e {
            crate::catenate::QuotedError::Malformed => Malformed,
            crate::catenate::QuotedError::TooLong => TooLong,
        }),
        b'{' => {
            let (len, data) = literal_at(bytes, at).ok_or(Malformed)?;
            if len > MAX_URL {
                return Err(TooLong);
            }
            let end = data.checked_add(len).ok_or(Malformed)?;
            let value = bytes.get(data..end).ok_or(Malformed)?;
            if value.contains(&0) {
                return Err(Malformed);
            }
            Ok((value.to_vec(), end))
        }
        _ => {
            let len = bytes[at..]
                .iter()
                .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
                .ok_or(Malformed)?;
            let value = &bytes[at..at + len];
            if len == 0 {
                return Err(Malformed);
            }
            if len > MAX_URL {
                return Err(TooLong);
            }
            // An atom: printable ASCII, none of the specials that begin other syntax.
            if value
                .iter()
                .any(|&b| b <= b' ' || b >= 0x7f || matches!(b, b'"' | b'(' | b')' | b'{'))
            {
                return Err(Malformed);
            }
            Ok((value.to_vec(), at + len))
        }
    }
}

/// Who may fetch a URL (RFC 4467 §3, `access`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// `anonymous`: any session, logged in or anonymous.
    Anonymous,
    /// `authuser`: any logged-in user.
    AuthUser,
    /// `user+name`: only that user (percent-decoded).
    User(String),
    /// `submit+name`: only a message submission server acting for that user.
    Submit(String),
}

/// A URL with URLAUTH, split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthUrl<'a> {
    /// The message or part it names: `imapurl`'s reading of the URL before `;EXPIRE=` /
    /// `;URLAUTH=`; always absolute, with a user, a host and a mailbox.
    pub url: ImapUrl,
    /// `;EXPIRE=`, as Unix seconds: the URL is void from then on.
    pub expire: Option<i64>,
    /// Who may fetch it.
    pub access: Access,
    /// The URL up to and including the access identifier: what the token signs, byte
    /// for byte as the client wrote it.
    pub rump: &'a str,
    /// The verifier `:mechanism:token`; `None` in a rump URL (GENURLAUTH's argument).
    pub verifier: Option<Verifier<'a>>,
}

/// The `:mechanism:token` of a full URLAUTH URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier<'a> {
    /// The mechanism's name as written (compared without case).
    pub mechanism: &'a str,
    /// The token, hex-decoded: at least `MIN_TOKEN` bytes.
    pub token: Vec<u8>,
}

/// Reads `url` as a URLAUTH URL (rump or full); `None` when it is not one, or is one this
/// server does not take (no user, a relative URL, an unknown access identifier, an
/// EXPIRE that is not an RFC 3339 date-time).
pub fn parse_url(url: &str) -> Option<AuthUrl<'_>> {
    if url.len() > MAX_URL || url.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return None;
    }
    let marker = imapurl::find_ci(url, ";URLAUTH=")?;
    let (mut before, after) = (&url[..marker], &url[marker + ";URLAUTH=".len()..]);
    let mut expire = None;
    if let Some(e) = imapurl::find_ci(before, ";EXPIRE=") {
        let text = &before[e + ";EXPIRE=".len()..];
        expire = Some(chrono::DateTime::parse_from_rfc3339(text).ok()?.timestamp());
        before = &before[..e];
    }
    let parsed = imapurl::parse(before)?;
    if parsed.user.is_none() || parsed.host.is_none() || parsed.mailbox.is_none() {
        return None;
    }
    let (access_text, verifier_text) = match after.find(':') {
        Some(colon) => (&after[..colon], Some(&after[colon + 1..])),
        None => (after, None),
    };
    let access = if access_text.eq_ignore_ascii_case("anonymous") {
        Access::Anonymous
    } else if access_text.eq_ignore_ascii_case("authuser") {
        Access::AuthUser
    } else if let Some(name) = imapurl::strip_prefix_ci(access_text, "user+") {
        Access::User(named(name)?)
    } else if let Some(name) = imapurl::strip_prefix_ci(access_text, "submit+") {
        Access::Submit(named(name)?)
    } else {
        return None;
    };
    let rump = &url[..marker + ";URLAUTH=".len() + access_text.len()];
    let verifier = match verifier_text {
        None => None,
        Some(v) => {
            let (mechanism, token) = v.split_once(':')?;
            if mechanism.is_empty()
                || !mechanism
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                return None;
            }
            let token = hex_token(token)?;
            Some(Verifier { mechanism, token })
        }
    };
    Some(AuthUrl {
        url: parsed,
        expire,
        access,
        rump,
        verifier,
    })
}

/// The checks of a URL to fetch (URLFETCH, or a CATENATE URL part) that need no store:
/// it is a full URLAUTH URL with an INTERNAL token, not expired at `now` (Unix seconds),
/// and its access identifier lets `user` (the session's login name) fetch it. `None`:
/// the URL is refused (NIL). What is left is the store's part: the owner's mailbox, its
/// key, the token, the message.
///
/// `submit+name` is never let through: it is for a message submission server fetching
/// for `name` (RFC 4467 §3), and no IMAP session here is one (the SMTP side has no BURL).
pub fn precheck<'a>(url: &'a str, user: &str, now: i64) -> Option<AuthUrl<'a>> {
    let parsed = parse_url(url)?;
    let verifier = parsed.verifier.as_ref()?;
    if !verifier.mechanism.eq_ignore_ascii_case("INTERNAL") {
        return None;
    }
    if parsed.expire.is_some_and(|e| now >= e) {
        return None;
    }
    let allowed = match &parsed.access {
        Access::Anonymous | Access::AuthUser => true,
        Access::User(name) => name.eq_ignore_ascii_case(user),
        Access::Submit(_) => false,
    };
    allowed.then_some(parsed)
}

/// A user name in an access identifier, percent-decoded; not empty.
fn named(encoded: &str) -> Option<String> {
    // `enc-user` has no `:` (it ends the access identifier) and no `;`.
    if encoded.is_empty() || encoded.contains([':', ';']) {
        return None;
    }
    imapurl::decode(encoded)
}

/// A token's hex digits as bytes: an even number of them, at least `2 * MIN_TOKEN`.
fn hex_token(text: &str) -> Option<Vec<u8>> {
    if text.len() < 2 * MIN_TOKEN || !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// The shared response-string writer (`convert.rs`), here for the fuzz target.
pub use crate::convert::astring_for_response;

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> Option<Parsed> {
        parse(line.as_bytes())
    }

    #[test]
    fn the_three_commands_in_every_astring_form() {
        let (tag, c) = cmd("a1 GENURLAUTH \"imap://a@h/I/;UID=1;URLAUTH=anonymous\" INTERNAL imap://a@h/I/;UID=2;URLAUTH=authuser internal\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(tag.as_ref(), "a1");
        assert_eq!(
            c,
            UrlAuthCommand::GenUrlAuth {
                pairs: vec![
                    (
                        b"imap://a@h/I/;UID=1;URLAUTH=anonymous".to_vec(),
                        b"INTERNAL".to_vec()
                    ),
                    (
                        b"imap://a@h/I/;UID=2;URLAUTH=authuser".to_vec(),
                        b"internal".to_vec()
                    ),
                ]
            }
        );
        let (_, c) = cmd("b urlfetch {5+}\r\nab cd \"x\\\"y\"\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            c,
            UrlAuthCommand::UrlFetch {
                urls: vec![b"ab cd".to_vec(), b"x\"y".to_vec()]
            }
        );
        let (_, c) = cmd("c RESETKEY\r\n").unwrap().unwrap();
        assert_eq!(
            c,
            UrlAuthCommand::ResetKey {
                mailbox: None,
                mechanisms: vec![]
            }
        );
        let (_, c) = cmd("c RESETKEY \"Sent Items\" INTERNAL\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            c,
            UrlAuthCommand::ResetKey {
                mailbox: Some(b"Sent Items".to_vec()),
                mechanisms: vec![b"INTERNAL".to_vec()]
            }
        );
    }

    #[test]
    fn other_commands_are_not_taken_and_bad_arguments_are_bad() {
        assert_eq!(cmd("a FETCH 1 FLAGS\r\n"), None);
        assert_eq!(cmd("GENURLAUTH\r\n"), None);
        for (line, why) in [
            ("a GENURLAUTH\r\n", ParseError::Malformed),
            ("a GENURLAUTH url\r\n", ParseError::Malformed),
            ("a URLFETCH\r\n", ParseError::Malformed),
            ("a URLFETCH  x\r\n", ParseError::Malformed),
            ("a URLFETCH x \r\n", ParseError::Malformed),
            ("a URLFETCH \"x\r\n", ParseError::Malformed),
            ("a URLFETCH {9}\r\nab\r\n", ParseError::Malformed),
            ("a URLFETCH (x)\r\n", ParseError::Malformed),
            ("a URLFETCH x", ParseError::Malformed),
            ("a URLFETCH {99999999999}\r\n", ParseError::Malformed),
        ] {
            assert_eq!(
                cmd(line),
                Some(Err((Tag::try_from("a").unwrap(), why))),
                "{line:?}"
            );
        }
        let many = format!("a URLFETCH{}\r\n", " u".repeat(MAX_URLS + 1));
        assert_eq!(
            parse(many.as_bytes()).unwrap().unwrap_err().1,
            ParseError::TooMany
        );
        let long = format!("a URLFETCH {}\r\n", "u".repeat(MAX_URL + 1));
        assert_eq!(
            parse(long.as_bytes()).unwrap().unwrap_err().1,
            ParseError::TooLong
        );
    }

    #[test]
    fn a_full_url_splits_into_rump_access_and_token() {
        let token = "0123456789abcdef0123456789ABCDEF01234567";
        let text = format!(
            "imap://joe%40example.com@mail.example.com/INBOX;UIDVALIDITY=385759045/;UID=20/;PARTIAL=0.1024;EXPIRE=2030-05-05T00:00:00Z;urlauth=user+fred%40example.com:INTERNAL:{token}"
        );
        let u = parse_url(&text).unwrap();
        assert_eq!(u.url.user.as_deref(), Some("joe@example.com"));
        assert_eq!(u.url.mailbox.as_deref(), Some("INBOX"));
        assert_eq!(u.url.uidvalidity, Some(385759045));
        assert_eq!(u.url.uid, 20);
        assert_eq!(u.url.partial, Some((0, Some(1024))));
        assert_eq!(u.expire, Some(1_904_169_600));
        assert_eq!(u.access, Access::User("fred@example.com".into()));
        assert_eq!(
            u.rump,
            &text[..text.len() - token.len() - ":INTERNAL:".len()]
        );
        let v = u.verifier.unwrap();
        assert_eq!(v.mechanism, "INTERNAL");
        assert_eq!(hex::encode(&v.token), token.to_ascii_lowercase());
        let rump = parse_url("imap://a@h/Sent/;UID=1/;SECTION=1.2;URLAUTH=submit+a").unwrap();
        assert_eq!(rump.access, Access::Submit("a".into()));
        assert_eq!(rump.verifier, None);
        assert_eq!(rump.url.section.as_deref(), Some("1.2"));
    }

    #[test]
    fn urls_this_server_does_not_take() {
        let t = "0".repeat(32);
        for bad in [
            "imap://a@h/I/;UID=1".to_string(),
            format!("/I/;UID=1;URLAUTH=anonymous:INTERNAL:{t}"),
            format!(";UID=1;URLAUTH=anonymous:INTERNAL:{t}"),
            format!("imap://h/I/;UID=1;URLAUTH=anonymous:INTERNAL:{t}"),
            format!("imap://a@h/I/;UID=1;URLAUTH=nobody:INTERNAL:{t}"),
            format!("imap://a@h/I/;UID=1;URLAUTH=user+:INTERNAL:{t}"),
            format!(
                "imap://a@h/I/;UID=1;URLAUTH=anonymous:INTERNAL:{}",
                "0".repeat(30)
            ),
            format!("imap://a@h/I/;UID=1;URLAUTH=anonymous:INTERNAL:{}0", t),
            format!("imap://a@h/I/;UID=1;URLAUTH=anonymous:INTERNAL:{}zz", t),
            format!("imap://a@h/I/;UID=1;URLAUTH=anonymous::{t}"),
            "imap://a@h/I/;UID=1;URLAUTH=anonymous:INTERNAL".to_string(),
            format!("imap://a@h/I/;UID=1;EXPIRE=tomorrow;URLAUTH=anonymous:INTERNAL:{t}"),
            format!("imap://a@h/I/;UID=1;URLAUTH=anonymous:IN TERNAL:{t}"),
        ] {
            assert_eq!(parse_url(&bad), None, "{bad}");
        }
    }

    #[test]
    fn response_astrings_are_quoted_or_literal() {
        assert_eq!(astring_for_response(b"a\"b\\c"), b"\"a\\\"b\\\\c\"");
        assert_eq!(astring_for_response(b"a\r\nb"), b"{4}\r\na\r\nb");
    }
}

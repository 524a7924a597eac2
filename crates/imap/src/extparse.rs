//! Commands no kept library parses. imap-codec 2.0.0-alpha.10 decodes neither LIST's
//! RFC 5258 form (selection options, several patterns, RETURN options; its
//! `ext_list_extended` feature only models response items) nor SEARCH's RETURN options
//! (RFC 4731). When imap-codec rejects a command, the session hands the command's bytes
//! (literals included: imap-next has already received them) to `rescue`, which
//! recognises just these two shapes:
//!
//! - `tag [UID] SEARCH RETURN (opts) rest`: the options are taken out and the command
//!   without them is decoded by imap-codec as usual;
//! - `tag LIST [(selection opts)] reference (pattern | (patterns)) [RETURN (opts)]`.
//!
//! Anything else is left alone (None: the usual untagged BAD). The tokenizer is flat
//! (no recursion), caps the token count, and checks every length against the bytes
//! present, so hostile input costs at most one pass and never panics.

use std::borrow::Cow;

use imap_codec::{CommandCodec, decode::Decoder};
use imap_types::{
    IntoStatic,
    command::{Command, CommandBody},
    core::Tag,
    status::StatusDataItemName,
};

/// More tokens than this is not a command anyone needs: not rescued.
const MAX_TOKENS: usize = 512;

/// A command imap-codec could not decode, recognised here.
#[derive(Debug)]
pub enum Rescued {
    /// SEARCH or UID SEARCH with RETURN options (RFC 4731).
    Search {
        /// The command without its RETURN options, as imap-codec decoded it.
        command: Command<'static>,
        /// The RETURN options.
        ret: SearchReturn,
    },
    /// LIST with RFC 5258 syntax.
    List {
        /// The command's tag.
        tag: Tag<'static>,
        /// What it asks for.
        request: ListRequest,
    },
}

/// SEARCH RETURN options (RFC 4731 §3.1); an empty list means ALL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchReturn {
    /// MIN: the lowest matching number.
    pub min: bool,
    /// MAX: the highest matching number.
    pub max: bool,
    /// COUNT: how many match.
    pub count: bool,
    /// ALL: every match, as a sequence set.
    pub all: bool,
}

/// An extended LIST (RFC 5258, with RFC 5819's STATUS return option and RFC 6154's
/// SPECIAL-USE options).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListRequest {
    /// The reference name (raw bytes from the wire).
    pub reference: Vec<u8>,
    /// The mailbox patterns (raw bytes from the wire), at least one.
    pub patterns: Vec<Vec<u8>>,
    /// Selection SUBSCRIBED: subscribed names only.
    pub select_subscribed: bool,
    /// Selection SPECIAL-USE: mailboxes with a special use only.
    pub select_special_use: bool,
    /// Selection RECURSIVEMATCH: also parents of selected names (with CHILDINFO).
    pub recursive_match: bool,
    /// Return SUBSCRIBED: mark subscribed names with \Subscribed.
    pub return_subscribed: bool,
    /// Return STATUS (items): a STATUS response after each selectable mailbox.
    pub return_status: Vec<StatusDataItemName>,
}

/// A rescued command, or the tagged BAD for a recognised command that is malformed.
pub type Rescue = Result<Rescued, (Tag<'static>, &'static str)>;

/// Longest reference or pattern taken (mailbox names are far shorter).
const MAX_NAME: usize = 1024;

#[derive(Debug, PartialEq, Eq)]
enum Tok<'a> {
    /// A run of non-special bytes.
    Atom(&'a [u8]),
    /// A quoted string or a literal, unescaped (borrowed unless it had escapes).
    Str(Cow<'a, [u8]>),
    Open,
    Close,
}

/// A token and the byte range it came from.
type Spanned<'a> = (Tok<'a>, usize, usize);

/// Splits one complete command (ending in CRLF) into tokens; None when it is not one.
fn lex(b: &[u8]) -> Option<Vec<Spanned<'_>>> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        if out.len() > MAX_TOKENS {
            return None;
        }
        let start = i;
        match *b.get(i)? {
            b'\r' => return (b.get(i + 1) == Some(&b'\n') && i + 2 == b.len()).then_some(out),
            b' ' => i += 1,
            b'(' => {
                out.push((Tok::Open, i, i + 1));
                i += 1;
            }
            b')' => {
                out.push((Tok::Close, i, i + 1));
                i += 1;
            }
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                loop {
                    match *b.get(i)? {
                        b'\\' => {
                            s.push(*b.get(i + 1)?);
                            i += 2;
                        }
                        b'"' => break,
                        b'\r' | b'\n' => return None,
                        c => {
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                out.push((Tok::Str(Cow::Owned(s)), start, i));
            }
            b'{' => {
                let close = i + b.get(i..)?.iter().position(|&c| c == b'}')?;
                let spec = b.get(i + 1..close)?;
                let digits = spec.strip_suffix(b"+").unwrap_or(spec);
                if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit)
                {
                    return None;
                }
                let n: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
                if b.get(close + 1..close + 3)? != b"\r\n" {
                    return None;
                }
                let from = close + 3;
                let to = from.checked_add(n)?;
                out.push((Tok::Str(Cow::Borrowed(b.get(from..to)?)), start, to));
                i = to;
            }
            _ => {
                while let Some(&c) = b.get(i) {
                    if matches!(c, b' ' | b'(' | b')' | b'"' | b'\r' | b'\n') {
                        break;
                    }
                    i += 1;
                }
                out.push((Tok::Atom(&b[start..i]), start, i));
            }
        }
    }
}

fn is_atom(t: Option<&Spanned>, word: &str) -> bool {
    matches!(t, Some((Tok::Atom(a), ..)) if a.eq_ignore_ascii_case(word.as_bytes()))
}

/// Recognises an extended LIST or a SEARCH with RETURN in a command imap-codec rejected.
pub fn rescue(bytes: &[u8]) -> Option<Rescue> {
    let toks = lex(bytes)?;
    let tag = match toks.first() {
        Some((Tok::Atom(t), ..)) => Tag::try_from(t.to_vec()).ok()?.into_static(),
        _ => return None,
    };
    if is_atom(toks.get(1), "LIST") {
        return Some(list(&toks[2..]).map(|request| Rescued::List {
            tag: tag.clone(),
            request,
        }))
        .map(|r| r.map_err(|text| (tag, text)));
    }
    let at = if is_atom(toks.get(1), "UID") { 2 } else { 1 };
    if !is_atom(toks.get(at), "SEARCH") || !is_atom(toks.get(at + 1), "RETURN") {
        return None;
    }
    Some(search(bytes, &toks, at + 1).map_err(|text| (tag, text)))
}

/// `[UID] SEARCH RETURN (...) rest`; `ret` indexes RETURN.
fn search(bytes: &[u8], toks: &[Spanned], ret: usize) -> Result<Rescued, &'static str> {
    if toks.get(ret + 1).map(|t| &t.0) != Some(&Tok::Open) {
        return Err("RETURN needs a parenthesised list");
    }
    let mut opts = SearchReturn::default();
    let mut i = ret + 2;
    loop {
        match toks.get(i) {
            Some((Tok::Close, ..)) => break,
            Some((Tok::Atom(a), ..)) => match a.to_ascii_uppercase().as_slice() {
                b"MIN" => opts.min = true,
                b"MAX" => opts.max = true,
                b"COUNT" => opts.count = true,
                b"ALL" => opts.all = true,
                b"SAVE" => return Err("SEARCHRES (RETURN SAVE) is not supported"),
                _ => return Err("Unknown SEARCH RETURN option"),
            },
            _ => return Err("Malformed SEARCH RETURN options"),
        }
        i += 1;
    }
    // RFC 4731 §3.1: RETURN () means ALL.
    if opts == SearchReturn::default() {
        opts.all = true;
    }
    // The command without "RETURN (...)", decoded by imap-codec as usual.
    let keep_to = toks[ret - 1].2;
    let resume = toks[i].2;
    let mut plain = bytes[..keep_to].to_vec();
    plain.extend_from_slice(&bytes[resume..]);
    match CommandCodec::default().decode(&plain) {
        Ok((rest, command))
            if rest.is_empty() && matches!(command.body, CommandBody::Search { .. }) =>
        {
            Ok(Rescued::Search {
                command: command.into_static(),
                ret: opts,
            })
        }
        _ => Err("Malformed SEARCH"),
    }
}

/// The arguments of an extended LIST.
fn list(toks: &[Spanned]) -> Result<ListRequest, &'static str> {
    let mut req = ListRequest::default();
    let mut i = 0;
    let string = |t: Option<&Spanned>| -> Result<Option<Vec<u8>>, &'static str> {
        let bytes: &[u8] = match t {
            Some((Tok::Atom(a), ..)) => a,
            Some((Tok::Str(a), ..)) => a,
            _ => return Ok(None),
        };
        if bytes.len() > MAX_NAME {
            return Err("Mailbox name or pattern too long");
        }
        Ok(Some(bytes.to_vec()))
    };
    if toks.first().map(|t| &t.0) == Some(&Tok::Open) {
        i = 1;
        loop {
            match toks.get(i) {
                Some((Tok::Close, ..)) => break,
                Some((Tok::Atom(a), ..)) => match a.to_ascii_uppercase().as_slice() {
                    b"SUBSCRIBED" => req.select_subscribed = true,
                    // Every mailbox here is local: REMOTE selects nothing more.
                    b"REMOTE" => {}
                    b"RECURSIVEMATCH" => req.recursive_match = true,
                    b"SPECIAL-USE" => req.select_special_use = true,
                    _ => return Err("Unknown LIST selection option"),
                },
                _ => return Err("Malformed LIST selection options"),
            }
            i += 1;
        }
        i += 1;
        // RFC 5258 §3: RECURSIVEMATCH alone modifies nothing, and is an error.
        if req.recursive_match && !req.select_subscribed && !req.select_special_use {
            return Err("RECURSIVEMATCH needs another selection option");
        }
    }
    req.reference = string(toks.get(i))?.ok_or("Missing LIST reference")?;
    i += 1;
    if toks.get(i).map(|t| &t.0) == Some(&Tok::Open) {
        i += 1;
        while let Some(p) = string(toks.get(i))? {
            req.patterns.push(p);
            i += 1;
        }
        if toks.get(i).map(|t| &t.0) != Some(&Tok::Close) || req.patterns.is_empty() {
            return Err("Malformed LIST patterns");
        }
        i += 1;
    } else {
        req.patterns
            .push(string(toks.get(i))?.ok_or("Missing LIST pattern")?);
        i += 1;
    }
    if i == toks.len() {
        return Ok(req);
    }
    if !is_atom(toks.get(i), "RETURN") || toks.get(i + 1).map(|t| &t.0) != Some(&Tok::Open) {
        return Err("Malformed LIST command");
    }
    i += 2;
    loop {
        match toks.get(i) {
            Some((Tok::Close, ..)) => break,
            Some((Tok::Atom(a), ..)) => match a.to_ascii_uppercase().as_slice() {
                b"SUBSCRIBED" => req.return_subscribed = true,
                // Always returned: \HasChildren / \HasNoChildren and special-use
                // attributes come with every LIST response here.
                b"CHILDREN" | b"SPECIAL-USE" => {}
                b"STATUS" => {
                    if toks.get(i + 1).map(|t| &t.0) != Some(&Tok::Open) {
                        return Err("STATUS needs a parenthesised list");
                    }
                    i += 2;
                    while let Some((Tok::Atom(a), ..)) = toks.get(i) {
                        req.return_status.push(status_item(a)?);
                        i += 1;
                    }
                    if toks.get(i).map(|t| &t.0) != Some(&Tok::Close)
                        || req.return_status.is_empty()
                    {
                        return Err("Malformed STATUS return option");
                    }
                }
                _ => return Err("Unknown LIST return option"),
            },
            _ => return Err("Malformed LIST return options"),
        }
        i += 1;
    }
    if i + 1 != toks.len() {
        return Err("Malformed LIST command");
    }
    Ok(req)
}

fn status_item(a: &[u8]) -> Result<StatusDataItemName, &'static str> {
    Ok(match a.to_ascii_uppercase().as_slice() {
        b"MESSAGES" => StatusDataItemName::Messages,
        b"RECENT" => StatusDataItemName::Recent,
        b"UIDNEXT" => StatusDataItemName::UidNext,
        b"UIDVALIDITY" => StatusDataItemName::UidValidity,
        b"UNSEEN" => StatusDataItemName::Unseen,
        b"DELETED" => StatusDataItemName::Deleted,
        b"HIGHESTMODSEQ" => StatusDataItemName::HighestModSeq,
        b"SIZE" => StatusDataItemName::Size,
        _ => return Err("Unknown STATUS item"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        let r = rescue(b"a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (% {3}\r\nx/*) RETURN (CHILDREN STATUS (MESSAGES UIDNEXT))\r\n");
        let Some(Ok(Rescued::List { tag, request })) = r else {
            panic!("{r:?}")
        };
        assert_eq!(tag.as_ref(), "a");
        assert!(request.select_subscribed && request.recursive_match);
        assert_eq!(request.patterns, [b"%".to_vec(), b"x/*".to_vec()]);
        assert_eq!(request.return_status.len(), 2);
        assert!(matches!(
            rescue(b"b LIST (RECURSIVEMATCH) \"\" *\r\n"),
            Some(Err(_))
        ));
        assert!(matches!(rescue(b"b LIST () \"\" *\r\n"), Some(Ok(_))));
        assert!(matches!(
            rescue(b"b LIST \"\" * RETURN (BOGUS)\r\n"),
            Some(Err(_))
        ));
    }

    #[test]
    fn searches() {
        let r = rescue(b"t UID SEARCH RETURN (MIN COUNT) SUBJECT {2}\r\nhi\r\n");
        let Some(Ok(Rescued::Search { command, ret })) = r else {
            panic!("{r:?}")
        };
        assert!(matches!(
            command.body,
            CommandBody::Search { uid: true, .. }
        ));
        assert!(ret.min && ret.count && !ret.all);
        let r = rescue(b"t SEARCH RETURN () ALL\r\n");
        assert!(matches!(r, Some(Ok(Rescued::Search { ret, .. })) if ret.all));
        assert!(matches!(
            rescue(b"t SEARCH RETURN (SAVE) ALL\r\n"),
            Some(Err(_))
        ));
        assert!(matches!(
            rescue(b"t SEARCH RETURN (MIN) BOGUS\r\n"),
            Some(Err(_))
        ));
    }

    #[test]
    fn junk_is_left_alone() {
        for junk in [
            &b""[..],
            b"\r\n",
            b"a NOOP\r\n",
            b"a SEARCH ALL\r\n",
            b"a LIST {99}\r\nab\r\n",
            b"a LIST \"unterminated\r\n",
            b"a SEARCH RETURN (MIN\r\n",
            b"a LIST (((((\r\n",
            b"a LIST {18446744073709551615}\r\n\r\n",
        ] {
            if let Some(Ok(r)) = rescue(junk) {
                panic!("{junk:?} rescued as {r:?}");
            }
        }
    }
}

//! Commands no kept library parses. imap-codec 2.0.0-alpha.10 decodes neither LIST's
//! RFC 5258 form (selection options, several patterns, RETURN options; its
//! `ext_list_extended` feature only models response items), nor SEARCH's RETURN options
//! (RFC 4731, RFC 5182's SAVE), nor ESORT's RETURN options on SORT (RFC 5267; it does
//! decode plain SORT and THREAD, RFC 5256), nor RFC 5182's `$` (the saved search result)
//! in place of a sequence set. When imap-codec rejects a command, the session hands the command's
//! bytes (literals included: imap-next has already received them) to `rescue`, which
//! recognises just these shapes:
//!
//! - `tag LIST [(selection opts)] reference (pattern | (patterns)) [RETURN (opts)]`;
//! - `tag [UID] SEARCH [RETURN (opts)] criteria`, where the criteria may name `$`;
//! - `tag [UID] SORT [RETURN (opts)] (sort keys) charset criteria` and
//!   `tag [UID] THREAD algorithm charset criteria`, where the criteria may name `$`;
//! - `tag [UID] FETCH|STORE|COPY|MOVE $ ...` and `tag UID EXPUNGE $`;
//! - `tag [UID] FETCH set (... PREVIEW [(LAZY)] ...)` (RFC 8970) and
//!   `tag [UID] FETCH set (... SAVEDATE ...)` (RFC 8514), the set maybe `$`;
//! - FETCH with RFC 9394's PARTIAL modifier (taken out, as RETURN is), alone or with
//!   the two above;
//! - `tag CANCELUPDATE "tag" ...` (RFC 5267 §4.3.5), taken as it is.
//!
//! SEARCH and SORT RETURN options include RFC 5267's UPDATE and CONTEXT and RFC 9394's
//! PARTIAL.
//!
//! All but LIST and CANCELUPDATE are rewritten and handed back to imap-codec: RETURN
//! (...) and FETCH's PARTIAL modifier are taken out, and each `$` token (never one
//! inside a quoted string or a literal: those are strings to the tokenizer) becomes
//! `SAVED`, a set no client sends in its place, which the command's handler later swaps
//! for the saved result. The rewrite only ever grows a command by a few bytes per `$`
//! token, and the token count is capped. PREVIEW and SAVEDATE are taken out of a FETCH's
//! item list (or, when they are the only items, replaced by UID, a stand-in the FETCH
//! handler drops again) and handed on beside the command.
//!
//! Anything else is left alone (None: the usual untagged BAD). The tokenizer is flat
//! (no recursion), caps the token count, and checks every length against the bytes
//! present, so hostile input costs at most one pass and never panics.

use std::{borrow::Cow, num::NonZeroU32};

use imap_codec::{CommandCodec, decode::Decoder};
use imap_types::{
    IntoStatic,
    command::{Command, CommandBody},
    core::Tag,
    search::SearchKey,
    sequence::{SeqOrUid, Sequence, SequenceSet},
    status::StatusDataItemName,
};

/// More tokens than this is not a command anyone needs: not rescued.
const MAX_TOKENS: usize = 512;

/// Most `$` one SEARCH may name: each becomes a copy of the saved result, which can be as
/// large as the mailbox.
const MAX_DOLLARS: usize = 8;

/// What a `$` token is rewritten to before imap-codec sees the command; `SAVED` is what
/// it decodes to.
const SAVED_TEXT: &[u8] = b"4294967295:4294967295";

/// The placeholder for `$` in a decoded command: the range `4294967295:4294967295`.
/// Clients write the message with UID 4294967295 (if ever) as a number, not as a
/// range of one, and a rewritten command where this set shows up in more places than
/// `$` was written is refused, so a sequence set equal to it is always a `$`.
pub fn is_saved(set: &SequenceSet) -> bool {
    matches!(
        set.0.as_ref(),
        [Sequence::Range(SeqOrUid::Value(a), SeqOrUid::Value(b))]
            if *a == NonZeroU32::MAX && *b == NonZeroU32::MAX
    )
}

/// A command imap-codec could not decode, recognised here.
#[derive(Debug)]
pub enum Rescued {
    /// A SEARCH or SORT with RETURN options, or a command naming `$`, rewritten and
    /// decoded.
    Command {
        /// The command as imap-codec decoded it once rewritten: without RETURN options,
        /// with `SAVED` sets (see `is_saved`) where the client wrote `$`.
        command: Command<'static>,
        /// What the rewrite took out.
        rewrite: Rewrite,
    },
    /// CANCELUPDATE (RFC 5267 §4.3.5): stop updating the contexts these tags made.
    CancelUpdate {
        /// The command's tag.
        tag: Tag<'static>,
        /// The tags of the SEARCH / SORT commands whose contexts end (at least one).
        tags: Vec<Vec<u8>>,
    },
    /// LIST with RFC 5258 syntax.
    List {
        /// The command's tag.
        tag: Tag<'static>,
        /// What it asks for.
        request: ListRequest,
    },
    /// An ACL command (RFC 4314 §3).
    Acl {
        /// The command's tag.
        tag: Tag<'static>,
        /// Which, with its arguments.
        command: AclCommand,
    },
}

/// RFC 4314 §3's commands; mailbox names as raw wire bytes, identifiers and rights as
/// written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AclCommand {
    /// SETACL mailbox identifier rights (rights may start with `+` or `-`).
    SetAcl {
        /// The mailbox.
        mailbox: Vec<u8>,
        /// Whose rights.
        identifier: String,
        /// The rights, with their `+`/`-` modifier if any.
        rights: String,
    },
    /// DELETEACL mailbox identifier.
    DeleteAcl {
        /// The mailbox.
        mailbox: Vec<u8>,
        /// Whose entry goes.
        identifier: String,
    },
    /// GETACL mailbox.
    GetAcl {
        /// The mailbox.
        mailbox: Vec<u8>,
    },
    /// LISTRIGHTS mailbox identifier.
    ListRights {
        /// The mailbox.
        mailbox: Vec<u8>,
        /// Whose possible rights.
        identifier: String,
    },
    /// MYRIGHTS mailbox.
    MyRights {
        /// The mailbox.
        mailbox: Vec<u8>,
    },
}

/// What a rewritten command carried beyond what imap-codec decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rewrite {
    /// SEARCH's (or SORT's, RFC 5267) RETURN options, when it had some.
    pub ret: Option<SearchReturn>,
    /// The client wrote `$` (RFC 5182): the command's `SAVED` sets stand for the saved
    /// search result.
    pub saved: bool,
    /// FETCH's PARTIAL modifier (RFC 9394 §3.2): only the messages at these positions
    /// of the set (in UID order), taken out before imap-codec saw the command.
    pub fetch_partial: Option<Partial>,
    /// The FETCH asked for PREVIEW (RFC 8970), which was taken out of its items.
    pub preview: Option<PreviewRequest>,
    /// The FETCH asked for SAVEDATE (RFC 8514), which was taken out of its items.
    pub savedate: bool,
    /// PREVIEW and SAVEDATE were the only items and a UID item stands in their place in
    /// the decoded command (an item list cannot be empty): not shown unless the command
    /// is UID FETCH.
    pub stand_in: bool,
}

/// FETCH PREVIEW (RFC 8970), as the client asked for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PreviewRequest {
    /// PREVIEW (LAZY): the client would rather get NIL than wait for a preview that is
    /// costly to make; without it a preview is always made.
    pub lazy: bool,
}

/// SEARCH RETURN options (RFC 4731 §3.1, RFC 5182 §2); an empty list means ALL.
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
    /// SAVE (RFC 5182): keep the result for `$`.
    pub save: bool,
    /// PARTIAL (RFC 9394, updating RFC 5267 §4.4): only the matches at these
    /// positions of the result.
    pub partial: Option<Partial>,
    /// UPDATE (RFC 5267 §4.3): keep the result live and tell its changes (ADDTO /
    /// REMOVEFROM) as they happen.
    pub update: bool,
}

/// RFC 9394's `partial-range`: positions (from 1) in a SEARCH or SORT result, counted
/// from its start (`1:100`) or, negative, from its end (`-1:-100`, the last 100).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partial {
    /// The lower position as written, the smaller in magnitude (1 or -1 above).
    pub first: u32,
    /// The upper position as written, the larger in magnitude (100 above).
    pub last: u32,
    /// Counted from the end of the result (the `-` form).
    pub from_end: bool,
}

impl Partial {
    /// Reads `m:n` or `-m:-n` (either order; both non-zero).
    pub fn parse(text: &[u8]) -> Option<Partial> {
        let text = std::str::from_utf8(text).ok()?;
        let (a, b) = text.split_once(':')?;
        let from_end = a.starts_with('-');
        let number = |s: &str| -> Option<u32> {
            let digits = if from_end { s.strip_prefix('-')? } else { s };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse().ok().filter(|&n| n > 0)
        };
        let (a, b) = (number(a)?, number(b)?);
        Some(Partial {
            first: a.min(b),
            last: a.max(b),
            from_end,
        })
    }

    /// The part of `result` (in the result's order) at these positions.
    pub fn of<'a, T>(&self, result: &'a [T]) -> &'a [T] {
        let len = result.len();
        let (first, last) = (self.first as usize, self.last as usize);
        let (start, end) = if self.from_end {
            (len.saturating_sub(last), len.saturating_sub(first - 1))
        } else {
            ((first - 1).min(len), last.min(len))
        };
        &result[start..end.max(start)]
    }

    /// As the response echoes it.
    pub fn text(&self) -> String {
        if self.from_end {
            format!("-{}:-{}", self.first, self.last)
        } else {
            format!("{}:{}", self.first, self.last)
        }
    }
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
pub(crate) enum Tok<'a> {
    /// A run of non-special bytes.
    Atom(&'a [u8]),
    /// A quoted string or a literal, unescaped (borrowed unless it had escapes).
    Str(Cow<'a, [u8]>),
    Open,
    Close,
}

/// A token and the byte range it came from.
pub(crate) type Spanned<'a> = (Tok<'a>, usize, usize);
/// Splits one complete command (ending in CRLF) into tokens; None when it is not one.
fn lex(b: &[u8]) -> Option<Vec<Spanned<'_>>> {
    lex_capped(b, MAX_TOKENS)
}

/// `lex` with a token cap of the caller's (NOTIFY's lists of mailbox names are longer
/// than any command here).
pub(crate) fn lex_capped(b: &[u8], max_tokens: usize) -> Option<Vec<Spanned<'_>>> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        if out.len() > max_tokens {
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

pub(crate) fn is_atom(t: Option<&Spanned>, word: &str) -> bool {
    matches!(t, Some((Tok::Atom(a), ..)) if a.eq_ignore_ascii_case(word.as_bytes()))
}

/// Recognises an extended LIST, a SEARCH with RETURN, or a command naming `$` in a
/// command imap-codec rejected.
pub fn rescue(bytes: &[u8]) -> Option<Rescue> {
    let toks = lex(bytes)?;
    let tag = match toks.first() {
        Some((Tok::Atom(t), ..)) => Tag::try_from(t.to_vec()).ok()?.into_static(),
        _ => return None,
    };
    if is_atom(toks.get(1), "CANCELUPDATE") {
        let tags: Option<Vec<Vec<u8>>> = toks[2..]
            .iter()
            .map(|t| match &t.0 {
                Tok::Str(s) => Some(s.to_vec()),
                Tok::Atom(a) => Some(a.to_vec()),
                _ => None,
            })
            .collect();
        return Some(match tags {
            Some(tags) if !tags.is_empty() => Ok(Rescued::CancelUpdate { tag, tags }),
            _ => Err((
                tag,
                "CANCELUPDATE needs the tags of SEARCH or SORT commands",
            )),
        });
    }
    if let Some(found) = acl(&toks[1..]) {
        return Some(
            found
                .map(|command| Rescued::Acl {
                    tag: tag.clone(),
                    command,
                })
                .map_err(|text| (tag, text)),
        );
    }
    if is_atom(toks.get(1), "LIST") {
        return Some(list(&toks[2..]).map(|request| Rescued::List {
            tag: tag.clone(),
            request,
        }))
        .map(|r| r.map_err(|text| (tag, text)));
    }
    let uid = is_atom(toks.get(1), "UID");
    let at = if uid { 2 } else { 1 };
    // RFC 9394: FETCH's PARTIAL modifier, which imap-codec does not know.
    let fetch = is_atom(toks.get(at), "FETCH");
    let partial = match fetch.then(|| fetch_partial(&toks)).flatten() {
        Some(Err(text)) => return Some(Err((tag, text))),
        Some(Ok(p)) => Some(p),
        None => None,
    };
    let found = if fetch && let Some(found) = taken_items(bytes, &toks, at, partial) {
        found
    } else if ["SEARCH", "SORT", "THREAD"]
        .into_iter()
        .any(|c| is_atom(toks.get(at), c))
    {
        search(bytes, &toks, at)?
    } else if ["FETCH", "STORE", "COPY", "MOVE"]
        .into_iter()
        .any(|c| is_atom(toks.get(at), c))
        || (uid && is_atom(toks.get(at), "EXPUNGE"))
    {
        // RFC 5182: `$` is the whole sequence set, the command's first argument.
        let (first, from, to) = toks.get(at + 1)?;
        let dollar = (*first == Tok::Atom(b"$")).then_some((*from, *to, SAVED_TEXT));
        if dollar.is_none() && partial.is_none() {
            return None;
        }
        let cut: Vec<Cut> = dollar.into_iter().chain(partial.map(|p| p.1)).collect();
        sequence_command(bytes, &cut, dollar.is_some(), partial.map(|p| p.0))
    } else {
        return None;
    };
    Some(found.map_err(|text| (tag, text)))
}

/// An ACL command (RFC 4314 §3): name and arguments, each an astring. None when the
/// command is not one.
fn acl(toks: &[Spanned]) -> Option<Result<AclCommand, &'static str>> {
    let Some((Tok::Atom(name), ..)) = toks.first() else {
        return None;
    };
    let name = name.to_ascii_uppercase();
    let arity = match name.as_slice() {
        b"SETACL" => 3,
        b"DELETEACL" | b"LISTRIGHTS" => 2,
        b"GETACL" | b"MYRIGHTS" => 1,
        _ => return None,
    };
    let args: Option<Vec<Vec<u8>>> = toks[1..]
        .iter()
        .map(|(t, ..)| match t {
            Tok::Atom(a) => Some(a.to_vec()),
            Tok::Str(s) => Some(s.to_vec()),
            _ => None,
        })
        .collect();
    let Some(mut args) = args.filter(|a| a.len() == arity) else {
        return Some(Err("Wrong arguments for an ACL command"));
    };
    let text = |b: Vec<u8>| String::from_utf8(b).map_err(|_| "Identifiers and rights are UTF-8");
    let mailbox = args.remove(0);
    Some(match name.as_slice() {
        b"SETACL" => {
            let rights = args.pop().map(text)?;
            let identifier = args.pop().map(text)?;
            identifier.and_then(|identifier| {
                Ok(AclCommand::SetAcl {
                    mailbox,
                    identifier,
                    rights: rights?,
                })
            })
        }
        b"DELETEACL" => args
            .pop()
            .map(text)?
            .map(|identifier| AclCommand::DeleteAcl {
                mailbox,
                identifier,
            }),
        b"LISTRIGHTS" => args
            .pop()
            .map(text)?
            .map(|identifier| AclCommand::ListRights {
                mailbox,
                identifier,
            }),
        b"GETACL" => Ok(AclCommand::GetAcl { mailbox }),
        _ => Ok(AclCommand::MyRights { mailbox }),
    })
}

/// A byte range of a command and what replaces it: `SAVED_TEXT`, nothing, or `UID`.
type Cut = (usize, usize, &'static [u8]);

/// Decodes `bytes` with the byte ranges `cut` (ascending, disjoint) replaced by their
/// replacements.
fn decode_rewritten(bytes: &[u8], cut: &[Cut]) -> Option<Command<'static>> {
    let mut plain = Vec::with_capacity(bytes.len() + cut.len() * SAVED_TEXT.len());
    let mut at = 0;
    for &(from, to, with) in cut {
        plain.extend_from_slice(bytes.get(at..from)?);
        plain.extend_from_slice(with);
        at = to;
    }
    plain.extend_from_slice(bytes.get(at..)?);
    match CommandCodec::default().decode(&plain) {
        Ok(([], command)) => Some(command.into_static()),
        _ => None,
    }
}

/// FETCH, STORE, COPY, MOVE or UID EXPUNGE with `$` as its set (`saved`) and/or a
/// FETCH with a PARTIAL modifier, decoded with the `cut` byte ranges rewritten.
fn sequence_command(
    bytes: &[u8],
    cut: &[Cut],
    saved: bool,
    fetch_partial: Option<Partial>,
) -> Result<Rescued, &'static str> {
    let command = decode_rewritten(bytes, cut).ok_or("Malformed command")?;
    let set = match &command.body {
        CommandBody::Fetch { sequence_set, .. }
        | CommandBody::Store { sequence_set, .. }
        | CommandBody::Copy { sequence_set, .. }
        | CommandBody::Move { sequence_set, .. }
        | CommandBody::ExpungeUid { sequence_set } => sequence_set,
        _ => return Err("Malformed command"),
    };
    if is_saved(set) != saved {
        return Err("Malformed command");
    }
    Ok(Rescued::Command {
        command,
        rewrite: Rewrite {
            ret: None,
            saved,
            fetch_partial,
            ..Rewrite::default()
        },
    })
}

/// What a PARTIAL modifier (RFC 9394 §3.2) in a FETCH's modifier list (the command's
/// last parenthesised group) asks for: the range, and the bytes to take out so that
/// imap-codec reads the rest (the modifier, or the whole group when it is the only
/// one). None when there is none.
type FetchPartial = Result<(Partial, Cut), &'static str>;

/// Finds a FETCH's PARTIAL modifier; see `FetchPartial`.
fn fetch_partial(toks: &[Spanned]) -> Option<FetchPartial> {
    let last = toks.len().checked_sub(1)?;
    if toks[last].0 != Tok::Close {
        return None;
    }
    // The group's opening parenthesis (groups nest inside BODY[HEADER.FIELDS (...)]).
    let mut depth = 0usize;
    let mut open = last;
    loop {
        match toks[open].0 {
            Tok::Close => depth += 1,
            Tok::Open => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        open = open.checked_sub(1)?;
    }
    let at = (open + 1..last).find(|&i| is_atom(toks.get(i), "PARTIAL"))?;
    let range = match toks.get(at + 1) {
        Some((Tok::Atom(r), ..)) if at + 1 < last => Partial::parse(r),
        _ => None,
    };
    let Some(range) = range else {
        return Some(Err("Invalid PARTIAL range"));
    };
    let cut: Cut = if at > open + 1 {
        // After another modifier: from the end of the one before.
        (toks[at - 1].2, toks[at + 1].2, b"")
    } else if at + 2 < last {
        // First of several: up to the next one.
        (toks[at].1, toks[at + 2].1, b"")
    } else {
        // The only one: the whole group, with the space before it.
        (toks.get(open.checked_sub(1)?)?.2, toks[last].2, b"")
    };
    Some(Ok((range, cut)))
}

/// `[UID] FETCH set items [modifiers]` whose items name PREVIEW (RFC 8970, formal syntax:
/// `"PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]`, the only preview-mod being
/// LAZY) or SAVEDATE (RFC 8514, no modifiers); `at` indexes FETCH. None when neither is
/// there. Each counts only as an item of its own: at the top of the item list, never
/// inside a section's field names (`BODY[HEADER.FIELDS (PREVIEW)]`). `partial`: the
/// command's PARTIAL modifier, taken out along with them (its cut comes after the
/// items').
fn taken_items(
    bytes: &[u8],
    toks: &[Spanned],
    at: usize,
    partial: Option<(Partial, Cut)>,
) -> Option<Result<Rescued, &'static str>> {
    let set = at + 1;
    let mut cut: Vec<Cut> = Vec::new();
    let saved = toks.get(set)?.0 == Tok::Atom(b"$");
    if saved {
        let (_, from, to) = toks.get(set)?;
        cut.push((*from, *to, SAVED_TEXT));
    }
    let first = set + 1;
    // The item list: one item, or a parenthesised list ending at its matching paren.
    let (start, end) = match toks.get(first)? {
        (Tok::Open, ..) => {
            let mut depth = 0usize;
            let mut close = None;
            for (i, (t, ..)) in toks.iter().enumerate().skip(first) {
                match t {
                    Tok::Open => depth += 1,
                    Tok::Close => {
                        depth -= 1;
                        if depth == 0 {
                            close = Some(i);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            (first + 1, close?)
        }
        _ => (first, first + 1),
    };
    let mut preview: Option<PreviewRequest> = None;
    let mut savedate = false;
    let mut stand_in = false;
    // PREVIEW (LAZY) only when every PREVIEW asked for LAZY.
    let mut take = |lazy: Option<bool>| match lazy {
        Some(lazy) => {
            let p = preview.get_or_insert(PreviewRequest { lazy: true });
            p.lazy &= lazy;
        }
        None => savedate = true,
    };
    if start == first {
        // The single item: PREVIEW, maybe with (LAZY), or SAVEDATE. Parentheses holding
        // anything else are the FETCH's own modifiers (CHANGEDSINCE ...), left for
        // imap-codec.
        let last = if is_atom(toks.get(first), "SAVEDATE") {
            take(None);
            first
        } else if is_atom(toks.get(first), "PREVIEW") {
            let (lazy, last) = match lazy_mods(toks, first) {
                Some(Ok(close)) => (true, close),
                _ => (false, first),
            };
            take(Some(lazy));
            last
        } else {
            return None;
        };
        stand_in = true;
        cut.push((toks[first].1, toks[last].2, b"UID"));
    } else {
        // Items in a list. While every item so far was taken (`leading`), each goes with
        // the space after it; later ones with the space before them, so the cuts never
        // overlap. A list of taken items only becomes the stand-in UID.
        let mut leading = true;
        let mut depth = 0usize;
        let mut i = start;
        while i < end {
            let t = &toks[i].0;
            let word =
                |w: &[u8]| depth == 0 && matches!(t, Tok::Atom(a) if a.eq_ignore_ascii_case(w));
            let last = if word(b"SAVEDATE") {
                take(None);
                i
            } else if word(b"PREVIEW") {
                let (lazy, last) = match lazy_mods(toks, i) {
                    Some(Ok(close)) => (true, close),
                    Some(Err(text)) => return Some(Err(text)),
                    None => (false, i),
                };
                if last >= end {
                    return Some(Err("Malformed PREVIEW modifiers"));
                }
                take(Some(lazy));
                last
            } else {
                match t {
                    Tok::Open => depth += 1,
                    Tok::Close => depth = depth.saturating_sub(1),
                    Tok::Atom(_) | Tok::Str(_) => {}
                }
                leading = false;
                i += 1;
                continue;
            };
            if leading && last + 1 == end {
                cut.retain(|c| c.0 < toks[start].1);
                cut.push((toks[start].1, toks[last].2, b"UID"));
                stand_in = true;
            } else if leading {
                cut.push((toks[i].1, toks[last + 1].1, b""));
            } else {
                cut.push((toks[i - 1].2, toks[last].2, b""));
            }
            i = last + 1;
        }
    }
    if preview.is_none() && !savedate {
        return None;
    }
    cut.extend(partial.map(|p| p.1));
    let Some(command) = decode_rewritten(bytes, &cut) else {
        return Some(Err("Malformed FETCH"));
    };
    let CommandBody::Fetch { sequence_set, .. } = &command.body else {
        return Some(Err("Malformed FETCH"));
    };
    if saved != is_saved(sequence_set) {
        return Some(Err("Malformed FETCH"));
    }
    Some(Ok(Rescued::Command {
        command,
        rewrite: Rewrite {
            ret: None,
            saved,
            fetch_partial: partial.map(|p| p.0),
            preview,
            savedate,
            stand_in,
        },
    }))
}

/// PREVIEW's modifier list after the PREVIEW at `at`: the index of its closing
/// parenthesis; None when no list follows; an error when it holds anything but LAZY.
fn lazy_mods(toks: &[Spanned], at: usize) -> Option<Result<usize, &'static str>> {
    if toks.get(at + 1).map(|t| &t.0) != Some(&Tok::Open) {
        return None;
    }
    let mut j = at + 2;
    while is_atom(toks.get(j), "LAZY") {
        j += 1;
    }
    if j == at + 2 || toks.get(j).map(|t| &t.0) != Some(&Tok::Close) {
        return Some(Err("Malformed PREVIEW modifiers"));
    }
    Some(Ok(j))
}

/// `[UID] SEARCH [RETURN (...)] criteria`, `[UID] SORT [RETURN (...)] (keys) charset
/// criteria` or `[UID] THREAD algorithm charset criteria`; `at` indexes the command's
/// name. None when it has neither RETURN nor `$` (then it is not ours to rescue).
fn search(bytes: &[u8], toks: &[Spanned], at: usize) -> Option<Result<Rescued, &'static str>> {
    let mut cut = Vec::new();
    let mut ret = None;
    let mut i = at + 1;
    let sort = is_atom(toks.get(at), "SORT");
    if is_atom(toks.get(i), "RETURN") && (sort || is_atom(toks.get(at), "SEARCH")) {
        let (opts, close) = match search_return(toks, i) {
            Ok(found) => found,
            Err(text) => return Some(Err(text)),
        };
        // RFC 5267 defines MIN, MAX, ALL and COUNT for SORT; SAVE is not offered there.
        if sort && opts.save {
            return Some(Err("SORT RETURN (SAVE) is not supported"));
        }
        // The command without "RETURN (...)", decoded by imap-codec as usual.
        cut.push((toks.get(i - 1)?.2, toks.get(close)?.2, &b""[..]));
        ret = Some(opts);
        i = close + 1;
    }
    // `$` (RFC 5182) and RFC 8514's save-date keys (see `savedate`), in one pass so the
    // cuts stay in order.
    let (mut dollars, mut dated) = (0, 0);
    for (t, from, to) in toks.get(i..)? {
        let Tok::Atom(a) = t else { continue };
        if *a == b"$" {
            cut.push((*from, *to, SAVED_TEXT));
            dollars += 1;
        } else if let Some(with) = crate::savedate::rewrite(a) {
            cut.push((*from, *to, with));
            dated += 1;
        }
    }
    if ret.is_none() && dollars == 0 && dated == 0 {
        return None;
    }
    if dollars > MAX_DOLLARS {
        return Some(Err("Too many $ in SEARCH"));
    }
    let Some(command) = decode_rewritten(bytes, &cut) else {
        return Some(Err("Malformed SEARCH"));
    };
    let (CommandBody::Search { criteria, .. }
    | CommandBody::Sort {
        search_criteria: criteria,
        ..
    }
    | CommandBody::Thread {
        search_criteria: criteria,
        ..
    }) = &command.body
    else {
        return Some(Err("Malformed SEARCH"));
    };
    // A `$` that imap-codec took for a string (a mailbox or keyword named "$") would
    // have turned into a string, not a set: then the count differs.
    if criteria.as_ref().iter().map(saved_keys).sum::<usize>() != dollars {
        return Some(Err("Ambiguous $ in SEARCH; quote it if it is a string"));
    }
    // Likewise a save-date key's name that imap-codec took for a string; and each
    // SAVED* date must be a date.
    let mut found = 0;
    for k in criteria.as_ref() {
        if let Err(text) = dated_keys(k, &mut found) {
            return Some(Err(text));
        }
    }
    if found != dated {
        return Some(Err(
            "Ambiguous SAVEDATE key in SEARCH; quote it if it is a string",
        ));
    }
    Some(Ok(Rescued::Command {
        command,
        rewrite: Rewrite {
            ret,
            saved: dollars > 0,
            ..Rewrite::default()
        },
    }))
}

/// Counts the save-date keys (RFC 8514) a search key holds into `found`; an error when
/// one's date is not a date.
fn dated_keys(k: &SearchKey<'_>, found: &mut usize) -> Result<(), &'static str> {
    match k {
        SearchKey::Header(name, value) => {
            if let Some(key) = crate::savedate::key(name.as_ref(), value.as_ref()) {
                key?;
                *found += 1;
            }
        }
        SearchKey::Not(k) => dated_keys(k, found)?,
        SearchKey::Or(a, b) => {
            dated_keys(a, found)?;
            dated_keys(b, found)?;
        }
        SearchKey::And(ks) => {
            for k in ks.as_ref() {
                dated_keys(k, found)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// How many `SAVED` sets a search key holds (imap-codec caps the nesting).
fn saved_keys(k: &SearchKey<'_>) -> usize {
    match k {
        SearchKey::SequenceSet(s) | SearchKey::Uid(s) => usize::from(is_saved(s)),
        SearchKey::Not(k) => saved_keys(k),
        SearchKey::Or(a, b) => saved_keys(a) + saved_keys(b),
        SearchKey::And(ks) => ks.as_ref().iter().map(saved_keys).sum(),
        _ => 0,
    }
}

/// `RETURN (opts)` at `ret`: the options and the index of the closing parenthesis.
fn search_return(toks: &[Spanned], ret: usize) -> Result<(SearchReturn, usize), &'static str> {
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
                b"SAVE" => opts.save = true,
                b"UPDATE" => opts.update = true,
                // RFC 5267 §4.2: a hint that more is to come; nothing to do.
                b"CONTEXT" => {}
                b"PARTIAL" => {
                    i += 1;
                    let range = match toks.get(i) {
                        Some((Tok::Atom(r), ..)) => Partial::parse(r),
                        _ => None,
                    };
                    opts.partial = Some(range.ok_or("Invalid PARTIAL range")?);
                }
                _ => return Err("Unknown SEARCH RETURN option"),
            },
            _ => return Err("Malformed SEARCH RETURN options"),
        }
        i += 1;
    }
    // RFC 5267 §4.4, RFC 9394 §3.1: one PARTIAL or one ALL, not both.
    if opts.all && opts.partial.is_some() {
        return Err("PARTIAL and ALL cannot be combined");
    }
    // RFC 4731 §3.1: RETURN () means ALL; so does a RETURN that asks for no result
    // data, only UPDATE (RFC 5267 §4.3 leaves it open; the client wants the result).
    if !(opts.min || opts.max || opts.count || opts.all || opts.save || opts.partial.is_some()) {
        opts.all = true;
    }
    Ok((opts, i))
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
        let Some(Ok(Rescued::Command { command, rewrite })) = r else {
            panic!("{r:?}")
        };
        assert!(matches!(
            command.body,
            CommandBody::Search { uid: true, .. }
        ));
        let ret = rewrite.ret.unwrap();
        assert!(ret.min && ret.count && !ret.all && !ret.save && !rewrite.saved);
        let r = rescue(b"t SEARCH RETURN () ALL\r\n");
        assert!(
            matches!(r, Some(Ok(Rescued::Command { rewrite: Rewrite { ret: Some(ret), .. }, .. })) if ret.all)
        );
        // SAVE alone is not "RETURN ()": it does not mean ALL.
        let r = rescue(b"t SEARCH RETURN (SAVE) ALL\r\n");
        assert!(
            matches!(&r, Some(Ok(Rescued::Command { rewrite: Rewrite { ret: Some(ret), .. }, .. }))
                if ret.save && !ret.all),
            "{r:?}"
        );
        assert!(matches!(
            rescue(b"t SEARCH RETURN (MIN) BOGUS\r\n"),
            Some(Err(_))
        ));
    }

    #[test]
    fn sorts_and_threads() {
        let r = rescue(b"t UID SORT RETURN (MIN MAX) (REVERSE DATE) UTF-8 ALL\r\n");
        let Some(Ok(Rescued::Command { command, rewrite })) = r else {
            panic!("{r:?}")
        };
        assert!(matches!(command.body, CommandBody::Sort { uid: true, .. }));
        let ret = rewrite.ret.unwrap();
        assert!(ret.min && ret.max && !ret.all && !ret.count);
        let r = rescue(b"t SORT RETURN () (SUBJECT) UTF-8 $\r\n");
        assert!(
            matches!(&r, Some(Ok(Rescued::Command { rewrite: Rewrite { ret: Some(ret), saved: true, preview: None, fetch_partial: None, savedate: false, stand_in: false }, .. })) if ret.all),
            "{r:?}"
        );
        let r = rescue(b"t THREAD REFERENCES UTF-8 OR $ SEEN\r\n");
        assert!(
            matches!(
                &r,
                Some(Ok(Rescued::Command {
                    rewrite: Rewrite {
                        ret: None,
                        saved: true,
                        fetch_partial: None,
                        preview: None,
                        savedate: false,
                        stand_in: false,
                    },
                    ..
                }))
            ),
            "{r:?}"
        );
        for line in [
            &b"t SORT RETURN (SAVE) (DATE) UTF-8 ALL\r\n"[..],
            b"t SORT RETURN (MIN) DATE UTF-8 ALL\r\n",
            b"t SORT RETURN (MIN) (BOGUS) UTF-8 ALL\r\n",
            b"t SORT RETURN (MIN) (DATE) ALL\r\n",
        ] {
            assert!(matches!(rescue(line), Some(Err(_))), "{line:?}");
        }
        // Plain SORT and THREAD are imap-codec's: nothing to rescue.
        assert!(rescue(b"t SORT (DATE) UTF-8 BOGUS\r\n").is_none());
        assert!(rescue(b"t THREAD RETURN (MIN) REFERENCES UTF-8 ALL\r\n").is_none());
    }

    /// How many `SAVED` sets a decoded SEARCH holds.
    fn set_keys(body: &CommandBody<'_>) -> usize {
        let CommandBody::Search { criteria, .. } = body else {
            panic!("{body:?}")
        };
        criteria.as_ref().iter().map(saved_keys).sum()
    }

    #[test]
    fn dollars() {
        for (line, uid) in [
            (&b"t FETCH $ (FLAGS)\r\n"[..], false),
            (
                b"t UID FETCH $ (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n",
                true,
            ),
            (b"t STORE $ +FLAGS.SILENT (\\Seen $Forwarded)\r\n", false),
            (b"t UID COPY $ {1}\r\n$\r\n", true),
            (b"t MOVE $ \"$\"\r\n", false),
            (b"t UID EXPUNGE $\r\n", true),
        ] {
            let r = rescue(line);
            let Some(Ok(Rescued::Command { command, rewrite })) = &r else {
                panic!("{line:?}: {r:?}")
            };
            assert!(rewrite.saved && rewrite.ret.is_none());
            let (set, is_uid) = match &command.body {
                CommandBody::Fetch {
                    sequence_set, uid, ..
                }
                | CommandBody::Store {
                    sequence_set, uid, ..
                }
                | CommandBody::Copy {
                    sequence_set, uid, ..
                }
                | CommandBody::Move {
                    sequence_set, uid, ..
                } => (sequence_set, *uid),
                CommandBody::ExpungeUid { sequence_set } => (sequence_set, true),
                other => panic!("{other:?}"),
            };
            assert!(is_saved(set) && is_uid == uid, "{line:?}");
        }
        // The mailbox of COPY and MOVE is a string, even when it is called "$".
        let r = rescue(b"t COPY $ $\r\n");
        let Some(Ok(Rescued::Command { command, .. })) = &r else {
            panic!("{r:?}")
        };
        let CommandBody::Copy { mailbox, .. } = &command.body else {
            panic!("{command:?}")
        };
        assert!(
            matches!(mailbox, imap_types::mailbox::Mailbox::Other(o) if o.as_ref() == b"$"),
            "{mailbox:?}"
        );

        // In SEARCH, `$` as a key and after UID; a "$" string stays a string.
        let r = rescue(b"t UID SEARCH RETURN (SAVE COUNT) OR $ UID $ NOT SUBJECT \"$\"\r\n");
        let Some(Ok(Rescued::Command { command, rewrite })) = &r else {
            panic!("{r:?}")
        };
        assert!(rewrite.saved && rewrite.ret.as_ref().is_some_and(|r| r.save && r.count));
        assert_eq!(set_keys(&command.body), 2);
        let r = rescue(b"t SEARCH $\r\n");
        assert!(
            matches!(
                r,
                Some(Ok(Rescued::Command {
                    rewrite: Rewrite {
                        saved: true,
                        ret: None,
                        fetch_partial: None,
                        preview: None,
                        savedate: false,
                        stand_in: false,
                    },
                    ..
                }))
            ),
            "{r:?}"
        );

        for (line, text) in [
            // A `$` imap-codec reads as a string: refused, never searched for as a set.
            (
                &b"t SEARCH $ KEYWORD $\r\n"[..],
                "Ambiguous $ in SEARCH; quote it if it is a string",
            ),
            // The client's own 4294967295:4294967295 is not mistaken for `$`.
            (
                b"t SEARCH $ 4294967295:4294967295\r\n",
                "Ambiguous $ in SEARCH; quote it if it is a string",
            ),
            (b"t FETCH $ (BOGUS)\r\n", "Malformed command"),
            (b"t SEARCH $ BOGUS\r\n", "Malformed SEARCH"),
            (b"t SEARCH RETURN (SAVE) $ $$\r\n", "Malformed SEARCH"),
            (b"t SEARCH $ $ $ $ $ $ $ $ $\r\n", "Too many $ in SEARCH"),
        ] {
            let r = rescue(line);
            assert!(
                matches!(&r, Some(Err((_, t))) if *t == text),
                "{line:?}: {r:?}"
            );
        }
        // `$` only as the whole set: anything else is not a SEARCHRES command.
        for line in [
            &b"t FETCH $,1 (FLAGS)\r\n"[..],
            b"t FETCH 1 $\r\n",
            b"t EXPUNGE $\r\n",
            b"t NOOP $\r\n",
            b"t FETCH \"$\" (FLAGS)\r\n",
            b"t FETCH {1}\r\n$ (FLAGS)\r\n",
        ] {
            let r = rescue(line);
            assert!(r.is_none(), "{line:?}: {r:?}");
        }
    }

    #[test]
    fn fetch_partial_is_taken_out_of_the_modifiers() {
        let partial = |line: &[u8]| match rescue(line) {
            Some(Ok(Rescued::Command { command, rewrite })) => {
                let CommandBody::Fetch { modifiers, .. } = command.body else {
                    panic!("{line:?}: not a FETCH");
                };
                (
                    rewrite.fetch_partial.map(|p| p.text()),
                    modifiers.len(),
                    rewrite.saved,
                )
            }
            other => panic!("{line:?}: {other:?}"),
        };
        let last = Some("-1:-30".to_string());
        assert_eq!(
            partial(b"a UID FETCH 1:* (FLAGS) (PARTIAL -1:-30)\r\n"),
            (last.clone(), 0, false)
        );
        assert_eq!(
            partial(b"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5 PARTIAL -30:-1)\r\n"),
            (last.clone(), 1, false)
        );
        assert_eq!(
            partial(b"a UID FETCH 1:* FLAGS (PARTIAL -1:-30 CHANGEDSINCE 5)\r\n"),
            (last.clone(), 1, false)
        );
        assert_eq!(
            partial(b"a FETCH $ (BODY.PEEK[HEADER.FIELDS (SUBJECT)]) (PARTIAL 1:2)\r\n"),
            (Some("1:2".to_string()), 0, true)
        );
        assert!(matches!(
            rescue(b"a FETCH 1:* FLAGS (PARTIAL 0:2)\r\n"),
            Some(Err((_, "Invalid PARTIAL range")))
        ));
        assert!(matches!(
            rescue(b"a FETCH 1:* FLAGS (PARTIAL)\r\n"),
            Some(Err((_, "Invalid PARTIAL range")))
        ));
        // No PARTIAL, no `$`: not ours.
        assert!(rescue(b"a FETCH 1:* (FLAGS) (BOGUS 1)\r\n").is_none());
        // With PREVIEW (RFC 8970), both are taken out.
        for line in [
            &b"a UID FETCH 1:* PREVIEW (PARTIAL -1:-30)\r\n"[..],
            b"a UID FETCH 1:* (FLAGS PREVIEW (LAZY)) (CHANGEDSINCE 5 PARTIAL -1:-30)\r\n",
        ] {
            match rescue(line) {
                Some(Ok(Rescued::Command { rewrite, .. })) => {
                    assert!(rewrite.preview.is_some(), "{line:?}");
                    assert_eq!(rewrite.fetch_partial.map(|p| p.text()), last, "{line:?}");
                }
                other => panic!("{line:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn previews() {
        use imap_types::fetch::{MacroOrMessageDataItemNames as Items, MessageDataItemName as N};
        /// (command, items imap-codec gets, lazy, stand-in, `$`)
        type Case = (&'static [u8], Vec<N<'static>>, bool, bool, bool);
        let cases: [Case; 9] = [
            (b"t FETCH 1 PREVIEW\r\n", vec![N::Uid], false, true, false),
            (
                b"t FETCH 1 PREVIEW (LAZY)\r\n",
                vec![N::Uid],
                true,
                true,
                false,
            ),
            (b"t FETCH 1 (PREVIEW)\r\n", vec![N::Uid], false, true, false),
            (
                b"t UID FETCH $ (preview (lazy))\r\n",
                vec![N::Uid],
                true,
                true,
                true,
            ),
            (
                b"t FETCH 1 (FLAGS PREVIEW)\r\n",
                vec![N::Flags],
                false,
                false,
                false,
            ),
            (
                b"t FETCH 1 (PREVIEW (LAZY) FLAGS)\r\n",
                vec![N::Flags],
                true,
                false,
                false,
            ),
            (
                b"t FETCH 1 (PREVIEW PREVIEW (LAZY) FLAGS PREVIEW UID)\r\n",
                vec![N::Flags, N::Uid],
                false,
                false,
                false,
            ),
            (
                b"t FETCH 1 (PREVIEW (LAZY) PREVIEW (LAZY))\r\n",
                vec![N::Uid],
                true,
                true,
                false,
            ),
            (
                b"t FETCH 1 (FLAGS PREVIEW) (CHANGEDSINCE 5)\r\n",
                vec![N::Flags],
                false,
                false,
                false,
            ),
        ];
        for (line, items, lazy, stand_in, saved) in cases {
            let r = rescue(line);
            let Some(Ok(Rescued::Command { command, rewrite })) = &r else {
                panic!("{line:?}: {r:?}")
            };
            let CommandBody::Fetch {
                macro_or_item_names: Items::MessageDataItemNames(got),
                sequence_set,
                ..
            } = &command.body
            else {
                panic!("{line:?}: {command:?}")
            };
            assert_eq!(got, &items, "{line:?}");
            assert_eq!(rewrite.preview, Some(PreviewRequest { lazy }), "{line:?}");
            assert_eq!(rewrite.stand_in, stand_in, "{line:?}");
            assert!(!rewrite.savedate, "{line:?}");
            assert_eq!((rewrite.saved, is_saved(sequence_set)), (saved, saved));
        }
        // SAVEDATE (RFC 8514) is taken out the same way, alone or beside PREVIEW.
        let savedates: [(&[u8], Vec<N<'static>>, bool, bool); 5] = [
            (b"t FETCH 1 SAVEDATE\r\n", vec![N::Uid], true, false),
            (b"t FETCH 1 (savedate)\r\n", vec![N::Uid], true, false),
            (
                b"t FETCH 1 (SAVEDATE PREVIEW)\r\n",
                vec![N::Uid],
                true,
                true,
            ),
            (
                b"t FETCH 1 (FLAGS SAVEDATE)\r\n",
                vec![N::Flags],
                false,
                false,
            ),
            (
                b"t UID FETCH 1:* (SAVEDATE UID PREVIEW (LAZY) FLAGS)\r\n",
                vec![N::Uid, N::Flags],
                false,
                true,
            ),
        ];
        for (line, items, stand_in, preview) in savedates {
            let r = rescue(line);
            let Some(Ok(Rescued::Command { command, rewrite })) = &r else {
                panic!("{line:?}: {r:?}")
            };
            let CommandBody::Fetch {
                macro_or_item_names: Items::MessageDataItemNames(got),
                ..
            } = &command.body
            else {
                panic!("{line:?}: {command:?}")
            };
            assert_eq!(got, &items, "{line:?}");
            assert!(rewrite.savedate, "{line:?}");
            assert_eq!(rewrite.stand_in, stand_in, "{line:?}");
            assert_eq!(rewrite.preview.is_some(), preview, "{line:?}");
        }
        assert!(rescue(b"t FETCH 1 (BODY[HEADER.FIELDS (SAVEDATE)])\r\n").is_none());
        // A header field called PREVIEW is not the item; a FETCH without it is not ours.
        assert!(rescue(b"t FETCH 1 (BODY[HEADER.FIELDS (PREVIEW)])\r\n").is_none());
        assert!(rescue(b"t FETCH 1 (FLAGS)\r\n").is_none());
        for bad in [
            &b"t FETCH 1 (PREVIEW (FUZZY))\r\n"[..],
            b"t FETCH 1 (PREVIEW ())\r\n",
            b"t FETCH 1 (PREVIEW (LAZY)\r\n",
            b"t FETCH 1 (PREVIEW BOGUS)\r\n",
            b"t FETCH 1 PREVIEW (BOGUS)\r\n",
        ] {
            assert!(matches!(rescue(bad), Some(Err(_)) | None), "{bad:?}");
            assert!(!matches!(rescue(bad), Some(Ok(_))), "{bad:?}");
        }
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

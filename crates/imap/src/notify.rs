//! The NOTIFY command's syntax (RFC 5465 §3.1, §8). Hand-written because imap-codec
//! 2.0.0-alpha.10 (the version in Cargo.lock) does not parse NOTIFY: it refuses the
//! command, and the session hands the command's bytes here, as it does for MULTIAPPEND
//! (`multiappend.rs`) and the forms in `extparse.rs`, whose tokenizer this uses (flat,
//! capped, every length checked against the bytes present). MessageNew's fetch
//! attributes alone go back to imap-codec, as the item list of a `UID FETCH`.
//!
//! ```text
//! notify          = "NOTIFY" SP (notify-set / notify-none)
//! notify-none     = "NONE"
//! notify-set      = "SET" [SP "STATUS"] SP event-group *(SP event-group)
//! event-group     = "(" filter-mailboxes SP events ")"
//! filter-mailboxes = "SELECTED" / "SELECTED-DELAYED" / "INBOXES" / "PERSONAL" /
//!                   "SUBSCRIBED" / ("SUBTREE" SP one-or-more-mailbox) /
//!                   ("MAILBOXES" SP one-or-more-mailbox)
//! one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")"
//! events          = ("(" event *(SP event) ")") / "NONE"
//! event           = ("MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"]) /
//!                   "MessageExpunge" / "FlagChange" / "AnnotationChange" /
//!                   "MailboxName" / "SubscriptionChange" / "MailboxMetadataChange" /
//!                   "ServerMetadataChange" / atom   ; the atom: a future event
//! ```
//!
//! Keywords match in any case. What the parser refuses, and how the session answers:
//! malformed syntax, and the combinations RFC 5465 forbids (§5: MessageNew and
//! MessageExpunge only together, FlagChange and AnnotationChange only with both; §6.1:
//! one SELECTED or SELECTED-DELAYED group at most, holding message events only) are BAD;
//! an event this server does not send (AnnotationChange: there is no ANNOTATE, RFC 5257;
//! any unknown atom) is `NO [BADEVENT (...)]` listing the events it does send (§3.1);
//! more groups or mailbox names than a session may watch is `NO [NOTIFICATIONOVERFLOW]`
//! (§3.1: "prohibitively expensive"). The §5 combination rule is checked in every group,
//! as its text says, though §3.1's example watches `(subtree Lists (MessageNew))`.

use imap_codec::{CommandCodec, decode::Decoder};
use imap_types::{IntoStatic, command::CommandBody, core::Tag, fetch::MacroOrMessageDataItemNames};

use crate::extparse::{Spanned, Tok, is_atom, lex_capped};

/// Most tokens a NOTIFY may have (each mailbox name is one): more is not a NOTIFY
/// anyone needs, and the tokenizer stops there.
const MAX_TOKENS: usize = 2048;

/// Most event groups one NOTIFY may set; more is `NO [NOTIFICATIONOVERFLOW]`.
pub const MAX_GROUPS: usize = 32;

/// Most mailbox names (SUBTREE and MAILBOXES, all groups together) one NOTIFY may watch;
/// more is `NO [NOTIFICATIONOVERFLOW]` (Dovecot's limit too). The session keeps each.
pub const MAX_NAMES: usize = 100;

/// Longest fetch-att list taken after MessageNew, in bytes.
const MAX_FETCH_ATT: usize = 4096;

/// The events this server sends, in the order `NO [BADEVENT (...)]` lists them.
pub const SUPPORTED: [&str; 7] = [
    "MessageNew",
    "MessageExpunge",
    "FlagChange",
    "MailboxName",
    "SubscriptionChange",
    "MailboxMetadataChange",
    "ServerMetadataChange",
];

/// A NOTIFY command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The command's tag.
    pub tag: Tag<'static>,
    /// `NOTIFY SET ...`: what to watch from now on; `None` for `NOTIFY NONE`.
    pub set: Option<NotifySet>,
}

/// `NOTIFY SET [STATUS] event-group ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifySet {
    /// STATUS was given: a STATUS response for each watched mailbox other than the
    /// selected one goes before the tagged OK (§3.1).
    pub status: bool,
    /// The event groups, in the order given (at least one, at most `MAX_GROUPS`).
    pub groups: Vec<Group>,
}

/// `event-group`: some mailboxes and the events wanted from them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Which mailboxes.
    pub filter: Filter,
    /// The events; empty for `NONE` (nothing from these mailboxes).
    pub events: Vec<Event>,
}

/// `filter-mailboxes` (RFC 5465 §6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// SELECTED (§6.1.1): the selected mailbox, whichever it is at the time.
    Selected,
    /// SELECTED-DELAYED (§6.1.2): the same, expunges held for a command that may tell
    /// them.
    SelectedDelayed,
    /// INBOXES (§6.3): mailboxes mail is delivered to.
    Inboxes,
    /// PERSONAL (§6.2): every mailbox of the user's own.
    Personal,
    /// SUBSCRIBED (§6.4): the subscribed mailboxes, as the subscriptions stand.
    Subscribed,
    /// SUBTREE (§6.5): these mailboxes and every one below them; names as sent (raw
    /// astring bytes, not yet decoded from modified UTF-7).
    Subtree(Vec<Vec<u8>>),
    /// MAILBOXES (§6.6): exactly these, no wildcard expanded; names as sent.
    Mailboxes(Vec<Vec<u8>>),
}

impl Filter {
    /// SELECTED or SELECTED-DELAYED.
    pub fn is_selected(&self) -> bool {
        matches!(self, Filter::Selected | Filter::SelectedDelayed)
    }
}

/// One `event` (RFC 5465 §5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// MessageNew, with the attributes to FETCH for each new message of the selected
    /// mailbox (§5.2), when given.
    MessageNew(Option<MacroOrMessageDataItemNames<'static>>),
    /// MessageExpunge (§5.3).
    MessageExpunge,
    /// FlagChange (§5.1).
    FlagChange,
    /// AnnotationChange (§5.1): not sent here (no ANNOTATE).
    AnnotationChange,
    /// MailboxName (§5.4).
    MailboxName,
    /// SubscriptionChange (§5.5).
    SubscriptionChange,
    /// MailboxMetadataChange (§5.6).
    MailboxMetadataChange,
    /// ServerMetadataChange (§5.7).
    ServerMetadataChange,
    /// Any other atom: an event of some extension, not sent here.
    Other(String),
}

impl Event {
    /// A `message-event`: the only kind a SELECTED group may hold (§6.1).
    fn is_message_event(&self) -> bool {
        matches!(
            self,
            Event::MessageNew(_)
                | Event::MessageExpunge
                | Event::FlagChange
                | Event::AnnotationChange
        )
    }

    /// This server sends it.
    pub fn is_supported(&self) -> bool {
        !matches!(self, Event::AnnotationChange | Event::Other(_))
    }
}

/// Why a NOTIFY was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not valid NOTIFY syntax, or a combination RFC 5465 forbids: BAD with this text.
    Invalid(&'static str),
    /// An event this server does not send: `NO [BADEVENT (...)]`.
    BadEvent,
    /// More groups or mailbox names than a session may watch:
    /// `NO [NOTIFICATIONOVERFLOW]`.
    TooMany,
}

/// A parsed NOTIFY, or its tag and why it is refused.
pub type Parsed = Result<Request, (Tag<'static>, Refusal)>;

/// Recognises a NOTIFY command (a whole message, ending in CRLF, literals included);
/// None when the bytes are not one (they are left to the usual BAD).
pub fn parse(bytes: &[u8]) -> Option<Parsed> {
    let toks = match lex_capped(bytes, MAX_TOKENS) {
        Some(t) => t,
        // Too many tokens (or no complete command): a NOTIFY still gets its tagged BAD.
        None => {
            let (tag, rest) = split_tag(bytes)?;
            let word = rest.get(..7)?;
            return word
                .eq_ignore_ascii_case(b"NOTIFY ")
                .then_some(Err((tag, Refusal::Invalid("NOTIFY too long"))));
        }
    };
    let tag = match toks.first() {
        Some((Tok::Atom(t), ..)) => Tag::try_from(t.to_vec()).ok()?.into_static(),
        _ => return None,
    };
    if !is_atom(toks.get(1), "NOTIFY") {
        return None;
    }
    Some(
        request(bytes, &toks[2..])
            .map(|set| Request {
                tag: tag.clone(),
                set,
            })
            .map_err(|why| (tag, why)),
    )
}

/// The tag of a message and the bytes after its space.
fn split_tag(bytes: &[u8]) -> Option<(Tag<'static>, &[u8])> {
    let end = bytes.iter().take(64).position(|&b| b == b' ')?;
    let tag = Tag::try_from(std::str::from_utf8(&bytes[..end]).ok()?.to_string()).ok()?;
    Some((tag, &bytes[end + 1..]))
}

/// NOTIFY's arguments: `NONE`, or `SET ...` checked against RFC 5465's rules.
fn request(bytes: &[u8], toks: &[Spanned]) -> Result<Option<NotifySet>, Refusal> {
    if is_atom(toks.first(), "NONE") {
        return match toks.len() {
            1 => Ok(None),
            _ => Err(Refusal::Invalid("NOTIFY NONE takes no arguments")),
        };
    }
    if !is_atom(toks.first(), "SET") {
        return Err(Refusal::Invalid("NOTIFY needs SET or NONE"));
    }
    let status = is_atom(toks.get(1), "STATUS");
    let mut at = if status { 2 } else { 1 };
    let mut groups = Vec::new();
    while at < toks.len() {
        let (group, next) = group(bytes, toks, at)?;
        groups.push(group);
        at = next;
    }
    if groups.is_empty() {
        return Err(Refusal::Invalid("NOTIFY SET needs an event group"));
    }
    check(&groups)?;
    Ok(Some(NotifySet { status, groups }))
}

/// The rules beyond the grammar, in the order a client is told of them: what RFC 5465
/// forbids (BAD), then what this server does not do (NO).
fn check(groups: &[Group]) -> Result<(), Refusal> {
    if groups.iter().filter(|g| g.filter.is_selected()).count() > 1 {
        return Err(Refusal::Invalid(
            "Only one SELECTED or SELECTED-DELAYED group is allowed",
        ));
    }
    for g in groups {
        if g.filter.is_selected() && !g.events.iter().all(Event::is_message_event) {
            return Err(Refusal::Invalid(
                "SELECTED and SELECTED-DELAYED take message events only",
            ));
        }
        let has = |f: fn(&Event) -> bool| g.events.iter().any(f);
        let new = has(|e| matches!(e, Event::MessageNew(_)));
        let expunge = has(|e| matches!(e, Event::MessageExpunge));
        if new != expunge {
            return Err(Refusal::Invalid(
                "MessageNew and MessageExpunge must be given together",
            ));
        }
        if has(|e| matches!(e, Event::FlagChange | Event::AnnotationChange)) && !new {
            return Err(Refusal::Invalid(
                "FlagChange and AnnotationChange need MessageNew and MessageExpunge",
            ));
        }
    }
    if groups
        .iter()
        .any(|g| !g.events.iter().all(Event::is_supported))
    {
        return Err(Refusal::BadEvent);
    }
    let names: usize = groups
        .iter()
        .map(|g| match &g.filter {
            Filter::Subtree(n) | Filter::Mailboxes(n) => n.len(),
            _ => 0,
        })
        .sum();
    if groups.len() > MAX_GROUPS || names > MAX_NAMES {
        return Err(Refusal::TooMany);
    }
    Ok(())
}

/// One `event-group` starting at `toks[at]`; returns it and where the next one starts.
fn group(bytes: &[u8], toks: &[Spanned], at: usize) -> Result<(Group, usize), Refusal> {
    const MALFORMED: Refusal = Refusal::Invalid("Malformed NOTIFY event group");
    if !matches!(toks.get(at), Some((Tok::Open, ..))) {
        return Err(MALFORMED);
    }
    let mut i = at + 1;
    let filter = match toks.get(i) {
        Some((Tok::Atom(word), ..)) => {
            i += 1;
            match word.to_ascii_uppercase().as_slice() {
                b"SELECTED" => Filter::Selected,
                b"SELECTED-DELAYED" => Filter::SelectedDelayed,
                b"INBOXES" => Filter::Inboxes,
                b"PERSONAL" => Filter::Personal,
                b"SUBSCRIBED" => Filter::Subscribed,
                b"SUBTREE" => Filter::Subtree(names(toks, &mut i)?),
                b"MAILBOXES" => Filter::Mailboxes(names(toks, &mut i)?),
                _ => return Err(Refusal::Invalid("Unknown NOTIFY mailbox filter")),
            }
        }
        _ => return Err(MALFORMED),
    };
    let events = match toks.get(i) {
        Some(t @ (Tok::Atom(_), ..)) if is_atom(Some(t), "NONE") => {
            i += 1;
            Vec::new()
        }
        Some((Tok::Open, ..)) => {
            i += 1;
            let mut events = Vec::new();
            loop {
                match toks.get(i) {
                    Some((Tok::Close, ..)) if !events.is_empty() => {
                        i += 1;
                        break;
                    }
                    Some((Tok::Atom(name), ..)) => {
                        i += 1;
                        events.push(event(bytes, toks, name, &mut i)?);
                    }
                    _ => return Err(Refusal::Invalid("Malformed NOTIFY event list")),
                }
            }
            events
        }
        _ => return Err(Refusal::Invalid("Malformed NOTIFY event list")),
    };
    if !matches!(toks.get(i), Some((Tok::Close, ..))) {
        return Err(MALFORMED);
    }
    Ok((Group { filter, events }, i + 1))
}

/// `one-or-more-mailbox` at `toks[*i]`: a name, or a parenthesised list of at least one.
fn names(toks: &[Spanned], i: &mut usize) -> Result<Vec<Vec<u8>>, Refusal> {
    const MALFORMED: Refusal = Refusal::Invalid("Malformed NOTIFY mailbox list");
    let one = |t: Option<&Spanned>| match t {
        Some((Tok::Atom(a), ..)) => Some(a.to_vec()),
        Some((Tok::Str(s), ..)) => Some(s.to_vec()),
        _ => None,
    };
    if let Some(name) = one(toks.get(*i)) {
        *i += 1;
        return Ok(vec![name]);
    }
    if !matches!(toks.get(*i), Some((Tok::Open, ..))) {
        return Err(MALFORMED);
    }
    *i += 1;
    let mut out = Vec::new();
    loop {
        match toks.get(*i) {
            Some((Tok::Close, ..)) if !out.is_empty() => {
                *i += 1;
                return Ok(out);
            }
            t => {
                out.push(one(t).ok_or(MALFORMED)?);
                *i += 1;
            }
        }
    }
}

/// One event named `name`, whose token is just before `toks[*i]`; MessageNew takes the
/// parenthesised fetch-att list that may follow it.
fn event(bytes: &[u8], toks: &[Spanned], name: &[u8], i: &mut usize) -> Result<Event, Refusal> {
    let event = match name.to_ascii_lowercase().as_slice() {
        b"messagenew" => {
            if !matches!(toks.get(*i), Some((Tok::Open, ..))) {
                return Ok(Event::MessageNew(None));
            }
            // The list ends at its matching parenthesis (sections nest their own).
            let open = *i;
            let mut depth = 0usize;
            let close = loop {
                match toks.get(*i) {
                    Some((Tok::Open, ..)) => depth += 1,
                    Some((Tok::Close, ..)) => {
                        depth -= 1;
                        if depth == 0 {
                            break *i;
                        }
                    }
                    Some(_) => {}
                    None => return Err(Refusal::Invalid("Malformed MessageNew attributes")),
                }
                *i += 1;
            };
            *i += 1;
            let span = bytes
                .get(toks[open].1..toks[close].2)
                .ok_or(Refusal::Invalid("Malformed MessageNew attributes"))?;
            Event::MessageNew(Some(
                fetch_atts(span).ok_or(Refusal::Invalid("Invalid MessageNew attributes"))?,
            ))
        }
        b"messageexpunge" => Event::MessageExpunge,
        b"flagchange" => Event::FlagChange,
        b"annotationchange" => Event::AnnotationChange,
        b"mailboxname" => Event::MailboxName,
        b"subscriptionchange" => Event::SubscriptionChange,
        b"mailboxmetadatachange" => Event::MailboxMetadataChange,
        b"servermetadatachange" => Event::ServerMetadataChange,
        b"none" => return Err(Refusal::Invalid("NONE stands alone, not in an event list")),
        other => Event::Other(String::from_utf8_lossy(other).into_owned()),
    };
    Ok(event)
}

/// A parenthesised fetch-att list, as imap-codec reads it in `UID FETCH 1 (...)`.
fn fetch_atts(list: &[u8]) -> Option<MacroOrMessageDataItemNames<'static>> {
    if list.len() > MAX_FETCH_ATT {
        return None;
    }
    let mut command = Vec::with_capacity(list.len() + 20);
    command.extend_from_slice(b"N UID FETCH 1 ");
    command.extend_from_slice(list);
    command.extend_from_slice(b"\r\n");
    match CommandCodec::default().decode(&command) {
        Ok((
            [],
            imap_types::command::Command {
                body:
                    CommandBody::Fetch {
                        macro_or_item_names:
                            items @ MacroOrMessageDataItemNames::MessageDataItemNames(_),
                        modifiers,
                        ..
                    },
                ..
            },
        )) if modifiers.is_empty() => Some(items.into_static()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Parsed {
        parse(format!("{line}\r\n").as_bytes()).expect("a NOTIFY")
    }

    fn refusal(line: &str) -> Refusal {
        parsed(line).expect_err("refused").1
    }

    #[test]
    fn none_and_set() {
        assert_eq!(parsed("a NOTIFY NONE").unwrap().set, None);
        let set =
            parsed("a notify set status (selected (MessageNew MessageExpunge)) (personal NONE)")
                .unwrap()
                .set
                .unwrap();
        assert!(set.status);
        assert_eq!(set.groups.len(), 2);
        assert_eq!(set.groups[0].filter, Filter::Selected);
        assert_eq!(
            set.groups[0].events,
            vec![Event::MessageNew(None), Event::MessageExpunge]
        );
        assert!(set.groups[1].events.is_empty());
    }

    #[test]
    fn mailboxes_in_every_form() {
        let set = parsed(
            "a NOTIFY SET (subtree Lists (MailboxName)) (mailboxes (INBOX \"a b\" {3}\r\nx)y) (SubscriptionChange))",
        )
        .unwrap()
        .set
        .unwrap();
        assert_eq!(
            set.groups[0].filter,
            Filter::Subtree(vec![b"Lists".to_vec()])
        );
        assert_eq!(
            set.groups[1].filter,
            Filter::Mailboxes(vec![b"INBOX".to_vec(), b"a b".to_vec(), b"x)y".to_vec()])
        );
    }

    #[test]
    fn message_new_takes_fetch_attributes() {
        let set = parsed(
            "a NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]) MessageExpunge FlagChange))",
        )
        .unwrap()
        .set
        .unwrap();
        let Event::MessageNew(Some(MacroOrMessageDataItemNames::MessageDataItemNames(items))) =
            &set.groups[0].events[0]
        else {
            panic!("{set:?}");
        };
        assert_eq!(items.len(), 2);
        assert_eq!(set.groups[0].events.len(), 3);
        assert_eq!(
            refusal("a NOTIFY SET (selected (MessageNew (NOSUCH) MessageExpunge))"),
            Refusal::Invalid("Invalid MessageNew attributes")
        );
    }

    #[test]
    fn forbidden_combinations_are_bad() {
        for line in [
            "a NOTIFY SET (selected (MessageNew))",
            "a NOTIFY SET (selected (MessageExpunge))",
            "a NOTIFY SET (selected (FlagChange))",
            "a NOTIFY SET (personal (FlagChange MessageNew))",
            "a NOTIFY SET (selected (MailboxName))",
            "a NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed NONE)",
        ] {
            assert!(matches!(refusal(line), Refusal::Invalid(_)), "{line}");
        }
    }

    #[test]
    fn unsupported_events_are_badevent() {
        assert_eq!(
            refusal("a NOTIFY SET (selected (MessageNew MessageExpunge AnnotationChange))"),
            Refusal::BadEvent
        );
        assert_eq!(
            refusal("a NOTIFY SET (personal (Gossip))"),
            Refusal::BadEvent
        );
    }

    #[test]
    fn malformed_is_bad() {
        for line in [
            "a NOTIFY",
            "a NOTIFY SET",
            "a NOTIFY SET STATUS",
            "a NOTIFY NONE extra",
            "a NOTIFY SET (personal ())",
            "a NOTIFY SET (personal (MessageNew MessageExpunge)",
            "a NOTIFY SET (personal MessageNew)",
            "a NOTIFY SET (nowhere (MailboxName))",
            "a NOTIFY SET (subtree (MailboxName))",
            "a NOTIFY SET (subtree () (MailboxName))",
            "a NOTIFY SET (personal (NONE))",
            "a NOTIFY SET (personal (MailboxName) extra)",
            "a NOTIFY FOO",
        ] {
            assert!(matches!(refusal(line), Refusal::Invalid(_)), "{line}");
        }
        assert!(parse(b"a NOOP\r\n").is_none());
        assert!(parse(b"NOTIFY NONE\r\n").is_none());
    }

    #[test]
    fn too_many_names_overflow() {
        let names: Vec<String> = (0..=MAX_NAMES).map(|i| format!("m{i}")).collect();
        let line = format!(
            "a NOTIFY SET (mailboxes ({}) (MailboxName))",
            names.join(" ")
        );
        assert_eq!(refusal(&line), Refusal::TooMany);
        let huge = format!(
            "a NOTIFY SET (mailboxes ({}) (MailboxName))",
            "x ".repeat(5000)
        );
        assert!(matches!(refusal(&huge), Refusal::Invalid(_)));
    }
}

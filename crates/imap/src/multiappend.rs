//! The APPEND forms imap-codec 2.0.0-alpha.10 cannot decode: MULTIAPPEND (RFC 3502
//! §6.3.11), `tag APPEND mailbox 1*(SP [flag-list SP] [date-time SP] append-data)`, and
//! CATENATE (RFC 4469 §5), where `append-data` is a literal or `CATENATE (...)`.
//! imap-codec decodes APPEND with one literal message only (its parser ends after the
//! first literal and knows no CATENATE), so a command with several messages or with a
//! CATENATE comes here as a malformed message, its bytes (literals included) already
//! received. The CATENATE list itself is split by `catenate::parse`.
//!
//! What is hand-written is only the split: where the mailbox, each flag list, date and
//! literal begin and end. Each part is then checked by imap-codec itself, as the
//! one-message APPEND `tag APPEND mailbox [flags] [date] {1}\r\nx` it would be with a
//! stand-in literal, so the grammar of names, flags and dates stays imap-codec's. The
//! message bytes are never copied here: a part is a range of the command's bytes.
//!
//! The scan is one flat pass that checks every length against the bytes present, and
//! caps the number of parts, so hostile input costs one pass and never panics.

use std::ops::Range;

use crate::catenate::{CatPart, literal_at};

use imap_codec::{CommandCodec, decode::Decoder};
use imap_types::{
    IntoStatic, command::CommandBody, core::Tag, datetime::DateTime, flag::Flag, mailbox::Mailbox,
};

/// Most messages one APPEND may carry. Their bytes together are capped by the command
/// size already; this caps the work per message (a check, a store write).
pub const MAX_PARTS: usize = 1000;

/// A decoded MULTIAPPEND: where, and the messages as ranges of the command's bytes.
#[derive(Debug)]
pub struct MultiAppend {
    /// The command's tag.
    pub tag: Tag<'static>,
    /// The mailbox every message goes to.
    pub mailbox: Mailbox<'static>,
    /// The messages, in the order the client sent them (at least two, or one built
    /// with CATENATE).
    pub parts: Vec<Part>,
}

/// One message of a MULTIAPPEND.
#[derive(Debug)]
pub struct Part {
    /// The flags to store it with (may be empty).
    pub flags: Vec<Flag<'static>>,
    /// Its INTERNALDATE, when the client gave one.
    pub date: Option<DateTime>,
    /// What the message is made of.
    pub content: Content,
}

/// A message's bytes as the command gives them.
#[derive(Debug)]
pub enum Content {
    /// A literal: where its bytes are in the command.
    Literal(Range<usize>),
    /// CATENATE (RFC 4469): text and URL pieces, to be joined in order.
    Catenate(Vec<CatPart>),
}

/// Why a recognised MULTIAPPEND is refused: BAD with its tag.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MultiAppendError {
    /// A part's flags, date or the mailbox name are not valid IMAP.
    #[error("Invalid flags, date or mailbox in APPEND")]
    Invalid,
    /// More than `MAX_PARTS` messages.
    #[error("Too many messages in one APPEND")]
    TooMany,
    /// A CATENATE list that is not RFC 4469's grammar, or past its caps.
    #[error("Invalid CATENATE")]
    Catenate,
}

/// A MULTIAPPEND refused, with the tag to answer.
pub type Refused = (Tag<'static>, MultiAppendError);

/// Recognises `bytes` (one whole client message) as an APPEND with two or more
/// messages or with a CATENATE. `None`: it is not one (anything else, a single APPEND
/// of a literal, or a shape that does not frame); the session answers it as any
/// malformed command.
pub fn parse(bytes: &[u8]) -> Option<Result<MultiAppend, Refused>> {
    let mut at = bytes.iter().position(|&b| b == b' ')?;
    let tag = Tag::try_from(std::str::from_utf8(&bytes[..at]).ok()?.to_string()).ok()?;
    at += 1;
    let word = bytes.get(at..at + 7)?;
    if !word.eq_ignore_ascii_case(b"APPEND ") {
        return None;
    }
    at += 7;
    let mailbox = at..mailbox_end(bytes, at)?;
    at = mailbox.end;
    let mut split = Vec::new();
    loop {
        if split.len() > MAX_PARTS {
            return Some(Err((tag, MultiAppendError::TooMany)));
        }
        at = expect(bytes, at, b" ")?;
        let flags = if bytes.get(at) == Some(&b'(') {
            let end = at + bytes[at..].iter().position(|&b| b == b')')? + 1;
            if bytes[at..end].iter().any(|&b| b == b'\r' || b == b'\n') {
                return None;
            }
            let flags = at..end;
            at = expect(bytes, end, b" ")?;
            Some(flags)
        } else {
            None
        };
        let date = if bytes.get(at) == Some(&b'"') {
            let end = at + 1 + bytes[at + 1..].iter().position(|&b| b == b'"')? + 1;
            let date = at..end;
            at = expect(bytes, end, b" ")?;
            Some(date)
        } else {
            None
        };
        let word = bytes.get(at..at + 9);
        if word.is_some_and(|w| w.eq_ignore_ascii_case(b"CATENATE ")) {
            match crate::catenate::parse(bytes, at + 9) {
                Ok((cat, end)) => {
                    split.push((flags, date, false, Content::Catenate(cat)));
                    at = end;
                }
                Err(_) => return Some(Err((tag, MultiAppendError::Catenate))),
            }
        } else {
            let binary = bytes.get(at) == Some(&b'~');
            if binary {
                at += 1;
            }
            let (len, data) = literal_at(bytes, at)?;
            let end = data.checked_add(len)?;
            if end > bytes.len() {
                return None;
            }
            split.push((flags, date, binary, Content::Literal(data..end)));
            at = end;
        }
        if &bytes[at..] == b"\r\n" {
            break;
        }
    }
    let catenates = split
        .iter()
        .any(|(.., content)| matches!(content, Content::Catenate(_)));
    if split.len() < 2 && !catenates {
        return None;
    }
    let mut parts = Vec::with_capacity(split.len());
    let mut decoded_mailbox = None;
    for (flags, date, binary, content) in split {
        // The one-message APPEND this part would be, with a stand-in literal.
        let mut one = Vec::with_capacity(64 + mailbox.len());
        one.extend_from_slice(b"A APPEND ");
        one.extend_from_slice(&bytes[mailbox.clone()]);
        for range in [flags, date].into_iter().flatten() {
            one.push(b' ');
            one.extend_from_slice(&bytes[range]);
        }
        one.extend_from_slice(if binary {
            b" ~{1}\r\nx\r\n"
        } else {
            b" {1}\r\nx\r\n"
        });
        let Ok((rest, command)) = CommandCodec::default().decode(&one) else {
            return Some(Err((tag, MultiAppendError::Invalid)));
        };
        let CommandBody::Append {
            mailbox,
            flags,
            date,
            ..
        } = command.body
        else {
            return Some(Err((tag, MultiAppendError::Invalid)));
        };
        if !rest.is_empty() {
            return Some(Err((tag, MultiAppendError::Invalid)));
        }
        decoded_mailbox.get_or_insert_with(|| mailbox.into_static());
        parts.push(Part {
            flags: flags.into_iter().map(IntoStatic::into_static).collect(),
            date,
            content,
        });
    }
    let mailbox = decoded_mailbox?;
    Some(Ok(MultiAppend {
        tag,
        mailbox,
        parts,
    }))
}

/// The byte just past `word` at `at`, if it is there.
fn expect(bytes: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    (bytes.get(at..at + word.len())? == word).then_some(at + word.len())
}

/// Where the mailbox argument starting at `at` ends: an atom ends at a space, a quoted
/// string at its closing quote (backslash escapes), a literal after its bytes.
fn mailbox_end(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => {
            let mut i = at + 1;
            loop {
                match bytes.get(i)? {
                    b'\\' => i += 2,
                    b'"' => return Some(i + 1),
                    b'\r' | b'\n' => return None,
                    _ => i += 1,
                }
            }
        }
        b'{' => {
            let (len, data) = literal_at(bytes, at)?;
            let end = data.checked_add(len)?;
            (end <= bytes.len()).then_some(end)
        }
        _ => {
            let len = bytes[at..].iter().position(|&b| b == b' ')?;
            (len > 0).then_some(at + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Content, MultiAppendError, parse};
    use crate::catenate::CatPart;

    #[test]
    fn one_catenate_is_recognised_and_mixes_with_literals() {
        let cmd =
            b"t APPEND Drafts (\\Draft) CATENATE (URL /INBOX/;UID=1 TEXT {2}\r\nhi) {1}\r\nx\r\n";
        let m = parse(cmd).unwrap().unwrap();
        assert_eq!(m.parts.len(), 2);
        let Content::Catenate(cat) = &m.parts[0].content else {
            panic!("{:?}", m.parts[0]);
        };
        assert_eq!(cat[0], CatPart::Url(b"/INBOX/;UID=1".to_vec()));
        assert_eq!(m.parts[0].flags.len(), 1);
        let one = b"t APPEND INBOX catenate (TEXT {2}\r\nhi)\r\n";
        assert_eq!(parse(one).unwrap().unwrap().parts.len(), 1);
        let bad = b"t APPEND INBOX CATENATE (TEXT {2}\r\nhi URL)\r\n";
        assert_eq!(
            parse(bad).unwrap().unwrap_err().1,
            MultiAppendError::Catenate
        );
    }

    #[test]
    fn splits_messages_with_and_without_flags_and_dates() {
        let cmd = b"t1 APPEND \"Sent Items\" (\\Seen) \"07-Feb-1994 21:52:25 -0800\" {3}\r\nabc {2+}\r\nde (\\Flagged $Label) ~{1}\r\nf\r\n";
        let m = parse(cmd).unwrap().unwrap();
        assert_eq!(m.tag.as_ref(), "t1");
        assert_eq!(m.parts.len(), 3);
        let texts: Vec<&[u8]> = m
            .parts
            .iter()
            .map(|p| match &p.content {
                Content::Literal(r) => &cmd[r.clone()],
                Content::Catenate(_) => panic!("no CATENATE here"),
            })
            .collect();
        assert_eq!(texts, [&b"abc"[..], b"de", b"f"]);
        assert_eq!(m.parts[0].flags.len(), 1);
        assert!(m.parts[0].date.is_some());
        assert!(m.parts[1].flags.is_empty() && m.parts[1].date.is_none());
        assert_eq!(m.parts[2].flags.len(), 2);
    }

    #[test]
    fn a_literal_mailbox_name_frames() {
        let cmd = b"t APPEND {5}\r\nINBOX {1}\r\na {1}\r\nb\r\n";
        let m = parse(cmd).unwrap().unwrap();
        assert_eq!(m.parts.len(), 2);
    }

    #[test]
    fn refuses_bad_parts_and_leaves_other_commands_alone() {
        let bad_flag = b"t APPEND INBOX {1}\r\na (fl\"ag) {1}\r\nb\r\n";
        assert_eq!(
            parse(bad_flag).unwrap().unwrap_err().1,
            MultiAppendError::Invalid
        );
        let bad_date = b"t APPEND INBOX {1}\r\na \"31-Foo-2020 00:00:00 +0000\" {1}\r\nb\r\n";
        assert!(parse(bad_date).unwrap().is_err());
        for other in [
            &b"t APPEND INBOX {1}\r\na\r\n"[..],
            b"t NOOP\r\n",
            b"t APPEND INBOX {9}\r\na {1}\r\nb\r\n",
            b"t APPEND INBOX {1}\r\na {1}\r\nb junk\r\n",
            b"t APPEND INBOX {4294967296}\r\n",
            b"",
            b"t APPEND",
        ] {
            assert!(parse(other).is_none(), "{other:?}");
        }
    }

    #[test]
    fn caps_the_parts() {
        let mut cmd = b"t APPEND INBOX".to_vec();
        for _ in 0..=super::MAX_PARTS + 1 {
            cmd.extend_from_slice(b" {1}\r\nx");
        }
        cmd.extend_from_slice(b"\r\n");
        assert_eq!(
            parse(&cmd).unwrap().unwrap_err().1,
            MultiAppendError::TooMany
        );
    }
}

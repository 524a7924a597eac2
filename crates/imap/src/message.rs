//! What IMAP sees of a message's bytes: sections (BODY[...]), ENVELOPE and BODYSTRUCTURE,
//! computed with mail-parser. Parsing is bounded by mail-parser's own nesting limits; a
//! message it cannot make sense of still answers, as one text/plain part.
//!
//! Part numbers follow RFC 3501 §6.4.5: the children of a multipart are 1, 2, ...; a
//! non-multipart message has one part, 1; a message/rfc822 part's own parts continue the
//! numbering inside it.

use imap_types::{
    body::{BasicFields, Body, BodyStructure, SpecificFields},
    core::{IString, NString, Vec1},
    envelope::{Address as WireAddress, Envelope},
    fetch::{Part, Section},
};
use mail_parser::{
    Address, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};

use crate::convert::nstring_text;

/// Parses message bytes (never fails: junk parses as a plain message).
pub fn parse(bytes: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse(bytes)
}

/// A message's header with the empty line that ends it (the whole message if it has no
/// body).
pub fn header(raw: &[u8]) -> &[u8] {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw, |i| &raw[..i + 4])
}

/// The bytes a BODY[section] names; empty when the section does not exist.
pub fn section(raw: &[u8], msg: Option<&Message<'_>>, section: Option<&Section<'_>>) -> Vec<u8> {
    let Some(section) = section else {
        return raw.to_vec();
    };
    let Some(msg) = msg else {
        return Vec::new();
    };
    let (path, what) = match section {
        Section::Part(p) => (Some(p), What::Body),
        Section::Header(p) => (p.as_ref(), What::Header),
        Section::Text(p) => (p.as_ref(), What::Text),
        Section::HeaderFields(p, names) => (
            p.as_ref(),
            What::Fields(
                names
                    .as_ref()
                    .iter()
                    .map(|n| String::from_utf8_lossy(n.as_ref()).into_owned())
                    .collect(),
                true,
            ),
        ),
        Section::HeaderFieldsNot(p, names) => (
            p.as_ref(),
            What::Fields(
                names
                    .as_ref()
                    .iter()
                    .map(|n| String::from_utf8_lossy(n.as_ref()).into_owned())
                    .collect(),
                false,
            ),
        ),
        Section::Mime(p) => (Some(p), What::Mime),
    };
    let Some(path) = path else {
        // Top-level HEADER / TEXT / HEADER.FIELDS.
        return of_message(msg, &what);
    };
    let Some((owner, part)) = locate(msg, path) else {
        return Vec::new();
    };
    let raw = &owner.raw_message;
    match what {
        What::Body => slice(raw, part.offset_body, part.offset_end).to_vec(),
        What::Mime => slice(raw, part.offset_header, part.offset_body).to_vec(),
        // HEADER, TEXT and HEADER.FIELDS of a part apply to an embedded message.
        _ => match &part.body {
            PartType::Message(inner) => of_message(inner, &what),
            _ => Vec::new(),
        },
    }
}

/// Whether `section` names something `msg` has: a part path that exists and, for a
/// part's HEADER / TEXT / HEADER.FIELDS, a part that is an embedded message. FETCH
/// answers a missing part with nothing; CATENATE must refuse its URL (RFC 4469 §5).
pub fn section_exists(msg: Option<&Message<'_>>, section: &Section<'_>) -> bool {
    let Some(msg) = msg else {
        return false;
    };
    let (path, whole_part) = match section {
        Section::Part(p) | Section::Mime(p) => (Some(p), true),
        Section::Header(p) | Section::Text(p) => (p.as_ref(), false),
        Section::HeaderFields(p, _) | Section::HeaderFieldsNot(p, _) => (p.as_ref(), false),
    };
    let Some(path) = path else {
        return true;
    };
    match locate(msg, path) {
        Some((_, part)) => whole_part || matches!(part.body, PartType::Message(_)),
        None => false,
    }
}

enum What {
    Body,
    Header,
    Text,
    Fields(Vec<String>, bool),
    Mime,
}

fn of_message(msg: &Message<'_>, what: &What) -> Vec<u8> {
    // An embedded message shares its parent's bytes; its offsets are into them.
    let raw = &msg.raw_message;
    let root = &msg.parts[0];
    let header = slice(raw, root.offset_header, root.offset_body);
    match what {
        What::Header => header.to_vec(),
        What::Text | What::Body => slice(raw, root.offset_body, root.offset_end).to_vec(),
        What::Fields(names, keep) => fields(header, names, *keep),
        What::Mime => Vec::new(),
    }
}

fn slice(raw: &[u8], from: u32, to: u32) -> &[u8] {
    let (from, to) = (from as usize, (to as usize).min(raw.len()));
    raw.get(from..to).unwrap_or_default()
}

/// The header lines (with continuations) whose names are (or, with `keep` false, are
/// not) in `names`, then the blank line.
fn fields(header: &[u8], names: &[String], keep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut take = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            let name = String::from_utf8_lossy(name);
            let name = name.trim();
            take = names.iter().any(|n| n.eq_ignore_ascii_case(name)) == keep;
        }
        if take {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Finds the part a path names, with the message whose raw bytes its offsets refer to.
fn locate<'m, 'x>(
    msg: &'m Message<'x>,
    path: &Part,
) -> Option<(&'m Message<'x>, &'m MessagePart<'x>)> {
    let mut owner = msg;
    let mut current: Option<&MessagePart> = None;
    for n in path.0.as_ref() {
        let n = n.get() as usize;
        // Step into an embedded message first, if the last part was one.
        if let Some(PartType::Message(inner)) = current.map(|p| &p.body) {
            owner = inner;
            current = None;
        }
        let base = current.unwrap_or(&owner.parts[0]);
        current = Some(match &base.body {
            PartType::Multipart(children) => owner.parts.get(*children.get(n - 1)? as usize)?,
            _ if n == 1 => base,
            _ => return None,
        });
    }
    current.map(|p| (owner, p))
}

/// Why a BINARY section cannot be given.
#[derive(Debug, PartialEq, Eq)]
pub enum BinaryError {
    /// The part's Content-Transfer-Encoding is not one we can undo (RFC 3516 §4.3:
    /// `NO [UNKNOWN-CTE]`).
    UnknownCte,
}

/// The bytes BINARY[section] names (RFC 3516 §4.1): the part's body with its
/// Content-Transfer-Encoding undone. An empty section is the whole message as stored; a
/// part that does not exist is empty, as for BODY[].
pub fn binary(
    raw: &[u8],
    msg: Option<&Message<'_>>,
    section: &[std::num::NonZeroU32],
) -> Result<Vec<u8>, BinaryError> {
    let Ok(path) = Vec1::try_from(section.to_vec()) else {
        return Ok(raw.to_vec());
    };
    let Some(msg) = msg else {
        return Ok(Vec::new());
    };
    let Some((owner, part)) = locate(msg, &Part(path)) else {
        return Ok(Vec::new());
    };
    let body = slice(&owner.raw_message, part.offset_body, part.offset_end);
    // Multiparts and embedded messages are containers: their bytes are given as they are.
    if matches!(part.body, PartType::Multipart(_) | PartType::Message(_)) {
        return Ok(body.to_vec());
    }
    let cte = part
        .content_transfer_encoding()
        .unwrap_or("7bit")
        .trim()
        .to_ascii_lowercase();
    match cte.as_str() {
        "7bit" | "8bit" | "binary" => Ok(body.to_vec()),
        "base64" => Ok(base64_decode(body)),
        "quoted-printable" => Ok(qp_decode(body)),
        _ => Err(BinaryError::UnknownCte),
    }
}

/// Lenient base64 (RFC 2045 §6.8): characters outside the alphabet (line breaks, junk)
/// are skipped, decoding stops at padding, and a dangling last character is dropped.
fn base64_decode(body: &[u8]) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(body.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in body {
        if c == b'=' {
            break;
        }
        let Some(v) = value(c) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` is a byte, `=` at a line end (or at the very
/// end) a soft break; a malformed `=` is kept as it is.
fn qp_decode(body: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'=' {
            out.push(body[i]);
            i += 1;
            continue;
        }
        let rest = &body[i + 1..];
        if rest.is_empty() {
            // A soft break right before the boundary's line break.
            i += 1;
        } else if rest.starts_with(b"\r\n") {
            i += 3;
        } else if rest.starts_with(b"\n") {
            i += 2;
        } else if let [a, b, ..] = rest
            && let (Some(h), Some(l)) = (hex(*a), hex(*b))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b'=');
            i += 1;
        }
    }
    out
}

/// ENVELOPE (RFC 3501 §7.4.2).
pub fn envelope(msg: Option<&Message<'_>>) -> Envelope<'static> {
    let Some(msg) = msg else {
        return empty_envelope();
    };
    let raw_header = |name: &str| -> Option<String> {
        let h = msg.parts[0]
            .headers
            .iter()
            .find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
        let v = slice(&msg.raw_message, h.offset_start, h.offset_end);
        let v = String::from_utf8_lossy(v);
        Some(v.trim().replace(['\r', '\n'], ""))
    };
    let addresses = |name: &str| -> Vec<WireAddress<'static>> {
        let Some(h) = msg.parts[0]
            .headers
            .iter()
            .find(|h| h.name.as_str().eq_ignore_ascii_case(name))
        else {
            return Vec::new();
        };
        match &h.value {
            HeaderValue::Address(Address::List(l)) => l.iter().map(wire_address).collect(),
            HeaderValue::Address(Address::Group(groups)) => {
                let mut out = Vec::new();
                for g in groups {
                    // mail-parser puts addresses outside any group into a group without
                    // a name: those stay plain addresses.
                    let Some(name) = g.name.as_deref() else {
                        out.extend(g.addresses.iter().map(wire_address));
                        continue;
                    };
                    // RFC 3501 §7.4.2: a group is a start marker (NIL host, the group's
                    // phrase as mailbox name), its members, and an end marker (NIL
                    // mailbox name and host); an empty group is the two markers alone.
                    out.push(WireAddress {
                        name: NString(None),
                        adl: NString(None),
                        mailbox: nstring_text(Some(name)),
                        host: NString(None),
                    });
                    out.extend(g.addresses.iter().map(wire_address));
                    out.push(WireAddress {
                        name: NString(None),
                        adl: NString(None),
                        mailbox: NString(None),
                        host: NString(None),
                    });
                }
                out
            }
            _ => Vec::new(),
        }
    };
    let from = addresses("From");
    let or_from = |v: Vec<WireAddress<'static>>| if v.is_empty() { from.clone() } else { v };
    Envelope {
        date: nstring_text(raw_header("Date").as_deref()),
        subject: nstring_text(raw_header("Subject").as_deref()),
        sender: or_from(addresses("Sender")),
        reply_to: or_from(addresses("Reply-To")),
        from: from.clone(),
        to: addresses("To"),
        cc: addresses("Cc"),
        bcc: addresses("Bcc"),
        in_reply_to: nstring_text(raw_header("In-Reply-To").as_deref()),
        message_id: nstring_text(raw_header("Message-ID").as_deref()),
    }
}

/// One mailbox as an ENVELOPE address: (name adl mailbox host), RFC 3501 §7.4.2.
fn wire_address(a: &mail_parser::Addr<'_>) -> WireAddress<'static> {
    let addr = a.address.as_deref().unwrap_or_default();
    let (local, host) = addr.rsplit_once('@').unwrap_or((addr, ""));
    WireAddress {
        name: nstring_text(a.name.as_deref()),
        adl: NString(None),
        mailbox: nstring_text(Some(local)),
        host: nstring_text((!host.is_empty()).then_some(host)),
    }
}

fn empty_envelope() -> Envelope<'static> {
    Envelope {
        date: NString(None),
        subject: NString(None),
        from: Vec::new(),
        sender: Vec::new(),
        reply_to: Vec::new(),
        to: Vec::new(),
        cc: Vec::new(),
        bcc: Vec::new(),
        in_reply_to: NString(None),
        message_id: NString(None),
    }
}

/// BODYSTRUCTURE (RFC 3501 §7.4.2), without extension data.
pub fn body_structure(raw: &[u8], msg: Option<&Message<'_>>) -> BodyStructure<'static> {
    match msg {
        Some(m) => structure(m, &m.parts[0], 0),
        None => text_plain(raw.len() as u32, lines(raw)),
    }
}

/// Deeper than this, parts are described as opaque (HOSTILE.md MIME: bounded work).
const MAX_DEPTH: usize = 100;

fn structure(owner: &Message<'_>, part: &MessagePart<'_>, depth: usize) -> BodyStructure<'static> {
    let raw = &owner.raw_message;
    let body = slice(raw, part.offset_body, part.offset_end);
    let ct = part.content_type();
    let ctype = ct
        .map(|c| c.ctype().to_ascii_lowercase())
        .unwrap_or_else(|| "text".into());
    let subtype = ct
        .and_then(|c| c.subtype())
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| "plain".into());
    if let PartType::Multipart(children) = &part.body
        && depth < MAX_DEPTH
    {
        let bodies: Vec<BodyStructure> = children
            .iter()
            .filter_map(|&i| owner.parts.get(i as usize))
            .map(|p| structure(owner, p, depth + 1))
            .collect();
        if let Ok(bodies) = Vec1::try_from(bodies) {
            return BodyStructure::Multi {
                bodies,
                subtype: istring(&subtype),
                extension_data: None,
            };
        }
    }
    let mut params: Vec<(IString<'static>, IString<'static>)> = ct
        .and_then(|c| c.attributes())
        .unwrap_or_default()
        .iter()
        .map(|a| (istring(&a.name.to_ascii_lowercase()), istring(&a.value)))
        .collect();
    if ctype == "text" && params.is_empty() {
        params.push((istring("charset"), istring("us-ascii")));
    }
    let basic = BasicFields {
        parameter_list: params,
        id: nstring_text(part.content_id()),
        description: nstring_text(part.content_description()),
        content_transfer_encoding: istring(
            &part
                .content_transfer_encoding()
                .unwrap_or("7bit")
                .to_ascii_lowercase(),
        ),
        size: body.len() as u32,
    };
    let specific = match &part.body {
        PartType::Message(inner) if depth < MAX_DEPTH => SpecificFields::Message {
            envelope: Box::new(envelope(Some(inner))),
            body_structure: Box::new(structure(inner, &inner.parts[0], depth + 1)),
            number_of_lines: lines(body),
        },
        _ if ctype == "text" => SpecificFields::Text {
            subtype: istring(&subtype),
            number_of_lines: lines(body),
        },
        _ => SpecificFields::Basic {
            r#type: istring(&ctype),
            subtype: istring(&subtype),
        },
    };
    BodyStructure::Single {
        body: Body { basic, specific },
        extension_data: None,
    }
}

fn text_plain(size: u32, number_of_lines: u32) -> BodyStructure<'static> {
    BodyStructure::Single {
        body: Body {
            basic: BasicFields {
                parameter_list: vec![(istring("charset"), istring("us-ascii"))],
                id: NString(None),
                description: NString(None),
                content_transfer_encoding: istring("7bit"),
                size,
            },
            specific: SpecificFields::Text {
                subtype: istring("plain"),
                number_of_lines,
            },
        },
        extension_data: None,
    }
}

fn lines(b: &[u8]) -> u32 {
    b.iter().filter(|&&c| c == b'\n').count() as u32
}

fn istring(s: &str) -> IString<'static> {
    IString::try_from(s.to_string())
        .or_else(|_| IString::try_from(s.replace(['\r', '\n', '\0'], " ")))
        .unwrap_or_else(|_| IString::try_from("x").expect("static"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    const MIXED: &[u8] = b"From: A <a@x.org>\r\nTo: b@y.org\r\nSubject: hi\r\nMessage-ID: <1@x>\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\npreamble\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n--XX\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: text/plain\r\n\r\ninner body\r\n--XX--\r\n";

    fn part(p: &[u32]) -> Part {
        Part(
            Vec1::try_from(
                p.iter()
                    .map(|&n| NonZeroU32::new(n).unwrap())
                    .collect::<Vec<_>>(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn sections_by_part_number() {
        let m = parse(MIXED);
        let get = |s: Section| String::from_utf8(section(MIXED, m.as_ref(), Some(&s))).unwrap();
        assert_eq!(get(Section::Part(part(&[1]))), "hello");
        assert!(get(Section::Mime(part(&[1]))).starts_with("Content-Type: text/plain"));
        assert_eq!(
            get(Section::Header(Some(part(&[2])))),
            "Subject: inner\r\nContent-Type: text/plain\r\n\r\n"
        );
        assert_eq!(get(Section::Text(Some(part(&[2])))), "inner body");
        assert_eq!(get(Section::Part(part(&[2, 1]))), "inner body");
        assert_eq!(get(Section::Part(part(&[3]))), "");
        let subj = vec![imap_types::core::AString::try_from("SUBJECT").unwrap()];
        assert_eq!(
            get(Section::HeaderFields(None, Vec1::try_from(subj).unwrap())),
            "Subject: hi\r\n\r\n"
        );
        let plain = b"Subject: x\r\n\r\nbody\r\n";
        let pm = parse(plain);
        assert_eq!(
            section(plain, pm.as_ref(), Some(&Section::Part(part(&[1])))),
            b"body\r\n"
        );
    }

    #[test]
    fn binary_sections_are_decoded() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n/w==\r\n--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nau lait=\r\n--b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n--b--\r\n";
        let m = parse(raw);
        let one = [NonZeroU32::new(1).unwrap()];
        let two = [NonZeroU32::new(2).unwrap()];
        let three = [NonZeroU32::new(3).unwrap()];
        assert_eq!(binary(raw, m.as_ref(), &one).unwrap(), [0, 1, 2, 255]);
        assert_eq!(
            binary(raw, m.as_ref(), &two).unwrap(),
            "café au lait".as_bytes()
        );
        assert_eq!(
            binary(raw, m.as_ref(), &three),
            Err(BinaryError::UnknownCte)
        );
        assert_eq!(binary(raw, m.as_ref(), &[]).unwrap(), raw);
        assert_eq!(base64_decode(b"Zm9v!YmFy\r\nYg"), b"foobarb");
        assert_eq!(qp_decode(b"a=3Db=ZZ=\n="), b"a=b=ZZ");
    }

    #[test]
    fn the_envelope_from_the_header_alone_is_the_same() {
        for raw in [
            MIXED,
            b"Subject: only a header\r\n".as_slice(),
            b"".as_slice(),
        ] {
            let whole = envelope(parse(raw).as_ref());
            let head = envelope(parse(header(raw)).as_ref());
            assert_eq!(format!("{whole:?}"), format!("{head:?}"));
        }
        assert!(header(MIXED).ends_with(b"\r\n\r\n"));
        assert!(header(MIXED).len() < MIXED.len());
    }

    #[test]
    fn envelope_and_structure() {
        let m = parse(MIXED);
        let e = envelope(m.as_ref());
        assert_eq!(e.from.len(), 1);
        assert_eq!(e.sender, e.from);
        assert_eq!(e.to.len(), 1);
        match body_structure(MIXED, m.as_ref()) {
            BodyStructure::Multi { bodies, .. } => assert_eq!(bodies.as_ref().len(), 2),
            other => panic!("{other:?}"),
        }
    }
}

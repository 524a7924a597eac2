//! The message as the tests see it: headers by name, decoded (RFC 2047) and as
//! addresses, and the body for the body test, all through `mail-parser`.
//!
//! Rules of the house:
//! - The message is parsed once per run, and only as far as the script needs: headers
//!   always (cheap), the MIME body only when a `body` test runs.
//! - Every decoded header value and address list is computed at most once per run and
//!   kept (the same header is often tested by many rules).

use std::{
    borrow::Cow,
    cell::OnceCell,
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
    sync::OnceLock,
};

use mail_parser::{
    HeaderValue, Message, MessageParser, MimeHeaders, PartType, parsers::MessageStream,
};

use crate::{ast::BodyTransform, html};

/// FNV-1a for the header-name index: names are short and not chosen to collide with
/// one another in a way that matters (a message has a bounded number of headers), and
/// SipHash showed up in the 100-rule profile.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

type NameIndex = HashMap<String, Vec<usize>, BuildHasherDefault<Fnv>>;

/// How deep message/rfc822 parts are followed by the body test.
const MAX_BODY_DEPTH: usize = 8;

/// One header field of the top-level message.
struct Field {
    /// The raw value bytes, folding included, up to and including the line end.
    raw: (usize, usize),
    /// The value unfolded and RFC 2047-decoded, on first use.
    text: OnceCell<String>,
    /// The addresses in it (`local@domain`), on first use.
    addresses: OnceCell<Vec<String>>,
}

/// One body part's content, decoded, with an ASCII-lower-cased copy for
/// `i;ascii-casemap` substring searches.
#[derive(Clone)]
pub(crate) struct BodyPart {
    /// The content.
    pub text: String,
    /// `text` with ASCII letters lower-cased, made on first use.
    pub folded: OnceCell<String>,
}

impl BodyPart {
    fn new(text: String) -> Self {
        Self {
            text,
            folded: OnceCell::new(),
        }
    }

    /// The ASCII-lower-cased content.
    pub(crate) fn folded(&self) -> &str {
        self.folded.get_or_init(|| self.text.to_ascii_lowercase())
    }
}

/// The message being filtered.
pub(crate) struct MessageView<'a> {
    /// The message as received.
    raw: &'a [u8],
    /// Top-level header fields in order.
    fields: Vec<Field>,
    /// Field indexes by lower-cased name.
    by_name: NameIndex,
    /// The MIME-parsed message, on the first body test.
    full: OnceCell<Option<Message<'a>>>,
    /// Parts for `:text` and `:raw`, on first use.
    text_parts: OnceCell<Vec<BodyPart>>,
    /// The raw body for `:raw`, on first use.
    raw_body: OnceCell<Vec<BodyPart>>,
}

fn header_parser() -> &'static MessageParser {
    static PARSER: OnceLock<MessageParser> = OnceLock::new();
    // Top-level headers are only located here; values are decoded on demand. The one
    // explicit entry matters: with an empty map mail-parser parses the headers it knows
    // (addresses, dates...) whatever the default says.
    PARSER.get_or_init(|| {
        MessageParser::new()
            .default_header_ignore()
            .ignore_header(mail_parser::HeaderName::From)
    })
}

fn body_parser() -> &'static MessageParser {
    static PARSER: OnceLock<MessageParser> = OnceLock::new();
    PARSER.get_or_init(|| {
        MessageParser::new()
            .with_mime_headers()
            .default_header_ignore()
    })
}

impl<'a> MessageView<'a> {
    /// Locates the top-level headers of `raw`. The MIME structure is parsed later, on
    /// the first body test that runs: many scripts that require "body" only reach a
    /// body test for some messages, and the MIME walk (with its transfer decoding) is
    /// most of what a run costs when it happens.
    pub(crate) fn new(raw: &'a [u8]) -> Self {
        let mut fields = Vec::new();
        let mut by_name = NameIndex::default();
        let parsed = header_parser().parse_headers(raw);
        for h in parsed.as_ref().map(|m| m.headers()).unwrap_or_default() {
            let start = h.offset_start() as usize;
            if start > raw.len() {
                continue;
            }
            // The end is where the unfolded value stops (a line end not followed by a
            // space or tab), found here so it does not depend on how the skipped header
            // was parsed.
            let end = field_end(raw, start);
            by_name
                .entry(h.name().to_ascii_lowercase())
                .or_default()
                .push(fields.len());
            fields.push(Field {
                raw: (start, end),
                text: OnceCell::new(),
                addresses: OnceCell::new(),
            });
        }
        Self {
            raw,
            fields,
            by_name,
            full: OnceCell::new(),
            text_parts: OnceCell::new(),
            raw_body: OnceCell::new(),
        }
    }

    /// The raw bytes of a field's value.
    fn raw_value(&self, f: &Field) -> &'a [u8] {
        &self.raw[f.raw.0..f.raw.1]
    }

    /// Whether a header named `name` (lower-cased) is present.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The decoded values of the headers named `name` (lower-cased), in order.
    pub(crate) fn values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.fields.get(i))
            .map(|f| {
                f.text
                    .get_or_init(|| {
                        match MessageStream::new(self.raw_value(f)).parse_unstructured() {
                            HeaderValue::Text(t) => t.trim().to_string(),
                            _ => String::new(),
                        }
                    })
                    .as_str()
            })
    }

    /// The addresses (`local@domain`) in the headers named `name` (lower-cased).
    pub(crate) fn addresses(&self, name: &str) -> impl Iterator<Item = &str> {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.fields.get(i))
            .flat_map(|f| {
                f.addresses
                    .get_or_init(|| parse_addresses(self.raw_value(f)))
                    .iter()
                    .map(String::as_str)
            })
    }

    /// The first decoded value of a header, if present.
    pub(crate) fn first(&self, name: &str) -> Option<&str> {
        self.values(name).next()
    }

    fn full(&self) -> Option<&Message<'a>> {
        self.full
            .get_or_init(|| body_parser().parse(self.raw))
            .as_ref()
    }

    /// The body parts a body test with `transform` compares against.
    pub(crate) fn body(&self, transform: &BodyTransform) -> Cow<'_, [BodyPart]> {
        match transform {
            BodyTransform::Raw => Cow::Borrowed(self.raw_body.get_or_init(|| {
                let body = body_start(self.raw).map_or(&[][..], |at| &self.raw[at..]);
                vec![BodyPart::new(String::from_utf8_lossy(body).into_owned())]
            })),
            BodyTransform::Text => Cow::Borrowed(self.text_parts.get_or_init(|| {
                let mut out = Vec::new();
                if let Some(m) = self.full() {
                    collect(m, &mut out, 0, &|part| match &part.body {
                        PartType::Text(t) => Some(t.to_string()),
                        PartType::Html(h) => Some(html::to_text(h)),
                        _ => None,
                    });
                }
                out
            })),
            BodyTransform::Content(types) => {
                let mut out = Vec::new();
                if let Some(m) = self.full() {
                    collect(m, &mut out, 0, &|part| {
                        let (ctype, subtype) = part
                            .content_type()
                            .map(|c| (c.ctype(), c.subtype().unwrap_or("")))
                            .unwrap_or(("text", "plain"));
                        let wanted = types
                            .iter()
                            .any(|t| content_type_matches(t, ctype, subtype));
                        if !wanted {
                            return None;
                        }
                        match &part.body {
                            PartType::Text(t) | PartType::Html(t) => Some(t.to_string()),
                            PartType::Binary(b) | PartType::InlineBinary(b) => {
                                Some(String::from_utf8_lossy(b).into_owned())
                            }
                            // RFC 5173 §5.2 tests a multipart's prologue and epilogue and
                            // a message/rfc822's header; not supported: no match.
                            PartType::Message(_) | PartType::Multipart(_) => None,
                        }
                    });
                }
                Cow::Owned(out)
            }
        }
    }
}

/// Walks the leaf parts of a message (into message/rfc822 parts, up to a depth) and
/// keeps what `pick` returns.
fn collect(
    m: &Message<'_>,
    out: &mut Vec<BodyPart>,
    depth: usize,
    pick: &dyn Fn(&mail_parser::MessagePart<'_>) -> Option<String>,
) {
    for part in &m.parts {
        if let PartType::Message(inner) = &part.body {
            if depth < MAX_BODY_DEPTH {
                collect(inner, out, depth + 1, pick);
            }
            continue;
        }
        if let Some(text) = pick(part) {
            out.push(BodyPart::new(text));
        }
    }
}

/// RFC 5173 §5.2: `""` matches every type, `"text"` every `text/*`, `"text/plain"`
/// exactly that, case-insensitively.
fn content_type_matches(wanted: &str, ctype: &str, subtype: &str) -> bool {
    if wanted.is_empty() {
        return true;
    }
    match wanted.split_once('/') {
        Some((t, s)) => t.eq_ignore_ascii_case(ctype) && s.eq_ignore_ascii_case(subtype),
        None => wanted.eq_ignore_ascii_case(ctype),
    }
}

/// The end of a header value starting at `start`: after the line end that is not
/// followed by a folding space or tab.
fn field_end(raw: &[u8], start: usize) -> usize {
    let mut at = start;
    while let Some(nl) = memchr::memchr(b'\n', &raw[at..]) {
        at += nl + 1;
        if !matches!(raw.get(at), Some(b' ' | b'\t')) {
            return at;
        }
    }
    raw.len()
}

/// Where the body starts: after the first empty line.
fn body_start(raw: &[u8]) -> Option<usize> {
    let mut at = 0;
    // A message may start with its body (no headers): an empty first line.
    if raw.starts_with(b"\r\n") {
        return Some(2);
    }
    if raw.starts_with(b"\n") {
        return Some(1);
    }
    while let Some(nl) = memchr::memchr(b'\n', &raw[at..]) {
        let next = at + nl + 1;
        match raw.get(next..) {
            Some([b'\r', b'\n', ..]) => return Some(next + 2),
            Some([b'\n', ..]) => return Some(next + 1),
            _ => at = next,
        }
    }
    None
}

/// The `local@domain` addresses of a header value (RFC 5322 address list, groups
/// flattened); a value that is not an address list gives none.
fn parse_addresses(raw: &[u8]) -> Vec<String> {
    match MessageStream::new(raw).parse_address() {
        HeaderValue::Address(a) => a
            .iter()
            .filter_map(|addr| addr.address())
            .map(|s| s.trim().to_string())
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"From: =?utf-8?q?J=C3=B6rg?= <jorg@example.com>\r\n\
To: a@example.org, \"B\" <b@example.net>\r\n\
Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n\
\x20folded\r\n\
X-Empty:\r\n\
\r\n\
Hello there.\r\n";

    #[test]
    fn headers_are_decoded_and_unfolded() {
        let m = MessageView::new(MSG);
        assert_eq!(m.first("subject"), Some("Grüße folded"));
        assert_eq!(m.first("from"), Some("Jörg <jorg@example.com>"));
        assert!(m.has("x-empty"));
        assert_eq!(m.first("x-empty"), Some(""));
        assert_eq!(
            m.addresses("to").collect::<Vec<_>>(),
            vec!["a@example.org", "b@example.net"]
        );
    }

    #[test]
    fn raw_body_starts_after_the_empty_line() {
        let m = MessageView::new(MSG);
        let body = m.body(&BodyTransform::Raw);
        assert_eq!(body[0].text, "Hello there.\r\n");
    }
}

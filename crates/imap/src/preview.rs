//! The text of FETCH PREVIEW (RFC 8970): what a client shows under a message's subject
//! in a list. Taken from the first text part mail-parser finds for reading (text/plain
//! preferred; text/html, when it is the only one, with its tags stripped by `html_text`),
//! decoded (Content-Transfer-Encoding and charset, by mail-parser), whitespace runs
//! collapsed to one space, and cut to `MAX_CHARS` characters.
//!
//! `html_text` is ours, not mail-parser's `html_to_text`: that one glues the words on
//! either side of a block tag (`<h1>Hello</h1><p>you` reads "Helloyou") whenever the
//! first word was ended by a tag, which is how most HTML mail starts.
//!
//! RFC 8970: the preview is plain UTF-8 text of at most 256 characters, with no
//! meaning attached to where it is cut; an empty string when the message has no text
//! to show, NIL when the server has none to give (yet).

/// RFC 8970: a preview is at most 256 characters long.
pub const MAX_CHARS: usize = 256;

/// The PREVIEW of a message's bytes (parsed whole): empty when it has no text part.
pub fn of_message(raw: &[u8]) -> String {
    crate::message::parse(raw)
        .map(|m| preview(&m))
        .unwrap_or_default()
}

/// The PREVIEW of a parsed message: empty when it has no text part.
pub fn preview(msg: &mail_parser::Message<'_>) -> String {
    // body_text(0) is the first part of the message's "text body" list: the text/plain
    // alternative when there is one, else an HTML part turned into text.
    // text_part(0) is the first part of the message's "text body" list: the text/plain
    // alternative when there is one, else the HTML part.
    match msg.text_part(0).map(|p| &p.body) {
        Some(mail_parser::PartType::Text(text)) => collapse(text, MAX_CHARS),
        Some(mail_parser::PartType::Html(html)) => {
            collapse(&html_text(clip(html, MAX_HTML)), MAX_CHARS)
        }
        _ => String::new(),
    }
}

/// Most bytes of an HTML part read for its preview: 256 characters of text are in its
/// first part unless a huge style sheet comes first, and a multi-megabyte HTML mail
/// must not be stripped whole for one list entry.
const MAX_HTML: usize = 256 * 1024;

/// At most `max` bytes of `s`, cut at a character boundary.
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut at = max;
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    &s[..at]
}

/// Elements whose content is not text a reader sees.
const HIDDEN: [&str; 5] = ["head", "script", "style", "template", "title"];

/// Elements that start a new line or block: a word boundary where their tags stand.
const BLOCKS: [&str; 26] = [
    "address",
    "article",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
];

/// The text of an HTML document: tags gone (block tags leave a space), comments and the
/// content of `HIDDEN` elements gone, the common character references decoded. Not a
/// full HTML parser: a `>` inside a quoted attribute ends the tag early, which costs a
/// preview a few characters of attribute text at worst. One pass, no recursion.
pub fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    // The hidden element whose end tag is awaited.
    let mut hidden: Option<&str> = None;
    while let Some(lt) = rest.find('<') {
        if hidden.is_none() {
            push_decoded(&mut out, &rest[..lt]);
        }
        rest = &rest[lt..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let Some(gt) = rest.find('>') else {
            // An unterminated tag: nothing after it is text.
            return out;
        };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = tag.starts_with('/');
        let name = tag.trim_start_matches('/');
        let name = &name[..name
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(name.len())];
        if let Some(h) = hidden {
            if closing && name.eq_ignore_ascii_case(h) {
                hidden = None;
            }
            continue;
        }
        if !closing && let Some(h) = HIDDEN.iter().find(|h| name.eq_ignore_ascii_case(h)) {
            hidden = Some(h);
        } else if BLOCKS.iter().any(|b| name.eq_ignore_ascii_case(b)) {
            out.push(' ');
        }
    }
    if hidden.is_none() {
        push_decoded(&mut out, rest);
    }
    out
}

/// Appends HTML text with its character references (`&amp;`, `&#228;`, `&#xE4;`, and
/// a few named ones) decoded; an unknown one stays as written.
fn push_decoded(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // A reference is short: look for its ';' among the next few bytes only, so a
        // text of a million '&' costs one pass, not a million.
        let end = rest.bytes().take(12).position(|b| b == b';');
        let decoded = end.and_then(|e| match &rest[1..e] {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            n => {
                let n = n.strip_prefix('#')?;
                let code = match n.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => n.parse().ok()?,
                };
                char::from_u32(code)
            }
        });
        match (decoded, end) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

/// `text` with every run of whitespace (line breaks included) one space, no space at
/// either end, and at most `max` characters. Control characters go too: the preview is
/// shown on one line.
pub fn collapse(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    let mut count = 0;
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        // The space before this character counts against the limit too.
        let needed = if space { 2 } else { 1 };
        if count + needed > max {
            break;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
        count += needed;
    }
    out
}

/// The PREVIEW value on the wire: a quoted string when it is printable ASCII, otherwise
/// a literal (a quoted string cannot carry 8-bit text in IMAP4rev1; RFC 8970's
/// `nstring`).
pub fn wire(text: Option<&str>) -> Vec<u8> {
    text.map_or_else(
        || b"NIL".to_vec(),
        |t| crate::convert::astring_for_response(t.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(raw: &str) -> String {
        preview(&crate::message::parse(raw.as_bytes()).unwrap())
    }

    #[test]
    fn whitespace_collapses_and_text_is_cut() {
        assert_eq!(collapse("  a \r\n\t b  ", 10), "a b");
        assert_eq!(collapse("abc def", 5), "abc d");
        assert_eq!(collapse("abcd efgh", 5), "abcd");
        let long = "ä".repeat(300);
        assert_eq!(collapse(&long, MAX_CHARS).chars().count(), MAX_CHARS);
    }

    #[test]
    fn plain_is_preferred_and_decoded() {
        let alt = "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe,\r\n  Welt\r\n--b--\r\n";
        assert_eq!(of(alt), "Grüße, Welt");
        let html = "Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+SGk8L2I+IDxpPnRoZXJlPC9pPg==\r\n";
        assert_eq!(of(html), "Hi there");
        let glued = "Content-Type: text/html\r\n\r\n<h1>Hello</h1>\n<p>you <i>and</i> me</p>\r\n";
        assert_eq!(of(glued), "Hello you and me");
        let none =
            "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n";
        assert_eq!(of(none), "");
    }

    #[test]
    fn html_loses_tags_not_word_breaks() {
        assert_eq!(
            html_text(
                "<html><head><title>T</title><style>p{}</style></head><body><h1>Hello</h1><p>you &amp; <b>m</b>e&nbsp;&#228;&#xE4;&bogus; &</p><!-- hidden --><script>x()</script>end"
            ),
            " Hello  you & me ää&bogus; & end"
        );
        assert_eq!(html_text("a<br>b<p"), "a b");
        assert_eq!(html_text("<!-- open"), "");
        // Hostile shapes stay linear (these would take minutes if they were not).
        let amps = "&".repeat(1 << 20);
        assert_eq!(html_text(&amps).len(), amps.len());
        assert_eq!(html_text(&"<".repeat(1 << 20)), "");
        assert_eq!(html_text(&"<a>".repeat(1 << 18)), "");
    }

    /// What the fuzz target (fuzz/fuzz_targets/imap_preview.rs) checks of every input.
    fn well_formed(text: &str) {
        assert!(text.chars().count() <= MAX_CHARS, "{text:?}");
        assert!(!text.starts_with(' ') && !text.ends_with(' '), "{text:?}");
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }

    #[test]
    fn hostile_messages_give_well_formed_previews() {
        for raw in [
            &b""[..],
            b"\r\n\r\n",
            b"Content-Type: text/html\r\n\r\n<p>\x00\x01 a\tb\r\n</p>",
            b"Content-Type: text/plain; charset=utf-16\r\n\r\n\xff\xfe\x00\xd8",
            b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n--a\r\n",
            b"Content-Transfer-Encoding: base64\r\n\r\n!!!!",
        ] {
            well_formed(&of_message(raw));
        }
        let long = format!("Subject: x\r\n\r\n{}", " \u{a0}word\r\n".repeat(500));
        well_formed(&of_message(long.as_bytes()));
    }

    #[test]
    fn wire_forms() {
        assert_eq!(wire(None), b"NIL");
        assert_eq!(wire(Some("say \"hi\"")), b"\"say \\\"hi\\\"\"");
        assert_eq!(wire(Some("é")), b"{2}\r\n\xc3\xa9");
    }
}

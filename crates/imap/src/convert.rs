//! Conversions between imap-types and the store's types, and small response builders.

use std::num::NonZeroU32;

use imap_types::IntoStatic;
use imap_types::{
    core::{AString, IString, Literal, NString, Quoted, Tag, Vec1},
    extensions::utf8::QuotedUtf8,
    flag::{Flag, FlagFetch},
    mailbox::{Mailbox as WireMailbox, MailboxOther},
    response::{Code, Status},
    sequence::{SeqOrUid, Sequence, SequenceSet},
};
use twinmail_store::{Flags, UidSet};

use crate::mutf7;

/// A mailbox name from the wire, decoded from modified UTF-7 (raw UTF-8 is accepted only
/// when it is not ASCII-looking mUTF-7, i.e. as sent by UTF8=ACCEPT clients).
/// With `utf8` (the client enabled UTF8=ACCEPT or IMAP4rev2, RFC 6855 §3) names are
/// UTF-8 as they stand, mUTF-7 is no longer decoded.
pub fn mailbox_name(m: &WireMailbox<'_>, utf8: bool) -> Option<String> {
    match m {
        WireMailbox::Inbox => Some("INBOX".to_string()),
        WireMailbox::Other(o) => name_from_wire(o.as_ref(), utf8),
    }
}

/// A mailbox name (or pattern) from its wire bytes; see `mailbox_name`. Names are
/// stored in Unicode NFC (RFC 9051 §5.1 and RFC 5198's Net-Unicode), so that a name typed
/// with a combining accent and one typed precomposed are one mailbox, not two that look
/// the same.
pub fn name_from_wire(bytes: &[u8], utf8: bool) -> Option<String> {
    use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
    let s = std::str::from_utf8(bytes).ok()?;
    let name = if s.is_ascii() && !utf8 {
        mutf7::decode(s)?
    } else {
        s.to_string()
    };
    Some(match is_nfc_quick(name.chars()) {
        IsNormalized::Yes => name,
        _ => name.nfc().collect(),
    })
}

/// A store name for the wire: modified UTF-7, or UTF-8 for clients that enabled it.
pub fn wire_mailbox(name: &str, utf8: bool) -> WireMailbox<'static> {
    if utf8 && !name.is_ascii() {
        // RFC 6855 §3 / RFC 9051: a UTF-8 quoted string (a literal would do too, but
        // clients read quoted names more easily).
        let quoted = QuotedUtf8::try_from(name.to_string())
            .ok()
            .map(|q| AString::String(IString::QuotedUtf8(q)))
            .and_then(|a| MailboxOther::try_from(a).ok());
        if let Some(other) = quoted {
            return WireMailbox::Other(other);
        }
    }
    let encoded = if utf8 {
        name.to_string()
    } else {
        mutf7::encode(name)
    };
    // A mailbox called "NIL" (any case) is an astring that imap-codec would send as the
    // atom NIL, which a client reads as nil (RFC 3501 §4.5): it goes quoted, as Dovecot
    // sends it.
    if encoded.eq_ignore_ascii_case("NIL")
        && let Some(other) = Quoted::try_from(encoded.clone())
            .ok()
            .map(|q| AString::String(IString::Quoted(q)))
            .and_then(|a| MailboxOther::try_from(a).ok())
    {
        return WireMailbox::Other(other);
    }
    WireMailbox::try_from(encoded).unwrap_or(WireMailbox::Inbox)
}

/// A stored flag as the wire can show it: None for a name no flag may have (not an atom)
/// and for the keyword `NIL`, which a client would read as nil (RFC 3501 §4.5).
pub fn wire_flag(f: &str) -> Option<Flag<'static>> {
    if f.eq_ignore_ascii_case("NIL") {
        return None;
    }
    Flag::try_from(f).ok().map(IntoStatic::into_static)
}

/// The store's flags as FETCH flags.
pub fn fetch_flags(flags: &Flags) -> Vec<FlagFetch<'static>> {
    flags
        .iter()
        .filter_map(wire_flag)
        .map(FlagFetch::Flag)
        .collect()
}

/// Wire flags as the store's flags (`\Recent`, which clients copying flags send along,
/// is dropped there). Any other system flag RFC 3501 does not define (`\Bogus`) is
/// refused: only servers define those, and no client may be shown one (§2.3.2).
/// `NIL` is an atom, so the grammar lets it stand as a keyword, but it is nil to every
/// client that reads it back in a FLAGS list (RFC 3501 §4.5): refused as Dovecot
/// refuses it, and `+FLAGS NIL` is not read as "no flags" either.
pub fn store_flags(flags: &[Flag<'_>]) -> Result<Flags, &'static str> {
    let unknown = |f: &Flag<'_>| {
        matches!(f, Flag::Extension(_)) && !f.to_string().eq_ignore_ascii_case("\\Recent")
    };
    if flags.iter().any(unknown) {
        return Err("Unknown system flag");
    }
    if flags
        .iter()
        .any(|f| matches!(f, Flag::Keyword(k) if k.as_ref().eq_ignore_ascii_case("NIL")))
    {
        return Err("NIL is not a flag");
    }
    Ok(Flags::new(flags.iter().map(|f| f.to_string())))
}

/// Bytes as an nstring: a literal (any bytes but NUL; NULs become spaces, since IMAP4rev1
/// literals cannot carry them).
pub fn nstring(bytes: &[u8]) -> NString<'static> {
    let lit = Literal::try_from(bytes.to_vec()).unwrap_or_else(|_| {
        let clean: Vec<u8> = bytes
            .iter()
            .map(|&b| if b == 0 { b' ' } else { b })
            .collect();
        Literal::try_from(clean)
            .unwrap_or_else(|_| Literal::try_from(Vec::new()).expect("empty literal"))
    });
    NString(Some(IString::Literal(lit)))
}

/// A short text as an nstring: quoted when it can be, else a literal; NIL for None.
pub fn nstring_text(s: Option<&str>) -> NString<'static> {
    match s {
        None => NString(None),
        Some(s) => match Quoted::try_from(s.to_string()) {
            Ok(q) => NString(Some(IString::Quoted(q))),
            Err(_) => nstring(s.as_bytes()),
        },
    }
}

/// A string argument's bytes as text.
pub fn astring(a: &AString<'_>) -> String {
    String::from_utf8_lossy(a.as_ref()).into_owned()
}

/// A non-zero u32, for numbers that are never zero by construction.
/// `text` as an IMAP quoted string, `\\` and `"` escaped. Only for text that holds no
/// CR, LF or NUL (mailbox and login names, printable ASCII); anything else goes as a
/// literal ([`astring_for_response`]).
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '\\' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `value` as an IMAP string for a response line built by hand: a quoted string when it
/// is printable ASCII, else a literal (a quoted string cannot carry 8-bit text or line
/// ends in IMAP4rev1).
pub fn astring_for_response(value: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(value) {
        Ok(text) if value.iter().all(|&b| (b' '..0x7f).contains(&b)) => quoted(text).into_bytes(),
        _ => {
            let mut out = format!("{{{}}}\r\n", value.len()).into_bytes();
            out.extend_from_slice(value);
            out
        }
    }
}

pub fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// A non-zero u64 (MODSEQs start at 1).
pub fn nz64(n: u64) -> std::num::NonZeroU64 {
    std::num::NonZeroU64::new(n).unwrap_or(std::num::NonZeroU64::MIN)
}

/// Tagged OK / NO / BAD with optional code. Texts are ours, never client input.
pub fn ok(tag: &Tag<'static>, code: Option<Code<'static>>, text: &'static str) -> Status<'static> {
    Status::ok(Some(tag.clone()), code, text).unwrap_or_else(|_| server_bug(tag, "OK", text))
}
pub fn no(tag: &Tag<'static>, code: Option<Code<'static>>, text: String) -> Status<'static> {
    let text = clean(text);
    match Status::no(Some(tag.clone()), code, text.clone()) {
        Ok(s) => s,
        Err(_) => server_bug(tag, "NO", &text),
    }
}
pub fn bad(tag: &Tag<'static>, text: &'static str) -> Status<'static> {
    Status::bad(Some(tag.clone()), None, text).unwrap_or_else(|_| server_bug(tag, "BAD", text))
}

/// Status text may not be empty nor hold CR, LF or `[` at its start, and is ASCII
/// (RFC 3501 TEXT-CHAR): a store error naming a mailbox "Café" would otherwise make no
/// valid status at all, and the client would wait for its tagged reply forever.
fn clean(text: String) -> String {
    let t: String = text
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect();
    let t = t.trim_start_matches('[').trim().to_string();
    if t.is_empty() {
        "Failed".to_string()
    } else {
        t
    }
}

/// The tagged answer when a status of ours cannot be built (a text the wire cannot
/// carry): a server fault, never the client's, so it is `NO [SERVERBUG]` (RFC 5530) with
/// the client's own tag, and a loud log. The log line carries the command's name through
/// the span `Session::run_command` opens.
fn server_bug(tag: &Tag<'static>, kind: &str, text: &str) -> Status<'static> {
    tracing::error!(kind, text, "a tagged status could not be built");
    let code = Code::Other(imap_types::response::CodeOther::unvalidated(
        &b"SERVERBUG"[..],
    ));
    Status::no(Some(tag.clone()), Some(code), "Server error")
        .or_else(|_| Status::bad(None, None, "Server error"))
        .expect("static text is valid")
}

/// The UIDs a set names. For UID sets, `*` is the largest UID given; ranges are kept as
/// ranges, so `1:4294967295` costs nothing.
pub fn uid_set(set: &SequenceSet, largest: u32) -> UidSet {
    let v = |s: &SeqOrUid| match s {
        SeqOrUid::Value(n) => n.get(),
        SeqOrUid::Asterisk => largest.max(1),
    };
    UidSet::from_ranges(set.0.as_ref().iter().map(|s| match s {
        Sequence::Single(a) => (v(a), v(a)),
        Sequence::Range(a, b) => (v(a), v(b)),
    }))
}

/// Ascending UIDs (or sequence numbers) as a compact wire set (`1:3,7`); None when empty.
pub fn wire_set(numbers: impl IntoIterator<Item = u32>) -> Option<SequenceSet> {
    let set = UidSet::from_uids(numbers);
    let ranges = set
        .ranges()
        .iter()
        .map(|&(a, b)| {
            if a == b {
                Sequence::Single(SeqOrUid::Value(nz(a)))
            } else {
                Sequence::Range(SeqOrUid::Value(nz(a)), SeqOrUid::Value(nz(b)))
            }
        })
        .collect();
    vec1(ranges).map(SequenceSet)
}

/// Builds a non-empty vector, or None.
pub fn vec1<T>(v: Vec<T>) -> Option<Vec1<T>> {
    Vec1::try_from(v).ok()
}

/// `numbers` in their order as a sequence set, ascending runs written as ranges
/// (`3:5,1,9`): ESORT's ALL (RFC 5267 §3.2), PARTIAL results and context updates.
pub fn ordered_set(numbers: &[u32]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j].wrapping_add(1) {
            j += 1;
        }
        if i > 0 {
            out.push(',');
        }
        if i == j {
            let _ = write!(out, "{}", numbers[i]);
        } else {
            let _ = write!(out, "{}:{}", numbers[i], numbers[j]);
        }
        i = j + 1;
    }
    out
}

/// `PARTIAL (range set)`, or `PARTIAL (range NIL)` when no match is in range
/// (RFC 9394 §3.1): the matches at those positions of `numbers` (result order).
pub fn partial_item(p: &crate::extparse::Partial, numbers: &[u32]) -> String {
    let picked = p.of(numbers);
    let set = if picked.is_empty() {
        "NIL".to_string()
    } else {
        ordered_set(picked)
    };
    format!("PARTIAL ({} {set})", p.text())
}

#[cfg(test)]
mod tests {
    use super::partial_item;
    use crate::extparse::Partial;

    #[test]
    fn partial_ranges_from_either_end() {
        let n = [10, 11, 12, 20, 30];
        let p = |t: &str| Partial::parse(t.as_bytes()).unwrap();
        assert_eq!(partial_item(&p("1:3"), &n), "PARTIAL (1:3 10:12)");
        assert_eq!(partial_item(&p("3:1"), &n), "PARTIAL (1:3 10:12)");
        assert_eq!(partial_item(&p("-1:-2"), &n), "PARTIAL (-1:-2 20,30)");
        assert_eq!(partial_item(&p("4:100"), &n), "PARTIAL (4:100 20,30)");
        assert_eq!(partial_item(&p("6:9"), &n), "PARTIAL (6:9 NIL)");
        assert_eq!(partial_item(&p("-6:-9"), &n), "PARTIAL (-6:-9 NIL)");
        assert_eq!(partial_item(&p("-4:-9"), &n), "PARTIAL (-4:-9 10:11)");
        for bad in ["0:3", "1:-3", "-1:2", "1", ":", "a:b", "1:99999999999"] {
            assert!(Partial::parse(bad.as_bytes()).is_none(), "{bad}");
        }
    }
}

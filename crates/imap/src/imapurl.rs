//! IMAP URLs (RFC 5092) that name one message or a part of it, with RFC 5550's
//! `;PARTIAL=offset[.length]`: what CATENATE's `URL` parts (RFC 4469 §3) point at.
//!
//! Hand-written: no kept library parses RFC 5092. The `url` crate follows WHATWG URLs,
//! which know neither the `;UID=` / `;SECTION=` parameters nor a mailbox name that holds
//! `/` (the hierarchy separator), and would normalise dot segments inside a name. The
//! grammar is small; percent-decoding (RFC 3986 §2.1) is a few lines here too.
//!
//! Taken: `imap://[user[;AUTH=mech]@]host[:port]/mailbox[;UIDVALIDITY=n]/;UID=n
//! [/;SECTION=s][/;PARTIAL=o[.l]]`, the same from `/mailbox...` on (an absolute path on
//! this server), and `;UID=n...` (relative to the selected mailbox). Not taken (the
//! caller answers BADURL): message lists (`?search`), and relative paths that name another
//! mailbox relative to the selected one. URLAUTH (RFC 4467: `;EXPIRE=`, `;URLAUTH=` and
//! the token) is not read here: `urlauth::parse_url` cuts it off and hands the rest here.
//!
//! One flat pass over at most `MAX_URL` bytes; never panics.

/// Longest URL taken, in bytes (RFC 5092 sets no limit; mailbox names are far shorter).
pub const MAX_URL: usize = 2048;

/// One message, or part of it, an IMAP URL names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImapUrl {
    /// The user an absolute `imap://user@host/` URL names, percent-decoded; `None` for a
    /// path on this server, which means the session's own user.
    pub user: Option<String>,
    /// The host of an absolute URL (port left off), as written; `None` for a path.
    pub host: Option<String>,
    /// The mailbox name, percent-decoded UTF-8 (RFC 5092 §5: names are UTF-8 in URLs,
    /// never modified UTF-7); `None`: the selected mailbox (a `;UID=` relative URL).
    pub mailbox: Option<String>,
    /// The mailbox's UIDVALIDITY the URL was made for, when it says (it should).
    pub uidvalidity: Option<u32>,
    /// The message's UID.
    pub uid: u32,
    /// The section (RFC 3501 `section-text`, percent-decoded), e.g. `1.MIME` or
    /// `HEADER.FIELDS (SUBJECT)`; `None`: the whole message.
    pub section: Option<String>,
    /// RFC 5550 `;PARTIAL=`: the first byte (from 0) and how many; no count means to the
    /// end.
    pub partial: Option<(u32, Option<u32>)>,
}

/// Reads `url` as an IMAP URL naming a message; `None` when it is not one this server
/// takes (see the module's comment).
pub fn parse(url: &str) -> Option<ImapUrl> {
    if url.len() > MAX_URL || url.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return None;
    }
    let mut out = ImapUrl::default();
    let path = if let Some(rest) = strip_prefix_ci(url, "imap://") {
        let slash = rest.find('/')?;
        let (authority, path) = (&rest[..slash], &rest[slash + 1..]);
        let host = match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                let user = match find_ci(userinfo, ";AUTH=") {
                    Some(i) => &userinfo[..i],
                    None => userinfo,
                };
                if !user.is_empty() {
                    out.user = Some(decode(user)?);
                }
                &authority[at + 1..]
            }
            None => authority,
        };
        let host = match host.rfind(':') {
            // An IPv6 literal `[::1]` has colons of its own.
            Some(colon) if !host[colon..].contains(']') => {
                let port = &host[colon + 1..];
                if !port.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                &host[..colon]
            }
            _ => host,
        };
        if host.is_empty() {
            return None;
        }
        out.host = Some(host.to_string());
        mailbox_then_uid(path, &mut out)?
    } else if let Some(path) = url.strip_prefix('/') {
        mailbox_then_uid(path, &mut out)?
    } else if strip_prefix_ci(url, ";UID=").is_some() {
        url
    } else {
        return None;
    };
    // `path` now starts at `;UID=`.
    let rest = strip_prefix_ci(path, ";UID=")?;
    let (uid, mut rest) = number(rest)?;
    if uid == 0 {
        return None;
    }
    out.uid = uid;
    if let Some(after) = strip_prefix_ci(rest, "/;SECTION=") {
        let end = find_ci(after, "/;PARTIAL=").unwrap_or(after.len());
        let section = &after[..end];
        // `enc-section` is bchars: a `;` would begin a parameter this server lacks.
        if section.is_empty() || section.contains(';') {
            return None;
        }
        out.section = Some(decode(section)?);
        rest = &after[end..];
    }
    if let Some(after) = strip_prefix_ci(rest, "/;PARTIAL=") {
        let (offset, after) = number(after)?;
        let (length, after) = match after.strip_prefix('.') {
            Some(l) => {
                let (length, after) = number(l)?;
                if length == 0 {
                    return None;
                }
                (Some(length), after)
            }
            None => (None, after),
        };
        out.partial = Some((offset, length));
        rest = after;
    }
    // Anything left (URLAUTH, EXPIRE, junk) is not taken.
    rest.is_empty().then_some(out)
}

/// Reads `mailbox[;UIDVALIDITY=n]/` into `out`; returns what follows (`;UID=...`).
fn mailbox_then_uid<'a>(path: &'a str, out: &mut ImapUrl) -> Option<&'a str> {
    // A `;` is never part of an encoded name (RFC 5092's bchar has none): the first one
    // ends the name.
    let semi = path.find(';')?;
    let (name, params) = (&path[..semi], &path[semi..]);
    let (name, rest) = match strip_prefix_ci(params, ";UIDVALIDITY=") {
        Some(after) => {
            let (validity, after) = number(after)?;
            if validity == 0 {
                return None;
            }
            out.uidvalidity = Some(validity);
            (name, after.strip_prefix('/')?)
        }
        None => (name.strip_suffix('/')?, params),
    };
    if name.is_empty() {
        return None;
    }
    out.mailbox = Some(decode(name)?);
    Some(rest)
}

/// A run of decimal digits at the start of `s` as a u32, and what follows it.
fn number(s: &str) -> Option<(u32, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 10 {
        return None;
    }
    Some((s[..digits].parse().ok()?, &s[digits..]))
}

/// `s` without `prefix`, compared ignoring ASCII case (RFC 5092's keywords are).
pub(crate) fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Where `needle` (ASCII) first starts in `s`, ignoring ASCII case.
pub(crate) fn find_ci(s: &str, needle: &str) -> Option<usize> {
    s.as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Percent-decodes `s` (RFC 3986 §2.1); `None` for a broken escape or bytes that are
/// not UTF-8.
pub(crate) fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `url` made safe to echo inside a response code (`[BADURL url]`): bytes that would end
/// the code or the line, or are not printable ASCII, are percent-encoded.
pub fn for_response(url: &[u8]) -> String {
    let mut out = String::with_capacity(url.len().min(MAX_URL));
    for &b in url.iter().take(MAX_URL) {
        if b.is_ascii_graphic() && !matches!(b, b'[' | b']' | b'"' | b'\\') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{ImapUrl, for_response, parse};

    #[test]
    fn absolute_path_with_every_parameter() {
        let u = parse("/INBOX;UIDVALIDITY=785799047/;UID=113330/;SECTION=1.5.9/;PARTIAL=10.20")
            .unwrap();
        assert_eq!(
            u,
            ImapUrl {
                user: None,
                host: None,
                mailbox: Some("INBOX".into()),
                uidvalidity: Some(785799047),
                uid: 113330,
                section: Some("1.5.9".into()),
                partial: Some((10, Some(20))),
            }
        );
    }

    #[test]
    fn network_url_with_user_auth_port_and_encoded_names() {
        let u = parse(
            "imap://joe;AUTH=*@example.com:143/Archive/2024%20Q1/;uid=7/;section=HEADER.FIELDS%20(SUBJECT)",
        )
        .unwrap();
        assert_eq!(u.user.as_deref(), Some("joe"));
        assert_eq!(u.host.as_deref(), Some("example.com"));
        assert_eq!(u.mailbox.as_deref(), Some("Archive/2024 Q1"));
        assert_eq!(u.uidvalidity, None);
        assert_eq!(u.uid, 7);
        assert_eq!(u.section.as_deref(), Some("HEADER.FIELDS (SUBJECT)"));
        let u = parse("IMAP://[::1]/Sent;UIDVALIDITY=1/;UID=1/;PARTIAL=5").unwrap();
        assert_eq!(u.host.as_deref(), Some("[::1]"));
        assert_eq!(u.partial, Some((5, None)));
    }

    #[test]
    fn relative_to_the_selected_mailbox() {
        let u = parse(";UID=20/;SECTION=1.2").unwrap();
        assert_eq!(
            (u.mailbox, u.uid, u.section.as_deref()),
            (None, 20, Some("1.2"))
        );
    }

    #[test]
    fn refuses_what_is_not_taken() {
        for bad in [
            "",
            "/INBOX",
            "/INBOX;UIDVALIDITY=1",
            "/INBOX/;UID=0",
            "/INBOX;UIDVALIDITY=0/;UID=1",
            "/;UID=1",
            "/INBOX/;UID=1;URLAUTH=anonymous:internal:91354a4",
            "/INBOX/;UID=1/;PARTIAL=1.0",
            "/INBOX/;UID=1/;SECTION=",
            "/INBOX/;UID=1 x",
            "/INBOX%zz/;UID=1",
            "/%FF/;UID=1",
            "imap://host",
            "imap:///INBOX/;UID=1",
            "imap://h:x1/INBOX/;UID=1",
            "/INBOX?SUBJECT%20x",
            "INBOX/;UID=1",
            "/INBOX/;UID=99999999999",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
        assert!(parse(&format!("/{}/;UID=1", "a".repeat(super::MAX_URL))).is_none());
    }

    #[test]
    fn echoed_urls_cannot_end_the_code() {
        assert_eq!(for_response(b"/a]b c\r\n"), "/a%5Db%20c%0D%0A");
    }
}

//! What SORT (RFC 5256, RFC 5957) and THREAD (RFC 5256 §3) read of a message: its sent
//! date, base subject, first From/To/Cc addresses and its Message-ID and references,
//! taken from the header once with mail-parser and kept in a per-process cache.
//!
//! The cache is keyed by the blob's content hash: a blob never changes, so an entry is
//! never stale, and the copies of a message in several mailboxes (or on both twins'
//! stores, each process its own) share one entry. It is bounded: when it holds
//! `CACHE_ENTRIES`, it is emptied and fills again (a SORT over a mailbox larger than the
//! cap still works, it just reads headers again next time).
//!
//! Base-subject extraction (RFC 5256 §2.1) is hand-written: no crate does it (the
//! algorithm is specific to IMAP SORT/THREAD).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use mail_parser::{Addr, Address, HeaderValue};
use twinmail_store::BlobHash;

/// Most entries the header cache holds (each a few hundred bytes).
const CACHE_ENTRIES: usize = 200_000;

/// Most references of one message THREAD follows: the nearest ancestors are the last
/// ones, and a hostile message with thousands would cost that many links each.
const MAX_REFERENCES: usize = 64;

/// Longest address or name kept for a sort key; longer ones compare by this prefix.
const MAX_KEY: usize = 512;

/// Longest subject whose base subject is taken; a longer one is cut to this first.
/// Stripping leaders costs up to the square of the length (each `[blob]` in front is
/// scanned again after every strip), so a hostile megabyte subject must not get in.
const MAX_SUBJECT: usize = 2048;

/// What SORT and THREAD need of one message's header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    /// The Date header as Unix seconds (UTC), None when missing or unreadable (then
    /// INTERNALDATE stands in, RFC 5256 §2.2).
    pub sent: Option<i64>,
    /// The base subject (RFC 5256 §2.1), decoded, folded for i;unicode-casemap
    /// (`casemap::fold`; I18NLEVEL=1 makes it SORT's comparator, RFC 5255 §4.3).
    pub subject: String,
    /// The subject said the message is a reply or a forward (`Re:`, `Fwd:`, `(fwd)`,
    /// `[fwd: ...]`): THREAD=REFERENCES step 5 puts it under the original.
    pub reply: bool,
    /// The local part (addr-mailbox) of the first From address, folded for
    /// i;unicode-casemap; empty when there is none.
    pub from: String,
    /// The local part of the first To address, as `from`.
    pub to: String,
    /// The local part of the first Cc address, as `from`.
    pub cc: String,
    /// RFC 5957 DISPLAYFROM: the first From address's display name, or its addr-spec when
    /// it has none, folded for i;unicode-casemap (`casemap::fold`).
    pub display_from: String,
    /// RFC 5957 DISPLAYTO, as `display_from` for the first To address.
    pub display_to: String,
    /// The Message-ID without angle brackets, None when missing.
    pub message_id: Option<String>,
    /// The References (or, without them, the first In-Reply-To id), oldest first,
    /// without angle brackets; at most `MAX_REFERENCES`, the last ones.
    pub references: Vec<String>,
}

/// Header fields by blob, shared by every session of the process.
#[derive(Default)]
pub struct HeaderCache(Mutex<HashMap<BlobHash, Arc<Fields>>>);

impl HeaderCache {
    /// The cached fields of each blob, in order (None where there are none), taken under
    /// one lock.
    pub fn get_all<'b>(
        &self,
        blobs: impl IntoIterator<Item = &'b BlobHash>,
    ) -> Vec<Option<Arc<Fields>>> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        blobs.into_iter().map(|b| map.get(b).cloned()).collect()
    }

    /// Keeps the fields of a blob.
    pub fn put(&self, blob: BlobHash, fields: Arc<Fields>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CACHE_ENTRIES {
            map.clear();
        }
        map.insert(blob, fields);
    }
}

/// What never changes about a message once it has its UID in a mailbox (UIDs are never
/// reused, RFC 3501 §2.3.1.1): where its bytes are, their size, its INTERNALDATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixed {
    /// The content hash of its bytes, the header cache's key.
    pub blob: BlobHash,
    /// RFC822.SIZE in bytes.
    pub size: u64,
    /// INTERNALDATE as Unix seconds.
    pub internal_date: i64,
}

/// `Fixed`, and the header fields once read, by mailbox (local id, never reused:
/// AUTOINCREMENT) and UID, so that SORT and THREAD over ALL or a set of messages need not
/// read the mailbox's rows again nor look headers up by blob. Never stale (nothing in it
/// can change); bounded like `HeaderCache`, by `CACHE_ENTRIES` messages in all, emptied
/// when full. Each mailbox's entries are kept sorted by UID: a request (ascending UIDs)
/// is one merge-like walk, no hashing.
#[derive(Default)]
pub struct FixedCache(Mutex<FixedMap>);

/// The maps of `FixedCache`: per mailbox, its entries; and how many entries in all.
#[derive(Default)]
struct FixedMap {
    /// Per mailbox id, its known messages by ascending UID.
    by_mailbox: HashMap<i64, Vec<Known>>,
    /// Entries in all mailboxes.
    entries: usize,
}

/// One cached message.
#[derive(Clone)]
pub struct Known {
    /// Its UID.
    pub uid: u32,
    /// Its blob, size and INTERNALDATE.
    pub fixed: Fixed,
    /// Its header fields, once some SORT or THREAD read them.
    pub fields: Option<Arc<Fields>>,
}

/// The positions in `known` (ascending UIDs) of each of `uids` (ascending), in order;
/// None for one not there.
fn positions<'a>(
    known: &'a [Known],
    uids: impl IntoIterator<Item = u32> + 'a,
) -> impl Iterator<Item = Option<usize>> + 'a {
    let mut at = 0;
    uids.into_iter().map(move |uid| {
        at += known[at..].partition_point(|k| k.uid < uid);
        (known.get(at).map(|k| k.uid) == Some(uid)).then_some(at)
    })
}

impl FixedCache {
    /// What is known of every `(seq, uid)` (ascending), in order, or None unless all are.
    pub fn get_all(&self, mailbox: i64, uids: &[(u32, u32)]) -> Option<Vec<Known>> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let known = map.by_mailbox.get(&mailbox)?;
        positions(known, uids.iter().map(|p| p.1))
            .map(|at| at.map(|at| known[at].clone()))
            .collect()
    }

    /// Keeps the fixed facts of some of a mailbox's messages (ascending UIDs).
    pub fn put_all(&self, mailbox: i64, facts: impl IntoIterator<Item = (u32, Fixed)>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.entries >= CACHE_ENTRIES {
            *map = FixedMap::default();
        }
        let FixedMap {
            by_mailbox,
            entries,
        } = &mut *map;
        let known = by_mailbox.entry(mailbox).or_default();
        let before = known.len();
        let mut added = Vec::new();
        {
            let facts: Vec<(u32, Fixed)> = facts.into_iter().collect();
            for ((uid, fixed), at) in facts
                .iter()
                .zip(positions(known, facts.iter().map(|f| f.0)))
            {
                if at.is_none() {
                    added.push(Known {
                        uid: *uid,
                        fixed: *fixed,
                        fields: None,
                    });
                }
            }
        }
        if !added.is_empty() {
            known.extend(added);
            known.sort_unstable_by_key(|k| k.uid);
            *entries += known.len() - before;
        }
    }

    /// Keeps the header fields of some of a mailbox's messages (ascending UIDs).
    pub fn put_fields(&self, mailbox: i64, fields: &[(u32, Arc<Fields>)]) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(known) = map.by_mailbox.get_mut(&mailbox) else {
            return;
        };
        let at: Vec<Option<usize>> = positions(known, fields.iter().map(|f| f.0)).collect();
        for ((_, f), at) in fields.iter().zip(at) {
            if let Some(at) = at {
                known[at].fields = Some(f.clone());
            }
        }
    }
}

/// Reads the fields from a message's bytes (only its header is parsed).
pub fn fields(raw: &[u8]) -> Fields {
    let Some(msg) = crate::message::parse(crate::message::header(raw)) else {
        return Fields::default();
    };
    // Folded before the base subject is taken, so that what the comparator makes of a
    // leader (a full-width "ＲＥ：" is "RE:") is stripped too; cut again after folding,
    // which can make a string longer (one "ﬃ" is three letters).
    let folded = crate::casemap::fold(&clip(
        msg.subject().unwrap_or_default().to_string(),
        MAX_SUBJECT,
    ));
    let (subject, reply) = base_subject(&clip(folded, MAX_SUBJECT));
    let from = msg.from().and_then(Address::first);
    let to = msg.to().and_then(Address::first);
    let cc = msg.cc().and_then(Address::first);
    let mut references: Vec<String> = match msg.references() {
        HeaderValue::Empty => msg
            .in_reply_to()
            .as_text_list()
            .and_then(|l| l.first())
            .map(|id| vec![id.to_string()])
            .unwrap_or_default(),
        refs => refs
            .as_text_list()
            .unwrap_or_default()
            .iter()
            .map(|r| r.to_string())
            .collect(),
    };
    if references.len() > MAX_REFERENCES {
        references.drain(..references.len() - MAX_REFERENCES);
    }
    references.retain(|r| !r.is_empty());
    Fields {
        sent: msg
            .date()
            .filter(|d| d.is_valid())
            .map(mail_parser::DateTime::to_timestamp),
        subject,
        reply,
        from: clip(mailbox_part(from), MAX_KEY),
        to: clip(mailbox_part(to), MAX_KEY),
        cc: clip(mailbox_part(cc), MAX_KEY),
        display_from: clip(display(from), MAX_KEY),
        display_to: clip(display(to), MAX_KEY),
        message_id: msg
            .message_id()
            .filter(|id| !id.is_empty())
            .map(str::to_string),
        references,
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn clip(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
    }
    s
}

/// RFC 5256 §2.2: the addr-mailbox (local part) of an address, folded for the
/// comparator (i;unicode-casemap under I18NLEVEL=1; RFC 6532 local parts may be UTF-8).
fn mailbox_part(a: Option<&Addr<'_>>) -> String {
    let address = a.and_then(|a| a.address.as_deref()).unwrap_or_default();
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    crate::casemap::fold(local)
}

/// RFC 5957 §3: the display name when there is one, else the addr-spec, folded for
/// i;unicode-casemap.
fn display(a: Option<&Addr<'_>>) -> String {
    let Some(a) = a else {
        return String::new();
    };
    let shown = match a.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => name,
        None => a.address.as_deref().unwrap_or_default(),
    };
    crate::casemap::fold(shown)
}

/// The base subject of a decoded subject (RFC 5256 §2.1), and whether it was a reply or
/// forward (any of steps 2, 3 or 6 removed something that says so). Not folded.
pub fn base_subject(subject: &str) -> (String, bool) {
    // (1) Tabs and line breaks (unfolded already) become spaces; runs of them one space.
    let mut s = String::with_capacity(subject.len());
    for c in subject.chars() {
        let c = if matches!(c, '\t' | '\r' | '\n') {
            ' '
        } else {
            c
        };
        if c == ' ' && s.ends_with(' ') {
            continue;
        }
        s.push(c);
    }
    let mut reply = false;
    let mut start = 0;
    let mut end = s.len();
    loop {
        // (2) Trailing "(fwd)" and white space, repeatedly.
        loop {
            let t = s[start..end].trim_end_matches(' ');
            end = start + t.len();
            if t.len() >= 5 && t.as_bytes()[t.len() - 5..].eq_ignore_ascii_case(b"(fwd)") {
                end -= 5;
                reply = true;
            } else {
                break;
            }
        }
        // (3)-(5) Leading subj-leaders, then one subj-blob that leaves a subj-base.
        loop {
            let before = start;
            loop {
                let rest = &s.as_bytes()[start..end];
                if rest.first() == Some(&b' ') {
                    start += 1;
                } else if let Some(n) = leader(rest) {
                    start += n;
                    reply = true;
                } else {
                    break;
                }
            }
            let rest = &s.as_bytes()[start..end];
            if let Some(n) = blob(rest)
                && n < rest.len()
            {
                start += n;
            }
            if start == before {
                break;
            }
        }
        // (6) "[fwd:" ... "]" around the whole: take it off, and again from (2).
        let rest = &s.as_bytes()[start..end];
        if rest.len() >= 6 && rest[..5].eq_ignore_ascii_case(b"[fwd:") && rest.ends_with(b"]") {
            start += 5;
            end -= 1;
            reply = true;
            continue;
        }
        break;
    }
    (s[start..end].to_string(), reply)
}

/// The length of a subj-blob at the start of `b` (`"[" *BLOBCHAR "]" *WSP`).
fn blob(b: &[u8]) -> Option<usize> {
    if b.first() != Some(&b'[') {
        return None;
    }
    let close = 1 + b[1..].iter().position(|&c| c == b']' || c == b'[')?;
    if b[close] != b']' {
        return None;
    }
    Some(close + 1 + spaces(&b[close + 1..]))
}

fn spaces(b: &[u8]) -> usize {
    b.iter().take_while(|&&c| c == b' ').count()
}

/// The length of a subj-leader that is not plain white space at the start of `b`:
/// `*subj-blob subj-refwd`, where subj-refwd is
/// `("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`.
fn leader(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(n) = blob(&b[i..]) {
        i += n;
    }
    let word = |w: &[u8]| b.len() >= i + w.len() && b[i..i + w.len()].eq_ignore_ascii_case(w);
    if word(b"fwd") {
        i += 3;
    } else if word(b"fw") || word(b"re") {
        i += 2;
    } else {
        return None;
    }
    i += spaces(&b[i..]);
    if let Some(n) = blob(&b[i..]) {
        i += n;
    }
    (b.get(i) == Some(&b':')).then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_subjects() {
        for (subject, base, reply) in [
            ("hello", "hello", false),
            ("Re: hello", "hello", true),
            ("RE:  Re: hello", "hello", true),
            ("Fwd: hello", "hello", true),
            ("FW: hello", "hello", true),
            ("Re[2]: hello", "hello", true),
            ("Re [2]: hello", "hello", true),
            ("[list] Re: hello", "hello", true),
            ("[list] hello", "hello", false),
            ("[list]", "[list]", false),
            ("hello (fwd)", "hello", true),
            ("hello (FWD) (fwd)  ", "hello", true),
            ("[Fwd: Re: hello]", "hello", true),
            ("[fwd: [fwd: hello (fwd)]]", "hello", true),
            ("\tRe:\t hello \t world", "hello world", true),
            ("Rest: hello", "Rest: hello", false),
            ("re:", "", true),
            ("", "", false),
            ("[a][b] Re: [c] x", "x", true),
            ("Re: [unclosed", "[unclosed", true),
            ("Réponse: ça", "Réponse: ça", false),
        ] {
            assert_eq!(
                base_subject(subject),
                (base.to_string(), reply),
                "{subject:?}"
            );
        }
    }

    /// A subject of a hundred thousand `[blob]`s would cost their square to strip: it is
    /// cut first (this test would not finish otherwise).
    #[test]
    fn hostile_subjects_are_cut() {
        let raw = format!("Subject: {}Re: x\r\n\r\n", "[a]".repeat(100_000));
        let f = fields(raw.as_bytes());
        assert!(f.subject.len() <= MAX_SUBJECT, "{}", f.subject.len());
        // 682 whole blobs are stripped (each leaves a non-empty rest), "[a" stays.
        assert_eq!(f.subject, "[A");
    }

    #[test]
    fn fixed_cache_walks_by_uid() {
        let c = FixedCache::default();
        let f = |n: u8| Fixed {
            blob: BlobHash([n; 32]),
            size: u64::from(n),
            internal_date: i64::from(n),
        };
        c.put_all(7, [(2, f(2)), (5, f(5))]);
        c.put_all(7, [(1, f(1)), (5, f(5)), (9, f(9))]);
        let all = c.get_all(7, &[(1, 1), (2, 2), (3, 5), (4, 9)]).unwrap();
        let sizes: Vec<u64> = all.iter().map(|k| k.fixed.size).collect();
        assert_eq!(sizes, [1, 2, 5, 9]);
        assert!(c.get_all(7, &[(1, 1), (2, 3)]).is_none());
        assert!(c.get_all(8, &[(1, 1)]).is_none());
        c.put_fields(7, &[(5, Arc::new(Fields::default())), (6, Arc::default())]);
        let all = c.get_all(7, &[(1, 2), (2, 5)]).unwrap();
        assert!(all[0].fields.is_none() && all[1].fields.is_some());
    }

    #[test]
    fn header_fields() {
        let raw = b"From: \"Ann Ex\" <ann@example.org>\r\nTo: bob@example.net\r\nSubject: =?UTF-8?Q?Re=3A_caf=C3=A9?=\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <a@b>\r\nIn-Reply-To: <x@y> <z@w>\r\n\r\nbody";
        let f = fields(raw);
        // i;unicode-casemap (I18NLEVEL=1): é is uppercased and decomposed.
        assert_eq!(f.subject, "CAFE\u{301}");
        assert!(f.reply);
        assert_eq!(f.from, "ANN");
        assert_eq!(f.to, "BOB");
        assert_eq!(f.cc, "");
        assert_eq!(f.display_from, "ANN EX");
        assert_eq!(f.display_to, "BOB@EXAMPLE.NET");
        assert_eq!(f.message_id.as_deref(), Some("a@b"));
        assert_eq!(f.references, ["x@y"]);
        assert_eq!(f.sent, Some(760_686_745));
        assert_eq!(fields(b"junk"), Fields::default());
    }
}

//! SEARCH and UID SEARCH (RFC 3501 §6.4.4). Every key of RFC 3501; strings match as
//! substrings under i;unicode-casemap (RFC 5051, `casemap`; I18NLEVEL=1, RFC 5255), in
//! the text as it stands and, for BODY and TEXT, as decoded. Keys that need the message
//! bytes load them only when asked. With RETURN options (ESEARCH, RFC 4731), or for
//! IMAP4rev2 clients (RFC 9051 §7.3.4), the answer is an ESEARCH response instead of
//! SEARCH. RETURN (SAVE) (SEARCHRES, RFC 5182) keeps the result, as UIDs, for `$` (see
//! `saved.rs`).
//! RETURN (PARTIAL m:n) (RFC 9394) answers with the matches at those positions, and
//! RETURN (UPDATE) keeps a UID SEARCH's result live (RFC 5267, `contexts.rs`).

use chrono::{NaiveDate, TimeZone, Utc};
use imap_types::{
    IntoStatic,
    core::{AString, Tag},
    response::{Data, Status},
    search::SearchKey,
};
use mail_parser::{Address, HeaderValue};
use twinmail_net::Stream;
use twinmail_store::{Message, UidSet, now_unix};

use crate::{
    casemap::fold,
    command::store_failed,
    convert::{bad, nz, nz64, ok},
    extparse::SearchReturn,
    message, savedate,
    selected::Selected,
    session::{Session, State},
};

pub async fn search<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    criteria: &[SearchKey<'_>],
    uid: bool,
    ret: Option<SearchReturn>,
) -> Status<'static> {
    if ret.as_ref().is_some_and(|r| r.update) && crate::contexts::is_live(s, tag) {
        // RFC 5267 §4.3: updates are told by tag, which must stay unambiguous.
        return bad(tag, "Tag reuse");
    }
    let save = ret.as_ref().is_some_and(|r| r.save);
    if save {
        // RFC 5182 §2.1: a SEARCH with SAVE that fails (NO) leaves `$` empty; what it
        // finds replaces this below.
        s.search_result = UidSet::default();
    }
    let found = match matching(s, tag, criteria).await {
        Ok(found) => found,
        Err(status) => return status,
    };
    let hits: Vec<u32> = found
        .hits
        .iter()
        .map(|(seq, m)| if uid { m.uid } else { *seq })
        .collect();
    // Each hit's MODSEQ, in the order of `hits`, for the MODSEQ the answer carries.
    let modseqs: Vec<u64> = found.hits.iter().map(|(_, m)| m.modseq).collect();
    if let Some(r) = ret.as_ref().filter(|r| r.save) {
        let hit_uids: Vec<u32> = found.hits.iter().map(|(_, m)| m.uid).collect();
        s.search_result = saved_result(r, &hit_uids);
    }
    let modseq = found
        .by_modseq
        .then(|| highest_returned(ret.as_ref(), &modseqs))
        .flatten()
        .map(nz64);
    if ret.as_ref().is_some_and(|r| r.update) {
        let criteria = criteria.iter().map(|k| k.clone().into_static()).collect();
        crate::contexts::start(s, tag, uid, criteria, None, hits.clone());
    }
    let ret = ret.or_else(|| {
        s.rev2.then_some(SearchReturn {
            all: true,
            ..SearchReturn::default()
        })
    });
    match ret {
        // RFC 5182 §2.4: SAVE alone asks for no ESEARCH response.
        Some(ret) if !(ret.min || ret.max || ret.count || ret.all || ret.partial.is_some()) => {}
        Some(ret) => {
            let line = esearch(tag, uid, &ret, &hits, modseq.map(|m| m.get()));
            s.raw_line(line.as_bytes());
        }
        None => s.data(Data::Search(hits.into_iter().map(nz).collect(), modseq)),
    }
    ok(tag, None, "SEARCH completed")
}

/// The messages of the selected mailbox that match a search, as SEARCH, SORT and
/// THREAD see them.
pub struct Found {
    /// Each matching message with its sequence number, in ascending order.
    pub hits: Vec<(u32, Message)>,
    /// The criteria name MODSEQ (RFC 7162 §3.1.5): the answer carries the highest
    /// MODSEQ of what it returns.
    pub by_modseq: bool,
}

/// The messages of the selected mailbox that match every key of `criteria`, or the
/// status that ends the command. MODSEQ in the criteria turns CONDSTORE on.
pub async fn matching<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    criteria: &[SearchKey<'_>],
) -> Result<Found, Status<'static>> {
    let State::Selected { view, .. } = &s.state else {
        return Err(bad(tag, "No mailbox selected"));
    };
    let store = s.imap.store.clone();
    let messages = store
        .messages(view.mailbox.id)
        .await
        .map_err(|e| store_failed(tag, e))?;
    let needs_body = criteria.iter().any(needs_bytes);
    // CONDSTORE (RFC 7162 §3.1.5): MODSEQ in the criteria enables it and asks for the
    // highest MODSEQ of the matches in the response.
    let by_modseq = criteria.iter().any(uses_modseq);
    if by_modseq {
        s.condstore = true;
    }
    let State::Selected { view, .. } = &s.state else {
        return Err(bad(tag, "No mailbox selected"));
    };
    let mut hits = Vec::new();
    let sets = SetCache::default();
    for m in messages {
        let Some(seq) = view.seq(m.uid) else { continue };
        let raw = if needs_body {
            match store.blob(&m.blob).await {
                Ok(b) => b.unwrap_or_default(),
                Err(e) => return Err(store_failed(tag, e)),
            }
        } else {
            Vec::new()
        };
        let ctx = Ctx {
            m: &m,
            seq,
            raw: &raw,
            view,
            sets: &sets,
            parsed: std::cell::OnceCell::new(),
            whole: std::cell::OnceCell::new(),
        };
        if criteria.iter().all(|k| ctx.matches(k)) {
            hits.push((seq, m));
        }
    }
    Ok(Found { hits, by_modseq })
}

/// The MODSEQ a SEARCH with the MODSEQ criterion answers with (RFC 7162 §3.1.5, RFC 4731
/// §3.2): the highest MODSEQ of the messages the answer returns. With only MIN and/or MAX
/// asked for, those are the first and/or last match; otherwise (ALL, COUNT, plain SEARCH)
/// every match. None when nothing matched. `modseqs` are the matches' MODSEQs in
/// ascending message order.
fn highest_returned(ret: Option<&SearchReturn>, modseqs: &[u64]) -> Option<u64> {
    match ret {
        Some(r) if (r.min || r.max) && !r.all && !r.count => {
            let first = modseqs.first().filter(|_| r.min);
            let last = modseqs.last().filter(|_| r.max);
            first.into_iter().chain(last).copied().max()
        }
        _ => modseqs.iter().copied().max(),
    }
}

/// The charsets SEARCH understands: strings are compared as UTF-8, of which US-ASCII is
/// a subset.
const CHARSETS: [&str; 2] = ["UTF-8", "US-ASCII"];

/// `NO [BADCHARSET (UTF-8 US-ASCII)]` for a charset other than those (RFC 3501 §6.4.4:
/// a tagged NO, not BAD, and it SHOULD name the supported ones).
pub fn unsupported_charset(
    tag: &Tag<'static>,
    charset: Option<&imap_types::core::Charset<'_>>,
) -> Option<Status<'static>> {
    let name = charset?.as_ref();
    if CHARSETS.iter().any(|c| c.eq_ignore_ascii_case(name)) {
        return None;
    }
    let allowed = CHARSETS
        .iter()
        .filter_map(|c| imap_types::core::Charset::try_from(*c).ok())
        .collect();
    Some(crate::convert::no(
        tag,
        Some(imap_types::response::Code::BadCharset { allowed }),
        "Unsupported charset".into(),
    ))
}

/// What RETURN (SAVE ...) keeps of the matches (ascending UIDs), RFC 5182 §2.4: with
/// MIN and/or MAX but neither ALL nor COUNT, just those; otherwise all of them.
fn saved_result(ret: &SearchReturn, uids: &[u32]) -> UidSet {
    if (ret.min || ret.max) && !ret.all && !ret.count {
        let min = uids.first().filter(|_| ret.min);
        let max = uids.last().filter(|_| ret.max);
        return UidSet::from_uids(min.into_iter().chain(max).copied());
    }
    UidSet::from_uids(uids.iter().copied())
}

/// `* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [COUNT n] [ALL set] [PARTIAL (r set)]
/// [MODSEQ n]` (RFC 4731 §3.1, RFC 9394 §3.1, RFC 7162 §3.1.5). imap-types has no ESEARCH response, so it is
/// written here; a tag never holds `"` or `\\`, so quoting it is safe.
pub fn esearch(
    tag: &Tag<'_>,
    uid: bool,
    ret: &SearchReturn,
    hits: &[u32],
    modseq: Option<u64>,
) -> String {
    use std::fmt::Write;
    let mut line = format!("* ESEARCH (TAG \"{}\")", tag.as_ref());
    if uid {
        line.push_str(" UID");
    }
    if let (Some(min), Some(max)) = (hits.iter().min(), hits.iter().max()) {
        if ret.min {
            let _ = write!(line, " MIN {min}");
        }
        if ret.max {
            let _ = write!(line, " MAX {max}");
        }
    }
    if ret.count {
        let _ = write!(line, " COUNT {}", hits.len());
    }
    if ret.all && !hits.is_empty() {
        let set = UidSet::from_uids(hits.iter().copied());
        let ranges: Vec<String> = set
            .ranges()
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}:{b}")
                }
            })
            .collect();
        let _ = write!(line, " ALL {}", ranges.join(","));
    }
    if let Some(p) = &ret.partial {
        let _ = write!(line, " {}", crate::convert::partial_item(p, hits));
    }
    if let Some(m) = modseq {
        let _ = write!(line, " MODSEQ {m}");
    }
    line.push_str("\r\n");
    line
}

fn uses_modseq(k: &SearchKey<'_>) -> bool {
    use SearchKey::*;
    match k {
        ModSequence { .. } => true,
        Not(k) => uses_modseq(k),
        Or(a, b) => uses_modseq(a) || uses_modseq(b),
        And(ks) => ks.as_ref().iter().any(uses_modseq),
        _ => false,
    }
}

fn needs_bytes(k: &SearchKey<'_>) -> bool {
    use SearchKey::*;
    match k {
        Header(name, v) if savedate::key(name.as_ref(), v.as_ref()).is_some() => false,
        Bcc(_) | Body(_) | Cc(_) | From(_) | Header(..) | SentBefore(_) | SentOn(_)
        | SentSince(_) | Subject(_) | Text(_) | To(_) => true,
        Not(k) => needs_bytes(k),
        Or(a, b) => needs_bytes(a) || needs_bytes(b),
        And(ks) => ks.as_ref().iter().any(needs_bytes),
        _ => false,
    }
}

/// The day (UTC) of a time in Unix seconds, as the date search keys compare it.
fn day_of(unix: i64) -> NaiveDate {
    Utc.timestamp_opt(unix, 0)
        .single()
        .unwrap_or_default()
        .date_naive()
}

/// One message as SEARCH sees it.
struct Ctx<'a> {
    /// The message.
    m: &'a Message,
    /// Its sequence number.
    seq: u32,
    /// Its bytes, when a key needs them (else empty).
    raw: &'a [u8],
    /// The mailbox as the client knows it.
    view: &'a Selected,
    /// The criteria's sets, resolved once for all messages.
    sets: &'a SetCache,
    /// The message's header parsed, once a key needs it (address keys, SENT*).
    parsed: std::cell::OnceCell<Option<mail_parser::Message<'a>>>,
    /// The whole message parsed, once BODY or TEXT did not match its raw bytes.
    whole: std::cell::OnceCell<Option<mail_parser::Message<'a>>>,
}

/// The message may hold text that reads differently once decoded: it names a
/// quoted-printable or base64 transfer encoding, or a charset other than UTF-8 and
/// US-ASCII (UTF-8's subset). A few passes over the bytes, far cheaper than a parse.
fn may_be_encoded(raw: &[u8]) -> bool {
    let has = |word: &[u8]| {
        raw.windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word))
    };
    if has(b"quoted-printable") || has(b"base64") {
        return true;
    }
    const CHARSET: &[u8] = b"charset=";
    raw.windows(CHARSET.len()).enumerate().any(|(at, w)| {
        if !w.eq_ignore_ascii_case(CHARSET) {
            return false;
        }
        let value = &raw[at + CHARSET.len()..];
        let value = value.strip_prefix(b"\"").unwrap_or(value);
        let utf8 = [&b"utf-8"[..], b"utf8", b"us-ascii"]
            .iter()
            .any(|c| value.len() >= c.len() && value[..c.len()].eq_ignore_ascii_case(c));
        !utf8
    })
}

/// The sets of one SEARCH's criteria as `UidSet`s, each resolved on first use: building
/// one costs as much as the set has ranges (a `$` may stand for a large saved result),
/// so it is done once per SEARCH, not once per message. Keyed by the set's address: the
/// criteria stay put while the messages are searched.
#[derive(Default)]
struct SetCache(std::cell::RefCell<std::collections::HashMap<usize, UidSet>>);

impl SetCache {
    /// True when `n` is in `set`, `*` being `largest`.
    fn contains(&self, set: &imap_types::sequence::SequenceSet, largest: u32, n: u32) -> bool {
        let key = std::ptr::from_ref(set) as usize;
        self.0
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| crate::convert::uid_set(set, largest))
            .contains(n)
    }
}

impl<'a> Ctx<'a> {
    fn matches(&self, k: &SearchKey<'_>) -> bool {
        use SearchKey::*;
        let f = |flag: &str| self.m.flags.contains(flag);
        let day = self.internal_day();
        match k {
            All => true,
            And(ks) => ks.as_ref().iter().all(|k| self.matches(k)),
            Or(a, b) => self.matches(a) || self.matches(b),
            Not(k) => !self.matches(k),
            // Checked range by range: never expanded per message.
            SequenceSet(set) => self
                .sets
                .contains(set, self.view.uids.len() as u32, self.seq),
            Uid(set) => self.sets.contains(set, self.view.max_uid(), self.m.uid),
            Answered => f("\\Answered"),
            Deleted => f("\\Deleted"),
            Draft => f("\\Draft"),
            Flagged => f("\\Flagged"),
            Seen => f("\\Seen"),
            Unanswered => !f("\\Answered"),
            Undeleted => !f("\\Deleted"),
            Undraft => !f("\\Draft"),
            Unflagged => !f("\\Flagged"),
            Unseen => !f("\\Seen"),
            Keyword(a) => f(a.as_ref()),
            Unkeyword(a) => !f(a.as_ref()),
            // \Recent as this session has it (RFC 3501 §6.4.4: NEW is RECENT UNSEEN).
            New => self.view.is_recent(self.m.uid) && !f("\\Seen"),
            Recent => self.view.is_recent(self.m.uid),
            Old => !self.view.is_recent(self.m.uid),
            Larger(n) => self.m.size > u64::from(*n),
            Smaller(n) => self.m.size < u64::from(*n),
            Before(d) => day < *d.as_ref(),
            On(d) => day == *d.as_ref(),
            Since(d) => day >= *d.as_ref(),
            SentBefore(d) => self.sent_day().is_some_and(|s| s < *d.as_ref()),
            SentOn(d) => self.sent_day().is_some_and(|s| s == *d.as_ref()),
            SentSince(d) => self.sent_day().is_some_and(|s| s >= *d.as_ref()),
            Bcc(v) => self.address_has("Bcc", v),
            Cc(v) => self.address_has("Cc", v),
            From(v) => self.address_has("From", v),
            To(v) => self.address_has("To", v),
            Subject(v) => self.header_has("Subject", v),
            // SAVEDBEFORE/ON/SINCE, SAVEDATESUPPORTED (RFC 8514), as extparse rewrote them.
            Header(name, v) if let Some(key) = savedate::key(name.as_ref(), v.as_ref()) => {
                key.is_ok_and(|key| key.matches(day_of(self.m.saved)))
            }
            Header(name, v) => self.header_has(&String::from_utf8_lossy(name.as_ref()), v),
            Body(v) => contains(self.body(), v) || self.decoded_text_has(v),
            Text(v) => contains(self.raw, v) || self.decoded_text_has(v),
            ModSequence { modseq, .. } => self.m.modseq >= *modseq,
            // WITHIN (RFC 5032 §3): an interval in seconds back from now, against the
            // internal date, both ends included.
            Older(secs) => self.m.internal_date <= now_unix() - i64::from(secs.get()),
            Younger(secs) => self.m.internal_date >= now_unix() - i64::from(secs.get()),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    fn internal_day(&self) -> NaiveDate {
        day_of(self.m.internal_date)
    }

    /// The message's header, parsed on first use.
    fn parsed(&self) -> Option<&mail_parser::Message<'a>> {
        self.parsed
            .get_or_init(|| message::parse(message::header(self.raw)))
            .as_ref()
    }

    /// A text part of the message, decoded (Content-Transfer-Encoding and charset, by
    /// mail-parser), contains `v`: so BODY "Grüße" finds a quoted-printable Latin-1
    /// "Gr=FC=DFe" (RFC 5255 §4: I18NLEVEL=1 compares decoded text). A message whose
    /// text is neither transfer-encoded nor in a charset other than UTF-8 is its own
    /// text, which the raw match has searched already: it is not parsed.
    fn decoded_text_has(&self, v: &AString<'_>) -> bool {
        if !may_be_encoded(self.raw) {
            return false;
        }
        let Some(msg) = self.whole.get_or_init(|| message::parse(self.raw)) else {
            return false;
        };
        let needle = fold(&String::from_utf8_lossy(v.as_ref()));
        msg.parts.iter().any(|p| match &p.body {
            mail_parser::PartType::Text(t) | mail_parser::PartType::Html(t) => {
                fold(t).contains(&needle)
            }
            _ => false,
        })
    }

    fn sent_day(&self) -> Option<NaiveDate> {
        let d = self.parsed()?.date()?;
        NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
    }

    fn body(&self) -> &[u8] {
        let end = self
            .raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| i + 4);
        end.map_or(&[][..], |i| &self.raw[i..])
    }

    /// An address header (FROM, TO, CC, BCC) contains `v`: as it stands in the message
    /// (unfolded), or in its decoded address list, where each address reads as its
    /// display name (RFC 2047 encoded words decoded, quotes and comments gone), its
    /// address, and `name <address>`, and a group (RFC 5322 §3.4) also by its name. So
    /// `FROM "Jürgen"` finds `=?UTF-8?Q?J=C3=BCrgen?= <j@x.de>` and `TO "Doe, Jane
    /// <jane@x.org>"` finds `"Doe, Jane" <jane@x.org>`, as a user typing what the client
    /// shows expects.
    fn address_has(&self, name: &str, v: &AString<'_>) -> bool {
        if self.header_has(name, v) {
            return true;
        }
        let needle = fold(&String::from_utf8_lossy(v.as_ref()));
        let Some(parsed) = self.parsed() else {
            return false;
        };
        let addr_has = |a: &mail_parser::Addr<'_>| {
            let display = a.name.as_deref().unwrap_or_default();
            let address = a.address.as_deref().unwrap_or_default();
            [
                display.to_string(),
                address.to_string(),
                format!("{display} <{address}>"),
            ]
            .iter()
            .any(|s| fold(s).contains(&needle))
        };
        parsed.parts[0]
            .headers
            .iter()
            .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
            .any(|h| match &h.value {
                HeaderValue::Address(Address::List(list)) => list.iter().any(addr_has),
                HeaderValue::Address(Address::Group(groups)) => groups.iter().any(|g| {
                    g.name.as_deref().is_some_and(|n| fold(n).contains(&needle))
                        || g.addresses.iter().any(addr_has)
                }),
                _ => false,
            })
    }

    /// The unfolded values of every header called `name` contain `v`: as they stand in
    /// the message, or decoded (RFC 2047 encoded words, so `SUBJECT "Ärger"` finds
    /// `=?UTF-8?Q?=C3=84rger?=`).
    fn header_has(&self, name: &str, v: &AString<'_>) -> bool {
        let header_end = self
            .raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(self.raw.len());
        let header = String::from_utf8_lossy(&self.raw[..header_end])
            .replace("\r\n ", " ")
            .replace("\r\n\t", " ");
        let needle = fold(&String::from_utf8_lossy(v.as_ref()));
        // Whether a value holds an encoded word: only then can decoding change it, and
        // only then is the header parsed for it.
        let mut encoded = false;
        let raw = header.split("\r\n").any(|line| {
            line.split_once(':').is_some_and(|(n, val)| {
                if !n.trim().eq_ignore_ascii_case(name) {
                    return false;
                }
                encoded |= val.contains("=?");
                needle.is_empty() || fold(val).contains(&needle)
            })
        });
        raw || (encoded && self.decoded_has(name, &needle))
    }

    /// A decoded text value of a header called `name` contains the folded `needle`.
    fn decoded_has(&self, name: &str, needle: &str) -> bool {
        let Some(parsed) = self.parsed() else {
            return false;
        };
        parsed.parts[0]
            .headers
            .iter()
            .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
            .any(|h| match &h.value {
                HeaderValue::Text(t) => fold(t).contains(needle),
                HeaderValue::TextList(l) => l.iter().any(|t| fold(t).contains(needle)),
                _ => false,
            })
    }
}

/// `hay` (as UTF-8, lossily) contains `v` under i;unicode-casemap (RFC 5255 §4.3:
/// I18NLEVEL=1's comparator for SEARCH).
fn contains(hay: &[u8], v: &AString<'_>) -> bool {
    crate::casemap::contains(
        &String::from_utf8_lossy(hay),
        &String::from_utf8_lossy(v.as_ref()),
    )
}

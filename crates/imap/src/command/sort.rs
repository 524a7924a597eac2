//! SORT and UID SORT (RFC 5256 §3, with RFC 5957's DISPLAYFROM and DISPLAYTO), and
//! ESORT's RETURN options (RFC 5267 §3), answered with ESEARCH. The messages are those
//! SEARCH would find; they are ordered by each key in turn (REVERSE turning one key
//! around), and messages equal on every key stay in mailbox order (RFC 5256 §3).
//! Strings compare as i;unicode-casemap (RFC 5051 via `casemap`; I18NLEVEL=1, RFC 5255).

use std::{cmp::Ordering, sync::Arc};

use imap_types::{
    IntoStatic,
    core::{Charset, Tag},
    extensions::sort::{SortCriterion, SortKey},
    response::{Data, Status},
    search::SearchKey,
};
use twinmail_net::Stream;

use crate::{
    command::{search, store_failed},
    convert::{bad, nz, nz64, ok, ordered_set, partial_item, uid_set},
    extparse::SearchReturn,
    session::{Session, State},
    sortkeys::{Fields, Fixed},
};

/// A message SORT or THREAD answers with.
pub struct Hit {
    /// Its sequence number.
    pub seq: u32,
    /// Its UID.
    pub uid: u32,
    /// Its MODSEQ; read only when the criteria name MODSEQ, and only then known (else 0).
    pub modseq: u64,
    /// Its blob, size and INTERNALDATE.
    pub fixed: Fixed,
    /// Its header fields, when the cache had them.
    pub fields: Option<Arc<Fields>>,
}

/// The messages SORT or THREAD orders: those SEARCH would find, in mailbox order.
pub struct Found {
    /// The messages.
    pub hits: Vec<Hit>,
    /// The criteria name MODSEQ (RFC 7162 §3.1.5): the answer carries the highest.
    pub by_modseq: bool,
}

/// The messages matching `criteria`. Criteria that only name messages by number (ALL,
/// sequence and UID sets: what clients send with SORT and THREAD) are answered from
/// the selected view and the fixed-facts cache, without reading the mailbox's rows;
/// others, or a cache that lacks a message, take SEARCH's way, which fills the cache.
pub async fn found<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    criteria: &[SearchKey<'_>],
) -> Result<Found, Status<'static>> {
    if let Some(hits) = by_number(s, criteria) {
        return Ok(Found {
            hits,
            by_modseq: false,
        });
    }
    let found = search::matching(s, tag, criteria).await?;
    let hits: Vec<Hit> = found
        .hits
        .into_iter()
        .map(|(seq, m)| Hit {
            seq,
            uid: m.uid,
            modseq: m.modseq,
            fixed: Fixed {
                blob: m.blob,
                size: m.size,
                internal_date: m.internal_date,
            },
            fields: None,
        })
        .collect();
    if let State::Selected { view, .. } = &s.state {
        let facts = hits.iter().map(|h| (h.uid, h.fixed));
        s.imap.fixed.put_all(view.mailbox.id, facts);
    }
    Ok(Found {
        hits,
        by_modseq: found.by_modseq,
    })
}

/// The messages `criteria` name when they name messages by number only, all of whose
/// fixed facts are cached; None otherwise.
fn by_number<S: Stream>(s: &Session<S>, criteria: &[SearchKey<'_>]) -> Option<Vec<Hit>> {
    let State::Selected { view, .. } = &s.state else {
        return None;
    };
    let mut seqs = Vec::new();
    let mut uids = Vec::new();
    let mut keys: Vec<&SearchKey<'_>> = criteria.iter().collect();
    while let Some(k) = keys.pop() {
        match k {
            SearchKey::All => {}
            SearchKey::SequenceSet(set) => seqs.push(uid_set(set, view.uids.len() as u32)),
            SearchKey::Uid(set) => uids.push(uid_set(set, view.max_uid())),
            SearchKey::And(ks) => keys.extend(ks.as_ref()),
            _ => return None,
        }
    }
    let pairs: Vec<(u32, u32)> = view
        .uids
        .range(1, u32::MAX)
        .filter(|(seq, uid)| {
            seqs.iter().all(|s| s.contains(*seq)) && uids.iter().all(|s| s.contains(*uid))
        })
        .collect();
    let known = s.imap.fixed.get_all(view.mailbox.id, &pairs)?;
    Some(
        pairs
            .into_iter()
            .zip(known)
            .map(|((seq, uid), k)| Hit {
                seq,
                uid,
                modseq: 0,
                fixed: k.fixed,
                fields: k.fields,
            })
            .collect(),
    )
}

/// SORT: `* SORT n n n` (or, with RETURN, `* ESEARCH`).
#[allow(clippy::too_many_arguments)]
pub async fn sort<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    keys: &[SortCriterion],
    charset: &Charset<'_>,
    criteria: &[SearchKey<'_>],
    uid: bool,
    ret: Option<SearchReturn>,
) -> Status<'static> {
    if let Some(refusal) = search::unsupported_charset(tag, Some(charset)) {
        return refusal;
    }
    if ret.as_ref().is_some_and(|r| r.update) && crate::contexts::is_live(s, tag) {
        // RFC 5267 §4.3: updates are told by tag, which must stay unambiguous.
        return bad(tag, "Tag reuse");
    }
    let (hits, by_modseq) = match ordered(s, tag, keys, criteria).await {
        Ok(found) => found,
        Err(status) => return status,
    };
    let numbers: Vec<u32> = hits
        .iter()
        .map(|h| if uid { h.uid } else { h.seq })
        .collect();
    let modseq = by_modseq
        .then(|| hits.iter().map(|h| h.modseq).max())
        .flatten()
        .map(nz64);
    if ret.as_ref().is_some_and(|r| r.update) {
        let criteria = criteria.iter().map(|k| k.clone().into_static()).collect();
        let keys = Some(keys.to_vec());
        crate::contexts::start(s, tag, uid, criteria, keys, numbers.clone());
    }
    match ret {
        Some(ret) => {
            let line = esort(tag, uid, &ret, &numbers, modseq.map(|m| m.get()));
            s.raw_line(line.as_bytes());
        }
        None => s.data(Data::Sort(numbers.into_iter().map(nz).collect(), modseq)),
    }
    ok(tag, None, "SORT completed")
}

/// The messages matching `criteria` in the order `keys` ask for, and whether the
/// criteria named MODSEQ.
pub async fn ordered<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    keys: &[SortCriterion],
    criteria: &[SearchKey<'_>],
) -> Result<(Vec<Hit>, bool), Status<'static>> {
    let found = found(s, tag, criteria).await?;
    let needs_header = keys
        .iter()
        .any(|k| !matches!(k.key, SortKey::Arrival | SortKey::Size));
    let fields = if needs_header {
        header_fields(s, &found.hits)
            .await
            .map_err(|e| store_failed(tag, e))?
    } else {
        let none = Arc::new(Fields::default());
        vec![none; found.hits.len()]
    };
    let order = sorted(&found, &fields, keys);
    let by_modseq = found.by_modseq;
    let mut slots: Vec<Option<Hit>> = found.hits.into_iter().map(Some).collect();
    let hits = order
        .iter()
        .filter_map(|&i| slots.get_mut(i)?.take())
        .collect();
    Ok((hits, by_modseq))
}

/// The header fields of each hit, from the cache or read from its blob.
pub async fn header_fields<S: Stream>(
    s: &Session<S>,
    hits: &[Hit],
) -> Result<Vec<Arc<Fields>>, twinmail_store::StoreError> {
    if hits.iter().all(|h| h.fields.is_some()) {
        return Ok(hits.iter().filter_map(|h| h.fields.clone()).collect());
    }
    let cache = &s.imap.headers;
    let missing = hits.iter().filter(|h| h.fields.is_none());
    let mut cached = cache.get_all(missing.map(|h| &h.fixed.blob)).into_iter();
    let mut out = Vec::with_capacity(hits.len());
    // The fields the mailbox's entries lack, to keep there for next time.
    let mut learnt = Vec::new();
    for h in hits {
        if let Some(f) = &h.fields {
            out.push(f.clone());
            continue;
        }
        let f = match cached.next().flatten() {
            Some(f) => f,
            None => {
                let raw = s.imap.store.blob(&h.fixed.blob).await?.unwrap_or_default();
                let f = Arc::new(crate::sortkeys::fields(&raw));
                cache.put(h.fixed.blob, f.clone());
                f
            }
        };
        learnt.push((h.uid, f.clone()));
        out.push(f);
    }
    if let State::Selected { view, .. } = &s.state {
        s.imap.fixed.put_fields(view.mailbox.id, &learnt);
    }
    Ok(out)
}

/// The sent date RFC 5256 §2.2 sorts by: the Date header, else INTERNALDATE.
pub fn sent_date(h: &Hit, f: &Fields) -> i64 {
    f.sent.unwrap_or(h.fixed.internal_date)
}

/// The indices of `found.hits` in the order the keys ask for.
fn sorted(found: &Found, fields: &[Arc<Fields>], keys: &[SortCriterion]) -> Vec<usize> {
    if let [one] = keys {
        return sorted_by_one(found, fields, one);
    }
    let mut order: Vec<usize> = (0..found.hits.len()).collect();
    let by = |k: &SortKey, a: usize, b: usize| -> Ordering {
        let (ma, mb) = (&found.hits[a], &found.hits[b]);
        let (fa, fb) = (&fields[a], &fields[b]);
        match k {
            SortKey::Arrival => ma.fixed.internal_date.cmp(&mb.fixed.internal_date),
            SortKey::Size => ma.fixed.size.cmp(&mb.fixed.size),
            SortKey::Date => sent_date(ma, fa).cmp(&sent_date(mb, fb)),
            SortKey::Subject => fa.subject.cmp(&fb.subject),
            SortKey::From => fa.from.cmp(&fb.from),
            SortKey::To => fa.to.cmp(&fb.to),
            SortKey::Cc => fa.cc.cmp(&fb.cc),
            SortKey::DisplayFrom => fa.display_from.cmp(&fb.display_from),
            SortKey::DisplayTo => fa.display_to.cmp(&fb.display_to),
        }
    };
    // Stable, and `order` starts in mailbox order: equal messages keep it.
    order.sort_by(|&a, &b| {
        for k in keys {
            let o = by(&k.key, a, b);
            let o = if k.reverse { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    order
}

/// `sorted` for one key (the usual SORT): each message's key value is taken once and
/// the (value, index) pairs sorted, which is several times faster than comparing
/// through the messages.
fn sorted_by_one(found: &Found, fields: &[Arc<Fields>], key: &SortCriterion) -> Vec<usize> {
    let hits = &found.hits;
    let numbers = |value: &dyn Fn(usize) -> i64| -> Vec<(i64, usize)> {
        (0..hits.len()).map(|i| (value(i), i)).collect()
    };
    let texts = |value: &dyn Fn(&Fields) -> &str| -> Vec<(&str, usize)> {
        fields
            .iter()
            .enumerate()
            .map(|(i, f)| (value(f), i))
            .collect()
    };
    match key.key {
        SortKey::Arrival => order(numbers(&|i| hits[i].fixed.internal_date), key.reverse),
        SortKey::Size => order(
            numbers(&|i| i64::try_from(hits[i].fixed.size).unwrap_or(i64::MAX)),
            key.reverse,
        ),
        SortKey::Date => order(numbers(&|i| sent_date(&hits[i], &fields[i])), key.reverse),
        SortKey::Subject => order(texts(&|f| &f.subject), key.reverse),
        SortKey::From => order(texts(&|f| &f.from), key.reverse),
        SortKey::To => order(texts(&|f| &f.to), key.reverse),
        SortKey::Cc => order(texts(&|f| &f.cc), key.reverse),
        SortKey::DisplayFrom => order(texts(&|f| &f.display_from), key.reverse),
        SortKey::DisplayTo => order(texts(&|f| &f.display_to), key.reverse),
    }
}

/// The indices of `pairs` (value, index) by value, ascending or (`reverse`) descending,
/// equal values by index.
fn order<K: Ord>(mut pairs: Vec<(K, usize)>, reverse: bool) -> Vec<usize> {
    if reverse {
        pairs.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    } else {
        pairs.sort_unstable();
    }
    pairs.into_iter().map(|p| p.1).collect()
}

/// `* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [COUNT n] [ALL set]` for SORT RETURN
/// (RFC 5267 §3.2): MIN and MAX are the first and last in sort order, ALL lists every
/// match in sort order (ascending runs written as ranges); PARTIAL (RFC 9394) the
/// matches at those positions of the sort order.
fn esort(
    tag: &Tag<'_>,
    uid: bool,
    ret: &SearchReturn,
    numbers: &[u32],
    modseq: Option<u64>,
) -> String {
    use std::fmt::Write;
    let mut line = format!("* ESEARCH (TAG \"{}\")", tag.as_ref());
    if uid {
        line.push_str(" UID");
    }
    if let (Some(first), Some(last)) = (numbers.first(), numbers.last()) {
        if ret.min {
            let _ = write!(line, " MIN {first}");
        }
        if ret.max {
            let _ = write!(line, " MAX {last}");
        }
    }
    if ret.count {
        let _ = write!(line, " COUNT {}", numbers.len());
    }
    if ret.all && !numbers.is_empty() {
        let _ = write!(line, " ALL {}", ordered_set(numbers));
    }
    if let Some(p) = &ret.partial {
        let _ = write!(line, " {}", partial_item(p, numbers));
    }
    if let Some(m) = modseq {
        let _ = write!(line, " MODSEQ {m}");
    }
    line.push_str("\r\n");
    line
}

//! THREAD and UID THREAD (RFC 5256 §3) with ORDEREDSUBJECT, REFERENCES and REFS
//! (draft-ietf-morg-inthread): the messages SEARCH would find, threaded by
//! `threading`, answered with `* THREAD`.

use imap_types::{
    core::{Charset, Tag},
    extensions::thread::ThreadingAlgorithm,
    response::Status,
    search::SearchKey,
};
use twinmail_net::Stream;

use crate::{
    command::{
        search,
        sort::{found, header_fields, sent_date},
        store_failed,
    },
    convert::{no, ok},
    session::Session,
    threading::{self, Item},
};

/// THREAD: `* THREAD (1 2)(3 (4)(5))`.
pub async fn thread<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    algorithm: &ThreadingAlgorithm<'_>,
    charset: &Charset<'_>,
    criteria: &[SearchKey<'_>],
    uid: bool,
) -> Status<'static> {
    // REFS orders by arrival (INTERNALDATE), the others by sent date.
    let (algorithm, by_arrival): (fn(&[Item<'_>]) -> String, bool) = match algorithm {
        ThreadingAlgorithm::OrderedSubject => (threading::ordered_subject, false),
        ThreadingAlgorithm::References => (threading::references, false),
        ThreadingAlgorithm::Other(o) if o.as_ref().eq_ignore_ascii_case("REFS") => {
            (threading::refs, true)
        }
        // RFC 5256 §3: an algorithm the server does not offer is a NO.
        ThreadingAlgorithm::Other(_) => {
            return no(tag, None, "Unknown threading algorithm".into());
        }
    };
    if let Some(refusal) = search::unsupported_charset(tag, Some(charset)) {
        return refusal;
    }
    let found = match found(s, tag, criteria).await {
        Ok(found) => found,
        Err(status) => return status,
    };
    let fields = match header_fields(s, &found.hits).await {
        Ok(f) => f,
        Err(e) => return store_failed(tag, e),
    };
    let items: Vec<Item> = found
        .hits
        .iter()
        .zip(&fields)
        .map(|(h, f)| Item {
            number: if uid { h.uid } else { h.seq },
            date: if by_arrival {
                h.fixed.internal_date
            } else {
                sent_date(h, f)
            },
            fields: f,
        })
        .collect();
    let threads = algorithm(&items);
    let mut line = Vec::with_capacity(threads.len() + 12);
    line.extend_from_slice(b"* THREAD");
    if !threads.is_empty() {
        line.push(b' ');
        line.extend_from_slice(threads.as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    // imap-types' Thread is a recursive type (encoding and dropping a deep one would
    // recurse): the line is written here.
    s.raw_line(&line);
    ok(tag, None, "THREAD completed")
}

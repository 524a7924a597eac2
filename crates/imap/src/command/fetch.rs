//! FETCH and UID FETCH (RFC 3501 §6.4.5), with BINARY (RFC 3516), CONDSTORE's
//! CHANGEDSINCE and QRESYNC's VANISHED (RFC 7162), PREVIEW (RFC 8970), and PARTIAL's
//! modifier (RFC 9394 §3.2: only the messages at some positions of the set). A non-PEEK
//! body fetch sets \Seen first (unless the mailbox was EXAMINEd) and reports the new
//! flags. Responses are handed to the wire message by message, so a FETCH of a whole
//! large mailbox never sits in memory at once.

use chrono::{TimeZone, Utc};
use imap_types::{
    command::FetchModifier,
    core::{LiteralMode, NString8, Tag},
    datetime::DateTime,
    extensions::binary::Literal8,
    fetch::{Macro, MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName as N},
    response::{Code, Data, Status},
    sequence::SequenceSet,
};
use twinmail_net::Stream;
use twinmail_store::{FlagMode, Flags, UidSet};

use crate::{
    command::store_failed,
    convert::{bad, fetch_flags, no, nstring, nz, nz64, ok, vec1},
    extparse::{Partial, PreviewRequest, Rewrite},
    message::{self, BinaryError},
    session::{Session, State},
};

/// What a FETCH asked for beyond what imap-codec decoded (`extparse` took it out).
#[derive(Clone, Copy, Debug, Default)]
pub struct FetchExtra {
    /// PREVIEW (RFC 8970).
    preview: Option<PreviewRequest>,
    /// SAVEDATE (RFC 8514).
    savedate: bool,
    /// A UID item stands in for PREVIEW and SAVEDATE as the only items.
    stand_in: bool,
    /// The PARTIAL modifier (RFC 9394 §3.2).
    partial: Option<Partial>,
}

impl From<&Rewrite> for FetchExtra {
    fn from(r: &Rewrite) -> FetchExtra {
        FetchExtra {
            preview: r.preview,
            savedate: r.savedate,
            stand_in: r.stand_in,
            partial: r.fetch_partial,
        }
    }
}

pub async fn fetch<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    set: &SequenceSet,
    items: MacroOrMessageDataItemNames<'static>,
    uid: bool,
    modifiers: &[FetchModifier],
    extra: FetchExtra,
) -> Status<'static> {
    let FetchExtra {
        preview,
        savedate,
        stand_in,
        partial,
    } = extra;
    let State::Selected { view, .. } = &s.state else {
        return bad(tag, "No mailbox selected");
    };
    let pairs = match view.resolve(set, uid) {
        Ok(p) => p,
        Err(text) => return bad(tag, text),
    };
    // Without `s` (RFC 4314 §4) reading a message does not set \Seen, as under EXAMINE.
    let (mailbox, read_only) = (view.mailbox.id, view.read_only || !view.rights.has("s"));
    let mut names = match items {
        MacroOrMessageDataItemNames::Macro(m) => {
            let mut v = vec![N::Flags, N::InternalDate, N::Rfc822Size];
            if matches!(m, Macro::All | Macro::Full) {
                v.push(N::Envelope);
            }
            if matches!(m, Macro::Full) {
                v.push(N::Body);
            }
            v
        }
        MacroOrMessageDataItemNames::MessageDataItemNames(v) => v,
    };
    // PREVIEW and SAVEDATE alone came with a UID item standing in for them (an item list
    // cannot be empty): shown only when UID FETCH would show it anyway.
    if !uid && stand_in {
        names.retain(|n| *n != N::Uid);
    }
    if uid && !names.contains(&N::Uid) {
        names.insert(0, N::Uid);
    }
    // CONDSTORE (RFC 7162 §3.1.4): CHANGEDSINCE filters and implies MODSEQ; asking for
    // MODSEQ enables CONDSTORE, after which every FLAGS comes with its MODSEQ.
    let mut changed_since = None;
    let mut vanished = false;
    for m in modifiers {
        match m {
            FetchModifier::ChangedSince(n) => changed_since = Some(n.get()),
            FetchModifier::Vanished => vanished = true,
        }
    }
    // QRESYNC (RFC 7162 §3.2.6): VANISHED only with UID FETCH, CHANGEDSINCE and QRESYNC
    // enabled; it first tells which UIDs of the set were expunged since then.
    if vanished {
        if !s.qresync {
            return bad(tag, "ENABLE QRESYNC first");
        }
        let Some(since) = changed_since.filter(|_| uid) else {
            return bad(tag, "VANISHED needs UID FETCH with CHANGEDSINCE");
        };
        let State::Selected { view, .. } = &s.state else {
            return bad(tag, "No mailbox selected");
        };
        let asked = crate::convert::uid_set(set, view.max_uid());
        let gone = match s.imap.store.expunged_since(mailbox, since).await {
            Ok(g) => g,
            Err(e) => return store_failed(tag, e),
        };
        if let Some(d) =
            crate::selected::vanished(gone.into_iter().filter(|u| asked.contains(*u)), true)
        {
            s.data(d);
        }
    }
    // PARTIAL (RFC 9394 §3.2): positions in the set in UID order, counted among the
    // messages CHANGEDSINCE lets through (the last 100 changed, say).
    let pairs = match partial {
        None => pairs,
        Some(p) => {
            let pairs = match changed_since {
                None => pairs,
                Some(since) => {
                    let uids = UidSet::from_uids(pairs.iter().map(|p| p.1));
                    let changed: std::collections::HashSet<u32> =
                        match s.imap.store.messages_in(mailbox, &uids).await {
                            Ok(ms) => ms
                                .into_iter()
                                .filter(|m| m.modseq > since)
                                .map(|m| m.uid)
                                .collect(),
                            Err(e) => return store_failed(tag, e),
                        };
                    pairs
                        .into_iter()
                        .filter(|(_, u)| changed.contains(u))
                        .collect()
                }
            };
            p.of(&pairs).to_vec()
        }
    };
    if changed_since.is_some() || names.contains(&N::ModSeq) {
        s.condstore = true;
    }
    if s.condstore
        && (changed_since.is_some() || names.contains(&N::Flags))
        && !names.contains(&N::ModSeq)
    {
        names.push(N::ModSeq);
    }
    // What needs the whole message; ENVELOPE alone (what a client lists a folder with)
    // needs only the header, and parsing just that skips every body part and attachment.
    let whole = names.iter().any(|n| {
        matches!(
            n,
            N::Body
                | N::BodyExt { .. }
                | N::BodyStructure
                | N::Rfc822
                | N::Rfc822Header
                | N::Rfc822Text
                | N::Binary { .. }
                | N::BinarySize { .. }
        )
    });
    let needs_body = whole || names.contains(&N::Envelope);
    let sets_seen = !read_only
        && names.iter().any(|n| {
            matches!(
                n,
                N::BodyExt { peek: false, .. }
                    | N::Binary { peek: false, .. }
                    | N::Rfc822
                    | N::Rfc822Text
            )
        });
    let uids = UidSet::from_uids(pairs.iter().map(|p| p.1));
    let store = s.imap.store.clone();
    if sets_seen
        && let Err(e) = store
            .store_flags(
                mailbox,
                uids.clone(),
                FlagMode::Add,
                Flags::new(["\\Seen"]),
                None,
            )
            .await
    {
        return store_failed(tag, e);
    }
    let messages = match store.messages_in(mailbox, &uids).await {
        Ok(m) => m,
        Err(e) => return store_failed(tag, e),
    };
    if names.contains(&N::Flags) || sets_seen {
        s.announce_keywords(messages.iter().map(|m| &m.flags));
    }
    let mut by_uid = messages
        .into_iter()
        .map(|m| (m.uid, m))
        .collect::<std::collections::HashMap<_, _>>();
    // (UID, MODSEQ) of the flags shown, so that older flag news is not told after them.
    let mut flags_told = Vec::new();
    for (seq, u) in pairs {
        // Expunged by another session meanwhile, not yet told (RFC 3501 §7.4.1): only
        // its UID is still known, and told when asked, so that a client can learn which
        // message the EXPUNGE or VANISHED to come is about (RFC 2180 §4.1.3).
        let Some(m) = by_uid.remove(&u) else {
            if names.contains(&N::Uid) {
                s.data(Data::Fetch {
                    seq: nz(seq),
                    items: imap_types::core::Vec1::from(MessageDataItem::Uid(nz(u))),
                });
            }
            continue;
        };
        // Its flags as this session shows them (with \Recent when it is recent here).
        let flags = match &s.state {
            State::Selected { view, .. } => view.flags_of(m.uid, &m.flags),
            _ => fetch_flags(&m.flags),
        };
        if changed_since.is_some_and(|since| m.modseq <= since) {
            continue;
        }
        // PREVIEW (LAZY) over a large message is NIL (RFC 8970: a server may answer
        // NIL when a preview is not readily at hand, and the client asks again without
        // LAZY when it wants one): reading and parsing megabytes for a list entry is
        // exactly the cost LAZY lets a client opt out of. Without LAZY it is made.
        let skip_preview = preview.is_some_and(|p| p.lazy && m.size > LAZY_MAX_SIZE);
        // PREVIEW reads the first text part, which may come after any attachment.
        let whole = whole || (preview.is_some() && !skip_preview);
        let needs_body = needs_body || whole;
        let header_only = !whole;
        let raw = if needs_body {
            match store.blob(&m.blob).await {
                Ok(b) => b.unwrap_or_default(),
                Err(e) => return store_failed(tag, e),
            }
        } else {
            Vec::new()
        };
        let parsed = if needs_body && header_only {
            message::parse(message::header(&raw))
        } else if needs_body {
            message::parse(&raw)
        } else {
            None
        };
        let mut out = Vec::with_capacity(names.len() + 1);
        // (index in `out`, origin) of each partial BINARY item.
        let mut binary_origins = Vec::new();
        for name in &names {
            let index = out.len();
            out.push(match name {
                N::Uid => MessageDataItem::Uid(nz(m.uid)),
                N::ModSeq => MessageDataItem::ModSeq(nz64(m.modseq)),
                N::Flags => MessageDataItem::Flags(flags.clone()),
                N::InternalDate => MessageDataItem::InternalDate(date(m.internal_date)),
                N::Rfc822Size => MessageDataItem::Rfc822Size(m.size as u32),
                N::Envelope => MessageDataItem::Envelope(message::envelope(parsed.as_ref())),
                N::BodyStructure => {
                    MessageDataItem::BodyStructure(message::body_structure(&raw, parsed.as_ref()))
                }
                N::Body => MessageDataItem::Body(message::body_structure(&raw, parsed.as_ref())),
                N::BodyExt {
                    section, partial, ..
                } => {
                    let mut data = message::section(&raw, parsed.as_ref(), section.as_ref());
                    if let Some((origin, count)) = partial {
                        let start = (*origin as usize).min(data.len());
                        let end = start.saturating_add(count.get() as usize).min(data.len());
                        data = data[start..end].to_vec();
                    }
                    MessageDataItem::BodyExt {
                        section: section.clone(),
                        origin: partial.map(|p| p.0),
                        data: nstring(&data),
                    }
                }
                N::Rfc822 => MessageDataItem::Rfc822(nstring(&raw)),
                N::Rfc822Header => MessageDataItem::Rfc822Header(nstring(&message::section(
                    &raw,
                    parsed.as_ref(),
                    Some(&imap_types::fetch::Section::Header(None)),
                ))),
                N::Rfc822Text => MessageDataItem::Rfc822Text(nstring(&message::section(
                    &raw,
                    parsed.as_ref(),
                    Some(&imap_types::fetch::Section::Text(None)),
                ))),
                N::Binary {
                    section, partial, ..
                } => {
                    let mut data = match message::binary(&raw, parsed.as_ref(), section) {
                        Ok(d) => d,
                        Err(BinaryError::UnknownCte) => return unknown_cte(tag),
                    };
                    if let Some((origin, count)) = partial {
                        let start = (*origin as usize).min(data.len());
                        let end = start.saturating_add(count.get() as usize).min(data.len());
                        data = data[start..end].to_vec();
                        binary_origins.push((index, *origin));
                    }
                    MessageDataItem::Binary {
                        section: section.clone(),
                        value: binary_value(data),
                    }
                }
                N::BinarySize { section } => {
                    match message::binary(&raw, parsed.as_ref(), section) {
                        Ok(d) => MessageDataItem::BinarySize {
                            section: section.clone(),
                            size: d.len() as u32,
                        },
                        Err(BinaryError::UnknownCte) => return unknown_cte(tag),
                    }
                }
            });
        }
        if sets_seen && !names.contains(&N::Flags) {
            out.push(MessageDataItem::Flags(flags));
        }
        if sets_seen || names.contains(&N::Flags) {
            flags_told.push((m.uid, m.modseq));
        }
        // Items imap-types has no type for, as their bytes: ` SAVEDATE "..."`, ` PREVIEW ...`.
        let mut tail = Vec::new();
        if savedate {
            tail.extend_from_slice(format!(" SAVEDATE {}", savedate_text(m.saved)).as_bytes());
        }
        if preview.is_some() {
            let text = if skip_preview {
                None
            } else {
                Some(
                    parsed
                        .as_ref()
                        .map(crate::preview::preview)
                        .unwrap_or_default(),
                )
            };
            tail.extend_from_slice(b" PREVIEW ");
            tail.extend_from_slice(&crate::preview::wire(text.as_deref()));
        }
        drop(parsed);
        if let Some(items) = vec1(out) {
            let data = Data::Fetch {
                seq: nz(seq),
                items,
            };
            if !tail.is_empty() {
                let mut line = if binary_origins.is_empty() {
                    encode(data)
                } else {
                    with_binary_origins(data, &binary_origins)
                };
                with_tail(&mut line, &tail);
                s.raw_line(&line);
            } else if binary_origins.is_empty() {
                s.data(data);
            } else {
                s.raw_line(&with_binary_origins(data, &binary_origins));
            }
        } else if !tail.is_empty() {
            // PREVIEW and SAVEDATE were the only items.
            let mut line = format!("* {seq} FETCH (").into_bytes();
            line.extend_from_slice(&tail[1..]);
            line.extend_from_slice(b")\r\n");
            s.raw_line(&line);
        }
        if s.pump().await.is_err() {
            break;
        }
    }
    // The \Seen change was published before the store answered: drain it now; it and
    // any older flag news are not told again after the flags shown here (newer is).
    s.drain_changes();
    if let State::Selected { view, .. } = &mut s.state {
        for (uid, modseq) in flags_told {
            view.told_flags(uid, modseq);
        }
    }
    ok(
        tag,
        None,
        if uid {
            "UID FETCH completed"
        } else {
            "FETCH completed"
        },
    )
}

/// The bytes of a FETCH response whose partial BINARY items carry their origin,
/// `BINARY[1]<0> {7}` (RFC 3516 §4.2 with RFC 9051 erratum 7246, as for BODY[]<0>), so a
/// client asking for two ranges of one part can tell them apart. imap-types' BINARY item
/// has no origin: the response is encoded as usual and `<origin>` put in after each such
/// item's section. An item's place is the length of the response holding only the items
/// before it; the insertions go from the last item to the first, so each place still
/// holds when it is used. `origins` is (item index, origin), ascending.
fn with_binary_origins(data: Data<'static>, origins: &[(usize, u32)]) -> Vec<u8> {
    use imap_codec::{ResponseCodec, encode::Encoder};
    use imap_types::response::Response;
    let encode = |d: Data<'static>| ResponseCodec::default().encode(&Response::Data(d)).dump();
    let Data::Fetch { seq, items } = data else {
        return encode(data);
    };
    let all: Vec<MessageDataItem<'static>> = items.as_ref().to_vec();
    let mut bytes = encode(Data::Fetch {
        seq,
        items: items.clone(),
    });
    for &(index, origin) in origins.iter().rev() {
        // "* n FETCH (" alone, or the items before this one, then ")\r\n" and a space.
        let start = match vec1(all[..index].to_vec()) {
            None => format!("* {seq} FETCH (").len(),
            Some(before) => encode(Data::Fetch { seq, items: before }).len() - 3 + 1,
        };
        // A BINARY section holds digits and dots only: its first ']' ends it.
        if let Some(end) = bytes
            .get(start..)
            .and_then(|rest| rest.iter().position(|&b| b == b']'))
        {
            let at = start + end + 1;
            bytes.splice(at..at, format!("<{origin}>").into_bytes());
        }
    }
    bytes
}

/// The largest message (RFC822.SIZE, bytes) PREVIEW (LAZY) makes a preview for; larger
/// ones get NIL.
const LAZY_MAX_SIZE: u64 = 1024 * 1024;

/// An untagged response's bytes as imap-codec writes them.
fn encode(data: Data<'static>) -> Vec<u8> {
    use imap_codec::{ResponseCodec, encode::Encoder};
    ResponseCodec::default()
        .encode(&imap_types::response::Response::Data(data))
        .dump()
}

/// Puts items imap-types has no type for (PREVIEW, SAVEDATE; `tail` starts with a space)
/// at the end of an encoded FETCH response's item list: before its closing `)` and CRLF.
fn with_tail(line: &mut Vec<u8>, tail: &[u8]) {
    if line.ends_with(b")\r\n") {
        line.truncate(line.len() - 3);
    }
    line.extend_from_slice(tail);
    line.extend_from_slice(b")\r\n");
}

/// A save date (RFC 8514 §4: `"SAVEDATE" SP (date-time / nil)`) as a quoted date-time,
/// in UTC like INTERNALDATE here.
fn savedate_text(unix: i64) -> String {
    Utc.timestamp_opt(unix, 0)
        .single()
        .unwrap_or_default()
        .format("\"%d-%b-%Y %H:%M:%S %z\"")
        .to_string()
}

/// RFC 3516 §4.3: a part whose encoding cannot be undone.
fn unknown_cte(tag: &Tag<'static>) -> Status<'static> {
    no(
        tag,
        Some(Code::UnknownCte),
        "Unknown Content-Transfer-Encoding".into(),
    )
}

/// Decoded bytes for the wire: a literal, or a literal8 (`~{n}`) when they hold NUL
/// (RFC 3516 §4.2), which a plain literal cannot carry.
fn binary_value(data: Vec<u8>) -> NString8<'static> {
    if data.contains(&0) {
        NString8::Literal8(Literal8 {
            data: data.into(),
            mode: LiteralMode::Sync,
        })
    } else {
        NString8::NString(nstring(&data))
    }
}

/// INTERNALDATE from Unix seconds (shown in UTC).
fn date(unix: i64) -> DateTime {
    let t = Utc
        .timestamp_opt(unix, 0)
        .single()
        .unwrap_or_default()
        .fixed_offset();
    DateTime::unvalidated(t)
}

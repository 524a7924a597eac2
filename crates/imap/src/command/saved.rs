//! SEARCHRES (RFC 5182): what `$` stands for. A SEARCH RETURN (SAVE) keeps its result in
//! the session as UIDs (`Session::search_result`); extparse has put a `SAVED` set
//! wherever the client wrote `$`, and `resolve` swaps each for the saved messages the
//! client still sees, as sequence numbers or UIDs as the command wants. Keeping UIDs
//! makes expunged messages drop out by themselves (RFC 5182 §2.1): they are no longer
//! in the view. The result is reset by SELECT, EXAMINE, CLOSE and UNSELECT.

use imap_types::{command::CommandBody, core::Vec1, search::SearchKey, sequence::SequenceSet};
use twinmail_store::UidSet;

use crate::{convert::wire_set, extparse::is_saved, selected::Selected};

/// A command with `$` resolved.
pub enum Resolved {
    /// The command, with the saved messages in place of `$`.
    Body(CommandBody<'static>),
    /// `$` names no message, so the command has nothing to do: RFC 5182 §2.1 makes an
    /// empty `$` valid but matching nothing. Holds the tagged OK's text.
    Empty(&'static str),
}

/// The saved messages still in the mailbox, as sequence numbers and as UIDs.
struct Sets {
    /// Their sequence numbers, for FETCH, STORE, COPY and MOVE; None when there are none.
    seqs: Option<SequenceSet>,
    /// Their UIDs, for the UID commands and SEARCH; None when there are none.
    uids: Option<SequenceSet>,
}

/// Replaces the `SAVED` sets of a command (FETCH, STORE, COPY, MOVE, UID EXPUNGE,
/// SEARCH, SORT or THREAD) with the saved result `saved` as the selected `view` knows it.
pub fn resolve(mut body: CommandBody<'static>, saved: &UidSet, view: &Selected) -> Resolved {
    // The saved UIDs all existed at SAVE time, so this walks at most that many.
    let pairs: Vec<(u32, u32)> = saved
        .ranges()
        .iter()
        .flat_map(|&(a, b)| a..=b)
        .filter_map(|uid| view.seq(uid).map(|seq| (seq, uid)))
        .collect();
    let sets = Sets {
        seqs: wire_set(pairs.iter().map(|p| p.0)),
        uids: wire_set(pairs.iter().map(|p| p.1)),
    };
    use CommandBody as C;
    let (set, uid, done) = match &mut body {
        C::Search { criteria, .. }
        | C::Sort {
            search_criteria: criteria,
            ..
        }
        | C::Thread {
            search_criteria: criteria,
            ..
        } => {
            let keys = std::mem::replace(criteria, Vec1::from(SearchKey::All));
            *criteria = keys_resolved(keys, &sets);
            return Resolved::Body(body);
        }
        C::Fetch {
            sequence_set, uid, ..
        } => {
            let done = if *uid {
                "UID FETCH completed"
            } else {
                "FETCH completed"
            };
            (sequence_set, *uid, done)
        }
        C::Store {
            sequence_set, uid, ..
        } => (sequence_set, *uid, "STORE completed"),
        C::Copy {
            sequence_set, uid, ..
        } => (sequence_set, *uid, "COPY completed"),
        C::Move {
            sequence_set, uid, ..
        } => (sequence_set, *uid, "MOVE completed"),
        C::ExpungeUid { sequence_set } => (sequence_set, true, "EXPUNGE completed"),
        _ => return Resolved::Body(body),
    };
    if is_saved(set) {
        let wanted = if uid { &sets.uids } else { &sets.seqs };
        match wanted {
            Some(s) => *set = s.clone(),
            None => return Resolved::Empty(done),
        }
    }
    Resolved::Body(body)
}

fn keys_resolved(keys: Vec1<SearchKey<'static>>, sets: &Sets) -> Vec1<SearchKey<'static>> {
    let keys: Vec<_> = keys.into_iter().map(|k| key_resolved(k, sets)).collect();
    // As many keys as came in, so never empty; were it, nothing should match.
    Vec1::try_from(keys).unwrap_or_else(|_| Vec1::from(nothing()))
}

/// A search key with its `SAVED` sets resolved. `$` as a key and `UID $` both become
/// `UID saved-uids` (the same messages); an empty `$` matches nothing. imap-codec caps
/// the nesting, so the recursion is shallow.
fn key_resolved(k: SearchKey<'static>, sets: &Sets) -> SearchKey<'static> {
    match k {
        SearchKey::SequenceSet(s) | SearchKey::Uid(s) if is_saved(&s) => {
            sets.uids.clone().map_or_else(nothing, SearchKey::Uid)
        }
        SearchKey::Not(k) => SearchKey::Not(Box::new(key_resolved(*k, sets))),
        SearchKey::Or(a, b) => SearchKey::Or(
            Box::new(key_resolved(*a, sets)),
            Box::new(key_resolved(*b, sets)),
        ),
        SearchKey::And(ks) => SearchKey::And(keys_resolved(ks, sets)),
        k => k,
    }
}

/// A key no message matches.
fn nothing() -> SearchKey<'static> {
    SearchKey::Not(Box::new(SearchKey::All))
}

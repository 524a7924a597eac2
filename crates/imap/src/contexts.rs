//! Live SEARCH and SORT results (RFC 5267 §4.3: CONTEXT=SEARCH, CONTEXT=SORT).
//!
//! A `UID SEARCH` or `UID SORT` with RETURN (UPDATE) leaves a context in the selected
//! view: its criteria, its sort keys, and its result as last told (UIDs in result
//! order). A change to the mailbox (`Selected::observe`) marks the contexts stale; the
//! session then runs each context's search again and tells the difference, unasked:
//! `* ESEARCH (TAG "t") UID REMOVEFROM (0 set) ADDTO (position set ...)`.
//!
//! Rules of the house:
//! - It is done twice around telling EXISTS / EXPUNGE (`Session::run_command`, IDLE):
//!   before, so that a REMOVEFROM comes ahead of its message's EXPUNGE; after, so that an
//!   ADDTO comes after its message's EXISTS. A search sees only messages the client has
//!   been told of, so an ADDTO can never come first.
//! - Positions (§4.3.3, §4.3.4): a SEARCH context says 0 (the client finds the UIDs
//!   itself, UID order says where new ones go; Dovecot does the same). A SORT context
//!   says where, one pair per UID: REMOVEFROM each UID's position in the old result,
//!   last first (so that no removal moves the next one's place), then ADDTO each new
//!   UID's position in the new result, first first.
//! - At most `MAX_CONTEXTS` per session: one more is answered with its result and an
//!   untagged `NO [NOUPDATE "tag"]`, and is not kept. A context whose search fails later
//!   (the store) is dropped the same way, with a log line.
//! - Contexts live in `Selected`, so they end with the selection; CANCELUPDATE ends them
//!   by tag; a searching command with UPDATE that reuses a live context's tag is BAD
//!   (§4.3).

use std::collections::HashSet;

use imap_types::{
    core::Tag,
    extensions::sort::SortCriterion,
    response::{Code, CodeOther, Status},
    search::SearchKey,
};
use twinmail_net::Stream;

use crate::{
    command::{search, sort},
    convert::ordered_set,
    session::{Session, State},
};

/// Most live contexts one session keeps (each costs a search per change).
pub const MAX_CONTEXTS: usize = 5;

/// The live contexts of the selected mailbox.
#[derive(Default)]
pub struct Contexts {
    /// The contexts, oldest first.
    pub list: Vec<Context>,
    /// A change touched the mailbox since the contexts were last brought up to date
    /// (set only while there are contexts).
    pub stale: bool,
}

/// One live SEARCH or SORT result.
pub struct Context {
    /// The tag of the command that made it: its updates name it.
    pub tag: Tag<'static>,
    /// The search criteria, run again on each change.
    pub criteria: Vec<SearchKey<'static>>,
    /// SORT's keys; `None` for a SEARCH context (UID order).
    pub sort: Option<Vec<SortCriterion>>,
    /// The result as the client knows it: UIDs in result order.
    pub uids: Vec<u32>,
}

/// True when a live context was made by a command tagged `tag`: a new searching
/// command with UPDATE may not reuse it (RFC 5267 §4.3: BAD).
pub fn is_live<S: Stream>(s: &Session<S>, tag: &Tag<'_>) -> bool {
    match &s.state {
        State::Selected { view, .. } => view.contexts.list.iter().any(|c| c.tag == *tag),
        _ => false,
    }
}

/// Keeps the result of the UID SEARCH or UID SORT `tag` live (RETURN (UPDATE)), or
/// tells the client it will not be (NOUPDATE, RFC 5267 §4.3.1; the command's other
/// return options are answered as usual): when the session has enough of them, and for
/// SEARCH and SORT by sequence numbers (`uid` false), which this server does not keep
/// live (every expunge would renumber them).
pub fn start<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    uid: bool,
    criteria: Vec<SearchKey<'static>>,
    sort: Option<Vec<SortCriterion>>,
    uids: Vec<u32>,
) {
    if !uid {
        no_update(
            s,
            tag,
            "Only UID SEARCH and UID SORT results are kept updated",
        );
        return;
    }
    let State::Selected { view, .. } = &mut s.state else {
        return;
    };
    let list = &mut view.contexts.list;
    if list.len() >= MAX_CONTEXTS {
        no_update(s, tag, "Too many live searches; this one is not updated");
        return;
    }
    list.push(Context {
        tag: tag.clone(),
        criteria,
        sort,
        uids,
    });
}

/// Ends the contexts made by `tags` (CANCELUPDATE); false when one of them is not live
/// (then none ends).
pub fn cancel<S: Stream>(s: &mut Session<S>, tags: &[Vec<u8>]) -> bool {
    let State::Selected { view, .. } = &mut s.state else {
        return false;
    };
    let list = &mut view.contexts.list;
    let live = |t: &Vec<u8>| {
        list.iter()
            .any(|c| c.tag.as_ref().as_bytes() == t.as_slice())
    };
    if !tags.iter().all(live) {
        return false;
    }
    list.retain(|c| {
        !tags
            .iter()
            .any(|t| c.tag.as_ref().as_bytes() == t.as_slice())
    });
    true
}

/// Runs every stale context's search again and tells what changed. `last`: the second
/// of the two passes around EXISTS / EXPUNGE, after which the contexts are up to date.
pub async fn bring_up_to_date<S: Stream>(s: &mut Session<S>, last: bool) {
    let State::Selected { view, .. } = &mut s.state else {
        return;
    };
    if !view.contexts.stale || view.contexts.list.is_empty() {
        return;
    }
    let list = std::mem::take(&mut view.contexts.list);
    let mut kept = Vec::with_capacity(list.len());
    for mut ctx in list {
        let found = match &ctx.sort {
            None => search::matching(s, &ctx.tag, &ctx.criteria)
                .await
                .map(|f| f.hits.iter().map(|(_, m)| m.uid).collect::<Vec<u32>>()),
            Some(keys) => sort::ordered(s, &ctx.tag, keys, &ctx.criteria)
                .await
                .map(|(hits, _)| hits.iter().map(|h| h.uid).collect()),
        };
        let Ok(now) = found else {
            tracing::warn!(tag = ctx.tag.as_ref(), "live search failed; dropping it");
            no_update(s, &ctx.tag, "This search is no longer updated");
            continue;
        };
        if let Some(line) = update_line(&ctx, &now) {
            s.raw_line(line.as_bytes());
        }
        ctx.uids = now;
        kept.push(ctx);
    }
    if let State::Selected { view, .. } = &mut s.state {
        view.contexts.list = kept;
        if last {
            view.contexts.stale = false;
        }
    }
}

/// `* NO [NOUPDATE "tag"] text` (RFC 5267 §4.3.1).
fn no_update<S: Stream>(s: &mut Session<S>, tag: &Tag<'_>, text: &'static str) {
    // A tag is atom characters: never a quote or a backslash.
    let code = format!("NOUPDATE \"{}\"", tag.as_ref());
    let code = Code::Other(CodeOther::unvalidated(code.into_bytes()));
    if let Ok(status) = Status::no(None, Some(code), text) {
        s.server.enqueue_status(status);
    }
}

/// The ESEARCH update that takes `ctx`'s told result to `now`, if they differ.
fn update_line(ctx: &Context, now: &[u32]) -> Option<String> {
    let before: HashSet<u32> = ctx.uids.iter().copied().collect();
    let after: HashSet<u32> = now.iter().copied().collect();
    let mut removed: Vec<u32> = ctx
        .uids
        .iter()
        .copied()
        .filter(|u| !after.contains(u))
        .collect();
    removed.sort_unstable();
    // (position in `now`, from 1; UID) of each new member, in result order.
    let added: Vec<(usize, u32)> = now
        .iter()
        .enumerate()
        .filter(|(_, u)| !before.contains(u))
        .map(|(i, &u)| (i + 1, u))
        .collect();
    if removed.is_empty() && added.is_empty() {
        return None;
    }
    let mut line = format!("* ESEARCH (TAG \"{}\") UID", ctx.tag.as_ref());
    if !removed.is_empty() {
        let pairs = match ctx.sort {
            None => format!("0 {}", ordered_set(&removed)),
            Some(_) => ctx
                .uids
                .iter()
                .enumerate()
                .rev()
                .filter(|(_, u)| !after.contains(u))
                .map(|(i, uid)| format!("{} {uid}", i + 1))
                .collect::<Vec<_>>()
                .join(" "),
        };
        line.push_str(&format!(" REMOVEFROM ({pairs})"));
    }
    if !added.is_empty() {
        let pairs = match ctx.sort {
            None => {
                let uids: Vec<u32> = added.iter().map(|&(_, u)| u).collect();
                format!("0 {}", ordered_set(&uids))
            }
            Some(_) => added
                .iter()
                .map(|(pos, uid)| format!("{pos} {uid}"))
                .collect::<Vec<_>>()
                .join(" "),
        };
        line.push_str(&format!(" ADDTO ({pairs})"));
    }
    line.push_str("\r\n");
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::{Context, update_line};

    fn ctx(sorted: bool, uids: &[u32]) -> Context {
        Context {
            tag: imap_types::core::Tag::try_from("t1").unwrap(),
            criteria: Vec::new(),
            sort: sorted.then(Vec::new),
            uids: uids.to_vec(),
        }
    }

    #[test]
    fn updates_say_what_left_and_what_came() {
        assert_eq!(update_line(&ctx(false, &[1, 2, 3]), &[1, 2, 3]), None);
        assert_eq!(
            update_line(&ctx(false, &[1, 2, 3, 7]), &[1, 4, 5, 7]).unwrap(),
            "* ESEARCH (TAG \"t1\") UID REMOVEFROM (0 2:3) ADDTO (0 4:5)\r\n"
        );
        // SORT: each new UID with its place in the new order, each one gone with its
        // place in the old order, last first.
        assert_eq!(
            update_line(&ctx(true, &[9, 3]), &[8, 9, 3, 5]).unwrap(),
            "* ESEARCH (TAG \"t1\") UID ADDTO (1 8 4 5)\r\n"
        );
        assert_eq!(
            update_line(&ctx(true, &[9, 3, 7, 1]), &[6, 9, 1]).unwrap(),
            "* ESEARCH (TAG \"t1\") UID REMOVEFROM (3 7 2 3) ADDTO (1 6)\r\n"
        );
    }
}

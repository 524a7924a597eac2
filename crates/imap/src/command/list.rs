//! LIST and LSUB (RFC 3501 §6.3.8-9), with CHILDREN (RFC 3348) and SPECIAL-USE
//! (RFC 6154) attributes, and LIST-EXTENDED (RFC 5258) with LIST-STATUS (RFC 5819):
//! selection options SUBSCRIBED, REMOTE, RECURSIVEMATCH and SPECIAL-USE; return options
//! SUBSCRIBED, CHILDREN, SPECIAL-USE and STATUS; several patterns. Wildcards: `*`
//! matches anything, `%` anything but "/".
//!
//! imap-codec parses only the RFC 3501 form; the extended form arrives through
//! `extparse` (see there).

use std::collections::{BTreeMap, BTreeSet};

use imap_types::{
    core::{Atom, QuotedChar, Tag},
    flag::FlagNameAttribute,
    mailbox::{ListMailbox, Mailbox},
    response::{Data, Status},
    status::StatusDataItemName,
};
use twinmail_net::Stream;
use twinmail_store::{Mailbox as StoreMailbox, Role};

use crate::{
    acl,
    command::{status::status_items, store_failed},
    convert::{bad, ok},
    extparse::ListRequest,
    session::Session,
};

/// One LIST / LSUB, whichever syntax it came in.
struct Query {
    /// Reference name, decoded.
    reference: String,
    /// Patterns, decoded; a name matching any of them is listed (once).
    patterns: Vec<String>,
    /// LSUB (RFC 3501): subscribed names, answered with `* LSUB`.
    lsub: bool,
    /// The RFC 5258 syntax was used: \NonExistent rather than \Noselect.
    extended: bool,
    /// Selection SUBSCRIBED.
    select_subscribed: bool,
    /// Selection SPECIAL-USE.
    select_special_use: bool,
    /// Selection RECURSIVEMATCH.
    recursive_match: bool,
    /// Mark subscribed names with \Subscribed.
    return_subscribed: bool,
    /// STATUS items to send after each selectable mailbox (RFC 5819).
    return_status: Vec<StatusDataItemName>,
}

/// RFC 3501 LIST / LSUB.
pub async fn list<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    reference: &Mailbox<'_>,
    pattern: &ListMailbox<'_>,
    lsub: bool,
) -> Status<'static> {
    let reference = match reference {
        Mailbox::Inbox => "INBOX".to_string(),
        Mailbox::Other(o) => s.decode_name(o.as_ref()).unwrap_or_default(),
    };
    let raw = match pattern {
        ListMailbox::Token(t) => t.as_ref().to_vec(),
        ListMailbox::String(st) => st.as_ref().to_vec(),
    };
    let pattern = s
        .decode_name(&raw)
        .unwrap_or_else(|| String::from_utf8_lossy(&raw).into_owned());
    let query = Query {
        reference,
        patterns: vec![pattern],
        lsub,
        // RFC 9051 §6.3.9: IMAP4rev2's LIST is the extended one.
        extended: s.rev2,
        select_subscribed: lsub,
        select_special_use: false,
        recursive_match: false,
        return_subscribed: false,
        return_status: Vec::new(),
    };
    run(s, tag, query).await
}

/// RFC 5258 LIST, as `extparse` recognised it.
pub async fn list_extended<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    req: ListRequest,
) -> Status<'static> {
    let decode = |s: &Session<S>, raw: &[u8]| {
        s.decode_name(raw)
            .unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned())
    };
    let reference = decode(s, &req.reference);
    let patterns = req.patterns.iter().map(|p| decode(s, p)).collect();
    let query = Query {
        reference,
        patterns,
        lsub: false,
        extended: true,
        select_subscribed: req.select_subscribed,
        select_special_use: req.select_special_use,
        recursive_match: req.recursive_match,
        return_subscribed: req.return_subscribed || req.select_subscribed,
        return_status: req.return_status,
    };
    run(s, tag, query).await
}

/// A special-use attribute name (RFC 6154), if the mailbox has one.
pub fn special_use(m: &StoreMailbox) -> Option<&'static str> {
    Some(match m.role? {
        Role::Inbox => return None,
        Role::Sent => "Sent",
        Role::Drafts => "Drafts",
        Role::Trash => "Trash",
        Role::Junk => "Junk",
        _ => "Archive",
    })
}

async fn run<S: Stream>(s: &mut Session<S>, tag: &Tag<'static>, q: Query) -> Status<'static> {
    let Some(account) = s.state.account().cloned() else {
        return bad(tag, "Log in first");
    };
    let done = if q.lsub {
        "LSUB completed"
    } else {
        "LIST completed"
    };
    let delimiter = QuotedChar::try_from('/').ok();
    if !q.lsub && q.patterns.iter().all(String::is_empty) {
        // RFC 3501: an empty pattern asks for the hierarchy delimiter.
        s.data(Data::List {
            items: vec![FlagNameAttribute::Noselect],
            delimiter,
            mailbox: s.wire_mailbox(""),
        });
        return ok(tag, None, done);
    }
    let full: Vec<String> = q
        .patterns
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| format!("{}{p}", q.reference))
        .collect();
    let mut mailboxes = match s.imap.store.mailboxes(account.id).await {
        Ok(m) => m,
        Err(e) => return store_failed(tag, e),
    };
    // Other accounts' mailboxes the user may list (`l`, RFC 4314), under "Other Users"
    // (`acl.rs`); their levels above show as parents that do not exist.
    match s
        .imap
        .store
        .mailboxes_annotated(&acl::entry(&account.name))
        .await
    {
        Ok(shared) => {
            for (owner, mut m, value) in shared {
                if acl::granted(&owner, &account.name, &value).has("l") {
                    m.name = acl::shared_name(&owner, &m.name);
                    m.role = None;
                    m.subscribed = false;
                    mailboxes.push(m);
                }
            }
        }
        Err(e) => return store_failed(tag, e),
    }
    let existing: BTreeMap<&str, &StoreMailbox> =
        mailboxes.iter().map(|m| (m.name.as_str(), m)).collect();
    // Every existing name and every level above one: a parent that does not exist
    // still shows (\NonExistent, or \Noselect to RFC 3501 clients) so that `%` can
    // reach its children.
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for m in &mailboxes {
        let mut at = 0;
        while let Some(i) = m.name[at..].find('/') {
            names.insert(&m.name[..at + i]);
            at += i + 1;
        }
        names.insert(&m.name);
    }
    let selects = |m: Option<&&StoreMailbox>| match m {
        None => false,
        Some(m) if q.select_subscribed => m.subscribed,
        Some(m) if q.select_special_use => special_use(m).is_some(),
        Some(_) => true,
    };
    for name in names {
        if !full.iter().any(|p| matches(p, name)) {
            continue;
        }
        let m = existing.get(name);
        let prefix = format!("{name}/");
        // Names are sorted, so a mailbox's descendants are one run starting at "name/".
        let descendants = || {
            existing
                .range(prefix.as_str()..)
                .take_while(|(n, _)| n.starts_with(&prefix))
        };
        let children = descendants().next().is_some();
        let selected = selects(m);
        // RECURSIVEMATCH: a parent of selected names is listed too, with CHILDINFO — but
        // only for a selected descendant the patterns do not list themselves (RFC 5258
        // §3.5: "servers SHOULD suppress redundant CHILDINFO responses"; with `*` every
        // selected name is listed, so no parent is added and none has CHILDINFO).
        let child_selected = q.recursive_match
            && descendants().any(|(n, c)| selects(Some(c)) && !full.iter().any(|p| matches(p, n)));
        let virtual_parent = m.is_none() && !q.select_subscribed && !q.select_special_use;
        // RFC 3501 §6.3.9: when `%` stops at a name that is not subscribed but has a
        // subscribed child the pattern does not reach, LSUB lists it, \Noselect.
        let lsub_parent = q.lsub
            && !selected
            && descendants().any(|(n, c)| c.subscribed && !full.iter().any(|p| matches(p, n)));
        if !(selected || child_selected || virtual_parent || lsub_parent) {
            continue;
        }
        let mut items = Vec::new();
        let mut attr = |a: &str| {
            if let Ok(atom) = Atom::try_from(a.to_string()) {
                items.push(FlagNameAttribute::from(atom));
            }
        };
        if m.is_none() {
            attr(if q.extended {
                "NonExistent"
            } else {
                "Noselect"
            });
        } else if lsub_parent {
            attr("Noselect");
        }
        // RFC 3501 §6.3.9: LSUB tells which names are subscribed, and \Noselect for a
        // level shown only for the subscribed names below it; the mailbox's other
        // attributes are LIST's to tell (Dovecot's LSUB shows none either).
        if q.lsub {
            s.data(Data::Lsub {
                items,
                delimiter,
                mailbox: s.wire_mailbox(name),
            });
            continue;
        }
        if q.return_subscribed && m.is_some_and(|m| m.subscribed) {
            attr("Subscribed");
        }
        attr(if children {
            "HasChildren"
        } else {
            "HasNoChildren"
        });
        if let Some(su) = m.and_then(|m| special_use(m)) {
            attr(su);
        }
        let mailbox = s.wire_mailbox(name);
        let data = Data::List {
            items,
            delimiter,
            mailbox,
        };
        if child_selected {
            // RFC 5258 §3.5: which selection criterion a child met.
            let what = if q.select_subscribed {
                "SUBSCRIBED"
            } else {
                "SPECIAL-USE"
            };
            let suffix = format!(" (\"CHILDINFO\" (\"{what}\"))");
            s.data_with_suffix(data, suffix.as_bytes());
        } else {
            s.data(data);
        }
        // RFC 5819: STATUS right after the LIST response, for mailboxes that exist.
        if let Some(m) = m.filter(|_| !q.return_status.is_empty()) {
            match status_items(s, m, &q.return_status).await {
                Ok(d) => s.data(d),
                Err(e) => return store_failed(tag, e),
            }
        }
    }
    ok(tag, None, done)
}

/// IMAP wildcard match; INBOX matches case-insensitively.
fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // The first level "INBOX" in any case (or a wildcard-free prefix of it) is INBOX.
    let inbox_fold = |s: &[char]| -> Vec<char> {
        let mut v = s.to_vec();
        let is_inbox = v.len() >= 5
            && v[..5]
                .iter()
                .zip("INBOX".chars())
                .all(|(a, b)| a.eq_ignore_ascii_case(&b))
            && v.get(5).is_none_or(|&c| c == '/');
        if is_inbox {
            v[..5].copy_from_slice(&['I', 'N', 'B', 'O', 'X']);
        }
        v
    };
    glob(&inbox_fold(&p), &inbox_fold(&n))
}

fn glob(p: &[char], n: &[char]) -> bool {
    // Dynamic programming over (pattern, name) prefixes, one row at a time: exact for any
    // mix of `*` and `%` (a single backtrack point is not: "*/%" must match "a/b/c"),
    // never recursive, and bounded by the lengths of both (names and patterns are short).
    // `row[j]`: the pattern so far matches the first `j` characters of the name.
    let mut row = vec![false; n.len() + 1];
    row[0] = true;
    for &c in p {
        let mut next = vec![false; n.len() + 1];
        match c {
            '*' | '%' => {
                // A wildcard takes any run of characters (`%` none that is "/").
                for j in 0..=n.len() {
                    next[j] = row[j] || (j > 0 && next[j - 1] && (c == '*' || n[j - 1] != '/'));
                }
            }
            _ => {
                for j in 1..=n.len() {
                    next[j] = row[j - 1] && n[j - 1] == c;
                }
            }
        }
        row = next;
    }
    row[n.len()]
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcards() {
        assert!(matches("*", "INBOX"));
        assert!(matches("*", "a/b/c"));
        assert!(matches("%", "Sent"));
        assert!(!matches("%", "a/b"));
        assert!(matches("a/%", "a/b"));
        assert!(!matches("a/%", "a/b/c"));
        assert!(matches("inbox", "INBOX"));
        assert!(matches("Inbox/%", "INBOX/x"));
        assert!(!matches("Sent", "sent"));
        assert!(matches("*b*", "a/b/c"));
        assert!(matches("Entw*", "Entwürfe"));
        assert!(matches("*", "Entwürfe"));
        assert!(!matches("inboxes", "INBOXES"));
        // Both wildcards in one pattern.
        assert!(matches("*/%", "a/b/c"));
        assert!(matches("%/*", "a/b/c"));
        assert!(!matches("%/%", "a/b/c"));
        assert!(matches("*b%", "a/b/c/bc"));
        assert!(!matches("*b%", "a/b/c"));
        assert!(matches("a*c", "a/b/c"));
        assert!(!matches("a%c", "a/b/c"));
    }
}

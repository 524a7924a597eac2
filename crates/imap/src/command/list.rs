//! LIST and LSUB (RFC 3501 §6.3.8-9), with CHILDREN (RFC 3348) and SPECIAL-USE
//! (RFC 6154) attributes. Wildcards: `*` matches anything, `%` anything but "/".

use imap_types::{
    core::{Atom, QuotedChar, Tag},
    flag::FlagNameAttribute,
    mailbox::{ListMailbox, Mailbox},
    response::{Data, Status},
};
use twinmail_net::Stream;
use twinmail_store::Role;

use crate::{
    command::store_failed,
    convert::{bad, mailbox_name, ok, wire_mailbox},
    mutf7,
    session::Session,
};

pub async fn list<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    reference: &Mailbox<'_>,
    pattern: &ListMailbox<'_>,
    lsub: bool,
) -> Status<'static> {
    let Some(account) = s.state.account().cloned() else {
        return bad(tag, "Log in first");
    };
    let reference = match reference {
        Mailbox::Inbox => "INBOX".to_string(),
        other => mailbox_name(other).unwrap_or_default(),
    };
    let raw = match pattern {
        ListMailbox::Token(t) => String::from_utf8_lossy(t.as_ref()).into_owned(),
        ListMailbox::String(st) => String::from_utf8_lossy(st.as_ref()).into_owned(),
    };
    let pattern = mutf7::decode(&raw).unwrap_or(raw);
    let delimiter = QuotedChar::try_from('/').ok();
    if pattern.is_empty() && !lsub {
        // RFC 3501: an empty pattern asks for the hierarchy delimiter.
        s.data(Data::List {
            items: vec![FlagNameAttribute::Noselect],
            delimiter,
            mailbox: wire_mailbox(""),
        });
        return ok(tag, None, "LIST completed");
    }
    let full = format!("{reference}{pattern}");
    let mailboxes = match s.imap.store.mailboxes(account.id).await {
        Ok(m) => m,
        Err(e) => return store_failed(tag, e),
    };
    for m in &mailboxes {
        if !matches(&full, &m.name) || (lsub && !m.subscribed) {
            continue;
        }
        let prefix = format!("{}/", m.name);
        let children = mailboxes.iter().any(|c| c.name.starts_with(&prefix));
        let mut items = Vec::new();
        let mut attr = |a: &str| {
            if let Ok(atom) = Atom::try_from(a.to_string()) {
                items.push(FlagNameAttribute::from(atom));
            }
        };
        attr(if children {
            "HasChildren"
        } else {
            "HasNoChildren"
        });
        if let Some(role) = m.role.filter(|r| *r != Role::Inbox) {
            attr(match role {
                Role::Sent => "Sent",
                Role::Drafts => "Drafts",
                Role::Trash => "Trash",
                Role::Junk => "Junk",
                _ => "Archive",
            });
        }
        let mailbox = wire_mailbox(&m.name);
        s.data(if lsub {
            Data::Lsub {
                items,
                delimiter,
                mailbox,
            }
        } else {
            Data::List {
                items,
                delimiter,
                mailbox,
            }
        });
    }
    ok(
        tag,
        None,
        if lsub {
            "LSUB completed"
        } else {
            "LIST completed"
        },
    )
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
    // Iterative matcher with backtracking over the last wildcard: linear in practice and
    // never recursive, whatever the client sends.
    let (mut pi, mut ni) = (0, 0);
    let mut back: Option<(usize, usize, bool)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '*' || p[pi] == '%') {
            back = Some((pi, ni, p[pi] == '%'));
            pi += 1;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((bp, bn, pct)) = back {
            if pct && n[bn] == '/' {
                return false;
            }
            back = Some((bp, bn + 1, pct));
            pi = bp + 1;
            ni = bn + 1;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*' || c == '%')
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
    }
}

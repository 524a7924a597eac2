//! ACL (RFC 4314) and the "Other Users" namespace (RFC 2342) through which an account
//! reaches the mailboxes other accounts of its domain shared with it.
//!
//! Grants are kept as the owning account's mailbox annotations (METADATA, RFC 5464) under
//! [`ENTRY_PREFIX`]`<identifier>`, value the rights: so they are written at the owner's
//! home twin, mirrored, put in a rebuilt twin's snapshot and compared by `mirror verify`
//! exactly like every other annotation, with no second path to keep in step. The owner
//! may read them with GETMETADATA too (the owner may read the ACL anyway); another user
//! never reaches the owner's annotations (METADATA on a shared mailbox is refused).
//!
//! The rules, checked on every path that names a mailbox (see `command::existing_mailbox`):
//! - the owner has every right, always;
//! - another account has the rights granted to its login name, and only while it is in
//!   the owner's domain (a grant to any other name, however it got there, counts for
//!   nothing); `anyone`, `authenticated` and negative rights are not offered;
//! - a mailbox shows in LIST with `l`, opens with `r`; with neither, it does not exist
//!   as far as that user can tell (RFC 4314 §6: no mailbox names leak).

use std::fmt;

/// The annotation prefix a grant is kept under; the identifier (a login name) follows.
pub const ENTRY_PREFIX: &str = "/private/vendor/vendor.twinmail/acl/";

/// The "Other Users" namespace's prefix, without its delimiter.
pub const OTHER_USERS: &str = "Other Users";

/// The rights this server knows (RFC 4314 §2.1), in the order it writes them.
const ALL: &str = "lrswipkxtea";

/// A set of RFC 4314 rights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rights(u16);

impl Rights {
    /// Every right: the owner's.
    pub const OWNER: Rights = Rights((1 << ALL.len()) - 1);
    /// No right.
    pub const NONE: Rights = Rights(0);

    /// The rights in `text`; obsolete `c` is `k` and `x`, `d` is `e` and `t` (RFC 4314
    /// §2.1.1). An unknown letter is an error.
    pub fn parse(text: &str) -> Result<Rights, char> {
        let mut r = Rights::NONE;
        for c in text.chars() {
            match c {
                'c' => r = r.union(Rights::of("kx")),
                'd' => r = r.union(Rights::of("et")),
                _ => match ALL.find(c) {
                    Some(i) => r.0 |= 1 << i,
                    None => return Err(c),
                },
            }
        }
        Ok(r)
    }

    /// The rights in `text`, skipping what is not one (for stored grants).
    pub fn lenient(text: &str) -> Rights {
        Rights::of(text)
    }

    /// The rights named by known letters of `text`.
    fn of(text: &str) -> Rights {
        Rights(
            text.chars()
                .filter_map(|c| ALL.find(c))
                .fold(0, |acc, i| acc | 1 << i),
        )
    }

    /// Both sets together.
    pub fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    /// These without `other`'s.
    pub fn without(self, other: Rights) -> Rights {
        Rights(self.0 & !other.0)
    }

    /// Every right in `needed` is here.
    pub fn has(self, needed: &str) -> bool {
        let n = Rights::of(needed);
        self.0 & n.0 == n.0
    }

    /// At least one right in `any` is here.
    pub fn any(self, any: &str) -> bool {
        self.0 & Rights::of(any).0 != 0
    }

    /// No right at all.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in ALL.chars().enumerate() {
            if self.0 & 1 << i != 0 {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// A mailbox name in the "Other Users" namespace split into owner and the owner's name
/// for it: `Other Users/bob@example.org/Projects` is ("bob@example.org", "Projects").
/// None for a personal name. `Some((owner, ""))` names an owner's level itself.
pub fn split_shared(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(OTHER_USERS)?;
    if rest.is_empty() {
        return Some(("", ""));
    }
    let rest = rest.strip_prefix('/')?;
    Some(rest.split_once('/').unwrap_or((rest, "")))
}

/// The name a user sees for `owner`'s mailbox `name`.
pub fn shared_name(owner: &str, name: &str) -> String {
    format!("{OTHER_USERS}/{owner}/{name}")
}

/// The domain of a login name (after its last `@`), lower-case.
fn domain(login: &str) -> &str {
    login.rsplit_once('@').map_or("", |(_, d)| d)
}

/// Whether `user` may hold rights on `owner`'s mailboxes at all: another account of the
/// same domain.
pub fn may_share(owner: &str, user: &str) -> bool {
    !owner.eq_ignore_ascii_case(user)
        && !domain(owner).is_empty()
        && domain(owner).eq_ignore_ascii_case(domain(user))
}

/// The rights `user` has from a stored grant of `owner`'s (the annotation's value).
pub fn granted(owner: &str, user: &str, value: &[u8]) -> Rights {
    if !may_share(owner, user) {
        return Rights::NONE;
    }
    Rights::lenient(&String::from_utf8_lossy(value))
}

/// The annotation entry of a grant to `identifier`.
pub fn entry(identifier: &str) -> String {
    format!("{ENTRY_PREFIX}{}", identifier.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_parse_and_print() {
        assert_eq!(Rights::parse("rl").unwrap().to_string(), "lr");
        assert_eq!(Rights::parse("cd").unwrap().to_string(), "kxte");
        assert_eq!(Rights::parse("q"), Err('q'));
        assert_eq!(Rights::OWNER.to_string(), ALL);
        assert!(Rights::parse("lrs").unwrap().has("rs"));
        assert!(!Rights::parse("lrs").unwrap().has("rw"));
        assert!(Rights::parse("lrs").unwrap().any("wt s"));
        assert_eq!(Rights::lenient("l?r!").to_string(), "lr");
    }

    #[test]
    fn shared_names_split() {
        assert_eq!(
            split_shared("Other Users/bob@example.org/Projects/2026"),
            Some(("bob@example.org", "Projects/2026"))
        );
        assert_eq!(
            split_shared("Other Users/bob@example.org"),
            Some(("bob@example.org", ""))
        );
        assert_eq!(split_shared("Other Users"), Some(("", "")));
        assert_eq!(split_shared("Other Usersx/a"), None);
        assert_eq!(split_shared("INBOX"), None);
    }

    #[test]
    fn only_the_same_domain_shares() {
        assert!(may_share("alice@example.org", "bob@example.org"));
        assert!(!may_share("alice@example.org", "alice@example.org"));
        assert!(!may_share("alice@example.org", "eve@example.net"));
        assert!(!may_share("alice", "bob"));
        assert_eq!(
            granted("alice@example.org", "eve@evil.test", b"lr"),
            Rights::NONE
        );
        assert_eq!(
            granted("alice@example.org", "bob@example.org", b"lr").to_string(),
            "lr"
        );
    }
}

//! Plain data types shared by the store's API: identifiers, flags, and the rows that
//! readers get back.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// A 128-bit identifier chosen once, when a thing first enters the pair. GUIDs, not names
/// or UIDs, identify accounts, mailboxes and messages across twins.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// A fresh random GUID from the operating system's generator.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        // getrandom only fails when the OS has no entropy source at all; a mail server
        // cannot run safely there, so this is a start-up invariant rather than client input.
        getrandom::fill(&mut bytes).expect("operating system random source");
        Guid(bytes)
    }

    /// Reads a GUID back from its 16 stored bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, StoreError> {
        bytes
            .try_into()
            .map(Guid)
            .map_err(|_| StoreError::Corrupt(format!("GUID of {} bytes", bytes.len())))
    }

    /// The GUID as 32 lower-case hex digits (also the POP3 UIDL of a message).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({})", self.to_hex())
    }
}

impl std::str::FromStr for Guid {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        let bytes = hex::decode(s).map_err(|_| StoreError::Invalid(format!("bad GUID {s:?}")))?;
        Guid::from_slice(&bytes)
    }
}

impl Serialize for Guid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Guid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The SHA-256 of a message's bytes: the address of its immutable blob.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobHash(pub [u8; 32]);

impl BlobHash {
    /// Hashes message bytes.
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest;
        BlobHash(sha2::Sha256::digest(bytes).into())
    }

    /// Reads a hash back from its 32 stored bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, StoreError> {
        bytes
            .try_into()
            .map(BlobHash)
            .map_err(|_| StoreError::Corrupt(format!("blob hash of {} bytes", bytes.len())))
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({})", hex::encode(self.0))
    }
}

impl Serialize for BlobHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for BlobHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bytes = hex::decode(&s).map_err(serde::de::Error::custom)?;
        BlobHash::from_slice(&bytes).map_err(serde::de::Error::custom)
    }
}

/// The special-use role of a mailbox (RFC 6154). Every account gets one mailbox per role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The INBOX: where deliveries land.
    Inbox,
    /// `\Sent`.
    Sent,
    /// `\Drafts`.
    Drafts,
    /// `\Trash`.
    Trash,
    /// `\Junk`.
    Junk,
    /// `\Archive`.
    Archive,
}

impl Role {
    /// Every role, in the order the default folders are created.
    pub const ALL: [Role; 6] = [
        Role::Inbox,
        Role::Sent,
        Role::Drafts,
        Role::Trash,
        Role::Junk,
        Role::Archive,
    ];

    /// The name of the folder created for this role in a new account.
    pub fn default_name(self) -> &'static str {
        match self {
            Role::Inbox => "INBOX",
            Role::Sent => "Sent",
            Role::Drafts => "Drafts",
            Role::Trash => "Trash",
            Role::Junk => "Junk",
            Role::Archive => "Archive",
        }
    }

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Inbox => "inbox",
            Role::Sent => "sent",
            Role::Drafts => "drafts",
            Role::Trash => "trash",
            Role::Junk => "junk",
            Role::Archive => "archive",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A message's flags and keywords: system flags in their canonical spelling (`\Seen`),
/// keywords as given, kept sorted and unique so that equal sets compare and store equal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub struct Flags(Vec<String>);

/// The IMAP system flags that may be stored (`\Recent` is per session, never stored).
const SYSTEM_FLAGS: [&str; 5] = ["\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen"];

impl Flags {
    /// Builds a flag set from any spellings; system flags are matched case-insensitively.
    /// Empty names and `\Recent` are dropped.
    pub fn new<I, S>(flags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut v: Vec<String> = flags
            .into_iter()
            .filter_map(|f| canonical(f.as_ref()))
            .collect();
        v.sort();
        v.dedup();
        Flags(v)
    }

    /// Parses the stored form: names separated by single spaces.
    pub fn parse(stored: &str) -> Self {
        Flags::new(stored.split(' '))
    }

    /// True when the set holds this flag (system flags compared case-insensitively).
    pub fn contains(&self, flag: &str) -> bool {
        canonical(flag).is_some_and(|f| self.0.binary_search(&f).is_ok())
    }

    /// The flags, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// True when no flag is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// This set with `other` added.
    pub fn union(&self, other: &Flags) -> Flags {
        Flags::new(self.iter().chain(other.iter()))
    }

    /// This set with `other` removed.
    pub fn minus(&self, other: &Flags) -> Flags {
        Flags(
            self.0
                .iter()
                .filter(|f| !other.contains(f))
                .cloned()
                .collect(),
        )
    }
}

fn canonical(flag: &str) -> Option<String> {
    if flag.is_empty() || flag.eq_ignore_ascii_case("\\Recent") {
        return None;
    }
    if flag.starts_with('\\') {
        return SYSTEM_FLAGS
            .iter()
            .find(|s| s.eq_ignore_ascii_case(flag))
            .map(|s| s.to_string())
            .or_else(|| Some(flag.to_string()));
    }
    Some(flag.to_string())
}

impl From<Flags> for String {
    fn from(f: Flags) -> String {
        f.0.join(" ")
    }
}

impl From<String> for Flags {
    fn from(s: String) -> Flags {
        Flags::parse(&s)
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// How a STORE changes a message's flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlagMode {
    /// Replace the whole set (`FLAGS`).
    Replace,
    /// Add to the set (`+FLAGS`).
    Add,
    /// Remove from the set (`-FLAGS`).
    Remove,
}

/// An account as readers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Local row id (never leaves this twin).
    pub id: i64,
    /// The account's GUID, the same on both twins.
    pub guid: Guid,
    /// The login name: the account's primary address, lower-case.
    pub name: String,
    /// A disabled account can neither log in nor receive mail.
    pub disabled: bool,
}

/// A mailbox (folder) as readers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailbox {
    /// Local row id (never leaves this twin).
    pub id: i64,
    /// The owning account's local row id.
    pub account_id: i64,
    /// The mailbox's GUID, the same on both twins.
    pub guid: Guid,
    /// Full hierarchical name, `/`-delimited, UTF-8; `INBOX` always spelled so.
    pub name: String,
    /// Special-use role, if any.
    pub role: Option<Role>,
    /// UIDVALIDITY, chosen once when the mailbox was created and never changed.
    pub uidvalidity: u32,
    /// The UID the next message will get.
    pub uidnext: u32,
    /// The highest MODSEQ any change in this mailbox has had (RFC 7162).
    pub highestmodseq: u64,
    /// Whether the user subscribed to it (LSUB / LIST (SUBSCRIBED)).
    pub subscribed: bool,
}

/// One message's metadata: everything but its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// UID within its mailbox.
    pub uid: u32,
    /// The message's GUID, the same on both twins; the POP3 UIDL is its hex form.
    pub guid: Guid,
    /// Address of the bytes.
    pub blob: BlobHash,
    /// Size in bytes (RFC822.SIZE).
    pub size: u64,
    /// INTERNALDATE as Unix seconds.
    pub internal_date: i64,
    /// The save date (RFC 8514) as Unix seconds: when the message came into this mailbox.
    /// The INTERNALDATE for messages stored before save dates were kept.
    pub saved: i64,
    /// Flags and keywords.
    pub flags: Flags,
    /// MODSEQ of the last change to this message.
    pub modseq: u64,
}

/// Where a message landed: what SMTP logs and what APPENDUID / COPYUID report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placed {
    /// The mailbox's GUID.
    pub mailbox: Guid,
    /// The mailbox's UIDVALIDITY.
    pub uidvalidity: u32,
    /// The message's new UID.
    pub uid: u32,
    /// The message's GUID.
    pub guid: Guid,
}

/// Counts for STATUS and the POP3 maildrop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MailboxCounts {
    /// Number of messages.
    pub messages: u64,
    /// Number of messages without `\Seen`.
    pub unseen: u64,
    /// Total size in bytes.
    pub size: u64,
}

/// An account's storage use and limit (IMAP QUOTA, `twinmail user quota`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quota {
    /// The sum of its messages' sizes, in bytes.
    pub used_bytes: u64,
    /// How many messages it holds, over all its mailboxes.
    pub messages: u64,
    /// The limit in bytes; `None` is no limit.
    pub limit_bytes: Option<u64>,
}

impl Quota {
    /// Whether `adding` more bytes would go over the limit.
    pub fn exceeded_by(&self, adding: u64) -> bool {
        self.limit_bytes
            .is_some_and(|limit| self.used_bytes.saturating_add(adding) > limit)
    }
}

/// The current time as Unix seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_canonical_sorted_and_unique() {
        let f = Flags::new(["\\SEEN", "$Junk", "\\seen", "\\Recent", "", "\\flagged"]);
        assert_eq!(f.to_string(), "$Junk \\Flagged \\Seen");
        assert!(f.contains("\\Seen"));
        assert!(f.contains("\\sEEN"));
        assert!(!f.contains("\\Deleted"));
        assert_eq!(Flags::parse(&f.to_string()), f);
        let g = f.minus(&Flags::new(["\\Seen"]));
        assert_eq!(g.to_string(), "$Junk \\Flagged");
        assert_eq!(
            g.union(&Flags::new(["\\Draft"])).to_string(),
            "$Junk \\Draft \\Flagged"
        );
    }

    #[test]
    fn guid_round_trips_through_hex_and_json() {
        let g = Guid::random();
        assert_eq!(g.to_hex().parse::<Guid>().unwrap(), g);
        let j = serde_json::to_string(&g).unwrap();
        assert_eq!(serde_json::from_str::<Guid>(&j).unwrap(), g);
        assert!("zz".parse::<Guid>().is_err());
    }
}

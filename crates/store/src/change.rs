//! The change log's vocabulary. Every local mutation is one or more `Change`s, written to
//! the `changelog` table in the same transaction as the mutation and published on the
//! change stream after commit, in commit order. IMAP IDLE, POP3 and the mirror all consume
//! the same stream; the mirror also reads the table to ship changes to the twin.

use serde::{Deserialize, Serialize};

use crate::{
    ops::access_key::AccessKey,
    types::{BlobHash, Flags, Guid, Role},
};

/// One mutation, identified by GUIDs so that it means the same thing on both twins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A local domain was added.
    DomainAdded {
        /// The domain, lower-case.
        domain: String,
    },
    /// A local domain was removed.
    DomainDeleted {
        /// The domain, lower-case.
        domain: String,
    },
    /// An alias (or a catch-all `@domain`) now also delivers to `target`.
    AliasAdded {
        /// The aliased address, or `@domain` for a catch-all.
        address: String,
        /// The account that receives its mail.
        target: String,
    },
    /// An alias no longer delivers to `target`.
    AliasDeleted {
        /// The aliased address, or `@domain` for a catch-all.
        address: String,
        /// The account that received its mail.
        target: String,
    },
    /// An account was created (its folders follow as `MailboxCreated`).
    AccountCreated {
        /// The account's GUID.
        account: Guid,
        /// Its login name.
        name: String,
        /// Its argon2id PHC string (a hash, never the password).
        password_hash: String,
    },
    /// An account's password changed.
    PasswordChanged {
        /// The account's GUID.
        account: Guid,
        /// The new argon2id PHC string.
        password_hash: String,
    },
    /// An account was disabled or enabled.
    AccountDisabled {
        /// The account's GUID.
        account: Guid,
        /// True when it can no longer log in or receive mail.
        disabled: bool,
    },
    /// An account's home twin was set (or, `None`, left to the default spread).
    AccountHome {
        /// The account's GUID.
        account: Guid,
        /// The home twin's node id.
        home: Option<String>,
    },
    /// An account's storage limit was set (or, `None`, lifted).
    AccountQuota {
        /// The account's GUID.
        account: Guid,
        /// The limit in bytes (the sum of its messages' sizes).
        quota_bytes: Option<u64>,
    },
    /// An account and everything in it was deleted.
    AccountDeleted {
        /// The account's GUID.
        account: Guid,
        /// Its login name, for logs.
        name: String,
    },
    /// A mailbox was created.
    MailboxCreated {
        /// The owning account.
        account: Guid,
        /// The new mailbox's GUID.
        mailbox: Guid,
        /// Its full name.
        name: String,
        /// Its special-use role.
        role: Option<Role>,
        /// Its UIDVALIDITY, chosen once, here.
        uidvalidity: u32,
        /// Whether it starts subscribed.
        subscribed: bool,
        /// How far its maker had applied the twin's log when it made it (absent in
        /// snapshots and older logs): a folder made on the twin under the same name
        /// after that point was made concurrently, while apart, and is folded into this
        /// one (or this one into it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        knew: Option<i64>,
    },
    /// An annotation (RFC 5464 METADATA) was set or removed.
    MetadataSet {
        /// The owning account.
        account: Guid,
        /// The annotated mailbox; `None`: the server, as this account sees it.
        mailbox: Option<Guid>,
        /// The entry name, lower-case (`/private/comment`).
        entry: String,
        /// The value, base64; `None`: removed.
        value: Option<String>,
    },
    /// A mailbox's URLAUTH access key (RFC 4467 §3) was made (its first GENURLAUTH) or
    /// replaced (RESETKEY). The key is a secret: `Debug` does not show it.
    AccessKeySet {
        /// The owning account.
        account: Guid,
        /// The mailbox the key signs URLs of.
        mailbox: Guid,
        /// The key.
        key: AccessKey,
        /// When its maker made it, Unix milliseconds (always after the key it replaced
        /// there): of two keys for one mailbox, the later (then the larger) wins on both
        /// twins.
        made: i64,
    },
    /// A mailbox was renamed (children are renamed by their own entries).
    MailboxRenamed {
        /// The owning account.
        account: Guid,
        /// The mailbox.
        mailbox: Guid,
        /// The name before.
        from: String,
        /// The name after.
        to: String,
    },
    /// A mailbox and its messages were deleted.
    MailboxDeleted {
        /// The owning account.
        account: Guid,
        /// The mailbox.
        mailbox: Guid,
        /// Its name when deleted.
        name: String,
    },
    /// A mailbox was subscribed or unsubscribed.
    MailboxSubscribed {
        /// The owning account.
        account: Guid,
        /// The mailbox.
        mailbox: Guid,
        /// The new state.
        subscribed: bool,
    },
    /// A message was added to a mailbox (delivery, APPEND, COPY or MOVE).
    MessageAdded {
        /// The owning account.
        account: Guid,
        /// The mailbox.
        mailbox: Guid,
        /// The message's GUID.
        message: Guid,
        /// Its UID in that mailbox.
        uid: u32,
        /// Its MODSEQ.
        modseq: u64,
        /// Its bytes' address.
        blob: BlobHash,
        /// Its size in bytes.
        size: u64,
        /// Its INTERNALDATE (Unix seconds).
        internal_date: i64,
        /// Its save date (RFC 8514, Unix seconds), set by the twin that added it. Absent
        /// from changes logged before save dates were kept: the receiver then keeps none
        /// either, and both read it as the INTERNALDATE.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        saved: Option<i64>,
        /// Its flags at arrival.
        flags: Flags,
    },
    /// Flags of some messages in one mailbox changed, all at one MODSEQ.
    FlagsChanged {
        /// The owning account.
        account: Guid,
        /// The mailbox.
        mailbox: Guid,
        /// The MODSEQ the changed messages now carry.
        modseq: u64,
        /// Each changed message with its whole new flag set.
        messages: Vec<FlagUpdate>,
    },
    /// Messages were expunged from one mailbox, at one MODSEQ.
    MessagesExpunged {
        /// The owning account.
        account: Guid,
        /// The mailbox.
        mailbox: Guid,
        /// The MODSEQ of the expunge (QRESYNC VANISHED (EARLIER) reports by it).
        modseq: u64,
        /// The expunged messages, ascending by UID.
        messages: Vec<Expunged>,
    },
    /// The merge after a split gave a message a fresh UID (its old one, or the one the
    /// twin gave it while apart, collided with another message's): on each twin it now
    /// lives at `to`, and `from` is expunged. Logged only by the account's home twin.
    /// An IMAP session sees it as EXPUNGE of `from` and a new message at `to`.
    MessageRenumbered {
        /// The owning account.
        account: Guid,
        /// The mailbox.
        mailbox: Guid,
        /// The message's GUID (unchanged: POP3 UIDLs survive).
        message: Guid,
        /// The UID it had (on the twin that gave it).
        from: u32,
        /// Its new UID, above both twins' UIDNEXT.
        to: u32,
        /// The MODSEQ of the renumbering, above both twins' HIGHESTMODSEQ.
        modseq: u64,
        /// Its bytes' address.
        blob: BlobHash,
        /// Its size in bytes.
        size: u64,
        /// Its INTERNALDATE (Unix seconds).
        internal_date: i64,
        /// Its save date (RFC 8514, Unix seconds): renumbering keeps it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        saved: Option<i64>,
        /// Its flags.
        flags: Flags,
    },
    /// A mailbox's UIDNEXT and HIGHESTMODSEQ are at least these. Sent only by the initial
    /// sync of a new twin, after the mailbox's messages, so that UIDs of messages expunged
    /// before the sync are never handed out again there.
    MailboxState {
        /// The owning account.
        account: Guid,
        /// The mailbox.
        mailbox: Guid,
        /// Its UIDNEXT.
        uidnext: u32,
        /// Its HIGHESTMODSEQ.
        highestmodseq: u64,
    },
    /// A message was queued for delivery to other domains (submission to a foreign
    /// recipient, a delivery status notification, a forward). Its bytes travel with it.
    Queued {
        /// The queued message's id (derived from the client's transaction where a retry
        /// must be recognised).
        id: Guid,
        /// The twin that delivers it: the one that accepted it.
        owner: String,
        /// The envelope sender, empty for a DSN.
        from: String,
        /// The envelope recipients.
        recipients: Vec<String>,
        /// Its bytes' address.
        blob: BlobHash,
        /// Its size in bytes.
        size: u64,
        /// When it was queued (Unix seconds).
        at: i64,
    },
    /// A delivery attempt of a queued message ended. The twin that made it (`by`) owns
    /// the message from now on (the owner's, or the twin's after taking the queue over).
    QueueAttempt {
        /// The queued message's id.
        id: Guid,
        /// The twin that made the attempt.
        by: String,
        /// When it ended (Unix seconds).
        at: i64,
        /// What became of each recipient tried.
        outcomes: Vec<RcptOutcome>,
        /// When to try the recipients still pending (Unix seconds).
        next_attempt: i64,
        /// True once the sender has been told of the delay.
        delay_notified: bool,
    },
    /// An admin held, released, retried or dropped a queued message.
    QueueControl {
        /// The queued message's id.
        id: Guid,
        /// What was done.
        action: QueueAction,
    },
    /// A DKIM signing key was made for a domain.
    DkimKeyAdded {
        /// The signing domain (d=).
        domain: String,
        /// The selector (s=).
        selector: String,
        /// `ed25519-sha256` or `rsa-sha256`.
        algorithm: String,
        /// The private key, PKCS#8 DER, base64.
        private_key: String,
        /// When it was made (Unix seconds).
        at: i64,
    },
    /// A Sieve script was stored (new, or replacing one of that name).
    SieveScriptPut {
        /// The owning account.
        account: Guid,
        /// The script's name.
        name: String,
        /// Its text.
        script: String,
    },
    /// A Sieve script was deleted (never the active one).
    SieveScriptDeleted {
        /// The owning account.
        account: Guid,
        /// The script's name.
        name: String,
    },
    /// A Sieve script was renamed.
    SieveScriptRenamed {
        /// The owning account.
        account: Guid,
        /// Its name before.
        from: String,
        /// Its name after.
        to: String,
    },
    /// The account's active Sieve script changed (`None`: no script runs).
    SieveActivated {
        /// The owning account.
        account: Guid,
        /// The script that runs on delivery now.
        name: Option<String>,
    },
    /// A vacation reply was sent: none again to this sender for this handle until then.
    VacationReplied {
        /// The account that replied.
        account: Guid,
        /// The vacation action's handle.
        handle: String,
        /// Who was answered.
        sender: String,
        /// Until when (Unix seconds) no second reply goes out.
        until: i64,
    },
}

/// What became of one recipient of a queued message in one attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RcptOutcome {
    /// The recipient address.
    pub rcpt: String,
    /// Delivered, failed for good, or to be tried again.
    pub state: RcptState,
    /// The remote server's reply (or what went wrong before one came).
    pub reply: String,
}

/// Where a queued recipient stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RcptState {
    /// Not delivered yet: tried again later.
    Pending,
    /// The remote server took it (2xx): never sent again.
    Delivered,
    /// Refused for good (5xx, or retried past the queue's lifetime): bounced.
    Failed,
}

impl RcptState {
    /// The name kept in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RcptState::Pending => "pending",
            RcptState::Delivered => "delivered",
            RcptState::Failed => "failed",
        }
    }

    /// The state a database name stands for (anything unknown is still pending).
    pub fn from_db(name: &str) -> RcptState {
        match name {
            "delivered" => RcptState::Delivered,
            "failed" => RcptState::Failed,
            _ => RcptState::Pending,
        }
    }
}

/// What an admin did to a queued message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueAction {
    /// Not tried until released.
    Hold,
    /// Tried again on its schedule.
    Release,
    /// Tried again now.
    Retry,
    /// Removed without delivery or bounce.
    Drop,
}

/// One message's new flags within a [`Change::FlagsChanged`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagUpdate {
    /// The message's GUID.
    pub message: Guid,
    /// Its UID.
    pub uid: u32,
    /// Its whole flag set after the change.
    pub flags: Flags,
    /// Its flag set before (absent from older twins): a split-time change is merged on the
    /// home twin as the flags it added and removed, not as a whole set, so a flag set on
    /// one twin and another on the other while apart both stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub was: Option<Flags>,
    /// When the change was made, by its maker's flag clock (absent from older twins and
    /// from the merge's re-emits): of two changes of one flag made on both twins while
    /// apart, the later wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
}

/// One message within a [`Change::MessagesExpunged`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expunged {
    /// The message's GUID.
    pub message: Guid,
    /// Its UID.
    pub uid: u32,
}

impl Change {
    /// The short name stored in the log's `kind` column and used in counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::DomainAdded { .. } => "domain_added",
            Change::DomainDeleted { .. } => "domain_deleted",
            Change::AliasAdded { .. } => "alias_added",
            Change::AliasDeleted { .. } => "alias_deleted",
            Change::AccountCreated { .. } => "account_created",
            Change::PasswordChanged { .. } => "password_changed",
            Change::AccountDisabled { .. } => "account_disabled",
            Change::AccountDeleted { .. } => "account_deleted",
            Change::AccountHome { .. } => "account_home",
            Change::AccountQuota { .. } => "account_quota",
            Change::MailboxCreated { .. } => "mailbox_created",
            Change::MetadataSet { .. } => "metadata_set",
            Change::AccessKeySet { .. } => "access_key_set",
            Change::MailboxRenamed { .. } => "mailbox_renamed",
            Change::MailboxDeleted { .. } => "mailbox_deleted",
            Change::MailboxSubscribed { .. } => "mailbox_subscribed",
            Change::MessageAdded { .. } => "message_added",
            Change::FlagsChanged { .. } => "flags_changed",
            Change::MessagesExpunged { .. } => "messages_expunged",
            Change::MailboxState { .. } => "mailbox_state",
            Change::MessageRenumbered { .. } => "message_renumbered",
            Change::Queued { .. } => "queued",
            Change::QueueAttempt { .. } => "queue_attempt",
            Change::QueueControl { .. } => "queue_control",
            Change::DkimKeyAdded { .. } => "dkim_key_added",
            Change::SieveScriptPut { .. } => "sieve_script_put",
            Change::SieveScriptDeleted { .. } => "sieve_script_deleted",
            Change::SieveScriptRenamed { .. } => "sieve_script_renamed",
            Change::SieveActivated { .. } => "sieve_activated",
            Change::VacationReplied { .. } => "vacation_replied",
        }
    }

    /// The change as entries of at most `max` messages each (itself when it is smaller, or
    /// not about messages).
    pub fn split(self, max: usize) -> Vec<Change> {
        fn parts<T: Clone>(all: &[T], max: usize, f: impl Fn(Vec<T>) -> Change) -> Vec<Change> {
            all.chunks(max.max(1)).map(|m| f(m.to_vec())).collect()
        }
        match self {
            Change::FlagsChanged {
                account,
                mailbox,
                modseq,
                messages,
            } if messages.len() > max => parts(&messages, max, |messages| Change::FlagsChanged {
                account,
                mailbox,
                modseq,
                messages,
            }),
            Change::MessagesExpunged {
                account,
                mailbox,
                modseq,
                messages,
            } if messages.len() > max => {
                parts(&messages, max, |messages| Change::MessagesExpunged {
                    account,
                    mailbox,
                    modseq,
                    messages,
                })
            }
            c => vec![c],
        }
    }

    /// The account whose open sessions this change ends (disabled, deleted, or a new
    /// password: its IMAP, POP3 and submission sessions must log in again).
    pub fn ends_sessions_of(&self) -> Option<&Guid> {
        match self {
            Change::PasswordChanged { account, .. }
            | Change::AccountDeleted { account, .. }
            | Change::AccountDisabled {
                account,
                disabled: true,
            } => Some(account),
            _ => None,
        }
    }

    /// The bytes this change carries to the twin (a new message's or a queued one's).
    pub fn blob(&self) -> Option<&BlobHash> {
        match self {
            Change::MessageAdded { blob, .. } | Change::Queued { blob, .. } => Some(blob),
            _ => None,
        }
    }

    /// The account and the mailbox this change names, to point them elsewhere (a twin's
    /// change naming a folded account or folder names its survivor here).
    pub(crate) fn guids_mut(&mut self) -> (Option<&mut Guid>, Option<&mut Guid>) {
        match self {
            Change::MailboxCreated {
                account, mailbox, ..
            }
            | Change::MailboxRenamed {
                account, mailbox, ..
            }
            | Change::MailboxDeleted {
                account, mailbox, ..
            }
            | Change::MailboxSubscribed {
                account, mailbox, ..
            }
            | Change::MessageAdded {
                account, mailbox, ..
            }
            | Change::FlagsChanged {
                account, mailbox, ..
            }
            | Change::MessagesExpunged {
                account, mailbox, ..
            }
            | Change::MessageRenumbered {
                account, mailbox, ..
            }
            | Change::MailboxState {
                account, mailbox, ..
            }
            | Change::AccessKeySet {
                account, mailbox, ..
            } => (Some(account), Some(mailbox)),
            Change::MetadataSet {
                account, mailbox, ..
            } => (Some(account), mailbox.as_mut()),
            Change::AccountCreated { account, .. }
            | Change::PasswordChanged { account, .. }
            | Change::AccountDisabled { account, .. }
            | Change::AccountHome { account, .. }
            | Change::AccountQuota { account, .. }
            | Change::AccountDeleted { account, .. }
            | Change::SieveScriptPut { account, .. }
            | Change::SieveScriptDeleted { account, .. }
            | Change::SieveScriptRenamed { account, .. }
            | Change::SieveActivated { account, .. }
            | Change::VacationReplied { account, .. } => (Some(account), None),
            Change::DomainAdded { .. }
            | Change::DomainDeleted { .. }
            | Change::AliasAdded { .. }
            | Change::AliasDeleted { .. }
            | Change::Queued { .. }
            | Change::QueueAttempt { .. }
            | Change::QueueControl { .. }
            | Change::DkimKeyAdded { .. } => (None, None),
        }
    }

    /// The mailbox this change is about, if it is about one: what an IMAP session that has
    /// that mailbox selected filters the stream by.
    pub fn mailbox(&self) -> Option<Guid> {
        match self {
            Change::MailboxCreated { mailbox, .. }
            | Change::MailboxRenamed { mailbox, .. }
            | Change::MailboxDeleted { mailbox, .. }
            | Change::MailboxSubscribed { mailbox, .. }
            | Change::MessageAdded { mailbox, .. }
            | Change::FlagsChanged { mailbox, .. }
            | Change::MessagesExpunged { mailbox, .. }
            | Change::MessageRenumbered { mailbox, .. }
            | Change::MailboxState { mailbox, .. } => Some(*mailbox),
            _ => None,
        }
    }
}

/// A committed change as the stream publishes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeEvent {
    /// The node that made the change (this twin's id for local changes).
    pub origin: String,
    /// Its sequence number in the origin's log.
    pub seq: i64,
    /// What changed.
    pub change: Change,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{BlobHash, Flags, Guid};

    /// A `MessageAdded` logged before save dates were kept (no `saved`) still reads, as
    /// None; one with a save date round-trips it.
    #[test]
    fn message_added_reads_with_and_without_a_save_date() {
        let added = |saved| Change::MessageAdded {
            account: Guid::random(),
            mailbox: Guid::random(),
            message: Guid::random(),
            uid: 7,
            modseq: 9,
            blob: BlobHash::of(b"x"),
            size: 1,
            internal_date: 1_000,
            saved,
            flags: Flags::new(["\\Seen"]),
        };
        let with = added(Some(2_000));
        let text = serde_json::to_string(&with).unwrap();
        assert!(text.contains("\"saved\":2000"), "{text}");
        assert_eq!(serde_json::from_str::<Change>(&text).unwrap(), with);
        let without = added(None);
        let text = serde_json::to_string(&without).unwrap();
        assert!(!text.contains("saved"), "{text}");
        let old = text.replace(",\"saved\":null", "");
        assert_eq!(serde_json::from_str::<Change>(&old).unwrap(), without);
    }
}

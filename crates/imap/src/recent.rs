//! `\Recent` (RFC 3501 §2.3.2): a message is recent to the one IMAP4rev1 session that is
//! first told of it with the mailbox SELECTed read-write; every other session sees it
//! without `\Recent`. EXAMINE claims nothing (§6.3.2: it "MUST NOT cause messages to lose
//! the \Recent flag"), so STATUS RECENT and the next SELECT still count them; IMAP4rev2
//! sessions neither see nor claim it (RFC 9051 removed it).
//!
//! A read-only session is also shown nothing as recent (`* 0 RECENT`, no `\Recent` in
//! FETCH), where §2.3.2 would let the first one see it: recent differs between the twins
//! (below), and read-only sessions are how a mailbox is compared or backed up — over
//! IMAP the twins must look alike message for message, flags included.
//!
//! What we chose, and why: recent is kept here, in memory, per twin and per process —
//! not in the store, and not mirrored. Per mailbox (by GUID, so a rename keeps it) one
//! number: the highest UID a session has claimed; a message above it is still recent.
//! Being told of a new message is a per-connection event on the twin the client talks
//! to, so mirroring it would only make the other twin's sessions disagree with what
//! their own clients were told. A mailbox this process has not seen yet starts from the
//! messages whose INTERNALDATE is before the process started: those are old, so a
//! restart does not make a whole mailbox recent again, and mail that came in since is
//! recent to the first session that selects it.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use twinmail_store::{Guid, Message};

/// How one selected mailbox takes part in `\Recent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecentMode {
    /// SELECT by an IMAP4rev1 client: new messages it is told of first are its recent ones.
    Claim,
    /// EXAMINE by an IMAP4rev1 client: claims nothing and is shown nothing as recent
    /// (`* 0 RECENT`); see the module's comment.
    Peek,
    /// IMAP4rev2 (RFC 9051): no `\Recent`, no RECENT responses.
    Off,
}

/// The highest UID claimed as recent, per mailbox, shared by all the IMAP sessions of
/// this process.
pub struct Recent {
    /// When this process started (Unix seconds): a mailbox first seen now treats
    /// messages with an earlier INTERNALDATE as already claimed.
    started: i64,
    /// Per mailbox GUID, the highest UID a session has claimed as recent; a message with
    /// a higher UID is recent to the next session to claim it.
    claimed: Mutex<HashMap<Guid, u32>>,
}

impl Default for Recent {
    fn default() -> Self {
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        Recent {
            started,
            claimed: Mutex::default(),
        }
    }
}

impl Recent {
    /// The claimed UID of `mailbox`, first set from its `messages` (all of them, as SELECT
    /// or STATUS read them) when this process meets the mailbox.
    fn entry<'m>(
        &self,
        claimed: &'m mut HashMap<Guid, u32>,
        mailbox: Guid,
        messages: &[Message],
    ) -> &'m mut u32 {
        claimed.entry(mailbox).or_insert_with(|| {
            messages
                .iter()
                .filter(|m| m.internal_date < self.started)
                .map(|m| m.uid)
                .max()
                .unwrap_or(0)
        })
    }

    /// At SELECT: the UIDs among `messages` that are recent to this session (ascending),
    /// now claimed, so no other session gets them. None for the other modes.
    pub fn at_select(&self, mailbox: Guid, messages: &[Message], mode: RecentMode) -> Vec<u32> {
        if mode != RecentMode::Claim {
            return Vec::new();
        }
        let mut claimed = self.claimed.lock().unwrap_or_else(|e| e.into_inner());
        let last = self.entry(&mut claimed, mailbox, messages);
        let recent: Vec<u32> = messages
            .iter()
            .map(|m| m.uid)
            .filter(|&u| u > *last)
            .collect();
        if let Some(&max) = recent.iter().max() {
            *last = max;
        }
        recent
    }

    /// New messages a session with `Claim` is telling its client about (ascending UIDs):
    /// those no session has claimed, now claimed by it. None for the other modes.
    pub fn arrived(&self, mailbox: Guid, uids: &[u32], mode: RecentMode) -> Vec<u32> {
        if mode != RecentMode::Claim || uids.is_empty() {
            return Vec::new();
        }
        let mut claimed = self.claimed.lock().unwrap_or_else(|e| e.into_inner());
        // The session selected the mailbox, so it has an entry; 0 is the safe default.
        let last = claimed.entry(mailbox).or_insert(0);
        let recent: Vec<u32> = uids.iter().copied().filter(|&u| u > *last).collect();
        if let Some(&max) = recent.last() {
            *last = max;
        }
        recent
    }

    /// STATUS RECENT: how many of `messages` no session has claimed yet.
    pub fn unclaimed(&self, mailbox: Guid, messages: &[Message]) -> u32 {
        let mut claimed = self.claimed.lock().unwrap_or_else(|e| e.into_inner());
        let last = *self.entry(&mut claimed, mailbox, messages);
        messages.iter().filter(|m| m.uid > last).count() as u32
    }
}

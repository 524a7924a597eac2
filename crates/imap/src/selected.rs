//! The selected mailbox as this session's client knows it: the sequence-number → UID map
//! and the changes not yet told. Other sessions' changes (and the twin's) arrive on the
//! store's change stream and are reported as EXISTS / EXPUNGE / FETCH FLAGS at the points
//! RFC 3501 §7 allows: never EXPUNGE during FETCH, STORE or SEARCH (§7.4.1). Once the
//! client has enabled QRESYNC, expunges are told as `VANISHED uids` (RFC 7162 §3.2.10).

use imap_types::{
    fetch::MessageDataItem,
    flag::{Flag, FlagFetch, FlagPerm},
    response::{Code, Data},
    sequence::{SeqOrUid, Sequence, SequenceSet},
};
use twinmail_store::{Change, ChangeEvent, Flags, Mailbox};

use crate::{
    convert::{fetch_flags, nz, nz64, vec1, wire_set},
    recent::{Recent, RecentMode},
    uidmap::UidMap,
};

/// How this session's client wants changes told.
#[derive(Clone, Copy, Debug, Default)]
pub struct Report {
    /// CONDSTORE is on: FETCH FLAGS come with MODSEQ (RFC 7162 §3.1).
    pub condstore: bool,
    /// QRESYNC is on: expunges are VANISHED, not EXPUNGE (RFC 7162 §3.2.10).
    pub qresync: bool,
}

/// Which waiting changes may be told now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allow {
    /// New messages (EXISTS) and, with `expunges`, expunges; false: nothing at all is
    /// told (RFC 5465 has MessageNew and MessageExpunge go together, and FlagChange only
    /// with both).
    pub messages: bool,
    /// Expunges: never during FETCH, STORE or SEARCH (RFC 3501 §7.4.1), nor pushed with
    /// SELECTED-DELAYED outside IDLE (RFC 5465 §6.1.2).
    pub expunges: bool,
    /// Flag changes (FETCH FLAGS); with NOTIFY, only when FlagChange was asked for.
    pub flags: bool,
}

impl Allow {
    /// Nothing may be told.
    pub const NOTHING: Allow = Allow {
        messages: false,
        expunges: false,
        flags: false,
    };

    /// What a command's end tells (RFC 3501 §7): everything, expunges when allowed.
    pub fn command(expunges: bool) -> Allow {
        Allow {
            messages: true,
            expunges,
            flags: true,
        }
    }
}

/// `* VANISHED [(EARLIER)] uids` for ascending UIDs; None when there are none.
pub fn vanished(uids: impl IntoIterator<Item = u32>, earlier: bool) -> Option<Data<'static>> {
    wire_set(uids).map(|known_uids| Data::Vanished {
        earlier,
        known_uids,
    })
}

/// A change not yet told to the client.
enum Pending {
    /// A new message and its flags at arrival (their keywords are announced with it).
    Added(u32, Flags),
    Expunged(u32),
    Flags(u32, Flags, u64),
}

/// The selected mailbox.
pub struct Selected {
    /// The mailbox as it was at SELECT (id, GUID, UIDVALIDITY).
    pub mailbox: Mailbox,
    /// EXAMINE: no changes allowed.
    pub read_only: bool,
    /// The user's rights on the mailbox (RFC 4314): every right on the user's own, what
    /// the owner granted on a shared one (`acl.rs`), as they were at SELECT.
    pub rights: crate::acl::Rights,
    /// UIDs by sequence number, ascending.
    pub uids: UidMap,
    /// Changes waiting for a point where they may be told.
    pending: Vec<Pending>,
    /// The mailbox was deleted or renamed away by another session.
    pub gone: bool,
    /// Keywords the client has been told in an untagged FLAGS, in the order first told:
    /// no FETCH may show a flag before FLAGS has announced it (RFC 3501 §7.2.6,
    /// RFC 9051 §7.3.5).
    keywords: Vec<String>,
    /// How this session takes part in `\Recent` (see `recent.rs`): set at SELECT.
    pub recent_mode: RecentMode,
    /// UIDs that are `\Recent` in this session (ascending): claimed at SELECT, or new
    /// messages this session was the first to tell. Expunged ones stay here harmlessly;
    /// they are no longer in `uids`.
    recent: Vec<u32>,
    /// The count the client was last told in `* n RECENT` (at SELECT, then on change).
    recent_told: u32,
    /// Per UID, the MODSEQ of the latest flags the client was shown (FETCH, STORE, flag
    /// news): older flag news still pending is dropped, never told after newer.
    told_modseq: std::collections::HashMap<u32, u64>,
    /// The live SEARCH / SORT results (RFC 5267 §4.3) this session keeps for the
    /// mailbox; they end with the selection.
    pub contexts: crate::contexts::Contexts,
}

/// The system flags every mailbox has (RFC 3501 §2.3.2), as announced in FLAGS.
const SYSTEM_FLAGS: [Flag<'static>; 5] = [
    Flag::Answered,
    Flag::Flagged,
    Flag::Deleted,
    Flag::Seen,
    Flag::Draft,
];

impl Selected {
    /// The view at SELECT; `flags` are the messages' flags, whose keywords SELECT's
    /// FLAGS announces.
    /// `recent` are the UIDs recent to this session (ascending), per `recent_mode`.
    pub fn new<'a>(
        mailbox: Mailbox,
        read_only: bool,
        uids: Vec<u32>,
        flags: impl IntoIterator<Item = &'a Flags>,
        recent_mode: RecentMode,
        recent: Vec<u32>,
    ) -> Selected {
        let mut view = Selected {
            mailbox,
            read_only,
            rights: crate::acl::Rights::OWNER,
            uids: UidMap::from_sorted(uids),
            pending: Vec::new(),
            gone: false,
            keywords: Vec::new(),
            recent_mode,
            recent,
            recent_told: 0,
            told_modseq: std::collections::HashMap::new(),
            contexts: crate::contexts::Contexts::default(),
        };
        view.recent_told = view.recent_count();
        view.learn_keywords(flags);
        view
    }

    /// Takes note of keywords these flag sets use that the client has not been told yet;
    /// true when there were any, so that FLAGS must be sent again before they are used
    /// (RFC 3501 §7.2.6: "the FLAGS response ... MUST be sent" when the set changes).
    /// Keywords compare case-insensitively (RFC 3501 §2.3.2 flag names are atoms that
    /// clients match without regard to case).
    pub fn learn_keywords<'a>(&mut self, flags: impl IntoIterator<Item = &'a Flags>) -> bool {
        let mut learned = false;
        for f in flags.into_iter().flat_map(Flags::iter) {
            if f.starts_with('\\') || self.keywords.iter().any(|k| k.eq_ignore_ascii_case(f)) {
                continue;
            }
            // A stored name the wire cannot carry is never shown in FETCH either
            // (`fetch_flags` drops it), so it need not be announced.
            if crate::convert::wire_flag(f).is_some() {
                self.keywords.push(f.to_string());
                learned = true;
            }
        }
        learned
    }

    /// Learns the keywords of the flag news and new messages still pending (a message
    /// APPENDed with a new keyword is announced with its EXISTS, as Dovecot does); see
    /// `learn_keywords`.
    pub fn learn_pending_keywords(&mut self) -> bool {
        let pending = std::mem::take(&mut self.pending);
        let told = std::mem::take(&mut self.told_modseq);
        let learned = self.learn_keywords(pending.iter().filter_map(|p| match p {
            // News the client already has (its own STORE's) will not be told.
            Pending::Flags(uid, _, modseq) if told.get(uid).is_some_and(|t| t >= modseq) => None,
            Pending::Flags(_, flags, _) | Pending::Added(_, flags) => Some(flags),
            Pending::Expunged(_) => None,
        }));
        self.told_modseq = told;
        self.pending = pending;
        learned
    }

    /// `* FLAGS (...)` and the code of `* OK [PERMANENTFLAGS (...)]` for the flags told so
    /// far (RFC 3501 §7.2.6, §7.1): the system flags, then the keywords; PERMANENTFLAGS
    /// adds `\*` (any keyword may be created), and is empty for EXAMINE.
    pub fn flags_announcement(&self) -> (Data<'static>, Code<'static>) {
        let mut flags = SYSTEM_FLAGS.to_vec();
        flags.extend(
            self.keywords
                .iter()
                .filter_map(|k| crate::convert::wire_flag(k)),
        );
        let perm = if self.read_only {
            Vec::new()
        } else {
            let mut perm: Vec<FlagPerm<'static>> =
                flags.iter().cloned().map(FlagPerm::Flag).collect();
            perm.push(FlagPerm::Asterisk);
            perm
        };
        (Data::Flags(flags), Code::PermanentFlags(perm))
    }

    /// The message is `\Recent` in this session (RFC 3501 §2.3.2).
    pub fn is_recent(&self, uid: u32) -> bool {
        self.recent.binary_search(&uid).is_ok()
    }

    /// How many messages in the mailbox as told are `\Recent` here (`* n RECENT`).
    pub fn recent_count(&self) -> u32 {
        self.recent
            .iter()
            .filter(|&&u| self.uids.seq(u).is_some())
            .count() as u32
    }

    /// A message's flags for a FETCH response: its stored flags, and `\Recent` when it is
    /// recent in this session.
    pub fn flags_of(&self, uid: u32, flags: &Flags) -> Vec<FlagFetch<'static>> {
        let mut out = fetch_flags(flags);
        if self.is_recent(uid) {
            out.push(FlagFetch::Recent);
        }
        out
    }

    /// The sequence number of a UID.
    pub fn seq(&self, uid: u32) -> Option<u32> {
        self.uids.seq(uid)
    }

    /// The largest UID known to the client (0 when empty).
    pub fn max_uid(&self) -> u32 {
        self.uids.last().unwrap_or(0)
    }

    /// Takes note of a committed change if it concerns this mailbox.
    pub fn observe(&mut self, ev: &ChangeEvent) {
        if ev.change.mailbox() != Some(self.mailbox.guid) {
            return;
        }
        if !self.contexts.list.is_empty()
            && matches!(
                ev.change,
                Change::MessageAdded { .. }
                    | Change::MessagesExpunged { .. }
                    | Change::FlagsChanged { .. }
            )
        {
            self.contexts.stale = true;
        }
        match &ev.change {
            Change::MessageAdded { uid, flags, .. } => {
                self.pending.push(Pending::Added(*uid, flags.clone()))
            }
            Change::MessagesExpunged { messages, .. } => self
                .pending
                .extend(messages.iter().map(|m| Pending::Expunged(m.uid))),
            Change::FlagsChanged {
                messages, modseq, ..
            } => self.pending.extend(
                messages
                    .iter()
                    .map(|m| Pending::Flags(m.uid, m.flags.clone(), *modseq)),
            ),
            Change::MailboxDeleted { .. } => self.gone = true,
            _ => {}
        }
    }

    /// Removes UIDs this session expunged itself, returning their sequence numbers in
    /// the order to report them (each number valid after the ones before).
    pub fn expunge_now(&mut self, uids: &[u32]) -> Vec<u32> {
        let mut seqs = Vec::with_capacity(uids.len());
        for &uid in uids {
            seqs.extend(self.uids.remove(uid));
        }
        seqs
    }

    /// Removes UIDs this session expunged itself and returns how to tell the client:
    /// one EXPUNGE per message, or with QRESYNC one VANISHED for all of them.
    pub fn expunge_report(&mut self, uids: &[u32], qresync: bool) -> Vec<Data<'static>> {
        if qresync {
            let known: Vec<u32> = uids
                .iter()
                .copied()
                .filter(|&u| self.uids.seq(u).is_some())
                .collect();
            self.expunge_now(&known);
            return vanished(known, false).into_iter().collect();
        }
        self.expunge_now(uids)
            .into_iter()
            .map(|seq| Data::Expunge(nz(seq)))
            .collect()
    }

    /// How many changes wait to be told (NOTIFY bounds it, see `watch.rs`).
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// The untagged responses for what changed, in a valid order. What `allow` does not
    /// let through stays pending, in its order.
    /// New messages are claimed as `\Recent` in `recent` (per `recent_mode`), and when
    /// the number of recent messages changed, `* n RECENT` follows EXISTS for IMAP4rev1
    /// sessions (RFC 3501 §7.3.2), as Dovecot sends it.
    pub fn updates(&mut self, allow: Allow, report: Report, recent: &Recent) -> Vec<Data<'static>> {
        let mut out = Vec::new();
        if !allow.messages {
            return out;
        }
        let expunges = allow.expunges;
        // How many messages the client knows of: no response below may name a number
        // above it (RFC 3501 §7.4.1, §5.5), so a new message is told with EXISTS before
        // a FETCH or EXPUNGE that names it.
        let mut told = self.uids.len();
        // EXISTS is due at the end: messages came or went since the last one.
        let mut exists_due = false;
        let mut kept = Vec::new();
        // With QRESYNC, consecutive expunges become one VANISHED, told before anything
        // that follows them so sequence numbers stay consistent.
        let mut gone: Vec<u32> = Vec::new();
        let mut added = Vec::new();
        for p in std::mem::take(&mut self.pending) {
            // Before a response naming message `seq`: the VANISHED gathered so far, and
            // EXISTS if the client has not been told of that message yet.
            let make_known = |out: &mut Vec<Data<'static>>,
                              gone: &mut Vec<u32>,
                              told: &mut usize,
                              exists_due: &mut bool,
                              seq: u32,
                              len: usize| {
                gone.sort_unstable();
                out.extend(vanished(std::mem::take(gone), false));
                if seq as usize > *told {
                    out.push(Data::Exists(len as u32));
                    *told = len;
                    *exists_due = false;
                }
            };
            match p {
                Pending::Added(uid, _) => {
                    if uid > self.max_uid() {
                        self.uids.push(uid);
                        added.push(uid);
                        exists_due = true;
                    }
                }
                Pending::Expunged(uid) if expunges => {
                    let Some(seq) = self.uids.seq(uid) else {
                        continue;
                    };
                    self.uids.remove(uid);
                    self.told_modseq.remove(&uid);
                    if seq as usize > told {
                        // Came and went before the client was told of it: it never hears
                        // of it (an EXPUNGE or VANISHED would name what it cannot know).
                        continue;
                    }
                    told -= 1;
                    exists_due = true;
                    if report.qresync {
                        gone.push(uid);
                    } else {
                        out.push(Data::Expunge(nz(seq)));
                    }
                }
                Pending::Expunged(uid) => kept.push(Pending::Expunged(uid)),
                Pending::Flags(uid, flags, modseq) if !allow.flags => {
                    kept.push(Pending::Flags(uid, flags, modseq))
                }
                Pending::Flags(uid, flags, modseq) => {
                    let Some(seq) = self.seq(uid) else { continue };
                    // Never older news than the client already has (a FETCH or STORE
                    // of this session may have shown a later state): flags would go
                    // back and MODSEQ fall (RFC 7162 §3.1).
                    if self.told_modseq.get(&uid).is_some_and(|&t| t >= modseq) {
                        continue;
                    }
                    make_known(
                        &mut out,
                        &mut gone,
                        &mut told,
                        &mut exists_due,
                        seq,
                        self.uids.len(),
                    );
                    self.told_modseq.insert(uid, modseq);
                    let mut items = vec![
                        MessageDataItem::Uid(nz(uid)),
                        MessageDataItem::Flags(self.flags_of(uid, &flags)),
                    ];
                    if report.condstore {
                        items.push(MessageDataItem::ModSeq(nz64(modseq)));
                    }
                    if let Some(items) = vec1(items) {
                        out.push(Data::Fetch {
                            seq: nz(seq),
                            items,
                        });
                    }
                }
            }
        }
        gone.sort_unstable();
        out.extend(vanished(gone, false));
        self.pending = kept;
        let claimed = recent.arrived(self.mailbox.guid, &added, self.recent_mode);
        self.recent.extend(claimed);
        if exists_due || self.uids.len() != told {
            out.push(Data::Exists(self.uids.len() as u32));
            let count = self.recent_count();
            if self.recent_mode != RecentMode::Off && count != self.recent_told {
                self.recent_told = count;
                out.push(Data::Recent(count));
            }
        }
        out
    }

    /// Flag news for `uid` is waiting to be told, other than the change of MODSEQ
    /// `except` (a STORE's own).
    pub fn has_flag_news(&self, uid: u32, except: u64) -> bool {
        self.pending
            .iter()
            .any(|p| matches!(p, Pending::Flags(u, _, m) if *u == uid && *m != except))
    }

    /// Takes note that the client was shown a message's flags as of `modseq` (by a FETCH
    /// or STORE response), so that older flag news still pending is not told after it.
    pub fn told_flags(&mut self, uid: u32, modseq: u64) {
        let t = self.told_modseq.entry(uid).or_insert(0);
        *t = (*t).max(modseq);
    }

    /// (sequence number, UID) pairs a set names. Message numbers outside the mailbox are
    /// an error (RFC 3501 §6.4.8 "invalid message sequence number"); UIDs that do not
    /// exist are simply skipped.
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<(u32, u32)>, &'static str> {
        if uid {
            let uids = crate::convert::uid_set(set, self.max_uid());
            return Ok(uids
                .ranges()
                .iter()
                .flat_map(|&(lo, hi)| self.uids.range(lo, hi))
                .collect());
        }
        let n = self.uids.len() as u32;
        let v = |s: &SeqOrUid| match s {
            SeqOrUid::Value(v) => v.get(),
            SeqOrUid::Asterisk => n,
        };
        // Ranges are merged before they are expanded, so the work is bounded by the
        // mailbox size however many (overlapping) ranges the client sends.
        let mut ranges = Vec::with_capacity(set.0.as_ref().len());
        for s in set.0.as_ref() {
            let (a, b) = match s {
                Sequence::Single(a) => (v(a), v(a)),
                Sequence::Range(a, b) => (v(a).min(v(b)), v(a).max(v(b))),
            };
            if a == 0 || b > n {
                return Err("Invalid message sequence number");
            }
            ranges.push((a, b));
        }
        let merged = twinmail_store::UidSet::from_ranges(ranges);
        Ok(merged
            .ranges()
            .iter()
            .flat_map(|&(a, b)| a..=b)
            .filter_map(|s| Some((s, self.uids.uid(s)?)))
            .collect())
    }
}

//! What a session that gave NOTIFY (RFC 5465) watches, and the notifications it has yet
//! to tell about mailboxes other than the selected one: STATUS for messages that came,
//! went or changed flags (§5.1–5.3), LIST for names created, deleted or renamed (§5.4)
//! and for subscriptions (§5.5), METADATA for annotations (§5.6, §5.7).
//!
//! Rules of the house:
//! - The selected mailbox belongs to the SELECTED / SELECTED-DELAYED group alone (§3.1:
//!   leaving it out is "the same as specifying SELECTED NONE"); its changes travel the
//!   selected view's way (`selected.rs`), never as STATUS. What this file adds for it is
//!   `Allow`: which of them may be pushed when no command asked (`Watch::allow`).
//! - A change is noted when it comes off the store's stream and told at the next point
//!   the session may speak: at once between commands and in IDLE, else before the
//!   running command's tagged reply. Notes name mailboxes by GUID; names, subscriptions
//!   and counts are read when they are told, so a STATUS is told once however often its
//!   mailbox changed meanwhile, and always with the counts as they are.
//! - A session holds at most `max_notifications` notes (and held changes of its selected
//!   mailbox); past that it stops: `* OK [NOTIFICATIONOVERFLOW]`, and from then on it
//!   behaves as after NOTIFY NONE (§5.8). Nothing here grows without that bound.
//! - Groups other than SELECTED add up: a mailbox gets the events of every group that
//!   names it (a NONE group adds none), as Dovecot reads §6. INBOXES is PERSONAL here
//!   (§6.3 allows that when the server cannot tell where mail is delivered: Sieve's
//!   fileinto can deliver anywhere).
//! - What the session's own command changes is not told back to it (§5: the server
//!   "SHOULD omit notifying the client if the event is caused by this client"): the
//!   name its CREATE, DELETE or RENAME names, the mailbox its SUBSCRIBE or SETMETADATA
//!   names (`Own`). STATUS for another mailbox its APPEND, COPY or MOVE filled is told
//!   all the same: another session's change to it may hide in the same moment, and a
//!   STATUS with fresh counts never misleads.

use std::collections::{HashMap, HashSet};

use imap_types::{
    core::{AString, Atom, QuotedChar, Tag, Vec1},
    extensions::metadata::{Entry, MetadataResponse},
    fetch::MacroOrMessageDataItemNames,
    flag::FlagNameAttribute,
    mailbox::Mailbox as WireMailbox,
    response::{Code, CodeOther, Data, Status},
    status::StatusDataItemName,
};
use twinmail_net::Stream;
use twinmail_store::{Change, Guid, Mailbox};

use crate::{
    notify::{Event, Filter, NotifySet},
    selected::Allow,
    session::{Session, State},
};

/// A set of RFC 5465 events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Events(u8);

impl Events {
    /// None at all.
    pub const NONE: Events = Events(0);
    /// MessageNew.
    pub const NEW: Events = Events(1);
    /// MessageExpunge.
    pub const EXPUNGE: Events = Events(2);
    /// FlagChange.
    pub const FLAGS: Events = Events(4);
    /// MailboxName.
    pub const NAME: Events = Events(8);
    /// SubscriptionChange.
    pub const SUBSCRIPTION: Events = Events(16);
    /// MailboxMetadataChange.
    pub const MAILBOX_METADATA: Events = Events(32);
    /// ServerMetadataChange.
    pub const SERVER_METADATA: Events = Events(64);
    /// The message events: what a STATUS tells.
    pub const MESSAGE: Events = Events(1 | 2 | 4);

    /// Both sets together.
    pub fn with(self, other: Events) -> Events {
        Events(self.0 | other.0)
    }

    /// Some event of `other` is in the set.
    pub fn any(self, other: Events) -> bool {
        self.0 & other.0 != 0
    }

    /// The set of the given events (AnnotationChange and unknown ones add nothing: they
    /// are refused before a watch is made).
    fn of(events: &[Event]) -> Events {
        events.iter().fold(Events::NONE, |set, e| {
            set.with(match e {
                Event::MessageNew(_) => Events::NEW,
                Event::MessageExpunge => Events::EXPUNGE,
                Event::FlagChange => Events::FLAGS,
                Event::MailboxName => Events::NAME,
                Event::SubscriptionChange => Events::SUBSCRIPTION,
                Event::MailboxMetadataChange => Events::MAILBOX_METADATA,
                Event::ServerMetadataChange => Events::SERVER_METADATA,
                Event::AnnotationChange | Event::Other(_) => Events::NONE,
            })
        })
    }
}

/// What the SELECTED or SELECTED-DELAYED group asks of the selected mailbox.
#[derive(Clone, Debug)]
pub struct SelectedWatch {
    /// SELECTED-DELAYED (§6.1.2): expunges wait for a command that may tell them (NOOP,
    /// IDLE, ...); new messages and flag changes are pushed at once all the same.
    pub delayed: bool,
    /// MessageNew and MessageExpunge (always both, §5): EXISTS and EXPUNGE are pushed.
    pub messages: bool,
    /// FlagChange: a FETCH (UID FLAGS) is pushed for each flag change (§5.1).
    pub flags: bool,
    /// MessageNew's attributes: a UID FETCH of them follows EXISTS for the messages a
    /// push told (§5.2).
    pub fetch: Option<MacroOrMessageDataItemNames<'static>>,
}

/// Which mailboxes a group other than SELECTED names, in store names.
#[derive(Clone, Debug)]
enum Scope {
    /// PERSONAL, and INBOXES (see the rules above): every mailbox of the account.
    Personal,
    /// SUBSCRIBED: the subscribed ones, as they are when the event happens.
    Subscribed,
    /// SUBTREE: these and every mailbox below them.
    Subtree(Vec<String>),
    /// MAILBOXES: exactly these.
    Mailboxes(Vec<String>),
}

impl Scope {
    /// The scope names `name`, whose subscription is `subscribed`.
    fn holds(&self, name: &str, subscribed: bool) -> bool {
        match self {
            Scope::Personal => true,
            Scope::Subscribed => subscribed,
            Scope::Mailboxes(names) => names.iter().any(|n| n == name),
            Scope::Subtree(names) => names.iter().any(|n| {
                name.strip_prefix(n.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            }),
        }
    }
}

/// What the command this session is running changes itself, not to be told back to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Own {
    /// CREATE of this name (and the parents it makes).
    Create(String),
    /// DELETE of this name.
    Delete(String),
    /// RENAME from, to (children and the parents it makes too).
    Rename(String, String),
    /// SUBSCRIBE or UNSUBSCRIBE of this mailbox.
    Subscribe(Guid),
    /// SETMETADATA of this mailbox, or of the server (`None`).
    Metadata(Option<Guid>),
}

impl Own {
    /// The change is this command's own doing.
    fn covers(&self, change: &Change) -> bool {
        // `name` is `target` or one of the parents made for it.
        let parent_of = |name: &str, target: &str| {
            target == name
                || target
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        match (self, change) {
            (Own::Create(target), Change::MailboxCreated { name, .. }) => parent_of(name, target),
            (Own::Delete(target), Change::MailboxDeleted { name, .. }) => name == target,
            (Own::Rename(old, _), Change::MailboxRenamed { from, .. }) => parent_of(old, from),
            (Own::Rename(_, new), Change::MailboxCreated { name, .. }) => parent_of(name, new),
            (Own::Subscribe(guid), Change::MailboxSubscribed { mailbox, .. }) => mailbox == guid,
            (Own::Metadata(target), Change::MetadataSet { mailbox, .. }) => mailbox == target,
            _ => false,
        }
    }
}

/// A notification not told yet.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Note {
    /// Messages came, went or changed flags in a mailbox other than the selected one:
    /// its STATUS (§5.1–5.3), if a group asks for one of `events` from it.
    Status {
        /// The mailbox.
        mailbox: Guid,
        /// What happened in it since it was last told.
        events: Events,
    },
    /// A mailbox was made (§5.4): its LIST.
    Created {
        /// The mailbox.
        mailbox: Guid,
        /// Its name when made.
        name: String,
    },
    /// A mailbox was renamed (§5.4): its LIST with OLDNAME; its children's renames are
    /// not noted.
    Renamed {
        /// The mailbox.
        mailbox: Guid,
        /// Its name before.
        from: String,
        /// Its name after.
        to: String,
    },
    /// A mailbox was deleted (§5.4): LIST (\NonExistent).
    Deleted {
        /// Its name.
        name: String,
        /// It was subscribed (for SUBSCRIBED groups, which can no longer look).
        subscribed: bool,
    },
    /// A mailbox was subscribed or unsubscribed (§5.5): its LIST, \Subscribed iff it is.
    Subscription {
        /// The mailbox.
        mailbox: Guid,
    },
    /// A METADATA entry was set or removed (§5.6, §5.7): METADATA naming it.
    Metadata {
        /// The mailbox, or the server (`None`).
        mailbox: Option<Guid>,
        /// The entry's name (lower-case).
        entry: String,
    },
}

/// More notes than the session may hold.
#[derive(Debug)]
pub struct Overflow;

/// A session's NOTIFY: what it watches and what it has yet to tell.
pub struct Watch {
    /// The SELECTED or SELECTED-DELAYED group; `None` when there was none, or it said
    /// NONE: nothing is pushed for the selected mailbox.
    pub selected: Option<SelectedWatch>,
    /// Every other group that asks for something: where, and what.
    groups: Vec<(Scope, Events)>,
    /// The events some group (other than SELECTED) asks for.
    wanted: Events,
    /// The account's subscribed mailboxes, kept only when a group is SUBSCRIBED:
    /// loaded at NOTIFY and followed from the change stream, so a deleted mailbox's
    /// subscription is still known.
    subscribed: Option<HashSet<Guid>>,
    /// Notes not told yet, oldest first; at most `limit`.
    queue: Vec<Note>,
    /// Most notes (and held changes of the selected mailbox) the session may hold
    /// (`ImapSettings::max_notifications`).
    pub limit: usize,
    /// The last rename noted (from, to): the renames of its children that follow it in
    /// the stream are part of it (§5.4: "No additional MailboxName events are sent for
    /// children").
    last_rename: Option<(String, String)>,
    /// What the running command changes itself; set for its run only.
    pub own: Option<Own>,
}

impl Watch {
    /// The watch NOTIFY SET asks for. `name` turns a name from the wire into a store
    /// name; names it refuses (undecodable, or no name a mailbox can have) are left
    /// out: they cannot name a mailbox (§6.6: no wildcard is expanded).
    pub fn new(set: &NotifySet, name: impl Fn(&[u8]) -> Option<String>, limit: usize) -> Watch {
        let mut selected = None;
        let mut groups = Vec::new();
        for g in &set.groups {
            let events = Events::of(&g.events);
            let scope = match &g.filter {
                Filter::Selected | Filter::SelectedDelayed => {
                    let fetch = g.events.iter().find_map(|e| match e {
                        Event::MessageNew(items) => items.clone(),
                        _ => None,
                    });
                    selected = events.any(Events::MESSAGE).then(|| SelectedWatch {
                        delayed: g.filter == Filter::SelectedDelayed,
                        messages: events.any(Events::NEW),
                        flags: events.any(Events::FLAGS),
                        fetch,
                    });
                    continue;
                }
                Filter::Inboxes | Filter::Personal => Scope::Personal,
                Filter::Subscribed => Scope::Subscribed,
                Filter::Subtree(raw) => {
                    Scope::Subtree(raw.iter().filter_map(|r| name(r)).collect())
                }
                Filter::Mailboxes(raw) => {
                    Scope::Mailboxes(raw.iter().filter_map(|r| name(r)).collect())
                }
            };
            if events != Events::NONE {
                groups.push((scope, events));
            }
        }
        let wanted = groups.iter().fold(Events::NONE, |w, (_, e)| w.with(*e));
        Watch {
            selected,
            groups,
            wanted,
            subscribed: None,
            queue: Vec::new(),
            limit,
            last_rename: None,
            own: None,
        }
    }

    /// Some group is SUBSCRIBED: the subscribed mailboxes must be given
    /// (`set_subscribed`).
    pub fn needs_subscriptions(&self) -> bool {
        self.groups
            .iter()
            .any(|(scope, _)| matches!(scope, Scope::Subscribed))
    }

    /// The account's subscribed mailboxes now.
    pub fn set_subscribed(&mut self, subscribed: HashSet<Guid>) {
        self.subscribed = Some(subscribed);
    }

    /// The events the groups other than SELECTED ask for from a mailbox of this name
    /// and subscription.
    pub fn events_for(&self, name: &str, subscribed: bool) -> Events {
        self.groups
            .iter()
            .filter(|(scope, _)| scope.holds(name, subscribed))
            .fold(Events::NONE, |all, (_, e)| all.with(*e))
    }

    /// Which of the selected mailbox's changes may be pushed now: in IDLE (`idling`)
    /// expunges too; between commands only with SELECTED, not SELECTED-DELAYED.
    pub fn allow(&self, idling: bool) -> Allow {
        match &self.selected {
            Some(w) if w.messages => Allow {
                messages: true,
                expunges: idling || !w.delayed,
                flags: w.flags,
            },
            _ => Allow::NOTHING,
        }
    }

    /// Notes a committed change, if a group may want it; `account` is the session's,
    /// `selected` the selected mailbox.
    pub fn observe(
        &mut self,
        change: &Change,
        account: Guid,
        selected: Option<Guid>,
    ) -> Result<(), Overflow> {
        if account_of(change) != Some(account) {
            return Ok(());
        }
        // Subscriptions are followed whoever changed them; a deleted mailbox's is
        // remembered for its note.
        let mut was_subscribed = false;
        if let Some(subscribed) = &mut self.subscribed {
            match change {
                Change::MailboxCreated {
                    mailbox,
                    subscribed: true,
                    ..
                }
                | Change::MailboxSubscribed {
                    mailbox,
                    subscribed: true,
                    ..
                } => {
                    subscribed.insert(*mailbox);
                }
                Change::MailboxSubscribed { mailbox, .. } => {
                    subscribed.remove(mailbox);
                }
                Change::MailboxDeleted { mailbox, .. } => {
                    was_subscribed = subscribed.remove(mailbox);
                }
                _ => {}
            }
        }
        if self.own.as_ref().is_some_and(|own| own.covers(change)) {
            if let Change::MailboxRenamed { from, to, .. } = change {
                self.last_rename = Some((from.clone(), to.clone()));
            }
            return Ok(());
        }
        let events = match change {
            Change::MessageAdded { .. } => Events::NEW,
            Change::MessagesExpunged { .. } => Events::EXPUNGE,
            Change::FlagsChanged { .. } => Events::FLAGS,
            Change::MessageRenumbered { .. } => Events::NEW.with(Events::EXPUNGE),
            Change::MailboxCreated { mailbox, name, .. } if self.wanted.any(Events::NAME) => {
                return self.note(Note::Created {
                    mailbox: *mailbox,
                    name: name.clone(),
                });
            }
            Change::MailboxRenamed {
                mailbox, from, to, ..
            } if self.wanted.any(Events::NAME) => {
                let child = self.last_rename.as_ref().is_some_and(|(f, t)| {
                    from.strip_prefix(f.as_str())
                        .and_then(|rest| rest.strip_prefix('/'))
                        .is_some_and(|rest| *to == format!("{t}/{rest}"))
                });
                if child {
                    return Ok(());
                }
                self.last_rename = Some((from.clone(), to.clone()));
                return self.note(Note::Renamed {
                    mailbox: *mailbox,
                    from: from.clone(),
                    to: to.clone(),
                });
            }
            Change::MailboxDeleted { name, .. } if self.wanted.any(Events::NAME) => {
                return self.note(Note::Deleted {
                    name: name.clone(),
                    subscribed: was_subscribed,
                });
            }
            Change::MailboxSubscribed { mailbox, .. } if self.wanted.any(Events::SUBSCRIPTION) => {
                return self.note(Note::Subscription { mailbox: *mailbox });
            }
            Change::MetadataSet { mailbox, entry, .. } => {
                let wanted = match mailbox {
                    Some(_) => Events::MAILBOX_METADATA,
                    None => Events::SERVER_METADATA,
                };
                if !self.wanted.any(wanted) {
                    return Ok(());
                }
                return self.note(Note::Metadata {
                    mailbox: *mailbox,
                    entry: entry.clone(),
                });
            }
            _ => return Ok(()),
        };
        let Some(mailbox) = change.mailbox() else {
            return Ok(());
        };
        if Some(mailbox) == selected || !self.wanted.any(Events::MESSAGE) {
            return Ok(());
        }
        if let Some(Note::Status { events: e, .. }) = self
            .queue
            .iter_mut()
            .find(|n| matches!(n, Note::Status { mailbox: m, .. } if *m == mailbox))
        {
            *e = e.with(events);
            return Ok(());
        }
        self.note(Note::Status { mailbox, events })
    }

    /// Queues a note, unless it is queued already or the queue is full.
    fn note(&mut self, note: Note) -> Result<(), Overflow> {
        if self.queue.contains(&note) {
            return Ok(());
        }
        if self.queue.len() >= self.limit {
            return Err(Overflow);
        }
        self.queue.push(note);
        Ok(())
    }
}

/// The account a change belongs to, for the changes a watch may tell of.
fn account_of(change: &Change) -> Option<Guid> {
    match change {
        Change::MailboxCreated { account, .. }
        | Change::MailboxRenamed { account, .. }
        | Change::MailboxDeleted { account, .. }
        | Change::MailboxSubscribed { account, .. }
        | Change::MessageAdded { account, .. }
        | Change::FlagsChanged { account, .. }
        | Change::MessagesExpunged { account, .. }
        | Change::MessageRenumbered { account, .. }
        | Change::MetadataSet { account, .. } => Some(*account),
        _ => None,
    }
}

/// `* OK [NOTIFICATIONOVERFLOW] ...` (§5.8).
pub fn overflow_status() -> Option<Status<'static>> {
    let code = Code::Other(CodeOther::unvalidated(&b"NOTIFICATIONOVERFLOW"[..]));
    Status::ok(None, Some(code), "Too many notifications; NOTIFY is off").ok()
}

/// The items of a STATUS a watch tells: MESSAGES, UIDNEXT, UIDVALIDITY and UNSEEN
/// (§5.2, §5.3 ask for the first two; §3.1's STATUS at NOTIFY for the third; UNSEEN is
/// what a client shows), and HIGHESTMODSEQ when `modseq` (§5.1–5.3: CONDSTORE or
/// QRESYNC is on; §3.1: FlagChange is watched).
pub fn status_names(modseq: bool) -> Vec<StatusDataItemName> {
    let mut names = vec![
        StatusDataItemName::Messages,
        StatusDataItemName::UidNext,
        StatusDataItemName::UidValidity,
        StatusDataItemName::Unseen,
    ];
    if modseq {
        names.push(StatusDataItemName::HighestModSeq);
    }
    names
}

/// A mailbox's LIST attributes as a notification tells them (§5.4, §5.5: accurately
/// computed): \Subscribed iff it is, \HasChildren or \HasNoChildren, its special use.
pub fn attributes(m: &Mailbox, all: &[Mailbox], name: &str) -> Vec<FlagNameAttribute<'static>> {
    let prefix = format!("{name}/");
    let mut out = Vec::new();
    if m.subscribed {
        out.push("Subscribed");
    }
    out.push(if all.iter().any(|c| c.name.starts_with(&prefix)) {
        "HasChildren"
    } else {
        "HasNoChildren"
    });
    out.extend(crate::command::list_special_use(m));
    out.into_iter()
        .filter_map(|a| Atom::try_from(a).ok().map(FlagNameAttribute::from))
        .collect()
}

/// One response a flush tells.
enum Told {
    /// An untagged response.
    Data(Data<'static>),
    /// A LIST response with RFC 5258 extended data after it (OLDNAME).
    Suffixed(Data<'static>, String),
}

/// Tells the queued notes (STATUS, LIST, METADATA), as the mailboxes are now.
pub async fn tell<S: Stream>(s: &mut Session<S>) {
    let Some(w) = s.notify.as_mut() else {
        return;
    };
    if w.queue.is_empty() {
        return;
    }
    let notes = std::mem::take(&mut w.queue);
    let Some(account) = s.state.account().cloned() else {
        return;
    };
    // One read of the account's mailboxes serves every note: names, subscriptions,
    // children.
    let all = match s.imap.store.mailboxes(account.id).await {
        Ok(all) => all,
        Err(e) => {
            tracing::warn!(error = %e, "notifications not told: mailboxes not read");
            return;
        }
    };
    let told = match compose(s, notes, &all).await {
        Ok(told) => told,
        Err(e) => {
            tracing::warn!(error = %e, "notifications not told");
            return;
        }
    };
    for t in told {
        match t {
            Told::Data(d) => s.data(d),
            Told::Suffixed(d, suffix) => s.data_with_suffix(d, suffix.as_bytes()),
        }
    }
}

/// The responses for `notes`, given the account's mailboxes `all`.
async fn compose<S: Stream>(
    s: &Session<S>,
    notes: Vec<Note>,
    all: &[Mailbox],
) -> Result<Vec<Told>, twinmail_store::StoreError> {
    let Some(w) = s.notify.as_ref() else {
        return Ok(Vec::new());
    };
    let by_guid: HashMap<Guid, &Mailbox> = all.iter().map(|m| (m.guid, m)).collect();
    let selected = match &s.state {
        State::Selected { view, .. } => Some(view.mailbox.guid),
        _ => None,
    };
    let delimiter = QuotedChar::try_from('/').ok();
    let list = |name: &str, items| Data::List {
        items,
        delimiter,
        mailbox: s.wire_mailbox(name),
    };
    let wire_name = |name: &str| {
        if s.utf8 {
            name.to_string()
        } else {
            crate::mutf7::encode(name)
        }
    };
    let names = status_names(s.condstore || s.qresync);
    let mut told = Vec::new();
    // METADATA entries by mailbox (None: the server), in the order first noted.
    let mut metadata: Vec<(Option<Guid>, Vec<String>)> = Vec::new();
    for note in notes {
        match note {
            Note::Status { mailbox, events } => {
                let Some(m) = by_guid.get(&mailbox) else {
                    continue;
                };
                if Some(m.guid) == selected || !w.events_for(&m.name, m.subscribed).any(events) {
                    continue;
                }
                told.push(Told::Data(
                    crate::command::status::status_items(s, m, &names).await?,
                ));
            }
            Note::Created { mailbox, name } => {
                // Gone again before it was told: its deletion's note says so.
                let Some(m) = by_guid.get(&mailbox) else {
                    continue;
                };
                if w.events_for(&name, m.subscribed).any(Events::NAME) {
                    told.push(Told::Data(list(&name, attributes(m, all, &name))));
                }
            }
            Note::Renamed { mailbox, from, to } => {
                let Some(m) = by_guid.get(&mailbox) else {
                    continue;
                };
                let names_it = |n: &str| w.events_for(n, m.subscribed).any(Events::NAME);
                if names_it(&from) || names_it(&to) {
                    // §5.4: an extended LIST for the new name, OLDNAME the old one.
                    let suffix = format!(
                        " (\"OLDNAME\" ({}))",
                        crate::convert::quoted(&wire_name(&from))
                    );
                    told.push(Told::Suffixed(list(&to, attributes(m, all, &to)), suffix));
                }
            }
            Note::Deleted { name, subscribed } => {
                if w.events_for(&name, subscribed).any(Events::NAME) {
                    let gone = Atom::try_from("NonExistent")
                        .ok()
                        .map(FlagNameAttribute::from);
                    told.push(Told::Data(list(&name, gone.into_iter().collect())));
                }
            }
            Note::Subscription { mailbox } => {
                let Some(m) = by_guid.get(&mailbox) else {
                    continue;
                };
                // Subscribed before or after: a SUBSCRIBED group hears both ways.
                if w.events_for(&m.name, true).any(Events::SUBSCRIPTION) {
                    told.push(Told::Data(list(&m.name, attributes(m, all, &m.name))));
                }
            }
            Note::Metadata { mailbox, entry } => {
                let wanted = match mailbox.and_then(|g| by_guid.get(&g)) {
                    Some(m) => w
                        .events_for(&m.name, m.subscribed)
                        .any(Events::MAILBOX_METADATA),
                    None if mailbox.is_some() => false,
                    None => w.wanted.any(Events::SERVER_METADATA),
                };
                if !wanted {
                    continue;
                }
                match metadata.iter_mut().find(|(g, _)| *g == mailbox) {
                    Some((_, entries)) if !entries.contains(&entry) => entries.push(entry),
                    Some(_) => {}
                    None => metadata.push((mailbox, vec![entry])),
                }
            }
        }
    }
    for (mailbox, entries) in metadata {
        let wire = match mailbox.and_then(|g| by_guid.get(&g)) {
            Some(m) => s.wire_mailbox(&m.name),
            None => match WireMailbox::try_from("") {
                Ok(m) => m,
                Err(_) => continue,
            },
        };
        let entries: Vec<Entry<'static>> = entries
            .into_iter()
            .filter_map(|e| Entry::try_from(AString::try_from(e).ok()?).ok())
            .collect();
        if let Ok(entries) = Vec1::try_from(entries) {
            told.push(Told::Data(Data::Metadata {
                mailbox: wire,
                items: MetadataResponse::WithoutValues(entries),
            }));
        }
    }
    Ok(told)
}

/// The tag the FETCH a push runs for MessageNew's attributes answers with; never sent
/// (only its untagged responses are).
pub fn push_tag() -> Option<Tag<'static>> {
    Tag::try_from("NOTIFY").ok()
}

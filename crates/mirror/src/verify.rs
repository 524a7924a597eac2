//! `twinmail mirror verify`: compares this twin with the other over the mirror port.
//! Domains, aliases and accounts (with password hashes, quotas, and a digest of their
//! METADATA annotations and Sieve scripts) are compared whole; mailboxes by
//! their attributes and a digest over every message's UID, GUID, flags and MODSEQ; a
//! mailbox whose digest differs is narrowed down by UID range to the messages that differ.

use std::{collections::BTreeMap, fmt};

use tokio::{io::AsyncWriteExt, net::TcpStream};
use tokio_rustls::TlsStream;
use twinmail_store::{DigestRow, MailboxDigest, Narrowed, Store, digest_rows};

use crate::{
    LinkError, MirrorSettings,
    auth::{self, Me},
    frame::{self, Answer, Frame, Purpose, Query, Summary},
};

/// UIDs per range when a mailbox is narrowed down.
const RANGE: u32 = 4096;

/// One difference between the twins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// What differs (an account, a mailbox, a message).
    pub what: String,
    /// This twin's value.
    pub here: String,
    /// The other twin's value.
    pub there: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: here {}, twin {}", self.what, self.here, self.there)
    }
}

async fn summary(store: &Store) -> Result<Summary, LinkError> {
    Ok(Summary {
        domains: store.domains().await?,
        aliases: store.aliases().await?,
        accounts: store.account_facts().await?,
        mailboxes: store.mailbox_digests().await?,
    })
}

/// Answers `mirror verify` queries on an authenticated connection until it closes.
pub(crate) async fn serve(
    store: &Store,
    stream: &mut TlsStream<TcpStream>,
) -> Result<(), LinkError> {
    loop {
        let q = match frame::read(stream).await {
            Ok(Frame::Query(q)) => q,
            Ok(_) => return Err(LinkError::Protocol("expected a query".into())),
            Err(frame::FrameError::Io(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let a = match q {
            Query::Summary => Answer::Summary(summary(store).await?),
            Query::Rows { mailbox, from, to } => Answer::Rows {
                rows: store.digest_rows(&mailbox, from, to).await?,
            },
        };
        frame::write(stream, &Frame::Answer(a)).await?;
        stream.flush().await?;
    }
}

async fn ask(stream: &mut TlsStream<TcpStream>, q: Query) -> Result<Answer, LinkError> {
    frame::write(stream, &Frame::Query(q)).await?;
    stream.flush().await?;
    match frame::read(stream).await? {
        Frame::Answer(a) => Ok(a),
        _ => Err(LinkError::Protocol("expected an answer".into())),
    }
}

/// Compares this twin's store with the twin's; returns every difference found.
pub async fn verify(
    store: &Store,
    settings: &MirrorSettings,
) -> Result<Vec<Difference>, LinkError> {
    Ok(compare_with_twin(store, settings).await?.0)
}

/// Compares this twin's store with the twin's: every difference found, and each mailbox
/// whose messages differ with the twin's rows of the ranges that differ (for the repair).
pub(crate) async fn compare_with_twin(
    store: &Store,
    settings: &MirrorSettings,
) -> Result<(Vec<Difference>, Vec<Narrowed>), LinkError> {
    let tcp = TcpStream::connect(settings.twin_addr).await?;
    let me = Me {
        node: settings.node.clone(),
        incarnation: store.incarnation().to_string(),
    };
    let mut authed = auth::dial(tcp, &me, &settings.secret, Purpose::Verify).await?;
    let stream = &mut authed.stream;
    let there = match ask(stream, Query::Summary).await? {
        Answer::Summary(s) => s,
        _ => return Err(LinkError::Protocol("expected a summary".into())),
    };
    let here = summary(store).await?;
    let mut out = Vec::new();
    let mut narrowed = Vec::new();
    let mut diff =
        |what: String, here: String, there: String| out.push(Difference { what, here, there });
    compare(
        &mut diff,
        "domain",
        &here.domains,
        &there.domains,
        |d| d.clone(),
        |_| String::new(),
    );
    compare(
        &mut diff,
        "alias",
        &here.aliases,
        &there.aliases,
        |a| format!("{} -> {}", a.0, a.1),
        |_| String::new(),
    );
    compare(
        &mut diff,
        "account",
        &here.accounts,
        &there.accounts,
        |a| a.name.clone(),
        |a| {
            format!(
                "guid {} disabled {} home {} quota {} password hash {} annotations and sieve {}",
                a.guid,
                a.disabled,
                a.home.as_deref().unwrap_or("(spread)"),
                a.quota_bytes
                    .map_or_else(|| "none".to_string(), |q| q.to_string()),
                short(&a.password_hash),
                short(&a.settings)
            )
        },
    );
    compare(
        &mut diff,
        "mailbox",
        &here.mailboxes,
        &there.mailboxes,
        |m| m.guid.to_string(),
        describe,
    );
    let theirs: BTreeMap<_, _> = there.mailboxes.iter().map(|m| (m.guid, m)).collect();
    for m in &here.mailboxes {
        let Some(t) = theirs.get(&m.guid) else {
            continue;
        };
        if m.digest == t.digest {
            continue;
        }
        let top = m.uidnext.max(t.uidnext);
        let mut differs = Narrowed {
            mailbox: m.guid,
            ranges: Vec::new(),
            theirs: Vec::new(),
            uidnext: t.uidnext,
            highestmodseq: t.highestmodseq,
        };
        let mut from = 1u32;
        while from < top {
            let to = from.saturating_add(RANGE - 1);
            let mine = store.digest_rows(&m.guid, from, to).await?;
            let other = match ask(
                stream,
                Query::Rows {
                    mailbox: m.guid,
                    from,
                    to,
                },
            )
            .await?
            {
                Answer::Rows { rows } => rows,
                _ => return Err(LinkError::Protocol("expected rows".into())),
            };
            if digest_rows(&mine) != digest_rows(&other) {
                compare(
                    &mut diff,
                    &format!("{} {:?} message", m.account, m.name),
                    &mine,
                    &other,
                    |r: &DigestRow| format!("uid {}", r.uid),
                    |r| format!("guid {} flags ({}) modseq {}", r.guid, r.flags, r.modseq),
                );
                differs.ranges.push((from, to));
                differs.theirs.extend(other);
            }
            from = to.saturating_add(1);
        }
        if !differs.ranges.is_empty() {
            narrowed.push(differs);
        }
    }
    Ok((out, narrowed))
}

fn describe(m: &MailboxDigest) -> String {
    format!(
        "{} {:?} uidvalidity {} uidnext {} highestmodseq {} subscribed {} messages {} digest {}",
        m.account,
        m.name,
        m.uidvalidity,
        m.uidnext,
        m.highestmodseq,
        m.subscribed,
        m.count,
        short(&m.digest)
    )
}

/// The last 16 characters of a hash (a PHC string starts alike for every password: its
/// tail is what differs), for comparing and showing.
fn short(s: &str) -> &str {
    let at = s.len().saturating_sub(16);
    s.get(at..).unwrap_or(s)
}

/// Pairs items by key and reports those missing on one side or described differently.
fn compare<T>(
    diff: &mut impl FnMut(String, String, String),
    kind: &str,
    here: &[T],
    there: &[T],
    key: impl Fn(&T) -> String,
    desc: impl Fn(&T) -> String,
) {
    let a: BTreeMap<String, String> = here.iter().map(|x| (key(x), desc(x))).collect();
    let b: BTreeMap<String, String> = there.iter().map(|x| (key(x), desc(x))).collect();
    for (k, v) in &a {
        match b.get(k) {
            None => diff(format!("{kind} {k}"), v.clone(), "missing".into()),
            Some(w) if w != v => diff(format!("{kind} {k}"), v.clone(), w.clone()),
            _ => {}
        }
    }
    for (k, w) in &b {
        if !a.contains_key(k) {
            diff(format!("{kind} {k}"), "missing".into(), w.clone());
        }
    }
}

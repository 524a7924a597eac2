//! The delivery pipeline: the one seam between an SMTP session and the store. Filters
//! (hop limit here; sender authentication, clamd and rspamd in twinmail-filter) run in
//! order on the finished message, each seeing the edits of those before it; then one
//! store transaction delivers it to every recipient's INBOX, or to their Junk folder when
//! a filter said so. The mirror sees mail only after this point, so nothing may bypass
//! it, and the twin receives the finished bytes (added headers included) and never
//! filters them again (DESIGN.md "Data flow").

use std::{future::Future, net::IpAddr, ops::Range, pin::Pin, sync::Arc};

use twinmail_store::{Delivery, Flags, Guid, Placed, Role, StoreError, request_id};

use crate::{Kind, srs::Srs};

/// What the session knows about a message besides its bytes.
#[derive(Clone, Debug)]
pub struct Envelope {
    /// The reverse-path (MAIL FROM), empty for bounces.
    pub from: String,
    /// The recipients as given in RCPT TO.
    pub recipients: Vec<String>,
    /// The client's address.
    pub peer: IpAddr,
    /// The name the client gave in HELO/EHLO.
    pub helo: String,
    /// The authenticated user, on submission.
    pub user: Option<String>,
    /// The service the message came in on: sender authentication runs on `Mx` only.
    pub kind: Kind,
    /// The queue id named in our Received header and in the 250 reply (16 hex digits).
    pub id: String,
}

/// What a filter wants changed in a message it lets through. Byte ranges refer to the
/// message as this filter saw it; the pipeline applies them before the next filter runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Edits {
    /// Header fields to put on top, in this order, each `Name: value` without the final
    /// CRLF (folded lines inside are CRLF + whitespace).
    pub prepend: Vec<String>,
    /// Whole header fields (with their CRLF) to cut out, as byte ranges of the message;
    /// they must not overlap.
    pub remove: Vec<Range<usize>>,
    /// Deliver into each recipient's folder of this role (created if missing) instead of
    /// INBOX; `Role::Junk` is the only one the filters use.
    pub folder: Option<Role>,
    /// Flags to set on arrival (e.g. `$Junk`).
    pub flags: Vec<String>,
}

impl Edits {
    /// True when nothing is to change.
    pub fn is_empty(&self) -> bool {
        self == &Edits::default()
    }
}

/// A filter's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver, with these changes (often none).
    Accept(Edits),
    /// Refuse for good with this reply (`5xx x.x.x text`).
    Reject(String),
    /// Refuse for now with this reply (`4xx x.x.x text`): the client tries again later.
    TempFail(String),
}

impl Verdict {
    /// Deliver unchanged.
    pub fn accept() -> Verdict {
        Verdict::Accept(Edits::default())
    }
}

/// A filter's pending answer: boxed so that filters can sit behind `dyn Filter`.
pub type Check<'a> = Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;

/// One check on a finished message.
pub trait Filter: Send + Sync {
    /// A short name for logs (`auth`, `clamd`, `rspamd`, `hops`).
    fn name(&self) -> &'static str;

    /// Looks at the message (trace headers already added) and decides.
    fn check<'a>(&'a self, envelope: &'a Envelope, message: &'a [u8]) -> Check<'a>;
}

/// Refuses messages that have been relayed too often: a mail loop (RFC 5321 §6.3).
pub struct HopLimit(pub usize);

impl Filter for HopLimit {
    fn name(&self) -> &'static str {
        "hops"
    }

    fn check<'a>(&'a self, _: &'a Envelope, message: &'a [u8]) -> Check<'a> {
        let hops = headers(message)
            .filter(|line| line.len() >= 9 && line[..9].eq_ignore_ascii_case(b"received:"))
            .count();
        let verdict = if hops > self.0 {
            Verdict::Reject(format!("554 5.4.6 Too many hops ({hops}): mail loop?"))
        } else {
            Verdict::accept()
        };
        Box::pin(std::future::ready(verdict))
    }
}

/// The lines of the header section (up to the first empty line).
fn headers(message: &[u8]) -> impl Iterator<Item = &[u8]> {
    message
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
}

/// Why a delivery did not happen.
#[derive(Debug)]
pub enum Refused {
    /// A filter refused it; the reply to send (4xx or 5xx).
    Filter(String),
    /// The store failed.
    Store(StoreError),
}

/// Filters, then the store.
#[derive(Clone)]
pub struct Pipeline {
    /// Checks in order; the first refusal wins.
    filters: Vec<Arc<dyn Filter>>,
    /// Rewrites the sender of mail an alias forwards to another domain; `None`: such
    /// mail keeps its sender.
    srs: Option<Arc<Srs>>,
}

impl Pipeline {
    /// A pipeline with these filters.
    pub fn new(filters: Vec<Arc<dyn Filter>>) -> Pipeline {
        Pipeline { filters, srs: None }
    }

    /// The same pipeline, rewriting the senders of forwarded mail with `srs`.
    pub fn with_srs(mut self, srs: Arc<Srs>) -> Pipeline {
        self.srs = Some(srs);
        self
    }

    /// The sender rewriting in use, if any (RCPT takes bounces to its addresses).
    pub fn srs(&self) -> Option<&Srs> {
        self.srs.as_deref()
    }

    /// Runs the filters, applying each one's edits before the next, and, if all accept,
    /// delivers durably. A later filter's folder wins over an earlier one's; flags add up.
    pub async fn deliver(
        &self,
        envelope: &Envelope,
        delivery: Delivery,
        mut message: Vec<u8>,
    ) -> Result<Vec<Placed>, Refused> {
        let mut folder = None;
        let mut flags: Vec<String> = Vec::new();
        for f in &self.filters {
            match f.check(envelope, &message).await {
                Verdict::Accept(edits) => {
                    if !edits.prepend.is_empty() || !edits.remove.is_empty() {
                        message = apply(&message, &edits);
                    }
                    folder = edits.folder.or(folder);
                    flags.extend(edits.flags);
                }
                Verdict::Reject(reply) | Verdict::TempFail(reply) => {
                    tracing::debug!(filter = f.name(), id = %envelope.id, "filter refused");
                    return Err(Refused::Filter(reply));
                }
            }
        }
        // Aliases that forward to other domains queue the filtered message.
        self.forward(envelope, &delivery, &message).await?;
        // Then each recipient's Sieve script, if it has one.
        let default = crate::sieve::Placement {
            folder,
            flags: Flags::new(flags.iter().map(String::as_str)),
        };
        crate::sieve::deliver(envelope, delivery, message, default, self.srs.as_deref()).await
    }
}

impl Pipeline {
    /// Queues the message for each address in another domain an alias forwards to, from
    /// the sender rewritten by SRS in the alias's domain (so SPF passes at the
    /// destination, and bounces come back to us and go on to the sender). Named by the
    /// delivery: a client's retry queues nothing twice.
    async fn forward(
        &self,
        envelope: &Envelope,
        delivery: &Delivery,
        message: &[u8],
    ) -> Result<(), Refused> {
        if delivery.forwards().is_empty() {
            return Ok(());
        }
        let key = delivery.key().unwrap_or_else(Guid::random);
        let bytes = Arc::new(message.to_vec());
        for (target, alias) in delivery.forwards() {
            let domain = alias.rsplit_once('@').map_or("", |(_, d)| d);
            let from = match &self.srs {
                Some(srs) => srs.forward(&envelope.from, domain, crate::srs::today()),
                None => envelope.from.clone(),
            };
            let id = request_id(&[b"alias-forward", &key.0, target.as_bytes()]);
            delivery
                .store()
                .enqueue(id, &from, std::slice::from_ref(target), bytes.clone())
                .await
                .map_err(Refused::Store)?;
            tracing::info!(id = %envelope.id, "forwarded by an alias to another domain");
        }
        Ok(())
    }
}

/// The message with `edits.remove` cut out and `edits.prepend` on top, below our
/// Return-Path (which stays the first field, RFC 5321 §4.4).
fn apply(message: &[u8], edits: &Edits) -> Vec<u8> {
    let added: usize = edits.prepend.iter().map(|h| h.len() + 2).sum();
    let mut out = Vec::with_capacity(message.len() + added);
    let top = return_path_len(message);
    out.extend_from_slice(&message[..top]);
    for h in &edits.prepend {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let mut cuts: Vec<&Range<usize>> = edits.remove.iter().collect();
    cuts.sort_by_key(|r| r.start);
    let mut at = top;
    for r in cuts {
        let (start, end) = (r.start.max(at), r.end.min(message.len()));
        if start < end {
            out.extend_from_slice(&message[at..start]);
            at = end;
        }
    }
    out.extend_from_slice(&message[at..]);
    out
}

/// The length of a leading Return-Path field with its CRLF (0 without one).
fn return_path_len(message: &[u8]) -> usize {
    const NAME: &[u8] = b"return-path:";
    if message.len() < NAME.len() || !message[..NAME.len()].eq_ignore_ascii_case(NAME) {
        return 0;
    }
    let mut end = 0;
    while let Some(nl) = message[end..].iter().position(|&b| b == b'\n') {
        end += nl + 1;
        if !matches!(message.get(end), Some(b' ' | b'\t')) {
            return end;
        }
    }
    0
}

impl Default for Pipeline {
    /// The standard filters: a hop limit of 50.
    fn default() -> Pipeline {
        Pipeline::new(vec![Arc::new(HopLimit(50))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_cut_and_prepend() {
        let m = b"A: 1\r\nB: 2\r\n\tmore\r\nC: 3\r\n\r\nbody\r\n";
        let edits = Edits {
            prepend: vec!["X: new".into(), "Y: folded\r\n\tline".into()],
            remove: vec![19..25, 0..6],
            ..Edits::default()
        };
        assert_eq!(
            apply(m, &edits),
            b"X: new\r\nY: folded\r\n\tline\r\nB: 2\r\n\tmore\r\n\r\nbody\r\n"
        );
        let m = b"Return-Path: <a@b.test>\r\nA: 1\r\n\r\nbody\r\n";
        let edits = Edits {
            prepend: vec!["X: new".into()],
            remove: std::iter::once(25..31).collect(),
            ..Edits::default()
        };
        assert_eq!(
            apply(m, &edits),
            b"Return-Path: <a@b.test>\r\nX: new\r\n\r\nbody\r\n"
        );
    }
}

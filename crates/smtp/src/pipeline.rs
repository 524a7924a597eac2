//! The delivery pipeline: the one seam between an SMTP session and the store. Filters
//! (hop limit now; authentication results, spam and virus checks later) run on the
//! finished message, then one store transaction delivers it to every recipient's INBOX.
//! The mirror sees mail only after this point, so nothing may bypass it.

use std::{net::IpAddr, sync::Arc};

use twinmail_store::{Delivery, Placed, StoreError};

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
}

/// A filter's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver.
    Accept,
    /// Refuse with this reply (code, enhanced code and text, e.g. `554 5.4.6 ...`).
    Reject(String),
}

/// One check on a finished message.
pub trait Filter: Send + Sync {
    /// Looks at the message (trace headers already added) and decides.
    fn check(&self, envelope: &Envelope, message: &[u8]) -> Verdict;
}

/// Refuses messages that have been relayed too often: a mail loop (RFC 5321 §6.3).
pub struct HopLimit(pub usize);

impl Filter for HopLimit {
    fn check(&self, _: &Envelope, message: &[u8]) -> Verdict {
        let hops = headers(message)
            .filter(|line| line.len() >= 9 && line[..9].eq_ignore_ascii_case(b"received:"))
            .count();
        if hops > self.0 {
            Verdict::Reject(format!("554 5.4.6 Too many hops ({hops}): mail loop?"))
        } else {
            Verdict::Accept
        }
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
    /// A filter refused it; the reply to send.
    Filter(String),
    /// The store failed.
    Store(StoreError),
}

/// Filters, then the store.
#[derive(Clone)]
pub struct Pipeline {
    /// Checks in order; the first refusal wins.
    filters: Vec<Arc<dyn Filter>>,
}

impl Pipeline {
    /// A pipeline with these filters.
    pub fn new(filters: Vec<Arc<dyn Filter>>) -> Pipeline {
        Pipeline { filters }
    }

    /// Runs the filters and, if all accept, delivers durably.
    pub async fn deliver(
        &self,
        envelope: &Envelope,
        delivery: Delivery,
        message: Vec<u8>,
    ) -> Result<Vec<Placed>, Refused> {
        for f in &self.filters {
            if let Verdict::Reject(reply) = f.check(envelope, &message) {
                return Err(Refused::Filter(reply));
            }
        }
        delivery.commit(message).await.map_err(Refused::Store)
    }
}

impl Default for Pipeline {
    /// The standard filters: a hop limit of 50.
    fn default() -> Pipeline {
        Pipeline::new(vec![Arc::new(HopLimit(50))])
    }
}

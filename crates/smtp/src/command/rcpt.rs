//! RCPT TO (RFC 5321 §4.1.1.3): local recipients; foreign ones only from a logged-in user
//! on submission, into the outbound queue, or behind an SRS address of ours (a reply to
//! mail an alias forwarded). Foreign domains are otherwise refused (no open
//! relay), and so are address tricks that route elsewhere: the percent hack, bang paths,
//! source routes and quoted local parts (HOSTILE.md RELAY), for every user.

use smtp_proto::RcptTo;
use twinmail_store::StoreError;

use crate::session::{Flow, Session, State, Stream};
use twinmail_net::Stop;

pub async fn rcpt<S: Stream>(s: &mut Session<S>, to: RcptTo<String>) -> Result<Flow, Stop> {
    let max = s.smtp.settings.max_recipients;
    let State::Mail { tx, .. } = &s.state else {
        s.conn.reply("503 5.5.1 Need MAIL before RCPT");
        return Ok(Flow::Continue);
    };
    if tx.recipients.len() + tx.outbound.len() >= max {
        s.conn.reply("452 4.5.3 Too many recipients");
        return Ok(Flow::Continue);
    }
    let address = to.address;
    let Some((local, domain)) = address.rsplit_once('@') else {
        s.reject("RCPT", "553 5.1.3 Recipient address must be user@domain")
            .await;
        return Ok(Flow::Continue);
    };
    if local.is_empty()
        || local.contains(['%', '!', '@', '"', ':', ','])
        || address.starts_with('@')
    {
        s.reject("RCPT", "553 5.1.3 Address syntax not accepted here")
            .await;
        return Ok(Flow::Continue);
    }
    if local.len() > 5 && local[..5].eq_ignore_ascii_case("SRS0=") {
        return srs_bounce(s, local, domain).await;
    }
    // The common case first: someone here takes it (which implies a local domain). Only
    // when nobody does does the domain decide between "unknown user" and "no relaying".
    let State::Mail { tx, .. } = &mut s.state else {
        return Ok(Flow::Continue);
    };
    match tx.delivery.add_recipient(&address).await {
        Ok(()) => {
            tx.recipients.push(address);
            s.conn.reply("250 2.1.5 Ok");
            return Ok(Flow::Continue);
        }
        Err(StoreError::NotFound(_)) => {}
        Err(StoreError::OverQuota(why)) => {
            tracing::info!(why = %why, "recipient over quota");
            s.reject("RCPT", "552 5.2.2 Mailbox full").await;
            return Ok(Flow::Continue);
        }
        Err(e) => return lookup_failed(s, e),
    }
    let local_domain = match s.smtp.store.is_local_domain(domain).await {
        Ok(l) => l,
        Err(e) => return lookup_failed(s, e),
    };
    let reply = match (local_domain, s.user.is_some()) {
        (true, _) => "550 5.1.1 Recipient address rejected: user unknown",
        (false, true) if s.smtp.settings.outbound && s.kind.is_submission() => {
            let State::Mail { tx, .. } = &mut s.state else {
                return Ok(Flow::Continue);
            };
            if !tx.outbound.contains(&address) {
                tx.outbound.push(address);
            }
            s.conn.reply("250 2.1.5 Ok");
            return Ok(Flow::Continue);
        }
        (false, true) => "554 5.7.1 Delivery to other domains is not available on this server",
        (false, false) => "554 5.7.1 Relay access denied",
    };
    s.reject("RCPT", reply).await;
    Ok(Flow::Continue)
}

/// A reply to mail an alias here forwarded (its sender rewritten by SRS): taken for the
/// original sender, through the outbound queue, when the address was made here and is
/// fresh; refused otherwise (a forged one would make us an open relay).
async fn srs_bounce<S: Stream>(
    s: &mut Session<S>,
    local: &str,
    domain: &str,
) -> Result<Flow, Stop> {
    let local_domain = match s.smtp.store.is_local_domain(domain).await {
        Ok(l) => l,
        Err(e) => return lookup_failed(s, e),
    };
    let original = match s.smtp.pipeline.srs() {
        Some(srs) if local_domain => srs.reverse(local, crate::srs::today()),
        _ => Err(crate::srs::SrsError::Shape),
    };
    match original {
        Ok(original) => {
            let State::Mail { tx, .. } = &mut s.state else {
                return Ok(Flow::Continue);
            };
            if !tx.outbound.contains(&original) {
                tx.outbound.push(original);
            }
            s.conn.reply("250 2.1.5 Ok");
        }
        Err(e) => {
            tracing::info!(why = %e, "refused an SRS address");
            let reply = if local_domain {
                "550 5.1.1 Recipient address rejected: invalid or expired forwarding address"
            } else {
                "554 5.7.1 Relay access denied"
            };
            s.reject("RCPT", reply).await;
        }
    }
    Ok(Flow::Continue)
}

fn lookup_failed<S: Stream>(s: &mut Session<S>, e: StoreError) -> Result<Flow, Stop> {
    tracing::error!(error = %e, "recipient lookup failed");
    s.conn.reply("451 4.3.0 Temporary lookup failure");
    Ok(Flow::Continue)
}

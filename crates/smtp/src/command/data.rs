//! DATA (RFC 5321 §4.1.1.4) and the end of every transaction (shared with BDAT LAST):
//! trace headers, the pipeline, and a 250 only once the message is durable.
//!
//! Only CRLF.CRLF ends DATA; a message that still contains a bare CR or LF is refused
//! rather than normalised, so that no other reading of where it ends can exist
//! downstream (SMTP smuggling, HOSTILE.md SMUG). smtp-proto's receiver also ends the data
//! on CRLF . CR CR ... LF (it stays in its "dot" state through a run of CRs): such an end
//! closes the session with 421, so that nothing after it is read as a command.

use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver};
use std::sync::Arc;
use tokio::time::Instant;

use twinmail_store::{Guid, now_unix, request_id};

use crate::{
    Envelope, date,
    pipeline::Refused,
    session::{Flow, Session, State, Stream},
};
use twinmail_net::{Stop, escaped};

pub async fn data<S: Stream>(s: &mut Session<S>) -> Result<Flow, Stop> {
    let refused = matches!(&s.state, State::Mail { tx, .. } if tx.recipients.is_empty() && tx.outbound.is_empty());
    if refused {
        s.reject("DATA", "554 5.5.1 No valid recipients").await;
    }
    // The client sent its message without waiting for 354 (RFC 2920 §3.1 puts DATA last
    // in a group): after a refusal those lines must never be read as commands, and a
    // client that does not wait is not given the benefit of the doubt either.
    if (refused || s.smtp.settings.enforce_sync) && !s.conn.input().is_empty() {
        s.state.reset();
        s.smtp
            .limits
            .stats
            .rejected("DATA", "421 4.5.0 Improper command pipelining after DATA");
        s.conn
            .reply("421 4.5.0 Improper command pipelining after DATA");
        return Ok(Flow::Quit);
    }
    if refused {
        return Ok(Flow::Continue);
    }
    s.conn.reply("354 End data with <CR><LF>.<CR><LF>");
    let max = s.smtp.settings.max_message_size;
    let mut receiver = DataReceiver::new();
    let mut body = Vec::new();
    // The DATA line ended with CRLF: tell the receiver, so that a "." first line ends an
    // empty message and a ".." first line is unstuffed.
    receiver.ingest(&mut b"\r\n".iter(), &mut body);
    body.clear();
    let mut discard: Option<DummyDataReceiver> = None;
    // This message's share of the bytes all sessions hold; past the cap the rest of the
    // data is read and dropped, and the message refused for now.
    let mut held = twinmail_net::HeldBytes::default();
    let mut over_budget = false;
    let mut end = Tail::after_crlf();
    s.read_deadline(Some(Instant::now() + s.smtp.settings.data_deadline));
    loop {
        let input = s.conn.input();
        let mut it = input.iter();
        let done = match &mut discard {
            Some(d) => d.ingest(&mut it),
            None => receiver.ingest(&mut it, &mut body),
        };
        let used = input.len() - it.as_slice().len();
        end.push(&input[..used]);
        s.conn.consume(used);
        if discard.is_none() && body.len() > max {
            // Keep reading to the end of the data, but hold none of it.
            discard = Some(DummyDataReceiver::new_data(&receiver));
            body = Vec::new();
        }
        if discard.is_none() && !held.grow_to(body.capacity(), s.smtp.settings.max_bytes_in_flight)
        {
            discard = Some(DummyDataReceiver::new_data(&receiver));
            body = Vec::new();
            held = twinmail_net::HeldBytes::default();
            over_budget = true;
        }
        if done {
            break;
        }
        let timeout = s.smtp.settings.data_timeout;
        s.conn.fill(timeout).await?;
    }
    if !end.is(b"\r\n.\r\n") {
        s.state.reset();
        let reply =
            "421 4.5.2 Data ended by something other than <CR><LF>.<CR><LF>, closing connection";
        s.smtp.limits.stats.rejected("DATA", reply);
        s.conn.reply(reply);
        return Ok(Flow::Quit);
    }
    if over_budget {
        s.state.reset();
        tracing::warn!(
            in_flight = twinmail_net::HeldBytes::in_flight(),
            "message refused for now: too many message bytes in memory"
        );
        s.reject(
            "DATA",
            "451 4.3.1 Insufficient system resources, try again later",
        )
        .await;
        return Ok(Flow::Continue);
    }
    if discard.is_some() {
        s.state.reset();
        s.reject(
            "DATA",
            "552 5.3.4 Message size exceeds fixed maximum message size",
        )
        .await;
        return Ok(Flow::Continue);
    }
    if has_bare_cr_or_lf(&body) {
        s.state.reset();
        s.reject(
            "DATA",
            "550 5.5.2 Message contains a bare CR or LF; lines must end with CRLF",
        )
        .await;
        return Ok(Flow::Continue);
    }
    finish(s, "DATA", body).await
}

/// The last five bytes read: what ended the data.
struct Tail(
    /// The bytes, oldest first.
    [u8; 5],
);

impl Tail {
    /// Starts as if after the CRLF that ended the DATA line (a lone "." ends an empty
    /// message).
    fn after_crlf() -> Tail {
        Tail([0, 0, 0, b'\r', b'\n'])
    }

    /// Adds bytes read.
    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().rev().take(5).rev() {
            self.0.rotate_left(1);
            self.0[4] = b;
        }
    }

    /// True when the last bytes read were `end`.
    fn is(&self, end: &[u8; 5]) -> bool {
        &self.0 == end
    }
}

/// True when a CR not followed by LF, or an LF not preceded by CR, occurs.
pub fn has_bare_cr_or_lf(b: &[u8]) -> bool {
    b.iter().enumerate().any(|(i, &c)| match c {
        b'\r' => b.get(i + 1) != Some(&b'\n'),
        b'\n' => i == 0 || b[i - 1] != b'\r',
        _ => false,
    })
}

/// Ends the transaction: adds Return-Path and Received, runs the pipeline, replies.
pub async fn finish<S: Stream>(
    s: &mut Session<S>,
    command: &'static str,
    body: Vec<u8>,
) -> Result<Flow, Stop> {
    let State::Mail { helo, esmtp, tx } = std::mem::replace(&mut s.state, State::Fresh) else {
        s.conn.reply("503 5.5.1 Bad sequence of commands");
        return Ok(Flow::Continue);
    };
    s.state = State::Greeted {
        helo: helo.clone(),
        esmtp,
    };
    let id = Guid::random().to_hex()[..16].to_uppercase();
    // The same transaction sent again (a client retrying after a lost 250, or after our
    // 451 while the home twin's answer was in doubt) is the same delivery: named by what
    // the client sent, before any header of ours. Only a message with a Message-ID is
    // named so: without one, two identical messages (a script's daily "backup ok") may
    // well be two messages.
    let mut tx = tx;
    let mut queue_id = Guid::random();
    if has_message_id(&body) {
        let mut parts: Vec<&[u8]> = vec![b"smtp", tx.from.as_bytes()];
        parts.extend(tx.recipients.iter().map(|r| r.as_bytes()));
        parts.push(&body);
        tx.delivery.identify(request_id(&parts));
        let mut parts: Vec<&[u8]> = vec![b"queue", tx.from.as_bytes()];
        parts.extend(tx.outbound.iter().map(|r| r.as_bytes()));
        parts.push(&body);
        queue_id = request_id(&parts);
    }
    // The sender's Sent copy is the message as their client wrote it (no trace headers
    // of ours), filed first: idempotent by the submission's key, so a retry files none
    // twice, and a failure leaves nothing delivered or queued yet.
    if let Some(account_id) = sent_copy_for(s).await {
        let key = tx.delivery.key().unwrap_or(queue_id);
        if let Err(e) = s.smtp.store.save_sent(account_id, key, body.clone()).await {
            refused(s, command, &id, Refused::Store(e)).await;
            return Ok(Flow::Continue);
        }
    }
    let all: Vec<String> = tx.recipients.iter().chain(&tx.outbound).cloned().collect();
    let mut message = trace_headers(s, &helo, esmtp, &tx.from, &all, &id).into_bytes();
    message.extend_from_slice(&body);
    drop(body);
    let outbound = std::mem::take(&mut tx.outbound);
    // Foreign recipients are queued once local ones (if any) have their copy: the queue
    // write is idempotent by `queue_id`, so a client retrying after a failure here gets
    // one delivery of each.
    let queued = (!outbound.is_empty()).then(|| (queue_id, Arc::new(message.clone())));
    let envelope = Envelope {
        from: tx.from,
        recipients: tx.recipients,
        peer: s.peer.ip(),
        helo,
        user: s.user.as_ref().map(|u| u.name.clone()),
        kind: s.kind,
        id: id.clone(),
    };
    let size = message.len();
    let delivered = if envelope.recipients.is_empty() {
        Ok(Vec::new())
    } else {
        s.smtp
            .pipeline
            .deliver(&envelope, tx.delivery, message)
            .await
    };
    let delivered = match (delivered, queued) {
        (Ok(placed), Some((qid, bytes))) => {
            match s
                .smtp
                .store
                .enqueue(qid, &envelope.from, &outbound, bytes)
                .await
            {
                Ok(_) => {
                    tracing::info!(id = %id, queue_id = %qid.to_hex(), recipients = outbound.len(), "queued for other domains");
                    Ok(placed)
                }
                Err(e) => Err(Refused::Store(e)),
            }
        }
        (d, _) => d,
    };
    match delivered {
        Ok(placed) => {
            tracing::info!(id = %id, size, mailboxes = placed.len(), from = %escaped(&envelope.from), "delivered");
            s.smtp.limits.stats.received(placed.len());
            s.junk = 0;
            s.conn.reply(&format!("250 2.0.0 Ok: queued as {id}"));
        }
        Err(refusal) => refused(s, command, &id, refusal).await,
    }
    Ok(Flow::Continue)
}

/// The account whose Sent folder gets a copy of this message: the logged-in user's on
/// submission, when their METADATA entry says "yes" or, without one, the server's
/// default does.
async fn sent_copy_for<S: Stream>(s: &Session<S>) -> Option<i64> {
    let user = s.user.as_ref().filter(|_| s.kind.is_submission())?;
    let default = s.smtp.settings.save_sent;
    let entries = match s.smtp.store.metadata(user.id, None).await {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(error = %e, "reading the save-sent preference");
            Vec::new()
        }
    };
    let wanted = entries
        .iter()
        .find(|(entry, _)| entry == crate::SAVE_SENT_ENTRY)
        .map_or(default, |(_, v)| {
            v.trim_ascii().eq_ignore_ascii_case(b"yes")
        });
    wanted.then_some(user.id)
}

/// Answers a message that was not taken.
async fn refused<S: Stream>(s: &mut Session<S>, command: &'static str, id: &str, refusal: Refused) {
    match refusal {
        Refused::Filter(reply) => {
            tracing::info!(id = %id, reply = %escaped(&reply), "refused by filter");
            s.reject(command, &reply).await;
        }
        Refused::Store(e) if e.is_disk_full() => {
            tracing::error!(id = %id, error = %e, "disk full");
            s.conn.reply("452 4.3.1 Insufficient system storage");
        }
        Refused::Store(e) => {
            tracing::error!(id = %id, error = %e, "delivery failed");
            s.conn.reply("451 4.3.0 Local error in processing");
        }
    }
}

fn trace_headers<S>(
    s: &Session<S>,
    helo: &str,
    esmtp: bool,
    from: &str,
    rcpts: &[String],
    id: &str,
) -> String {
    // RFC 3848 protocol names.
    let with = match (esmtp, s.tls.is_some(), s.user.is_some()) {
        (false, _, _) => "SMTP",
        (true, false, false) => "ESMTP",
        (true, false, true) => "ESMTPA",
        (true, true, false) => "ESMTPS",
        (true, true, true) => "ESMTPSA",
    };
    let tls = s
        .tls
        .as_ref()
        .map(|t| format!("\r\n\t(using {} with cipher {})", t.version, t.cipher))
        .unwrap_or_default();
    // Name the recipient only when there is one, so one copy does not disclose the others.
    let rcpt = match rcpts {
        [one] => format!("\r\n\tfor <{one}>"),
        _ => String::new(),
    };
    let from: String = from.chars().filter(|c| !c.is_control()).collect();
    format!(
        "Return-Path: <{from}>\r\nReceived: from {helo} ([{ip}])\r\n\tby {host} (twinmail) with {with}{tls}\r\n\tid {id}{rcpt}; {date}\r\n",
        ip = s.peer.ip(),
        host = s.smtp.settings.hostname,
        date = date::rfc5322(now_unix()),
    )
}

/// True when the message's header section has a Message-ID field (RFC 5322 §3.6.4).
fn has_message_id(message: &[u8]) -> bool {
    message
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
        .any(|l| l.len() >= 11 && l[..11].eq_ignore_ascii_case(b"message-id:"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn bare_line_ends_are_found() {
        use super::has_bare_cr_or_lf as bare;
        assert!(!bare(b"a\r\nb\r\n"));
        assert!(bare(b"a\nb\r\n"));
        assert!(bare(b"a\rb\r\n"));
        assert!(bare(b"\n"));
        assert!(bare(b"a\r"));
        assert!(!bare(b""));
    }

    #[test]
    fn the_tail_keeps_the_last_five_bytes() {
        let mut t = super::Tail::after_crlf();
        assert!(!t.is(b"\r\n.\r\n"));
        t.push(b".\r\n");
        assert!(t.is(b"\r\n.\r\n"));
        t.push(b"abc\r\n.\r\r\n");
        assert!(!t.is(b"\r\n.\r\n"));
        t.push(b"x\r\n.");
        t.push(b"\r");
        t.push(b"\n");
        assert!(t.is(b"\r\n.\r\n"));
    }
}

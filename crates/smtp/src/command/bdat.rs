//! BDAT (RFC 3030 CHUNKING). The chunk's bytes are always read, whatever the reply, and
//! never parsed: BDAT content is opaque, so no command can hide inside it. The message
//! they make up gets the same check as DATA: a bare CR or LF in it is refused, since we
//! offer no BINARYMIME and a later reader (a relay, a mail client) could split on it.

use smtp_proto::request::receiver::{BdatReceiver, DummyDataReceiver};
use tokio::time::Instant;

use crate::{
    command::data::{finish, has_bare_cr_or_lf},
    session::{Flow, Session, State, Stream},
};
use twinmail_net::Stop;

pub async fn bdat<S: Stream>(
    s: &mut Session<S>,
    chunk_size: usize,
    is_last: bool,
) -> Result<Flow, Stop> {
    let max = s.smtp.settings.max_message_size;
    let cap = s.smtp.settings.max_bytes_in_flight;
    let refusal = match &mut s.state {
        State::Mail { tx, .. } if tx.recipients.is_empty() && tx.outbound.is_empty() => {
            Some("554 5.5.1 No valid recipients")
        }
        State::Mail { tx, .. } if tx.chunks.len().saturating_add(chunk_size) > max => {
            Some("552 5.3.4 Message size exceeds fixed maximum message size")
        }
        // The chunk's room among the message bytes all sessions hold, taken before
        // any of it is read.
        State::Mail { tx, .. } => {
            let total = tx.chunks.len().saturating_add(chunk_size);
            if tx.held.grow_to(total, cap) {
                None
            } else {
                tracing::warn!(
                    in_flight = twinmail_net::HeldBytes::in_flight(),
                    "chunk refused for now: too many message bytes in memory"
                );
                Some("451 4.3.1 Insufficient system resources, try again later")
            }
        }
        _ => Some("503 5.5.1 Need MAIL before BDAT"),
    };
    let timeout = s.smtp.settings.data_timeout;
    s.read_deadline(Some(Instant::now() + s.smtp.settings.data_deadline));
    if let Some(reply) = refusal {
        let mut sink = DummyDataReceiver::new_bdat(chunk_size);
        loop {
            let input = s.conn.input();
            let mut it = input.iter();
            let done = sink.ingest(&mut it);
            let used = input.len() - it.as_slice().len();
            s.conn.consume(used);
            if done {
                break;
            }
            s.conn.fill(timeout).await?;
        }
        s.state.reset();
        s.reject("BDAT", reply).await;
        return Ok(Flow::Continue);
    }
    let mut receiver = BdatReceiver::new(chunk_size, is_last);
    loop {
        let State::Mail { tx, .. } = &mut s.state else {
            return Ok(Flow::Continue);
        };
        let input = s.conn.input();
        let mut it = input.iter();
        let done = chunk_size == 0 || receiver.ingest(&mut it, &mut tx.chunks);
        let used = input.len() - it.as_slice().len();
        s.conn.consume(used);
        if done {
            break;
        }
        s.conn.fill(timeout).await?;
    }
    if !is_last {
        s.conn
            .reply(&format!("250 2.0.0 {chunk_size} octets received"));
        return Ok(Flow::Continue);
    }
    let State::Mail { tx, .. } = &mut s.state else {
        return Ok(Flow::Continue);
    };
    let body = std::mem::take(&mut tx.chunks);
    if has_bare_cr_or_lf(&body) {
        s.state.reset();
        s.reject(
            "BDAT",
            "550 5.5.2 Message contains a bare CR or LF; lines must end with CRLF",
        )
        .await;
        return Ok(Flow::Continue);
    }
    finish(s, "BDAT", body).await
}

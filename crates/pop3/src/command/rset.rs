//! RSET (RFC 1939 §5): unmarks every message marked by DELE.

use twinmail_net::{Stop, Stream};

use crate::session::{Flow, Session};

pub fn rset<S: Stream>(s: &mut Session<S>) -> Result<Flow, Stop> {
    let Some(m) = s.maildrop() else {
        return Ok(Flow::Continue);
    };
    for e in &mut m.messages {
        e.deleted = false;
    }
    let octets: u64 = m.messages.iter().map(|e| e.size).sum();
    let n = m.messages.len();
    s.conn
        .reply(&format!("+OK maildrop has {n} messages ({octets} octets)"));
    Ok(Flow::Continue)
}

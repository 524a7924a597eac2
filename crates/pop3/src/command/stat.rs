//! STAT (RFC 1939 §5): count and size of the messages not marked deleted.

use twinmail_net::{Stop, Stream};

use crate::session::{Flow, Session};

pub fn stat<S: Stream>(s: &mut Session<S>) -> Result<Flow, Stop> {
    let Some(m) = s.maildrop() else {
        return Ok(Flow::Continue);
    };
    let (n, octets) = m.live().fold((0, 0), |(n, o), (_, e)| (n + 1, o + e.size));
    s.conn.reply(&format!("+OK {n} {octets}"));
    Ok(Flow::Continue)
}

//! NOOP (RFC 1939 §5).

use twinmail_net::{Stop, Stream};

use crate::session::{Flow, Session};

pub fn noop<S: Stream>(s: &mut Session<S>) -> Result<Flow, Stop> {
    s.conn.reply("+OK");
    Ok(Flow::Continue)
}

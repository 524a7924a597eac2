//! STLS (RFC 2595 §4): the session ends here and a fresh one starts under TLS.

use twinmail_net::{Stop, Stream};

use crate::session::{Flow, Session};

pub async fn stls<S: Stream>(s: &mut Session<S>) -> Result<Flow, Stop> {
    if s.tls {
        s.fail("-ERR TLS already active").await;
        return Ok(Flow::Continue);
    }
    if s.pop3.tls.is_none() {
        s.fail("-ERR TLS not available").await;
        return Ok(Flow::Continue);
    }
    s.conn.reply("+OK Begin TLS negotiation");
    Ok(Flow::StartTls)
}

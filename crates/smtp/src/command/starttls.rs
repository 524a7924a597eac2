//! STARTTLS (RFC 3207). The session ends here; the server wraps the stream in TLS and
//! starts a fresh session on it, so no state from before TLS survives, and the input
//! buffer is discarded so that nothing pipelined in plaintext is ever executed.

use crate::{
    Kind,
    session::{Flow, Session, Stream},
};
use twinmail_net::Stop;

pub async fn starttls<S: Stream>(s: &mut Session<S>) -> Result<Flow, Stop> {
    if s.tls.is_some() || s.kind == Kind::Submissions {
        s.fail("503 5.5.1 TLS already active").await;
        return Ok(Flow::Continue);
    }
    if s.smtp.tls.is_none() {
        s.fail("454 4.7.0 TLS not available").await;
        return Ok(Flow::Continue);
    }
    s.conn.reply("220 2.0.0 Ready to start TLS");
    Ok(Flow::StartTls)
}

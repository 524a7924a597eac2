//! DELE (RFC 1939 §5): marks a message; it is removed only at QUIT.

use twinmail_net::{Stop, Stream};

use crate::session::{Flow, Session};

pub async fn dele<S: Stream>(s: &mut Session<S>, args: &[&str]) -> Result<Flow, Stop> {
    let Some(m) = s.maildrop() else {
        return Ok(Flow::Continue);
    };
    match m.get(args.first().copied()) {
        Ok((n, _)) => {
            m.messages[n - 1].deleted = true;
            s.conn.reply(&format!("+OK message {n} deleted"));
        }
        Err(e) => s.fail(&e).await,
    }
    Ok(Flow::Continue)
}

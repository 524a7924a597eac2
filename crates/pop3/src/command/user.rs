//! USER (RFC 1939 §7): names the user; says nothing about whether they exist.

use twinmail_net::{Stop, Stream};

use crate::session::{Flow, Session, State};

/// The refusal when passwords would cross in plaintext (Dovecot's wording).
pub const PLAINTEXT: &str =
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections";

pub async fn user<S: Stream>(s: &mut Session<S>, args: &[&str]) -> Result<Flow, Stop> {
    if !s.may_login() {
        s.fail(PLAINTEXT).await;
        return Ok(Flow::Continue);
    }
    let [name] = args else {
        s.fail("-ERR usage: USER name").await;
        return Ok(Flow::Continue);
    };
    s.state = State::Authorization {
        user: Some(name.to_string()),
    };
    s.conn.reply("+OK");
    Ok(Flow::Continue)
}

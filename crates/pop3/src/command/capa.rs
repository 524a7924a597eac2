//! CAPA (RFC 2449): what this server offers on this connection now.

use twinmail_net::{Stop, Stream};

use crate::session::{Flow, Session, State};

pub fn capa<S: Stream>(s: &mut Session<S>) -> Result<Flow, Stop> {
    s.conn.reply("+OK Capability list follows");
    for c in ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"] {
        s.conn.reply(c);
    }
    let before_login = matches!(s.state, State::Authorization { .. });
    if before_login && s.may_login() {
        s.conn.reply("USER");
        s.conn.reply("SASL PLAIN");
    }
    if before_login && !s.tls && s.pop3.tls.is_some() {
        s.conn.reply("STLS");
    }
    s.conn.reply("IMPLEMENTATION twinmail");
    s.conn.reply(".");
    Ok(Flow::Continue)
}

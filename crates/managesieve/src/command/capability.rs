//! CAPABILITY (RFC 5804 §2.4), also the greeting and what follows STARTTLS (§1.7).

use twinmail_net::{Stop, Stream};

use crate::{
    command::usage,
    parse::{Token, string},
    session::{Flow, Session, State},
};

pub async fn capability<S: Stream>(s: &mut Session<S>, args: &[Token]) -> Result<Flow, Stop> {
    if !args.is_empty() {
        return usage(s, "CAPABILITY").await;
    }
    send(s);
    s.ok(None, "Capability completed");
    Ok(Flow::Continue)
}

/// Queues the capability lines for this connection as it is now.
pub fn send<S: Stream>(s: &mut Session<S>) {
    let before_login = matches!(s.state, State::NonAuthenticated);
    // No mechanism is offered where a password would cross in plaintext (RFC 5804
    // §2.1 lets the list be empty).
    let sasl = if before_login && s.may_login() {
        "PLAIN"
    } else {
        ""
    };
    let mut lines = vec![
        ("IMPLEMENTATION", Some("twinmail".to_string())),
        ("SASL", Some(sasl.to_string())),
        ("SIEVE", Some(twinmail_sieve::capability_string())),
    ];
    if before_login && !s.tls && s.sieve.tls.is_some() {
        lines.push(("STARTTLS", None));
    }
    let redirects = twinmail_sieve::Limits::default().max_redirects;
    lines.push(("MAXREDIRECTS", Some(redirects.to_string())));
    lines.push(("VERSION", Some("1.0".to_string())));
    for (name, value) in lines {
        match value {
            Some(v) => s.conn.reply(&format!("{} {}", string(name), string(&v))),
            None => s.conn.reply(&string(name)),
        }
    }
}

//! EHLO and HELO (RFC 5321 §4.1.1.1): greets, resets any transaction, and lists the
//! extensions that apply on this service in this state.

use crate::{
    Kind,
    session::{Flow, Session, State, Stream},
};
use twinmail_net::Stop;

pub fn ehlo<S: Stream>(s: &mut Session<S>, host: String, esmtp: bool) -> Result<Flow, Stop> {
    let hostname = s.smtp.settings.hostname.clone();
    // Keep the client's name bounded and printable for the Received header.
    let helo: String = host
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    s.state = State::Greeted { helo, esmtp };
    if !esmtp {
        s.conn.reply(&format!("250 {hostname}"));
        return Ok(Flow::Continue);
    }
    let mut lines = vec![
        hostname,
        "PIPELINING".to_string(),
        format!("SIZE {}", s.smtp.settings.max_message_size),
        "8BITMIME".to_string(),
        "SMTPUTF8".to_string(),
        "ENHANCEDSTATUSCODES".to_string(),
        "CHUNKING".to_string(),
        "DSN".to_string(),
    ];
    if s.tls.is_none() && s.smtp.tls.is_some() && s.kind != Kind::Submissions {
        lines.push("STARTTLS".to_string());
    }
    // Passwords never cross in plaintext: AUTH appears only once encrypted.
    if s.kind.is_submission() && s.tls.is_some() && s.user.is_none() {
        lines.push("AUTH PLAIN LOGIN".to_string());
    }
    let last = lines.len() - 1;
    for (i, l) in lines.iter().enumerate() {
        let sep = if i == last { ' ' } else { '-' };
        s.conn.reply(&format!("250{sep}{l}"));
    }
    Ok(Flow::Continue)
}

//! RSET, NOOP, QUIT, HELP, VRFY and EXPN (RFC 5321 §4.1.1).

use crate::session::{Flow, Session, Stream};
use twinmail_net::Stop;

pub fn rset<S: Stream>(s: &mut Session<S>) -> Result<Flow, Stop> {
    s.state.reset();
    s.conn.reply("250 2.0.0 Ok");
    Ok(Flow::Continue)
}

pub fn noop<S: Stream>(s: &mut Session<S>) -> Result<Flow, Stop> {
    s.conn.reply("250 2.0.0 Ok");
    Ok(Flow::Continue)
}

pub fn quit<S: Stream>(s: &mut Session<S>) -> Result<Flow, Stop> {
    s.conn.reply("221 2.0.0 Bye");
    Ok(Flow::Quit)
}

pub fn help<S: Stream>(s: &mut Session<S>) -> Result<Flow, Stop> {
    s.conn.reply("214 2.0.0 See RFC 5321");
    Ok(Flow::Continue)
}

/// VRFY and EXPN reveal nothing about who exists here (HOSTILE.md ENUM).
pub fn vrfy<S: Stream>(s: &mut Session<S>) -> Result<Flow, Stop> {
    s.conn.reply(
        "252 2.5.0 Cannot verify the user, but will accept the message and attempt delivery",
    );
    Ok(Flow::Continue)
}

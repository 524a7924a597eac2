//! UNAUTHENTICATE (RFC 5804 §2.14): back to the non-authenticated state, with a fresh
//! login deadline.

use tokio::time::Instant;
use twinmail_net::{Stop, Stream};

use crate::{
    command::usage,
    parse::Token,
    session::{Flow, Session, State},
};

pub async fn unauthenticate<S: Stream>(s: &mut Session<S>, args: &[Token]) -> Result<Flow, Stop> {
    if !args.is_empty() {
        return usage(s, "UNAUTHENTICATE").await;
    }
    s.state = State::NonAuthenticated;
    s.deadline = Some(Instant::now() + s.sieve.settings.login_deadline);
    s.conn.set_deadline(s.deadline);
    s.ok(None, "Unauthenticate completed");
    Ok(Flow::Continue)
}

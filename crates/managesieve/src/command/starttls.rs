//! STARTTLS (RFC 5804 §2.2): the session ends here and a fresh one starts under TLS,
//! re-issuing the capabilities.

use twinmail_net::{Stop, Stream};

use crate::{
    command::usage,
    parse::Token,
    session::{Flow, Session},
};

pub async fn starttls<S: Stream>(s: &mut Session<S>, args: &[Token]) -> Result<Flow, Stop> {
    if !args.is_empty() {
        return usage(s, "STARTTLS").await;
    }
    if s.tls {
        s.fail(None, "TLS already active").await;
        return Ok(Flow::Continue);
    }
    if s.sieve.tls.is_none() {
        s.fail(None, "TLS not available").await;
        return Ok(Flow::Continue);
    }
    s.ok(None, "Begin TLS negotiation now");
    Ok(Flow::StartTls)
}

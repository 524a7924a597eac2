//! LOGOUT (RFC 5804 §2.3).

use twinmail_net::{Stop, Stream};

use crate::{
    parse::Token,
    session::{Flow, Session},
};

pub async fn logout<S: Stream>(s: &mut Session<S>, _args: &[Token]) -> Result<Flow, Stop> {
    s.ok(None, "Logout completed");
    Ok(Flow::Quit)
}

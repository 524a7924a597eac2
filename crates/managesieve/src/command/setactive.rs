//! SETACTIVE (RFC 5804 §2.8): makes a script the one delivery runs; the empty name
//! deactivates them all.

use twinmail_net::{Stop, Stream};

use crate::{
    command::{store_failed, strings, usage},
    parse::Token,
    session::{Flow, Session},
};

pub async fn setactive<S: Stream>(s: &mut Session<S>, args: &[Token]) -> Result<Flow, Stop> {
    let Some([name]) = strings::<1>(args) else {
        return usage(s, "SETACTIVE name").await;
    };
    let Some(user) = s.user() else {
        return Ok(Flow::Continue);
    };
    let name = (!name.is_empty()).then_some(name);
    match s.sieve.store.sieve_activate(&user, name).await {
        Ok(()) if name.is_some() => s.ok(None, "Script activated"),
        Ok(()) => s.ok(None, "No script is active now"),
        Err(e) => store_failed(s, e),
    }
    Ok(Flow::Continue)
}

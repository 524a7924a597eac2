//! PUTSCRIPT (RFC 5804 §2.6): stores a script, after checking it as delivery will; a
//! script with an error is refused with its line and column.

use twinmail_net::{Stop, Stream};
use twinmail_store::MAX_SCRIPT_BYTES;

use crate::{
    command::{check, store_failed, strings, usage},
    parse::Token,
    session::{Flow, Session},
};

pub async fn putscript<S: Stream>(s: &mut Session<S>, args: &[Token]) -> Result<Flow, Stop> {
    let Some([name, script]) = strings::<2>(args) else {
        return usage(s, "PUTSCRIPT name script").await;
    };
    if script.len() > MAX_SCRIPT_BYTES {
        s.no(
            Some("QUOTA/MAXSIZE"),
            &format!("A script is at most {MAX_SCRIPT_BYTES} bytes"),
        );
        return Ok(Flow::Continue);
    }
    if let Err(e) = check(script) {
        s.no(None, &e);
        return Ok(Flow::Continue);
    }
    let Some(user) = s.user() else {
        return Ok(Flow::Continue);
    };
    match s.sieve.store.sieve_put(&user, name, script).await {
        Ok(()) => {
            tracing::info!(user = %user, script = %twinmail_net::escaped(name), "script stored");
            s.ok(None, "Script stored");
        }
        Err(e) => store_failed(s, e),
    }
    Ok(Flow::Continue)
}

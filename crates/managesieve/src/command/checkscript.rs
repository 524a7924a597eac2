//! CHECKSCRIPT (RFC 5804 §2.12): checks a script without storing it.

use twinmail_net::{Stop, Stream};
use twinmail_store::MAX_SCRIPT_BYTES;

use crate::{
    command::{check, strings, usage},
    parse::Token,
    session::{Flow, Session},
};

pub async fn checkscript<S: Stream>(s: &mut Session<S>, args: &[Token]) -> Result<Flow, Stop> {
    let Some([script]) = strings::<1>(args) else {
        return usage(s, "CHECKSCRIPT script").await;
    };
    if script.len() > MAX_SCRIPT_BYTES {
        s.no(
            Some("QUOTA/MAXSIZE"),
            &format!("A script is at most {MAX_SCRIPT_BYTES} bytes"),
        );
        return Ok(Flow::Continue);
    }
    match check(script) {
        Ok(()) => s.ok(None, "Script is valid"),
        Err(e) => s.no(None, &e),
    }
    Ok(Flow::Continue)
}

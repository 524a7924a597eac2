//! RENAMESCRIPT (RFC 5804 §2.11b): an active script stays active under its new name.

use twinmail_net::{Stop, Stream};

use crate::{
    command::{store_failed, strings, usage},
    parse::Token,
    session::{Flow, Session},
};

pub async fn renamescript<S: Stream>(s: &mut Session<S>, args: &[Token]) -> Result<Flow, Stop> {
    let Some([from, to]) = strings::<2>(args) else {
        return usage(s, "RENAMESCRIPT old-name new-name").await;
    };
    let Some(user) = s.user() else {
        return Ok(Flow::Continue);
    };
    match s.sieve.store.sieve_rename(&user, from, to).await {
        Ok(()) => s.ok(None, "Script renamed"),
        Err(e) => store_failed(s, e),
    }
    Ok(Flow::Continue)
}

//! DELETESCRIPT (RFC 5804 §2.10): refused for the active script (ACTIVE).

use twinmail_net::{Stop, Stream};

use crate::{
    command::{store_failed, strings, usage},
    parse::Token,
    session::{Flow, Session},
};

pub async fn deletescript<S: Stream>(s: &mut Session<S>, args: &[Token]) -> Result<Flow, Stop> {
    let Some([name]) = strings::<1>(args) else {
        return usage(s, "DELETESCRIPT name").await;
    };
    let Some(user) = s.user() else {
        return Ok(Flow::Continue);
    };
    match s.sieve.store.sieve_delete(&user, name).await {
        Ok(()) => s.ok(None, "Script deleted"),
        Err(e) => store_failed(s, e),
    }
    Ok(Flow::Continue)
}

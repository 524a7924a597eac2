//! GETSCRIPT (RFC 5804 §2.9): a script's text, as a literal.

use twinmail_net::{Stop, Stream};

use crate::{
    command::{store_failed, strings, usage},
    parse::Token,
    session::{Flow, Session},
};

pub async fn getscript<S: Stream>(s: &mut Session<S>, args: &[Token]) -> Result<Flow, Stop> {
    let Some([name]) = strings::<1>(args) else {
        return usage(s, "GETSCRIPT name").await;
    };
    let Some(user) = s.user() else {
        return Ok(Flow::Continue);
    };
    match s.sieve.store.sieve_get(&user, name).await {
        Ok(Some(text)) => {
            s.conn.reply(&format!("{{{}}}", text.len()));
            s.conn.reply_raw(text.as_bytes());
            s.conn.reply("");
            s.ok(None, "Getscript completed");
        }
        Ok(None) => s.no(Some("NONEXISTENT"), "There is no script by that name"),
        Err(e) => store_failed(s, e),
    }
    Ok(Flow::Continue)
}

//! LISTSCRIPTS (RFC 5804 §2.7): each script's name, the active one marked ACTIVE.

use twinmail_net::{Stop, Stream};

use crate::{
    command::{store_failed, usage},
    parse::{Token, string},
    session::{Flow, Session},
};

pub async fn listscripts<S: Stream>(s: &mut Session<S>, args: &[Token]) -> Result<Flow, Stop> {
    if !args.is_empty() {
        return usage(s, "LISTSCRIPTS").await;
    }
    let Some(user) = s.user() else {
        return Ok(Flow::Continue);
    };
    match s.sieve.store.sieve_list(&user).await {
        Ok(list) => {
            for (name, active) in list {
                let line = if active {
                    format!("{} ACTIVE", string(&name))
                } else {
                    string(&name)
                };
                s.conn.reply(&line);
            }
            s.ok(None, "Listscripts completed");
        }
        Err(e) => store_failed(s, e),
    }
    Ok(Flow::Continue)
}

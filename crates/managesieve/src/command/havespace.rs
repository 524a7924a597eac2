//! HAVESPACE (RFC 5804 §2.5): would a script of this name and size be accepted?

use twinmail_net::{Stop, Stream};
use twinmail_store::{MAX_SCRIPT_BYTES, MAX_SCRIPTS};

use crate::{
    command::{store_failed, usage},
    parse::Token,
    session::{Flow, Session},
};

pub async fn havespace<S: Stream>(s: &mut Session<S>, args: &[Token]) -> Result<Flow, Stop> {
    let (name, size) = match args {
        [Token::Str(name), Token::Atom(size)]
            if size.len() <= 20 && size.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (name.as_str(), size.parse::<u64>().unwrap_or(u64::MAX))
        }
        _ => return usage(s, "HAVESPACE name size").await,
    };
    if size > MAX_SCRIPT_BYTES as u64 {
        s.no(
            Some("QUOTA/MAXSIZE"),
            &format!("A script is at most {MAX_SCRIPT_BYTES} bytes"),
        );
        return Ok(Flow::Continue);
    }
    let Some(user) = s.user() else {
        return Ok(Flow::Continue);
    };
    match s.sieve.store.sieve_list(&user).await {
        Ok(list) if list.len() >= MAX_SCRIPTS && !list.iter().any(|(n, _)| n == name) => s.no(
            Some("QUOTA/MAXSCRIPTS"),
            &format!("At most {MAX_SCRIPTS} scripts per account"),
        ),
        Ok(_) => s.ok(None, "Putscript would succeed"),
        Err(e) => store_failed(s, e),
    }
    Ok(Flow::Continue)
}

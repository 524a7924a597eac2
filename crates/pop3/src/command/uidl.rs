//! UIDL (RFC 1939 §7): the unique id of each message is its GUID, so it is the same on
//! both twins and survives any renumbering of UIDs.

use twinmail_net::{Stop, Stream};

use crate::session::{Flow, Session};

pub async fn uidl<S: Stream>(s: &mut Session<S>, args: &[&str]) -> Result<Flow, Stop> {
    let Some(m) = s.maildrop() else {
        return Ok(Flow::Continue);
    };
    let mut lines = Vec::new();
    let result = match args.first() {
        Some(arg) => m.get(Some(arg)).map(|(n, e)| format!("+OK {n} {}", e.guid)),
        None => {
            lines.extend(m.live().map(|(n, e)| format!("{n} {}", e.guid)));
            lines.push(".".to_string());
            Ok("+OK unique-id listing follows".to_string())
        }
    };
    match result {
        Ok(first) => {
            s.conn.reply(&first);
            for l in lines {
                s.conn.reply(&l);
            }
        }
        Err(e) => s.fail(&e).await,
    }
    Ok(Flow::Continue)
}

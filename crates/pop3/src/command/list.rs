//! LIST (RFC 1939 §5): sizes, of one message or of all not marked deleted.

use twinmail_net::{Stop, Stream};

use crate::session::{Flow, Session};

pub async fn list<S: Stream>(s: &mut Session<S>, args: &[&str]) -> Result<Flow, Stop> {
    let Some(m) = s.maildrop() else {
        return Ok(Flow::Continue);
    };
    let mut lines = Vec::new();
    let result = match args.first() {
        Some(arg) => m.get(Some(arg)).map(|(n, e)| format!("+OK {n} {}", e.size)),
        None => {
            lines.extend(m.live().map(|(n, e)| format!("{n} {}", e.size)));
            lines.push(".".to_string());
            Ok(format!("+OK {} messages", lines.len() - 1))
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

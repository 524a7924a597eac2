//! LIST (RFC 1939 §5): sizes, of one message or of all not marked deleted. UIDL shares
//! the listing with another column.

use twinmail_net::{Stop, Stream};

use crate::session::{Entry, Flow, Session};

pub async fn list<S: Stream>(s: &mut Session<S>, args: &[&str]) -> Result<Flow, Stop> {
    listing(s, args, "messages follow", |e| e.size.to_string()).await
}

/// One message's `n value` line, or all of them as a multi-line response.
pub async fn listing<S: Stream>(
    s: &mut Session<S>,
    args: &[&str],
    title: &str,
    value: impl Fn(&Entry) -> String,
) -> Result<Flow, Stop> {
    let Some(m) = s.maildrop() else {
        return Ok(Flow::Continue);
    };
    let mut lines = Vec::new();
    let result = match args.first() {
        Some(arg) => m
            .get(Some(arg))
            .map(|(n, e)| format!("+OK {n} {}", value(e))),
        None => {
            lines.extend(m.live().map(|(n, e)| format!("{n} {}", value(e))));
            lines.push(".".to_string());
            Ok(format!("+OK {} {title}", lines.len() - 1))
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

//! RETR (RFC 1939 §5): a whole message, byte-stuffed. Shared with TOP.

use twinmail_net::{Stop, Stream};

use crate::session::{Flow, Session};

pub async fn retr<S: Stream>(s: &mut Session<S>, args: &[&str]) -> Result<Flow, Stop> {
    send(s, args.first().copied(), None).await
}

/// Sends message `arg`, whole or (TOP) its header and first `body_lines` lines.
pub async fn send<S: Stream>(
    s: &mut Session<S>,
    arg: Option<&str>,
    body_lines: Option<u64>,
) -> Result<Flow, Stop> {
    let Some(m) = s.maildrop() else {
        return Ok(Flow::Continue);
    };
    let (uid, size, mailbox) = match m.get(arg) {
        Ok((_, e)) => (e.uid, e.size, m.mailbox),
        Err(e) => {
            s.fail(&e).await;
            return Ok(Flow::Continue);
        }
    };
    let store = &s.pop3.store;
    let bytes = match store.message(mailbox, uid).await {
        Ok(Some(msg)) => store.blob(&msg.blob).await,
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    };
    match bytes {
        Ok(Some(bytes)) => {
            s.conn.reply(&format!("+OK {size} octets"));
            s.conn.reply_raw(&stuffed(&bytes, body_lines));
            s.conn.reply(".");
        }
        // Expunged by another session (IMAP) since this maildrop was opened.
        Ok(None) => s.fail("-ERR message was removed by another session").await,
        Err(e) => {
            tracing::error!(error = %e, "reading a message failed");
            s.conn.reply("-ERR [SYS/TEMP] Cannot read the message");
        }
    }
    Ok(Flow::Continue)
}

/// The message with every line ending in CRLF and lines starting with "." doubled
/// (RFC 1939 §3); with `body_lines`, only the header, the blank line and that many lines
/// of the body.
fn stuffed(message: &[u8], body_lines: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 50 + 2);
    let mut in_body = false;
    let mut left = body_lines;
    let mut lines = message.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() && lines.peek().is_none() {
            break; // the split after the final LF
        }
        if in_body {
            match &mut left {
                Some(0) => break,
                Some(n) => *n -= 1,
                None => {}
            }
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        if line.is_empty() {
            in_body = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::stuffed;

    #[test]
    fn stuffing_and_top() {
        let m = b"Subject: x\r\n\r\n.one\r\ntwo\nthree";
        assert_eq!(
            stuffed(m, None),
            b"Subject: x\r\n\r\n..one\r\ntwo\r\nthree\r\n"
        );
        assert_eq!(stuffed(m, Some(1)), b"Subject: x\r\n\r\n..one\r\n");
        assert_eq!(stuffed(m, Some(0)), b"Subject: x\r\n\r\n");
        assert_eq!(stuffed(b"", None), b"");
    }
}

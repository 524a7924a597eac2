//! The SMTP client side of one connection: greeting, EHLO, opportunistic (or required)
//! STARTTLS, then one transaction per message, on mail-send's `SmtpClient` (replies are
//! parsed by smtp-proto). What goes on the wire is ours: every line ends CRLF (a bare CR
//! or LF becomes CRLF) and lines starting with a dot are stuffed (RFC 5321 §4.5.2).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use mail_send::SmtpClient;
use smtp_proto::{EXT_START_TLS, Response};
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt},
    net::TcpStream,
};
use twinmail_store::RcptState;

/// How TLS is used on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// STARTTLS when offered, any certificate (RFC 7435 opportunistic security); in clear
    /// otherwise.
    Opportunistic,
    /// STARTTLS with a certificate valid for the host, or no delivery (a smarthost with
    /// `tls = "starttls"`).
    Required,
    /// TLS from the first byte (a smarthost on port 465).
    Implicit,
    /// Never (a smarthost on a trusted network).
    None,
}

/// One message to send on a connection.
pub struct Outgoing<'a> {
    /// The envelope sender.
    pub from: &'a str,
    /// The recipients to try.
    pub recipients: &'a [String],
    /// The bytes (signed already).
    pub bytes: &'a [u8],
}

/// What one recipient's transaction ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Delivered, failed for good, or to try again.
    pub state: RcptState,
    /// The server's words, or ours when no reply came.
    pub text: String,
}

impl Reply {
    fn from_response(r: &Response<String>) -> Reply {
        let state = match r.code {
            200..=299 => RcptState::Delivered,
            500..=599 => RcptState::Failed,
            _ => RcptState::Pending,
        };
        Reply {
            state,
            text: describe(r),
        }
    }

    /// A temporary failure in our own words.
    pub fn deferred(text: impl Into<String>) -> Reply {
        Reply {
            state: RcptState::Pending,
            text: text.into(),
        }
    }
}

/// A reply as one line: "550 5.1.1 No such user".
fn describe(r: &Response<String>) -> String {
    let esc = if r.esc[0] > 0 {
        format!(" {}.{}.{}", r.esc[0], r.esc[1], r.esc[2])
    } else {
        String::new()
    };
    let text: String = r
        .message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    format!("{}{esc} {}", r.code, text.trim())
}

/// Why a connection gave nothing: the next host is tried.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Connecting, TLS or the greeting failed or timed out.
    #[error("{0}")]
    Failed(String),
    /// The server refused us at the greeting or EHLO with this reply.
    #[error("{}", .0.text)]
    Refused(Reply),
}

/// How to talk to a host.
#[derive(Clone)]
pub struct Dial {
    /// Where.
    pub addr: SocketAddr,
    /// Its name (for TLS and logs).
    pub host: String,
    /// Our name in EHLO.
    pub helo: String,
    /// TLS use.
    pub tls: TlsMode,
    /// Connect and per-command time limit.
    pub timeout: Duration,
    /// Login for a smarthost.
    pub auth: Option<(String, String)>,
    /// The roots that verify a certificate where verification is required; `None`: the
    /// system's.
    pub roots: Option<Arc<rustls::RootCertStore>>,
    /// The host's DNSSEC-validated TLSA records: when there are any, STARTTLS with a
    /// certificate matching one of them, or no delivery (RFC 7672).
    pub dane: Vec<crate::dane::Tlsa>,
}

/// Connects, greets and (as `tls` says) secures a connection, then sends each message;
/// the replies per message and recipient, in order. A connection that dies part-way
/// leaves the rest deferred.
pub async fn deliver(
    dial: &Dial,
    messages: &[Outgoing<'_>],
) -> Result<Vec<Vec<Reply>>, ConnectError> {
    let stream = tokio::time::timeout(dial.timeout, TcpStream::connect(dial.addr))
        .await
        .map_err(|_| ConnectError::Failed(format!("connect to {} timed out", dial.addr)))?
        .map_err(|e| ConnectError::Failed(format!("connect to {}: {e}", dial.addr)))?;
    let mut client = SmtpClient {
        stream,
        timeout: dial.timeout,
    };
    let connector = |verify: bool| match (verify, &dial.roots) {
        (true, Some(roots)) => Ok(verified_connector(roots.clone())),
        _ => mail_send::smtp::tls::build_tls_connector(!verify).map_err(ConnectError::Failed),
    };
    if dial.tls == TlsMode::Implicit {
        let tls = client
            .into_tls(&connector(true)?, &dial.host)
            .await
            .map_err(|e| ConnectError::Failed(format!("TLS with {}: {e}", dial.host)))?;
        return session(tls, dial, messages, true).await;
    }
    greet(&mut client).await?;
    let ehlo = ehlo(&mut client, &dial.helo).await?;
    let offered = ehlo
        .as_ref()
        .is_some_and(|e| e.has_capability(EXT_START_TLS));
    if !dial.dane.is_empty() {
        if !offered {
            return Err(ConnectError::Failed(format!(
                "{} has TLSA records but offers no STARTTLS: not sent in clear",
                dial.host
            )));
        }
        let connector = crate::dane::DaneVerifier::connector(dial.dane.clone(), &dial.host)
            .ok_or_else(|| {
                ConnectError::Failed(format!("DANE: {} is not a host name", dial.host))
            })?;
        let tls = client
            .start_tls(&connector, &dial.host)
            .await
            .map_err(|e| ConnectError::Failed(format!("DANE: {}'s certificate: {e}", dial.host)))?;
        return session(tls, dial, messages, false).await;
    }
    match dial.tls {
        TlsMode::Required if !offered => Err(ConnectError::Failed(format!(
            "{} does not offer STARTTLS, which is required",
            dial.host
        ))),
        TlsMode::Required | TlsMode::Opportunistic if offered => {
            let verify = dial.tls == TlsMode::Required;
            let tls = client
                .start_tls(&connector(verify)?, &dial.host)
                .await
                .map_err(|e| ConnectError::Failed(format!("STARTTLS with {}: {e}", dial.host)))?;
            session(tls, dial, messages, false).await
        }
        _ => transactions(client, ehlo, dial, messages).await,
    }
}

/// A connector that checks certificates against `roots` (and the host name).
pub fn verified_connector(roots: Arc<rustls::RootCertStore>) -> tokio_rustls::TlsConnector {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// After TLS: (the greeting on implicit TLS,) EHLO again, then the messages.
async fn session<T: AsyncRead + AsyncWrite + Unpin>(
    mut client: SmtpClient<T>,
    dial: &Dial,
    messages: &[Outgoing<'_>],
    greet_first: bool,
) -> Result<Vec<Vec<Reply>>, ConnectError> {
    if greet_first {
        greet(&mut client).await?;
    }
    let caps = ehlo(&mut client, &dial.helo).await?;
    transactions(client, caps, dial, messages).await
}

async fn greet<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<T>,
) -> Result<(), ConnectError> {
    let r = tokio::time::timeout(client.timeout, client.read())
        .await
        .map_err(|_| ConnectError::Failed("no greeting".into()))?
        .map_err(|e| ConnectError::Failed(format!("greeting: {e}")))?;
    if r.code / 100 != 2 {
        return Err(ConnectError::Refused(Reply::from_response(&r)));
    }
    Ok(())
}

/// EHLO, or HELO where EHLO is not understood (`None` then: no extensions).
async fn ehlo<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<T>,
    helo: &str,
) -> Result<Option<smtp_proto::EhloResponse<String>>, ConnectError> {
    match client.ehlo(helo).await {
        Ok(e) => Ok(Some(e)),
        Err(mail_send::Error::UnexpectedReply(r)) if r.code / 100 == 5 => {
            let r = command(client, &format!("HELO {helo}\r\n")).await?;
            if r.code / 100 != 2 {
                return Err(ConnectError::Refused(Reply::from_response(&r)));
            }
            Ok(None)
        }
        Err(mail_send::Error::UnexpectedReply(r)) => {
            Err(ConnectError::Refused(Reply::from_response(&r)))
        }
        Err(e) => Err(ConnectError::Failed(format!("EHLO: {e}"))),
    }
}

async fn command<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<T>,
    line: &str,
) -> Result<Response<String>, ConnectError> {
    client
        .cmd(line.as_bytes())
        .await
        .map_err(|e| ConnectError::Failed(format!("{}: {e}", line.trim_end())))
}

/// One transaction per message; a connection lost part-way defers what is left.
async fn transactions<T: AsyncRead + AsyncWrite + Unpin>(
    mut client: SmtpClient<T>,
    caps: Option<smtp_proto::EhloResponse<String>>,
    dial: &Dial,
    messages: &[Outgoing<'_>],
) -> Result<Vec<Vec<Reply>>, ConnectError> {
    if let Some((user, pass)) = &dial.auth {
        let creds = mail_send::Credentials::new(user.clone(), pass.clone());
        let caps = caps.ok_or_else(|| {
            ConnectError::Failed(format!("{} speaks no ESMTP: cannot log in", dial.host))
        })?;
        client
            .authenticate(&creds, &caps)
            .await
            .map_err(|e| match e {
                mail_send::Error::AuthenticationFailed(r)
                | mail_send::Error::UnexpectedReply(r) => ConnectError::Refused(Reply::deferred(
                    format!("login refused: {}", describe(&r)),
                )),
                e => ConnectError::Failed(format!("login: {e}")),
            })?;
    }
    let mut out = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        match transaction(&mut client, m).await {
            Ok(replies) => out.push(replies),
            Err(e) => {
                // The connection is gone: this message and the rest wait for next time.
                for m in &messages[i..] {
                    out.push(vec![Reply::deferred(e.to_string()); m.recipients.len()]);
                }
                return Ok(out);
            }
        }
    }
    let _ = client.quit().await;
    Ok(out)
}

/// MAIL, RCPT per recipient, DATA; the reply per recipient.
async fn transaction<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<T>,
    m: &Outgoing<'_>,
) -> Result<Vec<Reply>, ConnectError> {
    let r = command(client, &format!("MAIL FROM:<{}>\r\n", m.from)).await?;
    if r.code / 100 != 2 {
        let reply = Reply::from_response(&r);
        command(client, "RSET\r\n").await?;
        return Ok(vec![reply; m.recipients.len()]);
    }
    let mut replies = Vec::with_capacity(m.recipients.len());
    for rcpt in m.recipients {
        let r = command(client, &format!("RCPT TO:<{rcpt}>\r\n")).await?;
        replies.push(Reply::from_response(&r));
    }
    if !replies.iter().any(|r| r.state == RcptState::Delivered) {
        command(client, "RSET\r\n").await?;
        return Ok(replies);
    }
    let r = command(client, "DATA\r\n").await?;
    if r.code != 354 {
        let reply = Reply::from_response(&r);
        for x in replies
            .iter_mut()
            .filter(|x| x.state == RcptState::Delivered)
        {
            *x = reply.clone();
        }
        return Ok(replies);
    }
    let wire = on_the_wire(m.bytes);
    let sent = tokio::time::timeout(client.timeout * 4, async {
        client.stream.write_all(&wire).await?;
        client.stream.flush().await?;
        client.read().await.map_err(std::io::Error::other)
    })
    .await
    .map_err(|_| ConnectError::Failed("no answer after the message".into()))?
    .map_err(|e| ConnectError::Failed(format!("sending the message: {e}")))?;
    let reply = Reply::from_response(&sent);
    for x in replies
        .iter_mut()
        .filter(|x| x.state == RcptState::Delivered)
    {
        *x = reply.clone();
    }
    Ok(replies)
}

/// The message as DATA sends it: CRLF line ends everywhere (a bare CR or LF becomes
/// CRLF, so no other reading of where a line or the data ends can exist downstream),
/// leading dots stuffed, and the CRLF.CRLF end.
pub fn on_the_wire(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 64 + 5);
    let mut line_start = true;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if line_start && b == b'.' {
            out.push(b'.');
        }
        match b {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                line_start = true;
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                line_start = true;
            }
            _ => {
                out.push(b);
                line_start = false;
            }
        }
        i += 1;
    }
    if !line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::on_the_wire;

    #[test]
    fn line_ends_are_normalised_and_dots_stuffed() {
        assert_eq!(on_the_wire(b"a\nb\rc\r\nd"), b"a\r\nb\r\nc\r\nd\r\n.\r\n");
        assert_eq!(
            on_the_wire(b".x\r\n..y\n.\r\n"),
            b"..x\r\n...y\r\n..\r\n.\r\n"
        );
        assert_eq!(on_the_wire(b""), b".\r\n");
        assert_eq!(on_the_wire(b"a\r\n"), b"a\r\n.\r\n");
    }
}

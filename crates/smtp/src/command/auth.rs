//! AUTH PLAIN (RFC 4616) and LOGIN, on submission only and only under TLS (RFC 4954).
//! Failures cost the client a delay that grows with its IP's recent failures, without
//! locking anyone out; a session with too many failures is closed.

use base64::{Engine, engine::general_purpose::STANDARD};
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN};

use crate::session::{Flow, Session, State, Stream};
use twinmail_net::Stop;

/// Longest SASL line accepted (base64 of a 1 KiB password and two names).
const MAX_SASL_LINE: usize = 4096;

pub async fn auth<S: Stream>(
    s: &mut Session<S>,
    mechanism: u64,
    initial: String,
) -> Result<Flow, Stop> {
    let refusal = if !s.kind.is_submission() {
        Some("502 5.5.1 AUTH is not available on this service; use submission")
    } else if s.tls.is_none() {
        Some("538 5.7.11 Encryption required for requested authentication mechanism")
    } else if s.user.is_some() {
        Some("503 5.5.1 Already authenticated")
    } else if matches!(s.state, State::Mail { .. }) {
        Some("503 5.5.1 AUTH not allowed during a mail transaction")
    } else if matches!(s.state, State::Fresh) {
        Some("503 5.5.1 Send EHLO first")
    } else {
        None
    };
    if let Some(reply) = refusal {
        s.fail(reply).await;
        return Ok(Flow::Continue);
    }
    let credentials = match mechanism {
        AUTH_PLAIN => {
            let response = if initial.is_empty() {
                prompt(s, "334 ").await?
            } else {
                Answer::decode(&initial)
            };
            response.map(|r| plain(&r))
        }
        AUTH_LOGIN => {
            let user = if initial.is_empty() {
                prompt(s, "334 VXNlcm5hbWU6").await?
            } else {
                Answer::decode(&initial)
            };
            match user {
                Answer::Value(user) => prompt(s, "334 UGFzc3dvcmQ6")
                    .await?
                    .map(|pass| Some((String::from_utf8_lossy(&user).into_owned(), pass))),
                other => other.map(|_| None),
            }
        }
        _ => {
            s.fail("504 5.5.4 Unrecognized authentication type").await;
            return Ok(Flow::Continue);
        }
    };
    let (user, pass) = match credentials {
        Answer::Cancelled => {
            s.fail("501 5.0.0 Authentication cancelled").await;
            return Ok(Flow::Continue);
        }
        Answer::Invalid => {
            s.fail("501 5.5.2 Cannot decode response").await;
            return Ok(Flow::Continue);
        }
        // PLAIN with an authorization identity other than the user: refused like a
        // wrong password, so it reveals nothing.
        Answer::Value(None) => (String::new(), Vec::new()),
        Answer::Value(Some(c)) => c,
    };
    let pass = String::from_utf8_lossy(&pass);
    let account = match s.smtp.store.authenticate(&user, &pass).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "authentication lookup failed");
            s.conn.reply("454 4.7.0 Temporary authentication failure");
            return Ok(Flow::Continue);
        }
    };
    if let Some(account) = account {
        tracing::info!(user = %account.name, "authenticated");
        s.user = Some(account);
        s.conn.reply("235 2.7.0 Authentication successful");
        return Ok(Flow::Continue);
    }
    let delay = s
        .smtp
        .limits
        .auth_failed(s.peer.ip(), s.smtp.settings.auth_failure_delay);
    tracing::info!(user = %user.chars().take(64).collect::<String>(), "authentication failed");
    tokio::time::sleep(delay).await;
    s.auth_failures += 1;
    s.fail("535 5.7.8 Authentication credentials invalid").await;
    if s.auth_failures >= s.smtp.settings.max_auth_failures {
        s.conn.reply("421 4.7.0 Too many authentication failures");
        return Ok(Flow::Quit);
    }
    Ok(Flow::Continue)
}

/// A decoded SASL client answer.
enum Answer<T> {
    Value(T),
    Cancelled,
    Invalid,
}

impl<T> Answer<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Answer<U> {
        match self {
            Answer::Value(v) => Answer::Value(f(v)),
            Answer::Cancelled => Answer::Cancelled,
            Answer::Invalid => Answer::Invalid,
        }
    }
}

impl Answer<Vec<u8>> {
    fn decode(text: &str) -> Answer<Vec<u8>> {
        match text.trim() {
            "*" => Answer::Cancelled,
            "=" => Answer::Value(Vec::new()),
            t => STANDARD.decode(t).map_or(Answer::Invalid, Answer::Value),
        }
    }
}

/// Sends a 334 challenge and reads the client's answer line.
async fn prompt<S: Stream>(s: &mut Session<S>, challenge: &str) -> Result<Answer<Vec<u8>>, Stop> {
    s.conn.reply(challenge);
    let timeout = s.smtp.settings.command_timeout;
    match s.conn.read_line(timeout, MAX_SASL_LINE).await? {
        Some(line) => Ok(Answer::decode(&String::from_utf8_lossy(&line))),
        None => Ok(Answer::Invalid),
    }
}

/// Splits a PLAIN response `authzid NUL authcid NUL passwd`. `None` when the
/// authorization identity names someone else.
fn plain(r: &[u8]) -> Option<(String, Vec<u8>)> {
    let mut parts = r.splitn(3, |&b| b == 0);
    let (authz, user, pass) = (parts.next()?, parts.next()?, parts.next()?);
    let user = String::from_utf8_lossy(user).into_owned();
    if !authz.is_empty() && !String::from_utf8_lossy(authz).eq_ignore_ascii_case(&user) {
        return None;
    }
    Some((user, pass.to_vec()))
}

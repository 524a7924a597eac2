//! AUTH PLAIN (RFC 4616) and LOGIN, on submission only and only under TLS (RFC 4954).
//! Failures cost the client a delay that grows with its IP's recent failures, without
//! locking anyone out; a session with too many failures is closed.

use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN};
use tokio::time::Instant;

use crate::session::{Flow, Session, State, Stream};
use twinmail_net::{
    Stop, name_hash,
    sasl::{self, Answer},
};

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
            // An authorization identity other than the user fails like a wrong password.
            value(response).map(|r| sasl::plain(&r).unwrap_or_default())
        }
        AUTH_LOGIN => {
            let user = if initial.is_empty() {
                prompt(s, "334 VXNlcm5hbWU6").await?
            } else {
                Answer::decode(&initial)
            };
            match value(user) {
                Ok(user) => value(prompt(s, "334 UGFzc3dvcmQ6").await?)
                    .map(|pass| (lossy(user), lossy(pass))),
                Err(reply) => Err(reply),
            }
        }
        _ => Err("504 5.5.4 Unrecognized authentication type"),
    };
    let (user, pass) = match credentials {
        Ok(c) => c,
        Err(reply) => {
            s.fail(reply).await;
            return Ok(Flow::Continue);
        }
    };
    // The address's failure delay comes before the hash, and the queue in front of it
    // is bounded: past it, a temporary failure at once (RFC 4954 §6: 454).
    let Ok(_ticket) = s
        .smtp
        .limits
        .before_login(s.peer.ip(), s.smtp.settings.auth_failure_delay)
        .await
    else {
        tracing::info!("too many logins waiting for a password check");
        s.conn
            .reply("454 4.7.0 Temporary authentication failure, try again later");
        return Ok(Flow::Continue);
    };
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
        s.user_mark = s.smtp.store.session_mark(&account.guid);
        s.user = Some(account);
        s.conn.reply("235 2.7.0 Authentication successful");
        return Ok(Flow::Continue);
    }
    // The delay this earns is waited before this address's next password check.
    s.smtp
        .limits
        .auth_failed(s.peer.ip(), s.smtp.settings.auth_failure_delay);
    // The name a client failed with is often a password typed into the wrong box.
    tracing::info!(user_hash = %name_hash(&user), "authentication failed");
    s.auth_failures += 1;
    s.fail("535 5.7.8 Authentication credentials invalid").await;
    if s.auth_failures >= s.smtp.settings.max_auth_failures {
        s.conn.reply("421 4.7.0 Too many authentication failures");
        return Ok(Flow::Quit);
    }
    Ok(Flow::Continue)
}

/// Sends a 334 challenge and reads the client's answer line.
async fn prompt<S: Stream>(s: &mut Session<S>, challenge: &str) -> Result<Answer, Stop> {
    s.conn.reply(challenge);
    let timeout = s.smtp.settings.login_timeout;
    s.read_deadline(Some(Instant::now() + s.smtp.settings.command_deadline));
    match s.conn.read_line(timeout, MAX_SASL_LINE).await? {
        Some(line) => Ok(Answer::decode(&String::from_utf8_lossy(&line))),
        None => Ok(Answer::Invalid),
    }
}

/// The answer's bytes, or the reply that refuses it.
fn value(a: Answer) -> Result<Vec<u8>, &'static str> {
    match a {
        Answer::Value(v) => Ok(v),
        Answer::Cancelled => Err("501 5.0.0 Authentication cancelled"),
        Answer::Invalid => Err("501 5.5.2 Cannot decode response"),
    }
}

fn lossy(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).into_owned()
}

//! AUTHENTICATE (RFC 5804 §2.1) with SASL PLAIN (RFC 4616), only where a password may
//! cross: under TLS, or from loopback when so configured. The initial response may come
//! with the command or after an empty challenge; either as a quoted string or a literal.

use twinmail_net::{
    Stop, Stream,
    sasl::{self, Answer},
};

use crate::{
    command::{strings, usage},
    parse::Token,
    session::{Flow, Session, State},
};

pub async fn authenticate<S: Stream>(s: &mut Session<S>, args: &[Token]) -> Result<Flow, Stop> {
    let (mechanism, initial) = match args {
        [_] => (strings::<1>(args).map(|[m]| m), None),
        [m, i] => (
            strings::<1>(std::slice::from_ref(m)).map(|[m]| m),
            strings::<1>(std::slice::from_ref(i)).map(|[i]| i.to_string()),
        ),
        _ => (None, None),
    };
    let Some(mechanism) = mechanism else {
        return usage(s, "AUTHENTICATE \"PLAIN\" [initial-response]").await;
    };
    if !s.may_login() {
        s.fail(
            Some("ENCRYPT-NEEDED"),
            "Authentication is allowed only after STARTTLS",
        )
        .await;
        return Ok(Flow::Continue);
    }
    if !mechanism.eq_ignore_ascii_case("PLAIN") {
        s.fail(None, "Unsupported authentication mechanism").await;
        return Ok(Flow::Continue);
    }
    if args.len() == 2 && initial.is_none() {
        return usage(s, "AUTHENTICATE \"PLAIN\" [initial-response]").await;
    }
    let response = match initial {
        Some(r) => r,
        None => {
            // The empty challenge; the answer is one string (RFC 5804 §2.1).
            s.conn.reply("\"\"");
            let timeout = s.sieve.settings.login_timeout;
            match s.read_command(timeout).await? {
                Ok(tokens) => match strings::<1>(&tokens) {
                    Some([r]) => r.to_string(),
                    None => {
                        s.fail(None, "Expected one string").await;
                        return Ok(Flow::Continue);
                    }
                },
                Err(e) => {
                    s.fail(None, &format!("Syntax error: {e}")).await;
                    if e.ends_session() {
                        s.bye("Cannot go on after that error").await;
                        return Ok(Flow::Quit);
                    }
                    return Ok(Flow::Continue);
                }
            }
        }
    };
    let (user, pass) = match Answer::decode(&response) {
        Answer::Value(v) => sasl::plain(&v).unwrap_or_default(),
        Answer::Cancelled => {
            s.fail(None, "Authentication cancelled").await;
            return Ok(Flow::Continue);
        }
        Answer::Invalid => {
            s.fail(None, "Cannot decode the response").await;
            return Ok(Flow::Continue);
        }
    };
    login(s, &user, &pass).await
}

/// Checks the password as POP3 does: the address's failure delay and the bounded queue
/// in front of the hash first, the failure counted after.
async fn login<S: Stream>(s: &mut Session<S>, user: &str, pass: &str) -> Result<Flow, Stop> {
    let settings = &s.sieve.settings;
    let Ok(_ticket) = s
        .sieve
        .limits
        .before_login(s.peer.ip(), settings.auth_failure_delay)
        .await
    else {
        tracing::info!("too many logins waiting for a password check");
        s.no(Some("TRYLATER"), "Too many logins at once, try again later");
        return Ok(Flow::Continue);
    };
    let account = match s.sieve.store.authenticate(user, pass).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "authentication lookup failed");
            s.no(Some("TRYLATER"), "Temporary authentication failure");
            return Ok(Flow::Continue);
        }
    };
    let Some(account) = account else {
        s.sieve
            .limits
            .auth_failed(s.peer.ip(), s.sieve.settings.auth_failure_delay);
        s.auth_failures += 1;
        s.fail(None, "Authentication failed").await;
        if s.auth_failures >= s.sieve.settings.max_auth_failures {
            s.bye("Too many authentication failures").await;
            return Ok(Flow::Quit);
        }
        return Ok(Flow::Continue);
    };
    tracing::info!(user = %account.name, "logged in");
    let mark = s.sieve.store.session_mark(&account.guid);
    s.state = State::Authenticated { account, mark };
    s.ok(None, "Authenticated");
    Ok(Flow::Continue)
}

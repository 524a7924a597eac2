//! LOGIN (RFC 3501 §6.2.3), refused without TLS (LOGINDISABLED), and the end of every
//! login (shared with AUTHENTICATE): growing delays for failures, waited before the
//! password is checked, never a lock-out; a bounded queue in front of the hash.

use imap_types::{
    core::{AString, Tag},
    response::{Code, CodeOther, Status},
};
use twinmail_net::Stream;

use crate::{
    convert::{astring, no, ok, vec1},
    session::{Session, State, capabilities},
};

pub async fn login<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    user: &AString<'_>,
    pass: &AString<'_>,
) -> Status<'static> {
    if !s.may_login() {
        return no(
            tag,
            None,
            "Plaintext authentication disallowed without TLS (use STARTTLS)".into(),
        );
    }
    finish(s, tag, &astring(user), &astring(pass)).await
}

/// Checks the password and moves to the authenticated state, or counts a failure.
pub async fn finish<S: Stream>(
    s: &mut Session<S>,
    tag: &Tag<'static>,
    user: &str,
    pass: &str,
) -> Status<'static> {
    // The address's failure delay comes before the hash, and the queue in front of it
    // is bounded: past it, a temporary failure at once (RFC 5530 UNAVAILABLE).
    let Ok(_ticket) = s
        .imap
        .limits
        .before_login(s.peer.ip(), s.imap.settings.auth_failure_delay)
        .await
    else {
        tracing::info!("too many logins waiting for a password check");
        return no(
            tag,
            Some(Code::Other(CodeOther::unvalidated(&b"UNAVAILABLE"[..]))),
            "Too many logins at once, try again later".into(),
        );
    };
    match s.imap.store.authenticate(user, pass).await {
        Ok(Some(account)) => {
            let Some(slot) = s.imap.user_slot(account.id) else {
                return no(
                    tag,
                    None,
                    "Too many sessions for this user; close some first".into(),
                );
            };
            s.user_slot = Some(slot);
            tracing::info!(user = %account.name, "logged in");
            s.state = State::Authenticated { account };
            let code = vec1(capabilities(&s.imap, s.tls, true)).map(Code::Capability);
            ok(tag, code, "Logged in")
        }
        Ok(None) => {
            // The delay this earns is waited before this address's next password check.
            s.imap
                .limits
                .auth_failed(s.peer.ip(), s.imap.settings.auth_failure_delay);
            s.auth_failures += 1;
            if s.auth_failures >= s.imap.settings.max_auth_failures {
                s.bye("Too many authentication failures");
            }
            no(tag, None, "Authentication failed".into())
        }
        Err(e) => crate::command::store_failed(tag, e),
    }
}

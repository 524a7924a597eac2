//! One file per ManageSieve command (RFC 5804 §2); `dispatch` picks the handler after the
//! validity table, and the helpers here turn arguments and store errors into answers.

pub mod authenticate;
pub mod capability;
mod checkscript;
mod deletescript;
mod getscript;
mod havespace;
mod listscripts;
mod logout;
mod noop;
mod putscript;
mod renamescript;
mod setactive;
mod starttls;
mod unauthenticate;

use twinmail_net::{Stop, Stream};
use twinmail_store::StoreError;

use crate::{
    parse::Token,
    session::{Flow, Session},
};

/// Runs a command already checked against the state table.
pub async fn dispatch<S: Stream>(
    s: &mut Session<S>,
    cmd: &str,
    args: &[Token],
) -> Result<Flow, Stop> {
    match cmd {
        "CAPABILITY" => capability::capability(s, args).await,
        "LOGOUT" => logout::logout(s, args).await,
        "NOOP" => noop::noop(s, args).await,
        "STARTTLS" => starttls::starttls(s, args).await,
        "AUTHENTICATE" => authenticate::authenticate(s, args).await,
        "UNAUTHENTICATE" => unauthenticate::unauthenticate(s, args).await,
        "HAVESPACE" => havespace::havespace(s, args).await,
        "PUTSCRIPT" => putscript::putscript(s, args).await,
        "CHECKSCRIPT" => checkscript::checkscript(s, args).await,
        "LISTSCRIPTS" => listscripts::listscripts(s, args).await,
        "SETACTIVE" => setactive::setactive(s, args).await,
        "GETSCRIPT" => getscript::getscript(s, args).await,
        "DELETESCRIPT" => deletescript::deletescript(s, args).await,
        "RENAMESCRIPT" => renamescript::renamescript(s, args).await,
        _ => {
            s.fail(None, "Unknown command").await;
            Ok(Flow::Continue)
        }
    }
}

/// The arguments as `N` strings, or `None` when they are not exactly that.
pub fn strings<const N: usize>(args: &[Token]) -> Option<[&str; N]> {
    let v: Vec<&str> = args
        .iter()
        .map(|t| match t {
            Token::Str(s) => Some(s.as_str()),
            Token::Atom(_) => None,
        })
        .collect::<Option<_>>()?;
    v.try_into().ok()
}

/// Answers a usage error (charged to the error budget).
pub async fn usage<S: Stream>(s: &mut Session<S>, text: &str) -> Result<Flow, Stop> {
    s.fail(None, &format!("Syntax error, usage: {text}")).await;
    Ok(Flow::Continue)
}

/// Answers a store refusal with its RFC 5804 §1.3 response code. Refusals are the normal
/// course of an editor's work, so they are not charged; a server fault is logged and
/// answered TRYLATER, its text kept from the client.
pub fn store_failed<S: Stream>(s: &mut Session<S>, e: StoreError) {
    match e {
        StoreError::NotFound(_) => s.no(Some("NONEXISTENT"), "There is no script by that name"),
        StoreError::AlreadyExists(_) => s.no(
            Some("ALREADYEXISTS"),
            "A script by that name exists already",
        ),
        StoreError::NotAllowed(_) => s.no(Some("ACTIVE"), "The active script cannot be deleted"),
        StoreError::OverQuota(_) => s.no(
            Some("QUOTA/MAXSCRIPTS"),
            &format!(
                "At most {} scripts per account",
                twinmail_store::MAX_SCRIPTS
            ),
        ),
        StoreError::Invalid(_) => s.no(
            None,
            "A script name is 1 to 128 characters, none a control character",
        ),
        e => {
            tracing::error!(error = %e, "managesieve: store failure");
            s.no(
                Some("TRYLATER"),
                "Temporary server failure, try again later",
            );
        }
    }
}

/// Parses a script as delivery will: `Err` is the error for the client ("line L,
/// column C: ...").
pub fn check(script: &str) -> Result<(), String> {
    twinmail_sieve::Script::parse(script, &twinmail_sieve::Limits::default())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

//! What the Sieve tests share: a message builder, a default envelope and short ways to
//! run a script or get its parse error.
#![allow(dead_code)]

use twinmail_sieve::{Action, Input, Limits, Outcome, ParseError, RunError, Script};

/// The user the tests deliver to.
pub const ME: &str = "me@example.com";
/// The envelope sender the tests use.
pub const SENDER: &str = "sender@example.org";

/// A message from header lines (without line ends) and a body, CRLF line ends.
pub fn msg(headers: &[&str], body: &str) -> Vec<u8> {
    let mut out = String::new();
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

/// A plain message to the user.
pub fn plain(from: &str, subject: &str) -> Vec<u8> {
    msg(
        &[
            &format!("From: {from}"),
            &format!("To: {ME}"),
            &format!("Subject: {subject}"),
            "Message-ID: <m1@example.org>",
        ],
        "Hello.\r\n",
    )
}

/// Parses with the default limits, panicking with the error if the script is refused.
pub fn script(src: &str) -> Script {
    Script::parse(src, &Limits::default()).unwrap_or_else(|e| panic!("script refused: {e}"))
}

/// Runs with an envelope from `from` to `to`.
pub fn try_run_env(src: &str, message: &[u8], from: &str, to: &str) -> Result<Outcome, RunError> {
    let users = vec![to.to_string()];
    script(src).run(&Input {
        envelope_from: from,
        envelope_to: to,
        message,
        size: message.len() as u64,
        user_addresses: &users,
    })
}

/// Runs with the default envelope (SENDER to ME).
pub fn try_run(src: &str, message: &[u8]) -> Result<Outcome, RunError> {
    try_run_env(src, message, SENDER, ME)
}

/// Runs with the default envelope, panicking on a run error.
pub fn run(src: &str, message: &[u8]) -> Outcome {
    try_run(src, message).unwrap_or_else(|e| panic!("run failed: {e}"))
}

/// The actions of a run with the default envelope.
pub fn actions(src: &str, message: &[u8]) -> Vec<Action> {
    run(src, message).actions
}

/// The error a script is refused with.
pub fn parse_error(src: &str) -> ParseError {
    match Script::parse(src, &Limits::default()) {
        Ok(_) => panic!("script accepted:\n{src}"),
        Err(e) => e,
    }
}

/// `Keep` without flags.
pub fn keep() -> Action {
    Action::Keep { flags: vec![] }
}

/// `FileInto` without flags or `:copy`.
pub fn fileinto(mailbox: &str) -> Action {
    Action::FileInto {
        mailbox: mailbox.to_string(),
        flags: vec![],
        copy: false,
    }
}

/// `Redirect` without `:copy`.
pub fn redirect(address: &str) -> Action {
    Action::Redirect {
        address: address.to_string(),
        copy: false,
    }
}

/// Strings to owned strings, for flag lists.
pub fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

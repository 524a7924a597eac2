//! SASL PLAIN (RFC 4616) responses, shared by SMTP AUTH, POP3 AUTH and IMAP AUTHENTICATE.

use base64::{Engine, engine::general_purpose::STANDARD};

/// A client's answer to a SASL challenge, decoded.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// The decoded bytes (`=` is the empty answer).
    Value(Vec<u8>),
    /// `*`: the client gave up.
    Cancelled,
    /// Not base64.
    Invalid,
}

impl Answer {
    /// Decodes one base64 answer line.
    pub fn decode(text: &str) -> Answer {
        match text.trim() {
            "*" => Answer::Cancelled,
            "=" => Answer::Value(Vec::new()),
            t => STANDARD.decode(t).map_or(Answer::Invalid, Answer::Value),
        }
    }
}

/// Splits a PLAIN response `authzid NUL authcid NUL passwd` into user and password.
/// `None` when malformed, or when the authorization identity names someone other than
/// the user: nobody may log in as somebody else (HOSTILE.md AUTH).
pub fn plain(response: &[u8]) -> Option<(String, String)> {
    let mut parts = response.splitn(3, |&b| b == 0);
    let (authz, user, pass) = (parts.next()?, parts.next()?, parts.next()?);
    let user = String::from_utf8(user.to_vec()).ok()?;
    let pass = String::from_utf8(pass.to_vec()).ok()?;
    if !authz.is_empty() && !String::from_utf8_lossy(authz).eq_ignore_ascii_case(&user) {
        return None;
    }
    Some((user, pass))
}

/// Base64 of `bytes` (for challenges).
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_responses() {
        assert_eq!(plain(b"\0alice\0pw"), Some(("alice".into(), "pw".into())));
        assert_eq!(
            plain(b"alice\0alice\0pw"),
            Some(("alice".into(), "pw".into()))
        );
        assert_eq!(plain(b"bob\0alice\0pw"), None);
        assert_eq!(plain(b"alice\0pw"), None);
        assert_eq!(Answer::decode("*"), Answer::Cancelled);
        assert_eq!(Answer::decode("="), Answer::Value(vec![]));
        assert_eq!(Answer::decode("!!"), Answer::Invalid);
        assert_eq!(Answer::decode(&encode(b"x")), Answer::Value(b"x".to_vec()));
    }
}

//! The Sender Rewriting Scheme, so that mail forwarded by an alias to another domain
//! passes SPF at its destination: the envelope sender becomes an address of ours that
//! carries the original one, `SRS0=HHHH=TT=domain=local@our-domain`, and a bounce sent
//! back to it goes on to the original sender. `HHHH` is a MAC over the rest (only we
//! make and check it, so it is HMAC-SHA256 rather than the SHA-1 of the first
//! implementations), `TT` the day it was made (days since 1970 modulo 1024, two base32
//! characters); an address older than [`MAX_AGE_DAYS`] or with a wrong MAC is refused,
//! so the scheme is no open relay. Hand-written: no kept crate implements SRS, and the
//! scheme is a few lines over HMAC.

use ring::hmac;

/// How long a rewritten address takes bounces (days), as the reference implementation.
pub const MAX_AGE_DAYS: u32 = 21;

/// Base32 (RFC 4648) characters of the timestamp.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Rewrites and checks SRS addresses with one key (the same on both twins).
pub struct Srs {
    /// The MAC key.
    key: hmac::Key,
}

/// Why an SRS address is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SrsError {
    /// Not of the `SRS0=HHHH=TT=domain=local` shape.
    #[error("not an SRS address")]
    Shape,
    /// The MAC does not match: forged, or made with another key.
    #[error("the SRS address was not made here")]
    Forged,
    /// Older than [`MAX_AGE_DAYS`].
    #[error("the SRS address has expired")]
    Expired,
}

impl Srs {
    /// A scheme keyed by `secret` (32 bytes or more of it are used as they come).
    pub fn new(secret: &[u8]) -> Srs {
        Srs {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The envelope sender for mail from `from` forwarded by an address of `domain`: `<>`
    /// stays `<>` (nothing may bounce to it), and an address of `domain` itself stays.
    pub fn forward(&self, from: &str, domain: &str, today: u64) -> String {
        let Some((local, their)) = from.rsplit_once('@') else {
            return from.to_string();
        };
        if their.eq_ignore_ascii_case(domain) {
            return from.to_string();
        }
        let tt = stamp(today);
        let mac = self.mac(&tt, their, local);
        format!("SRS0={mac}={tt}={their}={local}@{domain}")
    }

    /// The original sender behind `local` (the part before `@` of an SRS address of ours),
    /// checked: made with this key, at most [`MAX_AGE_DAYS`] ago.
    pub fn reverse(&self, local: &str, today: u64) -> Result<String, SrsError> {
        let rest = strip_prefix_ci(local, "SRS0=").ok_or(SrsError::Shape)?;
        let mut parts = rest.splitn(4, '=');
        let (Some(mac), Some(tt), Some(domain), Some(orig)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SrsError::Shape);
        };
        if tt.len() != 2 || domain.is_empty() || orig.is_empty() {
            return Err(SrsError::Shape);
        }
        let expected = self.mac(&tt.to_ascii_uppercase(), domain, orig);
        // Mail systems may change the case of a local part: the MAC is compared without it.
        if !constant_time_eq_ci(mac.as_bytes(), expected.as_bytes()) {
            return Err(SrsError::Forged);
        }
        let made = unstamp(tt).ok_or(SrsError::Shape)?;
        let age = (today % 1024 + 1024 - made) % 1024;
        if age > u64::from(MAX_AGE_DAYS) {
            return Err(SrsError::Expired);
        }
        Ok(format!("{orig}@{domain}"))
    }

    /// Eight hex digits of the MAC over the stamp, domain and local part, lower-cased.
    fn mac(&self, tt: &str, domain: &str, local: &str) -> String {
        let text = format!("{tt}={domain}={local}").to_ascii_lowercase();
        let tag = hmac::sign(&self.key, text.as_bytes());
        tag.as_ref()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Days since 1970 as the two base32 characters of SRS.
fn stamp(today: u64) -> String {
    let t = (today % 1024) as usize;
    let chars = [BASE32[t >> 5], BASE32[t & 31]];
    String::from_utf8_lossy(&chars).into_owned()
}

/// The day (modulo 1024) a stamp names.
fn unstamp(tt: &str) -> Option<u64> {
    let value = |c: u8| {
        BASE32
            .iter()
            .position(|&b| b == c.to_ascii_uppercase())
            .map(|p| p as u64)
    };
    let b = tt.as_bytes();
    Some(value(b[0])? << 5 | value(b[1])?)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s.is_char_boundary(prefix.len()))
        .then(|| s.split_at(prefix.len()))
        .filter(|(head, _)| head.eq_ignore_ascii_case(prefix))
        .map(|(_, rest)| rest)
}

fn constant_time_eq_ci(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).fold(0u8, |acc, (x, y)| {
            acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
        }) == 0
}

/// Today, as SRS counts days.
pub fn today() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 20_425;

    #[test]
    fn a_forwarded_sender_comes_back_as_it_was() {
        let srs = Srs::new(b"0123456789abcdef0123456789abcdef");
        let fwd = srs.forward("Alice.B@sender.test", "example.org", DAY);
        assert!(fwd.starts_with("SRS0="), "{fwd}");
        assert!(fwd.ends_with("=sender.test=Alice.B@example.org"), "{fwd}");
        let local = fwd.rsplit_once('@').unwrap().0;
        assert_eq!(srs.reverse(local, DAY).unwrap(), "Alice.B@sender.test");
        assert_eq!(srs.reverse(local, DAY + 21).unwrap(), "Alice.B@sender.test");
        // A mail system that lower-cases the local part changes nothing.
        assert_eq!(
            srs.reverse(&local.to_ascii_lowercase(), DAY).unwrap(),
            "alice.b@sender.test"
        );
    }

    #[test]
    fn forged_expired_and_malformed_addresses_are_refused() {
        let srs = Srs::new(b"0123456789abcdef0123456789abcdef");
        let fwd = srs.forward("a@sender.test", "example.org", DAY);
        let local = fwd.rsplit_once('@').unwrap().0;
        assert_eq!(srs.reverse(local, DAY + 22), Err(SrsError::Expired));
        let other = Srs::new(b"another key, also thirty-two by.");
        assert_eq!(other.reverse(local, DAY), Err(SrsError::Forged));
        let relay = local.replace("=a", "=victim");
        assert_eq!(srs.reverse(&relay, DAY), Err(SrsError::Forged));
        for bad in [
            "SRS0=",
            "SRS0=x=y",
            "SRS0=abcd=AAA=d=l",
            "plain",
            "SRS0=ab=A!=d=l",
            "SRS0=é",
        ] {
            assert!(srs.reverse(bad, DAY).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_null_sender_and_our_own_addresses_stay() {
        let srs = Srs::new(b"0123456789abcdef0123456789abcdef");
        assert_eq!(srs.forward("", "example.org", DAY), "");
        assert_eq!(
            srs.forward("bob@Example.org", "example.org", DAY),
            "bob@Example.org"
        );
    }

    #[test]
    fn stamps_wrap_around_1024_days() {
        let srs = Srs::new(b"k");
        let fwd = srs.forward("a@b.test", "example.org", 1023);
        let local = fwd.rsplit_once('@').unwrap().0;
        assert_eq!(srs.reverse(local, 1024 + 5).unwrap(), "a@b.test");
    }
}

//! TLS set-up for every listener: the configured certificate, or a self-signed one
//! generated on first start and kept in the data directory. A generated certificate is
//! valid for a year and made afresh at a start within 30 days of its expiry (or when it
//! is one of the older ones valid until 4096). TLS 1.2 and 1.3 only, with ring's
//! forward-secret AEAD suites (rustls has no others).

use std::{path::Path, sync::Arc};

use anyhow::{Context, Result};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

use crate::config::Config;

/// The server's TLS: the configuration every listener uses and when its certificate
/// expires.
pub struct Tls {
    /// The rustls configuration of the mail, admin and autoconfig listeners (TLS 1.2
    /// and 1.3).
    pub config: Arc<rustls::ServerConfig>,
    /// The mirror listener's: the same certificate, TLS 1.3 only (both twins speak it,
    /// so an older version offered there is no twin), asking the dialer for its own.
    pub mirror: Arc<rustls::ServerConfig>,
    /// The certificate chain and key, which this twin also shows when it dials its twin.
    pub certs: Vec<CertificateDer<'static>>,
    /// The chain's private key.
    pub key: PrivateKeyDer<'static>,
    /// The leaf certificate's notAfter (Unix seconds), when it could be read.
    pub expires: Option<i64>,
    /// True for the self-signed certificate twinmail generated (no tls.cert configured):
    /// clients see a certificate no authority vouches for.
    pub generated: bool,
}

/// How long a generated certificate is valid, in days.
const GENERATED_DAYS: i64 = 365;
/// A generated certificate this close to its expiry (days) is made afresh at start.
const RENEW_WITHIN_DAYS: i64 = 30;

/// Builds the server-side TLS configuration.
pub fn server_config(config: &Config) -> Result<Tls> {
    let (cert_path, key_path) = match (&config.tls.cert, &config.tls.key) {
        (Some(c), Some(k)) => (config.resolve(c), config.resolve(k)),
        _ => {
            let dir = config.data_dir().join("tls");
            let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
            let now = chrono::Utc::now().timestamp();
            let expires = (c.exists() && k.exists()).then(|| expiry_of(&c)).flatten();
            if needs_renewal(expires, now) {
                if let Some(at) = expires {
                    tracing::info!(
                        cert = %c.display(),
                        expired = %chrono::DateTime::from_timestamp(at, 0).unwrap_or_default(),
                        "the generated certificate is near its expiry (or valid far too long): making a new one"
                    );
                }
                generate(&config.node.hostname, &c, &k, now)?;
            }
            (c, k)
        }
    };
    let generated = config.tls.cert.is_none();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect())
        .with_context(|| {
            format!(
                "tls.cert: cannot read certificates from {}",
                cert_path.display()
            )
        })?;
    if certs.is_empty() {
        anyhow::bail!("tls.cert: no certificate in {}", cert_path.display());
    }
    let key = PrivateKeyDer::from_pem_file(&key_path).with_context(|| {
        format!(
            "tls.key: cannot read a private key from {}",
            key_path.display()
        )
    })?;
    let expires = not_after(&certs[0]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs.clone(), key.clone_key())
        .context("tls: certificate and key do not match")?;
    let mirror = twinmail_mirror::acceptor_config(certs.clone(), key.clone_key())
        .context("tls: certificate and key do not match")?;
    Ok(Tls {
        config: Arc::new(cfg),
        mirror,
        certs,
        key,
        expires,
        generated,
    })
}

/// The SHA-256 of the public key (SPKI) of the first certificate in a PEM file, in hex:
/// what mirror.twin_cert_sha256 pins.
pub fn spki_fingerprint(path: &Path) -> Result<String> {
    let first = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .next()
        .with_context(|| format!("no certificate in {}", path.display()))?
        .with_context(|| format!("cannot read a certificate from {}", path.display()))?;
    let digest = twinmail_mirror::spki_sha256(&first).with_context(|| {
        format!(
            "the first certificate in {} cannot be parsed",
            path.display()
        )
    })?;
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether a generated certificate expiring at `expires` (None: missing or unreadable)
/// must be made afresh at `now`: within [`RENEW_WITHIN_DAYS`] of its expiry, or valid
/// for longer than a generated one ever is now (the older ones ran until 4096).
fn needs_renewal(expires: Option<i64>, now: i64) -> bool {
    match expires {
        None => true,
        Some(at) => at - now < RENEW_WITHIN_DAYS * 86400 || at - now > (GENERATED_DAYS + 1) * 86400,
    }
}

/// The notAfter of the first certificate in a PEM file.
fn expiry_of(path: &Path) -> Option<i64> {
    let first = CertificateDer::pem_file_iter(path).ok()?.next()?.ok()?;
    not_after(&first)
}

/// A certificate's notAfter as Unix seconds. Hand-written because none of our
/// dependencies exposes it (rustls and webpki check validity but do not report it, and
/// x509-parser would be a parser stack for one field): walks
/// Certificate → TBSCertificate → [version] serial signature issuer validity, reading
/// only DER lengths, and gives up (None) on anything unexpected.
pub fn not_after(der: &[u8]) -> Option<i64> {
    /// Splits one DER element off `b`: (tag, contents, rest).
    fn element(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, b) = b.split_first()?;
        let (&first, mut b) = b.split_first()?;
        let len = if first < 0x80 {
            first as usize
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 || b.len() < n {
                return None;
            }
            let len = b[..n]
                .iter()
                .fold(0usize, |acc, &x| (acc << 8) | x as usize);
            b = &b[n..];
            len
        };
        (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
    }
    let (0x30, cert, _) = element(der)? else {
        return None;
    };
    let (0x30, tbs, _) = element(cert)? else {
        return None;
    };
    let mut rest = tbs;
    let (tag, _, r) = element(rest)?;
    if tag == 0xa0 {
        rest = r; // explicit version
    }
    for _ in 0..3 {
        rest = element(rest)?.2; // serial, signature algorithm, issuer
    }
    let (0x30, validity, _) = element(rest)? else {
        return None;
    };
    let (_, _, after) = element(validity)?;
    let (tag, time, _) = element(after)?;
    let text = std::str::from_utf8(time).ok()?;
    let full = match (tag, text.len()) {
        // UTCTime YYMMDDHHMMSSZ: 50..99 is 19xx (RFC 5280 4.1.2.5.1).
        (0x17, 13) => {
            let yy: u32 = text[..2].parse().ok()?;
            format!("{}{text}", if yy >= 50 { "19" } else { "20" })
        }
        (0x18, 15) => text.to_string(),
        _ => return None,
    };
    chrono::NaiveDateTime::parse_from_str(full.trim_end_matches('Z'), "%Y%m%d%H%M%S")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

/// Writes a self-signed certificate for `hostname` (and localhost), valid from a day
/// before `now` (clocks differ) for [`GENERATED_DAYS`] after it. The key already in `key`
/// is kept when it can be read (so a twin's pin of it, mirror.twin_cert_sha256, survives
/// the renewal); else a fresh one is made.
fn generate(hostname: &str, cert: &Path, key: &Path, now: i64) -> Result<()> {
    let mut names = vec![hostname.to_string()];
    if hostname != "localhost" {
        names.push("localhost".into());
    }
    let mut params =
        rcgen::CertificateParams::new(names).context("a certificate for node.hostname")?;
    let day = |unix: i64| {
        let d = chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default();
        use chrono::Datelike;
        rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
    };
    params.not_before = day(now - 86400);
    params.not_after = day(now + GENERATED_DAYS * 86400);
    let kept = std::fs::read_to_string(key)
        .ok()
        .and_then(|pem| rcgen::KeyPair::from_pem(&pem).ok());
    let signing_key = match kept {
        Some(k) => k,
        None => rcgen::KeyPair::generate().context("generating a key")?,
    };
    let generated = params
        .self_signed(&signing_key)
        .context("generating a certificate")?;
    if let Some(dir) = cert.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    write_private(key, signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert, generated.pem()).with_context(|| format!("writing {}", cert.display()))?;
    tracing::info!(cert = %cert.display(), days = GENERATED_DAYS, "generated a self-signed certificate");
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_not_after_from_a_generated_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["mx.example".into()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 7, 9);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        // 2031-07-09T00:00:00Z
        assert_eq!(not_after(cert.der()), Some(1_941_321_600));
    }

    #[test]
    fn a_generated_certificate_lasts_a_year_and_is_renewed_a_month_before() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let now = 1_796_281_295; // 2026-12-03 07:01:35 UTC
        generate("mx.example", &c, &k, now).unwrap();
        let expires = expiry_of(&c).unwrap();
        // Midnight at the start of 2027-12-03: a year less the hours of the first day.
        assert_eq!(expires, 1_827_792_000);
        assert!(!needs_renewal(Some(expires), now));
        assert!(!needs_renewal(Some(expires), expires - 31 * 86400));
        assert!(needs_renewal(Some(expires), expires - 29 * 86400));
        assert!(needs_renewal(Some(expires), expires + 1));
        assert!(needs_renewal(None, now));
        // The older generated certificates, valid until 4096, are replaced too.
        assert!(needs_renewal(Some(67_767_976_233), now));
    }

    /// A twin pins its twin's key (mirror.twin_cert_sha256): the yearly renewal of a
    /// generated certificate must not change it.
    #[test]
    fn a_renewed_generated_certificate_keeps_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        generate("mx.example", &c, &k, 1_796_281_295).unwrap();
        let first = spki_fingerprint(&c).unwrap();
        let first_cert = std::fs::read(&c).unwrap();
        generate("mx.example", &c, &k, 1_796_281_295 + 340 * 86400).unwrap();
        assert_ne!(std::fs::read(&c).unwrap(), first_cert, "not renewed");
        assert_eq!(spki_fingerprint(&c).unwrap(), first);
    }

    #[test]
    fn garbage_is_none_not_a_panic() {
        for bad in [
            &b""[..],
            b"\x30",
            b"\x30\x84\xff\xff\xff\xff",
            b"\x30\x03\x30\x01",
        ] {
            assert_eq!(not_after(bad), None);
        }
        let mut params = rcgen::CertificateParams::new(vec!["a".into()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2030, 1, 1);
        let der = params
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap()
            .der()
            .to_vec();
        for cut in 0..der.len() {
            let _ = not_after(&der[..cut]);
        }
    }
}

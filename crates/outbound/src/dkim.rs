//! DKIM signing of outbound mail (RFC 6376, Ed25519 per RFC 8463) with mail-auth, and key
//! generation for `twinmail dkim generate`. The keys live in the store, so both twins sign
//! alike.

use mail_auth::{
    common::{
        crypto::{Ed25519Key, RsaKey, Sha256},
        headers::HeaderWriter,
    },
    dkim::{DkimSigner, generate::DkimKeyPair},
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};
use twinmail_store::DkimKey;

/// The key types `twinmail dkim generate` makes.
pub const ED25519: &str = "ed25519-sha256";
/// See [`ED25519`].
pub const RSA: &str = "rsa-sha256";

/// The headers signed (those present): what a forger would change.
const SIGNED: [&str; 13] = [
    "From",
    "Sender",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "To",
    "Cc",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "In-Reply-To",
    "References",
];

/// A key that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("DKIM key {domain}/{selector}: {why}")]
pub struct KeyError {
    /// Its domain.
    pub domain: String,
    /// Its selector.
    pub selector: String,
    /// What is wrong.
    pub why: String,
}

/// `message` with a DKIM-Signature header per key (each key of the signing domain: an
/// Ed25519 and an RSA signature side by side, so verifiers without Ed25519 still pass).
pub fn sign(keys: &[DkimKey], message: &[u8]) -> Result<Vec<u8>, KeyError> {
    let mut headers = String::new();
    for k in keys {
        let err = |why: String| KeyError {
            domain: k.domain.clone(),
            selector: k.selector.clone(),
            why,
        };
        let signature = match k.algorithm.as_str() {
            ED25519 => {
                let key =
                    Ed25519Key::from_pkcs8_der(&k.private_key).map_err(|e| err(e.to_string()))?;
                DkimSigner::from_key(key)
                    .domain(&k.domain)
                    .selector(&k.selector)
                    .headers(SIGNED)
                    .sign(message)
            }
            RSA => {
                let key = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs1(
                    PrivatePkcs1KeyDer::from(k.private_key.as_slice()),
                ))
                .map_err(|e| err(e.to_string()))?;
                DkimSigner::from_key(key)
                    .domain(&k.domain)
                    .selector(&k.selector)
                    .headers(SIGNED)
                    .sign(message)
            }
            other => return Err(err(format!("unknown algorithm {other}"))),
        }
        .map_err(|e| err(e.to_string()))?;
        headers.push_str(&signature.to_header());
    }
    let mut out = headers.into_bytes();
    out.extend_from_slice(message);
    Ok(out)
}

/// The signing domain for a message: its From header's domain (what DMARC aligns with),
/// else the envelope sender's.
pub fn signing_domain(message: &[u8], envelope_from: &str) -> Option<String> {
    let parsed = mail_parser::MessageParser::new().parse_headers(message);
    let from = parsed
        .as_ref()
        .and_then(|m| m.from())
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_string)
        .unwrap_or_else(|| envelope_from.to_string());
    from.rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// A new key: its private half (as the store keeps it) and the DNS TXT record's value.
pub fn generate(algorithm: &str) -> Result<(Vec<u8>, String), String> {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    match algorithm {
        ED25519 => {
            let pair = DkimKeyPair::generate_ed25519().map_err(|e| e.to_string())?;
            let (private, public) = pair.into_inner();
            Ok((private, format!("v=DKIM1; k=ed25519; p={}", b64(&public))))
        }
        RSA => {
            let pair = DkimKeyPair::generate_rsa(2048).map_err(|e| e.to_string())?;
            let (private, public) = pair.into_inner();
            Ok((
                private,
                format!("v=DKIM1; k=rsa; p={}", b64(&rsa_spki(&public))),
            ))
        }
        other => Err(format!("unknown algorithm {other}")),
    }
}

/// An RSAPublicKey (PKCS#1) wrapped as the SubjectPublicKeyInfo most verifiers expect in
/// `p=` (RFC 6376 §3.6.1). Hand-written: a fixed algorithm identifier and two lengths.
fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    fn der_len(n: usize, out: &mut Vec<u8>) {
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let bytes: Vec<u8> = n
                .to_be_bytes()
                .into_iter()
                .skip_while(|&b| b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
    }
    // SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }
    const ALGORITHM: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0x03];
    der_len(pkcs1.len() + 1, &mut bits);
    bits.push(0);
    bits.extend_from_slice(pkcs1);
    let mut out = vec![0x30];
    der_len(ALGORITHM.len() + bits.len(), &mut out);
    out.extend_from_slice(&ALGORITHM);
    out.extend(bits);
    out
}

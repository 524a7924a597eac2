//! DANE for SMTP (RFC 7672): when a mail server's DNSSEC-validated TLSA records exist,
//! its certificate must match one of them, and delivery happens under STARTTLS or not at
//! all. Matching TLSA records against the presented chain is ours (no kept crate does
//! it); certificate parsing is rustls-webpki's, digests are ring's.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;

/// One TLSA record (RFC 6698 §2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlsa {
    /// 2 DANE-TA (a trust anchor in the chain) or 3 DANE-EE (the server's own
    /// certificate); 0 and 1 (PKIX) are unusable for SMTP (RFC 7672 §3.1.3).
    pub usage: u8,
    /// 0: the whole certificate; 1: its SubjectPublicKeyInfo.
    pub selector: u8,
    /// 0: exact bytes; 1: SHA-256; 2: SHA-512.
    pub matching: u8,
    /// What the selected bytes must be (or hash to).
    pub data: Vec<u8>,
}

impl Tlsa {
    /// Whether a usable record (DANE-TA or DANE-EE, known selector and matching type).
    pub fn usable(&self) -> bool {
        matches!(self.usage, 2 | 3) && self.selector <= 1 && self.matching <= 2
    }

    /// Whether `cert` matches this record's selector and data.
    fn matches(&self, cert: &CertificateDer<'_>) -> bool {
        let selected: Vec<u8> = match self.selector {
            0 => cert.as_ref().to_vec(),
            _ => match webpki::EndEntityCert::try_from(cert) {
                Ok(c) => c.subject_public_key_info().as_ref().to_vec(),
                Err(_) => return false,
            },
        };
        match self.matching {
            0 => selected == self.data,
            1 => ring::digest::digest(&ring::digest::SHA256, &selected).as_ref() == self.data,
            2 => ring::digest::digest(&ring::digest::SHA512, &selected).as_ref() == self.data,
            _ => false,
        }
    }
}

/// Accepts a server certificate chain only when a TLSA record matches it: DANE-EE the
/// end-entity certificate (no name or date checks, RFC 7672 §3.1.1), DANE-TA a
/// certificate of the chain (the handshake signatures are checked by `CheckedBy`).
#[derive(Debug)]
pub struct DaneVerifier {
    /// The usable records.
    records: Vec<Tlsa>,
}

impl DaneVerifier {
    /// A TLS connector that verifies with DANE.
    pub fn connector(records: Vec<Tlsa>) -> tokio_rustls::TlsConnector {
        let verifier = Arc::new(twinmail_net::CheckedBy::new(DaneVerifier {
            records: records.into_iter().filter(Tlsa::usable).collect(),
        }));
        let config = rustls::ClientConfig::builder_with_provider(verifier.provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

impl twinmail_net::CertCheck for DaneVerifier {
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<(), rustls::Error> {
        let ok = self.records.iter().any(|r| match r.usage {
            3 => r.matches(end_entity),
            _ => intermediates
                .iter()
                .chain([end_entity])
                .any(|c| r.matches(c)),
        });
        if ok {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }
}

//! DANE for SMTP (RFC 7672): when a mail server's DNSSEC-validated TLSA records exist,
//! its certificate must match one of them, and delivery happens under STARTTLS or not at
//! all. Matching TLSA records against the presented chain is ours (no kept crate does
//! it); certificate parsing is rustls-webpki's, digests are ring's.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

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
/// end-entity certificate (no name or date checks, RFC 7672 §3.1.1); DANE-TA a
/// certificate of the chain that the end-entity certificate chains up to (signatures
/// and dates checked by rustls-webpki with that certificate as the only trust anchor),
/// and the end-entity certificate must name the MX host (RFC 7672 §3.1.2, §3.2.2). The
/// handshake signatures are checked by `CheckedBy`.
#[derive(Debug)]
pub struct DaneVerifier {
    /// The usable records.
    records: Vec<Tlsa>,
    /// The MX host dialled: the name a DANE-TA chain must be issued to.
    host: ServerName<'static>,
}

impl DaneVerifier {
    /// A TLS connector that verifies `host`'s certificate with DANE; `None` when `host`
    /// is not a DNS name a certificate could carry.
    pub fn connector(records: Vec<Tlsa>, host: &str) -> Option<tokio_rustls::TlsConnector> {
        let host = ServerName::try_from(host.trim_end_matches('.').to_string()).ok()?;
        let verifier = Arc::new(twinmail_net::CheckedBy::new(DaneVerifier {
            records: records.into_iter().filter(Tlsa::usable).collect(),
            host,
        }));
        let config = rustls::ClientConfig::builder_with_provider(verifier.provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
    }

    /// Whether the end-entity certificate names the MX host and chains up to a
    /// certificate of the chain that `record` (DANE-TA) matches.
    fn issued_to_host(
        &self,
        record: &Tlsa,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> bool {
        let Ok(ee) = webpki::EndEntityCert::try_from(end_entity) else {
            return false;
        };
        if ee.verify_is_valid_for_subject_name(&self.host).is_err() {
            return false;
        }
        if record.matches(end_entity) {
            // The server's own certificate is the anchor: nothing to chain.
            return true;
        }
        let algs = rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .all;
        intermediates
            .iter()
            .filter(|c| record.matches(c))
            .any(|anchor| {
                let Ok(anchor) = webpki::anchor_from_trusted_cert(anchor) else {
                    return false;
                };
                ee.verify_for_usage(
                    algs,
                    &[anchor],
                    intermediates,
                    UnixTime::now(),
                    webpki::KeyUsage::server_auth(),
                    None,
                    None,
                )
                .is_ok()
            })
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
            _ => self.issued_to_host(r, end_entity, intermediates),
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

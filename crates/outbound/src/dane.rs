//! DANE for SMTP (RFC 7672): when a mail server's DNSSEC-validated TLSA records exist,
//! its certificate must match one of them, and delivery happens under STARTTLS or not at
//! all. Matching TLSA records against the presented chain is ours (no kept crate does
//! it); certificate parsing is rustls-webpki's, digests are ring's.

use std::sync::Arc;

use rustls::{
    DigitallySignedStruct, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    pki_types::{CertificateDer, ServerName, UnixTime},
};

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
/// certificate of the chain. The handshake signatures are checked as always.
#[derive(Debug)]
pub struct DaneVerifier {
    /// The signature algorithms.
    provider: Arc<rustls::crypto::CryptoProvider>,
    /// The usable records.
    records: Vec<Tlsa>,
}

impl DaneVerifier {
    /// A verifier for these records.
    pub fn new(records: Vec<Tlsa>) -> DaneVerifier {
        DaneVerifier {
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            records: records.into_iter().filter(Tlsa::usable).collect(),
        }
    }

    /// A TLS connector that verifies with DANE.
    pub fn connector(records: Vec<Tlsa>) -> tokio_rustls::TlsConnector {
        let verifier = Arc::new(DaneVerifier::new(records));
        let config = rustls::ClientConfig::builder_with_provider(verifier.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ok = self.records.iter().any(|r| match r.usage {
            3 => r.matches(end_entity),
            _ => intermediates
                .iter()
                .chain([end_entity])
                .any(|c| r.matches(c)),
        });
        if ok {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

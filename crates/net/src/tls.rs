//! The server side of a TLS handshake, bounded in time so that half-open handshakes
//! cannot pile up, and in rate per address (HOSTILE.md CONN).

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, server::TlsStream};

/// Longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs the handshake on `stream`; `None` when there is no TLS configured, or the client
/// failed or took too long.
pub async fn handshake(
    acceptor: Option<&TlsAcceptor>,
    stream: TcpStream,
) -> Option<TlsStream<TcpStream>> {
    let acceptor = acceptor?;
    // Checked before the handshake does any work: a handshake costs this side a key
    // exchange and a signature, so a flood of them from one address is cut off here.
    if let Ok(peer) = stream.peer_addr()
        && !crate::limits::handshake_allowed(peer.ip())
    {
        tracing::debug!(%peer, "too many TLS handshakes from this address; closed");
        return None;
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        _ => {
            tracing::debug!("TLS handshake failed");
            None
        }
    }
}

/// What a server's certificate must satisfy where no authority vouches for it: a pinned
/// key (the twin's), DNSSEC-published TLSA records (DANE). The handshake's signatures are
/// checked by [`CheckedBy`] as always.
pub trait CertCheck: std::fmt::Debug + Send + Sync + 'static {
    /// Accepts or refuses the presented chain.
    fn check(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
    ) -> Result<(), rustls::Error>;
}

/// A rustls server-certificate verifier made of a [`CertCheck`] and ring's checks of the
/// handshake signatures: the one place both the mirror's pin and outbound DANE go through.
#[derive(Debug)]
pub struct CheckedBy<C> {
    /// The signature algorithms (ring's).
    provider: std::sync::Arc<rustls::crypto::CryptoProvider>,
    /// The certificate check.
    check: C,
}

impl<C: CertCheck> CheckedBy<C> {
    /// A verifier running `check`, with ring's signature algorithms.
    pub fn new(check: C) -> CheckedBy<C> {
        CheckedBy {
            provider: std::sync::Arc::new(rustls::crypto::ring::default_provider()),
            check,
        }
    }

    /// The crypto provider its signatures are checked with (for the client config).
    pub fn provider(&self) -> std::sync::Arc<rustls::crypto::CryptoProvider> {
        self.provider.clone()
    }
}

impl<C: CertCheck> rustls::client::danger::ServerCertVerifier for CheckedBy<C> {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.check.check(end_entity, intermediates)?;
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

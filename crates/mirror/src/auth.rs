//! Who is on the other end: TLS, then mutual proof of the shared secret.
//!
//! Each side sends a fresh nonce. The dialer proves first: HMAC-SHA256 keyed by the secret
//! over a label, its role, both nonces and 32 bytes exported from this TLS session
//! (RFC 5705/8446 exporter). The acceptor checks it before it proves anything or says who
//! it is, so a peer without the secret learns nothing; and a proof relayed from another
//! TLS session fails, because that session exports other bytes. The secret itself never
//! crosses the wire. Certificates are not checked against authorities (twins use
//! self-signed ones): the exporter binding makes a man in the middle visible without
//! them. A twin's config may also pin the twin's certificate by the SHA-256 of its public
//! key (SPKI): a dialer then refuses an acceptor with any other in the TLS handshake, and
//! an acceptor refuses a dialer that does not show a certificate with the pinned key
//! (dialers show their own certificate, the one their mirror listener presents, when
//! they have it), before a frame either way.

use std::sync::Arc;

use ring::hmac;
use rustls::{
    DigitallySignedStruct, SignatureScheme,
    client::danger::HandshakeSignatureValid,
    pki_types::{CertificateDer, ServerName, UnixTime},
};
use tokio::{io::AsyncWriteExt, net::TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

use crate::{
    LinkError,
    frame::{self, Frame, Hello, Purpose, VERSION},
};

/// What the twin must show to be taken for the twin: proof of the shared secret, and,
/// when the config pins it, a certificate with the pinned key. Never printed.
#[derive(Clone)]
pub struct Secret {
    /// The HMAC key made from the secret's text.
    key: Arc<hmac::Key>,
    /// SHA-256 of the twin's certificate's SubjectPublicKeyInfo, when pinned; a dialer
    /// refuses a twin presenting any other key, an acceptor a dialer not presenting it.
    twin_cert: Option<[u8; 32]>,
    /// This twin's own certificate chain and key, shown when dialing (so that a twin
    /// pinning it lets us in); `None`: dial without a client certificate.
    identity: Option<Arc<Identity>>,
}

/// A certificate chain (leaf first) and its private key.
pub struct Identity {
    /// The chain.
    pub certs: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: rustls::pki_types::PrivateKeyDer<'static>,
}

/// How to make a secret good enough, for the messages that refuse a weak one.
pub const MAKE_SECRET: &str =
    "head -c 32 /dev/urandom | base64 > mirror.secret; chmod 600 mirror.secret";

impl Secret {
    /// A secret from its text: at least 32 random bytes, written as 64 or more hex digits,
    /// or (base64 or any other text) 43 or more characters, with some variety in them.
    /// Surrounding whitespace is not part of it.
    pub fn new(text: &str) -> Result<Secret, String> {
        let t = text.trim();
        let hex = t.bytes().all(|b| b.is_ascii_hexdigit());
        let bytes = if hex { t.len() / 2 } else { t.len() * 3 / 4 };
        let distinct = t.bytes().collect::<std::collections::BTreeSet<_>>().len();
        if bytes < 32 || distinct < 8 {
            return Err(format!(
                "the mirror secret must be at least 32 random bytes (64 hex digits or 44 \
                 base64 characters; this one holds about {bytes}{}); make one with `{MAKE_SECRET}`",
                if distinct < 8 {
                    ", and repeats itself"
                } else {
                    ""
                }
            ));
        }
        Ok(Secret {
            key: Arc::new(hmac::Key::new(hmac::HMAC_SHA256, t.as_bytes())),
            twin_cert: None,
            identity: None,
        })
    }

    /// The same secret, with the twin's certificate pinned to the key whose SPKI SHA-256
    /// is `spki_sha256` (as [`spki_sha256`] computes it).
    pub fn pin_twin_cert(mut self, spki_sha256: [u8; 32]) -> Secret {
        self.twin_cert = Some(spki_sha256);
        self
    }

    /// The same secret, dialing with `identity` as this twin's client certificate.
    pub fn with_identity(mut self, identity: Identity) -> Secret {
        self.identity = Some(Arc::new(identity));
        self
    }
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo (DER, with its SEQUENCE header), the
/// value a pin names: it stays the same when a certificate is renewed with the same key.
/// `None` for bytes that are not an X.509 certificate.
pub fn spki_sha256(cert: &CertificateDer<'_>) -> Option<[u8; 32]> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &parsed.subject_public_key_info());
    digest.as_ref().try_into().ok()
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// This side's identity in a handshake.
#[derive(Clone, Debug)]
pub struct Me {
    /// Node id.
    pub node: String,
    /// Database incarnation.
    pub incarnation: String,
}

/// An authenticated session.
pub struct Authed {
    /// The TLS stream.
    pub stream: TlsStream<TcpStream>,
    /// The peer's hello (node, incarnation, purpose).
    pub peer: Hello,
}

const LABEL: &[u8] = b"EXPORTER-twinmail-mirror";

fn nonce() -> [u8; 32] {
    let mut n = [0u8; 32];
    // The OS RNG failing is not something a server can go on from.
    getrandom::fill(&mut n).expect("the OS random number generator failed");
    n
}

fn exporter(stream: &TlsStream<TcpStream>) -> Result<[u8; 32], LinkError> {
    let mut out = [0u8; 32];
    match stream {
        TlsStream::Client(c) => c.get_ref().1.export_keying_material(&mut out, LABEL, None),
        TlsStream::Server(s) => s.get_ref().1.export_keying_material(&mut out, LABEL, None),
    }
    .map_err(|e| LinkError::Auth(format!("TLS exporter: {e}")))?;
    Ok(out)
}

fn mac_input(role: &str, ekm: &[u8; 32], dialer: &[u8], acceptor: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(160);
    m.extend_from_slice(b"twinmail-mirror-v1\0");
    m.extend_from_slice(role.as_bytes());
    m.push(0);
    m.extend_from_slice(ekm);
    m.extend_from_slice(dialer);
    m.extend_from_slice(acceptor);
    m
}

fn proof(secret: &Secret, input: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&secret.key, input);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

fn check(secret: &Secret, input: &[u8], got: &[u8; 32]) -> Result<(), LinkError> {
    hmac::verify(&secret.key, input, got).map_err(|_| LinkError::Auth("wrong proof".into()))
}

fn check_version(h: &Hello) -> Result<Vec<u8>, LinkError> {
    if h.version != VERSION {
        return Err(LinkError::Version(h.version));
    }
    hex::decode(&h.nonce)
        .ok()
        .filter(|n| n.len() == 32)
        .ok_or_else(|| LinkError::Auth("bad nonce".into()))
}

/// The next handshake frame: small (a hello or a proof), so a peer that has proved
/// nothing cannot make this twin read or hold more than a KiB.
async fn next(stream: &mut TlsStream<TcpStream>) -> Result<Frame, LinkError> {
    Ok(frame::read_limited(stream, frame::MAX_HANDSHAKE_FRAME).await?)
}

/// A handshake frame of the wrong kind, named by its kind only (never its contents).
fn unexpected(want: &str, got: &Frame) -> LinkError {
    LinkError::Protocol(format!("expected {want}, got {}", got.name()))
}

async fn send(stream: &mut TlsStream<TcpStream>, f: &Frame) -> Result<(), LinkError> {
    frame::write(stream, f).await?;
    stream.flush().await?;
    Ok(())
}

/// Dials the twin: TLS, hello, prove, check the twin's proof.
pub async fn dial(
    tcp: TcpStream,
    me: &Me,
    secret: &Secret,
    purpose: Purpose,
) -> Result<Authed, LinkError> {
    let tls = TlsConnector::from(client_config(secret.twin_cert, secret.identity.as_deref())?);
    let name = ServerName::try_from("twin").expect("a valid name");
    let mut stream: TlsStream<TcpStream> = tls
        .connect(name, tcp)
        .await
        .map_err(
            |e| match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::ApplicationVerificationFailure,
                )) => LinkError::Auth(
                    "the twin's certificate is not the pinned one (mirror.twin_cert_sha256)".into(),
                ),
                _ => LinkError::Io(e),
            },
        )?
        .into();
    let mine = nonce();
    send(
        &mut stream,
        &Frame::Hello(Hello {
            version: VERSION,
            node: me.node.clone(),
            incarnation: me.incarnation.clone(),
            nonce: hex::encode(mine),
            purpose,
        }),
    )
    .await?;
    let theirs = match next(&mut stream).await? {
        Frame::Hello(h) => check_version(&h)?,
        Frame::Refused(why) => return Err(LinkError::Refused(why)),
        other => return Err(unexpected("hello", &other)),
    };
    let ekm = exporter(&stream)?;
    send(
        &mut stream,
        &Frame::Proof(proof(secret, &mac_input("dialer", &ekm, &mine, &theirs))),
    )
    .await?;
    match next(&mut stream).await? {
        Frame::Proof(p) => check(secret, &mac_input("acceptor", &ekm, &mine, &theirs), &p)?,
        Frame::Refused(why) => return Err(LinkError::Refused(why)),
        _ => return Err(LinkError::Auth("the twin did not prove the secret".into())),
    }
    match next(&mut stream).await? {
        Frame::Hello(peer) => Ok(Authed { stream, peer }),
        Frame::Refused(why) => Err(LinkError::Refused(why)),
        other => Err(unexpected("hello", &other)),
    }
}

/// Accepts a connection on the mirror port: TLS, the dialer's hello and proof, then ours.
pub async fn accept(
    tcp: TcpStream,
    acceptor: &TlsAcceptor,
    me: &Me,
    secret: &Secret,
) -> Result<Authed, LinkError> {
    let stream = acceptor.accept(tcp).await?;
    // The server offers TLS 1.3 alone on the mirror port; checked here as well, so an
    // acceptor built with wider settings (a test's, say) still holds the link to 1.3.
    if stream.get_ref().1.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
        return Err(LinkError::Auth(
            "the mirror link speaks TLS 1.3 only".into(),
        ));
    }
    if let Some(pin) = secret.twin_cert {
        let shown = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(spki_sha256);
        if shown != Some(pin) {
            return Err(LinkError::Auth(
                "the dialer's certificate is not the pinned one (mirror.twin_cert_sha256)".into(),
            ));
        }
    }
    let mut stream: TlsStream<TcpStream> = stream.into();
    let peer = match next(&mut stream).await? {
        Frame::Hello(h) => h,
        other => return Err(unexpected("hello", &other)),
    };
    let theirs = match check_version(&peer) {
        Ok(n) => n,
        Err(e) => {
            let _ = send(&mut stream, &Frame::Refused(e.to_string())).await;
            return Err(e);
        }
    };
    let mine = nonce();
    // Only a nonce before the dialer has proved itself: no name, no incarnation.
    send(
        &mut stream,
        &Frame::Hello(Hello {
            version: VERSION,
            node: String::new(),
            incarnation: String::new(),
            nonce: hex::encode(mine),
            purpose: peer.purpose,
        }),
    )
    .await?;
    let ekm = exporter(&stream)?;
    match next(&mut stream).await? {
        Frame::Proof(p) => check(secret, &mac_input("dialer", &ekm, &theirs, &mine), &p)?,
        _ => return Err(LinkError::Auth("no proof".into())),
    }
    if peer.node == me.node || peer.node.is_empty() {
        return Err(LinkError::Auth(format!(
            "the peer calls itself {:?}, which is not a twin of {:?}",
            peer.node, me.node
        )));
    }
    send(
        &mut stream,
        &Frame::Proof(proof(secret, &mac_input("acceptor", &ekm, &theirs, &mine))),
    )
    .await?;
    send(
        &mut stream,
        &Frame::Hello(Hello {
            version: VERSION,
            node: me.node.clone(),
            incarnation: me.incarnation.clone(),
            nonce: hex::encode(mine),
            purpose: peer.purpose,
        }),
    )
    .await?;
    Ok(Authed { stream, peer })
}

/// The dialer's TLS: 1.3 only, the twin's certificate pinned when `pin` is set, this
/// twin's certificate shown when it has one.
fn client_config(
    pin: Option<[u8; 32]>,
    identity: Option<&Identity>,
) -> Result<Arc<rustls::ClientConfig>, LinkError> {
    let verifier = Arc::new(twinmail_net::CheckedBy::new(TwinCert { pin }));
    let builder = rustls::ClientConfig::builder_with_provider(verifier.provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3 is supported by ring")
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    // Dials are few (a link, a wake, a verify): built afresh each time.
    let cfg = match identity {
        None => builder.with_no_client_auth(),
        Some(id) => builder
            .with_client_auth_cert(id.certs.clone(), id.key.clone_key())
            .map_err(|e| LinkError::Auth(format!("this twin's certificate: {e}")))?,
    };
    Ok(Arc::new(cfg))
}

/// The mirror listener's TLS: 1.3 only, with `certs` and `key`, asking dialers for a
/// certificate without requiring one (checked against the pin, if any, by [`accept`]).
pub fn acceptor_config(
    certs: Vec<CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(DialerCert(provider)))
        .with_single_cert(certs, key)?;
    Ok(Arc::new(cfg))
}

/// Takes a dialer's certificate, whatever it is, once the dialer has proved it holds
/// the certificate's key; [`accept`] compares it with the pin.
#[derive(Debug)]
struct DialerCert(
    /// The signature algorithms the dialer's proof of its key may use.
    Arc<rustls::crypto::CryptoProvider>,
);

impl rustls::server::danger::ClientCertVerifier for DialerCert {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Checks the twin's certificate: against the pin when there is one, else not at all
/// (twins use self-signed certificates; identity comes from the secret proof). Either way
/// the server must prove it holds the certificate's key (`CheckedBy` checks that).
#[derive(Debug)]
struct TwinCert {
    /// SHA-256 of the SPKI the twin's certificate must carry; `None`: any.
    pin: Option<[u8; 32]>,
}

impl twinmail_net::CertCheck for TwinCert {
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
    ) -> Result<(), rustls::Error> {
        let Some(pin) = self.pin else {
            return Ok(());
        };
        let got = spki_sha256(end_entity).ok_or(rustls::Error::InvalidCertificate(
            rustls::CertificateError::BadEncoding,
        ))?;
        // A pin is public (it is in both configs and any client sees the key): no need
        // for a constant-time comparison.
        if got != pin {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    fn me(node: &str) -> Me {
        Me {
            node: node.into(),
            incarnation: "x".into(),
        }
    }

    fn secret(s: &str) -> Secret {
        Secret::new(s).unwrap()
    }

    /// Runs a dialer against an acceptor; returns (dialer's result, acceptor's result).
    async fn handshake(dialer_secret: &str, acceptor_secret: &str) -> (bool, bool) {
        let tls = twinmail_testkit::Tls::new();
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let acceptor = tls.acceptor();
        let s = secret(acceptor_secret);
        let server = tokio::spawn(async move {
            let (tcp, _) = l.accept().await.unwrap();
            accept(tcp, &acceptor, &me("b"), &s)
                .await
                .map(|a| a.peer.node)
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let d = dial(tcp, &me("a"), &secret(dialer_secret), Purpose::Link).await;
        let a = server.await.unwrap();
        if let Ok(peer) = &a {
            assert_eq!(peer, "a");
        }
        (d.is_ok(), a.is_ok())
    }

    #[tokio::test]
    async fn the_same_secret_links_and_another_does_not() {
        let key = "0123456789abcdef!".repeat(3);
        let other = key.replace('X', "f").replacen('f', "X", 1);
        assert_eq!(handshake(&key, &key).await, (true, true));
        assert_eq!(handshake(&key, &other).await, (false, false));
    }

    /// A man in the middle terminates TLS on both sides and relays every frame
    /// unchanged: the proofs are bound to the TLS session they were made in, so the real
    /// acceptor refuses the relayed one, and the dialer gets no proof back.
    #[tokio::test]
    async fn a_relayed_challenge_fails() {
        let real = twinmail_testkit::Tls::new();
        let fake = twinmail_testkit::Tls::new();
        let key = "0123456789abcdef-shared-0123456789abcdef-shared";
        let real_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let real_addr = real_l.local_addr().unwrap();
        let acceptor = real.acceptor();
        let server = tokio::spawn(async move {
            let (tcp, _) = real_l.accept().await.unwrap();
            accept(tcp, &acceptor, &me("b"), &secret(key))
                .await
                .map(|_| ())
        });
        let mitm_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mitm_addr = mitm_l.local_addr().unwrap();
        let fake_acceptor = fake.acceptor();
        tokio::spawn(async move {
            let (tcp, _) = mitm_l.accept().await.unwrap();
            let victim: TlsStream<TcpStream> = fake_acceptor.accept(tcp).await.unwrap().into();
            let upstream = TcpStream::connect(real_addr).await.unwrap();
            let name = ServerName::try_from("twin").unwrap();
            let upstream: TlsStream<TcpStream> =
                TlsConnector::from(client_config(None, None).unwrap())
                    .connect(name, upstream)
                    .await
                    .unwrap()
                    .into();
            let (mut vr, mut vw) = tokio::io::split(victim);
            let (mut ur, mut uw) = tokio::io::split(upstream);
            let up = async {
                while let Ok(f) = frame::read(&mut vr).await {
                    frame::write(&mut uw, &f).await.ok();
                    uw.flush().await.ok();
                }
            };
            let down = async {
                while let Ok(f) = frame::read(&mut ur).await {
                    frame::write(&mut vw, &f).await.ok();
                    vw.flush().await.ok();
                }
                // The real acceptor hung up: so does the relay.
                vw.shutdown().await.ok();
            };
            tokio::join!(up, down);
        });
        let tcp = TcpStream::connect(mitm_addr).await.unwrap();
        let dialed = dial(tcp, &me("a"), &secret(key), Purpose::Link).await;
        let accepted = server.await.unwrap();
        assert!(
            matches!(accepted, Err(LinkError::Auth(_))),
            "the acceptor took a relayed proof: {accepted:?}"
        );
        assert!(dialed.is_err(), "the dialer linked through a relay");
    }
}

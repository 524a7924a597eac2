//! Test support for the protocol crates (a dev-dependency only): a fresh store with two
//! users, a self-signed TLS pair, a raw line client for byte-exact transcripts, and a way
//! to run Python's mail clients.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    net::TcpStream,
};
use twinmail_store::{HashCost, Store, StoreOptions};

/// alice@example.com and her password.
pub const ALICE: (&str, &str) = ("alice@example.com", "alice-password");
/// bob@example.com and his password.
pub const BOB: (&str, &str) = ("bob@example.com", "bob-password");

/// A store in a fresh temp dir with example.com, alice, bob and sales@ → alice.
pub async fn store(dir: &std::path::Path) -> Store {
    let store = Store::open(StoreOptions {
        hash_cost: HashCost::cheap(),
        ..StoreOptions::new(dir.join("db.sqlite"), "a")
    })
    .await
    .unwrap();
    store.add_domain("example.com").await.unwrap();
    store.create_account(ALICE.0, ALICE.1).await.unwrap();
    store.create_account(BOB.0, BOB.1).await.unwrap();
    store.add_alias("sales@example.com", ALICE.0).await.unwrap();
    store
}

/// A self-signed certificate for "localhost", as server config and client trust.
#[derive(Clone)]
pub struct Tls {
    /// The server side.
    pub server: Arc<rustls::ServerConfig>,
    /// The certificate, for clients to trust.
    pub cert: CertificateDer<'static>,
}

impl Tls {
    /// A fresh key and certificate.
    pub fn new() -> Tls {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = ck.cert.der().clone();
        let key = PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
        Tls {
            server: Arc::new(server),
            cert,
        }
    }

    /// The acceptor for a server.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.server.clone())
    }

    /// A connector trusting only this certificate.
    pub fn connector(&self) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone()).unwrap();
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(cfg))
    }

    /// The certificate as PEM, for clients that read a CA file.
    pub fn cert_pem(&self) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.cert.as_ref());
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }
}

impl Default for Tls {
    fn default() -> Self {
        Tls::new()
    }
}

/// Anything a client can talk over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// How long a test waits for a line before failing (never hangs).
const LINE_TIMEOUT: Duration = Duration::from_secs(10);

/// A raw line client: sends exact bytes, reads lines.
pub struct Client {
    io: BufReader<Box<dyn Io>>,
}

impl Client {
    /// Connects in plaintext.
    pub async fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).await.unwrap();
        Client {
            io: BufReader::new(Box::new(s)),
        }
    }

    /// Connects with implicit TLS.
    pub async fn connect_tls(tls: &Tls, addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let s = tls.connector().connect(name, s).await.unwrap();
        Client {
            io: BufReader::new(Box::new(s)),
        }
    }

    /// Writes raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.io.get_mut().write_all(bytes).await.unwrap();
        self.io.get_mut().flush().await.unwrap();
    }

    /// Writes one line, adding CRLF.
    pub async fn send_line(&mut self, line: &str) {
        self.send(format!("{line}\r\n").as_bytes()).await;
    }

    /// Reads one line without its line end; `None` at EOF.
    pub async fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        let n = tokio::time::timeout(LINE_TIMEOUT, self.io.read_line(&mut line))
            .await
            .expect("the server did not answer in time")
            .unwrap();
        (n > 0).then(|| line.trim_end_matches(['\r', '\n']).to_string())
    }

    /// True when the server has closed the connection.
    pub async fn closed(&mut self) -> bool {
        let mut line = String::new();
        matches!(
            tokio::time::timeout(LINE_TIMEOUT, self.io.read_line(&mut line)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    /// Upgrades to TLS (after the server agreed to STARTTLS/STLS).
    pub async fn starttls(self, tls: &Tls) -> Client {
        assert!(
            self.io.buffer().is_empty(),
            "server sent bytes after agreeing to TLS"
        );
        let inner = self.io.into_inner();
        let name = ServerName::try_from("localhost").unwrap();
        let s = tls.connector().connect(name, inner).await.unwrap();
        Client {
            io: BufReader::new(Box::new(s)),
        }
    }
}

/// Base64 of a SASL PLAIN response.
pub fn plain(authz: &str, user: &str, pass: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{authz}\0{user}\0{pass}"))
}

/// Runs a Python script with `python3 -c`; panics with its output unless it succeeds.
pub fn python(script: &str, args: &[String]) -> String {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The messages in an account's INBOX, oldest first.
pub async fn inbox(store: &Store, account: &str) -> Vec<Vec<u8>> {
    let a = store.account(account).await.unwrap().unwrap();
    let inbox = store.mailbox(a.id, "INBOX").await.unwrap().unwrap();
    let mut out = Vec::new();
    for m in store.messages(inbox.id).await.unwrap() {
        out.push(store.blob(&m.blob).await.unwrap().unwrap());
    }
    out
}

/// Delivers `n` numbered messages to `account`'s INBOX through a store delivery (the
/// same path SMTP takes); returns their bytes. Every other line starts with a dot, so
/// protocols that dot-stuff are exercised.
pub async fn deliver(store: &Store, account: &str, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let m = format!(
            "From: Sender <x@remote.org>\r\nTo: {account}\r\nSubject: message {i}\r\nMessage-ID: <m{i}@remote.org>\r\n\r\nbody of {i}\r\n.starts with a dot\r\n"
        );
        let mut d = store.delivery();
        d.add_recipient(account).await.unwrap();
        d.commit(m.clone().into_bytes()).await.unwrap();
        out.push(m);
    }
    out
}

/// Runs fetchmail once as alice over implicit TLS to `port` with `proto` ("POP3 ... uidl"
/// or "IMAP"); `options` go on the user line ("keep", "nokeep fetchall", ...). Messages
/// are handed to an MDA that appends them to a file in `dir`. Returns (exit code, number of
/// messages delivered): exit 0 means mail was fetched, 1 means there was none.
pub fn fetchmail(dir: &std::path::Path, proto: &str, port: u16, options: &str) -> (i32, usize) {
    use std::os::unix::fs::PermissionsExt;
    let rc = dir.join("fetchmailrc");
    let out = dir.join("delivered");
    let _ = std::fs::remove_file(&out);
    let rc_text = format!(
        "set no syslog\npoll 127.0.0.1 with proto {proto} service {port}\n  user \"{}\" there with password \"{}\" is \"tester\" here\n  ssl no sslcertck {options}\n  mda \"/bin/sh -c 'cat >> {out}; echo ===SEP=== >> {out}'\"\n",
        ALICE.0,
        ALICE.1,
        out = out.display(),
    );
    std::fs::write(&rc, rc_text).unwrap();
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let status = std::process::Command::new("fetchmail")
        .arg("-f")
        .arg(&rc)
        .arg("--idfile")
        .arg(dir.join("fetchids"))
        .arg("--pidfile")
        .arg(dir.join("fetchmail.pid"))
        .arg("--nodetach")
        .arg("--silent")
        .env("HOME", dir)
        .status()
        .expect("fetchmail is installed (.ci/run installs it)");
    let got = std::fs::read_to_string(&out)
        .unwrap_or_default()
        .matches("===SEP===")
        .count();
    (status.code().unwrap_or(-1), got)
}

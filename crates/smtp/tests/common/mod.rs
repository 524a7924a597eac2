//! Test harness: a real store, real listeners on port 0, a raw line client for byte-exact
//! transcripts, and helpers to read back what was stored.
#![allow(dead_code)]

use std::{net::SocketAddr, sync::Arc, time::Duration};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::watch,
};
use twinmail_smtp::{Kind, Pipeline, Smtp, SmtpSettings};
use twinmail_store::{HashCost, Store, StoreOptions};

pub const ALICE: (&str, &str) = ("alice@example.com", "alice-password");
pub const BOB: (&str, &str) = ("bob@example.com", "bob-password");

/// A running SMTP server with its three listeners.
pub struct Server {
    pub store: Store,
    pub mx: SocketAddr,
    pub submission: SocketAddr,
    pub submissions: SocketAddr,
    pub cert: CertificateDer<'static>,
    pub stop: watch::Sender<bool>,
    pub dir: tempfile::TempDir,
}

pub async fn start() -> Server {
    start_with(|_| {}).await
}

/// Starts a server whose settings `tweak` may change (limits for hostile tests).
pub async fn start_with(tweak: impl FnOnce(&mut SmtpSettings)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreOptions {
        hash_cost: HashCost::cheap(),
        ..StoreOptions::new(dir.path().join("db.sqlite"), "a")
    })
    .await
    .unwrap();
    store.add_domain("example.com").await.unwrap();
    store.create_account(ALICE.0, ALICE.1).await.unwrap();
    store.create_account(BOB.0, BOB.1).await.unwrap();
    store.add_alias("sales@example.com", ALICE.0).await.unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.clone()], key)
    .unwrap();
    let mut settings = SmtpSettings::new("mx.example.com");
    settings.error_delay = Duration::from_millis(1);
    settings.auth_failure_delay = Duration::from_millis(1);
    tweak(&mut settings);
    let smtp = Smtp::new(
        settings,
        store.clone(),
        Some(tokio_rustls::TlsAcceptor::from(Arc::new(tls))),
        Pipeline::default(),
    );
    let (stop, shutdown) = watch::channel(false);
    let mut addrs = Vec::new();
    for kind in [Kind::Mx, Kind::Submission, Kind::Submissions] {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(l.local_addr().unwrap());
        tokio::spawn(twinmail_smtp::run(l, kind, smtp.clone(), shutdown.clone()));
    }
    Server {
        store,
        mx: addrs[0],
        submission: addrs[1],
        submissions: addrs[2],
        cert,
        stop,
        dir,
    }
}

impl Server {
    /// The messages in an account's INBOX, oldest first.
    pub async fn inbox(&self, account: &str) -> Vec<Vec<u8>> {
        let a = self.store.account(account).await.unwrap().unwrap();
        let inbox = self.store.mailbox(a.id, "INBOX").await.unwrap().unwrap();
        let mut out = Vec::new();
        for m in self.store.messages(inbox.id).await.unwrap() {
            out.push(self.store.blob(&m.blob).await.unwrap().unwrap());
        }
        out
    }

    /// A TLS client config trusting this server's certificate.
    pub fn tls_client(&self) -> tokio_rustls::TlsConnector {
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
}

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A raw SMTP client: sends exact bytes, reads whole (multi-line) replies.
pub struct Client {
    io: BufReader<Box<dyn Io>>,
}

const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

impl Client {
    /// Connects and returns the client with the greeting.
    pub async fn connect(addr: SocketAddr) -> (Client, String) {
        let s = TcpStream::connect(addr).await.unwrap();
        let mut c = Client {
            io: BufReader::new(Box::new(s)),
        };
        let greeting = c.reply().await;
        (c, greeting)
    }

    /// Connects with implicit TLS.
    pub async fn connect_tls(server: &Server, addr: SocketAddr) -> (Client, String) {
        let s = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let tls = server.tls_client().connect(name, s).await.unwrap();
        let mut c = Client {
            io: BufReader::new(Box::new(tls)),
        };
        let greeting = c.reply().await;
        (c, greeting)
    }

    /// Writes raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.io.get_mut().write_all(bytes).await.unwrap();
        self.io.get_mut().flush().await.unwrap();
    }

    /// Reads one reply, all its lines joined by '\n' (empty string at EOF).
    pub async fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(REPLY_TIMEOUT, self.io.read_line(&mut line))
                .await
                .expect("reply timed out")
                .unwrap();
            if n == 0 {
                return lines.join("\n");
            }
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            let last = line.len() < 4 || line.as_bytes()[3] == b' ';
            lines.push(line);
            if last {
                return lines.join("\n");
            }
        }
    }

    /// Sends one command line and returns the reply.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// True when the server has closed the connection (nothing more to read).
    pub async fn closed(&mut self) -> bool {
        let mut line = String::new();
        matches!(
            tokio::time::timeout(REPLY_TIMEOUT, self.io.read_line(&mut line)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    /// Upgrades to TLS after a 220 to STARTTLS.
    pub async fn starttls(self, server: &Server) -> Client {
        assert!(
            self.io.buffer().is_empty(),
            "server sent bytes after 220 to STARTTLS"
        );
        let inner = self.io.into_inner();
        let name = ServerName::try_from("localhost").unwrap();
        let tls = server.tls_client().connect(name, inner).await.unwrap();
        Client {
            io: BufReader::new(Box::new(tls)),
        }
    }

    /// Logs in with AUTH PLAIN (initial response).
    pub async fn auth_plain(&mut self, authz: &str, user: &str, pass: &str) -> String {
        use base64::Engine;
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{authz}\0{user}\0{pass}"));
        self.cmd(&format!("AUTH PLAIN {token}")).await
    }
}

/// A message with CRLF line ends.
pub fn message(subject: &str, body: &str) -> String {
    format!(
        "From: sender@remote.org\r\nTo: alice@example.com\r\nSubject: {subject}\r\n\r\n{body}\r\n"
    )
}

/// Runs a Python script with `python3 -c`, passing args; panics with its output on failure.
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

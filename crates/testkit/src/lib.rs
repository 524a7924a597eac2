//! Test support for the protocol crates (a dev-dependency only): a fresh store with two
//! users, a self-signed TLS pair, a raw line client for byte-exact transcripts, a way to
//! run Python's mail clients, and [`require`], which every test that runs an outside
//! program calls first so a missing one is named with its Debian package.

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

    /// Puts a layer over the stream (a compressor, after COMPRESS's OK); nothing the
    /// server sent may be waiting unread.
    pub fn map_io(self, layer: impl FnOnce(Box<dyn Io>) -> Box<dyn Io>) -> Client {
        assert!(
            self.io.buffer().is_empty(),
            "server sent bytes before the layer was put on"
        );
        Client {
            io: BufReader::new(layer(self.io.into_inner())),
        }
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

/// The outside programs the end-to-end tests run, each with what installs it on Debian.
/// `scripts/test` installs all of them (keep its package list in step with this one).
pub const TOOLS: &[Tool] = &[
    Tool {
        name: "aiosmtpd",
        probe: &[PYTHON_VENV, "-c", "import aiosmtpd"],
        install: "scripts/test (python3 -m venv .test-venv; .test-venv/bin/pip install aiosmtpd)",
    },
    Tool {
        name: "sievelib",
        probe: &[PYTHON_VENV, "-c", "import sievelib"],
        install: "scripts/test (python3 -m venv .test-venv; .test-venv/bin/pip install sievelib)",
    },
    Tool {
        name: "imapclient",
        probe: &[PYTHON_VENV, "-c", "import imapclient"],
        install: "scripts/test (python3 -m venv .test-venv; .test-venv/bin/pip install imapclient)",
    },
    Tool {
        name: "swaks",
        probe: &["swaks", "--version"],
        install: "apt-get install swaks",
    },
    Tool {
        name: "swaks-tls",
        probe: &["perl", "-MIO::Socket::SSL", "-MNet::SSLeay", "-e1"],
        install: "apt-get install libio-socket-ssl-perl libnet-ssleay-perl",
    },
    Tool {
        name: "fetchmail",
        probe: &["fetchmail", "--version"],
        install: "apt-get install fetchmail",
    },
    Tool {
        name: "mbsync",
        probe: &["mbsync", "--version"],
        install: "apt-get install isync",
    },
    Tool {
        // Driven inside tmux by the IMAP neomutt test.
        name: "neomutt",
        probe: &["neomutt", "-v"],
        install: "apt-get install neomutt",
    },
    Tool {
        // The terminal the neomutt test types into and reads the screen of.
        name: "tmux",
        probe: &["tmux", "-V"],
        install: "apt-get install tmux",
    },
    Tool {
        name: "chromium",
        probe: &["chromium", "--version"],
        install: "apt-get install chromium",
    },
    Tool {
        name: "promtool",
        probe: &["promtool", "--version"],
        install: "apt-get download prometheus; dpkg-deb -x prometheus_*.deb x; cp x/usr/bin/promtool /usr/local/bin/",
    },
    Tool {
        name: "python3",
        probe: &["python3", "--version"],
        install: "apt-get install python3",
    },
    Tool {
        name: "python3-yaml",
        probe: &["python3", "-c", "import yaml"],
        install: "apt-get install python3-yaml",
    },
    Tool {
        // Not a program: rustls-platform-verifier (under the mail-send client) refuses to
        // start without the system's CA bundle, even when told to trust any certificate.
        name: "ca-certificates",
        probe: &["test", "-s", "/etc/ssl/certs/ca-certificates.crt"],
        install: "apt-get install ca-certificates",
    },
    Tool {
        name: "curl",
        probe: &["curl", "--version"],
        install: "apt-get install curl",
    },
    Tool {
        // Started by the filter tests on a temp socket, never as the system's service.
        name: "clamd",
        probe: &["clamd", "--version"],
        install: "apt-get install clamav-daemon",
    },
    Tool {
        // Started by the filter tests on loopback with a temp config.
        name: "rspamd",
        probe: &["rspamd", "--version"],
        install: "apt-get install rspamd",
    },
];

/// An outside program a test runs.
pub struct Tool {
    /// What the test needs, as [`require`] is asked for it: a program's name ("swaks",
    /// "mbsync"), or a program with a capability ("swaks-tls": swaks with Perl's TLS
    /// modules, which its STARTTLS needs).
    pub name: &'static str,
    /// A command that exits 0 exactly when the program can do its part here.
    pub probe: &'static [&'static str],
    /// What to run to get it.
    pub install: &'static str,
}

impl Tool {
    /// True when the probe runs and succeeds. Probed once per test process: helpers call
    /// [`require`] on every use, and some tests time what the helper does.
    pub fn present(&self) -> bool {
        static SEEN: std::sync::Mutex<Vec<(&str, bool)>> = std::sync::Mutex::new(Vec::new());
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, present)) = seen.iter().find(|(name, _)| *name == self.name) {
            return *present;
        }
        let present = self.run_probe();
        seen.push((self.name, present));
        present
    }

    fn run_probe(&self) -> bool {
        let Some((program, args)) = self.probe.split_first() else {
            return false;
        };
        std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// One line per tool of `names` that is missing here, naming what installs it.
pub fn missing(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .filter_map(|name| match TOOLS.iter().find(|t| t.name == *name) {
            Some(t) if t.present() => None,
            Some(t) => Some(format!("{} is missing: {}", t.name, t.install)),
            None => Some(format!(
                "{name} is not a tool testkit knows (add it to TOOLS)"
            )),
        })
        .collect()
}

/// Fails the calling test unless every tool of `names` (see [`TOOLS`]) is here, with one
/// line per missing tool naming the Debian package to install. Call it first in a test
/// that runs an outside program, so a fresh machine gets that line instead of a panic
/// deep in a helper.
#[track_caller]
pub fn require(names: &[&str]) {
    let lines = missing(names);
    if !lines.is_empty() {
        panic!(
            "{}\n(scripts/test installs every tool the tests need)",
            lines.join("\n")
        );
    }
}

/// Runs a Python script with `python3 -c`; panics with its output unless it succeeds.
#[track_caller]
pub fn python(script: &str, args: &[String]) -> String {
    require(&["python3"]);
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
    folder(store, account, "INBOX").await
}

/// The messages in an account's folder `name`, oldest first (none when it does not exist).
pub async fn folder(store: &Store, account: &str, name: &str) -> Vec<Vec<u8>> {
    let a = store.account(account).await.unwrap().unwrap();
    let Some(mailbox) = store.mailbox(a.id, name).await.unwrap() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in store.messages(mailbox.id).await.unwrap() {
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
#[track_caller]
pub fn fetchmail(dir: &std::path::Path, proto: &str, port: u16, options: &str) -> (i32, usize) {
    use std::os::unix::fs::PermissionsExt;
    require(&["fetchmail"]);
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
        .expect("fetchmail runs");
    let got = std::fs::read_to_string(&out)
        .unwrap_or_default()
        .matches("===SEP===")
        .count();
    (status.code().unwrap_or(-1), got)
}

/// Writes an mbsyncrc for `user` on an IMAPS `port` that trusts the certificates in `ca`;
/// the local side is a Maildir under `dir`, kept across runs (the same channel may be
/// pointed at another server).
pub fn mbsync_config(
    dir: &std::path::Path,
    ca: &std::path::Path,
    port: u16,
    user: &str,
    password: &str,
) -> std::path::PathBuf {
    let rc = dir.join("mbsyncrc");
    let mail = dir.join("mail");
    std::fs::create_dir_all(&mail).unwrap();
    std::fs::write(
        &rc,
        format!(
            "IMAPAccount test\nHost localhost\nPort {port}\nUser {user}\nPass {password}\nSSLType IMAPS\nCertificateFile {}\n\n\
             IMAPStore remote\nAccount test\n\n\
             MaildirStore local\nPath {}/\nInbox {}/INBOX\nSubFolders Verbatim\n\n\
             Channel test\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\nSync All\n",
            ca.display(),
            mail.display(),
            mail.display()
        ),
    )
    .unwrap();
    rc
}

/// Runs mbsync on `rc`; returns what went over the wire according to its protocol trace
/// (-Dn): (bodies downloaded, messages uploaded, flag changes sent), and all it printed.
#[track_caller]
pub fn mbsync(rc: &std::path::Path) -> ((usize, usize, usize), String) {
    require(&["mbsync"]);
    let out = std::process::Command::new("mbsync")
        .arg("-c")
        .arg(rc)
        .arg("-a")
        .arg("-Dn")
        .output()
        .expect("mbsync runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "mbsync failed:\n{text}");
    let sent: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(">>> ").map(|(_, c)| c))
        .collect();
    let count = |what: &str| sent.iter().filter(|c| c.contains(what)).count();
    (
        (count("BODY.PEEK[]"), count("APPEND"), count("STORE")),
        text,
    )
}

/// A slow client: sends `drip` one byte every 100 ms on `w` (then keeps the connection
/// open), and collects the lines the server sends on `r` for at most 5 s, until it closes.
/// Returns those lines and how long it took, for deadline tests (HOSTILE.md CONN).
pub async fn drip_and_read(
    mut r: tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    drip: &[u8],
) -> (Vec<String>, std::time::Duration) {
    use std::time::Duration;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let drip = drip.to_vec();
    let writer = tokio::spawn(async move {
        for b in drip {
            if w.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Dropping the write half would close our side: keep it open.
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(w);
    });
    let start = std::time::Instant::now();
    let mut lines = Vec::new();
    let mut line = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            line.clear();
            match r.read_line(&mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => lines.push(line.trim_end().to_string()),
            }
        }
    })
    .await;
    writer.abort();
    (lines, start.elapsed())
}

/// The Python of the venv scripts/test makes for PyPI test peers (aiosmtpd).
pub const PYTHON_VENV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.test-venv/bin/python");

/// A recording SMTP sink (aiosmtpd, PyPI) on loopback: a remote MX for outbound tests.
pub struct Sink {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its certificate (DER), when it offers STARTTLS.
    pub cert: Option<Vec<u8>>,
    /// Where it records messages.
    log: std::path::PathBuf,
    /// The sink process.
    child: std::process::Child,
    /// Holds the log and certificate files.
    _dir: tempfile::TempDir,
}

/// One message as the sink got it.
#[derive(Clone, Debug)]
pub struct Sunk {
    /// MAIL FROM.
    pub from: String,
    /// The recipients it took.
    pub rcpts: Vec<String>,
    /// Whether STARTTLS was on.
    pub tls: bool,
    /// The bytes as received (dot-unstuffed).
    pub data: Vec<u8>,
}

/// How a [`Sink`] behaves.
#[derive(Clone, Debug, Default)]
pub struct SinkOptions {
    /// Offer STARTTLS.
    pub tls: bool,
    /// Refuse these recipients with 550.
    pub reject: Vec<String>,
    /// Answer the first N RCPTs with 451.
    pub tempfail: usize,
    /// Listen on this port (0: any free one).
    pub port: u16,
    /// The certificate and key (PEM) to offer, instead of a self-signed one.
    pub cert: Option<(String, String)>,
}

impl Sink {
    /// Starts a sink.
    pub fn start(opts: SinkOptions) -> Sink {
        use std::io::BufRead;
        require(&["aiosmtpd"]);
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sink.jsonl");
        let script = dir.path().join("sink.py");
        std::fs::write(&script, include_str!("sink.py")).unwrap();
        let mut cmd = std::process::Command::new(PYTHON_VENV);
        cmd.arg(&script).arg("--log").arg(&log);
        let mut cert_der = None;
        if opts.tls {
            let (cert_pem, key_pem) = opts.cert.clone().unwrap_or_else(|| {
                let ck =
                    rcgen::generate_simple_self_signed(vec!["mx.example.net".to_string()]).unwrap();
                (ck.cert.pem(), ck.signing_key.serialize_pem())
            });
            cert_der = Some(pem_der(&cert_pem));
            let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
            std::fs::write(&cert, cert_pem).unwrap();
            std::fs::write(&key, key_pem).unwrap();
            cmd.arg("--tls").arg(cert).arg(key);
        }
        for r in &opts.reject {
            cmd.arg("--reject").arg(r);
        }
        cmd.arg("--tempfail").arg(opts.tempfail.to_string());
        cmd.arg("--port").arg(opts.port.to_string());
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the sink starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the sink prints its port");
        Sink {
            port,
            cert: cert_der,
            log,
            child,
            _dir: dir,
        }
    }

    /// What it recorded so far.
    pub fn received(&self) -> Vec<Sunk> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|l| {
                use base64::Engine;
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                Sunk {
                    from: v["from"].as_str().unwrap_or_default().to_string(),
                    rcpts: v["rcpts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect(),
                    tls: v["tls"].as_bool().unwrap_or(false),
                    data: base64::engine::general_purpose::STANDARD
                        .decode(v["data"].as_str().unwrap_or_default())
                        .unwrap(),
                }
            })
            .collect()
    }

    /// Waits (up to `secs`) until at least `n` messages arrived; what arrived.
    pub fn wait_for(&self, n: usize, secs: u64) -> Vec<Sunk> {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let got = self.received();
            if got.len() >= n || std::time::Instant::now() > until {
                return got;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The DER of the first certificate in a PEM (a chain's end-entity certificate).
fn pem_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let b64: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// A certificate authority for tests where certificates are verified (a smarthost, an
/// MX under MTA-STS, a policy host).
pub struct TestCa {
    /// The CA's certificate and key.
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    /// A fresh CA.
    pub fn new() -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let issuer =
            rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        TestCa { issuer }
    }

    /// A certificate for `names` signed by this CA, and its key: (cert PEM, key PEM).
    pub fn leaf(&self, names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// The CA's certificate (DER).
    pub fn der(&self) -> &CertificateDer<'static> {
        self.issuer.der()
    }

    /// The CA's certificate (PEM), to send after a leaf as its chain.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A root store holding only this CA.
    pub fn roots(&self) -> Arc<rustls::RootCertStore> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.issuer.der().clone()).unwrap();
        Arc::new(roots)
    }

    /// A TLS server config with a certificate for `names` signed by this CA.
    pub fn server(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let (cert, key) = self.leaf(names);
        let key = PrivateKeyDer::try_from(pem_der(&key)).unwrap();
        Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(pem_der(&cert))], key)
            .unwrap(),
        )
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

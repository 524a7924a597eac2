//! SMTP test harness on top of twinmail-testkit: a real store and the three listeners on
//! port 0, and an SMTP-speaking wrapper of the raw line client.
#![allow(dead_code, unused_imports)]

use std::{net::SocketAddr, time::Duration};

use tokio::{net::TcpListener, sync::watch};
use twinmail_smtp::{Kind, Pipeline, Smtp, SmtpSettings};
use twinmail_store::Store;
pub use twinmail_testkit::{ALICE, BOB, python};
use twinmail_testkit::{Tls, plain};

/// A running SMTP server with its three listeners.
pub struct Server {
    pub store: Store,
    pub smtp: std::sync::Arc<Smtp>,
    pub mx: SocketAddr,
    pub submission: SocketAddr,
    pub submissions: SocketAddr,
    pub tls: Tls,
    pub stop: watch::Sender<bool>,
    pub dir: tempfile::TempDir,
}

pub async fn start() -> Server {
    start_with(|_| {}).await
}

/// Starts a server whose settings `tweak` may change (limits for hostile tests).
pub async fn start_with(tweak: impl FnOnce(&mut SmtpSettings)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = twinmail_testkit::store(dir.path()).await;
    let tls = Tls::new();
    let mut settings = SmtpSettings::new("mx.example.com");
    settings.error_delay = Duration::from_millis(1);
    settings.auth_failure_delay = Duration::from_millis(1);
    tweak(&mut settings);
    let smtp = Smtp::new(
        settings,
        store.clone(),
        Some(tls.acceptor()),
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
        smtp,
        mx: addrs[0],
        submission: addrs[1],
        submissions: addrs[2],
        tls,
        stop,
        dir,
    }
}

impl Server {
    /// The messages in an account's INBOX, oldest first.
    pub async fn inbox(&self, account: &str) -> Vec<Vec<u8>> {
        twinmail_testkit::inbox(&self.store, account).await
    }
}

/// An SMTP client: whole (multi-line) replies, commands, STARTTLS, AUTH PLAIN.
pub struct Client(twinmail_testkit::Client);

impl Client {
    /// Connects and returns the client with the greeting.
    pub async fn connect(addr: SocketAddr) -> (Client, String) {
        let mut c = Client(twinmail_testkit::Client::connect(addr).await);
        let greeting = c.reply().await;
        (c, greeting)
    }

    /// Connects without reading the greeting (to talk before it).
    pub async fn connect_silent(addr: SocketAddr) -> Client {
        Client(twinmail_testkit::Client::connect(addr).await)
    }

    /// Connects with implicit TLS.
    pub async fn connect_tls(server: &Server, addr: SocketAddr) -> (Client, String) {
        let mut c = Client(twinmail_testkit::Client::connect_tls(&server.tls, addr).await);
        let greeting = c.reply().await;
        (c, greeting)
    }

    /// Writes raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.0.send(bytes).await;
    }

    /// Reads one reply, its lines joined by '\n' (empty at EOF).
    pub async fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        while let Some(line) = self.0.line().await {
            let last = line.len() < 4 || line.as_bytes()[3] == b' ';
            lines.push(line);
            if last {
                break;
            }
        }
        lines.join("\n")
    }

    /// Sends one command line and returns the reply.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.0.send_line(line).await;
        self.reply().await
    }

    /// True when the server has closed the connection.
    pub async fn closed(&mut self) -> bool {
        self.0.closed().await
    }

    /// Upgrades to TLS after a 220 to STARTTLS.
    pub async fn starttls(self, server: &Server) -> Client {
        Client(self.0.starttls(&server.tls).await)
    }

    /// Logs in with AUTH PLAIN (initial response).
    pub async fn auth_plain(&mut self, authz: &str, user: &str, pass: &str) -> String {
        self.cmd(&format!("AUTH PLAIN {}", plain(authz, user, pass)))
            .await
    }
}

/// A message with CRLF line ends.
pub fn message(subject: &str, body: &str) -> String {
    format!(
        "From: sender@remote.org\r\nTo: alice@example.com\r\nSubject: {subject}\r\n\r\n{body}\r\n"
    )
}

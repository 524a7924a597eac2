//! POP3 test harness: a real store and both listeners on port 0, and a POP3-speaking
//! wrapper of the raw line client.
#![allow(dead_code, unused_imports)]

use std::{net::SocketAddr, time::Duration};

use tokio::{net::TcpListener, sync::watch};
use twinmail_pop3::{Kind, Pop3, Pop3Settings};
use twinmail_store::Store;
pub use twinmail_testkit::{ALICE, BOB, Tls, python};

/// A running POP3 server.
pub struct Server {
    pub store: Store,
    pub pop3: SocketAddr,
    pub pop3s: SocketAddr,
    pub tls: Tls,
    pub stop: watch::Sender<bool>,
    pub dir: tempfile::TempDir,
}

pub async fn start() -> Server {
    start_with(|_| {}).await
}

/// Starts a server whose settings `tweak` may change (timeouts for hostile tests).
pub async fn start_with(tweak: impl FnOnce(&mut Pop3Settings)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = twinmail_testkit::store(dir.path()).await;
    let tls = Tls::new();
    let mut settings = Pop3Settings {
        error_delay: Duration::from_millis(1),
        auth_failure_delay: Duration::from_millis(1),
        ..Default::default()
    };
    tweak(&mut settings);
    let pop3 = Pop3::new(settings, store.clone(), Some(tls.acceptor()));
    let (stop, shutdown) = watch::channel(false);
    let mut addrs = Vec::new();
    for kind in [Kind::Pop3, Kind::Pop3s] {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(l.local_addr().unwrap());
        tokio::spawn(twinmail_pop3::run(l, kind, pop3.clone(), shutdown.clone()));
    }
    Server {
        store,
        pop3: addrs[0],
        pop3s: addrs[1],
        tls,
        stop,
        dir,
    }
}

impl Server {
    /// Delivers `n` numbered messages to an account's INBOX; returns their bytes.
    pub async fn deliver(&self, account: &str, n: usize) -> Vec<String> {
        twinmail_testkit::deliver(&self.store, account, n).await
    }

    /// The messages in an account's INBOX.
    pub async fn inbox(&self, account: &str) -> Vec<Vec<u8>> {
        twinmail_testkit::inbox(&self.store, account).await
    }

    /// A logged-in session over implicit TLS.
    pub async fn login(&self, user: (&str, &str)) -> Client {
        let mut c = Client::connect_tls(self).await;
        assert_eq!(c.cmd(&format!("USER {}", user.0)).await, "+OK");
        let r = c.cmd(&format!("PASS {}", user.1)).await;
        assert!(r.starts_with("+OK"), "{r}");
        c
    }
}

/// A POP3 client over the raw line client.
pub struct Client(pub twinmail_testkit::Client);

impl Client {
    /// Connects in plaintext and reads the greeting.
    pub async fn connect(srv: &Server) -> Client {
        let mut c = Client(twinmail_testkit::Client::connect(srv.pop3).await);
        assert!(c.line().await.starts_with("+OK"));
        c
    }

    /// Connects with implicit TLS and reads the greeting.
    pub async fn connect_tls(srv: &Server) -> Client {
        let mut c = Client(twinmail_testkit::Client::connect_tls(&srv.tls, srv.pop3s).await);
        assert!(c.line().await.starts_with("+OK"));
        c
    }

    /// One line (empty at EOF).
    pub async fn line(&mut self) -> String {
        self.0.line().await.unwrap_or_default()
    }

    /// Sends a command and reads the one-line status.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.0.send_line(line).await;
        self.line().await
    }

    /// Reads a multi-line body up to the "." line (not included), un-stuffed.
    pub async fn body(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.line().await;
            if l == "." {
                return out;
            }
            out.push(l.strip_prefix('.').map(str::to_string).unwrap_or(l));
        }
    }
}

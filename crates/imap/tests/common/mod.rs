//! IMAP test harness: a real store and both listeners on port 0, and a raw client that
//! sends tagged commands and collects everything up to the tagged reply.
#![allow(dead_code, unused_imports)]

use std::{net::SocketAddr, time::Duration};

use tokio::{net::TcpListener, sync::watch};
use twinmail_imap::{Imap, ImapSettings, Kind};
use twinmail_store::Store;
pub use twinmail_testkit::{ALICE, BOB, Tls, python};

/// A running IMAP server.
pub struct Server {
    pub store: Store,
    pub imap: SocketAddr,
    pub imaps: SocketAddr,
    pub tls: Tls,
    pub stop: watch::Sender<bool>,
    pub dir: tempfile::TempDir,
}

pub async fn start() -> Server {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut ImapSettings)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = twinmail_testkit::store(dir.path()).await;
    let tls = Tls::new();
    let mut settings = ImapSettings {
        auth_failure_delay: Duration::from_millis(1),
        ..Default::default()
    };
    tweak(&mut settings);
    let imap = Imap::new(settings, store.clone(), Some(tls.acceptor()));
    let (stop, shutdown) = watch::channel(false);
    let mut addrs = Vec::new();
    for kind in [Kind::Imap, Kind::Imaps] {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(l.local_addr().unwrap());
        tokio::spawn(twinmail_imap::run(l, kind, imap.clone(), shutdown.clone()));
    }
    Server {
        store,
        imap: addrs[0],
        imaps: addrs[1],
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

    /// Takes `\Recent` (RFC 3501 §2.3.2) for the messages now in `user`'s INBOX with a
    /// session of its own that SELECTs it and logs out, for tests about something else
    /// whose sessions should show stored flags only.
    pub async fn take_recent(&self, user: (&str, &str)) {
        let mut c = self.login(user).await;
        c.cmd("SELECT INBOX").await;
        c.cmd("LOGOUT").await;
    }

    /// A client logged in over implicit TLS.
    pub async fn login(&self, user: (&str, &str)) -> Client {
        let mut c = Client::connect_tls(self).await;
        let r = c.cmd(&format!("LOGIN {} {}", user.0, user.1)).await;
        assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
        c
    }
}

/// A raw IMAP client: commands are tagged "A"; replies are every line up to the tagged one.
pub struct Client(pub twinmail_testkit::Client);

impl Client {
    pub async fn connect(srv: &Server) -> Client {
        let mut c = Client(twinmail_testkit::Client::connect(srv.imap).await);
        let greeting = c.line().await;
        assert!(greeting.starts_with("* OK"), "{greeting}");
        c
    }

    pub async fn connect_tls(srv: &Server) -> Client {
        let mut c = Client(twinmail_testkit::Client::connect_tls(&srv.tls, srv.imaps).await);
        let greeting = c.line().await;
        assert!(greeting.starts_with("* OK"), "{greeting}");
        c
    }

    pub async fn line(&mut self) -> String {
        self.0.line().await.unwrap_or_default()
    }

    /// Sends `A <command>` and returns all lines through the tagged reply.
    pub async fn cmd(&mut self, command: &str) -> Vec<String> {
        self.0.send_line(&format!("A {command}")).await;
        self.until_tagged().await
    }

    /// Reads lines until one starting with "A " (or EOF).
    pub async fn until_tagged(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let Some(l) = self.0.line().await else {
                return lines;
            };
            let done = l.starts_with("A ");
            lines.push(l);
            if done {
                return lines;
            }
        }
    }
}

/// A number from a STATUS (or SELECT) response: `NAME n`.
pub fn status_item(line: &str, name: &str) -> u64 {
    line.split(&format!("{name} "))
        .nth(1)
        .and_then(|r| r.split([' ', ')']).next())
        .unwrap_or_else(|| panic!("{name} in {line}"))
        .parse()
        .unwrap()
}

/// A multipart message (text and quoted-printable HTML) dated 7 Feb 1994.
pub const MIXED: &str = "From: Ann Example <ann@example.org>\r\nTo: Bob <bob@example.net>, carol@example.net\r\nCc: dave@example.net\r\nSubject: multi part\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <mp1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\npreamble\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello world, this is part one\r\n--XX\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>two</p>\r\n--XX--\r\n";

/// APPENDs MIXED to INBOX, \Flagged, with its 1994 internal date.
pub async fn append_mixed(c: &mut Client) {
    c.cmd(&format!(
        "APPEND INBOX (\\Flagged) \"07-Feb-1994 21:52:25 -0800\" {{{}+}}\r\n{MIXED}",
        MIXED.len()
    ))
    .await;
}

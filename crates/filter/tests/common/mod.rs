//! Filter test harness: an SMTP server on port 0 whose pipeline holds the filters under
//! test, a raw SMTP client, and (daemons.rs) real clamd and rspamd.
#![allow(dead_code)]

mod daemons;
#[allow(unused_imports)]
pub use daemons::*;

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::watch,
};
use twinmail_filter::FilterSet;
use twinmail_smtp::{Envelope, Kind, Smtp, SmtpSettings};
use twinmail_store::Store;

/// A running SMTP server with the filters under test.
pub struct Mx {
    /// Its store (alice@ and bob@example.com).
    pub store: Store,
    /// Port 25's stand-in.
    pub mx: SocketAddr,
    /// Stops the listeners when dropped.
    pub stop: watch::Sender<bool>,
    /// The store's files.
    pub dir: tempfile::TempDir,
}

/// Starts an MX on port 0 with `filters` (after the hop limit).
pub async fn mx(filters: &FilterSet) -> Mx {
    let dir = tempfile::tempdir().unwrap();
    let store = twinmail_testkit::store(dir.path()).await;
    let mut settings = SmtpSettings::new("mx.example.com");
    settings.error_delay = Duration::from_millis(1);
    let smtp = Smtp::new(settings, store.clone(), None, filters.pipeline(50));
    let (stop, shutdown) = watch::channel(false);
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mx = l.local_addr().unwrap();
    tokio::spawn(twinmail_smtp::run(l, Kind::Mx, smtp, shutdown));
    Mx {
        store,
        mx,
        stop,
        dir,
    }
}

impl Mx {
    /// The messages in a folder of an account, oldest first.
    pub async fn folder(&self, account: &str, name: &str) -> Vec<Vec<u8>> {
        let a = self.store.account(account).await.unwrap().unwrap();
        let Some(m) = self.store.mailbox(a.id, name).await.unwrap() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for m in self.store.messages(m.id).await.unwrap() {
            out.push(self.store.blob(&m.blob).await.unwrap().unwrap());
        }
        out
    }
}

/// Reads one (possibly multi-line) reply.
async fn reply(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).await.unwrap() > 0,
            "closed after {all:?}"
        );
        all.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return all.trim_end().to_string();
        }
    }
}

/// Sends one message over SMTP; returns the reply to the end of its data.
pub async fn send(addr: SocketAddr, from: &str, rcpt: &str, message: &str) -> String {
    let (r, mut w) = TcpStream::connect(addr).await.unwrap().into_split();
    let mut r = BufReader::new(r);
    assert!(reply(&mut r).await.starts_with("220"));
    for (cmd, want) in [
        ("EHLO client.test".to_string(), "250"),
        (format!("MAIL FROM:<{from}>"), "250"),
        (format!("RCPT TO:<{rcpt}>"), "250"),
        ("DATA".to_string(), "354"),
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes()).await.unwrap();
        let got = reply(&mut r).await;
        assert!(got.starts_with(want), "{cmd}: {got}");
    }
    let body = message.replace("\r\n", "\n").replace('\n', "\r\n");
    w.write_all(body.as_bytes()).await.unwrap();
    w.write_all(b".\r\n").await.unwrap();
    let got = reply(&mut r).await;
    w.write_all(b"QUIT\r\n").await.unwrap();
    got
}

/// An envelope as the MX would build it for a message from `peer`.
pub fn envelope(peer: &str, helo: &str, from: &str) -> Envelope {
    Envelope {
        from: from.to_string(),
        recipients: vec!["alice@example.com".into()],
        peer: peer.parse::<IpAddr>().unwrap(),
        helo: helo.to_string(),
        user: None,
        kind: Kind::Mx,
        id: "0123456789ABCDEF".into(),
    }
}

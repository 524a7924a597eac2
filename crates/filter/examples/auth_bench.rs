//! SMTP delivery rate with sender authentication on (DNS answers cached, as a busy MX
//! has them) against the same server without filters, in one run: each round delivers
//! the same DKIM-signed message over a few concurrent sessions to both, alternating, and
//! prints a table. clamd and rspamd are off (their cost is theirs).
//!
//! `cargo run --release -p twinmail-filter --example auth_bench [messages] [sessions]`

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use base64::Engine;
use mail_auth::{
    common::{crypto::Ed25519Key, headers::HeaderWriter},
    dkim::DkimSigner,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::watch,
};
use twinmail_filter::{AuthParts, AuthSettings, DnsCaches, FilterSet, Stage, offline_resolver};
use twinmail_smtp::{Kind, Pipeline, Smtp, SmtpSettings};

const MESSAGE: &str = "From: User <user@sender.test>\r\nTo: alice@example.com\r\nSubject: bench\r\nMessage-ID: <bench@sender.test>\r\n\r\nA line of text for the benchmark.\r\nAnother line of text.\r\n";

/// An MX on port 0 with this pipeline; the store lives as long as the returned guard.
async fn mx(pipeline: Pipeline) -> (SocketAddr, watch::Sender<bool>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = twinmail_testkit::store(dir.path()).await;
    let mut settings = SmtpSettings::new("mx.example.com");
    settings.error_delay = Duration::from_millis(1);
    settings.junk_command_limit = u32::MAX;
    let smtp = Smtp::new(settings, store, None, pipeline);
    let (stop, shutdown) = watch::channel(false);
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(twinmail_smtp::run(l, Kind::Mx, smtp, shutdown));
    (addr, stop, dir)
}

async fn reply(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.unwrap() == 0 {
            return all;
        }
        all.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return all;
        }
    }
}

/// One session delivering `n` messages; panics on anything but 250.
async fn session(addr: SocketAddr, n: usize, message: Arc<String>) {
    let (r, mut w) = TcpStream::connect(addr).await.unwrap().into_split();
    let mut r = BufReader::new(r);
    reply(&mut r).await;
    w.write_all(b"EHLO client.test\r\n").await.unwrap();
    reply(&mut r).await;
    for i in 0..n {
        for cmd in [
            "MAIL FROM:<user@sender.test>\r\n",
            "RCPT TO:<alice@example.com>\r\n",
            "DATA\r\n",
        ] {
            w.write_all(cmd.as_bytes()).await.unwrap();
            reply(&mut r).await;
        }
        // A unique Message-ID per message: each is a new delivery.
        let m = message.replace("<bench@", &format!("<bench{i}.{}@", rand_tag()));
        w.write_all(m.as_bytes()).await.unwrap();
        w.write_all(b".\r\n").await.unwrap();
        let got = reply(&mut r).await;
        assert!(got.starts_with("250"), "{got}");
    }
    w.write_all(b"QUIT\r\n").await.unwrap();
}

fn rand_tag() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Messages per second for `total` messages over `sessions` sessions.
async fn rate(addr: SocketAddr, total: usize, sessions: usize, message: Arc<String>) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..sessions {
        tasks.push(tokio::spawn(session(
            addr,
            total / sessions,
            message.clone(),
        )));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (total / sessions * sessions) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let total = args.first().copied().unwrap_or(2000);
    let sessions = args.get(1).copied().unwrap_or(4);
    let caches = DnsCaches::shared();
    caches.add_txt_nxdomain("client.test");
    caches.add_spf("sender.test", "v=spf1 ip4:127.0.0.1 -all");
    caches.add_dmarc("_dmarc.sender.test", "v=DMARC1; p=reject");
    caches.add_txt_nxdomain("_dmarc.test");
    let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap();
    let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
    caches.add_dkim_key(
        "s1._domainkey.sender.test",
        &format!("v=DKIM1; k=ed25519; p={public}"),
    );
    let signature = DkimSigner::from_key(key)
        .domain("sender.test")
        .selector("s1")
        .headers(["From", "To", "Subject"])
        .sign(MESSAGE.as_bytes())
        .unwrap();
    let message = Arc::new(format!("{}{MESSAGE}", signature.to_header()));
    let auth = AuthParts {
        settings: AuthSettings {
            authserv_id: "mx.example.com".into(),
            dmarc_reject: true,
            skip_local: false,
            timeout: Duration::from_secs(10),
        },
        resolver: offline_resolver().unwrap(),
        caches,
    };
    let filters = FilterSet::build(&[Stage::Auth], Some(auth), None, None);
    let (plain, _s1, _d1) = mx(Pipeline::default()).await;
    let (checked, _s2, _d2) = mx(filters.pipeline(50)).await;
    // Warm-up, then alternating rounds so that both see the same machine.
    rate(plain, 40, 2, message.clone()).await;
    rate(checked, 40, 2, message.clone()).await;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        a.push(rate(plain, total, sessions, message.clone()).await);
        b.push(rate(checked, total, sessions, message.clone()).await);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|x, y| x.total_cmp(y));
        v[v.len() / 2]
    };
    let (a, b) = (median(&mut a), median(&mut b));
    let s = &filters.stats()[0];
    println!("{total} messages over {sessions} sessions per round, median of 3 rounds");
    println!("| pipeline | msg/s | ratio |");
    println!("|---|---:|---:|");
    println!("| hop limit only | {a:.0} | 1.00 |");
    println!(
        "| + auth (SPF, DKIM, ARC, DMARC; cached DNS) | {b:.0} | {:.2} |",
        b / a
    );
    println!(
        "auth filter: {} checked, mean {:.0} µs, max {} µs",
        s.checked,
        s.total_micros as f64 / s.checked.max(1) as f64,
        s.max_micros
    );
}

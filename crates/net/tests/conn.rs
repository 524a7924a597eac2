//! HOSTILE.md CONN and AUTH, at the level of the shared limits every protocol uses:
//! IPv6 clients count per /64, one address cannot open connections or start TLS
//! handshakes as fast as it likes, the queue in front of password hashing is bounded,
//! the failure delay comes before the hash, and the per-address maps stay bounded.
//!
//! The policy is process-wide; every test here sets the same one.

use std::{
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use twinmail_net::{Limits, Policy, set_policy};

fn policy() {
    set_policy(Policy {
        exempt_loopback: false,
        ..Policy::default()
    });
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn ipv6_addresses_of_one_slash_64_share_the_per_address_cap_and_failures() {
    policy();
    let limits = Arc::new(Limits::default());
    // Two sessions per address allowed: a /64 is one address however it varies its host
    // part.
    let a = limits.admit(ip("2001:db8:1:2::1"), 100, 2).unwrap();
    let b = limits.admit(ip("2001:db8:1:2:ffff::9"), 100, 2).unwrap();
    assert!(
        limits
            .admit(ip("2001:db8:1:2:dead:beef:0:1"), 100, 2)
            .is_none()
    );
    // Another /64 is another address.
    let c = limits.admit(ip("2001:db8:1:3::1"), 100, 2).unwrap();
    drop((a, b, c));
    // Failed logins from one address of the /64 delay the next login from any other.
    let unit = Duration::from_millis(100);
    limits.auth_failed(ip("2001:db8:1:2::1"), unit);
    limits.auth_failed(ip("2001:db8:1:2::2"), unit);
    assert_eq!(limits.auth_delay(ip("2001:db8:1:2::3"), unit), unit * 2);
    assert_eq!(
        limits.auth_delay(ip("2001:db8:1:3::3"), unit),
        Duration::ZERO
    );
    // IPv4 (also IPv4-mapped) is per address.
    limits.auth_failed(ip("192.0.2.1"), unit);
    assert_eq!(limits.auth_delay(ip("::ffff:192.0.2.1"), unit), unit);
    assert_eq!(limits.auth_delay(ip("192.0.2.2"), unit), Duration::ZERO);
}

/// 300 connect/close cycles from one address in a moment: the first 100 (a minute's
/// worth) are served, the rest refused; another address is unaffected.
#[test]
fn one_address_cannot_open_connections_as_fast_as_it_likes() {
    policy();
    let limits = Arc::new(Limits::default());
    let served = (0..300)
        .filter(|_| limits.admit(ip("198.51.100.7"), 1000, 20).is_some())
        .count();
    assert!((100..=102).contains(&served), "served {served} of 300");
    assert!(limits.admit(ip("198.51.100.8"), 1000, 20).is_some());
}

/// The failure map is bounded: failures from more addresses than it holds leave it at
/// its cap, the newest remembered, the oldest forgotten.
#[test]
fn the_failure_memory_is_bounded() {
    policy();
    let limits = Limits::default();
    let unit = Duration::from_millis(1);
    let n = twinmail_net::MAX_TRACKED as u32 + 1000;
    for i in 0..n {
        limits.auth_failed(IpAddr::from((0x0a00_0000u32 + i).to_be_bytes()), unit);
    }
    let newest = IpAddr::from((0x0a00_0000u32 + n - 1).to_be_bytes());
    assert_eq!(limits.auth_delay(newest, unit), unit);
    let oldest = IpAddr::from(0x0a00_0000u32.to_be_bytes());
    assert_eq!(
        limits.auth_delay(oldest, unit),
        Duration::ZERO,
        "never forgotten"
    );
}

/// The queue in front of password hashing: at most 4 logins from one address and 32 in
/// all wait or hash at once; more are refused at once, and places come back when done.
#[tokio::test]
async fn the_login_queue_is_bounded_in_all_and_per_address() {
    policy();
    let limits = Arc::new(Limits::default());
    let unit = Duration::from_millis(1);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(limits.before_login(ip("203.0.113.1"), unit).await.unwrap());
    }
    assert!(limits.before_login(ip("203.0.113.1"), unit).await.is_err());
    // Other addresses until the queue is full (another test of this file may hold a
    // place for a moment).
    let started = Instant::now();
    for i in 0..=255u8 {
        match limits
            .before_login(IpAddr::from([203, 0, 114, i]), unit)
            .await
        {
            Ok(t) => held.push(t),
            Err(_) => break,
        }
    }
    assert!(
        (31..=32).contains(&held.len()),
        "{} let through",
        held.len()
    );
    assert!(limits.before_login(ip("203.0.115.1"), unit).await.is_err());
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "refusals waited"
    );
    held.pop();
    assert!(limits.before_login(ip("203.0.115.1"), unit).await.is_ok());
}

/// The delay earned by failures comes before the next password check: a guess from a
/// new connection waits it out before it may hash.
#[tokio::test(start_paused = true)]
async fn the_failure_delay_comes_before_the_hash() {
    policy();
    let limits = Arc::new(Limits::default());
    let unit = Duration::from_secs(1);
    for _ in 0..3 {
        limits.auth_failed(ip("192.0.2.50"), unit);
    }
    let started = tokio::time::Instant::now();
    let _ticket = limits.before_login(ip("192.0.2.50"), unit).await.unwrap();
    assert_eq!(started.elapsed(), unit * 3);
}

/// 250 TLS handshakes from one address in a moment: about a minute's worth (100)
/// complete, the rest are closed before the server does any TLS work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_start_tls_handshakes_as_fast_as_it_likes() {
    policy();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Some(mut tls) = twinmail_net::handshake(Some(&acceptor), tcp).await {
                    use tokio::io::AsyncWriteExt;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    let mut completed = 0;
    for _ in 0..250 {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        if connector.connect(name, tcp).await.is_ok() {
            completed += 1;
        }
    }
    assert!(
        (100..=106).contains(&completed),
        "{completed} of 250 handshakes completed"
    );
}

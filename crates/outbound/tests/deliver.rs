//! The runner against a real SMTP server on loopback (aiosmtpd, recording every envelope
//! and byte), behind static DNS answers: byte-for-byte delivery with a DKIM signature
//! mail-auth verifies, 4xx then success, 5xx → one notice to the sender and none for
//! `<>`, opportunistic STARTTLS, bare LF and leading dots on the wire, null MX.

use std::{
    borrow::Borrow,
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use mail_auth::{
    AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt,
    common::{parse::TxtRecordParser, verify::DomainKey},
};
use twinmail_outbound::{Runner, Settings, StaticDns, Stats, dane::Tlsa, dkim};
use twinmail_store::{Guid, QueueAction, RcptState, Store};
use twinmail_testkit::{ALICE, Sink, SinkOptions, TestCa, inbox};

struct World {
    store: Store,
    runner: Runner,
    stats: Arc<Stats>,
    _dir: tempfile::TempDir,
}

/// A store (example.com local, alice and bob) and a runner whose DNS sends example.net
/// (and example.org) to the sink.
async fn world(sink_port: u16) -> World {
    world_with(sink_port, |_, _| {}).await
}

/// As [`world`], with DNS answers and settings changed by `tweak` (TLSA records, roots).
async fn world_with(sink_port: u16, tweak: impl FnOnce(&mut StaticDns, &mut Settings)) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = twinmail_testkit::store(dir.path()).await;
    let mut dns = StaticDns::default();
    for d in ["example.net", "example.org"] {
        dns.mx.insert(d.into(), vec![(10, format!("mx.{d}"))]);
        dns.ips.insert(
            format!("mx.{d}"),
            vec!["127.0.0.1".parse::<IpAddr>().unwrap()],
        );
    }
    dns.mx
        .insert("nullmx.example".into(), vec![(0, ".".into())]);
    let mut settings = Settings::new("mx.example.com");
    settings.port = sink_port;
    settings.timeout = Duration::from_secs(10);
    settings.retry = vec![Duration::from_secs(60)];
    tweak(&mut dns, &mut settings);
    let stats = Arc::new(Stats::default());
    let runner = Runner::new(store.clone(), Arc::new(dns), settings, stats.clone());
    World {
        store,
        runner,
        stats,
        _dir: dir,
    }
}

fn message(subject: &str, body: &str) -> Arc<Vec<u8>> {
    Arc::new(
        format!(
            "From: Alice <alice@example.com>\r\nTo: friend@example.net\r\nSubject: {subject}\r\n\
             Message-ID: <{}@example.com>\r\nDate: Thu, 03 Dec 2026 12:00:00 +0000\r\n\r\n{body}",
            Guid::random().to_hex()
        )
        .into_bytes(),
    )
}

/// Queues `bytes` from alice to `rcpt` under `id`.
async fn queue(w: &World, id: Guid, rcpt: &str, bytes: Arc<Vec<u8>>) {
    w.store
        .enqueue(id, ALICE.0, &[rcpt.to_string()], bytes)
        .await
        .unwrap();
}

/// A TXT cache for mail-auth's verifier, filled by the test (no network).
#[derive(Default)]
struct Txts(Mutex<HashMap<Box<str>, Txt>>);

impl ResolverCache<Box<str>, Txt> for Txts {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(name).cloned()
    }
    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(name)
    }
    fn insert(&self, key: Box<str>, value: Txt, _: std::time::Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

#[tokio::test]
async fn delivered_byte_for_byte_with_dkim_signatures_that_verify() {
    let sink = Sink::start(SinkOptions::default());
    let w = world(sink.port).await;
    let mut records = Vec::new();
    for (algorithm, selector) in [(dkim::ED25519, "ed"), (dkim::RSA, "rsa")] {
        let (private, txt) = dkim::generate(algorithm).unwrap();
        w.store
            .add_dkim_key("example.com", selector, algorithm, &private)
            .await
            .unwrap();
        records.push((format!("{selector}._domainkey.example.com."), txt));
    }
    let bytes = message("signed", "Hello there.\r\n");
    let id = Guid::random();
    assert!(
        w.store
            .enqueue(id, ALICE.0, &["friend@example.net".into()], bytes.clone())
            .await
            .unwrap()
    );
    // A retried submission names the same id: queued once.
    assert!(
        !w.store
            .enqueue(id, ALICE.0, &["friend@example.net".into()], bytes.clone())
            .await
            .unwrap()
    );
    assert_eq!(w.runner.pass().await.unwrap(), 1);
    let got = sink.wait_for(1, 10);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, ALICE.0);
    assert_eq!(got[0].rcpts, vec!["friend@example.net".to_string()]);
    assert!(
        got[0].data.ends_with(&bytes),
        "the message arrives unchanged after our signatures"
    );
    // Both signatures verify against the TXT records `dkim generate` printed.
    let txts = Txts::default();
    for (name, txt) in &records {
        let key = DomainKey::parse(txt.as_bytes()).unwrap();
        txts.insert(
            name.as_str().into(),
            Txt::from(key),
            std::time::Instant::now(),
        );
    }
    let auth = MessageAuthenticator::new_cloudflare().unwrap();
    let parsed = AuthenticatedMessage::parse(&got[0].data).unwrap();
    let results = auth
        .verify_dkim(Parameters::new(&parsed).with_txt_cache(&txts))
        .await;
    assert_eq!(results.len(), 2, "an Ed25519 and an RSA signature");
    for r in &results {
        assert_eq!(r.result(), &DkimResult::Pass, "{r:?}");
    }
    // Delivered: the queue is empty, on the status counters too.
    assert!(w.store.queue_list().await.unwrap().is_empty());
    assert_eq!(
        w.stats.delivered.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn a_4xx_is_retried_then_delivered_once() {
    let sink = Sink::start(SinkOptions {
        tempfail: 1,
        ..Default::default()
    });
    let w = world(sink.port).await;
    let id = Guid::random();
    queue(&w, id, "friend@example.net", message("retry", "x\r\n")).await;
    w.runner.pass().await.unwrap();
    let q = w.store.queue_entry(&id.to_hex()).await.unwrap();
    assert_eq!(q.attempts, 1);
    assert!(q.last_reply.starts_with("451 4.3.0"), "{}", q.last_reply);
    assert!(
        q.next_attempt > twinmail_store::now_unix() + 30,
        "backed off"
    );
    // Not due yet: nothing happens.
    assert_eq!(w.runner.pass().await.unwrap(), 0);
    w.store.control_queue(id, QueueAction::Retry).await.unwrap();
    assert_eq!(w.runner.pass().await.unwrap(), 1);
    assert_eq!(sink.wait_for(1, 10).len(), 1);
    assert!(w.store.queue_list().await.unwrap().is_empty());
    // Nothing is sent twice.
    assert_eq!(w.runner.pass().await.unwrap(), 0);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sink.received().len(), 1);
}

/// A destination's rate (here 2 messages a minute): of 5 messages due at once, 2 go, 3
/// are deferred with a 4xx naming the rate and wait for their retry; other domains are
/// not held back.
#[tokio::test]
async fn past_a_destinations_rate_the_rest_wait_for_their_retry() {
    let sink = Sink::start(SinkOptions::default());
    let w = world_with(sink.port, |_, s| s.per_destination_rate = 2).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let id = Guid::random();
        queue(
            &w,
            id,
            "friend@example.net",
            message(&format!("rate {n}"), "x\r\n"),
        )
        .await;
        ids.push(id);
    }
    queue(
        &w,
        Guid::random(),
        "other@example.org",
        message("other domain", "x\r\n"),
    )
    .await;
    assert_eq!(w.runner.pass().await.unwrap(), 6);
    let got = sink.wait_for(3, 10);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        sink.received().len(),
        3,
        "2 to example.net, 1 to example.org"
    );
    let got: Vec<String> = got.iter().flat_map(|m| m.rcpts.clone()).collect();
    assert_eq!(got.iter().filter(|r| *r == "friend@example.net").count(), 2);
    let mut waiting = 0;
    for id in &ids {
        if let Ok(q) = w.store.queue_entry(&id.to_hex()).await {
            assert!(
                q.last_reply.starts_with("451 4.4.5 over the rate"),
                "{}",
                q.last_reply
            );
            assert!(
                q.next_attempt > twinmail_store::now_unix() + 30,
                "backed off"
            );
            waiting += 1;
        }
    }
    assert_eq!(waiting, 3);
}

#[tokio::test]
async fn a_5xx_bounces_once_to_the_sender_and_never_to_the_null_sender() {
    let sink = Sink::start(SinkOptions {
        reject: vec!["nobody@example.net".into()],
        ..Default::default()
    });
    let w = world(sink.port).await;
    let id = Guid::random();
    w.store
        .enqueue(
            id,
            ALICE.0,
            &["nobody@example.net".into(), "friend@example.net".into()],
            message("half", "x\r\n"),
        )
        .await
        .unwrap();
    w.runner.pass().await.unwrap();
    // The good recipient got it; the bad one is final: the message left the queue, and
    // its notice (to alice, local) is queued with it, in the same transaction.
    let got = sink.wait_for(1, 10);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpts, vec!["friend@example.net".to_string()]);
    let queue = w.store.queue_list().await.unwrap();
    assert_eq!(queue.len(), 1, "the notice");
    assert_eq!(queue[0].from, "", "notices have the null sender");
    // The next pass delivers the notice into alice's INBOX (she is local).
    w.runner.pass().await.unwrap();
    let mail = inbox(&w.store, ALICE.0).await;
    assert_eq!(mail.len(), 1);
    let text = String::from_utf8_lossy(&mail[0]);
    assert!(
        text.contains("Final-Recipient: rfc822; nobody@example.net"),
        "{text}"
    );
    assert!(text.contains("Status: 5.1.1"), "{text}");
    assert!(text.contains("550 5.1.1 No such user here"), "{text}");
    assert!(w.store.queue_list().await.unwrap().is_empty());

    // A message from <> that fails is dropped, with no notice (no loops).
    w.store
        .enqueue(
            Guid::random(),
            "",
            &["nobody@example.net".into()],
            message("dsn", "x\r\n"),
        )
        .await
        .unwrap();
    w.runner.pass().await.unwrap();
    assert!(w.store.queue_list().await.unwrap().is_empty());
    w.runner.pass().await.unwrap();
    assert_eq!(inbox(&w.store, ALICE.0).await.len(), 1, "no second notice");
}

#[tokio::test]
async fn starttls_is_used_when_offered() {
    let sink = Sink::start(SinkOptions {
        tls: true,
        ..Default::default()
    });
    let w = world(sink.port).await;
    queue(
        &w,
        Guid::random(),
        "friend@example.org",
        message("tls", "x\r\n"),
    )
    .await;
    w.runner.pass().await.unwrap();
    let got = sink.wait_for(1, 10);
    assert_eq!(got.len(), 1);
    assert!(got[0].tls, "sent under STARTTLS");
}

#[tokio::test]
async fn bare_line_ends_are_normalised_and_leading_dots_survive() {
    let sink = Sink::start(SinkOptions::default());
    let w = world(sink.port).await;
    let raw =
        b"From: alice@example.com\nSubject: lf\n\n.leading dot\nbare\rcr\r\n.\r\nend".to_vec();
    w.store
        .enqueue(
            Guid::random(),
            ALICE.0,
            &["friend@example.net".into()],
            Arc::new(raw),
        )
        .await
        .unwrap();
    w.runner.pass().await.unwrap();
    let got = sink.wait_for(1, 10);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].data,
        b"From: alice@example.com\r\nSubject: lf\r\n\r\n.leading dot\r\nbare\r\ncr\r\n.\r\nend\r\n"
            .to_vec(),
        "CRLF everywhere; the sink un-stuffed our dots back"
    );
}

#[tokio::test]
async fn null_mx_and_missing_domains_fail_at_once_and_unreachable_ones_wait() {
    let w = world(9).await; // nothing listens on port 9: the MX is unreachable
    let id = Guid::random();
    w.store
        .enqueue(
            id,
            ALICE.0,
            &[
                "a@nullmx.example".into(),
                "b@no-such-domain.example".into(),
                "c@example.net".into(),
            ],
            message("routes", "x\r\n"),
        )
        .await
        .unwrap();
    w.runner.pass().await.unwrap();
    let q = w.store.queue_entry(&id.to_hex()[..8]).await.unwrap();
    let state = |r: &str| {
        q.recipients
            .iter()
            .find(|x| x.rcpt == r)
            .map(|x| (x.state, x.reply.clone()))
            .unwrap()
    };
    assert_eq!(state("a@nullmx.example").0, RcptState::Failed);
    assert!(state("a@nullmx.example").1.starts_with("556 5.1.10"));
    assert_eq!(state("b@no-such-domain.example").0, RcptState::Failed);
    assert_eq!(state("c@example.net").0, RcptState::Pending);
    assert!(
        state("c@example.net").1.starts_with("451 4.4.1"),
        "{:?}",
        state("c@example.net")
    );
}

/// One attempt to deliver to a sink (offering STARTTLS or not) whose host publishes one
/// TLSA record (SHA-256 matching) made of `data` from the sink's certificate: the
/// recipient's state and last reply afterwards (`None`: delivered and gone from the
/// queue), and what the sink got.
async fn dane_attempt(
    tls: bool,
    selector: u8,
    data: impl FnOnce(&Sink) -> Vec<u8>,
) -> (Option<(RcptState, String)>, Vec<twinmail_testkit::Sunk>) {
    dane_attempt_with(tls, None, 3, selector, data).await
}

/// Like `dane_attempt`, with the sink's certificate chain (PEM, then key PEM) and the
/// record's usage given.
async fn dane_attempt_with(
    tls: bool,
    cert: Option<(String, String)>,
    usage: u8,
    selector: u8,
    data: impl FnOnce(&Sink) -> Vec<u8>,
) -> (Option<(RcptState, String)>, Vec<twinmail_testkit::Sunk>) {
    let sink = Sink::start(SinkOptions {
        tls,
        cert,
        ..Default::default()
    });
    let record = Tlsa {
        usage,
        selector,
        matching: 1,
        data: data(&sink),
    };
    let name = format!("_{}._tcp.mx.example.net", sink.port);
    let w = world_with(sink.port, |d, _| {
        d.tlsa.insert(name, vec![record]);
    })
    .await;
    let id = Guid::random();
    queue(&w, id, "friend@example.net", message("dane", "x\r\n")).await;
    w.runner.pass().await.unwrap();
    let left = w
        .store
        .queue_entry(&id.to_hex())
        .await
        .ok()
        .map(|q| (q.recipients[0].state, q.last_reply));
    std::thread::sleep(Duration::from_millis(300));
    (left, sink.received())
}

#[tokio::test]
async fn dane_a_matching_certificate_delivers_a_mismatch_defers_and_nothing_goes_in_clear() {
    use sha2::Digest;
    // The certificate matches its TLSA record (DANE-EE, the whole certificate):
    // delivered under STARTTLS.
    let (left, got) = dane_attempt(true, 0, |s| {
        sha2::Sha256::digest(s.cert.as_ref().unwrap()).to_vec()
    })
    .await;
    assert_eq!(left, None, "delivered");
    assert_eq!(got.len(), 1);
    assert!(got[0].tls);
    // A record that names another key (SPKI): deferred, never sent.
    let (left, got) = dane_attempt(true, 1, |_| vec![7; 32]).await;
    let (state, reply) = left.expect("still queued");
    assert_eq!(state, RcptState::Pending);
    assert!(reply.contains("DANE"), "{reply}");
    assert!(got.is_empty(), "nothing delivered");
    // TLSA records but no STARTTLS offered: not sent in clear.
    let (left, got) = dane_attempt(false, 1, |_| vec![7; 32]).await;
    assert!(left.expect("still queued").1.contains("STARTTLS"));
    assert!(got.is_empty(), "nothing sent in clear");
}

/// DANE-TA (usage 2): the record names a CA; the MX's certificate must chain up to that
/// CA (sent in the chain) and name the MX host. A CA certificate merely appended to an
/// unrelated chain, or a certificate for another name, defers the mail.
#[tokio::test]
async fn dane_ta_wants_a_chain_to_the_anchor_and_the_mx_hosts_name() {
    use sha2::Digest;
    let ca = TestCa::new();
    let anchor = sha2::Sha256::digest(ca.der()).to_vec();
    let chain = |issuer: &TestCa, name: &str| {
        let (leaf, key) = issuer.leaf(&[name]);
        (format!("{leaf}{}", ca.pem()), key)
    };
    let (left, got) = dane_attempt_with(true, Some(chain(&ca, "mx.example.net")), 2, 0, |_| {
        anchor.clone()
    })
    .await;
    assert_eq!(left, None, "delivered under the named CA");
    assert_eq!(got.len(), 1);
    assert!(got[0].tls);
    // Issued by the CA, but to another host.
    let (left, got) = dane_attempt_with(true, Some(chain(&ca, "other.example.net")), 2, 0, |_| {
        anchor.clone()
    })
    .await;
    assert!(left.expect("still queued").1.contains("DANE"));
    assert!(
        got.is_empty(),
        "not delivered to a certificate for another name"
    );
    // The right name, issued by another CA, with the named CA's certificate appended.
    let other = TestCa::new();
    let (left, got) = dane_attempt_with(true, Some(chain(&other, "mx.example.net")), 2, 0, |_| {
        anchor.clone()
    })
    .await;
    assert!(left.expect("still queued").1.contains("DANE"));
    assert!(got.is_empty(), "an appended anchor is no chain");
}

/// Serves one MTA-STS policy over HTTPS (a certificate for mta-sts.example.net from
/// `ca`) on a loopback port, to every connection.
async fn policy_server(ca: &TestCa, policy: &'static str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server(&["mta-sts.example.net"]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0; 4096];
                let _ = tls.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{policy}",
                    policy.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

/// One delivery to example.net, which publishes an MTA-STS `policy`, to a sink offering
/// `cert` (none: self-signed): (what is left queued, what the sink got).
async fn sts_attempt(
    ca: &TestCa,
    policy: &'static str,
    cert: Option<(String, String)>,
) -> (Option<String>, Vec<twinmail_testkit::Sunk>) {
    let sink = Sink::start(SinkOptions {
        tls: true,
        cert,
        ..Default::default()
    });
    let policy_port = policy_server(ca, policy).await;
    let roots = ca.roots();
    let w = world_with(sink.port, |d, s| {
        d.txt.insert(
            "_mta-sts.example.net".into(),
            vec!["v=STSv1; id=20261203;".into()],
        );
        d.ips.insert(
            "mta-sts.example.net".into(),
            vec!["127.0.0.1".parse().unwrap()],
        );
        s.roots = Some(roots);
        s.mta_sts_port = policy_port;
    })
    .await;
    let id = Guid::random();
    queue(&w, id, "friend@example.net", message("sts", "x\r\n")).await;
    w.runner.pass().await.unwrap();
    let left = w
        .store
        .queue_entry(&id.to_hex())
        .await
        .ok()
        .map(|q| q.last_reply);
    std::thread::sleep(Duration::from_millis(300));
    (left, sink.received())
}

#[tokio::test]
async fn mta_sts_enforce_sends_only_over_verified_tls_to_a_listed_mx() {
    let ca = TestCa::new();
    const LISTED: &str =
        "version: STSv1\r\nmode: enforce\r\nmx: mx.example.net\r\nmax_age: 86400\r\n";
    const OTHER: &str =
        "version: STSv1\r\nmode: enforce\r\nmx: *.elsewhere.example\r\nmax_age: 86400\r\n";
    // Listed MX, certificate valid for it: delivered under TLS.
    let (left, got) = sts_attempt(&ca, LISTED, Some(ca.leaf(&["mx.example.net"]))).await;
    assert_eq!(left, None, "delivered");
    assert_eq!(got.len(), 1);
    assert!(got[0].tls);
    // Listed MX, certificate not from a trusted CA (self-signed): deferred, not sent.
    let (left, got) = sts_attempt(&ca, LISTED, None).await;
    assert!(left.is_some(), "still queued");
    assert!(got.is_empty(), "nothing sent: {got:?}");
    // The policy names other MXes only: deferred, not sent.
    let (left, got) = sts_attempt(&ca, OTHER, Some(ca.leaf(&["mx.example.net"]))).await;
    let left = left.expect("still queued");
    assert!(left.contains("MTA-STS"), "{left}");
    assert!(got.is_empty());
}

/// A policy fetched once is kept in the store: after a restart (a new runner on the same
/// store), with the domain's TXT record gone and its policy host unreachable, the
/// policy is still enforced (RFC 8461 §5.1) and a certificate it would refuse defers
/// the mail instead of sending it under unverified TLS.
#[tokio::test]
async fn an_mta_sts_policy_outlives_a_restart_while_its_domain_is_unreachable() {
    const LISTED: &str =
        "version: STSv1\r\nmode: enforce\r\nmx: mx.example.net\r\nmax_age: 86400\r\n";
    let ca = TestCa::new();
    let good = Sink::start(SinkOptions {
        tls: true,
        cert: Some(ca.leaf(&["mx.example.net"])),
        ..Default::default()
    });
    let policy_port = policy_server(&ca, LISTED).await;
    let roots = ca.roots();
    let w = world_with(good.port, |d, s| {
        d.txt.insert(
            "_mta-sts.example.net".into(),
            vec!["v=STSv1; id=20261204;".into()],
        );
        d.ips.insert(
            "mta-sts.example.net".into(),
            vec!["127.0.0.1".parse().unwrap()],
        );
        s.roots = Some(roots.clone());
        s.mta_sts_port = policy_port;
    })
    .await;
    queue(
        &w,
        Guid::random(),
        "friend@example.net",
        message("sts", "x\r\n"),
    )
    .await;
    w.runner.pass().await.unwrap();
    assert_eq!(good.wait_for(1, 10).len(), 1, "delivered under the policy");

    // Restarted: no TXT record, no policy host; an MX with an untrusted certificate.
    let bad = Sink::start(SinkOptions {
        tls: true,
        ..Default::default()
    });
    let mut dns = StaticDns::default();
    dns.mx
        .insert("example.net".into(), vec![(10, "mx.example.net".into())]);
    dns.ips.insert(
        "mx.example.net".into(),
        vec!["127.0.0.1".parse::<IpAddr>().unwrap()],
    );
    let mut settings = Settings::new("mx.example.com");
    settings.port = bad.port;
    settings.timeout = Duration::from_secs(10);
    settings.roots = Some(roots);
    settings.mta_sts_port = 9;
    let runner = Runner::new(
        w.store.clone(),
        Arc::new(dns),
        settings,
        Arc::new(Stats::default()),
    );
    let id = Guid::random();
    queue(&w, id, "friend@example.net", message("kept", "x\r\n")).await;
    runner.pass().await.unwrap();
    let q = w
        .store
        .queue_entry(&id.to_hex())
        .await
        .expect("still queued");
    assert_eq!(q.recipients[0].state, RcptState::Pending);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        bad.received().is_empty(),
        "nothing sent past the kept policy"
    );
}

#[tokio::test]
async fn a_late_message_tells_its_sender_once_and_keeps_trying() {
    // Nothing listens on port 9: the MX is unreachable; the notice is due at once.
    let w = world_with(9, |_, s| s.delay_notice = Duration::ZERO).await;
    let id = Guid::random();
    queue(&w, id, "friend@example.net", message("late", "x\r\n")).await;
    w.runner.pass().await.unwrap();
    // The notice is queued beside the message (to alice, local): delivered next pass.
    w.runner.pass().await.unwrap();
    let mail = inbox(&w.store, ALICE.0).await;
    assert_eq!(mail.len(), 1);
    let text = String::from_utf8_lossy(&mail[0]);
    assert!(text.contains("Action: delayed"), "{text}");
    assert!(text.contains("Status: 4."), "{text}");
    // Still queued; tried again, no second notice.
    w.store.control_queue(id, QueueAction::Retry).await.unwrap();
    w.runner.pass().await.unwrap();
    w.runner.pass().await.unwrap();
    assert_eq!(inbox(&w.store, ALICE.0).await.len(), 1, "told once");
    let q = w.store.queue_entry(&id.to_hex()).await.unwrap();
    assert!(q.delay_notified);
    assert_eq!(q.recipients[0].state, RcptState::Pending);
}

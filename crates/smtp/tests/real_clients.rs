//! Real SMTP clients against real listeners: Python's smtplib, swaks and mail-send.
//! Every delivered message is read back from the store: the client's bytes, exactly,
//! after the trace headers we add.

mod common;

use common::{ALICE, BOB, message, python, start};

/// The stored message must be our two trace headers followed by exactly what was sent.
fn assert_stored(stored: &[u8], sent: &[u8], with: &str) {
    assert!(
        stored.ends_with(sent),
        "stored message does not end with the sent bytes"
    );
    let trace = std::str::from_utf8(&stored[..stored.len() - sent.len()]).unwrap();
    assert!(trace.starts_with("Return-Path: <"), "{trace}");
    assert!(trace.contains("\r\nReceived: from "), "{trace}");
    assert!(
        trace.contains(&format!("by mx.example.com (twinmail) with {with}\r\n")),
        "{trace}"
    );
    assert!(trace.ends_with(" +0000\r\n"), "{trace}");
}

const SMTPLIB: &str = r#"
import smtplib, ssl, sys
mx, sub, subs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context(cafile=sys.argv[4])
ctx.check_hostname = False
m1, m2, m3, m4 = (open(p, 'rb').read() for p in sys.argv[5:9])

s = smtplib.SMTP('127.0.0.1', mx)
s.ehlo('client.remote.org')
assert 'auth' not in s.esmtp_features, 'AUTH offered on MX'
assert s.sendmail('sender@remote.org', ['alice@example.com'], m1) == {}
s.quit()

s = smtplib.SMTP('127.0.0.1', sub)
s.ehlo('laptop')
assert 'auth' not in s.esmtp_features, 'AUTH offered before TLS'
s.starttls(context=ctx)
s.ehlo('laptop')
s.login('alice@example.com', 'alice-password')          # AUTH PLAIN
assert s.sendmail('alice@example.com', ['bob@example.com'], m2) == {}
s.quit()

s = smtplib.SMTP_SSL('127.0.0.1', subs, context=ctx)
s.ehlo('phone')
s.user, s.password = 'bob@example.com', 'bob-password'
code, _ = s.auth('LOGIN', s.auth_login)                  # AUTH LOGIN
assert code == 235, code
assert s.sendmail('bob@example.com', ['alice@example.com'], m3) == {}
s.quit()

s = smtplib.SMTP('127.0.0.1', mx)
s.ehlo('client.remote.org')
assert s.has_extn('smtputf8')
assert s.sendmail('sender@remote.org', ['alice@example.com'], m4, mail_options=['SMTPUTF8', 'BODY=8BITMIME']) == {}
s.quit()
print('ok')
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_plain_starttls_smtps_auth_and_smtputf8() {
    twinmail_testkit::require(&["python3"]);
    let srv = start().await;
    let dir = srv.dir.path();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, srv.tls.cert_pem()).unwrap();
    let messages = [
        message("plain MX", "hello over port 25"),
        message("submission", "hello over STARTTLS"),
        message("smtps", "hello over implicit TLS"),
        "From: sender@remote.org\r\nTo: alice@example.com\r\nSubject: h\u{e9}llo w\u{f6}rld \u{2709}\r\n\r\nCafé, naïve, 日本語\r\n".to_string(),
    ];
    let mut args = vec![
        srv.mx.port().to_string(),
        srv.submission.port().to_string(),
        srv.submissions.port().to_string(),
        ca.display().to_string(),
    ];
    for (i, m) in messages.iter().enumerate() {
        let p = dir.join(format!("m{i}.eml"));
        std::fs::write(&p, m).unwrap();
        args.push(p.display().to_string());
    }
    let script = SMTPLIB.to_string();
    let out = tokio::task::spawn_blocking(move || python(&script, &args))
        .await
        .unwrap();
    assert_eq!(out.trim(), "ok");

    let alice = srv.inbox(ALICE.0).await;
    let bob = srv.inbox(BOB.0).await;
    assert_eq!(alice.len(), 3);
    assert_eq!(bob.len(), 1);
    assert_stored(&alice[0], messages[0].as_bytes(), "ESMTP");
    assert_stored(&bob[0], messages[1].as_bytes(), "ESMTPSA");
    assert_stored(&alice[1], messages[2].as_bytes(), "ESMTPSA");
    assert_stored(&alice[2], messages[3].as_bytes(), "ESMTP");
    let trace = String::from_utf8_lossy(&bob[0]);
    assert!(
        trace.contains("(using TLSv1.3 with cipher TLS13_"),
        "{trace}"
    );
    assert!(trace.contains("for <bob@example.com>"), "{trace}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20_mb_message_arrives_byte_for_byte() {
    twinmail_testkit::require(&["python3"]);
    use sha2::Digest;
    let srv = start().await;
    // 20 MB of realistic lines, some starting with a dot (dot-stuffing must round-trip).
    let mut body =
        String::from("From: big@remote.org\r\nTo: alice@example.com\r\nSubject: big\r\n\r\n");
    let mut i = 0u64;
    while body.len() < 20 * 1024 * 1024 {
        if i.is_multiple_of(97) {
            body.push_str(".a line that starts with a dot\r\n");
        }
        body.push_str(&format!(
            "{i:016x} the quick brown fox jumps over the lazy dog 0123456789\r\n"
        ));
        i += 1;
    }
    let path = srv.dir.path().join("big.eml");
    std::fs::write(&path, &body).unwrap();
    let args = vec![srv.mx.port().to_string(), path.display().to_string()];
    let script = r#"
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]))
assert s.sendmail('big@remote.org', ['alice@example.com'], open(sys.argv[2], 'rb').read()) == {}
s.quit()
"#;
    tokio::task::spawn_blocking(move || python(script, &args))
        .await
        .unwrap();
    let stored = srv.inbox(ALICE.0).await;
    assert_eq!(stored.len(), 1);
    let sent = body.as_bytes();
    assert!(stored[0].len() > sent.len());
    let tail = &stored[0][stored[0].len() - sent.len()..];
    assert_eq!(sha2::Sha256::digest(tail), sha2::Sha256::digest(sent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaks_plain_and_authenticated_starttls() {
    twinmail_testkit::require(&["swaks", "swaks-tls"]);
    let srv = start().await;
    let m1 = message("via swaks", "swaks on MX");
    let m2 = message("via swaks auth", "swaks with STARTTLS and AUTH");
    let p1 = srv.dir.path().join("s1.eml");
    let p2 = srv.dir.path().join("s2.eml");
    std::fs::write(&p1, &m1).unwrap();
    std::fs::write(&p2, &m2).unwrap();
    let mx = format!("127.0.0.1:{}", srv.mx.port());
    let sub = format!("127.0.0.1:{}", srv.submission.port());
    let runs = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            let out = std::process::Command::new("swaks")
                .args(args)
                .output()
                .expect("swaks runs");
            assert!(
                out.status.success(),
                "swaks failed:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        };
        run(&[
            "--server",
            &mx,
            "--from",
            "someone@remote.org",
            "--to",
            "sales@example.com",
            "--data",
            &format!("@{}", p1.display()),
            "--helo",
            "remote.org",
        ]);
        run(&[
            "--server",
            &sub,
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            "bob@example.com",
            "--auth-password",
            "bob-password",
            "--from",
            "bob@example.com",
            "--to",
            "alice@example.com",
            "--data",
            &format!("@{}", p2.display()),
        ]);
    });
    runs.await.unwrap();
    let alice = srv.inbox(ALICE.0).await;
    assert_eq!(alice.len(), 2, "alias sales@ reaches alice");
    // swaks ends the data with one more CRLF of its own before the final dot.
    assert_stored(&alice[0], format!("{m1}\r\n").as_bytes(), "ESMTP");
    assert_stored(&alice[1], format!("{m2}\r\n").as_bytes(), "ESMTPSA");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_send_client_over_starttls_with_auth() {
    twinmail_testkit::require(&["ca-certificates"]);
    use mail_send::{SmtpClientBuilder, mail_builder::MessageBuilder};
    let srv = start().await;
    let msg = MessageBuilder::new()
        .from(("Bob", "bob@example.com"))
        .to(("Alice", "alice@example.com"))
        .subject("from mail-send")
        .text_body("Hello from a Rust client");
    SmtpClientBuilder::new("127.0.0.1", srv.submission.port())
        .unwrap()
        .implicit_tls(false)
        .allow_invalid_certs()
        .credentials((BOB.0, BOB.1))
        .connect()
        .await
        .unwrap()
        .send(msg)
        .await
        .unwrap();
    let alice = srv.inbox(ALICE.0).await;
    assert_eq!(alice.len(), 1);
    let stored = String::from_utf8_lossy(&alice[0]);
    assert!(stored.contains("Subject: from mail-send"), "{stored}");
    assert!(stored.contains("Hello from a Rust client"));
    assert!(stored.contains("with ESMTPSA"));
}

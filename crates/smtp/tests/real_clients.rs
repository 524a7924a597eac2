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

const SEND_TWICE: &str = r#"
import smtplib, ssl, sys
port, ca, user, password, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
m = open(path, 'rb').read()
for attempt in range(int(sys.argv[6])):
    s = smtplib.SMTP_SSL('127.0.0.1', port, context=ctx)
    s.login(user, password)
    assert s.sendmail(user, ['bob@example.com', 'carol@remote.org'], m) == {}
    s.quit()
print('ok')
"#;

/// With `save_sent` on, what a user submits is filed once, `\Seen` and exactly as their
/// client wrote it, in their Sent folder (made for the purpose), also when the client
/// sends the same message again; a user whose METADATA entry says "no" gets no copy,
/// and mail arriving on the MX port files none for anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_sent_keeps_the_senders_copy_once_unless_the_user_says_no() {
    twinmail_testkit::require(&["python3"]);
    let srv = common::start_with(|s| {
        s.outbound = true;
        s.save_sent = true;
    })
    .await;
    let dir = srv.dir.path();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, srv.tls.cert_pem()).unwrap();
    let send = |user: &str, password: &str, m: &str, times: u32| {
        let path = dir.join(format!("{user}-{times}.eml"));
        std::fs::write(&path, m).unwrap();
        let args = vec![
            srv.submissions.port().to_string(),
            ca.display().to_string(),
            user.to_string(),
            password.to_string(),
            path.display().to_string(),
            times.to_string(),
        ];
        tokio::task::spawn_blocking(move || python(SEND_TWICE, &args))
    };
    let first = "From: alice@example.com\r\nTo: bob@example.com, carol@remote.org\r\nSubject: kept\r\nMessage-ID: <kept@example.com>\r\n\r\nonce only\r\n";
    assert_eq!(send(ALICE.0, ALICE.1, first, 2).await.unwrap().trim(), "ok");
    let sent = twinmail_testkit::folder(&srv.store, ALICE.0, "Sent").await;
    assert_eq!(
        sent,
        vec![first.as_bytes().to_vec()],
        "one copy, the client's bytes"
    );
    let alice = srv.store.account(ALICE.0).await.unwrap().unwrap();
    let folder = srv.store.mailbox(alice.id, "Sent").await.unwrap().unwrap();
    let stored = srv.store.messages(folder.id).await.unwrap();
    assert!(stored[0].flags.contains("\\Seen"), "{:?}", stored[0].flags);
    assert_eq!(srv.inbox(BOB.0).await.len(), 1, "one local delivery");
    assert_eq!(srv.store.queue_list().await.unwrap().len(), 1, "one queued");

    // Alice says no: her next message files nothing.
    srv.store
        .set_metadata(
            alice.id,
            None,
            vec![(twinmail_smtp::SAVE_SENT_ENTRY.into(), Some(b"no".to_vec()))],
        )
        .await
        .unwrap();
    let second = "From: alice@example.com\r\nSubject: not kept\r\nMessage-ID: <not-kept@example.com>\r\n\r\nno copy\r\n";
    assert_eq!(
        send(ALICE.0, ALICE.1, second, 1).await.unwrap().trim(),
        "ok"
    );
    assert_eq!(
        twinmail_testkit::folder(&srv.store, ALICE.0, "Sent")
            .await
            .len(),
        1
    );
    assert_eq!(srv.inbox(BOB.0).await.len(), 2, "but it is delivered");

    // Mail from outside files no Sent copy for anyone.
    let (mut c, _) = common::Client::connect(srv.mx).await;
    c.cmd("EHLO remote.org").await;
    assert!(c.cmd("MAIL FROM:<x@remote.org>").await.starts_with("250"));
    assert!(c.cmd("RCPT TO:<bob@example.com>").await.starts_with("250"));
    assert!(c.cmd("DATA").await.starts_with("354"));
    assert!(
        c.cmd("Subject: forged\r\n\r\nx\r\n.")
            .await
            .starts_with("250")
    );
    assert_eq!(
        twinmail_testkit::folder(&srv.store, ALICE.0, "Sent")
            .await
            .len(),
        1
    );
    assert!(
        twinmail_testkit::folder(&srv.store, BOB.0, "Sent")
            .await
            .is_empty()
    );
}

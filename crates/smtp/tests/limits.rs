//! HOSTILE.md LIM and CONN: long lines, SIZE, recipient caps, oversized data, junk floods,
//! mail loops, connection caps, timeouts and shutdown — each a clear reply, never a crash.

mod common;

use std::time::Duration;

use common::{ALICE, Client, message, start, start_with};

#[tokio::test]
async fn long_lines_and_junk_get_errors_then_421() {
    let srv = start_with(|s| s.max_errors = 5).await;
    let (mut c, _) = Client::connect(srv.mx).await;
    // Over-long lines, whole or in pieces: one reply each, and the session stays in step.
    let long = format!("EHLO {}", "x".repeat(10_000));
    assert_eq!(c.cmd(&long).await, "500 5.5.6 Line too long");
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 Ok");
    let (mut c, _) = Client::connect(srv.mx).await;
    for _ in 0..10 {
        c.send(&[b'x'; 100_000]).await;
    }
    assert_eq!(c.reply().await, "500 5.5.6 Line too long");
    c.send(b"\r\n").await; // ends the junk line, which was already answered
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 Ok");
    let (mut c, _) = Client::connect(srv.mx).await;
    for junk in [
        "GET / HTTP/1.1",
        "\u{1}\u{2}\u{3}",
        "MAIL",
        "RCPT TO:<alice@example.com>",
        "DATA",
    ] {
        assert_eq!(c.cmd(junk).await.get(..1), Some("5"), "{junk}");
    }
    assert_eq!(
        c.reply().await,
        "421 4.7.0 Too many errors, closing connection"
    );
    assert!(c.closed().await);
}

#[tokio::test]
async fn size_and_recipient_limits() {
    let srv = start_with(|s| {
        s.max_message_size = 2000;
        s.max_recipients = 2;
    })
    .await;
    srv.store
        .create_account("carol@example.com", "pw")
        .await
        .unwrap();
    let (mut c, _) = Client::connect(srv.mx).await;
    assert!(c.cmd("EHLO client").await.contains("250-SIZE 2000"));
    assert_eq!(
        c.cmd("MAIL FROM:<a@remote.org> SIZE=999999999").await,
        "552 5.3.4 Message size exceeds fixed maximum message size"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@remote.org> SIZE=100").await,
        "250 2.1.0 Ok"
    );
    assert_eq!(c.cmd("RCPT TO:<alice@example.com>").await, "250 2.1.5 Ok");
    assert_eq!(c.cmd("RCPT TO:<bob@example.com>").await, "250 2.1.5 Ok");
    assert_eq!(
        c.cmd("RCPT TO:<carol@example.com>").await,
        "452 4.5.3 Too many recipients"
    );
    assert!(c.cmd("DATA").await.starts_with("354"));
    // A client that lied about SIZE: the data is read to its end and dropped.
    c.send(message("big", &"y".repeat(10_000)).as_bytes()).await;
    c.send(b".\r\n").await;
    assert_eq!(
        c.reply().await,
        "552 5.3.4 Message size exceeds fixed maximum message size"
    );
    assert_eq!(c.cmd("RSET").await, "250 2.0.0 Ok");
    assert!(srv.inbox(ALICE.0).await.is_empty());
    // BDAT announcing too much is refused before its bytes are taken in.
    c.cmd("MAIL FROM:<a@remote.org>").await;
    c.cmd("RCPT TO:<alice@example.com>").await;
    c.send(format!("BDAT 5000 LAST\r\n{}", "z".repeat(5000)).as_bytes())
        .await;
    assert_eq!(
        c.reply().await,
        "552 5.3.4 Message size exceeds fixed maximum message size"
    );
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 Ok");
}

/// Message bytes held in memory are capped across all sessions: a message (DATA) or a
/// chunk (BDAT) that would go past the cap is read to its end, dropped and answered
/// 451 4.3.1 (the sender retries later); the session goes on, and a message that fits
/// is taken.
#[tokio::test]
async fn messages_past_the_bytes_in_flight_cap_are_refused_for_now() {
    let srv = start_with(|s| s.max_bytes_in_flight = 100_000).await;
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO client").await;
    c.cmd("MAIL FROM:<a@remote.org>").await;
    c.cmd("RCPT TO:<alice@example.com>").await;
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send(message("too much at once", &"y\r\n".repeat(75_000)).as_bytes())
        .await;
    c.send(b".\r\n").await;
    assert_eq!(
        c.reply().await,
        "451 4.3.1 Insufficient system resources, try again later"
    );
    c.cmd("MAIL FROM:<a@remote.org>").await;
    c.cmd("RCPT TO:<alice@example.com>").await;
    c.send(format!("BDAT 150000 LAST\r\n{}", "z".repeat(150_000)).as_bytes())
        .await;
    assert_eq!(
        c.reply().await,
        "451 4.3.1 Insufficient system resources, try again later"
    );
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 Ok");
    assert!(srv.inbox(ALICE.0).await.is_empty());
    c.cmd("MAIL FROM:<a@remote.org>").await;
    c.cmd("RCPT TO:<alice@example.com>").await;
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send(message("fits", "small").as_bytes()).await;
    c.send(b".\r\n").await;
    assert!(c.reply().await.starts_with("250"));
    assert_eq!(srv.inbox(ALICE.0).await.len(), 1);
}

#[tokio::test]
async fn mail_loops_hit_the_hop_limit() {
    let srv = start().await;
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO loop").await;
    for (hops, ok) in [(60, false), (10, true)] {
        c.cmd("MAIL FROM:<a@remote.org>").await;
        c.cmd("RCPT TO:<alice@example.com>").await;
        c.cmd("DATA").await;
        let received = "Received: from a by b; Thu, 1 Jan 2026 00:00:00 +0000\r\n".repeat(hops);
        c.send(format!("{received}{}.\r\n", message("loop", "x")).as_bytes())
            .await;
        let reply = c.reply().await;
        if ok {
            assert!(reply.starts_with("250"), "{reply}");
        } else {
            assert!(reply.starts_with("554 5.4.6 Too many hops"), "{reply}");
        }
    }
    assert_eq!(srv.inbox(ALICE.0).await.len(), 1);
}

#[tokio::test]
async fn connections_are_capped_per_ip() {
    let srv = start_with(|s| s.max_connections_per_ip = 2).await;
    let (_a, g1) = Client::connect(srv.mx).await;
    let (_b, g2) = Client::connect(srv.mx).await;
    let (mut c, g3) = Client::connect(srv.mx).await;
    assert!(g1.starts_with("220") && g2.starts_with("220"));
    assert_eq!(g3, "421 4.7.0 Too many connections, try again later");
    assert!(c.closed().await);
    drop(_a);
    // The slot frees when a session ends.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_d, g4) = Client::connect(srv.mx).await;
    assert!(g4.starts_with("220"), "{g4}");
}

#[tokio::test]
async fn idle_clients_time_out_and_shutdown_says_goodbye() {
    // MX sessions never log in: the pre-login idle timeout is theirs.
    let srv = start_with(|s| s.login_timeout = Duration::from_millis(200)).await;
    let (mut c, _) = Client::connect(srv.mx).await;
    assert_eq!(c.reply().await, "421 4.4.2 Timeout, closing connection");
    assert!(c.closed().await);

    let srv = start().await;
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO client").await;
    srv.stop.send(true).unwrap();
    assert_eq!(c.reply().await, "421 4.3.2 Server shutting down");
}

#[tokio::test]
async fn a_full_mailbox_refuses_at_rcpt_and_the_admin_sees_why() {
    let srv = start().await;
    srv.store.set_quota(ALICE.0, Some(3_000)).await.unwrap();
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO client").await;
    // Under the limit: taken. The limit is soft: a message may cross it, the next waits.
    for subject in ["one", "two"] {
        assert_eq!(c.cmd("MAIL FROM:<a@remote.org>").await, "250 2.1.0 Ok");
        assert_eq!(c.cmd("RCPT TO:<alice@example.com>").await, "250 2.1.5 Ok");
        assert!(c.cmd("DATA").await.starts_with("354"));
        c.send(message(subject, &"x".repeat(1_400)).as_bytes())
            .await;
        assert!(c.cmd(".").await.starts_with("250 2.0.0 Ok"));
    }
    let account = srv.store.account(ALICE.0).await.unwrap().unwrap();
    let q = srv.store.quota(account.id).await.unwrap();
    assert!(q.used_bytes > 3_000, "{q:?}");
    assert_eq!((q.messages, q.limit_bytes), (2, Some(3_000)));
    // Full: refused at RCPT, before any data; bob still gets mail in the same session.
    assert_eq!(c.cmd("MAIL FROM:<a@remote.org>").await, "250 2.1.0 Ok");
    assert_eq!(
        c.cmd("RCPT TO:<alice@example.com>").await,
        "552 5.2.2 Mailbox full"
    );
    assert_eq!(c.cmd("RCPT TO:<bob@example.com>").await, "250 2.1.5 Ok");
    assert_eq!(
        c.cmd("RCPT TO:<nobody@example.com>").await.get(..9),
        Some("550 5.1.1")
    );
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send(message("three", "hi").as_bytes()).await;
    assert!(c.cmd(".").await.starts_with("250 2.0.0 Ok"));
    assert_eq!(srv.inbox(ALICE.0).await.len(), 2);
    // Lifting the limit lets mail in again.
    srv.store.set_quota(ALICE.0, None).await.unwrap();
    assert_eq!(c.cmd("MAIL FROM:<a@remote.org>").await, "250 2.1.0 Ok");
    assert_eq!(c.cmd("RCPT TO:<alice@example.com>").await, "250 2.1.5 Ok");
    // What the admin page shows: three messages taken into three mailboxes, two refusals
    // with their replies, newest first; one connection.
    let stats = &srv.smtp.limits.stats;
    let counts = stats.counts();
    assert_eq!(
        (
            counts.connections,
            counts.received,
            counts.delivered,
            counts.rejected
        ),
        (1, 3, 3, 2)
    );
    let recent = stats.recent_rejects();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].command, "RCPT");
    assert!(recent[0].reply.starts_with("550 5.1.1"), "{recent:?}");
    assert_eq!(recent[1].reply, "552 5.2.2 Mailbox full");
    assert_eq!(srv.smtp.limits.open(), 1);
}

#[tokio::test]
async fn clients_that_talk_before_the_greeting_are_dropped() {
    let srv = start_with(|s| s.greet_delay = Duration::from_millis(300)).await;
    let mut c = Client::connect_silent(srv.mx).await;
    c.send(b"EHLO eager\r\n").await;
    assert_eq!(
        c.reply().await,
        "554 5.5.1 Protocol error: talking before the greeting"
    );
    assert!(c.closed().await);
    // A client that waits gets the greeting after the delay, and is served.
    let (mut c, greeting) = Client::connect(srv.mx).await;
    assert!(greeting.starts_with("220"), "{greeting}");
    assert!(c.cmd("EHLO patient").await.starts_with("250"));
    assert_eq!(
        srv.smtp.limits.stats.recent_rejects()[0].command,
        "GREETING"
    );
}

#[tokio::test]
async fn commands_sent_ahead_of_a_reply_they_must_wait_for_are_refused() {
    let srv = start().await;
    // HELO: no PIPELINING, so every command waits for its reply.
    let (mut c, _) = Client::connect(srv.mx).await;
    assert!(c.cmd("HELO client").await.starts_with("250"));
    c.send(b"MAIL FROM:<a@remote.org>\r\nRCPT TO:<alice@example.com>\r\n")
        .await;
    assert_eq!(c.reply().await, "250 2.1.0 Ok");
    assert_eq!(
        c.reply().await,
        "421 4.5.0 Improper command pipelining, closing connection"
    );
    assert!(c.closed().await);
    // EHLO, NOOP and VRFY end a group even with PIPELINING (RFC 2920 §3.1).
    for batch in [
        "EHLO client\r\nMAIL FROM:<a@remote.org>\r\n",
        "NOOP\r\nMAIL FROM:<a@remote.org>\r\n",
    ] {
        let (mut c, _) = Client::connect(srv.mx).await;
        if batch.starts_with("NOOP") {
            c.cmd("EHLO client").await;
        }
        c.send(batch.as_bytes()).await;
        assert!(c.reply().await.starts_with("250"), "{batch:?}");
        assert_eq!(
            c.reply().await,
            "421 4.5.0 Improper command pipelining, closing connection",
            "{batch:?}"
        );
        assert!(c.closed().await);
    }
    // The message itself sent with DATA, before the 354.
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO client").await;
    c.send(b"MAIL FROM:<a@remote.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nSubject: eager\r\n\r\nhi\r\n.\r\n").await;
    assert_eq!(c.reply().await, "250 2.1.0 Ok");
    assert_eq!(c.reply().await, "250 2.1.5 Ok");
    assert_eq!(
        c.reply().await,
        "421 4.5.0 Improper command pipelining after DATA"
    );
    assert!(c.closed().await);
    assert!(srv.inbox(ALICE.0).await.is_empty());
    // What PIPELINING allows still works: MAIL, RCPT and DATA in one go.
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO client").await;
    c.send(b"MAIL FROM:<a@remote.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n")
        .await;
    assert_eq!(c.reply().await, "250 2.1.0 Ok");
    assert_eq!(c.reply().await, "250 2.1.5 Ok");
    assert!(c.reply().await.starts_with("354"));
    c.send(message("ok", "fine").as_bytes()).await;
    assert!(c.cmd(".").await.starts_with("250 2.0.0 Ok"));
    assert_eq!(srv.inbox(ALICE.0).await.len(), 1);
}

#[tokio::test]
async fn noop_rset_and_vrfy_floods_count_as_errors() {
    let srv = start_with(|s| {
        s.junk_command_limit = 3;
        s.max_errors = 3;
    })
    .await;
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO client").await;
    for junk in ["NOOP", "RSET", "VRFY alice", "NOOP", "HELP", "RSET"] {
        assert!(c.cmd(junk).await.starts_with("2"), "{junk}");
    }
    assert_eq!(
        c.reply().await,
        "421 4.7.0 Too many errors, closing connection"
    );
    assert!(c.closed().await);
    // A message accepted starts the count again.
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO client").await;
    for _ in 0..3 {
        for _ in 0..3 {
            assert_eq!(c.cmd("RSET").await, "250 2.0.0 Ok");
        }
        c.cmd("MAIL FROM:<a@remote.org>").await;
        c.cmd("RCPT TO:<alice@example.com>").await;
        assert!(c.cmd("DATA").await.starts_with("354"));
        c.send(message("m", "x").as_bytes()).await;
        assert!(c.cmd(".").await.starts_with("250 2.0.0 Ok"));
    }
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 Ok");
}

/// Connects, sends the `preface` lines one by one (each waiting for its reply), then
/// drips `drip` a byte every 100 ms; returns the replies that came after the preface and
/// how long the server took to close the connection (or 5 s when it did not).
async fn drip(
    addr: std::net::SocketAddr,
    preface: &[&str],
    drip: &[u8],
) -> (Vec<String>, Duration) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut line = String::new();
    r.read_line(&mut line).await.unwrap(); // the greeting
    for command in preface {
        w.write_all(format!("{command}\r\n").as_bytes())
            .await
            .unwrap();
        loop {
            line.clear();
            r.read_line(&mut line).await.unwrap();
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
    }
    twinmail_testkit::drip_and_read(r, w, drip).await
}

#[tokio::test]
async fn a_byte_every_100_ms_meets_the_command_login_and_data_deadlines() {
    let srv = start_with(|s| {
        s.command_deadline = Duration::from_millis(400);
        s.login_deadline = Duration::from_millis(800);
        s.data_deadline = Duration::from_millis(600);
    })
    .await;
    let timeout = "421 4.4.2 Timeout, closing connection";
    // One command line, a byte at a time: each read is quick, the line is not.
    let (replies, took) = drip(srv.mx, &[], &[b'x'; 50]).await;
    assert_eq!(replies, [timeout]);
    assert!(took < Duration::from_secs(2), "{took:?}");
    // Complete commands, each quick, but no login: submission closes at login_deadline.
    let noops = "NOOP\r\n".repeat(10);
    let (replies, took) = drip(srv.submission, &["EHLO slow"], noops.as_bytes()).await;
    assert_eq!(replies.last(), Some(&timeout.to_string()), "{replies:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    // A message trickling in, a line at a time.
    let preface = [
        "EHLO slow",
        "MAIL FROM:<a@remote.org>",
        "RCPT TO:<alice@example.com>",
        "DATA",
    ];
    let body = "x\r\n".repeat(40);
    let (replies, took) = drip(srv.mx, &preface, body.as_bytes()).await;
    assert_eq!(replies, [timeout]);
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(srv.inbox(ALICE.0).await.is_empty());
}

#[tokio::test]
async fn idle_clients_before_login_get_less_time_when_the_server_is_busy() {
    let srv = start_with(|s| {
        s.max_connections = 4;
        s.stress_login_timeout = Duration::from_millis(300);
    })
    .await;
    let (mut a, _) = Client::connect(srv.mx).await;
    let (_b, _) = Client::connect(srv.mx).await;
    // The third of four: three quarters in use, so the short wait applies.
    let (mut c, _) = Client::connect(srv.mx).await;
    assert_eq!(c.reply().await, "421 4.4.2 Timeout, closing connection");
    assert!(c.closed().await);
    // The first two began to wait when there was room: they are still served.
    assert!(a.cmd("EHLO patient").await.starts_with("250"));
}

//! HOSTILE.md POP (DELE/RSET games, huge arguments, concurrent sessions and IMAP-style
//! expunges, pipelining) plus STLS, AUTH and ENUM for POP3.

mod common;

use common::{ALICE, BOB, Client, start};
use twinmail_store::UidSet;

#[tokio::test]
async fn dele_and_rset_games() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut c = srv.login(ALICE).await;
    assert_eq!(c.cmd("DELE 1").await, "+OK message 1 deleted");
    assert_eq!(c.cmd("DELE 1").await, "-ERR message 1 already deleted");
    assert_eq!(c.cmd("RETR 1").await, "-ERR message 1 already deleted");
    assert_eq!(c.cmd("LIST 1").await, "-ERR message 1 already deleted");
    assert!(c.cmd("STAT").await.starts_with("+OK 2 "));
    assert!(
        c.cmd("RSET")
            .await
            .starts_with("+OK maildrop has 3 messages")
    );
    assert!(c.cmd("STAT").await.starts_with("+OK 3 "));
    assert_eq!(c.cmd("DELE 2").await, "+OK message 2 deleted");
    assert!(c.cmd("RSET").await.starts_with("+OK"));
    assert!(c.cmd("QUIT").await.starts_with("+OK"));
    assert_eq!(srv.inbox(ALICE.0).await.len(), 3, "RSET undid every DELE");
    // A dropped connection (no QUIT) deletes nothing either.
    let mut c = srv.login(ALICE).await;
    assert!(c.cmd("DELE 3").await.starts_with("+OK"));
    drop(c);
    let mut c = srv.login(ALICE).await;
    assert!(c.cmd("STAT").await.starts_with("+OK 3 "));
}

#[tokio::test]
async fn huge_and_bogus_arguments() {
    let srv = start().await;
    let sent = srv.deliver(ALICE.0, 1).await;
    let mut c = srv.login(ALICE).await;
    for (cmd, reply) in [
        ("RETR 99999999999999999999", "-ERR invalid message number"),
        ("RETR 4294967297", "-ERR no such message"),
        ("RETR 0", "-ERR no such message"),
        ("RETR -1", "-ERR invalid message number"),
        ("RETR", "-ERR message number required"),
        (
            "TOP 1 123456789012345678901234567890",
            "-ERR invalid line count",
        ),
        ("TOP 1", "-ERR usage: TOP msg n"),
        ("DELE 2", "-ERR no such message"),
        ("UIDL 9", "-ERR no such message"),
    ] {
        assert_eq!(c.cmd(cmd).await, reply, "{cmd}");
    }
    // The largest count is just "all of it".
    assert_eq!(
        c.cmd("TOP 1 18446744073709551615").await,
        format!("+OK {} octets", sent[0].len())
    );
    let body = c.body().await;
    assert_eq!(body.join("\r\n") + "\r\n", sent[0]);
    c.0.send(&vec![b'A'; 10_000]).await;
    c.0.send(b"\r\n").await;
    assert_eq!(c.line().await, "-ERR line too long");
    assert_eq!(c.cmd("NOOP").await, "+OK");
}

#[tokio::test]
async fn one_pop3_session_per_maildrop() {
    let srv = start().await;
    srv.deliver(ALICE.0, 1).await;
    let mut first = srv.login(ALICE).await;
    let mut second = Client::connect_tls(&srv).await;
    second.cmd("USER alice@example.com").await;
    assert_eq!(
        second.cmd("PASS alice-password").await,
        "-ERR [IN-USE] Mailbox is locked by another POP3 session"
    );
    // Bob is not affected.
    drop(srv.login(BOB).await);
    assert!(first.cmd("QUIT").await.starts_with("+OK"));
    second.cmd("USER alice@example.com").await;
    assert!(
        second
            .cmd("PASS alice-password")
            .await
            .starts_with("+OK 1 messages")
    );
}

#[tokio::test]
async fn messages_expunged_elsewhere_and_delivered_meanwhile() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut c = srv.login(ALICE).await;
    // Another client (IMAP) expunges message 2 while this session holds the maildrop.
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    let inbox = srv.store.mailbox(a.id, "INBOX").await.unwrap().unwrap();
    let uids: Vec<u32> = srv
        .store
        .messages(inbox.id)
        .await
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    srv.store
        .remove(inbox.id, UidSet::from_uids([uids[1]]))
        .await
        .unwrap();
    // And a new message arrives: not part of this session's maildrop.
    srv.deliver(ALICE.0, 1).await;
    assert!(c.cmd("STAT").await.starts_with("+OK 3 "));
    assert_eq!(
        c.cmd("RETR 2").await,
        "-ERR message was removed by another session"
    );
    assert!(c.cmd("RETR 3").await.starts_with("+OK"));
    c.body().await;
    assert!(c.cmd("DELE 2").await.starts_with("+OK"));
    assert!(c.cmd("DELE 1").await.starts_with("+OK"));
    assert!(c.cmd("QUIT").await.starts_with("+OK"));
    let left = srv.inbox(ALICE.0).await;
    assert_eq!(left.len(), 2, "message 3 and the new one remain");
}

#[tokio::test]
async fn pipelined_commands_answer_in_order() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    let mut c = srv.login(ALICE).await;
    c.0.send(b"STAT\r\nLIST\r\nUIDL 1\r\nDELE 1\r\nNOOP\r\nRETR 1\r\nQUIT\r\n")
        .await;
    assert!(c.line().await.starts_with("+OK 2 "));
    assert_eq!(c.line().await, "+OK 2 messages follow");
    assert_eq!(c.body().await.len(), 2);
    assert!(c.line().await.starts_with("+OK 1 "));
    assert_eq!(c.line().await, "+OK message 1 deleted");
    assert_eq!(c.line().await, "+OK");
    assert_eq!(c.line().await, "-ERR message 1 already deleted");
    assert!(
        c.line()
            .await
            .starts_with("+OK twinmail POP3 signing off (1 messages deleted)")
    );
    assert!(c.0.closed().await);
}

#[tokio::test]
async fn no_passwords_before_tls_and_injection_after_stls_is_dropped() {
    let srv = start().await;
    let mut c = Client::connect(&srv).await;
    c.0.send_line("CAPA").await;
    assert_eq!(c.line().await, "+OK Capability list follows");
    let caps = c.body().await;
    assert!(caps.contains(&"STLS".to_string()));
    assert!(!caps.contains(&"USER".to_string()) && !caps.iter().any(|c| c.starts_with("SASL")));
    assert!(
        c.cmd("USER alice@example.com")
            .await
            .starts_with("-ERR [AUTH] Plaintext")
    );
    assert!(
        c.cmd("AUTH PLAIN AGFsaWNlAHB3")
            .await
            .starts_with("-ERR [AUTH] Plaintext")
    );
    c.0.send(b"STLS\r\nUSER alice@example.com\r\n").await;
    assert_eq!(c.line().await, "+OK Begin TLS negotiation");
    let mut c = Client(c.0.starttls(&srv.tls).await);
    // The injected USER was discarded.
    assert_eq!(c.cmd("PASS alice-password").await, "-ERR USER first");
    assert_eq!(c.cmd("STLS").await, "-ERR TLS already active");
    let r = c
        .cmd(&format!(
            "AUTH PLAIN {}",
            twinmail_testkit::plain("", ALICE.0, ALICE.1)
        ))
        .await;
    assert!(r.starts_with("+OK 0 messages"), "{r}");
}

#[tokio::test]
async fn failed_logins_look_alike_and_end_the_session() {
    let srv = start().await;
    let mut c = Client::connect_tls(&srv).await;
    assert_eq!(
        c.cmd("USER nobody@example.com").await,
        "+OK",
        "USER reveals nothing"
    );
    let unknown = c.cmd("PASS x").await;
    c.cmd("USER alice@example.com").await;
    let wrong = c.cmd("PASS x").await;
    assert_eq!(unknown, wrong);
    assert_eq!(wrong, "-ERR [AUTH] Authentication failed");
    // authzid impersonation: bob's password, acting as alice.
    let r = c
        .cmd(&format!(
            "AUTH PLAIN {}",
            twinmail_testkit::plain(ALICE.0, BOB.0, BOB.1)
        ))
        .await;
    assert_eq!(r, "-ERR [AUTH] Authentication failed");
    assert_eq!(c.line().await, "-ERR Too many authentication failures");
    assert!(c.0.closed().await);
}

/// Connects, reads the greeting, then sends `drip` a byte every 100 ms; returns the
/// replies and how long the server took to close the connection (5 s when it did not).
async fn drip(addr: std::net::SocketAddr, drip: &[u8]) -> (Vec<String>, std::time::Duration) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (r, w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut line = String::new();
    r.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("+OK"), "{line}");
    twinmail_testkit::drip_and_read(r, w, drip).await
}

#[tokio::test]
async fn slow_and_idle_clients_meet_timeouts_and_deadlines_before_login() {
    use std::time::Duration;
    let srv = common::start_with(|s| {
        s.login_timeout = Duration::from_millis(300);
        s.command_deadline = Duration::from_millis(400);
        s.login_deadline = Duration::from_millis(800);
    })
    .await;
    let timeout = "-ERR [SYS/TEMP] Timeout, closing connection";
    // Idle before login: the short login timeout, not the 10 minutes of RFC 1939.
    let (replies, took) = drip(srv.pop3, b"").await;
    assert_eq!(replies, [timeout]);
    assert!(took < Duration::from_secs(2), "{took:?}");
    // One line a byte at a time: every read is quick, the line is not.
    let (replies, took) = drip(srv.pop3, &[b'x'; 50]).await;
    assert_eq!(replies, [timeout]);
    assert!(took < Duration::from_secs(2), "{took:?}");
    // Whole commands, quickly, but never a login.
    let (replies, took) = drip(srv.pop3, "NOOP\r\n".repeat(20).as_bytes()).await;
    assert_eq!(replies.last(), Some(&timeout.to_string()), "{replies:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    // Logged in, none of these apply.
    let mut c = srv.login(ALICE).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(c.cmd("STAT").await.starts_with("+OK"));
}

#[tokio::test]
async fn idle_clients_before_login_get_less_time_when_the_server_is_busy() {
    let srv = common::start_with(|s| {
        s.max_connections = 4;
        s.stress_login_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let mut a = Client::connect(&srv).await;
    let _b = Client::connect(&srv).await;
    // The third of four: three quarters in use, so the short wait applies.
    let mut c = Client::connect(&srv).await;
    assert_eq!(
        c.line().await,
        "-ERR [SYS/TEMP] Timeout, closing connection"
    );
    // The first two began to wait when there was room: they are still served.
    assert!(a.cmd("CAPA").await.starts_with("+OK"));
}

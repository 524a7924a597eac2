//! HOSTILE.md SMUG: only CRLF.CRLF ends DATA, one DATA stores at most one message, bare
//! CR/LF never act as line ends, BDAT content is opaque.

mod common;

use common::{ALICE, BOB, Client, start};

async fn open_transaction(c: &mut Client, rcpt: &str) {
    assert!(c.cmd("EHLO attacker.example").await.starts_with("250"));
    assert_eq!(c.cmd("MAIL FROM:<a@remote.org>").await, "250 2.1.0 Ok");
    assert_eq!(c.cmd(&format!("RCPT TO:<{rcpt}>")).await, "250 2.1.5 Ok");
    assert_eq!(c.cmd("DATA").await, "354 End data with <CR><LF>.<CR><LF>");
}

#[tokio::test]
async fn bare_lf_and_bare_cr_dots_never_end_data() {
    let srv = start().await;
    for fake_end in ["\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r", "\r.\r\n", "\r\n.\r"] {
        let (mut c, _) = Client::connect(srv.mx).await;
        open_transaction(&mut c, ALICE.0).await;
        let smuggled = format!(
            "Subject: innocent\r\n\r\nbody{fake_end}MAIL FROM:<evil@remote.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n"
        );
        c.send(smuggled.as_bytes()).await;
        // One reply for the whole thing: the fake end was data, and data with bare line
        // ends is refused.
        let reply = c.reply().await;
        assert!(reply.starts_with("550 5.5.2"), "{fake_end:?}: {reply}");
        assert_eq!(
            c.cmd("NOOP").await,
            "250 2.0.0 Ok",
            "{fake_end:?}: the session stays in step"
        );
    }
    assert!(srv.inbox(ALICE.0).await.is_empty());
    assert!(
        srv.inbox(BOB.0).await.is_empty(),
        "a smuggled message was delivered"
    );
}

#[tokio::test]
async fn nul_before_the_dot_is_data_and_one_data_is_one_message() {
    let srv = start().await;
    let (mut c, _) = Client::connect(srv.mx).await;
    open_transaction(&mut c, ALICE.0).await;
    let body = "Subject: nul\r\n\r\nline\r\n\0.\r\nMAIL FROM:<evil@remote.org>\r\n..dot\r\n.\r\n";
    c.send(body.as_bytes()).await;
    assert!(c.reply().await.starts_with("250 2.0.0 Ok"));
    let stored = srv.inbox(ALICE.0).await;
    assert_eq!(stored.len(), 1);
    // Dot-unstuffing applies to "..dot" only; the NUL line and the fake command stay data.
    assert!(
        stored[0].ends_with(
            b"Subject: nul\r\n\r\nline\r\n\0.\r\nMAIL FROM:<evil@remote.org>\r\n.dot\r\n"
        )
    );
}

#[tokio::test]
async fn pipelined_commands_after_a_rejected_rcpt_stay_in_step() {
    let srv = start().await;
    let (mut c, _) = Client::connect(srv.mx).await;
    assert!(c.cmd("EHLO client").await.contains("PIPELINING"));
    c.send(b"MAIL FROM:<a@remote.org>\r\nRCPT TO:<nobody@example.com>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n").await;
    assert_eq!(c.reply().await, "250 2.1.0 Ok");
    assert_eq!(
        c.reply().await,
        "550 5.1.1 Recipient address rejected: user unknown"
    );
    assert_eq!(c.reply().await, "250 2.1.5 Ok");
    assert!(c.reply().await.starts_with("354"));
    c.send(b"Subject: ok\r\n\r\nfine\r\n.\r\n").await;
    assert!(c.reply().await.starts_with("250 2.0.0"));
    assert_eq!(srv.inbox(ALICE.0).await.len(), 1);
}

#[tokio::test]
async fn message_pipelined_after_a_refused_data_is_never_executed() {
    let srv = start().await;
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO client").await;
    c.send(
        b"MAIL FROM:<a@remote.org>\r\nRCPT TO:<nobody@example.com>\r\nDATA\r\nMAIL FROM:<x@remote.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n",
    )
    .await;
    assert_eq!(c.reply().await, "250 2.1.0 Ok");
    assert!(c.reply().await.starts_with("550 5.1.1"));
    assert_eq!(c.reply().await, "554 5.5.1 No valid recipients");
    assert_eq!(
        c.reply().await,
        "421 4.5.0 Improper command pipelining after DATA"
    );
    assert!(c.closed().await);
    assert!(srv.inbox(BOB.0).await.is_empty());
}

#[tokio::test]
async fn bdat_content_is_opaque() {
    let srv = start().await;
    let (mut c, _) = Client::connect(srv.mx).await;
    assert!(c.cmd("EHLO client").await.contains("CHUNKING"));
    assert_eq!(c.cmd("MAIL FROM:<a@remote.org>").await, "250 2.1.0 Ok");
    assert_eq!(c.cmd("RCPT TO:<alice@example.com>").await, "250 2.1.5 Ok");
    let part1 = "Subject: chunks\r\n\r\nRSET\r\nMAIL FROM:<evil@remote.org>\r\n";
    let part2 = "RCPT TO:<bob@example.com>\r\nDATA\r\n.\r\nQUIT\r\n";
    c.send(format!("BDAT {}\r\n{part1}", part1.len()).as_bytes())
        .await;
    assert_eq!(
        c.reply().await,
        format!("250 2.0.0 {} octets received", part1.len())
    );
    c.send(format!("BDAT {} LAST\r\n{part2}", part2.len()).as_bytes())
        .await;
    assert!(c.reply().await.starts_with("250 2.0.0 Ok: queued as"));
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 Ok");
    let stored = srv.inbox(ALICE.0).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].ends_with(format!("{part1}{part2}").as_bytes()));
    assert!(srv.inbox(BOB.0).await.is_empty());

    // BDAT outside a transaction: refused, and its bytes are still swallowed unread.
    let cmds = "RCPT TO:<bob@example.com>\r\n";
    c.send(format!("BDAT {} LAST\r\n{cmds}", cmds.len()).as_bytes())
        .await;
    assert_eq!(c.reply().await, "503 5.5.1 Need MAIL before BDAT");
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 Ok");
}

#[tokio::test]
async fn a_bare_lf_or_cr_in_a_command_line_ends_the_session() {
    let srv = start().await;
    for line in [
        "EHLO client\n",
        "EHLO client\r\rMAIL FROM:<a@remote.org>\r\n",
        "NOOP\rRSET\r\n",
        "EHLO client\n\r\n",
    ] {
        let (mut c, _) = Client::connect(srv.mx).await;
        c.send(line.as_bytes()).await;
        assert_eq!(
            c.reply().await,
            "521 5.5.2 Bare <CR> or <LF> received; lines must end with <CR><LF>",
            "{line:?}"
        );
        assert!(c.closed().await, "{line:?}");
    }
    // Split across reads, the line is judged whole.
    let (mut c, _) = Client::connect(srv.mx).await;
    c.send(b"EHLO cli").await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    c.send(b"ent\r").await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    c.send(b"\n").await;
    assert!(c.reply().await.starts_with("250"));
}

#[tokio::test]
async fn data_ended_by_crlf_dot_and_a_run_of_crs_closes_the_session() {
    let srv = start().await;
    for fake_end in ["\r\n.\r\r\n", "\r\n.\r\r\r\r\n"] {
        let (mut c, _) = Client::connect(srv.mx).await;
        open_transaction(&mut c, ALICE.0).await;
        let smuggled = format!(
            "Subject: innocent\r\n\r\nbody{fake_end}MAIL FROM:<evil@remote.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n"
        );
        c.send(smuggled.as_bytes()).await;
        assert_eq!(
            c.reply().await,
            "421 4.5.2 Data ended by something other than <CR><LF>.<CR><LF>, closing connection",
            "{fake_end:?}"
        );
        assert!(c.closed().await, "{fake_end:?}");
    }
    assert!(srv.inbox(ALICE.0).await.is_empty());
    assert!(srv.inbox(BOB.0).await.is_empty());
    // The same run of CRs in a message too big to keep is caught all the same.
    let srv = common::start_with(|s| s.max_message_size = 100).await;
    let (mut c, _) = Client::connect(srv.mx).await;
    open_transaction(&mut c, ALICE.0).await;
    c.send(format!("{}\r\n.\r\r\nNOOP\r\n", "x".repeat(500)).as_bytes())
        .await;
    assert!(c.reply().await.starts_with("421 4.5.2"));
    assert!(c.closed().await);
}

#[tokio::test]
async fn bdat_messages_with_bare_line_ends_are_refused() {
    let srv = start().await;
    let (mut c, _) = Client::connect(srv.mx).await;
    c.cmd("EHLO client").await;
    for body in [
        "Subject: lf\r\n\r\nline\n.\nmore\r\n",
        "Subject: cr\r\n\r\nline\r.\rmore\r\n",
    ] {
        assert_eq!(c.cmd("MAIL FROM:<a@remote.org>").await, "250 2.1.0 Ok");
        assert_eq!(c.cmd("RCPT TO:<alice@example.com>").await, "250 2.1.5 Ok");
        c.send(format!("BDAT {} LAST\r\n{body}", body.len()).as_bytes())
            .await;
        assert_eq!(
            c.reply().await,
            "550 5.5.2 Message contains a bare CR or LF; lines must end with CRLF",
            "{body:?}"
        );
    }
    // A CRLF split between two chunks is no bare line end.
    assert_eq!(c.cmd("MAIL FROM:<a@remote.org>").await, "250 2.1.0 Ok");
    assert_eq!(c.cmd("RCPT TO:<alice@example.com>").await, "250 2.1.5 Ok");
    let (one, two) = ("Subject: split\r\n\r\nline\r", "\nend\r\n");
    c.send(format!("BDAT {}\r\n{one}", one.len()).as_bytes())
        .await;
    assert!(c.reply().await.starts_with("250 2.0.0"));
    c.send(format!("BDAT {} LAST\r\n{two}", two.len()).as_bytes())
        .await;
    assert!(c.reply().await.starts_with("250 2.0.0 Ok: queued as"));
    assert_eq!(srv.inbox(ALICE.0).await.len(), 1);
}

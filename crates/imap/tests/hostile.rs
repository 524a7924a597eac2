//! HOSTILE.md IMAP, MBX, MIME, CONN and STLS for IMAP, plus what other sessions' changes
//! look like to a selected mailbox. Transcripts are byte-exact where the bytes matter.

mod common;

use common::{ALICE, Client, start, start_with};

fn tagged(lines: &[String]) -> &str {
    lines.last().map(String::as_str).unwrap_or_default()
}

#[tokio::test]
async fn commands_pipelined_behind_starttls_are_dropped() {
    let srv = start().await;
    let mut c = Client::connect(&srv).await;
    let caps = c.cmd("CAPABILITY").await;
    assert!(
        caps[0].contains("STARTTLS") && caps[0].contains("LOGINDISABLED"),
        "{caps:?}"
    );
    assert!(tagged(&c.cmd("LOGIN alice@example.com alice-password").await).starts_with("A NO"));
    c.0.send(b"A STARTTLS\r\nB LOGIN alice@example.com alice-password\r\n")
        .await;
    assert!(c.line().await.starts_with("A OK"));
    let mut c = Client(c.0.starttls(&srv.tls).await);
    // Had the injected LOGIN run, this SELECT would work.
    assert_eq!(tagged(&c.cmd("SELECT INBOX").await), "A BAD Log in first");
    let caps = c.cmd("CAPABILITY").await;
    assert!(
        caps[0].contains("AUTH=PLAIN") && !caps[0].contains("STARTTLS"),
        "{caps:?}"
    );
    assert!(tagged(&c.cmd("STARTTLS").await).starts_with("A BAD"));
}

#[tokio::test]
async fn literals_are_data_never_commands() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    // A non-synchronising literal whose bytes look like commands.
    let payload = "B LOGOUT\r\nC DELETE Sent\r\n";
    c.0.send(format!("A APPEND INBOX {{{}+}}\r\n{payload}\r\n", payload.len()).as_bytes())
        .await;
    let r = c.until_tagged().await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID"), "{r:?}");
    assert!(
        tagged(&c.cmd("NOOP").await).starts_with("A OK"),
        "still logged in"
    );
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    assert!(
        srv.store.mailbox(a.id, "Sent").await.unwrap().is_some(),
        "Sent was not deleted"
    );
    let inbox = srv.store.mailbox(a.id, "INBOX").await.unwrap().unwrap();
    let m = &srv.store.messages(inbox.id).await.unwrap()[0];
    assert_eq!(
        srv.store.blob(&m.blob).await.unwrap().unwrap(),
        payload.as_bytes()
    );
}

#[tokio::test]
async fn huge_literals_and_deep_nesting_get_bad_and_the_session_goes_on() {
    let srv = start_with(|s| s.max_literal_size = 1024 * 1024).await;
    let mut c = srv.login(ALICE).await;
    c.0.send(b"A APPEND INBOX {999999999}\r\n").await;
    let r = c.line().await;
    assert!(
        r.starts_with("A NO") || r.starts_with("A BAD") || r.starts_with("* BAD"),
        "{r}"
    );
    assert!(tagged(&c.cmd("NOOP").await).starts_with("A OK"));
    c.0.send(format!("A FETCH 1 {}\r\n", "(".repeat(50_000)).as_bytes())
        .await;
    let r = c.line().await;
    assert!(r.contains("BAD"), "{r}");
    assert!(tagged(&c.cmd("NOOP").await).starts_with("A OK"));
}

#[tokio::test]
async fn huge_sequence_sets_cost_nothing() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    assert_eq!(
        tagged(&c.cmd("FETCH 1:4294967295 FLAGS").await),
        "A BAD Invalid message sequence number"
    );
    let r = c.cmd("UID FETCH 1:4294967295 FLAGS").await;
    assert_eq!(r.len(), 4, "{r:?}");
    let many: Vec<String> = (1..20_000).map(|n| n.to_string()).collect();
    let r = c
        .cmd(&format!("UID FETCH {} (FLAGS)", many.join(",")))
        .await;
    assert_eq!(r.len(), 4, "{r:?}");
    // Overlapping ranges by the thousand: merged first, so no blow-up.
    let overlapping = vec!["1:*"; 20_000].join(",");
    let r = c.cmd(&format!("FETCH {overlapping} (UID)")).await;
    assert_eq!(r.len(), 4, "{:?}", &r[r.len().saturating_sub(2)..]);
    let r = c.cmd("UID SEARCH UID 2:*").await;
    assert_eq!(r[0], "* SEARCH 2 3");
}

#[tokio::test]
async fn mailbox_names_cannot_alias_or_escape() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    // ("x/" is fine: a trailing delimiter only announces children, RFC 3501 §6.3.3.)
    for bad in [
        "../etc", "a//b", "/x", "&AEE-", "&Jjo", "a/../b", "\"a*b\"", "\"a%b\"",
    ] {
        let r = c.cmd(&format!("CREATE {bad}")).await;
        assert!(
            tagged(&r).starts_with("A NO") || tagged(&r).starts_with("A BAD"),
            "{bad}: {r:?}"
        );
    }
    assert!(tagged(&c.cmd(&format!("CREATE {}", "x".repeat(600))).await).starts_with("A NO"));
    assert!(
        tagged(&c.cmd(&format!("CREATE {}", vec!["d"; 30].join("/"))).await).starts_with("A NO")
    );
    assert!(tagged(&c.cmd("CREATE inbox").await).starts_with("A NO"));
    assert!(tagged(&c.cmd("CREATE Inbox/Sub").await).starts_with("A OK"));
    assert!(tagged(&c.cmd("CREATE Entw&APw-rfe").await).starts_with("A OK"));
    let list = c.cmd("LIST \"\" *").await;
    assert!(list.iter().any(|l| l.ends_with("INBOX/Sub")), "{list:?}");
    assert!(list.iter().any(|l| l.ends_with("Entw&APw-rfe")), "{list:?}");
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    assert!(
        srv.store.mailbox(a.id, "Entwürfe").await.unwrap().is_some(),
        "stored as UTF-8"
    );
    assert!(tagged(&c.cmd("DELETE INBOX").await).starts_with("A NO"));
    assert!(tagged(&c.cmd("SELECT ../INBOX").await).starts_with("A NO"));
}

#[tokio::test]
async fn deep_mime_nesting_still_answers() {
    let srv = start().await;
    let depth = 300;
    let mut m = String::from("Subject: deep\r\n");
    for i in 0..depth {
        m.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
        ));
    }
    m.push_str("Content-Type: text/plain\r\n\r\ncore\r\n");
    for i in (0..depth).rev() {
        m.push_str(&format!("--b{i}--\r\n"));
    }
    let mut d = srv.store.delivery();
    d.add_recipient(ALICE.0).await.unwrap();
    d.commit(m.into_bytes()).await.unwrap();
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    let r = c
        .cmd("FETCH 1 (BODYSTRUCTURE ENVELOPE BODY.PEEK[1.1.1])")
        .await;
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
    assert!(tagged(&c.cmd("NOOP").await).starts_with("A OK"));
}

#[tokio::test]
async fn other_sessions_changes_are_reported_at_the_right_time() {
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let mut a = srv.login(ALICE).await;
    let mut b = srv.login(ALICE).await;
    a.cmd("SELECT INBOX").await;
    b.cmd("SELECT INBOX").await;
    b.cmd("STORE 2 +FLAGS.SILENT (\\Flagged)").await;
    assert_eq!(
        a.cmd("NOOP").await,
        // `a` selected first: the messages are \\Recent to it (RFC 3501 §2.3.2).
        [
            "* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent))",
            "A OK NOOP completed"
        ]
    );
    b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    b.cmd("EXPUNGE").await;
    // No EXPUNGE during FETCH (RFC 3501 §7.4.1): message 1 is still there for a.
    let r = a.cmd("FETCH 1:3 (UID)").await;
    assert!(!r.iter().any(|l| l.contains("EXPUNGE")), "{r:?}");
    // Messages 1 (its UID only: it is gone from the store) to 3, and the flag news.
    assert_eq!(r.iter().filter(|l| l.contains("FETCH (UID")).count(), 4);
    // At the next NOOP it goes, and a delivery shows up.
    srv.deliver(ALICE.0, 1).await;
    let r = a.cmd("NOOP").await;
    assert_eq!(
        r,
        ["* 1 EXPUNGE", "* 3 EXISTS", "A OK NOOP completed"],
        "{r:?}"
    );
    // b's own EXPUNGE was told to b directly, not again.
    assert_eq!(b.cmd("NOOP").await, ["* 3 EXISTS", "A OK NOOP completed"]);
}

#[tokio::test]
async fn sessions_per_user_are_capped_and_freed() {
    let srv = start_with(|s| s.max_sessions_per_user = 2).await;
    let a = srv.login(ALICE).await;
    let _b = srv.login(ALICE).await;
    let mut c = Client::connect_tls(&srv).await;
    let r = c.cmd("LOGIN alice@example.com alice-password").await;
    assert!(tagged(&r).starts_with("A NO Too many sessions"), "{r:?}");
    // Bob is not affected, and a closed session frees its place.
    drop(srv.login(common::BOB).await);
    drop(a);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let r = c.cmd("LOGIN alice@example.com alice-password").await;
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
}

#[tokio::test]
async fn junk_floods_end_with_bye() {
    let srv = start_with(|s| s.max_errors = 5).await;
    let mut c = Client::connect(&srv).await;
    for _ in 0..5 {
        c.0.send(b"this is not imap\r\n").await;
    }
    let mut saw_bye = false;
    while let Some(l) = c.0.line().await {
        saw_bye |= l.starts_with("* BYE");
    }
    assert!(saw_bye);
}

#[tokio::test]
async fn an_empty_append_is_refused() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    for literal in ["{0+}\r\n", "~{0+}\r\n"] {
        let r = c.cmd(&format!("APPEND INBOX {literal}")).await;
        assert_eq!(r, ["A NO Empty message refused"], "{literal:?}");
    }
    let r = c.cmd("STATUS INBOX (MESSAGES)").await;
    assert_eq!(r[0], "* STATUS INBOX (MESSAGES 0)");
    // One byte is a message (a poor one, but what the client meant to store).
    let r = c.cmd("APPEND INBOX {1+}\r\nx").await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID"), "{r:?}");
}

#[tokio::test]
async fn mailbox_names_have_one_spelling() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    // Modified UTF-7 that is not what RFC 3501 §5.1.3 would write: "üü" as two runs.
    for bad in ["&APw-&APw-", "a&AOQ-&AOQ-b"] {
        let r = c.cmd(&format!("CREATE {bad}")).await;
        assert_eq!(r, ["A NO Invalid mailbox name"], "{bad}");
    }
    assert_eq!(c.cmd("CREATE &APwA,A-").await, ["A OK CREATE completed"]);
    // UTF-8 names are stored in NFC: "é" typed as e + combining acute is the same name as
    // the precomposed one, whichever comes first and whichever way it is spelled.
    c.cmd("ENABLE UTF8=ACCEPT").await;
    let (decomposed, precomposed) = ("Caf\u{65}\u{301}", "Caf\u{e9}");
    assert_eq!(
        c.cmd(&format!("CREATE \"{decomposed}\"")).await,
        ["A OK CREATE completed"]
    );
    // (The refusal names the mailbox in ASCII: status text is ASCII, RFC 3501 TEXT-CHAR.)
    assert_eq!(
        c.cmd(&format!("CREATE \"{precomposed}\"")).await,
        ["A NO mailbox Caf? already exists"]
    );
    let r = c.cmd(&format!("STATUS \"{decomposed}\" (MESSAGES)")).await;
    assert_eq!(r[0], format!("* STATUS \"{precomposed}\" (MESSAGES 0)"));
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    assert!(
        srv.store
            .mailbox(a.id, precomposed)
            .await
            .unwrap()
            .is_some()
    );
    assert!(srv.store.mailbox(a.id, decomposed).await.unwrap().is_none());
}

#[tokio::test]
async fn before_login_commands_and_literals_are_capped_at_a_few_kib() {
    let srv = start().await;
    let mut c = Client::connect_tls(&srv).await;
    // A synchronising literal over the cap is refused before a byte of it is sent.
    c.0.send(b"A LOGIN {5000}\r\n").await;
    let r = c.line().await;
    assert!(r.starts_with("A BAD"), "{r}");
    // A non-synchronising one is read to its end and refused; its bytes are not commands.
    let junk = format!("B LOGOUT\r\n{}", "x".repeat(100_000));
    c.0.send(format!("A LOGIN {{{}+}}\r\n{junk} pw\r\n", junk.len()).as_bytes())
        .await;
    let r = c.until_tagged().await;
    assert!(tagged(&r).starts_with("A BAD"), "{r:?}");
    // So is a command line of 20 KiB.
    let r = c
        .cmd(&format!("ID (\"name\" \"{}\")", "n".repeat(20_000)))
        .await;
    assert!(tagged(&r).starts_with("A BAD"), "{r:?}");
    // And a 1 MB AUTHENTICATE response: BAD with AUTHENTICATE's tag, then back to commands.
    c.0.send(b"A AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(c.line().await, "+ ");
    c.0.send(format!("{}\r\n", "A".repeat(1_000_000)).as_bytes())
        .await;
    assert_eq!(
        c.until_tagged().await,
        ["A BAD Invalid authentication response"]
    );
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
    // Logged in, the configured sizes apply, and a password in a literal still works.
    let r = c
        .cmd(&format!(
            "LOGIN {} {{{}+}}\r\n{}",
            ALICE.0,
            ALICE.1.len(),
            ALICE.1
        ))
        .await;
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
    let message = format!("Subject: big\r\n\r\n{}\r\n", "y".repeat(200_000));
    let r = c
        .cmd(&format!("APPEND INBOX {{{}+}}\r\n{message}", message.len()))
        .await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID"), "{r:?}");
}

#[tokio::test]
async fn commands_pipelined_with_login_and_after_a_large_literal_all_run() {
    let srv = start().await;
    let mut c = Client::connect_tls(&srv).await;
    // Login, then commands that need the larger limits, in one write: the decoder is
    // replaced between LOGIN and what follows without losing a byte.
    let message = format!("Subject: big\r\n\r\n{}\r\n", "z".repeat(300_000));
    c.0.send(
        format!(
            "A LOGIN {} {}\r\nB APPEND INBOX {{{}+}}\r\n{message}\r\nC NOOP\r\nD APPEND INBOX {{5+}}\r\nhello\r\nE STATUS INBOX (MESSAGES)\r\n",
            ALICE.0,
            ALICE.1,
            message.len()
        )
        .as_bytes(),
    )
    .await;
    let mut lines = Vec::new();
    while !lines.last().is_some_and(|l: &String| l.starts_with("E ")) {
        lines.push(c.line().await);
    }
    let tagged: Vec<&str> = lines
        .iter()
        .filter(|l| !l.starts_with('*'))
        .map(|l| &l[..4])
        .collect();
    assert_eq!(
        tagged,
        ["A OK", "B OK", "C OK", "D OK", "E OK"],
        "{lines:?}"
    );
    assert!(
        lines.contains(&"* STATUS INBOX (MESSAGES 2)".to_string()),
        "{lines:?}"
    );
}

/// Connects in plaintext, sends the `preface` commands one by one (each up to its tagged
/// reply), then drips `drip` a byte every 100 ms; returns the lines that came after the
/// preface and how long the server took to close the connection (5 s when it did not).
async fn drip(
    srv: &common::Server,
    preface: &[&str],
    drip: &[u8],
) -> (Vec<String>, std::time::Duration) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stream = tokio::net::TcpStream::connect(srv.imap).await.unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut line = String::new();
    r.read_line(&mut line).await.unwrap();
    for command in preface {
        w.write_all(format!("A {command}\r\n").as_bytes())
            .await
            .unwrap();
        loop {
            line.clear();
            r.read_line(&mut line).await.unwrap();
            if line.starts_with("A ") {
                assert!(line.starts_with("A OK"), "{command}: {line}");
                break;
            }
        }
    }
    twinmail_testkit::drip_and_read(r, w, drip).await
}

#[tokio::test]
async fn a_byte_every_100_ms_meets_the_login_command_and_literal_deadlines() {
    use std::time::Duration;
    let srv = start_with(|s| {
        s.plaintext_auth_on_loopback = true;
        s.login_deadline = Duration::from_millis(800);
        s.command_deadline = Duration::from_millis(400);
        s.literal_deadline = Duration::from_millis(600);
    })
    .await;
    let bye = "* BYE Autologout; idle for too long";
    // One command, a byte at a time: each read is quick, the command is not.
    let (lines, took) = drip(&srv, &[], b"A NOOP NOOP NOOP NOOP NOOP NOOP NOOP").await;
    assert_eq!(lines, [bye]);
    assert!(took < Duration::from_secs(2), "{took:?}");
    // Whole commands, quickly, but never a login.
    let (lines, took) = drip(&srv, &[], "A NOOP\r\n".repeat(20).as_bytes()).await;
    assert_eq!(lines.last(), Some(&bye.to_string()), "{lines:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    // Logged in: an APPEND whose literal trickles in.
    let login = format!("LOGIN {} {}", ALICE.0, ALICE.1);
    let append = format!("A APPEND INBOX {{100+}}\r\n{}", "x".repeat(100));
    let (lines, took) = drip(&srv, &[&login], append.as_bytes()).await;
    assert_eq!(lines, [bye]);
    assert!(took < Duration::from_secs(2), "{took:?}");
    // Logged in and quiet: no deadline, only the (long) idle timeout.
    let mut c = srv.login(ALICE).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

#[tokio::test]
async fn idle_clients_before_login_get_less_time_when_the_server_is_busy() {
    let srv = start_with(|s| {
        s.max_connections = 4;
        s.stress_login_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let mut a = Client::connect(&srv).await;
    let _b = Client::connect(&srv).await;
    // The third of four: three quarters in use, so the short wait applies.
    let mut c = Client::connect(&srv).await;
    assert_eq!(c.line().await, "* BYE Autologout; idle for too long");
    // The first two began to wait when there was room: they are still served.
    assert_eq!(c.line().await, "");
    assert_eq!(a.cmd("NOOP").await, ["A OK NOOP completed"]);
}

//! MULTIAPPEND (RFC 3502): several messages in one APPEND, all or none, with APPENDUID's
//! UID set (RFC 4315); a bad second part, a missing mailbox, the quota and the command
//! size cap leave the mailbox as it was.

mod common;

use common::{ALICE, Server, start, start_with};

fn tagged(lines: &[String]) -> &str {
    lines.last().map(String::as_str).unwrap_or_default()
}

/// How many messages `name` of alice holds.
async fn count(srv: &Server, name: &str) -> usize {
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    match srv.store.mailbox(a.id, name).await.unwrap() {
        Some(m) => srv.store.messages(m.id).await.unwrap().len(),
        None => 0,
    }
}

/// `n` messages as one MULTIAPPEND's parts with non-synchronising literals.
fn parts(n: usize, each: &str) -> String {
    (0..n)
        .map(|i| {
            let m = format!("Subject: part {i}\r\n\r\n{each}\r\n");
            format!(" {{{}+}}\r\n{m}", m.len())
        })
        .collect()
}

#[tokio::test]
async fn multiappend_adds_every_message_with_its_flags_and_date_and_one_uid_set() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    assert!(tagged(&c.cmd("SELECT INBOX").await).starts_with("A OK"));
    let (m1, m2, m3) = (
        "Subject: one\r\n\r\n1\r\n",
        "Subject: two\r\n\r\n2\r\n",
        "Subject: three\r\n\r\n3\r\n",
    );
    let r = c
        .cmd(&format!(
            "APPEND INBOX (\\Seen) \"07-Feb-1994 21:52:25 -0800\" {{{}+}}\r\n{m1} {{{}+}}\r\n{m2} (\\Flagged $Work) {{{}+}}\r\n{m3}",
            m1.len(),
            m2.len(),
            m3.len()
        ))
        .await;
    let uidvalidity = {
        let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
        srv.store
            .mailbox(a.id, "INBOX")
            .await
            .unwrap()
            .unwrap()
            .uidvalidity
    };
    assert_eq!(
        tagged(&r),
        format!("A OK [APPENDUID {uidvalidity} 1:3] APPEND completed")
    );
    assert!(r.iter().any(|l| l == "* 3 EXISTS"), "{r:?}");
    let r = c
        .cmd("FETCH 1:3 (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .await;
    let text = r.join("\n");
    assert!(
        text.contains("* 1 FETCH (FLAGS (\\Seen") && text.contains("08-Feb-1994 05:52:25 +0000"),
        "{text}"
    );
    assert!(text.contains("Subject: two"), "{text}");
    assert!(text.contains("* 3 FETCH (FLAGS ($Work \\Flagged"), "{text}");
}

#[tokio::test]
async fn multiappend_with_synchronising_literals_gets_a_continuation_for_each() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    c.0.send(b"A APPEND Drafts {15}\r\n").await;
    assert!(c.line().await.starts_with('+'));
    c.0.send(b"Subject: a\r\n\r\na {15}\r\n").await;
    assert!(c.line().await.starts_with('+'));
    c.0.send(b"Subject: b\r\n\r\nb\r\n").await;
    let r = c.until_tagged().await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID "), "{r:?}");
    assert!(tagged(&r).contains(" 1:2]"), "{r:?}");
    assert_eq!(count(&srv, "Drafts").await, 2);
}

#[tokio::test]
async fn a_bad_second_part_appends_nothing() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let good = "Subject: ok\r\n\r\nok\r\n";
    // An unknown system flag on the second message: BAD, the first is not kept.
    let r = c
        .cmd(&format!(
            "APPEND INBOX {{{}+}}\r\n{good} (\\Bogus) {{{}+}}\r\n{good}",
            good.len(),
            good.len()
        ))
        .await;
    assert!(tagged(&r).starts_with("A BAD"), "{r:?}");
    // A flag that is no flag.
    let r = c
        .cmd(&format!(
            "APPEND INBOX {{{}+}}\r\n{good} (fl\"ag) {{{}+}}\r\n{good}",
            good.len(),
            good.len()
        ))
        .await;
    assert_eq!(r, ["A BAD Invalid flags, date or mailbox in APPEND"]);
    // A date that is no date.
    let r = c
        .cmd(&format!(
            "APPEND INBOX {{{}+}}\r\n{good} \"31-Foo-2020 00:00:00 +0000\" {{{}+}}\r\n{good}",
            good.len(),
            good.len()
        ))
        .await;
    assert_eq!(r, ["A BAD Invalid flags, date or mailbox in APPEND"]);
    // An empty second message: NO.
    let r = c
        .cmd(&format!(
            "APPEND INBOX {{{}+}}\r\n{good} {{0+}}\r\n",
            good.len()
        ))
        .await;
    assert_eq!(r, ["A NO Empty message refused"]);
    assert_eq!(count(&srv, "INBOX").await, 0);
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

#[tokio::test]
async fn multiappend_to_a_missing_mailbox_says_trycreate() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let r = c.cmd(&format!("APPEND Nowhere{}", parts(2, "x"))).await;
    assert_eq!(r, ["A NO [TRYCREATE] No such mailbox"]);
    assert_eq!(count(&srv, "Nowhere").await, 0);
    assert!(tagged(&c.cmd("CREATE Nowhere").await).starts_with("A OK"));
    let r = c.cmd(&format!("APPEND Nowhere{}", parts(2, "x"))).await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID"), "{r:?}");
    assert_eq!(count(&srv, "Nowhere").await, 2);
}

#[tokio::test]
async fn the_quota_counts_every_message_of_a_multiappend() {
    let srv = start().await;
    srv.store.set_quota(ALICE.0, Some(3000)).await.unwrap();
    let mut c = srv.login(ALICE).await;
    // Each fits; together they do not.
    let r = c
        .cmd(&format!("APPEND INBOX{}", parts(3, &"q".repeat(1200))))
        .await;
    assert!(tagged(&r).starts_with("A NO [OVERQUOTA]"), "{r:?}");
    assert_eq!(count(&srv, "INBOX").await, 0);
    let r = c
        .cmd(&format!("APPEND INBOX{}", parts(2, &"q".repeat(1200))))
        .await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID"), "{r:?}");
    assert_eq!(count(&srv, "INBOX").await, 2);
}

#[tokio::test]
async fn the_command_size_caps_the_sum_of_the_literals() {
    // Each literal is under the literal cap; together they pass the command cap
    // (the literal cap plus 64 KiB).
    let srv = start_with(|s| s.max_literal_size = 8 * 1024).await;
    let mut c = srv.login(ALICE).await;
    let r = c
        .cmd(&format!("APPEND INBOX{}", parts(12, &"z".repeat(7000))))
        .await;
    assert_eq!(r, ["A BAD Command too long"]);
    assert_eq!(count(&srv, "INBOX").await, 0);
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

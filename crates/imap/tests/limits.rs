//! HOSTILE.md LIM for IMAP: message bytes held in memory (literals, and messages
//! CATENATE builds) are capped across all sessions (and SMTP's). In a test binary of its own, as the count is the whole process's.

mod common;

use common::{ALICE, start_with};

fn tagged(lines: &[String]) -> &str {
    lines.last().map(String::as_str).unwrap_or_default()
}

const LIMIT: &str = "A NO [LIMIT] Too many messages in memory, try again later";

/// An APPEND literal that would take the message bytes held in memory past the cap is
/// refused for now with NO [LIMIT]: a non-synchronising one is read to its end and
/// dropped, a synchronising one is refused before it is sent; the session goes on, and
/// a message that fits is taken. Literals held by another session count: one is refused
/// while another session's announced literal is held, and taken once that is stored.
#[tokio::test]
async fn literals_past_the_bytes_in_flight_cap_are_refused_for_now() {
    let srv = start_with(|s| s.max_bytes_in_flight = 100_000).await;
    let mut c = srv.login(ALICE).await;
    let big = format!("Subject: big\r\n\r\n{}", "y\r\n".repeat(50_000));
    c.0.send(format!("A APPEND INBOX {{{}+}}\r\n{big}\r\n", big.len()).as_bytes())
        .await;
    assert_eq!(c.until_tagged().await, [LIMIT]);
    c.0.send(format!("A APPEND INBOX {{{}}}\r\n", big.len()).as_bytes())
        .await;
    assert_eq!(c.line().await, LIMIT);
    // The second of two literals in one command (MULTIAPPEND's shape, here LOGIN's
    // arguments after login): refused, and the first is forgotten with it.
    c.0.send(format!("A LOGIN {{3+}}\r\nabc {{{}+}}\r\n{big}\r\n", big.len()).as_bytes())
        .await;
    assert_eq!(c.until_tagged().await, [LIMIT]);
    assert!(tagged(&c.cmd("NOOP").await).starts_with("A OK"));
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    let inbox = srv.store.mailbox(a.id, "INBOX").await.unwrap().unwrap();
    assert!(srv.store.messages(inbox.id).await.unwrap().is_empty());
    let small = "Subject: fits\r\n\r\nsmall\r\n";
    let r = c
        .cmd(&format!("APPEND INBOX {{{}+}}\r\n{small}", small.len()))
        .await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID"), "{r:?}");

    // Another session announces 60 kB and waits: this one's 60 kB does not fit beside it.
    let half = format!("Subject: half\r\n\r\n{}", "z".repeat(60_000));
    let mut other = srv.login(ALICE).await;
    other
        .0
        .send(format!("A APPEND INBOX {{{}}}\r\n", half.len()).as_bytes())
        .await;
    assert!(other.line().await.starts_with("+ "));
    let append_half = format!("APPEND INBOX {{{}+}}\r\n{half}", half.len());
    assert_eq!(c.cmd(&append_half).await, [LIMIT]);
    other.0.send(format!("{half}\r\n").as_bytes()).await;
    let r = other.until_tagged().await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID"), "{r:?}");
    // Stored: its share is given back, and this one's fits.
    let r = c.cmd(&append_half).await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID"), "{r:?}");
    assert_eq!(srv.store.messages(inbox.id).await.unwrap().len(), 3);

    // CATENATE (RFC 4469): what it builds from URLs counts as held too. Two copies of a
    // 60 kB message do not fit under the cap; one does, once the first try gave its
    // share back.
    let twice = "APPEND Drafts CATENATE (URL /INBOX/;UID=3 URL /INBOX/;UID=3)";
    assert_eq!(c.cmd(twice).await, [LIMIT]);
    let r = c.cmd("APPEND Drafts CATENATE (URL /INBOX/;UID=3)").await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID"), "{r:?}");
}

/// A non-synchronising literal longer than the largest accepted is read to its end and
/// dropped without being held (imap-next would buffer it up to its command limit first):
/// BAD, its bytes are not commands, and the session goes on.
#[tokio::test]
async fn a_non_synchronising_literal_over_the_size_limit_is_dropped_as_it_comes() {
    let srv = start_with(|s| s.max_literal_size = 10_000).await;
    let mut c = srv.login(ALICE).await;
    let junk = format!("B LOGOUT\r\n{}", "x".repeat(100_000));
    c.0.send(format!("A APPEND INBOX {{{}+}}\r\n{junk}\r\n", junk.len()).as_bytes())
        .await;
    assert_eq!(c.until_tagged().await, ["A BAD Literal too long"]);
    assert!(tagged(&c.cmd("NOOP").await).starts_with("A OK"));
    let small = "Subject: fits\r\n\r\nsmall\r\n";
    let r = c
        .cmd(&format!("APPEND INBOX {{{}+}}\r\n{small}", small.len()))
        .await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID"), "{r:?}");
}

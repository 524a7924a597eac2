//! CATENATE (RFC 4469) with URL-PARTIAL (RFC 5550): messages built from TEXT pieces and
//! IMAP URLs into the user's own messages; BADURL for what a URL may not name, TOOBIG
//! past the size limit, and all or nothing inside MULTIAPPEND.

mod common;

use common::{ALICE, BOB, Client, MIXED, Server, append_mixed, start, start_with};

fn tagged(lines: &[String]) -> &str {
    lines.last().map(String::as_str).unwrap_or_default()
}

/// The bytes of every message in `name` of alice, by UID.
async fn stored(srv: &Server, name: &str) -> Vec<Vec<u8>> {
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    let Some(m) = srv.store.mailbox(a.id, name).await.unwrap() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for msg in srv.store.messages(m.id).await.unwrap() {
        out.push(srv.store.blob(&msg.blob).await.unwrap().unwrap());
    }
    out
}

/// Alice's INBOX UIDVALIDITY.
async fn inbox_validity(srv: &Server) -> u32 {
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    srv.store
        .mailbox(a.id, "INBOX")
        .await
        .unwrap()
        .unwrap()
        .uidvalidity
}

/// A TEXT part with a non-synchronising literal.
fn text(t: &str) -> String {
    format!("TEXT {{{}+}}\r\n{t}", t.len())
}

/// A client of alice with MIXED as INBOX UID 1.
async fn alice_with_mixed(srv: &Server) -> Client {
    let mut c = srv.login(ALICE).await;
    append_mixed(&mut c).await;
    c
}

#[tokio::test]
async fn text_and_url_parts_make_one_message() {
    let srv = start().await;
    let mut c = alice_with_mixed(&srv).await;
    let v = inbox_validity(&srv).await;
    let head = "From: alice@example.com\r\nSubject: Fwd: multi part\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"YY\"\r\n\r\n--YY\r\n";
    let tail = "\r\n--YY--\r\n";
    let r = c
        .cmd(&format!(
            "APPEND Drafts (\\Draft) CATENATE ({} URL \"/INBOX;UIDVALIDITY={v}/;UID=1/;SECTION=1.MIME\" URL /INBOX/;UID=1/;SECTION=1 {})",
            text(head),
            text(tail)
        ))
        .await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID "), "{r:?}");
    let part1_mime = "Content-Type: text/plain; charset=utf-8\r\n\r\n";
    let part1 = "hello world, this is part one";
    let want = format!("{head}{part1_mime}{part1}{tail}");
    assert_eq!(
        String::from_utf8(stored(&srv, "Drafts").await.remove(0)).unwrap(),
        want
    );
    // The flags came with it, and a whole-message URL (an absolute one naming alice
    // herself) copies the message byte for byte.
    let r = c
        .cmd("APPEND Drafts CATENATE (URL imap://alice%40example.com@localhost/INBOX/;UID=1)")
        .await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID "), "{r:?}");
    assert_eq!(stored(&srv, "Drafts").await[1], MIXED.as_bytes());
    c.cmd("SELECT Drafts").await;
    let r = c.cmd("FETCH 1 FLAGS").await;
    assert!(r[0].contains("\\Draft"), "{r:?}");
}

#[tokio::test]
async fn partial_urls_and_urls_relative_to_the_selected_mailbox() {
    let srv = start().await;
    let mut c = alice_with_mixed(&srv).await;
    c.cmd("SELECT INBOX").await;
    let r = c
        .cmd(&format!(
            "APPEND Drafts CATENATE ({} URL \";UID=1/;SECTION=1/;PARTIAL=6.5\" URL \"/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(SUBJECT)/;PARTIAL=8\" URL \"/INBOX/;UID=1/;PARTIAL=99999.3\")",
            text("Subject: x\r\n\r\n")
        ))
        .await;
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
    // "world" from part 1; the Subject field from byte 8 on; nothing past the end.
    assert_eq!(
        stored(&srv, "Drafts").await[0],
        b"Subject: x\r\n\r\nworld multi part\r\n\r\n"
    );
}

#[tokio::test]
async fn a_url_that_names_nothing_of_yours_is_badurl_and_stores_nothing() {
    let srv = start().await;
    // Bob has a message; alice names it.
    let mut b = srv.login(BOB).await;
    append_mixed(&mut b).await;
    let mut c = alice_with_mixed(&srv).await;
    let v = inbox_validity(&srv).await;
    for (url, why) in [
        (
            "imap://bob%40example.com@localhost/INBOX/;UID=1".to_string(),
            "not your mailbox",
        ),
        (
            format!("/INBOX;UIDVALIDITY={}/;UID=1", v + 1),
            "UIDVALIDITY has changed",
        ),
        ("/INBOX/;UID=2".to_string(), "no such message"),
        ("/Nowhere/;UID=1".to_string(), "no such mailbox"),
        ("/INBOX/;UID=1/;SECTION=7".to_string(), "no such part"),
        (
            "/INBOX/;UID=1/;SECTION=1.BOGUS".to_string(),
            "invalid section",
        ),
        (
            ";UID=1".to_string(),
            "a relative URL needs a selected mailbox",
        ),
        // A URLAUTH URL is verified (tests/urlauth.rs), never taken on trust.
        (
            "/INBOX/;UID=1;URLAUTH=anonymous:internal:00".to_string(),
            "URLAUTH verification failed",
        ),
    ] {
        let r = c
            .cmd(&format!(
                "APPEND Drafts CATENATE ({} URL \"{url}\")",
                text("Subject: x\r\n\r\n")
            ))
            .await;
        assert_eq!(
            r,
            [format!("A NO [BADURL {url}] CATENATE refused: {why}")],
            "{url}"
        );
    }
    // A URL with bytes that would break the response is echoed escaped.
    let r = c
        .cmd("APPEND Drafts CATENATE (URL \"/IN]BOX/;UID=1\")")
        .await;
    assert_eq!(
        r,
        ["A NO [BADURL /IN%5DBOX/;UID=1] CATENATE refused: no such mailbox"]
    );
    assert!(stored(&srv, "Drafts").await.is_empty());
}

#[tokio::test]
async fn a_message_past_the_size_limit_is_toobig() {
    // Room for MIXED once, not twice.
    let srv = start_with(|s| s.max_literal_size = (MIXED.len() * 3 / 2) as u32).await;
    let mut c = alice_with_mixed(&srv).await;
    let r = c
        .cmd("APPEND Drafts CATENATE (URL /INBOX/;UID=1 URL /INBOX/;UID=1)")
        .await;
    assert_eq!(r, ["A NO [TOOBIG] Message too big for CATENATE"]);
    assert!(stored(&srv, "Drafts").await.is_empty());
    let r = c.cmd("APPEND Drafts CATENATE (URL /INBOX/;UID=1)").await;
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
}

#[tokio::test]
async fn url_parts_are_capped_per_command() {
    let srv = start().await;
    let mut c = alice_with_mixed(&srv).await;
    // 64 tiny URL parts are fine; one more, over two messages, is not.
    let urls = |n: usize| " URL /INBOX/;UID=1/;PARTIAL=0.1".repeat(n);
    let r = c
        .cmd(&format!("APPEND Drafts CATENATE ({})", &urls(64)[1..]))
        .await;
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
    let r = c
        .cmd(&format!(
            "APPEND Drafts CATENATE ({}) CATENATE ({})",
            &urls(32)[1..],
            &urls(33)[1..]
        ))
        .await;
    assert_eq!(r, ["A NO [LIMIT] At most 64 URL parts in one APPEND"]);
    assert_eq!(stored(&srv, "Drafts").await, [b"F".repeat(64)]);
}

#[tokio::test]
async fn catenate_inside_multiappend_is_all_or_nothing() {
    let srv = start().await;
    let mut c = alice_with_mixed(&srv).await;
    let plain = "Subject: plain\r\n\r\nplain\r\n";
    let literal = format!("{{{}+}}\r\n{plain}", plain.len());
    // The second message's URL is bad: the first is not kept either.
    let r = c
        .cmd(&format!(
            "APPEND Drafts {literal} CATENATE (URL /INBOX/;UID=9)"
        ))
        .await;
    assert_eq!(
        r,
        ["A NO [BADURL /INBOX/;UID=9] CATENATE refused: no such message"]
    );
    assert!(stored(&srv, "Drafts").await.is_empty());
    // Both good: two messages, one UID set.
    let r = c
        .cmd(&format!(
            "APPEND Drafts {literal} (\\Seen) CATENATE ({} URL /INBOX/;UID=1/;SECTION=TEXT)",
            text("Subject: body only\r\n\r\n")
        ))
        .await;
    assert!(tagged(&r).contains(" 1:2] APPEND completed"), "{r:?}");
    let got = stored(&srv, "Drafts").await;
    assert_eq!(got[0], plain.as_bytes());
    assert!(got[1].starts_with(b"Subject: body only\r\n\r\npreamble\r\n--XX"));
}

#[tokio::test]
async fn synchronising_literals_in_catenate_get_continuations() {
    let srv = start().await;
    let mut c = alice_with_mixed(&srv).await;
    c.0.send(b"A APPEND Drafts CATENATE (TEXT {17}\r\n").await;
    assert!(c.line().await.starts_with('+'));
    c.0.send(b"Subject: sync\r\n\r\n URL /INBOX/;UID=1/;SECTION=1 TEXT {2}\r\n")
        .await;
    assert!(c.line().await.starts_with('+'));
    c.0.send(b"\r\n)\r\n").await;
    let r = c.until_tagged().await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID "), "{r:?}");
    assert_eq!(
        stored(&srv, "Drafts").await[0],
        b"Subject: sync\r\n\r\nhello world, this is part one\r\n"
    );
}

#[tokio::test]
async fn malformed_catenate_is_bad() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    for cmd in [
        "APPEND Drafts CATENATE ()",
        "APPEND Drafts CATENATE (BODY /INBOX/;UID=1)",
        "APPEND Drafts CATENATE (URL /INBOX/;UID=1",
    ] {
        let r = c.cmd(cmd).await;
        assert!(tagged(&r).starts_with("A BAD"), "{cmd}: {r:?}");
    }
    let r = c.cmd("NOOP").await;
    assert_eq!(tagged(&r), "A OK NOOP completed");
}

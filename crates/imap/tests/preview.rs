//! PREVIEW (RFC 8970) as a client sees it: FETCH PREVIEW and PREVIEW (LAZY) give the
//! first text part's text, decoded, with whitespace collapsed and cut to 256
//! characters; text/plain wins over text/html, HTML loses its tags; a message without
//! text gets ""; LAZY gets NIL for a message too large to read for a list entry; the
//! item mixes with others, with UID FETCH, `$` and CHANGEDSINCE; it never sets \Seen.

mod common;

use common::{ALICE, Client, MIXED, append_mixed, start};

async fn append(c: &mut Client, msg: &str) {
    let r = c
        .cmd(&format!("APPEND INBOX {{{}+}}\r\n{msg}", msg.len()))
        .await;
    assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
}

/// Quoted-printable Latin-1 plain text beside HTML; the preview is the plain part.
const ALTERNATIVE: &str = "Subject: alt\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe   aus\r\n\r\n  K=F6ln\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>not this</p>\r\n--b--\r\n";

/// Base64 HTML only: tags gone (a heading and a paragraph still two words), entities
/// decoded.
const HTML: &str = "Subject: html\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPGh0bWw+PGJvZHk+PGgxPkhlbGxvPC9oMT4KPHA+eW91ICZhbXA7IG1lPC9wPjwvYm9keT48L2h0bWw+\r\n";

/// An attachment and nothing to read.
const NO_TEXT: &str = "Subject: pic\r\nMIME-Version: 1.0\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n";

#[tokio::test]
async fn capability_is_advertised() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let r = c.cmd("CAPABILITY").await;
    assert!(r[0].split(' ').any(|w| w == "PREVIEW"), "{r:?}");
}

#[tokio::test]
async fn previews_of_plain_html_and_none() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    append_mixed(&mut c).await;
    append(&mut c, ALTERNATIVE).await;
    append(&mut c, HTML).await;
    append(&mut c, NO_TEXT).await;
    c.cmd("SELECT INBOX").await;
    let r = c.cmd("FETCH 1:4 (PREVIEW)").await;
    assert_eq!(
        r,
        [
            "* 1 FETCH (PREVIEW \"hello world, this is part one\")",
            // "Grüße aus Köln" is 8-bit: a literal of its UTF-8 bytes.
            "* 2 FETCH (PREVIEW {17}",
            "Grüße aus Köln)",
            "* 3 FETCH (PREVIEW \"Hello you & me\")",
            "* 4 FETCH (PREVIEW \"\")",
            "A OK FETCH completed",
        ]
    );
    // Fetching a preview is not reading the message.
    let r = c.cmd("FETCH 1:4 (FLAGS)").await;
    assert!(r.iter().all(|l| !l.contains("\\Seen")), "{r:?}");
}

#[tokio::test]
async fn mixed_with_other_items_uid_and_lazy() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    append_mixed(&mut c).await;
    c.cmd("SELECT INBOX").await;
    let text = "\"hello world, this is part one\"";
    for (command, reply) in [
        (
            "FETCH 1 (FLAGS PREVIEW RFC822.SIZE)",
            format!(
                "* 1 FETCH (FLAGS (\\Flagged) RFC822.SIZE {} PREVIEW {text})",
                MIXED.len()
            ),
        ),
        (
            "FETCH 1 (PREVIEW (LAZY) UID)",
            format!("* 1 FETCH (UID 1 PREVIEW {text})"),
        ),
        ("FETCH 1 PREVIEW", format!("* 1 FETCH (PREVIEW {text})")),
        (
            "FETCH 1 PREVIEW (LAZY)",
            format!("* 1 FETCH (PREVIEW {text})"),
        ),
        (
            "UID FETCH 1 (PREVIEW)",
            format!("* 1 FETCH (UID 1 PREVIEW {text})"),
        ),
    ] {
        let r = c.cmd(command).await;
        assert_eq!(r[0], reply, "{command}: {r:?}");
        assert!(r.last().unwrap().starts_with("A OK"), "{command}: {r:?}");
    }
    let r = c
        .cmd("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)] PREVIEW)")
        .await;
    assert_eq!(
        r,
        [
            "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {23}",
            "Subject: multi part",
            "",
            &format!(" PREVIEW {text})"),
            "A OK FETCH completed"
        ]
    );
    // With SEARCHRES's `$` and CONDSTORE's CHANGEDSINCE.
    c.cmd("SEARCH RETURN (SAVE) ALL").await;
    let r = c.cmd("FETCH $ (PREVIEW)").await;
    assert_eq!(r[0], format!("* 1 FETCH (PREVIEW {text})"), "{r:?}");
    let r = c.cmd("FETCH 1 (PREVIEW) (CHANGEDSINCE 1)").await;
    assert_eq!(
        r[0],
        format!("* 1 FETCH (MODSEQ (2) PREVIEW {text})"),
        "{r:?}"
    );
    for bad in ["FETCH 1 (PREVIEW (FUZZY))", "FETCH 1 (PREVIEW ())"] {
        let r = c.cmd(bad).await;
        assert_eq!(r, ["A BAD Malformed PREVIEW modifiers"], "{bad}");
    }
}

#[tokio::test]
async fn long_text_is_cut_and_lazy_skips_large_messages() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    // 300 words: the preview stops at 256 characters, at a character, not a byte.
    let words = "wörd ".repeat(300);
    append(
        &mut c,
        &format!("Subject: long\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{words}\r\n"),
    )
    .await;
    // Over the LAZY limit (1 MiB): NIL with LAZY, the text without.
    let big = format!(
        "Subject: big\r\n\r\nbig one\r\n{}",
        "x x\r\n".repeat(250_000)
    );
    assert!(big.len() > 1024 * 1024);
    append(&mut c, &big).await;
    c.cmd("SELECT INBOX").await;
    let r = c.cmd("FETCH 1 (PREVIEW)").await;
    let preview = &r[1][..r[1].len() - 1];
    assert_eq!(preview.chars().count(), 256, "{preview}");
    assert!(
        preview.starts_with("wörd wörd") && preview.ends_with("wörd w"),
        "{preview}"
    );
    assert!(r[0].ends_with(&format!("{{{}}}", preview.len())), "{r:?}");
    assert_eq!(
        c.cmd("FETCH 2 (PREVIEW (LAZY))").await[0],
        "* 2 FETCH (PREVIEW NIL)"
    );
    let r = c.cmd("FETCH 2 (PREVIEW)").await;
    assert!(
        r[0].starts_with("* 2 FETCH (PREVIEW \"big one x x"),
        "{r:?}"
    );
}

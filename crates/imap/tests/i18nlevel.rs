//! I18NLEVEL=1 (RFC 5255 §4): SEARCH and SORT compare with i;unicode-casemap (RFC 5051),
//! so case and compatibility forms do not matter in non-ASCII text: "Ärger" finds
//! "ärger", "file" finds "ﬁle" (the ligature), "STRASSE" finds "Straße"; SORT (SUBJECT)
//! puts "Ärger" among the A's, not after Z. Encoded (RFC 2047) and raw UTF-8 headers
//! alike, and bodies as decoded text (quoted-printable, base64, other charsets).

mod common;

use common::{ALICE, Client, start};

/// Subjects, some as RFC 2047 encoded words, some as raw UTF-8 (RFC 6532), each with
/// the body text after it.
const MESSAGES: [(&str, &str); 6] = [
    ("Zebra crossing", "nothing here"),
    // "Ärger im Büro"
    (
        "=?UTF-8?Q?=C3=84rger_im_B=C3=BCro?=",
        "Viele Gr\u{fc}\u{df}e aus K\u{f6}ln",
    ),
    // "ﬁle report", with the U+FB01 ligature
    ("=?UTF-8?B?76yBbGUgcmVwb3J0?=", "see attached"),
    ("Re: \u{e4}rger gibt es", "immer"),
    ("FILE backup", "done"),
    ("Stra\u{df}e", "gesperrt"),
];

async fn mailbox() -> (common::Server, Client) {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    for (subject, body) in MESSAGES {
        let msg = format!(
            "From: a@example.org\r\nSubject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        );
        let r = c
            .cmd(&format!("APPEND INBOX {{{}+}}\r\n{msg}", msg.len()))
            .await;
        assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
    }
    c.cmd("SELECT INBOX").await;
    (srv, c)
}

/// `SEARCH CHARSET UTF-8 <key> <text>` with the text as a literal (8-bit text cannot be
/// quoted in IMAP4rev1).
async fn search(c: &mut Client, key: &str, text: &str) -> Vec<String> {
    c.cmd(&format!(
        "SEARCH CHARSET UTF-8 {key} {{{}+}}\r\n{text}",
        text.len()
    ))
    .await
}

#[tokio::test]
async fn capability_is_advertised() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let r = c.cmd("CAPABILITY").await;
    assert!(r[0].split(' ').any(|w| w == "I18NLEVEL=1"), "{r:?}");
}

#[tokio::test]
async fn search_is_blind_to_case_and_compatibility_forms() {
    let (_srv, mut c) = mailbox().await;
    const OK: &str = "A OK SEARCH completed";
    for (key, text, hits) in [
        // An encoded Ä and a raw ä, found by either case.
        ("SUBJECT", "ärger", "* SEARCH 2 4"),
        ("SUBJECT", "ÄRGER", "* SEARCH 2 4"),
        ("SUBJECT", "büro", "* SEARCH 2"),
        // The ligature is "fi".
        ("SUBJECT", "file", "* SEARCH 3 5"),
        ("SUBJECT", "ﬁLE", "* SEARCH 3 5"),
        // ß is "SS".
        ("SUBJECT", "STRASSE", "* SEARCH 6"),
        ("BODY", "GRÜSSE", "* SEARCH 2"),
        ("TEXT", "köln", "* SEARCH 2"),
        // An umlaut is not its base letter.
        ("SUBJECT", "arger", "* SEARCH"),
    ] {
        let r = search(&mut c, key, text).await;
        assert_eq!(r, [hits, OK], "{key} {text}");
    }
}

#[tokio::test]
async fn sort_orders_folded_subjects() {
    let (_srv, mut c) = mailbox().await;
    // Folded base subjects: 4 ÄRGER GIBT ES, 2 ÄRGER IM BÜRO, 5 FILE BACKUP,
    // 3 FILE REPORT, 6 STRASSE, 1 ZEBRA CROSSING (Ä is A and a combining mark, so it
    // sorts among the A's; octet order of the folded forms, RFC 5051 §2).
    let r = c.cmd("SORT (SUBJECT) UTF-8 ALL").await;
    assert_eq!(r, ["* SORT 4 2 5 3 6 1", "A OK SORT completed"]);
    let r = c.cmd("SORT (REVERSE SUBJECT) UTF-8 ALL").await;
    assert_eq!(r, ["* SORT 1 6 3 5 2 4", "A OK SORT completed"]);
}

#[tokio::test]
async fn body_search_reads_decoded_text() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    for msg in [
        // "Grüße aus Köln" in quoted-printable Latin-1.
        "Subject: qp\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus K=F6ln\r\n",
        // "Ärger" in base64 UTF-8, inside a multipart.
        "Subject: b64\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nw4RyZ2VyIGltIELDvHJv\r\n--x--\r\n",
        "Subject: plain\r\n\r\nnothing to see\r\n",
    ] {
        let r = c
            .cmd(&format!("APPEND INBOX {{{}+}}\r\n{msg}", msg.len()))
            .await;
        assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
    }
    // "Grüße" as 8-bit Latin-1 bytes, not transfer-encoded: only its charset says how
    // to read it.
    let latin1 = b"Subject: 8bit\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"ISO-8859-1\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xfc\xdfe\r\n";
    c.0.send(format!("A APPEND INBOX {{{}+}}\r\n", latin1.len()).as_bytes())
        .await;
    c.0.send(latin1).await;
    c.0.send(b"\r\n").await;
    let r = c.until_tagged().await;
    assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
    c.cmd("SELECT INBOX").await;
    const OK: &str = "A OK SEARCH completed";
    for (key, text, hits) in [
        ("BODY", "GRÜSSE", "* SEARCH 1 4"),
        ("TEXT", "köln", "* SEARCH 1"),
        ("BODY", "ärger im büro", "* SEARCH 2"),
        ("TEXT", "ÄRGER", "* SEARCH 2"),
        ("BODY", "see", "* SEARCH 3"),
        ("BODY", "zürich", "* SEARCH"),
    ] {
        let r = search(&mut c, key, text).await;
        assert_eq!(r, [hits, OK], "{key} {text}");
    }
}

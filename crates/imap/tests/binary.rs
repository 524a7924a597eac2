//! BINARY (RFC 3516): FETCH BINARY[section]<partial>, BINARY.PEEK and BINARY.SIZE with
//! base64 and quoted-printable undone, literal8 for data holding NUL, NO [UNKNOWN-CTE]
//! for an encoding that cannot be undone, and APPEND with a literal8.

mod common;

use common::{ALICE, start};

const MIME: &str = "Subject: bin\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAGhpAA==\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nau lait\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-custom\r\n\r\nzzz\r\n--b--\r\n";

#[tokio::test]
async fn binary_fetch_and_append() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let caps = c.cmd("CAPABILITY").await;
    assert!(caps[0].contains(" BINARY"), "{caps:?}");
    let r = c
        .cmd(&format!("APPEND INBOX {{{}+}}\r\n{MIME}", MIME.len()))
        .await;
    assert!(r[0].starts_with("A OK [APPENDUID "), "{r:?}");
    c.cmd("SELECT INBOX").await;

    // base64 with NULs inside: a literal8.
    assert_eq!(
        c.cmd("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])").await,
        [
            "* 1 FETCH (BINARY[1] ~{4}",
            "\0hi\0 BINARY.SIZE[1] 4)",
            "A OK FETCH completed"
        ]
    );
    // quoted-printable, partial, then the whole part (which sets \Seen).
    assert_eq!(
        c.cmd("FETCH 1 (BINARY.PEEK[2]<0.3> BINARY.SIZE[2])").await,
        [
            "* 1 FETCH (BINARY[2]<0> {3}",
            "caf BINARY.SIZE[2] 13)",
            "A OK FETCH completed"
        ]
    );
    assert_eq!(
        c.cmd("FETCH 1 (BINARY[2])").await,
        [
            "* 1 FETCH (BINARY[2] {13}",
            // Delivered since the server started and first selected here: \\Recent.
            "café au lait FLAGS (\\Seen \\Recent))",
            "A OK FETCH completed"
        ]
    );
    // A part that does not exist is empty, as for BODY[].
    assert_eq!(
        c.cmd("FETCH 1 (BINARY.SIZE[9])").await,
        ["* 1 FETCH (BINARY.SIZE[9] 0)", "A OK FETCH completed"]
    );
    // An encoding that cannot be undone.
    for cmd in ["FETCH 1 (BINARY.PEEK[3])", "UID FETCH 1 (BINARY.SIZE[3])"] {
        assert_eq!(
            c.cmd(cmd).await,
            ["A NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding"],
            "{cmd}"
        );
    }

    // APPEND with a literal8: NUL is allowed, and BINARY.PEEK[] gives it back.
    let raw = "Subject: n\r\n\r\na\0b";
    let r = c
        .cmd(&format!("APPEND INBOX ~{{{}+}}\r\n{raw}", raw.len()))
        .await;
    assert_eq!(r[..2], ["* 2 EXISTS", "* 2 RECENT"]);
    assert!(r[2].starts_with("A OK [APPENDUID "), "{r:?}");
    assert_eq!(
        c.cmd("FETCH 2 (BINARY.PEEK[])").await,
        [
            format!("* 2 FETCH (BINARY[] ~{{{}}}", raw.len()),
            "Subject: n".to_string(),
            String::new(),
            "a\0b)".to_string(),
            "A OK FETCH completed".to_string()
        ]
    );
}

/// Text in base64 with CRLF line ends inside it; quoted-printable with soft and hard line
/// breaks and an escaped `=`; a part that ends without a line break.
const TEXTS: &str = "Subject: texts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nbGluZSAxDQpsaW5lIDINCg==\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\nline one=\r\n continued\r\nline two =3D x\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nno break at the end=\r\n--b--\r\n";

#[tokio::test]
async fn partial_binary_names_its_origin_and_decodes_exactly() {
    // RFC 3516 §4.2 (with RFC 9051 erratum 7246): a partial BINARY is answered as
    // BINARY[part]<origin> with a literal of exactly the decoded octets in that range;
    // RFC 2045 §6.7/§6.8: base64 keeps the CRLFs it encodes, quoted-printable keeps its
    // hard line breaks and drops its soft ones; the CRLF before a boundary belongs to
    // the boundary (RFC 2046 §5.1.1), not to the part.
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    c.cmd(&format!("APPEND INBOX {{{}+}}\r\n{TEXTS}", TEXTS.len()))
        .await;
    c.cmd("SELECT INBOX").await;
    assert_eq!(
        c.cmd("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[2] BINARY.PEEK[3])")
            .await,
        [
            "* 1 FETCH (BINARY[1] {16}",
            "line 1",
            "line 2",
            " BINARY.SIZE[1] 16 BINARY[2] {34}",
            "line one continued",
            "line two = x",
            " BINARY[3] {19}",
            "no break at the end)",
            "A OK FETCH completed"
        ]
    );
    // Two ranges of one part, each with its origin; the second stops at the part's end;
    // one past the end is empty.
    assert_eq!(
        c.cmd("UID FETCH 1 (BINARY.PEEK[1]<0.7> BINARY.PEEK[1]<7.100> BINARY.PEEK[2]<9.7> BINARY.PEEK[3]<50.5>)")
            .await,
        [
            // "line 1\r" and "\nline 2\r\n", read here line by line.
            "* 1 FETCH (UID 1 BINARY[1]<0> {7}",
            "line 1\r BINARY[1]<7> {9}",
            "",
            "line 2",
            " BINARY[2]<9> {7}",
            "continu BINARY[3]<50> {0}",
            ")",
            "A OK UID FETCH completed"
        ]
    );
    // BODY partials were already right; BINARY now reads the same.
    assert_eq!(
        c.cmd("FETCH 1 (BODY.PEEK[2]<0.8> BINARY.PEEK[2]<0.8>)")
            .await,
        [
            "* 1 FETCH (BODY[2]<0> {8}",
            "line one BINARY[2]<0> {8}",
            "line one)",
            "A OK FETCH completed"
        ]
    );
}

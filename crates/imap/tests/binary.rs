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
            "* 1 FETCH (BINARY[2] {3}",
            "caf BINARY.SIZE[2] 13)",
            "A OK FETCH completed"
        ]
    );
    assert_eq!(
        c.cmd("FETCH 1 (BINARY[2])").await,
        [
            "* 1 FETCH (BINARY[2] {13}",
            "café au lait FLAGS (\\Seen))",
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
    assert_eq!(r[0], "* 2 EXISTS");
    assert!(r[1].starts_with("A OK [APPENDUID "), "{r:?}");
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

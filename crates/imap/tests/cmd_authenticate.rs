//! AUTHENTICATE (RFC 3501 §6.2.2) with PLAIN (RFC 4616): with an initial response
//! (SASL-IR, RFC 4959) or after an empty continuation; `*` cancels; a wrong password or a
//! foreign authorization identity fails; only under TLS; only before login.

mod common;

use common::{ALICE, BOB, Client, start};
use twinmail_testkit::plain;

const CAPS: &str = "IMAP4REV1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT CONDSTORE QRESYNC LIST-EXTENDED STATUS=SIZE QUOTA QUOTA=RES-STORAGE BINARY METADATA COMPRESS=DEFLATE MULTIAPPEND WITHIN CATENATE URLAUTH NOTIFY URL-PARTIAL CONTEXT=SEARCH CONTEXT=SORT PARTIAL CHILDREN SPECIAL-USE LIST-STATUS ESEARCH SEARCHRES UTF8=ACCEPT SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES THREAD=REFS PREVIEW I18NLEVEL=1 SAVEDATE ACL RIGHTS=texk";

#[tokio::test]
async fn plain_with_initial_response() {
    let srv = start().await;
    let mut c = Client::connect_tls(&srv).await;
    assert_eq!(
        c.cmd("SELECT INBOX").await,
        ["A BAD Log in first"],
        "not before login"
    );
    assert_eq!(
        c.cmd(&format!(
            "AUTHENTICATE PLAIN {}",
            plain("", ALICE.0, ALICE.1)
        ))
        .await,
        [format!("A OK [CAPABILITY {CAPS}] Logged in")]
    );
    let r = c.cmd("SELECT INBOX").await;
    assert_eq!(r.last().unwrap(), "A OK [READ-WRITE] SELECT completed");
    assert_eq!(
        c.cmd(&format!("AUTHENTICATE PLAIN {}", plain("", BOB.0, BOB.1)))
            .await,
        ["A BAD Already authenticated"]
    );
}

#[tokio::test]
async fn plain_after_a_continuation_and_cancel() {
    let srv = start().await;
    let mut c = Client::connect_tls(&srv).await;
    // Cancelled.
    c.0.send_line("A AUTHENTICATE PLAIN").await;
    assert_eq!(c.line().await, "+ ");
    c.0.send_line("*").await;
    assert_eq!(c.until_tagged().await, ["A BAD Authentication cancelled"]);
    // A wrong password.
    c.0.send_line("A AUTHENTICATE PLAIN").await;
    assert_eq!(c.line().await, "+ ");
    c.0.send_line(&plain("", ALICE.0, "wrong")).await;
    assert_eq!(c.until_tagged().await, ["A NO Authentication failed"]);
    // The right one.
    c.0.send_line("A AUTHENTICATE PLAIN").await;
    assert_eq!(c.line().await, "+ ");
    c.0.send_line(&plain(ALICE.0, ALICE.0, ALICE.1)).await;
    assert_eq!(
        c.until_tagged().await,
        [format!("A OK [CAPABILITY {CAPS}] Logged in")]
    );
    assert_eq!(
        c.cmd("NAMESPACE").await.last().unwrap(),
        "A OK NAMESPACE completed"
    );
}

#[tokio::test]
async fn failures() {
    let srv = start().await;
    let mut c = Client::connect_tls(&srv).await;
    // Acting as someone else is not offered: it fails like a wrong password.
    assert_eq!(
        c.cmd(&format!(
            "AUTHENTICATE PLAIN {}",
            plain(BOB.0, ALICE.0, ALICE.1)
        ))
        .await,
        ["A NO Authentication failed"]
    );
    assert_eq!(
        c.cmd("AUTHENTICATE CRAM-MD5").await,
        ["A NO Unsupported mechanism; use PLAIN"]
    );
    assert_eq!(c.cmd("SELECT INBOX").await, ["A BAD Log in first"]);

    // Plaintext: refused before any exchange, even with the right password.
    let mut p = Client::connect(&srv).await;
    let refused = ["A NO Authentication disallowed without TLS (use STARTTLS)"];
    assert_eq!(p.cmd("AUTHENTICATE PLAIN").await, refused);
    assert_eq!(
        p.cmd(&format!(
            "AUTHENTICATE PLAIN {}",
            plain("", ALICE.0, ALICE.1)
        ))
        .await,
        refused
    );
    assert_eq!(p.cmd("SELECT INBOX").await, ["A BAD Log in first"]);
}

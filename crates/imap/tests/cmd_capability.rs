//! CAPABILITY (RFC 3501 §6.1.1): valid in every state; what it lists follows the
//! connection (STARTTLS / LOGINDISABLED in plaintext, AUTH=PLAIN where a login may
//! happen, neither once logged in), and the greeting and LOGIN's OK carry the same list.

mod common;

use common::{ALICE, Client, start, start_with};

const HEAD: &str = "IMAP4REV1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE";
const TAIL: &str = "NAMESPACE UIDPLUS MOVE UNSELECT CONDSTORE QRESYNC LIST-EXTENDED STATUS=SIZE QUOTA QUOTA=RES-STORAGE BINARY METADATA MULTIAPPEND WITHIN CATENATE URLAUTH NOTIFY URL-PARTIAL CONTEXT=SEARCH CONTEXT=SORT PARTIAL CHILDREN SPECIAL-USE LIST-STATUS ESEARCH SEARCHRES UTF8=ACCEPT SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES THREAD=REFS PREVIEW I18NLEVEL=1 SAVEDATE ACL RIGHTS=texk";

fn caps(middle: &str) -> String {
    if middle.is_empty() {
        format!("{HEAD} {TAIL}")
    } else {
        format!("{HEAD} {middle} {TAIL}")
    }
}

/// The list once logged in: COMPRESS=DEFLATE (RFC 4978) is offered only then.
fn logged_in() -> String {
    caps("").replace(" METADATA ", " METADATA COMPRESS=DEFLATE ")
}

#[tokio::test]
async fn plaintext_before_login_offers_starttls_and_disables_login() {
    let srv = start().await;
    let mut raw = twinmail_testkit::Client::connect(srv.imap).await;
    assert_eq!(
        raw.line().await.unwrap(),
        format!(
            "* OK [CAPABILITY {}] twinmail IMAP ready",
            caps("STARTTLS LOGINDISABLED")
        )
    );
    let mut c = Client(raw);
    assert_eq!(
        c.cmd("CAPABILITY").await,
        [
            format!("* CAPABILITY {}", caps("STARTTLS LOGINDISABLED")),
            "A OK CAPABILITY completed".to_string()
        ]
    );
    // Arguments are a syntax error, answered with the tag; the session goes on.
    c.0.send_line("A CAPABILITY IMAP4rev1").await;
    assert_eq!(c.line().await, "A BAD Malformed command");
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

#[tokio::test]
async fn tls_lists_auth_plain_until_logged_in() {
    let srv = start().await;
    let mut c = Client::connect_tls(&srv).await;
    assert_eq!(
        c.cmd("CAPABILITY").await,
        [
            format!("* CAPABILITY {}", caps("AUTH=PLAIN")),
            "A OK CAPABILITY completed".to_string()
        ]
    );
    // LOGIN's OK carries the list as it is after login: no AUTH= any more.
    assert_eq!(
        c.cmd(&format!("LOGIN {} {}", ALICE.0, ALICE.1)).await,
        [format!("A OK [CAPABILITY {}] Logged in", logged_in())]
    );
    let after = [
        format!("* CAPABILITY {}", logged_in()),
        "A OK CAPABILITY completed".to_string(),
    ];
    assert_eq!(c.cmd("CAPABILITY").await, after);
    // Also with a mailbox selected, and it reports nothing else.
    c.cmd("SELECT INBOX").await;
    assert_eq!(c.cmd("CAPABILITY").await, after);
}

#[tokio::test]
async fn plaintext_login_on_loopback_lists_auth_plain_too() {
    let srv = start_with(|s| s.plaintext_auth_on_loopback = true).await;
    let mut c = Client::connect(&srv).await;
    assert_eq!(
        c.cmd("CAPABILITY").await,
        [
            format!("* CAPABILITY {}", caps("STARTTLS AUTH=PLAIN")),
            "A OK CAPABILITY completed".to_string()
        ]
    );
}

#[tokio::test]
async fn after_starttls_the_list_changes() {
    let srv = start().await;
    let mut c = Client::connect(&srv).await;
    assert_eq!(c.cmd("STARTTLS").await, ["A OK Begin TLS negotiation now"]);
    let mut c = Client(c.0.starttls(&srv.tls).await);
    assert_eq!(
        c.cmd("CAPABILITY").await,
        [
            format!("* CAPABILITY {}", caps("AUTH=PLAIN")),
            "A OK CAPABILITY completed".to_string()
        ]
    );
}

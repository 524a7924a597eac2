//! NAMESPACE (RFC 2342): one personal namespace "" with delimiter "/", no other users'
//! or shared ones; only after login.

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn namespace() {
    let srv = start().await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("NAMESPACE").await, ["A BAD Log in first"]);
    let mut c = srv.login(ALICE).await;
    let reply = [
        "* NAMESPACE ((\"\" \"/\")) ((\"Other Users/\" \"/\")) NIL",
        "A OK NAMESPACE completed",
    ];
    assert_eq!(c.cmd("NAMESPACE").await, reply);
    c.cmd("SELECT INBOX").await;
    assert_eq!(c.cmd("NAMESPACE").await, reply);
    c.0.send_line("A NAMESPACE x").await;
    assert_eq!(c.line().await, "A BAD Malformed command");
    assert_eq!(c.cmd("NAMESPACE").await, reply);
}

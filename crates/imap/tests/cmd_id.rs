//! ID (RFC 2971): valid in every state; whatever the client says (NIL or a list), the
//! server answers with its name and version only.

mod common;

use common::{ALICE, Client, start};

#[tokio::test]
async fn id_in_every_state() {
    let srv = start().await;
    let reply = [
        format!(
            "* ID (\"name\" \"twinmail\" \"version\" \"{}\")",
            env!("CARGO_PKG_VERSION")
        ),
        "A OK ID completed".to_string(),
    ];
    let mut c = Client::connect(&srv).await;
    assert_eq!(c.cmd("ID NIL").await, reply);
    assert_eq!(
        c.cmd("ID (\"name\" \"probe\" \"version\" \"1.0\")").await,
        reply
    );
    let mut c = srv.login(ALICE).await;
    assert_eq!(c.cmd("ID NIL").await, reply);
    c.cmd("SELECT INBOX").await;
    assert_eq!(c.cmd("ID (\"os\" NIL)").await, reply);
    // An odd list or no argument at all is a syntax error.
    for cmd in ["A ID (\"name\")", "A ID"] {
        c.0.send_line(cmd).await;
        assert_eq!(c.line().await, "A BAD Malformed command", "{cmd}");
    }
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

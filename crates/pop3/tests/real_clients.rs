//! Real POP3 clients: Python's poplib and fetchmail.

mod common;

use common::{ALICE, python, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poplib_stls_top_uidl_dele_quit() {
    twinmail_testkit::require(&["python3"]);
    let srv = start().await;
    let sent = srv.deliver(ALICE.0, 3).await;
    let ca = srv.dir.path().join("ca.pem");
    std::fs::write(&ca, srv.tls.cert_pem()).unwrap();
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    let inbox = srv.store.mailbox(a.id, "INBOX").await.unwrap().unwrap();
    let guids: Vec<String> = srv
        .store
        .messages(inbox.id)
        .await
        .unwrap()
        .iter()
        .map(|m| m.guid.to_hex())
        .collect();
    let script = r#"
import poplib, ssl, sys, json
ctx = ssl.create_default_context(cafile=sys.argv[2]); ctx.check_hostname = False
p = poplib.POP3('127.0.0.1', int(sys.argv[1]))
caps = p.capa()
assert 'STLS' in caps and 'USER' not in caps, caps
p.stls(context=ctx)
caps = p.capa()
assert 'USER' in caps and 'UIDL' in caps and 'TOP' in caps, caps
p.user('alice@example.com'); p.pass_('alice-password')
count, size = p.stat()
_, uidls, _ = p.uidl()
_, top, _ = p.top(2, 0)
_, retr, _ = p.retr(3)
p.dele(1)
p.quit()
print(json.dumps({'count': count, 'size': size,
    'uidl': [u.decode().split()[1] for u in uidls],
    'top': [l.decode() for l in top], 'retr': [l.decode() for l in retr]}))
"#;
    let args = vec![srv.pop3.port().to_string(), ca.display().to_string()];
    let out = tokio::task::spawn_blocking(move || python(script, &args))
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["count"], 3);
    let size: usize = sent.iter().map(String::len).sum();
    assert_eq!(v["size"], size);
    let uidl: Vec<String> = v["uidl"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_string())
        .collect();
    assert_eq!(uidl, guids, "UIDL is the message GUID");
    assert_eq!(
        v["top"],
        serde_json::json!([
            "From: Sender <x@remote.org>",
            "To: alice@example.com",
            "Subject: message 1",
            "Message-ID: <m1@remote.org>",
            ""
        ])
    );
    let retr: Vec<String> = v["retr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        retr.join("\r\n") + "\r\n",
        sent[2],
        "RETR returns the message byte-for-byte"
    );
    // DELE + QUIT removed message 1, through the store.
    let left = srv.inbox(ALICE.0).await;
    assert_eq!(left.len(), 2);
    assert_eq!(left[0], sent[1].as_bytes());
}

/// fetchmail over POP3S with UIDL tracking; `fetchall` (for the emptying run) also
/// takes what UIDL says was seen.
fn fetchmail(dir: &std::path::Path, port: u16, keep: bool) -> (i32, usize) {
    let options = if keep { "keep" } else { "nokeep fetchall" };
    twinmail_testkit::fetchmail(dir, "POP3 uidl", port, options)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetchmail_keeps_then_fetches_nothing_new_then_empties_the_inbox() {
    twinmail_testkit::require(&["fetchmail"]);
    let srv = start().await;
    srv.deliver(ALICE.0, 200).await;
    let dir = srv.dir.path().to_path_buf();
    let port = srv.pop3s.port();
    // 1. keep: all 200 fetched, none deleted.
    let d = dir.clone();
    let (code, got) = tokio::task::spawn_blocking(move || fetchmail(&d, port, true))
        .await
        .unwrap();
    assert_eq!((code, got), (0, 200));
    assert_eq!(srv.inbox(ALICE.0).await.len(), 200);
    // 2. keep again: UIDL tracking knows them all: nothing new (exit 1 = no mail).
    srv.deliver(ALICE.0, 1).await;
    let d = dir.clone();
    let (code, got) = tokio::task::spawn_blocking(move || fetchmail(&d, port, true))
        .await
        .unwrap();
    assert_eq!((code, got), (0, 1), "only the one new message");
    let d = dir.clone();
    let (code, got) = tokio::task::spawn_blocking(move || fetchmail(&d, port, true))
        .await
        .unwrap();
    assert_eq!((code, got), (1, 0), "nothing new");
    // 3. without keep: everything fetched and deleted; the INBOX is empty.
    let d = dir.clone();
    let (code, got) = tokio::task::spawn_blocking(move || fetchmail(&d, port, false))
        .await
        .unwrap();
    assert_eq!((code, got), (0, 201));
    assert!(srv.inbox(ALICE.0).await.is_empty());
    // And the removals are logged as expunges, so the twin will remove them too.
    let expunged: usize = srv
        .store
        .changes_since(0, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|e| match &e.change {
            twinmail_store::Change::MessagesExpunged { messages, .. } => messages.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(expunged, 201);
}

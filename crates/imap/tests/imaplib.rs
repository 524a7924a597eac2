//! Python's imaplib as a real client: a full session with APPEND (a literal), SELECT,
//! SEARCH, FETCH, STORE, COPY, EXPUNGE, and IDLE woken by a delivery.

mod common;

use common::{ALICE, python, start};

const SCRIPT: &str = r#"
import imaplib, ssl, sys, json, time, threading
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca); ctx.check_hostname = False
out = {}
m = imaplib.IMAP4('127.0.0.1', port)
out['logindisabled'] = 'LOGINDISABLED' in m.capabilities
m.starttls(ssl_context=ctx)
typ, _ = m.login('alice@example.com', 'alice-password')
out['login'] = typ
typ, data = m.list()
out['list'] = [d.decode() for d in data]
msg = b'From: a@remote.org\r\nSubject: appended\r\n\r\nHello, world!\r\n'
typ, data = m.append('Drafts', '(\\Draft \\Seen)', imaplib.Time2Internaldate(time.time()), msg)
out['append'] = [typ, data[0].decode()]
typ, data = m.select('INBOX')
out['exists'] = int(data[0])
typ, data = m.uid('SEARCH', None, 'UNSEEN')
out['unseen'] = data[0].decode()
typ, data = m.fetch('2', '(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
out['fetch'] = [x.decode() if isinstance(x, bytes) else [y.decode() for y in x] for x in data]
typ, data = m.store('1', '+FLAGS', '(\\Flagged)')
out['store'] = data[0].decode()
typ, data = m.copy('1:2', 'Archive')
out['copy'] = typ
typ, data = m.store('1', '+FLAGS.SILENT', '(\\Deleted)')
typ, data = m.expunge()
out['expunge'] = [d.decode() for d in data if d]
typ, data = m.fetch('1', '(BODY[])')
out['body'] = data[0][1].decode()
typ, data = m.fetch('1', '(FLAGS)')
out['seen_after_body'] = data[0].decode()
# IDLE, woken by a delivery from another thread (the test delivers when told).
m.send(b'I1 IDLE\r\n')
out['idle_cont'] = m.readline().decode().strip()
print('IDLING', flush=True)
line = m.readline().decode().strip()
out['idle_push'] = line
m.send(b'DONE\r\n')
out['idle_done'] = m.readline().decode().strip()
m.logout()
print(json.dumps(out), flush=True)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imaplib_full_session_with_idle() {
    twinmail_testkit::require(&["python3"]);
    let srv = start().await;
    srv.deliver(ALICE.0, 3).await;
    let ca = srv.dir.path().join("ca.pem");
    std::fs::write(&ca, srv.tls.cert_pem()).unwrap();
    let mut child = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(srv.imap.port().to_string())
        .arg(&ca)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first.as_deref(),
        Some("IDLING"),
        "script failed before IDLE"
    );
    let t = std::time::Instant::now();
    srv.deliver(ALICE.0, 1).await;
    let json = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let status = child.wait().await.unwrap();
    assert!(status.success());
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["logindisabled"], true, "no LOGIN before TLS");
    assert_eq!(v["login"], "OK");
    let list = v["list"].as_array().unwrap();
    assert!(
        list.iter()
            .any(|l| l.as_str().unwrap().contains("\\Sent")
                && l.as_str().unwrap().ends_with(" Sent")),
        "{list:?}"
    );
    assert_eq!(v["append"][0], "OK");
    assert!(
        v["append"][1].as_str().unwrap().starts_with("[APPENDUID "),
        "{}",
        v["append"]
    );
    assert_eq!(v["exists"], 3);
    assert_eq!(v["unseen"], "1 2 3");
    let fetch = v["fetch"].to_string();
    assert!(
        fetch.contains("UID 2") && fetch.contains("Subject: message 1"),
        "{fetch}"
    );
    assert!(v["store"].as_str().unwrap().contains("\\Flagged"));
    assert_eq!(v["copy"], "OK");
    assert_eq!(v["expunge"], serde_json::json!(["1"]));
    assert!(
        v["body"]
            .as_str()
            .unwrap()
            .ends_with("body of 1\r\n.starts with a dot\r\n")
    );
    assert!(
        v["seen_after_body"].as_str().unwrap().contains("\\Seen"),
        "BODY[] sets \\Seen"
    );
    assert!(v["idle_cont"].as_str().unwrap().starts_with('+'));
    assert_eq!(v["idle_push"], "* 3 EXISTS");
    assert!(v["idle_done"].as_str().unwrap().starts_with("I1 OK"));
    println!("IDLE push took {:?} (delivery to EXISTS)", t.elapsed());
    // Archive got the two copies.
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    let archive = srv.store.mailbox(a.id, "Archive").await.unwrap().unwrap();
    assert_eq!(srv.store.messages(archive.id).await.unwrap().len(), 2);
    let _ = python;
}

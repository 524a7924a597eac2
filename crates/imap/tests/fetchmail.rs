//! fetchmail over IMAP as a real client: it fetches unseen mail, marks it seen, and on a
//! second run finds nothing new; without `keep` it deletes and expunges what it took.

mod common;

use common::{ALICE, start};

fn fetchmail(dir: &std::path::Path, port: u16, keep: bool) -> (i32, usize) {
    use std::os::unix::fs::PermissionsExt;
    let rc = dir.join("fetchmailrc");
    let out = dir.join("delivered");
    let _ = std::fs::remove_file(&out);
    std::fs::write(
        &rc,
        format!(
            "set no syslog\npoll 127.0.0.1 with proto IMAP service {port}\n  user \"{}\" there with password \"{}\" is \"tester\" here\n  ssl no sslcertck {}\n  mda \"/bin/sh -c 'cat >> {}; echo ===SEP=== >> {}'\"\n",
            ALICE.0,
            ALICE.1,
            if keep { "keep" } else { "nokeep" },
            out.display(),
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let status = std::process::Command::new("fetchmail")
        .arg("-f")
        .arg(&rc)
        .arg("--pidfile")
        .arg(dir.join("fetchmail.pid"))
        .arg("--nodetach")
        .arg("--silent")
        .env("HOME", dir)
        .status()
        .expect("fetchmail is installed (.ci/run installs it)");
    let got = std::fs::read_to_string(&out)
        .unwrap_or_default()
        .matches("===SEP===")
        .count();
    (status.code().unwrap_or(-1), got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetchmail_over_imap() {
    let srv = start().await;
    srv.deliver(ALICE.0, 50).await;
    let dir = srv.dir.path().to_path_buf();
    let port = srv.imaps.port();
    let d = dir.clone();
    assert_eq!(
        tokio::task::spawn_blocking(move || fetchmail(&d, port, true))
            .await
            .unwrap(),
        (0, 50)
    );
    let d = dir.clone();
    assert_eq!(
        tokio::task::spawn_blocking(move || fetchmail(&d, port, true))
            .await
            .unwrap(),
        (1, 0),
        "everything was marked seen: nothing new"
    );
    srv.deliver(ALICE.0, 2).await;
    let d = dir.clone();
    assert_eq!(
        tokio::task::spawn_blocking(move || fetchmail(&d, port, false))
            .await
            .unwrap(),
        (0, 2)
    );
    // The two it took without keep are gone; the 50 kept ones stay.
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    let inbox = srv.store.mailbox(a.id, "INBOX").await.unwrap().unwrap();
    assert_eq!(srv.store.messages(inbox.id).await.unwrap().len(), 50);
}

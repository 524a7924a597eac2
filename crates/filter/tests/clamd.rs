//! The virus check against a real clamd (Debian's clamav-daemon, started here on a temp
//! Unix socket with a one-line EICAR signature), and what clamd being down does.

mod common;

use std::time::Duration;

use twinmail_filter::{ClamdSettings, FilterSet, Scan, SocketAddress, Stage, scan};

const CLEAN: &str = "From: bob@remote.test\r\nSubject: clean\r\n\r\nNothing to see here.\r\n";

fn infected() -> String {
    format!(
        "From: bob@remote.test\r\nSubject: look\r\n\r\n{}\r\n",
        common::EICAR
    )
}

fn settings(address: &str, fail_open: bool) -> ClamdSettings {
    ClamdSettings {
        address: SocketAddress::parse(address),
        timeout: Duration::from_secs(30),
        fail_open,
    }
}

#[tokio::test]
async fn eicar_is_refused_and_clean_mail_delivered_by_a_real_clamd() {
    let clamd = common::clamd();
    let s = settings(&clamd.address, false);
    // The client alone, then the whole path over SMTP.
    assert_eq!(
        scan(&s.address, CLEAN.as_bytes(), s.timeout).await.unwrap(),
        Scan::Clean
    );
    assert_eq!(
        scan(&s.address, infected().as_bytes(), s.timeout)
            .await
            .unwrap(),
        Scan::Infected("Twinmail-EICAR.UNOFFICIAL".into())
    );
    // The same over TCP.
    let tcp = SocketAddress::parse(clamd.tcp.as_deref().unwrap());
    assert_eq!(
        scan(&tcp, infected().as_bytes(), s.timeout).await.unwrap(),
        Scan::Infected("Twinmail-EICAR.UNOFFICIAL".into())
    );
    assert_eq!(
        scan(&tcp, CLEAN.as_bytes(), s.timeout).await.unwrap(),
        Scan::Clean
    );
    let set = FilterSet::build(&[Stage::Clamd], None, Some(s), None);
    let mx = common::mx(&set).await;
    let reply = common::send(mx.mx, "bob@remote.test", "alice@example.com", CLEAN).await;
    assert!(reply.starts_with("250 "), "{reply}");
    let reply = common::send(mx.mx, "bob@remote.test", "alice@example.com", &infected()).await;
    assert!(reply.starts_with("554 5.7.1 "), "{reply}");
    // Nothing internal in the reply: no signature name, no "clamd".
    assert!(
        !reply.contains("EICAR") && !reply.to_lowercase().contains("clam"),
        "{reply}"
    );
    // A message larger than one INSTREAM chunk, the signature in its last part.
    let big = format!(
        "From: bob@remote.test\r\nSubject: big\r\n\r\n{}{}\r\n",
        "padding line of text\r\n".repeat(20_000),
        common::EICAR
    );
    let reply = common::send(mx.mx, "bob@remote.test", "alice@example.com", &big).await;
    assert!(reply.starts_with("554 5.7.1 "), "{reply}");
    let inbox = mx.folder("alice@example.com", "INBOX").await;
    assert_eq!(inbox.len(), 1);
    assert!(String::from_utf8_lossy(&inbox[0]).contains("Subject: clean"));
    let stats = &set.stats()[0];
    assert_eq!((stats.accepted, stats.rejected, stats.errors), (1, 2, 0));
}

#[tokio::test]
async fn clamd_down_tempfails_or_passes_as_configured_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let dead = common::dead_socket(dir.path()).display().to_string();
    for fail_open in [false, true] {
        let set = FilterSet::build(
            &[Stage::Clamd],
            None,
            Some(settings(&dead, fail_open)),
            None,
        );
        let mx = common::mx(&set).await;
        let reply = common::send(mx.mx, "bob@remote.test", "alice@example.com", CLEAN).await;
        let delivered = mx.folder("alice@example.com", "INBOX").await.len();
        if fail_open {
            assert!(reply.starts_with("250 "), "{reply}");
            assert_eq!(delivered, 1);
        } else {
            assert!(reply.starts_with("451 4.7.1 "), "{reply}");
            assert_eq!(delivered, 0);
        }
        let stats = &set.stats()[0];
        assert_eq!(stats.errors, 1);
        assert_eq!(stats.tempfailed, u64::from(!fail_open));
    }
}

//! The spam check against a real rspamd (Debian's rspamd 3.4, started here on loopback
//! with a minimal config and a few scoring words), and what rspamd being down does.

mod common;

use std::time::Duration;

use twinmail_filter::{FilterSet, RspamdSettings, SocketAddress, Stage};

fn settings(address: &str, fail_open: bool) -> RspamdSettings {
    RspamdSettings {
        address: SocketAddress::parse(address),
        timeout: Duration::from_secs(20),
        fail_open,
    }
}

fn message(subject: &str, body: &str) -> String {
    format!(
        "From: bob@remote.test\r\nTo: alice@example.com\r\nSubject: {subject}\r\nMessage-ID: <{}@remote.test>\r\nX-Spam-Status: No, forged by the sender\r\n\r\n{body}\r\n",
        subject.replace(' ', ".")
    )
}

/// One rspamd for every action: its start takes a while.
#[tokio::test]
async fn each_rspamd_action_is_applied() {
    let rspamd = common::rspamd();
    let set = FilterSet::build(
        &[Stage::Rspamd],
        None,
        None,
        Some(settings(&rspamd.address, false)),
    );
    let mx = common::mx(&set).await;
    let send = |subject: &str, body: &str| {
        let m = message(subject, body);
        async move { common::send(mx.mx, "bob@remote.test", "alice@example.com", &m).await }
    };
    // no action: INBOX, marked not spam, the sender's own X-Spam-Status gone.
    assert!(send("ham", "Lunch at noon?").await.starts_with("250 "));
    // add header: Junk with X-Spam fields and $Junk.
    assert!(
        send("spam", "Buy now TWINMAIL-SPAM-TEST")
            .await
            .starts_with("250 ")
    );
    // rewrite subject: INBOX, subject marked.
    assert!(
        send("subject", "TWINMAIL-SUBJECT-TEST")
            .await
            .starts_with("250 ")
    );
    // greylist: try later.
    let r = send("grey", "TWINMAIL-GREY-TEST").await;
    assert!(r.starts_with("451 4.7.1 "), "{r}");
    // soft reject (a rule's pre-result): try later too.
    let r = send("soft", "TWINMAIL-SOFT-TEST").await;
    assert!(r.starts_with("451 4.7.1 "), "{r}");
    // reject: rspamd's GTUBE.
    let gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
    let r = send("gtube", gtube).await;
    assert!(r.starts_with("550 5.7.1 "), "{r}");

    let inbox = mx.folder("alice@example.com", "INBOX").await;
    let junk = mx.folder("alice@example.com", "Junk").await;
    assert_eq!((inbox.len(), junk.len()), (2, 1));
    let ham = String::from_utf8_lossy(&inbox[0]);
    assert!(ham.contains(">\r\nX-Spam-Status: No, score="), "{ham}");
    assert!(!ham.contains("forged by the sender"), "{ham}");
    let spam = String::from_utf8_lossy(&junk[0]);
    assert!(
        spam.contains(">\r\nX-Spam: Yes\r\nX-Spam-Status: Yes, score=8.00"),
        "{spam}"
    );
    assert!(spam.contains("X-Spam-Symbols: TWINMAIL_SPAM"), "{spam}");
    let a = mx
        .store
        .account("alice@example.com")
        .await
        .unwrap()
        .unwrap();
    let j = mx.store.mailbox(a.id, "Junk").await.unwrap().unwrap();
    let flags = &mx.store.messages(j.id).await.unwrap()[0].flags;
    assert!(flags.to_string().contains("$Junk"), "{flags}");
    let marked = String::from_utf8_lossy(&inbox[1]);
    assert!(
        marked.contains("\r\nSubject: *** SPAM *** subject\r\n"),
        "{marked}"
    );
    assert_eq!(marked.matches("Subject:").count(), 1, "{marked}");

    let s = &set.stats()[0];
    assert_eq!(
        (s.accepted, s.junked, s.tempfailed, s.rejected, s.errors),
        (2, 1, 2, 1, 0)
    );
}

#[tokio::test]
async fn rspamd_down_tempfails_or_passes_as_configured_and_is_counted() {
    // A port that was free a moment ago: nothing listens there.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    for fail_open in [false, true] {
        let set = FilterSet::build(
            &[Stage::Rspamd],
            None,
            None,
            Some(settings(&dead, fail_open)),
        );
        let mx = common::mx(&set).await;
        let r = common::send(
            mx.mx,
            "bob@remote.test",
            "alice@example.com",
            &message("x", "y"),
        )
        .await;
        if fail_open {
            assert!(r.starts_with("250 "), "{r}");
        } else {
            assert!(r.starts_with("451 4.7.1 "), "{r}");
        }
        assert_eq!(set.stats()[0].errors, 1);
    }
}

//! WITHIN (RFC 5032): SEARCH OLDER / YOUNGER count seconds back from now against the
//! internal date, and combine with the other keys.

mod common;

use common::{ALICE, start};

/// An APPEND date `secs` seconds ago.
fn ago(secs: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(secs))
        .format("%d-%b-%Y %H:%M:%S +0000")
        .to_string()
}

#[tokio::test]
async fn older_and_younger_search_by_internal_date() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let caps = c.cmd("CAPABILITY").await;
    assert!(caps[0].contains(" WITHIN "), "{caps:?}");
    for (subject, secs) in [("week", 7 * 86400), ("two hours", 7200), ("now", 0)] {
        let m = format!("Subject: {subject}\r\n\r\nx\r\n");
        let r = c
            .cmd(&format!(
                "APPEND INBOX \"{}\" {{{}+}}\r\n{m}",
                ago(secs),
                m.len()
            ))
            .await;
        assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
    }
    c.cmd("SELECT INBOX").await;
    assert_eq!(c.cmd("SEARCH YOUNGER 3600").await[0], "* SEARCH 3");
    assert_eq!(c.cmd("SEARCH OLDER 3600").await[0], "* SEARCH 1 2");
    assert_eq!(c.cmd("SEARCH OLDER 86400").await[0], "* SEARCH 1");
    assert_eq!(
        c.cmd("UID SEARCH YOUNGER 86400 OLDER 3600").await[0],
        "* SEARCH 2"
    );
    assert_eq!(c.cmd("SEARCH NOT YOUNGER 86400").await[0], "* SEARCH 1");
    assert_eq!(
        c.cmd("SEARCH OR OLDER 86400 YOUNGER 60").await[0],
        "* SEARCH 1 3"
    );
    // The interval is a non-zero number (RFC 5032 §4).
    let r = c.cmd("SEARCH OLDER 0").await;
    assert!(r.last().unwrap().starts_with("A BAD"), "{r:?}");
    let r = c.cmd("SEARCH YOUNGER soon").await;
    assert!(r.last().unwrap().starts_with("A BAD"), "{r:?}");
}

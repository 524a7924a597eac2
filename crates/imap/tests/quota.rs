//! QUOTA (RFC 9208), reporting: GETQUOTAROOT / GETQUOTA for the account-wide root "",
//! STORAGE in KiB, SETQUOTA refused, and APPEND / COPY over the limit answered
//! `NO [OVERQUOTA]`.

mod common;

use common::{ALICE, start};

#[tokio::test]
async fn quota_reporting_and_over_quota() {
    let srv = start().await;
    let sent = srv.deliver(ALICE.0, 2).await;
    let used: usize = sent.iter().map(String::len).sum();
    let mut c = srv.login(ALICE).await;
    let caps = c.cmd("CAPABILITY").await;
    assert!(
        caps[0].contains(" QUOTA ") && caps[0].contains(" QUOTA=RES-STORAGE"),
        "{caps:?}"
    );

    // No limit: no quota root.
    assert_eq!(
        c.cmd("GETQUOTAROOT INBOX").await,
        ["* QUOTAROOT INBOX", "A OK GETQUOTAROOT completed"]
    );
    assert_eq!(
        c.cmd("GETQUOTA \"\"").await,
        ["A NO No quota: the account has no limit"]
    );

    // 10 KiB: usage rounds up to whole KiB.
    srv.store.set_quota(ALICE.0, Some(10 * 1024)).await.unwrap();
    let kib = used.div_ceil(1024);
    assert_eq!(
        c.cmd("GETQUOTAROOT INBOX").await,
        [
            "* QUOTAROOT INBOX \"\"".to_string(),
            format!("* QUOTA \"\" (STORAGE {kib} 10)"),
            "A OK GETQUOTAROOT completed".to_string(),
        ]
    );
    assert_eq!(
        c.cmd("GETQUOTA \"\"").await,
        [
            format!("* QUOTA \"\" (STORAGE {kib} 10)"),
            "A OK GETQUOTA completed".to_string(),
        ]
    );
    assert_eq!(c.cmd("GETQUOTA other").await, ["A NO No such quota root"]);
    assert_eq!(c.cmd("GETQUOTAROOT Nope").await, ["A NO No such mailbox"]);
    assert_eq!(
        c.cmd("SETQUOTA \"\" (STORAGE 100)").await,
        ["A NO [NOPERM] Quotas are set by the administrator"]
    );

    // A limit just above what is used: APPEND and COPY that would pass it are refused.
    let limit = used + 10;
    srv.store
        .set_quota(ALICE.0, Some(limit as u64))
        .await
        .unwrap();
    let msg = "Subject: big\r\n\r\n0123456789012345678901234567890123456789\r\n";
    let r = c
        .cmd(&format!("APPEND INBOX {{{}+}}\r\n{msg}", msg.len()))
        .await;
    assert_eq!(
        r,
        [format!(
            "A NO [OVERQUOTA] over quota: {used} of {limit} bytes used"
        )]
    );
    c.cmd("SELECT INBOX").await;
    assert_eq!(
        c.cmd("COPY 1:2 Archive").await,
        [format!(
            "A NO [OVERQUOTA] over quota: {used} of {limit} bytes used"
        )]
    );
    // Freeing space lets mail in again.
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    c.cmd("EXPUNGE").await;
    let r = c
        .cmd(&format!("APPEND Archive {{{}+}}\r\n{msg}", msg.len()))
        .await;
    assert!(r.last().unwrap().starts_with("A OK [APPENDUID "), "{r:?}");
}

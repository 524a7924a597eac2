//! METADATA (RFC 5464): server and mailbox annotations set, read with DEPTH and MAXSIZE,
//! removed with NIL; entry names checked (RFC 5464 §3.2); limits answered with the
//! METADATA response codes; annotations follow a renamed mailbox and go with a deleted
//! one. Expected answers worked out from the RFC's examples.

mod common;

use common::{ALICE, start};

#[tokio::test]
async fn annotations_are_set_read_and_removed_as_rfc_5464_says() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let caps = c.cmd("CAPABILITY").await;
    assert!(caps[0].contains(" METADATA"), "{caps:?}");

    // The server's entries (mailbox ""), then a mailbox's.
    assert_eq!(
        c.cmd("SETMETADATA \"\" (/private/vendor/x/theme \"dark\")")
            .await,
        ["A OK SETMETADATA completed"]
    );
    assert_eq!(
        c.cmd("GETMETADATA \"\" /private/vendor/x/theme").await,
        [
            "* METADATA \"\" (/private/vendor/x/theme \"dark\")",
            "A OK GETMETADATA completed"
        ]
    );
    assert_eq!(
        c.cmd("SETMETADATA INBOX (/private/comment \"My own\" /shared/comment \"Ours\")")
            .await,
        ["A OK SETMETADATA completed"]
    );
    assert_eq!(
        c.cmd("GETMETADATA INBOX (/private/comment /shared/comment)")
            .await,
        [
            "* METADATA INBOX (/private/comment \"My own\" /shared/comment \"Ours\")",
            "A OK GETMETADATA completed"
        ]
    );
    // Names compare without case; an entry that does not exist is NIL.
    assert_eq!(
        c.cmd("GETMETADATA INBOX (/PRIVATE/Comment /private/nothing)")
            .await,
        [
            "* METADATA INBOX (/private/comment \"My own\" /private/nothing NIL)",
            "A OK GETMETADATA completed"
        ]
    );
    // DEPTH: the entry and one level below it, or all below it.
    c.cmd("SETMETADATA INBOX (/private/a \"1\" /private/a/b \"2\" /private/a/b/c \"3\")")
        .await;
    assert_eq!(
        c.cmd("GETMETADATA (DEPTH 1) INBOX /private/a").await,
        [
            "* METADATA INBOX (/private/a \"1\" /private/a/b \"2\")",
            "A OK GETMETADATA completed"
        ]
    );
    assert_eq!(
        c.cmd("GETMETADATA (DEPTH infinity) INBOX /private/a").await,
        [
            "* METADATA INBOX (/private/a \"1\" /private/a/b \"2\" /private/a/b/c \"3\")",
            "A OK GETMETADATA completed"
        ]
    );
    // MAXSIZE leaves a longer value out and names the longest.
    c.cmd("SETMETADATA INBOX (/private/long \"0123456789\")")
        .await;
    assert_eq!(
        c.cmd("GETMETADATA (MAXSIZE 5) INBOX (/private/long /private/a)")
            .await,
        [
            "* METADATA INBOX (/private/a \"1\")",
            "A OK [METADATA LONGENTRIES 10] GETMETADATA completed"
        ]
    );
    // NIL removes.
    c.cmd("SETMETADATA INBOX (/private/comment NIL)").await;
    assert_eq!(
        c.cmd("GETMETADATA INBOX /private/comment").await,
        [
            "* METADATA INBOX (/private/comment NIL)",
            "A OK GETMETADATA completed"
        ]
    );
    // Bad names are BAD; a missing mailbox is NO; nothing is half-done.
    for bad in [
        "SETMETADATA INBOX (/other/x \"v\")",
        "SETMETADATA INBOX (/private/a* \"v\")",
        "SETMETADATA INBOX (/private//x \"v\")",
        "SETMETADATA INBOX (/private/x/ \"v\")",
        "GETMETADATA INBOX /private/%",
    ] {
        let reply = c.cmd(bad).await;
        assert!(
            reply.len() == 1 && reply[0].starts_with("A BAD "),
            "{bad}: {reply:?}"
        );
    }
    assert_eq!(
        c.cmd("SETMETADATA Nope (/private/x \"v\")").await,
        ["A NO No such mailbox"]
    );
    assert_eq!(
        c.cmd("SETMETADATA INBOX (/private/ok \"v\" /bad \"w\")")
            .await,
        ["A BAD Invalid entry name"]
    );
    assert_eq!(
        c.cmd("GETMETADATA INBOX /private/ok").await,
        [
            "* METADATA INBOX (/private/ok NIL)",
            "A OK GETMETADATA completed"
        ]
    );
    // A value past the limit: NO [METADATA MAXSIZE].
    let big = "x".repeat(twinmail_store::METADATA_MAX_VALUE + 1);
    let reply = c
        .cmd(&format!(
            "SETMETADATA INBOX (/private/big {{{}+}}\r\n{big})",
            big.len()
        ))
        .await;
    assert_eq!(
        reply,
        [format!(
            "A NO [METADATA MAXSIZE {}] The value is too large",
            twinmail_store::METADATA_MAX_VALUE
        )]
    );
    // Octets a literal cannot carry (a NUL) come back as a literal8 (RFC 3516).
    assert_eq!(
        c.cmd("SETMETADATA INBOX (/private/bin ~{3+}\r\na\0b)")
            .await,
        ["A OK SETMETADATA completed"]
    );
    assert_eq!(
        c.cmd("GETMETADATA INBOX /private/bin").await,
        [
            "* METADATA INBOX (/private/bin ~{3}",
            "a\0b)",
            "A OK GETMETADATA completed"
        ]
    );
    // The annotations follow a rename, and go with a delete.
    c.cmd("CREATE Work").await;
    c.cmd("SETMETADATA Work (/shared/comment \"Projects\")")
        .await;
    c.cmd("RENAME Work Done").await;
    assert_eq!(
        c.cmd("GETMETADATA Done /shared/comment").await,
        [
            "* METADATA Done (/shared/comment \"Projects\")",
            "A OK GETMETADATA completed"
        ]
    );
    c.cmd("DELETE Done").await;
    c.cmd("CREATE Done").await;
    assert_eq!(
        c.cmd("GETMETADATA Done /shared/comment").await,
        [
            "* METADATA Done (/shared/comment NIL)",
            "A OK GETMETADATA completed"
        ]
    );
}

#[tokio::test]
async fn too_many_annotations_are_refused_with_toomany() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let max = twinmail_store::METADATA_MAX_ENTRIES as usize;
    let entries: Vec<String> = (0..max).map(|n| format!("/private/e{n} \"v\"")).collect();
    assert_eq!(
        c.cmd(&format!("SETMETADATA INBOX ({})", entries.join(" ")))
            .await,
        ["A OK SETMETADATA completed"]
    );
    assert_eq!(
        c.cmd("SETMETADATA INBOX (/private/one-more \"v\")").await,
        ["A NO [METADATA TOOMANY] Too many annotations"]
    );
    // Replacing one that exists is fine.
    assert_eq!(
        c.cmd("SETMETADATA INBOX (/private/e0 \"w\")").await,
        ["A OK SETMETADATA completed"]
    );
}

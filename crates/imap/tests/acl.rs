//! ACL (RFC 4314) and shared mailboxes: an account shares a mailbox with another account
//! of its domain, which finds it under "Other Users/" (RFC 2342) and may do exactly what
//! the rights allow. Every path that names a mailbox is tried without the right.

mod common;

use common::{ALICE, BOB, Client, start};

const SHARED: &str = "\"Other Users/alice@example.com/Team\"";

fn tagged(r: &[String]) -> &str {
    r.last().map(String::as_str).unwrap_or("")
}

/// Everything Bob tries on Alice's "Team" folder, with the answer's start.
async fn bob_tries(bob: &mut Client) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for cmd in [
        format!("STATUS {SHARED} (MESSAGES)"),
        format!("EXAMINE {SHARED}"),
        format!("SELECT {SHARED}"),
        format!("APPEND {SHARED} {{5+}}\r\nx\r\n\r\n"),
        format!("MYRIGHTS {SHARED}"),
        format!("GETACL {SHARED}"),
        format!("GETMETADATA {SHARED} /private/comment"),
        format!("DELETE {SHARED}"),
        format!("RENAME {SHARED} Mine"),
    ] {
        let r = bob.cmd(&cmd).await;
        bob.cmd("UNSELECT").await;
        out.push((cmd, tagged(&r).to_string()));
    }
    out
}

#[tokio::test]
async fn a_shared_mailbox_allows_what_is_granted_and_nothing_more() {
    let srv = start().await;
    let mut alice = srv.login(ALICE).await;
    let caps = alice.cmd("CAPABILITY").await;
    assert!(
        caps[0].contains(" ACL ") && caps[0].contains("RIGHTS=texk"),
        "{caps:?}"
    );
    assert_eq!(
        tagged(&alice.cmd("CREATE Team").await),
        "A OK CREATE completed"
    );
    for subject in ["one", "two"] {
        let m = format!("Subject: {subject}\r\n\r\nbody\r\n");
        let r = alice
            .cmd(&format!("APPEND Team {{{}+}}\r\n{m}", m.len()))
            .await;
        assert!(tagged(&r).starts_with("A OK"), "{r:?}");
    }
    let mut bob = srv.login(BOB).await;

    // No grant: the folder does not exist for Bob, whatever he tries, and LIST shows
    // nothing of Alice's.
    for (cmd, answer) in bob_tries(&mut bob).await {
        assert!(
            answer.starts_with("A NO") || answer.starts_with("A BAD"),
            "{cmd}: {answer}"
        );
        assert!(
            !answer.contains("NOPERM"),
            "{cmd}: no grant must not tell it exists: {answer}"
        );
    }
    let r = bob.cmd("LIST \"\" *").await;
    assert!(!r.iter().any(|l| l.contains("alice")), "{r:?}");
    // Nor can Bob grant himself anything.
    let r = bob
        .cmd(&format!("SETACL {SHARED} bob@example.com lrswipkxtea"))
        .await;
    assert!(tagged(&r).starts_with("A NO"), "{r:?}");

    // Alice: the owner's rights, and grants only within her domain.
    let r = alice.cmd("MYRIGHTS Team").await;
    assert_eq!(r[0], "* MYRIGHTS \"Team\" lrswipkxtea");
    let r = alice.cmd("SETACL Team eve@elsewhere.test lr").await;
    assert!(tagged(&r).starts_with("A NO"), "{r:?}");
    let r = alice.cmd("SETACL Team anyone lr").await;
    assert!(tagged(&r).starts_with("A NO"), "{r:?}");
    let r = alice.cmd("SETACL Team bob@example.com lq").await;
    assert!(tagged(&r).starts_with("A BAD"), "{r:?}");
    assert_eq!(
        tagged(&alice.cmd("SETACL Team bob@example.com lr").await),
        "A OK SETACL completed"
    );
    let r = alice.cmd("GETACL Team").await;
    assert_eq!(
        r[0],
        "* ACL \"Team\" \"alice@example.com\" lrswipkxtea \"bob@example.com\" lr"
    );
    let r = alice.cmd("LISTRIGHTS Team bob@example.com").await;
    assert_eq!(
        r[0],
        "* LISTRIGHTS \"Team\" \"bob@example.com\" \"\" l r s w i p k x t e a"
    );

    // Read only: Bob lists, examines and reads it (without marking it \Seen), but may
    // neither change flags, expunge, append, move out, nor read the ACL or the
    // owner's annotations.
    let r = bob.cmd("LIST \"\" *").await;
    assert!(
        r.iter()
            .any(|l| l.contains("\"Other Users/alice@example.com/Team\"")),
        "{r:?}"
    );
    assert!(
        !r.iter().any(|l| l.contains("alice@example.com/INBOX")),
        "only the shared folder: {r:?}"
    );
    let r = bob.cmd(&format!("MYRIGHTS {SHARED}")).await;
    assert_eq!(r[0], format!("* MYRIGHTS {SHARED} lr"));
    let r = bob.cmd(&format!("SELECT {SHARED}")).await;
    assert!(r.iter().any(|l| l == "* 2 EXISTS"), "{r:?}");
    assert!(tagged(&r).starts_with("A OK [READ-ONLY]"), "{r:?}");
    let r = bob.cmd("FETCH 1 (BODY[] FLAGS)").await;
    assert!(r.iter().any(|l| l == "Subject: one"), "{r:?}");
    for cmd in ["STORE 1 +FLAGS (\\Flagged)", "EXPUNGE", "MOVE 1 INBOX"] {
        let r = bob.cmd(cmd).await;
        assert!(tagged(&r).starts_with("A NO"), "{cmd}: {r:?}");
    }
    // COPY out to his own INBOX is reading: allowed, and the copy is his.
    let r = bob.cmd("COPY 2 INBOX").await;
    assert!(tagged(&r).starts_with("A OK [COPYUID"), "{r:?}");
    for (cmd, answer) in bob_tries(&mut bob).await {
        let allowed = cmd.starts_with("STATUS")
            || cmd.starts_with("EXAMINE")
            || cmd.starts_with("SELECT")
            || cmd.starts_with("MYRIGHTS");
        assert_eq!(answer.starts_with("A OK"), allowed, "{cmd}: {answer}");
    }
    let r = alice.cmd("SELECT Team").await;
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
    let r = alice.cmd("FETCH 1:* FLAGS").await;
    assert!(
        !r.iter().any(|l| l.contains("\\Seen")),
        "Bob's reading set no \\Seen: {r:?}"
    );
    alice.cmd("UNSELECT").await;

    // More rights: Bob files mail in, flags and cleans up.
    assert_eq!(
        tagged(&alice.cmd("SETACL Team bob@example.com +iswte").await),
        "A OK SETACL completed"
    );
    let r = bob
        .cmd(&format!(
            "APPEND {SHARED} {{18+}}\r\nSubject: three\r\n\r\n"
        ))
        .await;
    assert!(tagged(&r).starts_with("A OK [APPENDUID"), "{r:?}");
    let r = bob.cmd(&format!("SELECT {SHARED}")).await;
    assert!(tagged(&r).starts_with("A OK [READ-WRITE]"), "{r:?}");
    let r = bob.cmd("STORE 1 +FLAGS (\\Deleted $Done)").await;
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
    let r = bob.cmd("EXPUNGE").await;
    assert!(r.iter().any(|l| l == "* 1 EXPUNGE"), "{r:?}");
    let r = bob.cmd("MOVE 1 INBOX").await;
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
    bob.cmd("UNSELECT").await;
    let r = alice.cmd("STATUS Team (MESSAGES)").await;
    assert_eq!(
        r[0], "* STATUS Team (MESSAGES 1)",
        "one expunged, one moved out"
    );
    let r = bob.cmd("STATUS INBOX (MESSAGES)").await;
    assert_eq!(
        r[0], "* STATUS INBOX (MESSAGES 2)",
        "one copied, one moved in"
    );
    // Bob still may not administer it.
    let r = bob
        .cmd(&format!("SETACL {SHARED} bob@example.com +a"))
        .await;
    assert!(tagged(&r).contains("NOPERM"), "{r:?}");

    // A grant withdrawn while the mailbox is selected ends that session at once; one
    // narrowed takes effect at once.
    let mut bob2 = srv.login(BOB).await;
    let r = bob2.cmd(&format!("SELECT {SHARED}")).await;
    assert!(tagged(&r).starts_with("A OK [READ-WRITE]"), "{r:?}");
    assert_eq!(
        tagged(&alice.cmd("SETACL Team bob@example.com -w").await),
        "A OK SETACL completed"
    );
    let r = bob2.cmd("STORE 1 +FLAGS ($Later)").await;
    assert!(tagged(&r).contains("NOPERM"), "narrowed at once: {r:?}");
    let mut bob3 = srv.login(BOB).await;
    let r = bob3.cmd(&format!("SELECT {SHARED}")).await;
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
    assert_eq!(
        tagged(&alice.cmd("SETACL Team bob@example.com -r").await),
        "A OK SETACL completed"
    );
    bob3.0.send_line("A FETCH 1 BODY.PEEK[]").await;
    let first = bob3.0.line().await.unwrap_or_default();
    assert!(first.starts_with("* BYE"), "withdrawn: {first}");
    assert!(bob3.0.closed().await, "and nothing more after the BYE");

    // Revoked: gone again.
    assert_eq!(
        tagged(&alice.cmd("DELETEACL Team bob@example.com").await),
        "A OK DELETEACL completed"
    );
    let r = bob.cmd(&format!("SELECT {SHARED}")).await;
    assert!(tagged(&r).starts_with("A NO"), "{r:?}");
    assert!(!tagged(&r).contains("NOPERM"), "{r:?}");
    let r = bob.cmd("LIST \"\" *").await;
    assert!(!r.iter().any(|l| l.contains("alice")), "{r:?}");
    // No personal folder may take the namespace's name.
    let r = bob
        .cmd("CREATE \"Other Users/alice@example.com/Team\"")
        .await;
    assert!(tagged(&r).starts_with("A NO"), "{r:?}");
}

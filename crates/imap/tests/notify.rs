//! NOTIFY (RFC 5465): other mailboxes' news as STATUS (§5.1–5.3), names and
//! subscriptions as LIST (§5.4, §5.5), annotations as METADATA (§5.6, §5.7), the selected
//! mailbox's changes pushed with no command in progress (SELECTED) or with expunges held
//! for a command that may tell them (SELECTED-DELAYED, §6.1.2), IDLE telling exactly what
//! NOTIFY asks (§4), NOTIFY NONE, BADEVENT and BAD, and the bound on what a session holds
//! (NOTIFICATIONOVERFLOW, §5.8). Pushed lines are read with no command sent: each test
//! fails without the pushes.

mod common;

use common::{ALICE, Client, start, start_with};

/// A small message to APPEND.
const MSG: &str = "From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n";

/// APPENDs `MSG` to `mailbox` from `c`.
async fn append(c: &mut Client, mailbox: &str) {
    let r = c
        .cmd(&format!("APPEND {mailbox} {{{}+}}\r\n{MSG}", MSG.len()))
        .await;
    assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
}

/// The STATUS line another session reads for `mailbox` now, with the items a NOTIFY
/// STATUS carries (`extra`: " HIGHESTMODSEQ" or "").
async fn status_of(c: &mut Client, mailbox: &str, extra: &str) -> String {
    let r = c
        .cmd(&format!(
            "STATUS {mailbox} (MESSAGES UIDNEXT UIDVALIDITY UNSEEN{extra})"
        ))
        .await;
    assert_eq!(r.len(), 2, "{r:?}");
    r[0].clone()
}

const NOTIFIED: &str = "A OK NOTIFY completed";

#[tokio::test]
async fn notify_is_advertised_and_needs_a_login() {
    let srv = start().await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("NOTIFY NONE").await, ["A BAD Log in first"]);
    let mut c = srv.login(ALICE).await;
    let caps = c.cmd("CAPABILITY").await;
    assert!(caps[0].split(' ').any(|w| w == "NOTIFY"), "{caps:?}");
    assert_eq!(c.cmd("NOTIFY NONE").await, [NOTIFIED]);
    assert_eq!(c.cmd("notify set (personal none)").await, [NOTIFIED]);
}

#[tokio::test]
async fn messages_coming_and_going_elsewhere_are_told_as_status_at_once() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    other.cmd("CREATE Lists").await;
    assert_eq!(
        c.cmd("NOTIFY SET (personal (MessageNew MessageExpunge))")
            .await,
        [NOTIFIED]
    );
    // Another session's APPEND: told with no command in progress (§5.2).
    append(&mut other, "Lists").await;
    let expected = status_of(&mut other, "Lists", "").await;
    assert!(expected.contains("MESSAGES 1 UIDNEXT 2 "), "{expected}");
    assert_eq!(c.line().await, expected);
    // A delivery to INBOX (not selected here).
    srv.deliver(ALICE.0, 1).await;
    let expected = status_of(&mut other, "INBOX", "").await;
    assert_eq!(c.line().await, expected);
    // A flag change is not watched: nothing; the expunge after it is (§5.3).
    other.cmd("SELECT Lists").await;
    other.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    other.cmd("EXPUNGE").await;
    let expected = status_of(&mut other, "Lists", "").await;
    assert!(expected.contains("MESSAGES 0 UIDNEXT 2 "), "{expected}");
    assert_eq!(c.line().await, expected);
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

#[tokio::test]
async fn with_condstore_status_has_highestmodseq_and_flag_changes_are_told() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    other.cmd("CREATE Lists").await;
    other.cmd("CREATE Misc").await;
    c.cmd("ENABLE CONDSTORE").await;
    assert_eq!(
        c.cmd("NOTIFY SET (mailboxes Lists (MessageNew MessageExpunge FlagChange))")
            .await,
        [NOTIFIED]
    );
    // Misc is not watched: its APPEND is not told; the one to Lists is, next.
    append(&mut other, "Misc").await;
    append(&mut other, "Lists").await;
    let expected = status_of(&mut other, "Lists", " HIGHESTMODSEQ").await;
    assert_eq!(c.line().await, expected);
    // §5.1: a flag change elsewhere is a STATUS with HIGHESTMODSEQ (and UNSEEN).
    other.cmd("SELECT Lists").await;
    other.cmd("STORE 1 +FLAGS.SILENT (\\Seen)").await;
    let expected = status_of(&mut other, "Lists", " HIGHESTMODSEQ").await;
    assert!(expected.contains("UNSEEN 0"), "{expected}");
    assert_eq!(c.line().await, expected);
}

#[tokio::test]
async fn notify_set_status_first_tells_every_watched_mailbox_but_the_selected_one() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    for name in ["Lists", "Lists/a", "Misc"] {
        other.cmd(&format!("CREATE {name}")).await;
    }
    append(&mut other, "Lists/a").await;
    let lists = status_of(&mut other, "Lists", "").await;
    let a = status_of(&mut other, "Lists/a", "").await;
    // §3.1: a STATUS for each mailbox whose message events are watched, before the OK.
    assert_eq!(
        c.cmd(
            "NOTIFY SET STATUS (subtree Lists (MessageNew MessageExpunge)) (personal (MailboxName))"
        )
        .await,
        [lists.as_str(), a.as_str(), NOTIFIED]
    );
    // The selected mailbox is SELECTED's alone: no STATUS for it. With FlagChange,
    // HIGHESTMODSEQ is in (§3.1), CONDSTORE enabled or not.
    c.cmd("SELECT Lists").await;
    let a = status_of(&mut other, "Lists/a", " HIGHESTMODSEQ").await;
    assert_eq!(
        c.cmd("NOTIFY SET STATUS (subtree Lists (MessageNew MessageExpunge FlagChange))")
            .await,
        [a.as_str(), NOTIFIED]
    );
    // Without STATUS, none.
    assert_eq!(
        c.cmd("NOTIFY SET (subtree Lists (MessageNew MessageExpunge))")
            .await,
        [NOTIFIED]
    );
}

#[tokio::test]
async fn names_created_renamed_and_deleted_are_told_as_list_with_oldname() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    assert_eq!(
        c.cmd("NOTIFY SET (personal (MailboxName))").await,
        [NOTIFIED]
    );
    // CREATE makes the parent too: both are told (new mailboxes are subscribed here).
    other.cmd("CREATE Old/kid").await;
    assert_eq!(
        c.line().await,
        "* LIST (\\Subscribed \\HasChildren) \"/\" Old"
    );
    assert_eq!(
        c.line().await,
        "* LIST (\\Subscribed \\HasNoChildren) \"/\" Old/kid"
    );
    // §5.4: an extended LIST for the new name with OLDNAME; none for the child.
    other.cmd("RENAME Old New").await;
    assert_eq!(
        c.line().await,
        "* LIST (\\Subscribed \\HasChildren) \"/\" New (\"OLDNAME\" (\"Old\"))"
    );
    // Deleted: \NonExistent. This is the next line: the child's rename was not told.
    other.cmd("DELETE New/kid").await;
    assert_eq!(c.line().await, "* LIST (\\NonExistent) \"/\" New/kid");
    // The session's own changes are not told back to it (§5).
    assert_eq!(c.cmd("CREATE Mine").await, ["A OK CREATE completed"]);
    assert_eq!(c.cmd("RENAME Mine Ours").await, ["A OK RENAME completed"]);
    assert_eq!(c.cmd("DELETE Ours").await, ["A OK DELETE completed"]);
    other.cmd("CREATE \"Sp ace\"").await;
    assert_eq!(
        c.line().await,
        "* LIST (\\Subscribed \\HasNoChildren) \"/\" \"Sp ace\""
    );
}

#[tokio::test]
async fn subscription_changes_are_told_as_list_with_subscribed_iff_subscribed() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    other.cmd("CREATE Lists").await;
    other.cmd("CREATE Misc").await;
    assert_eq!(
        c.cmd("NOTIFY SET (subscribed (SubscriptionChange))").await,
        [NOTIFIED]
    );
    // §5.5: unsubscribed, the LIST has no \Subscribed; subscribed again, it has.
    other.cmd("UNSUBSCRIBE Lists").await;
    assert_eq!(c.line().await, "* LIST (\\HasNoChildren) \"/\" Lists");
    other.cmd("SUBSCRIBE Lists").await;
    assert_eq!(
        c.line().await,
        "* LIST (\\Subscribed \\HasNoChildren) \"/\" Lists"
    );
    // Its own UNSUBSCRIBE is not told back; the next line is the other session's.
    assert_eq!(
        c.cmd("UNSUBSCRIBE Misc").await,
        ["A OK UNSUBSCRIBE completed"]
    );
    other.cmd("UNSUBSCRIBE Lists").await;
    assert_eq!(c.line().await, "* LIST (\\HasNoChildren) \"/\" Lists");
    // Unsubscribed, it is still heard of when it is subscribed again.
    other.cmd("SUBSCRIBE Lists").await;
    assert_eq!(
        c.line().await,
        "* LIST (\\Subscribed \\HasNoChildren) \"/\" Lists"
    );
}

#[tokio::test]
async fn the_selected_mailbox_is_told_at_once_with_selected() {
    let srv = start().await;
    srv.deliver(ALICE.0, 1).await;
    srv.take_recent(ALICE).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    other.cmd("SELECT INBOX").await;
    assert_eq!(
        c.cmd("NOTIFY SET (selected (MessageNew (UID FLAGS) MessageExpunge FlagChange))")
            .await,
        [NOTIFIED]
    );
    // §5.2: EXISTS, then a FETCH of what MessageNew asked for; no NOOP needed.
    srv.deliver(ALICE.0, 1).await;
    assert_eq!(c.line().await, "* 2 EXISTS");
    assert_eq!(c.line().await, "* 1 RECENT");
    assert_eq!(c.line().await, "* 2 FETCH (UID 2 FLAGS (\\Recent))");
    // §5.1: a flag change, as FETCH with UID and FLAGS.
    other.cmd("STORE 1 +FLAGS.SILENT (\\Flagged)").await;
    assert_eq!(c.line().await, "* 1 FETCH (UID 1 FLAGS (\\Flagged))");
    // §5.3: with SELECTED an expunge is told at once.
    other.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(
        c.line().await,
        "* 2 FETCH (UID 2 FLAGS (\\Deleted \\Recent))"
    );
    other.cmd("EXPUNGE").await;
    assert_eq!(c.line().await, "* 2 EXPUNGE");
    assert_eq!(c.line().await, "* 1 EXISTS");
    assert_eq!(c.line().await, "* 0 RECENT");
    // Nothing is told twice.
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

#[tokio::test]
async fn notify_set_tells_what_waits_as_noop_would() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    srv.deliver(ALICE.0, 1).await;
    // §3.1: "a successful NOTIFY SET command implies an implicit NOOP command".
    assert_eq!(
        c.cmd("NOTIFY SET (selected-delayed (MessageNew MessageExpunge))")
            .await,
        ["* 1 EXISTS", "* 1 RECENT", NOTIFIED]
    );
}

#[tokio::test]
async fn message_new_fetches_the_attributes_asked_for_without_setting_seen() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    assert_eq!(
        c.cmd(
            "NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)]) MessageExpunge))"
        )
        .await,
        [NOTIFIED]
    );
    srv.deliver(ALICE.0, 1).await;
    assert_eq!(c.line().await, "* 1 EXISTS");
    assert_eq!(c.line().await, "* 1 RECENT");
    let subject = "Subject: message 0\r\n\r\n";
    assert_eq!(
        c.line().await,
        format!(
            "* 1 FETCH (UID 1 BODY[HEADER.FIELDS (SUBJECT)] {{{}}}",
            subject.len()
        )
    );
    assert_eq!(c.line().await, "Subject: message 0");
    assert_eq!(c.line().await, "");
    assert_eq!(c.line().await, ")");
    assert_eq!(
        c.cmd("FETCH 1 (FLAGS)").await,
        ["* 1 FETCH (FLAGS (\\Recent))", "A OK FETCH completed"]
    );
}

#[tokio::test]
async fn selected_delayed_holds_expunges_until_a_command_may_tell_them() {
    let srv = start().await;
    srv.deliver(ALICE.0, 2).await;
    srv.take_recent(ALICE).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    other.cmd("SELECT INBOX").await;
    assert_eq!(
        c.cmd("NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange))")
            .await,
        [NOTIFIED]
    );
    // Flag changes and new messages are pushed at once...
    other.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(c.line().await, "* 1 FETCH (UID 1 FLAGS (\\Deleted))");
    other.cmd("EXPUNGE").await;
    srv.deliver(ALICE.0, 1).await;
    // ...the expunge is not: message 1 still counts (§6.1.2).
    assert_eq!(c.line().await, "* 3 EXISTS");
    assert_eq!(c.line().await, "* 1 RECENT");
    // Not in a FETCH, nor after it (RFC 3501 §7.4.1).
    assert_eq!(
        c.cmd("FETCH 1:* (UID)").await,
        [
            "* 1 FETCH (UID 1)",
            "* 2 FETCH (UID 2)",
            "* 3 FETCH (UID 3)",
            "A OK FETCH completed"
        ]
    );
    // NOOP may tell it.
    assert_eq!(
        c.cmd("NOOP").await,
        ["* 1 EXPUNGE", "* 2 EXISTS", "A OK NOOP completed"]
    );
    // So may IDLE (§6.1.2 names it).
    other.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(c.line().await, "* 1 FETCH (UID 2 FLAGS (\\Deleted))");
    other.cmd("EXPUNGE").await;
    c.0.send_line("A IDLE").await;
    assert_eq!(c.line().await, "+ idling");
    assert_eq!(c.line().await, "* 1 EXPUNGE");
    assert_eq!(c.line().await, "* 1 EXISTS");
    c.0.send_line("DONE").await;
    assert_eq!(c.until_tagged().await, ["A OK IDLE terminated"]);
}

#[tokio::test]
async fn idle_tells_exactly_what_notify_asks_for() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    other.cmd("CREATE Lists").await;
    c.cmd("SELECT INBOX").await;
    // No SELECTED group: no message events for the selected mailbox (§3.1), in IDLE
    // too (§4).
    assert_eq!(
        c.cmd("NOTIFY SET (personal (MessageNew MessageExpunge))")
            .await,
        [NOTIFIED]
    );
    c.0.send_line("A IDLE").await;
    assert_eq!(c.line().await, "+ idling");
    srv.deliver(ALICE.0, 1).await;
    append(&mut other, "Lists").await;
    // The next line is Lists' STATUS, not INBOX's EXISTS.
    let expected = status_of(&mut other, "Lists", "").await;
    assert_eq!(c.line().await, expected);
    c.0.send_line("DONE").await;
    assert_eq!(c.until_tagged().await, ["A OK IDLE terminated"]);
    // A command still tells the selected mailbox's news (RFC 3501 §7).
    assert_eq!(
        c.cmd("NOOP").await,
        ["* 1 EXISTS", "* 1 RECENT", "A OK NOOP completed"]
    );
}

#[tokio::test]
async fn metadata_changes_are_told_by_entry_name() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    other.cmd("CREATE Lists").await;
    assert_eq!(
        c.cmd("NOTIFY SET (mailboxes Lists (MailboxMetadataChange ServerMetadataChange))")
            .await,
        [NOTIFIED]
    );
    // §5.6 / RFC 5464 §4.4.2: the entries that changed, without values; INBOX is not
    // watched, so its entry is not told.
    other
        .cmd("SETMETADATA INBOX (/private/comment \"in\")")
        .await;
    other
        .cmd("SETMETADATA Lists (/private/comment \"hello\")")
        .await;
    assert_eq!(c.line().await, "* METADATA Lists /private/comment");
    // A removal too (§5.6).
    other.cmd("SETMETADATA Lists (/private/comment NIL)").await;
    assert_eq!(c.line().await, "* METADATA Lists /private/comment");
    // §5.7: the server's entries, mailbox "".
    other
        .cmd("SETMETADATA \"\" (/private/vendor/x \"1\")")
        .await;
    assert_eq!(c.line().await, "* METADATA \"\" /private/vendor/x");
    // Its own SETMETADATA is not told back.
    assert_eq!(
        c.cmd("SETMETADATA Lists (/private/comment \"mine\")").await,
        ["A OK SETMETADATA completed"]
    );
}

#[tokio::test]
async fn unsupported_events_are_badevent_and_forbidden_combinations_bad() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    assert_eq!(
        c.cmd("NOTIFY SET (personal (MailboxName))").await,
        [NOTIFIED]
    );
    // §3.1: NO (not BAD) with BADEVENT naming every event this server sends.
    let badevent = "A NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName \
                    SubscriptionChange MailboxMetadataChange ServerMetadataChange)] \
                    Unsupported NOTIFY event";
    assert_eq!(
        c.cmd("NOTIFY SET (selected (MessageNew MessageExpunge AnnotationChange))")
            .await,
        [badevent]
    );
    assert_eq!(
        c.cmd("NOTIFY SET (personal (MailboxName Gossip))").await,
        [badevent]
    );
    // §5: MessageNew and MessageExpunge together, FlagChange only with both; §6.1: one
    // SELECTED group, message events only.
    for (command, text) in [
        (
            "NOTIFY SET (selected (MessageNew))",
            "A BAD MessageNew and MessageExpunge must be given together",
        ),
        (
            "NOTIFY SET (subtree INBOX (MessageExpunge))",
            "A BAD MessageNew and MessageExpunge must be given together",
        ),
        (
            "NOTIFY SET (selected (FlagChange))",
            "A BAD FlagChange and AnnotationChange need MessageNew and MessageExpunge",
        ),
        (
            "NOTIFY SET (selected (MessageNew MessageExpunge MailboxName))",
            "A BAD SELECTED and SELECTED-DELAYED take message events only",
        ),
        (
            "NOTIFY SET (selected NONE) (selected-delayed NONE)",
            "A BAD Only one SELECTED or SELECTED-DELAYED group is allowed",
        ),
        ("NOTIFY SET", "A BAD NOTIFY SET needs an event group"),
        (
            "NOTIFY SET (personal ())",
            "A BAD Malformed NOTIFY event list",
        ),
        (
            "NOTIFY SET (everywhere (MailboxName))",
            "A BAD Unknown NOTIFY mailbox filter",
        ),
        ("NOTIFY SOMETIMES", "A BAD NOTIFY needs SET or NONE"),
    ] {
        assert_eq!(c.cmd(command).await, [text], "{command}");
    }
    // Too many mailbox names: NOTIFICATIONOVERFLOW (§3.1).
    let names: Vec<String> = (0..101).map(|i| format!("m{i}")).collect();
    assert_eq!(
        c.cmd(&format!(
            "NOTIFY SET (mailboxes ({}) (MailboxName))",
            names.join(" ")
        ))
        .await,
        ["A NO [NOTIFICATIONOVERFLOW] Too many mailboxes to watch"]
    );
    // A refused NOTIFY changes nothing: the first one still holds.
    other.cmd("CREATE Lists").await;
    assert_eq!(
        c.line().await,
        "* LIST (\\Subscribed \\HasNoChildren) \"/\" Lists"
    );
}

#[tokio::test]
async fn notify_none_stops_every_notification() {
    let srv = start().await;
    srv.deliver(ALICE.0, 1).await;
    srv.take_recent(ALICE).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    other.cmd("CREATE Lists").await;
    c.cmd("SELECT INBOX").await;
    assert_eq!(
        c.cmd(
            "NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) \
             (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))"
        )
        .await,
        [NOTIFIED]
    );
    append(&mut other, "Lists").await;
    let expected = status_of(&mut other, "Lists", "").await;
    assert_eq!(c.line().await, expected);
    assert_eq!(c.cmd("NOTIFY NONE").await, [NOTIFIED]);
    append(&mut other, "Lists").await;
    other.cmd("CREATE Misc").await;
    other.cmd("UNSUBSCRIBE Lists").await;
    srv.deliver(ALICE.0, 1).await;
    // Nothing was pushed, nothing is told for other mailboxes; a command tells the
    // selected mailbox's news as RFC 3501 has it.
    assert_eq!(
        c.cmd("NOOP").await,
        ["* 2 EXISTS", "* 1 RECENT", "A OK NOOP completed"]
    );
}

#[tokio::test]
async fn held_changes_of_the_selected_mailbox_are_bounded() {
    let srv = start_with(|s| s.max_notifications = 3).await;
    srv.deliver(ALICE.0, 5).await;
    srv.take_recent(ALICE).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("SELECT INBOX").await;
    other.cmd("SELECT INBOX").await;
    assert_eq!(
        c.cmd(
            "NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange)) \
             (personal (MailboxName))"
        )
        .await,
        [NOTIFIED]
    );
    other.cmd("STORE 1:5 +FLAGS.SILENT (\\Deleted)").await;
    for n in 1..=5 {
        assert_eq!(
            c.line().await,
            format!("* {n} FETCH (UID {n} FLAGS (\\Deleted))")
        );
    }
    // Five expunges held for a command, more than the three a session may hold (§5.8).
    other.cmd("EXPUNGE").await;
    assert_eq!(
        c.line().await,
        "* OK [NOTIFICATIONOVERFLOW] Too many notifications; NOTIFY is off"
    );
    // From now on as after NOTIFY NONE: nothing pushed, no LIST.
    other.cmd("CREATE Misc").await;
    srv.deliver(ALICE.0, 1).await;
    let mut expected = vec!["* 1 EXPUNGE"; 5];
    expected.extend(["* 1 EXISTS", "* 1 RECENT", "A OK NOOP completed"]);
    assert_eq!(c.cmd("NOOP").await, expected);
}

#[tokio::test]
async fn notifications_for_other_mailboxes_are_bounded() {
    let srv = start_with(|s| s.max_notifications = 3).await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    assert_eq!(
        c.cmd("NOTIFY SET (personal (MailboxName))").await,
        [NOTIFIED]
    );
    // A command under way (its literal not sent yet): nothing is pushed meanwhile, so
    // the five creations wait, more than the three a session may hold.
    c.0.send(b"A STATUS {5}\r\n").await;
    assert!(c.line().await.starts_with('+'));
    for name in ["a", "b", "c", "d", "e"] {
        other.cmd(&format!("CREATE {name}")).await;
    }
    c.0.send(b"INBOX (MESSAGES)\r\n").await;
    assert_eq!(
        c.until_tagged().await,
        [
            "* OK [NOTIFICATIONOVERFLOW] Too many notifications; NOTIFY is off",
            "* STATUS INBOX (MESSAGES 0)",
            "A OK STATUS completed"
        ]
    );
    other.cmd("CREATE f").await;
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
    // NOTIFY can be set again.
    assert_eq!(
        c.cmd("NOTIFY SET (personal (MailboxName))").await,
        [NOTIFIED]
    );
    other.cmd("CREATE g").await;
    assert_eq!(
        c.line().await,
        "* LIST (\\Subscribed \\HasNoChildren) \"/\" g"
    );
}

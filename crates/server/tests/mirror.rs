//! The mirror end to end: two real `twinmail serve` processes linked over TLS, spoken to
//! by real clients (Python's smtplib and imaplib, mbsync).

mod common;

use std::time::{Duration, Instant};

use common::{
    mbsync,
    pair::{PASSWORD, Pair, dump, send},
};

fn subjects(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag} {i}")).collect()
}

/// Mail delivered to either twin, for accounts homed on either twin, reads the same on
/// both: same folders, UIDVALIDITY, UIDs, flags and bytes.
#[test]
fn delivery_on_either_twin_reads_the_same_on_both() {
    let pair = Pair::start();
    let (home_a, home_b) = pair.users_on_both_homes();
    for user in [&home_a, &home_b] {
        // Interleaved deliveries on both twins: the home twin numbers them all.
        for round in 0..3 {
            send(
                pair.a.port("smtp"),
                user,
                &subjects(&format!("a{round}"), 3),
            );
            send(
                pair.b.port("smtp"),
                user,
                &subjects(&format!("b{round}"), 3),
            );
        }
    }
    pair.wait_in_sync();
    for user in [&home_a, &home_b] {
        let (on_a, on_b) = (
            dump(pair.a.port("imaps"), user),
            dump(pair.b.port("imaps"), user),
        );
        assert_eq!(on_a, on_b, "{user} differs between the twins");
        let inbox = on_a["INBOX"][1].as_array().unwrap();
        assert_eq!(inbox.len(), 18, "{user}: {on_a}");
        let uids: Vec<u64> = inbox.iter().map(|m| m[0].as_u64().unwrap()).collect();
        assert_eq!(uids, (1..=18).collect::<Vec<_>>(), "UIDs dense and rising");
    }
    pair.assert_identical();
    // Each twin forwarded the 9 deliveries for the account homed on the other, and says so
    // (its "Mirror out" counts only what it logged itself).
    for t in [&pair.a, &pair.b] {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut status = t.status();
        while !status.contains("Forwarded to the home twin: writes=9 (") {
            assert!(Instant::now() < deadline, "{}: {status}", t.id);
            std::thread::sleep(Duration::from_millis(200));
            status = t.status();
        }
        assert!(status.contains(") failed=0"), "{status}");
    }
}

/// Flag on A, expunge on B, rename a folder on A, create an account on B, annotate
/// (METADATA) on A: all show on the other twin, and verify finds them identical.
#[test]
fn changes_on_either_twin_show_on_the_other() {
    let pair = Pair::start();
    let (home_a, home_b) = pair.users_on_both_homes();
    for user in [&home_a, &home_b] {
        send(pair.a.port("smtp"), user, &subjects("m", 4));
        pair.wait_in_sync();
        common::pair::py(
            r#"
a = imap(sys.argv[1], sys.argv[3], sys.argv[4])
a.select('INBOX'); a.uid('STORE', '1', '+FLAGS', '(\\Flagged)')
a.create('Projects'); a.rename('Projects', 'Archive/Projects')
a.logout()
b = imap(sys.argv[2], sys.argv[3], sys.argv[4])
b.select('INBOX'); b.uid('STORE', '2', '+FLAGS', '(\\Deleted)'); b.expunge()
b.subscribe('Archive/Projects')
b.logout()
"#,
            &[
                pair.a.port("imaps").to_string(),
                pair.b.port("imaps").to_string(),
                user.to_string(),
                PASSWORD.to_string(),
            ],
        );
    }
    pair.add_user(&pair.b, "made-on-b@example.org");
    pair.wait_in_sync();
    for user in [&home_a, &home_b] {
        let (on_a, on_b) = (
            dump(pair.a.port("imaps"), user),
            dump(pair.b.port("imaps"), user),
        );
        assert_eq!(on_a, on_b);
        let inbox = on_a["INBOX"][1].as_array().unwrap();
        let uids: Vec<u64> = inbox.iter().map(|m| m[0].as_u64().unwrap()).collect();
        assert_eq!(
            uids,
            vec![1, 3, 4],
            "{user}: UID 2 expunged on B is gone on both"
        );
        assert_eq!(inbox[0][1], "\\Flagged", "{user}: the flag set on A");
        assert!(on_a.get("Archive/Projects").is_some(), "{on_a}");
        assert!(on_a.get("Projects").is_none());
    }
    // The account made on B logs in on A.
    let on_a = dump(pair.a.port("imaps"), "made-on-b@example.org");
    assert!(on_a.get("INBOX").is_some());
    // Annotations (METADATA) set on one twin read the same on the other.
    for user in [&home_a, &home_b] {
        let args = [
            pair.a.port("imaps").to_string(),
            pair.b.port("imaps").to_string(),
            user.to_string(),
            PASSWORD.to_string(),
        ];
        common::pair::py(
            r#"
imaplib.Commands['SETMETADATA'] = ('AUTH', 'SELECTED')
a = imap(sys.argv[1], sys.argv[3], sys.argv[4])
typ, _ = a._simple_command('SETMETADATA', 'INBOX', '(/private/comment "set on a" /shared/x "1")')
assert typ == 'OK', typ
typ, _ = a._simple_command('SETMETADATA', '""', '(/private/vendor/test "server")')
assert typ == 'OK', typ
a.logout()
"#,
            &args,
        );
        pair.wait_in_sync();
        let got = common::pair::py(
            r#"
imaplib.Commands['GETMETADATA'] = ('AUTH', 'SELECTED')
b = imap(sys.argv[2], sys.argv[3], sys.argv[4])
for box, entries in (('INBOX', '(/private/comment /shared/x)'), ('""', '/private/vendor/test')):
    typ, data = b._simple_command('GETMETADATA', box, entries)
    print(typ, b._untagged_response(typ, data, 'METADATA')[1])
b.logout()
"#,
            &args,
        );
        assert!(
            got.contains(r#"(/private/comment "set on a" /shared/x "1")"#)
                && got.contains(r#"(/private/vendor/test "server")"#),
            "{user}: {got}"
        );
    }
    pair.assert_identical();
    let status = pair.a.status();
    assert!(status.contains("Mirror out: Que/sent add="), "{status}");
}

/// URLAUTH (RFC 4467): a URL made by GENURLAUTH on one twin is fetched by URLFETCH on
/// the other (the mailbox's access key is the same on both), for an account homed on
/// either twin; a RESETKEY on the other twin voids it on the first.
#[test]
fn a_urlauth_url_made_on_one_twin_fetches_on_the_other() {
    let pair = Pair::start();
    let (home_a, home_b) = pair.users_on_both_homes();
    let cmds = r#"
for c in ('GENURLAUTH', 'URLFETCH', 'RESETKEY'):
    imaplib.Commands[c] = ('AUTH', 'SELECTED')
"#;
    for user in [&home_a, &home_b] {
        send(pair.a.port("smtp"), user, &subjects("urlauth", 1));
        pair.wait_in_sync();
        let args = |url: &str| {
            vec![
                pair.a.port("imaps").to_string(),
                pair.b.port("imaps").to_string(),
                user.to_string(),
                PASSWORD.to_string(),
                url.to_string(),
            ]
        };
        let url = common::pair::py(
            &format!(
                r#"{cmds}
a = imap(sys.argv[1], sys.argv[3], sys.argv[4])
a.select('INBOX')
uv = a.response('UIDVALIDITY')[1][0].decode()
rump = 'imap://%s@localhost/INBOX;UIDVALIDITY=%s/;UID=1;URLAUTH=authuser' % (sys.argv[3].replace('@', '%40'), uv)
typ, data = a._simple_command('GENURLAUTH', '"%s"' % rump, 'INTERNAL')
assert typ == 'OK', (typ, data)
print(a._untagged_response(typ, data, 'GENURLAUTH')[1][0].decode().strip('"'))
a.logout()
"#
            ),
            &args(""),
        );
        let url = url.trim().to_string();
        assert!(url.contains(";URLAUTH=authuser:INTERNAL:"), "{user}: {url}");
        pair.wait_in_sync();
        let fetch = |port_arg: usize| {
            common::pair::py(
                &format!(
                    r#"{cmds}
m = imap(sys.argv[{port_arg}], sys.argv[3], sys.argv[4])
typ, data = m._simple_command('URLFETCH', '"%s"' % sys.argv[5])
assert typ == 'OK', (typ, data)
print(repr(m._untagged_response(typ, data, 'URLFETCH')[1]))
m.logout()
"#
                ),
                &args(&url),
            )
        };
        let on_b = fetch(2);
        assert!(on_b.contains("body of urlauth 0"), "{user} on b: {on_b}");
        // RESETKEY on b: the URL no longer verifies on a.
        common::pair::py(
            &format!(
                r#"{cmds}
b = imap(sys.argv[2], sys.argv[3], sys.argv[4])
typ, data = b._simple_command('RESETKEY', 'INBOX')
assert typ == 'OK', (typ, data)
b.logout()
"#
            ),
            &args(""),
        );
        pair.wait_in_sync();
        let on_a = fetch(1);
        assert!(
            on_a.contains(" NIL") && !on_a.contains("body of"),
            "{user} on a: {on_a}"
        );
    }
    pair.assert_identical();
}

/// B down while A takes 2,000 messages: B catches up when it returns, A's memory stays
/// flat while it ships the backlog, and verify is clean.
#[test]
fn a_twin_that_was_down_catches_up() {
    let mut pair = Pair::start();
    let (home_a, home_b) = pair.users_on_both_homes();
    pair.b.kill();
    // Both accounts: the one homed on B is served by A alone while B is away.
    send(
        pair.a.port("smtp"),
        &home_a,
        &subjects("while b was down", 1000),
    );
    send(
        pair.a.port("smtp"),
        &home_b,
        &subjects("while b was down", 1000),
    );
    let status = pair.a.status();
    assert!(status.contains("Que/sent add=2000/"), "{status}");
    let before = pair.a.rss_kib();
    pair.b.start();
    let mut peak = before;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !(pair.a.status().contains("State: in sync")
        && pair.b.status().contains("State: in sync"))
    {
        peak = peak.max(pair.a.rss_kib());
        assert!(
            Instant::now() < deadline,
            "no catch-up: {}",
            pair.b.status()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        peak < before + 64 * 1024,
        "A's memory grew from {before} KiB to {peak} KiB while shipping 2,000 messages"
    );
    for user in [&home_a, &home_b] {
        let (on_a, on_b) = (
            dump(pair.a.port("imaps"), user),
            dump(pair.b.port("imaps"), user),
        );
        assert_eq!(on_a, on_b);
        assert_eq!(on_b["INBOX"][1].as_array().unwrap().len(), 1000);
    }
    pair.assert_identical();
}

/// mbsync synced against twin A, then pointed at twin B, transfers nothing: same
/// UIDVALIDITY, UIDs and flags (the failover promise).
#[test]
fn mbsync_switching_twins_downloads_nothing() {
    twinmail_testkit::require(&["mbsync", "python3"]);
    let pair = Pair::start();
    let (home_a, home_b) = pair.users_on_both_homes();
    for user in [&home_a, &home_b] {
        send(pair.a.port("smtp"), user, &subjects("for mbsync", 20));
        send(pair.b.port("smtp"), user, &subjects("more for mbsync", 20));
    }
    pair.wait_in_sync();
    let ca = mbsync::ca(&pair);
    for user in [&home_a, &home_b] {
        let local = tempfile::tempdir().unwrap();
        let rc = mbsync::config(local.path(), &ca, pair.a.port("imaps"), user);
        let first = mbsync::run(&rc);
        assert_eq!(
            first.0, 40,
            "{user}: the first sync downloads every message"
        );
        // The phone switches to twin B.
        let rc = mbsync::config(local.path(), &ca, pair.b.port("imaps"), user);
        assert_eq!(
            mbsync::run(&rc),
            (0, 0, 0),
            "{user}: nothing moves after the switch"
        );
        // Mail that arrives at B afterwards is all that the next sync fetches.
        send(pair.b.port("smtp"), user, &subjects("after the switch", 3));
        assert_eq!(mbsync::run(&rc).0, 3);
    }
}

/// A twin rebuilt from nothing (its data directory lost) is brought level by a snapshot
/// of the other: accounts, folders, messages with their UIDs and flags, expunges. A sync
/// interrupted half-way (the new twin killed) resumes and completes.
#[test]
fn a_rebuilt_twin_is_brought_level_by_a_snapshot() {
    let mut pair = Pair::start();
    let (home_a, home_b) = pair.users_on_both_homes();
    for user in [&home_a, &home_b] {
        send(pair.a.port("smtp"), user, &subjects("old mail", 600));
        common::pair::py(
            r#"
a = imap(sys.argv[1], sys.argv[2], sys.argv[3])
a.select('INBOX'); a.uid('STORE', '1:10', '+FLAGS', '(\\Seen \\Deleted)'); a.expunge()
a.uid('STORE', '11:20', '+FLAGS', '(\\Answered $Label1)')
a.create('Lists/rust'); a.uid('MOVE', '21:30', 'Lists/rust')
a.logout()
"#,
            &[
                pair.a.port("imaps").to_string(),
                user.to_string(),
                PASSWORD.to_string(),
            ],
        );
    }
    pair.wait_in_sync();
    let before: Vec<_> = [&home_a, &home_b]
        .iter()
        .map(|u| dump(pair.a.port("imaps"), u))
        .collect();
    // B loses everything; twice, the second time half-way through its initial sync.
    for interrupt in [true, false] {
        pair.b.kill();
        std::fs::remove_dir_all(pair.dir.path().join("b-data")).unwrap();
        pair.b.start();
        if interrupt {
            std::thread::sleep(Duration::from_millis(300));
            pair.b.kill();
            pair.b.start();
        }
    }
    pair.wait_in_sync();
    pair.assert_identical();
    for (user, before) in [&home_a, &home_b].iter().zip(before) {
        assert_eq!(
            dump(pair.b.port("imaps"), user),
            before,
            "{user} on the rebuilt twin"
        );
    }
    // The rebuilt twin takes its place: mail to it, for accounts homed on either twin.
    for user in [&home_a, &home_b] {
        send(pair.b.port("smtp"), user, &subjects("new mail", 2));
    }
    pair.wait_in_sync();
    pair.assert_identical();
}

/// `twinmail mirror resync` on a damaged twin (a message row lost behind the store's
/// back, flags changed behind its back) brings it level with the twin from a snapshot
/// while both keep running.
#[test]
fn resync_repairs_a_damaged_twin() {
    let mut pair = Pair::start();
    let (home_a, home_b) = pair.users_on_both_homes();
    for user in [&home_a, &home_b] {
        send(pair.a.port("smtp"), user, &subjects("kept", 5));
    }
    pair.wait_in_sync();
    let before: Vec<_> = [&home_a, &home_b]
        .iter()
        .map(|u| dump(pair.a.port("imaps"), u))
        .collect();
    pair.b.kill();
    let db = pair.dir.path().join("b-data/twinmail.db");
    common::pair::py(
        r#"
import sqlite3
db = sqlite3.connect(sys.argv[1])
db.execute('DELETE FROM messages WHERE id = (SELECT max(id) FROM messages)')
db.execute("UPDATE messages SET flags = '\\Flagged' WHERE id = (SELECT min(id) FROM messages)")
db.commit()
"#,
        &[db.display().to_string()],
    );
    pair.b.start();
    pair.wait_in_sync();
    let (code, out) = pair.b.cli(&["mirror", "verify"]);
    assert_eq!(code, 1, "verify should see the damage:\n{out}");
    let (code, out) = pair.b.cli(&["mirror", "resync"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("resync requested"), "{out}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, out) = pair.b.cli(&["mirror", "verify"]);
        if code == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "still different:\n{out}");
        std::thread::sleep(Duration::from_millis(250));
    }
    pair.wait_in_sync();
    pair.assert_identical();
    for (user, before) in [&home_a, &home_b].iter().zip(before) {
        assert_eq!(
            dump(pair.b.port("imaps"), user),
            before,
            "{user} after resync"
        );
    }
    let log = std::fs::read_to_string(pair.b.config.with_extension("log")).unwrap();
    assert!(log.contains("resync requested"), "no resync in b's log");
}

/// `mirror verify` compares what an account carries besides its mail: a METADATA
/// annotation or a password hash changed behind one twin's back is a difference (the
/// password one went unseen while only the first 16 characters of the PHC strings, alike
/// for every password, were compared).
#[test]
fn verify_sees_a_changed_annotation_and_password_hash() {
    let mut pair = Pair::start();
    pair.add_user(&pair.a, "vera@example.org");
    common::pair::py(
        r#"
a = imap(sys.argv[1], sys.argv[2], sys.argv[3])
typ, data = a.xatom('SETMETADATA', 'INBOX', '(/private/comment "kept on both")')
assert typ == 'OK', (typ, data)
a.logout()
"#,
        &[
            pair.a.port("imaps").to_string(),
            "vera@example.org".into(),
            PASSWORD.into(),
        ],
    );
    pair.wait_in_sync();
    let (code, out) = pair.a.cli(&["mirror", "verify"]);
    assert_eq!(code, 0, "{out}");
    // Each change alone (the one before it undone) is seen.
    for tamper in [
        "UPDATE metadata SET value = CAST('changed on b' AS BLOB)",
        "UPDATE metadata SET value = CAST('kept on both' AS BLOB); \
         UPDATE accounts SET password_hash = password_hash || 'x' WHERE name = 'vera@example.org'",
    ] {
        pair.b.kill();
        let db = pair.dir.path().join("b-data/twinmail.db");
        common::pair::py(
            "import sqlite3\ndb = sqlite3.connect(sys.argv[1]); db.executescript(sys.argv[2]); db.commit()",
            &[db.display().to_string(), tamper.to_string()],
        );
        pair.b.start();
        pair.wait_in_sync();
        let (code, out) = pair.a.cli(&["mirror", "verify"]);
        assert_eq!(code, 1, "verify should see `{tamper}`:\n{out}");
        assert!(out.contains("account vera@example.org"), "{out}");
    }
}

/// Sync mode: a 250 means the twin has the message too. With the twin gone, a 250 comes
/// after the sync timeout and the status says sync mode fell back to async; once the twin
/// is back and caught up, sync mode resumes.
#[test]
fn sync_mode_answers_once_the_twin_has_it() {
    let mut pair = Pair::start_custom(|b| b, 1, "mode = \"sync\"\nsync_timeout_ms = 700");
    let (home_a, _) = pair.users_on_both_homes();
    for i in 0..5 {
        send(pair.a.port("smtp"), &home_a, &[format!("sync {i}")]);
        // No waiting: B holds it the moment A said 250.
        let on_b = dump(pair.b.port("imaps"), &home_a);
        assert_eq!(on_b["INBOX"][1].as_array().unwrap().len(), i + 1, "{on_b}");
    }
    pair.b.kill();
    let started = Instant::now();
    send(pair.a.port("smtp"), &home_a, &["while b is down".into()]);
    assert!(started.elapsed() >= Duration::from_millis(700));
    let status = pair.a.status();
    assert!(status.contains("sync mode fell back to async"), "{status}");
    // Async now: no more waiting.
    let started = Instant::now();
    send(pair.a.port("smtp"), &home_a, &["fast again".into()]);
    assert!(started.elapsed() < Duration::from_millis(600));
    pair.b.start();
    pair.wait_in_sync();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pair.a.status().contains("fell back") {
        assert!(Instant::now() < deadline, "sync mode did not resume");
        std::thread::sleep(Duration::from_millis(100));
    }
    pair.assert_identical();
}

/// The queued-adds figure of `Mirror out: Que/sent add=Q/S`.
fn queued_adds(status: &str) -> u64 {
    status
        .split_once("add=")
        .and_then(|(_, r)| r.split('/').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no add= in {status}"))
}

/// An admin can home an account on the other twin: from then on that twin assigns its
/// UIDs (its log records the adds, whichever twin took the mail), on both twins.
#[test]
fn an_account_can_be_homed_on_a_chosen_twin() {
    let pair = Pair::start();
    let (home_a, _) = pair.users_on_both_homes();
    let (code, out) = pair.a.cli(&["user", "home", &home_a, "b"]);
    assert_eq!(code, 0, "{out}");
    pair.wait_in_sync();
    let (_, list) = pair.b.cli(&["user", "list"]);
    assert!(list.contains(&format!("{home_a} (home b)")), "{list}");
    let (before_a, before_b) = (queued_adds(&pair.a.status()), queued_adds(&pair.b.status()));
    send(pair.a.port("smtp"), &home_a, &subjects("to a", 3));
    send(pair.b.port("smtp"), &home_a, &subjects("to b", 3));
    pair.wait_in_sync();
    assert_eq!(
        queued_adds(&pair.a.status()),
        before_a,
        "twin a numbered mail"
    );
    assert_eq!(queued_adds(&pair.b.status()), before_b + 6);
    assert_eq!(
        dump(pair.a.port("imaps"), &home_a),
        dump(pair.b.port("imaps"), &home_a)
    );
    // Back to the spread: twin a numbers it again.
    pair.b.cli(&["user", "home", &home_a]);
    pair.wait_in_sync();
    send(pair.b.port("smtp"), &home_a, &subjects("spread again", 2));
    pair.wait_in_sync();
    assert_eq!(queued_adds(&pair.a.status()), before_a + 2);
    pair.assert_identical();
}

/// An import goes through the store of the twin it runs on, which has no link to forward
/// through: it is refused on the account's non-home twin, and on the home twin it mirrors.
#[test]
fn an_import_runs_on_the_accounts_home_twin_and_mirrors() {
    let pair = Pair::start();
    let (home_a, _) = pair.users_on_both_homes();
    let mbox = pair.dir.path().join("old.mbox");
    std::fs::write(
        &mbox,
        "From someone@example.net Thu Nov 26 10:00:00 2026\nSubject: old one\n\nbody\n\n\
         From someone@example.net Thu Nov 26 10:01:00 2026\nSubject: old two\n\nbody\n\n",
    )
    .unwrap();
    let mbox = mbox.to_str().unwrap();
    let (code, out) = pair.b.cli(&["import", "mbox", mbox, "--user", &home_a]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("homed on twin a"), "{out}");
    let (code, out) = pair.a.cli(&["import", "mbox", mbox, "--user", &home_a]);
    assert_eq!(code, 0, "{out}");
    pair.wait_in_sync();
    let on_b = dump(pair.b.port("imaps"), &home_a);
    assert_eq!(on_b["INBOX"][1].as_array().unwrap().len(), 2, "{on_b}");
    pair.assert_identical();
}

/// A mailbox shared (ACL, RFC 4314) on one twin opens on the other for the grantee, whose
/// writes into it reach the owner's home twin: the grant is mirrored like the mailbox.
#[test]
fn a_mailbox_shared_on_one_twin_is_shared_on_both() {
    let pair = Pair::start();
    let (owner, grantee) = pair.users_on_both_homes();
    let out = common::pair::py(
        r#"
a = imap(sys.argv[1], sys.argv[3], sys.argv[5])
a.create('Team')
a.append('Team', None, None, b'Subject: from the owner\r\n\r\nhello\r\n')
typ, data = a.setacl('Team', sys.argv[4], 'lrsi')
assert typ == 'OK', (typ, data)
print(a.getacl('Team')[1][0].decode())
a.logout()
"#,
        &[
            pair.a.port("imaps").to_string(),
            pair.b.port("imaps").to_string(),
            owner.clone(),
            grantee.clone(),
            PASSWORD.to_string(),
        ],
    );
    assert!(out.contains(&format!("\"{grantee}\" lrsi")), "{out}");
    pair.wait_in_sync();
    let shared = format!("Other Users/{owner}/Team");
    let out = common::pair::py(
        r#"
b = imap(sys.argv[1], sys.argv[2], sys.argv[4])
box = '"%s"' % sys.argv[3]
print([l.decode() for l in b.list()[1]])
print(b.myrights(box)[1][0].decode())
typ, data = b.select(box)
assert typ == 'OK', (typ, data)
print(b.fetch('1', '(BODY[HEADER.FIELDS (SUBJECT)])')[1][0][1].decode().strip())
typ, data = b.append(box, None, None, b'Subject: from the grantee\r\n\r\nhi\r\n')
assert typ == 'OK', (typ, data)
typ, data = b.store('1', '+FLAGS', '(\\Flagged)')
assert typ == 'NO', (typ, data)
b.logout()
"#,
        &[
            pair.b.port("imaps").to_string(),
            grantee.clone(),
            shared.clone(),
            PASSWORD.to_string(),
        ],
    );
    assert!(out.contains(&format!("\"{shared}\"")), "LIST on b: {out}");
    assert!(out.contains("lrsi"), "MYRIGHTS on b: {out}");
    assert!(out.contains("Subject: from the owner"), "{out}");
    pair.wait_in_sync();
    pair.assert_identical();
    let on_a = dump(pair.a.port("imaps"), &owner);
    let team = on_a["Team"][1].as_array().unwrap();
    assert_eq!(
        team.len(),
        2,
        "the grantee's APPEND on b is in the owner's folder: {on_a}"
    );
    assert_eq!(on_a, dump(pair.b.port("imaps"), &owner));
}

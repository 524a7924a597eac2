//! A real split between two real twins: the link is held down (a proxy in the mirror path)
//! past the grace period, both twins take mail for one account, then the link heals and
//! the account's home twin merges (issue 13).

mod common;

use std::time::Duration;

use common::{
    mbsync,
    pair::{Pair, dump, send},
    proxy::Fault,
};
use serde_json::Value;

/// A folder's messages as `dump` lists them: (UID, body hash).
fn folder(d: &Value, name: &str) -> (u64, Vec<(u64, String)>) {
    let f = &d[name];
    let msgs = f[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m[0].as_u64().unwrap(), m[2].as_str().unwrap().to_string()))
        .collect();
    (f[0].as_str().unwrap().parse().unwrap(), msgs)
}

/// What a client that saw `before` must find in `after`: the same UIDVALIDITY, no UID it
/// knows holding another message, and every UID new to it above all it knew.
fn assert_honest(
    twin: &str,
    before: &(u64, Vec<(u64, String)>),
    after: &(u64, Vec<(u64, String)>),
) {
    assert_eq!(before.0, after.0, "{twin}: UIDVALIDITY changed");
    let top = before.1.iter().map(|m| m.0).max().unwrap_or(0);
    for (uid, hash) in &after.1 {
        match before.1.iter().find(|m| m.0 == *uid) {
            Some((_, was)) => assert_eq!(was, hash, "{twin}: UID {uid} now holds another message"),
            None => assert!(*uid > top, "{twin}: new UID {uid} is not above {top}"),
        }
    }
}

#[test]
fn mail_taken_by_both_twins_while_apart_is_merged_with_honest_uids() {
    let (pair, proxy) = Pair::start_behind_proxy();
    let user = "split@example.org";
    pair.add_user(&pair.a, user);
    send(pair.a.port("smtp"), user, &["before".into()]);
    pair.wait_in_sync();
    proxy.set(Fault::Refuse);
    proxy.cut();
    // Longer than the grace period (three 1-second heartbeats): each twin serves alone.
    std::thread::sleep(Duration::from_secs(4));
    send(
        pair.a.port("smtp"),
        user,
        &["on a 1".into(), "on a 2".into()],
    );
    send(
        pair.b.port("smtp"),
        user,
        &["on b 1".into(), "on b 2".into(), "on b 3".into()],
    );
    let split = [
        folder(&dump(pair.a.port("imaps"), user), "INBOX"),
        folder(&dump(pair.b.port("imaps"), user), "INBOX"),
    ];
    assert_eq!(split[0].1.len(), 3, "{split:?}");
    assert_eq!(split[1].1.len(), 4, "{split:?}");

    proxy.set(Fault::Pass);
    pair.wait_in_sync();
    pair.assert_identical();
    let healed = [
        folder(&dump(pair.a.port("imaps"), user), "INBOX"),
        folder(&dump(pair.b.port("imaps"), user), "INBOX"),
    ];
    assert_eq!(healed[0], healed[1], "the twins differ after the merge");
    for (i, twin) in ["a", "b"].iter().enumerate() {
        assert_honest(twin, &split[i], &healed[i]);
    }
    // Every message once: the one from before and the five taken while apart.
    let mut hashes: Vec<&String> = healed[0].1.iter().map(|m| &m.1).collect();
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 6, "{healed:?}");
    assert_eq!(healed[0].1.len(), 6, "{healed:?}");
    for t in [&pair.a, &pair.b] {
        let status = t.status();
        let received = status.lines().find(|l| l.contains("Mirror in:")).unwrap();
        assert!(received.contains("failed=0"), "{status}");
    }
}

/// The same account made on both twins while apart (an admin added it on each), each
/// taking mail: after the heal one account, each folder once, both messages in its INBOX
/// on both twins, the twins identical, and the user logs in on either.
#[test]
fn an_account_made_on_both_twins_while_apart_is_one_account_after_the_heal() {
    let (pair, proxy) = Pair::start_behind_proxy();
    let user = "twice@example.org";
    pair.wait_in_sync();
    proxy.set(Fault::Refuse);
    proxy.cut();
    std::thread::sleep(Duration::from_secs(4));
    for (t, subject) in [(&pair.a, "to a"), (&pair.b, "to b")] {
        pair.add_user_alone(t, user);
        send(t.port("smtp"), user, &[subject.into()]);
    }
    proxy.set(Fault::Pass);
    pair.wait_in_sync();
    pair.assert_identical();
    let (a, b) = (
        dump(pair.a.port("imaps"), user),
        dump(pair.b.port("imaps"), user),
    );
    assert_eq!(a, b, "the twins differ after the heal");
    let folders: Vec<&String> = a.as_object().unwrap().keys().collect();
    assert_eq!(
        folders,
        ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"],
        "each folder once"
    );
    let inbox = folder(&a, "INBOX");
    assert_eq!(inbox.1.len(), 2, "both messages: {inbox:?}");
    assert_ne!(inbox.1[0].1, inbox.1[1].1, "{inbox:?}");
    for t in [&pair.a, &pair.b] {
        let status = t.status();
        let received = status.lines().find(|l| l.contains("Mirror in:")).unwrap();
        assert!(received.contains("failed=0"), "{status}");
    }
}

/// Failover with a real client (mbsync, one channel and one local Maildir throughout):
/// synced against twin a; the link cut past the grace period, mail arrives at a, a is
/// killed, mail arrives at b; pointed at b, mbsync fetches only what b took; a returns and
/// the pair merges; mbsync then fetches only the messages the merge renumbered (and those
/// a took while apart), on either twin, and never meets a UIDVALIDITY change.
#[test]
fn mbsync_fails_over_and_back_fetching_only_what_is_new_or_renumbered() {
    twinmail_testkit::require(&["mbsync", "python3"]);
    let (mut pair, proxy) = Pair::start_behind_proxy();
    let (user, _) = pair.users_on_both_homes();
    let subjects =
        |what: &str, n: usize| -> Vec<String> { (0..n).map(|i| format!("{what} {i}")).collect() };
    send(pair.a.port("smtp"), &user, &subjects("before", 10));
    pair.wait_in_sync();
    let ca = mbsync::ca(&pair);
    let local = tempfile::tempdir().unwrap();
    let on = |port: u16| mbsync::config(local.path(), &ca, port, &user);
    assert_eq!(mbsync::run(&on(pair.a.port("imaps"))).0, 10);

    proxy.set(Fault::Refuse);
    proxy.cut();
    std::thread::sleep(Duration::from_secs(4));
    send(pair.a.port("smtp"), &user, &subjects("on a while apart", 2));
    pair.a.kill();
    send(pair.b.port("smtp"), &user, &subjects("on b while apart", 3));
    let (moved, text) = twinmail_testkit::mbsync(&on(pair.b.port("imaps")));
    assert_eq!(moved, (3, 0, 0), "pointed at b: only what b took\n{text}");

    pair.a.start();
    proxy.set(Fault::Pass);
    pair.wait_in_sync();
    pair.assert_identical();
    // b's first two collided with a's two (UIDs 11, 12): all four renumbered; b's third
    // keeps 13. mbsync fetches a's two and b's two again under their new UIDs.
    let (moved, text) = twinmail_testkit::mbsync(&on(pair.b.port("imaps")));
    assert!(!text.contains("UIDVALIDITY of"), "{text}");
    assert_eq!(moved, (4, 0, 0), "after the merge, on b\n{text}");
    let (moved, text) = twinmail_testkit::mbsync(&on(pair.a.port("imaps")));
    assert_eq!(moved, (0, 0, 0), "then on a: nothing\n{text}");
    let inbox = std::fs::read_dir(local.path().join("mail/INBOX/cur"))
        .unwrap()
        .count()
        + std::fs::read_dir(local.path().join("mail/INBOX/new"))
            .unwrap()
            .count();
    assert_eq!(inbox, 15, "every message once in the local Maildir");
    eprintln!("mbsync after the merge: 4 bodies fetched again of 15 (2 new from a, 2 renumbered)");
}

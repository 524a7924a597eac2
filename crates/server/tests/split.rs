//! A real split between two real twins: the link is held down (a proxy in the mirror path)
//! past the grace period, both twins take mail for one account, then the link heals and
//! the account's home twin merges (issue 13).

mod common;

use std::time::Duration;

use common::{
    pair::{Pair, dump, send},
    proxy::{Fault, Proxy},
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
    let mut proxy = None;
    let pair = Pair::start_with(|b| {
        let p = Proxy::start(b);
        let addr = p.addr;
        proxy = Some(p);
        addr
    });
    let proxy = proxy.unwrap();
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

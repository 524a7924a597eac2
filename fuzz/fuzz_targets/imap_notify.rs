//! NOTIFY's parser (crates/imap/src/notify.rs, hand-written: imap-codec has no NOTIFY) on
//! arbitrary bytes: never panics, and what it accepts keeps RFC 5465's rules: at least
//! one group and at most `MAX_GROUPS`, at most `MAX_NAMES` mailbox names, at most one
//! SELECTED or SELECTED-DELAYED group holding message events only, MessageNew and
//! MessageExpunge together (FlagChange only with both), no event the server does not send.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twinmail_imap::notify::{Event, Filter, MAX_GROUPS, MAX_NAMES, parse};

fuzz_target!(|data: &[u8]| {
    let Some(Ok(request)) = parse(data) else {
        return;
    };
    let Some(set) = request.set else {
        return;
    };
    assert!(!set.groups.is_empty() && set.groups.len() <= MAX_GROUPS);
    let names: usize = set
        .groups
        .iter()
        .map(|g| match &g.filter {
            Filter::Subtree(n) | Filter::Mailboxes(n) => {
                assert!(!n.is_empty());
                n.len()
            }
            _ => 0,
        })
        .sum();
    assert!(names <= MAX_NAMES);
    assert!(set.groups.iter().filter(|g| g.filter.is_selected()).count() <= 1);
    for g in &set.groups {
        assert!(g.events.iter().all(Event::is_supported));
        let new = g.events.iter().any(|e| matches!(e, Event::MessageNew(_)));
        let expunge = g.events.contains(&Event::MessageExpunge);
        assert_eq!(new, expunge);
        if g.events.contains(&Event::FlagChange) {
            assert!(new);
        }
        if g.filter.is_selected() {
            assert!(g.events.iter().all(|e| matches!(
                e,
                Event::MessageNew(_) | Event::MessageExpunge | Event::FlagChange
            )));
        }
    }
});

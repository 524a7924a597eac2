//! The "vacation" extension (RFC 5230): the RFC's examples, the defaults the
//! interpreter fills in, and the replies it suppresses because the message alone says
//! not to answer (lists, bulk, automatic senders, mail not addressed to the user).

mod common;

use common::*;
use twinmail_sieve::{Action, Input, Outcome, RunError, VacationReply, VacationSuppressed};

fn reply(out: &Outcome) -> &VacationReply {
    match out.actions.iter().find_map(|a| match a {
        Action::Vacation(v) => Some(v),
        _ => None,
    }) {
        Some(v) => v,
        None => panic!("no vacation reply in {out:?}"),
    }
}

const SIMPLE: &str = r#"require "vacation"; vacation "I'm away.";"#;

#[test]
fn section_4_example_1_reason_depends_on_the_subject() {
    let src = r#"require "vacation";
       if header :contains "subject" "cyrus" {
           vacation "I'm out -- send mail to cyrus-bugs";
       } else {
           vacation "I'm out -- call me at +1 304 555 0123";
       }"#;
    let out = run(src, &plain("friend@example.org", "cyrus is broken"));
    assert_eq!(reply(&out).reason, "I'm out -- send mail to cyrus-bugs");
    let out = run(src, &plain("friend@example.org", "lunch"));
    assert_eq!(reply(&out).reason, "I'm out -- call me at +1 304 555 0123");
    // Vacation does not cancel implicit keep.
    assert!(out.implicit_keep);
    assert_eq!(out.actions.last(), Some(&keep()));
}

#[test]
fn section_4_example_2_subject_from_a_match_variable() {
    let src = r#"require ["vacation", "variables"];
       if header :matches "subject" "*" {
           vacation :subject "Automatic response to: ${1}"
                    "I'm away -- send mail to foo in my absence";
       }"#;
    let out = run(src, &plain("friend@example.org", "the plan"));
    assert_eq!(reply(&out).subject, "Automatic response to: the plan");
}

#[test]
fn section_4_example_3_days_and_addresses() {
    let src = r#"require "vacation";
       vacation :days 23 :addresses ["tjs@example.edu",
                                     "ts4z@landru.example.edu"]
       "I'm away until October 19.
       If it's an emergency, call 911, I guess." ;"#;
    // Addressed to one of the :addresses, not to the envelope recipient's address.
    let m = msg(
        &[
            "From: friend@example.org",
            "To: ts4z@landru.example.edu",
            "Subject: hi",
        ],
        "x",
    );
    let out = run(src, &m);
    let v = reply(&out);
    assert_eq!(v.days, 23);
    assert_eq!(
        v.addresses,
        strings(&["tjs@example.edu", "ts4z@landru.example.edu"])
    );
    assert!(v.reason.starts_with("I'm away until October 19.\n"));
}

#[test]
fn section_4_example_4_redirect_or_vacation() {
    let src = r#"require "vacation";
       if header :contains "from" "boss@example.edu" {
           redirect "pleeb@isp.example.org";
       } else {
           vacation "Sorry, I'm away, I'll read your
       message when I get around to it.";
       }"#;
    assert_eq!(
        actions(src, &plain("boss@example.edu", "x")),
        vec![redirect("pleeb@isp.example.org")]
    );
    let out = run(src, &plain("friend@example.org", "x"));
    assert!(reply(&out).reason.starts_with("Sorry, I'm away"));
}

#[test]
fn section_4_4_mime_reason_is_passed_as_an_entity() {
    let src = "require \"vacation\";\r\nvacation :mime text:\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
I'm at the beach relaxing.  Mmmm, surf...\r\n\
.\r\n\
;";
    let out = run(src, &plain("friend@example.org", "x"));
    let v = reply(&out);
    assert!(v.mime);
    assert!(v.reason.starts_with("Content-Type: text/plain"));
}

#[test]
fn defaults_days_subject_handle_reply_to() {
    let out = run(SIMPLE, &plain("friend@example.org", "Quarterly numbers"));
    let v = reply(&out);
    // §4.1: days default 7.
    assert_eq!(v.days, 7);
    // §4.3: "Auto:" and the original subject.
    assert_eq!(v.subject, "Auto: Quarterly numbers");
    // §4.5: the reply goes to the envelope sender.
    assert_eq!(v.reply_to, SENDER);
    assert_eq!(v.in_reply_to.as_deref(), Some("<m1@example.org>"));
    assert_eq!(v.from, None);
    // §4.2: the default handle follows the reason, so a new text is a new period.
    let other = run(
        r#"require "vacation"; vacation "Back Monday.";"#,
        &plain("friend@example.org", "x"),
    );
    assert_ne!(v.handle, reply(&other).handle);
    let same = run(SIMPLE, &plain("someone@example.net", "other subject"));
    assert_eq!(v.handle, reply(&same).handle);
    let explicit = run(
        r#"require "vacation"; vacation :handle "h1" :from "me@example.com" "x";"#,
        &plain("friend@example.org", "x"),
    );
    assert_eq!(reply(&explicit).handle, "h1");
    assert_eq!(reply(&explicit).from.as_deref(), Some("me@example.com"));
}

#[test]
fn days_are_clamped_to_1_through_30() {
    let days = |n: &str| {
        let src = format!("require \"vacation\"; vacation :days {n} \"x\";");
        reply(&run(&src, &plain("friend@example.org", "x"))).days
    };
    assert_eq!(days("0"), 1);
    assert_eq!(days("365"), 30);
    assert_eq!(days("14"), 14);
}

fn suppressed(headers: &[&str], from: &str) -> Option<VacationSuppressed> {
    let m = msg(headers, "x");
    let out = try_run_env(SIMPLE, &m, from, ME).expect("runs");
    assert_eq!(
        out.vacation_suppressed.is_some(),
        !out.actions.iter().any(|a| matches!(a, Action::Vacation(_))),
        "a suppressed reply must not be in the actions"
    );
    // Implicit keep stands either way.
    assert_eq!(out.actions.last(), Some(&keep()));
    out.vacation_suppressed
}

#[test]
fn no_reply_to_lists_bulk_or_automatic_mail() {
    let to_me = "To: me@example.com";
    let from = "From: a@example.org";
    assert_eq!(suppressed(&[from, to_me], SENDER), None);
    assert_eq!(
        suppressed(&[from, to_me, "List-Id: <x.lists.example.org>"], SENDER),
        Some(VacationSuppressed::MailingList)
    );
    assert_eq!(
        suppressed(
            &[from, to_me, "List-Unsubscribe: <mailto:u@example.org>"],
            SENDER
        ),
        Some(VacationSuppressed::MailingList)
    );
    for p in ["bulk", "List", "junk"] {
        assert_eq!(
            suppressed(&[from, to_me, &format!("Precedence: {p}")], SENDER),
            Some(VacationSuppressed::Bulk),
            "Precedence: {p}"
        );
    }
    assert_eq!(
        suppressed(&[from, to_me, "Precedence: first-class"], SENDER),
        None
    );
    assert_eq!(
        suppressed(&[from, to_me, "Auto-Submitted: auto-replied"], SENDER),
        Some(VacationSuppressed::AutoSubmitted)
    );
    assert_eq!(
        suppressed(&[from, to_me, "Auto-Submitted: no"], SENDER),
        None
    );
}

#[test]
fn no_reply_to_bounces_or_automatic_senders() {
    let h = ["From: a@example.org", "To: me@example.com"];
    assert_eq!(suppressed(&h, ""), Some(VacationSuppressed::NullSender));
    assert_eq!(suppressed(&h, "<>"), Some(VacationSuppressed::NullSender));
    for s in [
        "MAILER-DAEMON@example.org",
        "owner-list@example.org",
        "list-request@example.org",
    ] {
        assert_eq!(
            suppressed(&h, s),
            Some(VacationSuppressed::AutomaticSender),
            "{s}"
        );
    }
    assert_eq!(suppressed(&h, ME), Some(VacationSuppressed::FromUser));
}

#[test]
fn section_4_5_reply_only_when_addressed_to_the_user() {
    assert_eq!(
        suppressed(&["From: a@example.org", "To: other@example.net"], SENDER),
        Some(VacationSuppressed::NotAddressedToUser)
    );
    assert_eq!(
        suppressed(
            &[
                "From: a@example.org",
                "To: other@example.net",
                "Cc: Me <ME@example.com>"
            ],
            SENDER
        ),
        None
    );
    assert_eq!(
        suppressed(
            &["From: a@example.org", "Resent-To: me@example.com"],
            SENDER
        ),
        None
    );
    // An alias given in Input::user_addresses counts too.
    let m = msg(&["From: a@example.org", "To: alias@example.com"], "x");
    let users = strings(&["me@example.com", "alias@example.com"]);
    let out = script(SIMPLE)
        .run(&Input {
            envelope_from: SENDER,
            envelope_to: ME,
            message: &m,
            size: m.len() as u64,
            user_addresses: &users,
        })
        .expect("runs");
    assert_eq!(out.vacation_suppressed, None);
}

#[test]
fn section_4_7_vacation_twice_is_an_error() {
    let src = r#"require "vacation"; vacation "a"; vacation "b";"#;
    assert_eq!(
        try_run(src, &plain("friend@example.org", "x")),
        Err(RunError::DuplicateVacation)
    );
}

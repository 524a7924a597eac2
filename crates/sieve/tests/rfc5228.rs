//! The base language (RFC 5228): the RFC's examples parse and do what the RFC says,
//! and each test, match type, comparator and address part behaves as its section
//! describes.

mod common;

use common::*;
use twinmail_sieve::Action;

/// RFC 5228 §9, the extended example, run against each of its four branches.
const EXTENDED_EXAMPLE: &str = r#"
#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
"#;

#[test]
fn section_9_extended_example_files_list_mail_into_filter() {
    let m = msg(
        &[
            "Sender: owner-ietf-mta-filters@imc.org",
            "From: a@imc.org",
            "To: me@example.net",
        ],
        "x",
    );
    assert_eq!(actions(EXTENDED_EXAMPLE, &m), vec![fileinto("filter")]);
}

#[test]
fn section_9_extended_example_keeps_company_mail() {
    let m = msg(&["From: boss@example.com", "To: me@example.net"], "x");
    assert_eq!(actions(EXTENDED_EXAMPLE, &m), vec![keep()]);
    let out = run(EXTENDED_EXAMPLE, &m);
    assert!(!out.implicit_keep, "this keep is the explicit one");
}

#[test]
fn section_9_extended_example_catches_spam() {
    let not_to_me = msg(&["From: x@spam.example", "To: other@example.net"], "x");
    assert_eq!(
        actions(EXTENDED_EXAMPLE, &not_to_me),
        vec![fileinto("spam")]
    );
    let money = msg(
        &[
            "From: x@spam.example",
            "To: me@example.com",
            "Subject: MAKE Lots Of Money Fast!!",
        ],
        "x",
    );
    // "To: me@example.com" has domain example.com, so the second branch wins first;
    // the spam subject alone needs a recipient outside example.com.
    assert_eq!(actions(EXTENDED_EXAMPLE, &money), vec![keep()]);
    let money = msg(
        &[
            "From: x@spam.example",
            "To: friend@example.net, me@example.com.invalid",
            "Cc: me@example.com",
            "Subject: how to make money fast",
        ],
        "x",
    );
    assert_eq!(actions(EXTENDED_EXAMPLE, &money), vec![fileinto("spam")]);
}

#[test]
fn section_9_extended_example_files_the_rest_as_personal() {
    let m = msg(
        &[
            "From: friend@example.net",
            "To: Me <me@example.com.invalid>, me@example.com",
            "Subject: lunch?",
        ],
        "x",
    );
    // The To holds example.com.invalid (domain is not example.com) and me@example.com
    // (domain example.com): the second branch keeps it.
    assert_eq!(actions(EXTENDED_EXAMPLE, &m), vec![keep()]);
    let m = msg(
        &[
            "From: friend@example.net",
            "Cc: me@example.com",
            "Subject: lunch?",
        ],
        "x",
    );
    assert_eq!(actions(EXTENDED_EXAMPLE, &m), vec![fileinto("personal")]);
}

/// RFC 5228 §3.1's if/elsif/else example.
const IF_EXAMPLE: &str = r#"
require "fileinto";
if header :contains "from" "coyote" {
    discard;
} elsif header :contains ["subject"] ["$$$"] {
    discard;
} else {
    fileinto "INBOX";
}
"#;

#[test]
fn section_3_1_if_elsif_else() {
    assert_eq!(
        actions(
            IF_EXAMPLE,
            &plain("Wile E. Coyote <coyote@acme.example>", "hi")
        ),
        vec![Action::Discard]
    );
    assert_eq!(
        actions(IF_EXAMPLE, &plain("a@b.example", "win $$$ now")),
        vec![Action::Discard]
    );
    assert_eq!(
        actions(IF_EXAMPLE, &plain("a@b.example", "hello")),
        vec![fileinto("INBOX")]
    );
}

#[test]
fn section_3_3_stop_ends_the_script_and_implicit_keep_still_applies() {
    let out = run("stop; discard;", &plain("a@b.example", "x"));
    assert_eq!(out.actions, vec![keep()]);
    assert!(out.implicit_keep);
}

#[test]
fn section_4_2_redirect_cancels_implicit_keep() {
    assert_eq!(
        actions(
            r#"redirect "bart@example.com";"#,
            &plain("a@b.example", "x")
        ),
        vec![redirect("bart@example.com")]
    );
}

#[test]
fn section_4_3_keep_example() {
    let src = "if size :under 1M { keep; } else { discard; }";
    assert_eq!(actions(src, &plain("a@b.example", "x")), vec![keep()]);
    let big = msg(&["From: a@b.example"], &"x".repeat(1 << 20));
    assert_eq!(actions(src, &big), vec![Action::Discard]);
}

#[test]
fn section_4_4_discard_example() {
    let src = r#"if header :contains ["from"] ["idiot@example.com"] { discard; }"#;
    assert_eq!(
        actions(src, &plain("The Idiot <idiot@example.com>", "x")),
        vec![Action::Discard]
    );
    assert_eq!(actions(src, &plain("a@b.example", "x")), vec![keep()]);
}

#[test]
fn section_5_1_address_all_localpart_domain() {
    let m = plain("Tim <Tim@Example.COM>", "x");
    let hit = |t: &str| actions(&format!("if {t} {{ discard; }}"), &m) == vec![Action::Discard];
    assert!(hit(r#"address :is :all "from" "tim@example.com""#));
    assert!(hit(r#"address :localpart :is "from" "tim""#));
    assert!(hit(r#"address :domain :is "from" "example.com""#));
    assert!(!hit(r#"address :domain :is "from" "tim""#));
    // The display name is not part of the address.
    assert!(!hit(r#"address :contains "from" "Tim <""#));
    // i;octet is case-sensitive (§2.7.3).
    assert!(!hit(
        r#"address :comparator "i;octet" :is "from" "tim@example.com""#
    ));
}

#[test]
fn section_5_1_address_reads_groups_and_encoded_names() {
    let m = msg(
        &[
            "From: =?utf-8?q?J=C3=B6rg?= <jorg@example.de>",
            "To: friends: a@x.example, b@y.example;",
        ],
        "x",
    );
    let hit = |t: &str| actions(&format!("if {t} {{ discard; }}"), &m) == vec![Action::Discard];
    assert!(hit(r#"address :is "from" "jorg@example.de""#));
    assert!(hit(r#"address :domain :is "to" "y.example""#));
}

#[test]
fn section_5_2_allof_and_5_3_anyof() {
    let m = plain("Dick Cheney <vp@example.gov>", "gone fishing");
    let all = r#"if allof (header :contains "From" "Cheney", header :contains "Subject" "fishing") { discard; }"#;
    assert_eq!(actions(all, &m), vec![Action::Discard]);
    let all_one_false = r#"if allof (header :contains "From" "Cheney", header :contains "Subject" "golf") { discard; }"#;
    assert_eq!(actions(all_one_false, &m), vec![keep()]);
    let any = r#"if anyof (header :contains "From" "Nobody", header :contains "Subject" "fishing") { discard; }"#;
    assert_eq!(actions(any, &m), vec![Action::Discard]);
}

#[test]
fn section_5_4_envelope() {
    let src = r#"require "envelope";
        if envelope :all :is "from" "tim@example.com" { discard; }"#;
    let m = plain("x@y.example", "x");
    assert_eq!(
        try_run_env(src, &m, "tim@example.com", ME).map(|o| o.actions),
        Ok(vec![Action::Discard])
    );
    assert_eq!(
        try_run_env(src, &m, "<tim@example.com>", ME).map(|o| o.actions),
        Ok(vec![Action::Discard])
    );
    assert_eq!(
        try_run_env(src, &m, "other@example.com", ME).map(|o| o.actions),
        Ok(vec![keep()])
    );
    let to = r#"require "envelope";
        if envelope :localpart :is "to" "me" { fileinto "mine"; }"#;
    let to = to.replace(
        "require \"envelope\";",
        "require [\"envelope\", \"fileinto\"];",
    );
    assert_eq!(actions(&to, &m), vec![fileinto("mine")]);
}

#[test]
fn section_5_4_envelope_null_sender_compares_as_empty() {
    let src = r#"require "envelope";
        if envelope :is "from" "" { discard; }"#;
    let m = plain("MAILER-DAEMON@example.org", "failure");
    assert_eq!(
        try_run_env(src, &m, "", ME).map(|o| o.actions),
        Ok(vec![Action::Discard])
    );
}

#[test]
fn section_5_5_exists() {
    let src = r#"if exists ["From","Date"] { discard; }"#;
    let with_date = msg(
        &["From: a@b.example", "Date: Thu, 3 Dec 2026 10:00:00 +0000"],
        "x",
    );
    assert_eq!(actions(src, &with_date), vec![Action::Discard]);
    assert_eq!(actions(src, &plain("a@b.example", "x")), vec![keep()]);
    // §5.8: not exists.
    let not = r#"if not exists ["From","Date"] { discard; }"#;
    assert_eq!(
        actions(not, &plain("a@b.example", "x")),
        vec![Action::Discard]
    );
}

#[test]
fn section_5_6_false_and_5_10_true() {
    assert_eq!(
        actions("if false { discard; }", &plain("a@b", "x")),
        vec![keep()]
    );
    assert_eq!(
        actions("if true { discard; }", &plain("a@b", "x")),
        vec![Action::Discard]
    );
}

#[test]
fn section_5_7_header_decodes_and_every_occurrence_counts() {
    let m = msg(
        &[
            "From: a@b.example",
            "Received: from one",
            "Received: from two",
            "Subject: =?utf-8?b?R3LDvMOfZQ==?= from\r\n  afar",
            "X-Caffeine:",
        ],
        "x",
    );
    let hit = |t: &str| actions(&format!("if {t} {{ discard; }}"), &m) == vec![Action::Discard];
    assert!(hit(r#"header :is "received" "from two""#));
    assert!(hit(r#"header :is "Subject" "Grüße from afar""#));
    assert!(hit(r#"header :is "X-Caffeine" """#));
    assert!(!hit(r#"header :contains "X-Missing" """#));
    assert!(hit(r#"header :contains ["X-Missing", "Subject"] "AFAR""#));
}

#[test]
fn section_5_9_size_over_and_under() {
    let m = msg(&["From: a@b"], &"x".repeat(2000));
    let hit = |t: &str| actions(&format!("if {t} {{ discard; }}"), &m) == vec![Action::Discard];
    assert!(hit("size :over 1K"));
    assert!(!hit("size :under 1K"));
    assert!(hit("size :under 3K"));
    assert!(!hit("size :over 100K"));
}

#[test]
fn section_2_7_1_match_types_and_escapes() {
    let m = plain("a@b.example", "Price: 5* off? yes");
    let hit = |t: &str| actions(&format!("if {t} {{ discard; }}"), &m) == vec![Action::Discard];
    assert!(hit(r#"header :matches "subject" "price: ?\\* off\\? *""#));
    assert!(!hit(r#"header :matches "subject" "price: ?\\* off\\? ""#));
    assert!(hit(r#"header :contains "subject" "OFF?""#));
    assert!(!hit(r#"header :is "subject" "price""#));
}

#[test]
fn section_2_7_3_comparators() {
    let m = msg(
        &["From: a@b", "Subject: MAKE MONEY FAST", "X-Spam-Score: 007"],
        "x",
    );
    let hit = |t: &str| {
        let src = format!("require \"comparator-i;ascii-numeric\"; if {t} {{ discard; }}");
        actions(&src, &m) == vec![Action::Discard]
    };
    assert!(hit(
        r#"header :contains :comparator "i;octet" "Subject" "MAKE MONEY FAST""#
    ));
    assert!(!hit(
        r#"header :contains :comparator "i;octet" "Subject" "make money fast""#
    ));
    assert!(hit(r#"header :contains "Subject" "make money fast""#));
    assert!(hit(
        r#"header :is :comparator "i;ascii-numeric" "X-Spam-Score" "7""#
    ));
    assert!(!hit(
        r#"header :is :comparator "i;ascii-numeric" "X-Spam-Score" "70""#
    ));
}

#[test]
fn section_2_10_3_duplicate_actions_happen_once() {
    let src = r#"require "fileinto";
        fileinto "foo"; fileinto "foo"; redirect "a@b.example"; redirect "A@B.example"; keep; keep;"#;
    assert_eq!(
        actions(src, &plain("x@y", "x")),
        vec![fileinto("foo"), redirect("a@b.example"), keep()]
    );
}

#[test]
fn section_2_4_2_strings_multiline_and_escapes() {
    let src = "require \"fileinto\";\r\nfileinto text:\r\nfolder \"one\"\r\n..two\r\n.\r\n;\r\nfileinto \"a\\\"b\\\\c\\d\";";
    assert_eq!(
        actions(src, &plain("x@y", "x")),
        vec![fileinto("folder \"one\"\r\n.two\r\n"), fileinto("a\"b\\cd")]
    );
}

#[test]
fn section_2_3_comments_and_case_insensitive_identifiers() {
    let src = "/* a\r\n * bracketed comment */ IF Header :CONTAINS \"subject\" \"x\" # hash\r\n{ DISCARD; }";
    assert_eq!(actions(src, &plain("x@y", "x")), vec![Action::Discard]);
}

#[test]
fn section_2_4_2_4_encoded_characters() {
    let src = r#"require ["encoded-character", "fileinto"];
        if header :contains "subject" "${hex:40}${unicode:263A}" { fileinto "${hex: 46 6f 6f}"; }"#;
    assert_eq!(
        actions(src, &plain("a@b", "mail @☺ here")),
        vec![fileinto("Foo")]
    );
    // Without the require, the text is literal.
    let literal = r#"require "fileinto"; fileinto "${hex:40}";"#;
    assert_eq!(
        actions(literal, &plain("a@b", "x")),
        vec![fileinto("${hex:40}")]
    );
    let e = parse_error("require \"encoded-character\";\nkeep :flags \"${unicode:D800}\";");
    assert_eq!(e.pos.line, 2);
    assert!(e.to_string().contains("invalid encoded character"), "{e}");
}

#[test]
fn section_5_1_addresses_without_at_match_only_all() {
    let m = msg(&["From: a@b.example", "To: undisclosed-recipients:;"], "x");
    let hit = |t: &str| {
        let src = format!("require \"envelope\"; if {t} {{ discard; }}");
        try_run_env(&src, &m, SENDER, "localonly").map(|o| o.actions) == Ok(vec![Action::Discard])
    };
    assert!(hit(r#"envelope :all :is "to" "localonly""#));
    assert!(!hit(r#"envelope :localpart :is "to" "localonly""#));
    assert!(!hit(r#"envelope :domain :is "to" """#));
    // An empty group has no addresses at all.
    assert!(!hit(r#"address :all :matches "to" "*""#));
}

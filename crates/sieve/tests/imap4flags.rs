//! The "imap4flags" extension (RFC 5232): the internal flag variable and named flag
//! variables, `:flags` on keep and fileinto, hasflag, and implicit keep's flags.

mod common;

use common::*;
use twinmail_sieve::Action;

#[test]
fn section_3_flags_set_before_fileinto_go_with_it() {
    // RFC 5232's example of flagging the boss's mail, with "variables" required so
    // "${flagvar}" expands.
    let src = r#"require ["imap4flags", "fileinto", "variables"];
        if header :contains "from" "boss@frobnitzm.example.edu" {
            setflag "flagvar" "\\Flagged";
            fileinto :flags "${flagvar}" "INBOX.From Boss";
        }"#;
    assert_eq!(
        actions(src, &plain("boss@frobnitzm.example.edu", "x")),
        vec![Action::FileInto {
            mailbox: "INBOX.From Boss".into(),
            flags: strings(&["\\Flagged"]),
            copy: false,
        }]
    );
}

#[test]
fn section_3_internal_variable_applies_to_keep_fileinto_and_implicit_keep() {
    let src = r#"require ["imap4flags", "fileinto"];
        addflag "\\Seen";
        fileinto :copy "Archive";
        addflag ["$Work", "\\seen"];
        removeflag "\\Seen";
    "#;
    let src = src.replace(
        "require [\"imap4flags\", \"fileinto\"]",
        "require [\"imap4flags\", \"fileinto\", \"copy\"]",
    );
    let out = run(&src, &plain("a@b", "x"));
    assert_eq!(
        out.actions,
        vec![
            Action::FileInto {
                mailbox: "Archive".into(),
                flags: strings(&["\\Seen"]),
                copy: true,
            },
            // Implicit keep takes the flags as they are at the end of the run.
            Action::Keep {
                flags: strings(&["$Work"]),
            },
        ]
    );
}

#[test]
fn section_5_flags_tag_overrides_the_internal_variable() {
    let src = r#"require ["imap4flags"];
        setflag "\\Seen";
        keep :flags ["\\Answered", "\\Flagged \\Draft"];"#;
    assert_eq!(
        actions(src, &plain("a@b", "x")),
        vec![Action::Keep {
            flags: strings(&["\\Answered", "\\Flagged", "\\Draft"]),
        }]
    );
}

#[test]
fn section_4_hasflag() {
    let hit = |setup: &str, test: &str| {
        let src =
            format!("require [\"imap4flags\", \"variables\"]; {setup} if {test} {{ discard; }}");
        actions(&src, &plain("a@b", "x")).contains(&Action::Discard)
    };
    let setup = r#"set "MyVar" "NonJunk Junk gotJunk";"#;
    assert!(hit(setup, r#"hasflag :contains "MyVar" "Junk""#));
    assert!(hit(setup, r#"hasflag :is "MyVar" "junk""#));
    assert!(!hit(setup, r#"hasflag :contains "MyVar" "forward""#));
    assert!(hit(setup, r#"hasflag :is "MyVar" ["forward", "NonJunk"]"#));
    assert!(hit(setup, r#"hasflag :matches "MyVar" "got*""#));
    // Without a variable list: the internal variable.
    assert!(hit(r#"addflag "\\Seen";"#, r#"hasflag "\\seen""#));
    assert!(!hit(r#"addflag "\\Seen";"#, r#"hasflag "\\Flagged""#));
}

#[test]
fn flags_are_deduplicated_and_invalid_ones_dropped() {
    let src = r#"require ["imap4flags"];
        addflag ["a", "A", "\\Bogus", "(bad)", "b"];
        addflag "b c";"#;
    assert_eq!(
        actions(src, &plain("a@b", "x")),
        vec![Action::Keep {
            flags: strings(&["a", "b", "c"]),
        }]
    );
}

#[test]
fn flag_commands_need_require_and_flags() {
    let e = parse_error("addflag \"x\";");
    assert!(e.to_string().contains("imap4flags"), "{e}");
    let e = parse_error("require \"imap4flags\";\nsetflag;");
    assert_eq!(e.pos.line, 2);
    let e = parse_error("require \"fileinto\";\nfileinto :flags \"x\" \"box\";");
    assert!(e.to_string().contains("imap4flags"), "{e}");
}

//! reject and ereject (RFC 5429) with the conflicts they forbid, and `:copy`
//! (RFC 3894).

mod common;

use common::*;
use twinmail_sieve::{Action, RunError};

#[test]
fn rfc5429_section_2_1_reject_with_a_multi_line_reason() {
    // RFC 5429 §2.1's example.
    let src = "require [\"reject\"];\r\n\
      if size :over 100K {\r\n\
          reject text:\r\n\
Your message is too big.  If you want to send me a big attachment,\r\n\
put it on a public web site and send me a URL.\r\n\
.\r\n\
          ;\r\n\
      }";
    let big = msg(&["From: a@b.example"], &"x".repeat(200 * 1024));
    let out = run(src, &big);
    assert_eq!(
        out.actions,
        vec![Action::Reject {
            reason: "Your message is too big.  If you want to send me a big attachment,\r\n\
put it on a public web site and send me a URL.\r\n"
                .into(),
            ereject: false,
        }]
    );
    assert!(!out.implicit_keep, "reject cancels implicit keep");
    assert_eq!(actions(src, &plain("a@b.example", "x")), vec![keep()]);
}

#[test]
fn rfc5429_ereject() {
    let src = r#"require "ereject"; ereject "no thanks";"#;
    assert_eq!(
        actions(src, &plain("a@b", "x")),
        vec![Action::Reject {
            reason: "no thanks".into(),
            ereject: true
        }]
    );
}

#[test]
fn rfc5429_section_2_1_reject_conflicts_with_keep_fileinto_redirect_vacation() {
    for (other, name) in [
        ("keep;", "keep"),
        ("fileinto \"x\";", "fileinto"),
        ("redirect \"a@b.example\";", "redirect"),
        ("vacation \"away\";", "vacation"),
        ("ereject \"again\";", "ereject"),
    ] {
        let before = format!(
            "require [\"reject\", \"ereject\", \"fileinto\", \"vacation\"]; {other} reject \"no\";"
        );
        assert_eq!(
            try_run(&before, &plain("a@b.example", "x")),
            Err(RunError::Conflict {
                first: name,
                second: "reject"
            }),
            "{other} then reject"
        );
        let after = format!(
            "require [\"reject\", \"ereject\", \"fileinto\", \"vacation\"]; reject \"no\"; {other}"
        );
        assert!(
            matches!(
                try_run(&after, &plain("a@b.example", "x")),
                Err(RunError::Conflict {
                    first: "reject",
                    ..
                })
            ),
            "reject then {other}"
        );
    }
    // Discard and reject may go together.
    let ok = r#"require "reject"; discard; reject "no";"#;
    assert!(try_run(ok, &plain("a@b", "x")).is_ok());
}

#[test]
fn rfc3894_copy_keeps_implicit_keep() {
    let src = r#"require ["copy", "fileinto"];
        if header :matches "Subject" "*" {
            fileinto :copy "All Mail";
            redirect :copy "archive@example.net";
        }"#;
    let out = run(src, &plain("a@b", "x"));
    assert_eq!(
        out.actions,
        vec![
            Action::FileInto {
                mailbox: "All Mail".into(),
                flags: vec![],
                copy: true
            },
            Action::Redirect {
                address: "archive@example.net".into(),
                copy: true
            },
            keep(),
        ]
    );
    assert!(out.implicit_keep);
    let e = parse_error("require [\"fileinto\"];\nfileinto :copy \"All Mail\";");
    assert!(e.to_string().contains("\"copy\""), "{e}");
}

//! The "variables" extension (RFC 5229): `set` and its modifiers, `${name}` and match
//! variables from `:matches`, the string test, and the RFC's examples.

mod common;

use common::*;
use twinmail_sieve::{Action, ParseErrorKind};

/// Files into a mailbox named by `value` after `set "x"`, to see what a string became.
fn expanded(setup: &str, value: &str) -> String {
    let src = format!("require [\"variables\", \"fileinto\"]; {setup} fileinto \"{value}\";");
    match actions(&src, &plain("a@b.example", "x")).first() {
        Some(Action::FileInto { mailbox, .. }) => mailbox.clone(),
        other => panic!("expected fileinto, got {other:?}"),
    }
}

#[test]
fn section_3_references_that_are_not_variables_stay_literal() {
    let setup = r#"set "company" "ACME";"#;
    // The RFC's own list of examples.
    assert_eq!(expanded(setup, "&%${}!"), "&%${}!");
    assert_eq!(expanded(setup, "${doh!}"), "${doh!}");
    assert_eq!(expanded(setup, "${company}"), "ACME");
    assert_eq!(expanded(setup, "${BAD${Company}"), "${BADACME");
    assert_eq!(
        expanded(setup, "${President, ${Company} Inc.}"),
        "${President, ACME Inc.}"
    );
    // Unset variables are empty.
    assert_eq!(expanded(setup, "[${unset}]"), "[]");
}

#[test]
fn section_3_multi_line_values_expand() {
    let src = "require [\"variables\", \"vacation\"];\r\n\
        set \"honorific\" \"Mr\";\r\n\
        set \"first_name\" \"Wile\";\r\n\
        set \"last_name\" \"Coyote\";\r\n\
        set \"vacation\" text:\r\n\
Dear ${HONORIFIC} ${last_name},\r\n\
I'm out, please leave a message after the meep.\r\n\
.\r\n\
;\r\n\
        vacation :days 1 \"${vacation}\";";
    let out = run(src, &plain("friend@example.org", "hi"));
    let Some(Action::Vacation(v)) = out.actions.first() else {
        panic!("expected a vacation reply: {out:?}");
    };
    assert_eq!(
        v.reason,
        "Dear Mr Coyote,\r\nI'm out, please leave a message after the meep.\r\n"
    );
}

#[test]
fn section_4_1_modifiers() {
    let a = r#"set "a" "juMBlEd lETteRS";"#;
    assert_eq!(expanded(a, "${a}"), "juMBlEd lETteRS");
    assert_eq!(
        expanded(&format!(r#"{a} set :length "b" "${{a}}";"#), "${b}"),
        "15"
    );
    assert_eq!(
        expanded(&format!(r#"{a} set :lower "b" "${{a}}";"#), "${b}"),
        "jumbled letters"
    );
    assert_eq!(
        expanded(&format!(r#"{a} set :upperfirst "b" "${{a}}";"#), "${b}"),
        "JuMBlEd lETteRS"
    );
    assert_eq!(
        expanded(
            &format!(r#"{a} set :upperfirst :lower "b" "${{a}}";"#),
            "${b}"
        ),
        "Jumbled letters"
    );
    assert_eq!(
        expanded(r#"set :quotewildcard "b" "Rock*";"#, "${b}"),
        "Rock\\*"
    );
}

#[test]
fn section_4_1_two_modifiers_of_one_precedence_are_an_error() {
    let e = parse_error("require \"variables\";\nset :lower :upper \"a\" \"b\";");
    assert_eq!(e.pos.line, 2);
    assert!(e.to_string().contains("same precedence"), "{e}");
}

#[test]
fn section_3_2_match_variables_example() {
    // RFC 5229 §3.2's example script.
    let src = r#"
      require ["fileinto", "variables"];

      if header :matches "List-ID" "*<*@*" {
          fileinto "INBOX.lists.${2}"; stop;
      }

      # Imagine the header
      # Subject: [acme-users] [fwd] version 1.0 is out
      if header :matches "Subject" "[*] *" {
          # ${1} will hold "acme-users",
          # ${2} will hold "[fwd] version 1.0 is out"
          fileinto "INBOX.lists.${1}"; stop;
      }

      # Imagine the header
      # To: coyote@ACME.Example.COM
      if address :matches ["To", "Cc"] ["coyote@**.com",
              "wile@**.com"] {
          # ${0} is the matching address
          # ${1} is always the empty string
          # ${2} is part of the domain name ("ACME.Example")
          fileinto "INBOX.business.${2}"; stop;
      } else {
          # Control wouldn't reach this block if any match was
          # successful, so no match variables are set at this
          # point.
      }

      if anyof (true, address :domain :matches "To" "*.com") {
          # The second test is never evaluated, so there are
          # still no match variables set.
          stop;
      }
    "#;
    let list = msg(
        &[
            "From: a@b.example",
            "List-ID: Sales <sales@example.org>",
            "Subject: x",
        ],
        "x",
    );
    assert_eq!(actions(src, &list), vec![fileinto("INBOX.lists.sales")]);
    let subject = plain("a@b.example", "[acme-users] [fwd] version 1.0 is out");
    assert_eq!(
        actions(src, &subject),
        vec![fileinto("INBOX.lists.acme-users")]
    );
    let to = msg(&["From: a@b.example", "To: coyote@ACME.Example.COM"], "x");
    assert_eq!(
        actions(src, &to),
        vec![fileinto("INBOX.business.ACME.Example")]
    );
    let neither = msg(&["From: a@b.example", "To: someone@example.net"], "x");
    assert_eq!(actions(src, &neither), vec![keep()]);
}

#[test]
fn section_3_2_failed_tests_leave_match_variables_alone() {
    let src = r#"require ["fileinto", "variables"];
        if header :matches "Subject" "*-*" { }
        if header :matches "Subject" "nomatch*" { }
        fileinto "${1}/${2}/${0}";"#;
    assert_eq!(
        actions(src, &plain("a@b", "left-right")),
        vec![fileinto("left/right/left-right")]
    );
}

#[test]
fn section_3_2_every_wildcard_numbers_a_match_variable_and_missing_ones_are_empty() {
    // ${1}..${9} are what the RFC requires; the tenth wildcard is ${10} here, and a
    // number past the last wildcard expands to "".
    let src = r#"require ["fileinto", "variables"];
        if string :matches "abcdefghijk" "?????????*" { fileinto "${1}${9}${10}${0009}[${11}]"; }"#;
    assert_eq!(actions(src, &plain("a@b", "x")), vec![fileinto("aijki[]")]);
}

#[test]
fn section_5_string_test_example() {
    let src = r#"require ["variables", "fileinto"];
        set "state" "${state} pending";
        if string :matches " ${state} " "* pending *" {
          # the above test always succeeds
          fileinto "pending";
          stop;
        }"#;
    assert_eq!(actions(src, &plain("a@b", "x")), vec![fileinto("pending")]);
}

#[test]
fn section_5_string_test_with_comparators() {
    let src = r#"require ["variables", "fileinto", "comparator-i;ascii-numeric"];
        set "n" "0042";
        if string :is :comparator "i;ascii-numeric" "${n}" "42" { fileinto "num"; }
        if string :is "${n}" "42" { fileinto "text"; }"#;
    assert_eq!(actions(src, &plain("a@b", "x")), vec![fileinto("num")]);
}

#[test]
fn variables_are_case_insensitive_and_need_require() {
    assert_eq!(expanded(r#"set "Name" "v";"#, "${NAME}${name}"), "vv");
    let e = parse_error("set \"a\" \"b\";");
    assert!(
        matches!(e.kind, ParseErrorKind::NotRequired { ref capability, .. } if capability == "variables"),
        "{e}"
    );
    // Without "variables", ${...} is plain text.
    let src = r#"require "fileinto"; fileinto "${x}";"#;
    assert_eq!(actions(src, &plain("a@b", "x")), vec![fileinto("${x}")]);
}

#[test]
fn namespaced_and_invalid_variable_names_are_parse_errors() {
    let e = parse_error("require \"variables\";\n\nset \"a\" \"${env.user}\";");
    assert_eq!(e.pos.line, 3);
    assert!(matches!(e.kind, ParseErrorKind::BadVariableName(_)), "{e}");
    let e = parse_error("require \"variables\";\nset \"1abc\" \"x\";");
    assert!(matches!(e.kind, ParseErrorKind::BadVariableName(_)), "{e}");
}

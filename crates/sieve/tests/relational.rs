//! The "relational" extension (RFC 5231): `:value` and `:count`, with the RFC's
//! examples.

mod common;

use common::*;
use twinmail_sieve::Action;

/// The message of RFC 5231 §6.
fn section_6_message() -> Vec<u8> {
    msg(
        &[
            "received: ...",
            "received: ...",
            "subject: example",
            "to: foo@example.com.invalid, baz@example.com.invalid",
            "cc: qux@example.com.invalid",
        ],
        "x",
    )
}

fn holds(test: &str, m: &[u8]) -> bool {
    let src = format!(
        "require [\"relational\", \"comparator-i;ascii-numeric\"]; if {test} {{ discard; }}"
    );
    actions(&src, m) == vec![Action::Discard]
}

#[test]
fn section_6_examples() {
    let m = section_6_message();
    assert!(holds(
        r#"address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"]"#,
        &m
    ));
    assert!(!holds(
        r#"anyof ( address :count "ge" :comparator "i;ascii-numeric" ["to"] ["3"],
                   address :count "ge" :comparator "i;ascii-numeric" ["cc"] ["3"] )"#,
        &m
    ));
    assert!(!holds(
        r#"header :count "ge" :comparator "i;ascii-numeric" ["received"] ["3"]"#,
        &m
    ));
    assert!(holds(
        r#"header :count "ge" :comparator "i;ascii-numeric" ["received", "subject"] ["3"]"#,
        &m
    ));
    // Fields are counted, not addresses.
    assert!(!holds(
        r#"header :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"]"#,
        &m
    ));
}

#[test]
fn value_compares_numbers_or_text() {
    let m = msg(
        &[
            "From: a@b.example",
            "X-Spam-Score: 12",
            "X-Priority: 2 (High)",
        ],
        "x",
    );
    // The spam-score filter users write against rspamd's header.
    assert!(holds(
        r#"header :value "ge" :comparator "i;ascii-numeric" "X-Spam-Score" "5""#,
        &m
    ));
    assert!(!holds(
        r#"header :value "lt" :comparator "i;ascii-numeric" "X-Spam-Score" "5""#,
        &m
    ));
    // Without a numeric comparator "12" sorts before "5".
    assert!(holds(r#"header :value "lt" "X-Spam-Score" "5""#, &m));
    assert!(holds(
        r#"header :value "lt" :comparator "i;ascii-numeric" ["x-priority"] ["3"]"#,
        &m
    ));
    assert!(holds(r#"header :value "ne" "X-Spam-Score" "13""#, &m));
    // A missing header gives no value: no relation holds.
    assert!(!holds(r#"header :value "ne" "X-Missing" "13""#, &m));
}

#[test]
fn string_count_ignores_empty_strings() {
    let src = r#"require ["relational", "variables", "comparator-i;ascii-numeric"];
        if string :count "eq" :comparator "i;ascii-numeric" ["a", "", "b"] "2" { discard; }"#;
    assert_eq!(actions(src, &plain("a@b", "x")), vec![Action::Discard]);
}

#[test]
fn relational_errors() {
    let e = parse_error("if header :value \"gt\" \"a\" \"b\" { keep; }");
    assert!(e.to_string().contains("\"relational\""), "{e}");
    let e =
        parse_error("require \"relational\";\nif header :value \"bigger\" \"a\" \"b\" { keep; }");
    assert_eq!(e.pos.line, 2);
    assert!(e.to_string().contains("unknown relational operator"), "{e}");
    let e =
        parse_error("require [\"relational\", \"body\"];\nif body :count \"gt\" \"1\" { keep; }");
    assert!(
        e.to_string().contains(":count cannot be used with body"),
        "{e}"
    );
}

//! Implicit keep (RFC 5228 §2.10.2): which actions cancel it and which do not, and the
//! capability list ManageSieve advertises.

mod common;

use common::*;
use twinmail_sieve::{Action, CAPABILITIES, capability_string};

fn implicit(src: &str) -> bool {
    let out = run(src, &plain("a@b.example", "x"));
    assert_eq!(
        out.implicit_keep,
        matches!(out.actions.last(), Some(Action::Keep { .. })) && !src.contains("keep;"),
        "implicit_keep says whether the final Keep is the implicit one: {out:?}"
    );
    out.implicit_keep
}

#[test]
fn an_empty_script_keeps() {
    let out = run("", &plain("a@b.example", "x"));
    assert_eq!(out.actions, vec![keep()]);
    assert!(out.implicit_keep);
    assert!(implicit("# only a comment\n"));
}

#[test]
fn cancelled_by_discard_fileinto_redirect_reject_and_keep() {
    assert!(!implicit("discard;"));
    assert!(!implicit("require \"fileinto\"; fileinto \"x\";"));
    assert!(!implicit("redirect \"a@b.example\";"));
    assert!(!implicit("require \"reject\"; reject \"no\";"));
    assert!(!implicit("require \"ereject\"; ereject \"no\";"));
    let out = run("keep;", &plain("a@b.example", "x"));
    assert_eq!(out.actions, vec![keep()]);
    assert!(!out.implicit_keep);
}

#[test]
fn not_cancelled_by_copy_flags_set_vacation_or_tests() {
    assert!(implicit(
        "require [\"fileinto\", \"copy\"]; fileinto :copy \"x\";"
    ));
    assert!(implicit(
        "require \"copy\"; redirect :copy \"a@b.example\";"
    ));
    assert!(implicit("require \"imap4flags\"; addflag \"x\";"));
    assert!(implicit("require \"variables\"; set \"a\" \"b\";"));
    assert!(implicit("require \"vacation\"; vacation \"away\";"));
    assert!(implicit("if header :contains \"subject\" \"x\" { stop; }"));
}

#[test]
fn discard_with_fileinto_still_files() {
    assert_eq!(
        actions(
            "require \"fileinto\"; fileinto \"x\"; discard;",
            &plain("a@b", "x")
        ),
        vec![fileinto("x"), Action::Discard]
    );
}

#[test]
fn capabilities_are_what_require_accepts() {
    for cap in CAPABILITIES {
        script(&format!("require \"{cap}\";"));
    }
    assert!(capability_string().starts_with("fileinto reject ereject envelope body"));
    assert_eq!(
        script("require [\"Fileinto\", \"VARIABLES\"];").required(),
        &["fileinto".to_string(), "variables".to_string()]
    );
}

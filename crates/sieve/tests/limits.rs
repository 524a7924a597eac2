//! Every limit trips with a clean error value: script size and nesting at parse time;
//! actions, redirects, variables, string lengths and the step budget at run time.

mod common;

use common::*;
use twinmail_sieve::{Input, Limits, ParseErrorKind, RunError, Script};

fn run_limited(src: &str, limits: &Limits) -> Result<twinmail_sieve::Outcome, RunError> {
    let m = plain("a@b.example", "x");
    let users = strings(&[ME]);
    Script::parse(src, limits)
        .unwrap_or_else(|e| panic!("refused: {e}"))
        .run(&Input {
            envelope_from: SENDER,
            envelope_to: ME,
            message: &m,
            size: m.len() as u64,
            user_addresses: &users,
        })
}

#[test]
fn script_size() {
    let big = format!("# {}\nkeep;", "x".repeat(64 * 1024));
    let e = parse_error(&big);
    assert!(
        matches!(e.kind, ParseErrorKind::ScriptTooLarge { max: 65536, .. }),
        "{e}"
    );
    assert!(Script::parse("keep;", &Limits::default()).is_ok());
}

#[test]
fn nesting_of_blocks() {
    let deep = |n: usize| format!("{}keep;{}", "if true { ".repeat(n), "}".repeat(n));
    assert!(Script::parse(&deep(32), &Limits::default()).is_ok());
    let e = parse_error(&deep(33));
    assert_eq!(e.kind, ParseErrorKind::TooDeep { max: 32 });
    // Far deeper than any stack would take, still a clean error.
    let e = Script::parse(
        &deep(20_000),
        &Limits {
            max_script_bytes: 1 << 20,
            ..Limits::default()
        },
    )
    .expect_err("too deep");
    assert_eq!(e.kind, ParseErrorKind::TooDeep { max: 32 });
}

#[test]
fn nesting_of_tests() {
    let deep = |n: usize| format!("if {}true{} {{ keep; }}", "not ".repeat(n), "");
    assert!(Script::parse(&deep(31), &Limits::default()).is_ok());
    assert!(matches!(
        parse_error(&deep(40)).kind,
        ParseErrorKind::TooDeep { .. }
    ));
    let lists = |n: usize| format!("if {}true{} {{ keep; }}", "anyof(".repeat(n), ")".repeat(n));
    let e = Script::parse(
        &lists(50_000),
        &Limits {
            max_script_bytes: 1 << 20,
            ..Limits::default()
        },
    )
    .expect_err("too deep");
    assert!(matches!(e.kind, ParseErrorKind::TooDeep { .. }));
}

#[test]
fn number_of_actions() {
    let src = format!(
        "require \"fileinto\"; {}",
        (0..33)
            .map(|i| format!("fileinto \"f{i}\";"))
            .collect::<String>()
    );
    assert_eq!(
        run_limited(&src, &Limits::default()),
        Err(RunError::TooManyActions { max: 32 })
    );
    let ok = format!(
        "require \"fileinto\"; {}",
        (0..32)
            .map(|i| format!("fileinto \"f{i}\";"))
            .collect::<String>()
    );
    assert_eq!(
        run_limited(&ok, &Limits::default()).map(|o| o.actions.len()),
        Ok(32)
    );
}

#[test]
fn number_of_redirects() {
    let src = (0..5)
        .map(|i| format!("redirect \"r{i}@example.net\";"))
        .collect::<String>();
    assert_eq!(
        run_limited(&src, &Limits::default()),
        Err(RunError::TooManyRedirects { max: 4 })
    );
}

#[test]
fn number_and_length_of_variables() {
    let many = format!(
        "require \"variables\"; {}",
        (0..129)
            .map(|i| format!("set \"v{i}\" \"x\";"))
            .collect::<String>()
    );
    assert_eq!(
        run_limited(&many, &Limits::default()),
        Err(RunError::TooManyVariables { max: 128 })
    );
    // Doubling a value until it passes 4 KiB.
    let long = format!(
        "require \"variables\"; set \"a\" \"0123456789abcdef\"; {}",
        "set \"a\" \"${a}${a}\";".repeat(9)
    );
    assert_eq!(
        run_limited(&long, &Limits::default()),
        Err(RunError::StringTooLong {
            len: 8192,
            max: 4096
        })
    );
    // An expansion that repeats one 4 KiB variable is capped at 64 KiB.
    let refs = "${a}".repeat(20);
    let wide = format!(
        "require [\"variables\", \"fileinto\"]; set \"a\" \"{}\"; fileinto \"{refs}\";",
        "x".repeat(4096)
    );
    assert!(matches!(
        run_limited(&wide, &Limits::default()),
        Err(RunError::StringTooLong { max: 65536, .. })
    ));
}

#[test]
fn step_budget_stops_a_long_run() {
    // 500 rules each making 16 comparisons: fine by size, over a small budget.
    let rule = r#"if header :contains ["from","to","subject","message-id"] ["k","l","m","n"] { }"#;
    let src = rule.repeat(500);
    let limits = Limits {
        max_steps: 500,
        ..Limits::default()
    };
    assert_eq!(
        run_limited(&src, &limits),
        Err(RunError::StepBudget { max: 500 })
    );
    assert!(run_limited(&src, &Limits::default()).is_ok());
}

#[test]
fn step_budget_bounds_wildcard_backtracking() {
    // "*aaa...ab" against "aaa...a": every backtrack re-reads the long literal, about
    // 2,000 x 2,000 byte comparisons.
    let src = format!(
        "require \"variables\"; set \"a\" \"{}\"; if string :matches \"${{a}}\" \"*{}b\" {{ discard; }}",
        "a".repeat(4000),
        "a".repeat(2000)
    );
    assert!(matches!(
        run_limited(
            &src,
            &Limits {
                max_steps: 2_000,
                ..Limits::default()
            }
        ),
        Err(RunError::StepBudget { max: 2_000 })
    ));
    assert!(run_limited(&src, &Limits::default()).is_ok());
}

//! Scripts that are refused, with the line and column and the words an author sees in
//! ManageSieve CHECKSCRIPT or `twinmail sieve check`.

mod common;

use common::*;
use twinmail_sieve::{ParseErrorKind, Pos};

fn at(src: &str) -> (u32, u32, String) {
    let e = parse_error(src);
    (e.pos.line, e.pos.column, e.to_string())
}

#[test]
fn unknown_command_names_its_line_and_column() {
    let (line, column, text) = at("keep;\r\n  fileinot \"x\";");
    assert_eq!((line, column), (2, 3));
    assert_eq!(text, "line 2, column 3: unknown command `fileinot`");
}

#[test]
fn unknown_capability_is_refused_at_parse_time() {
    let e = parse_error("require [\"fileinto\",\n \"x-frobnicate\"];");
    assert_eq!(
        e.kind,
        ParseErrorKind::UnknownCapability("x-frobnicate".into())
    );
    assert_eq!(e.pos, Pos { line: 1, column: 1 });
}

#[test]
fn extension_without_require() {
    let (line, _, text) = at("# no require\nfileinto \"x\";");
    assert_eq!(line, 2);
    assert!(text.contains("needs `require \"fileinto\"`"), "{text}");
}

#[test]
fn require_after_another_command() {
    let e = parse_error("keep;\nrequire \"fileinto\";");
    assert_eq!(e.kind, ParseErrorKind::RequireNotFirst);
    assert_eq!(e.pos.line, 2);
}

#[test]
fn missing_semicolon_and_braces() {
    // "keep discard;" reads as keep with a test, so the error is at keep.
    let (line, column, text) = at("keep\ndiscard;");
    assert_eq!((line, column), (1, 1));
    assert!(text.contains("is a `;` missing"), "{text}");
    let (line, column, text) = at("keep;\nstop");
    assert_eq!((line, column), (2, 5));
    assert!(
        text.contains("expected `;` or `{`, found the end of the script"),
        "{text}"
    );
    let (line, _, text) = at("if true {\n keep;\n");
    assert_eq!(line, 3);
    assert!(text.contains("`}`"), "{text}");
    let (line, _, _) = at("if true { keep; }}");
    assert_eq!(line, 1);
}

#[test]
fn unterminated_strings_and_comments_point_at_their_start() {
    assert_eq!(
        parse_error("keep;\n  redirect \"a@b").pos,
        Pos {
            line: 2,
            column: 12
        }
    );
    let e = parse_error("keep;\n/* never closed\n");
    assert_eq!(e.kind, ParseErrorKind::UnterminatedComment);
    assert_eq!(e.pos, Pos { line: 2, column: 1 });
    let e = parse_error("require \"reject\";\nreject text:\nno end\n");
    assert_eq!(e.kind, ParseErrorKind::UnterminatedString);
    assert_eq!(e.pos.line, 2);
    let e = parse_error("require \"reject\";\nreject text: junk\n.\n;");
    assert_eq!(e.kind, ParseErrorKind::TextNotAtLineEnd);
}

#[test]
fn bad_arguments() {
    let (line, _, text) = at("if header :is \"subject\" { keep; }");
    assert_eq!(line, 1);
    assert!(text.contains("the key list is missing"), "{text}");
    let (_, _, text) = at("if header :frob \"a\" \"b\" { keep; }");
    assert!(text.contains("unknown or misplaced tag :frob"), "{text}");
    let (_, _, text) = at("if header :is :contains \"a\" \"b\" { keep; }");
    assert!(text.contains("match type given twice"), "{text}");
    let (_, _, text) = at("if size 100 { keep; }");
    assert!(text.contains(":over or :under"), "{text}");
    let (_, _, text) = at("redirect \"not an address\";");
    assert!(text.contains("not a valid mail address"), "{text}");
    let (_, _, text) = at("keep \"x\";");
    assert!(text.contains("unexpected a string"), "{text}");
    let (_, _, text) = at("if (true, false) { keep; }");
    assert!(text.contains("not a test list"), "{text}");
    let (_, _, text) = at("if not (true, false) { keep; }");
    assert!(text.contains("exactly one test"), "{text}");
    let (_, _, text) = at("if frobnicate { keep; }");
    assert!(text.contains("unknown test `frobnicate`"), "{text}");
}

#[test]
fn comparators() {
    let e = parse_error("if header :comparator \"i;frob\" \"a\" \"b\" { keep; }");
    assert_eq!(e.kind, ParseErrorKind::UnknownComparator("i;frob".into()));
    let e = parse_error(
        "require \"comparator-i;ascii-numeric\";\nif header :contains :comparator \"i;ascii-numeric\" \"a\" \"1\" { keep; }",
    );
    assert!(
        matches!(e.kind, ParseErrorKind::ComparatorMismatch { .. }),
        "{e}"
    );
    assert_eq!(e.pos.line, 2);
    let e = parse_error("if header :comparator \"i;ascii-numeric\" \"a\" \"1\" { keep; }");
    assert!(e.to_string().contains("comparator-i;ascii-numeric"), "{e}");
}

#[test]
fn orphan_else_and_elsif() {
    let e = parse_error("keep;\nelse { keep; }");
    assert_eq!(e.kind, ParseErrorKind::OrphanElse("else".into()));
    assert_eq!(e.pos.line, 2);
    let e = parse_error("if true { keep; } else { keep; } elsif true { keep; }");
    assert_eq!(e.kind, ParseErrorKind::OrphanElse("elsif".into()));
}

#[test]
fn numbers_and_characters() {
    let e = parse_error("if size :over 99999999999G { keep; }");
    assert_eq!(e.kind, ParseErrorKind::NumberTooLarge);
    let e = parse_error("keep;\n\t@");
    assert_eq!(e.kind, ParseErrorKind::UnexpectedChar('@'));
    assert_eq!(e.pos, Pos { line: 2, column: 2 });
    let e = parse_error("if size :over 10X { keep; }");
    assert_eq!(e.kind, ParseErrorKind::UnexpectedChar('X'));
}

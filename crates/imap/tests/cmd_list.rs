//! LIST (RFC 3501 §6.3.8), the RFC 3501 form: `*` and `%`, reference names, the empty
//! pattern asking for the delimiter, INBOX in any case, CHILDREN (RFC 3348) and
//! SPECIAL-USE (RFC 6154) attributes, and names in modified UTF-7.

mod common;

use common::{ALICE, Client, start};

fn list(lines: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = lines.iter().map(|l| format!("* LIST {l}")).collect();
    v.push("A OK LIST completed".into());
    v
}

#[tokio::test]
async fn patterns_and_references() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    for m in ["a/b/c", "a/x", "&AOQ-pfel", "&ZeVnLIqe-/&U,BTFw-"] {
        assert_eq!(
            c.cmd(&format!("CREATE {m}")).await,
            ["A OK CREATE completed"]
        );
    }
    assert_eq!(
        c.cmd("LIST \"\" *").await,
        list(&[
            "(\\HasNoChildren \\Archive) \"/\" Archive",
            "(\\HasNoChildren \\Drafts) \"/\" Drafts",
            "(\\HasNoChildren) \"/\" INBOX",
            "(\\HasNoChildren \\Junk) \"/\" Junk",
            "(\\HasNoChildren \\Sent) \"/\" Sent",
            "(\\HasNoChildren \\Trash) \"/\" Trash",
            "(\\HasChildren) \"/\" a",
            "(\\HasChildren) \"/\" a/b",
            "(\\HasNoChildren) \"/\" a/b/c",
            "(\\HasNoChildren) \"/\" a/x",
            "(\\HasNoChildren) \"/\" &AOQ-pfel",
            "(\\HasChildren) \"/\" &ZeVnLIqe-",
            "(\\HasNoChildren) \"/\" &ZeVnLIqe-/&U,BTFw-",
        ])
    );
    // `%` stops at the delimiter.
    assert_eq!(
        c.cmd("LIST \"\" %").await,
        list(&[
            "(\\HasNoChildren \\Archive) \"/\" Archive",
            "(\\HasNoChildren \\Drafts) \"/\" Drafts",
            "(\\HasNoChildren) \"/\" INBOX",
            "(\\HasNoChildren \\Junk) \"/\" Junk",
            "(\\HasNoChildren \\Sent) \"/\" Sent",
            "(\\HasNoChildren \\Trash) \"/\" Trash",
            "(\\HasChildren) \"/\" a",
            "(\\HasNoChildren) \"/\" &AOQ-pfel",
            "(\\HasChildren) \"/\" &ZeVnLIqe-",
        ])
    );
    for (cmd, want) in [
        (
            "LIST \"\" a/%",
            vec!["(\\HasChildren) \"/\" a/b", "(\\HasNoChildren) \"/\" a/x"],
        ),
        // The reference is prefixed to the pattern as it stands.
        (
            "LIST a/ %",
            vec!["(\\HasChildren) \"/\" a/b", "(\\HasNoChildren) \"/\" a/x"],
        ),
        ("LIST a %", vec!["(\\HasChildren) \"/\" a"]),
        (
            "LIST a/ *",
            vec![
                "(\\HasChildren) \"/\" a/b",
                "(\\HasNoChildren) \"/\" a/b/c",
                "(\\HasNoChildren) \"/\" a/x",
            ],
        ),
        ("LIST \"\" *c", vec!["(\\HasNoChildren) \"/\" a/b/c"]),
        ("LIST \"\" %/%/c", vec!["(\\HasNoChildren) \"/\" a/b/c"]),
        // INBOX in any case; other names are case-sensitive.
        ("LIST \"\" inbox", vec!["(\\HasNoChildren) \"/\" INBOX"]),
        ("LIST \"\" sent", vec![]),
        ("LIST \"\" Nothing*", vec![]),
        // Modified UTF-7 in patterns and names.
        (
            "LIST \"\" &AOQ-*",
            vec!["(\\HasNoChildren) \"/\" &AOQ-pfel"],
        ),
        (
            "LIST &ZeVnLIqe-/ %",
            vec!["(\\HasNoChildren) \"/\" &ZeVnLIqe-/&U,BTFw-"],
        ),
        // The empty pattern asks for the delimiter and the root.
        ("LIST \"\" \"\"", vec!["(\\Noselect) \"/\" \"\""]),
        ("LIST a/b \"\"", vec!["(\\Noselect) \"/\" \"\""]),
    ] {
        assert_eq!(c.cmd(cmd).await, list(&want), "{cmd}");
    }
    // Quoted and literal patterns work as atoms do.
    assert_eq!(
        c.cmd("LIST \"a/\" {1+}\r\n%").await,
        list(&["(\\HasChildren) \"/\" a/b", "(\\HasNoChildren) \"/\" a/x"])
    );
}

#[tokio::test]
async fn children_follow_changes_and_other_sessions_see_them() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let mut other = srv.login(ALICE).await;
    c.cmd("CREATE p").await;
    assert_eq!(
        other.cmd("LIST \"\" p*").await,
        list(&["(\\HasNoChildren) \"/\" p"])
    );
    c.cmd("CREATE p/q").await;
    assert_eq!(
        other.cmd("LIST \"\" p*").await,
        list(&["(\\HasChildren) \"/\" p", "(\\HasNoChildren) \"/\" p/q"])
    );
    c.cmd("DELETE p/q").await;
    assert_eq!(
        other.cmd("LIST \"\" p*").await,
        list(&["(\\HasNoChildren) \"/\" p"])
    );
}

#[tokio::test]
async fn list_needs_login_and_arguments() {
    let srv = start().await;
    let mut u = Client::connect_tls(&srv).await;
    assert_eq!(u.cmd("LIST \"\" *").await, ["A BAD Log in first"]);
    let mut c = srv.login(ALICE).await;
    assert_eq!(c.cmd("LIST \"\"").await, ["A BAD Missing LIST pattern"]);
    assert_eq!(c.cmd("LIST").await, ["A BAD Missing LIST reference"]);
    assert_eq!(c.cmd("NOOP").await, ["A OK NOOP completed"]);
}

#[tokio::test]
async fn a_mailbox_called_nil_is_sent_quoted_wherever_its_name_is_sent() {
    // "NIL" is a legal mailbox name (an astring), but sent as the atom NIL it reads as
    // nil (RFC 3501 §4.5): LIST, LSUB and STATUS quote it, as Dovecot does; the client
    // may name it either way.
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    assert_eq!(c.cmd("CREATE NIL").await, ["A OK CREATE completed"]);
    assert_eq!(c.cmd("CREATE nil/x").await, ["A OK CREATE completed"]);
    assert_eq!(
        c.cmd("LIST \"\" NIL").await,
        list(&["(\\HasNoChildren) \"/\" \"NIL\""])
    );
    assert_eq!(
        c.cmd("LIST \"\" nil/%").await,
        list(&["(\\HasNoChildren) \"/\" nil/x"])
    );
    assert_eq!(
        c.cmd("LIST \"\" nil").await,
        list(&["(\\HasChildren) \"/\" \"nil\""])
    );
    assert_eq!(
        c.cmd("LSUB \"\" NIL").await,
        ["* LSUB () \"/\" \"NIL\"", "A OK LSUB completed"]
    );
    assert_eq!(
        c.cmd("STATUS NIL (MESSAGES)").await,
        ["* STATUS \"NIL\" (MESSAGES 0)", "A OK STATUS completed"]
    );
    assert_eq!(
        c.cmd("LIST \"\" \"NIL\" RETURN (STATUS (MESSAGES))").await,
        [
            "* LIST (\\HasNoChildren) \"/\" \"NIL\"",
            "* STATUS \"NIL\" (MESSAGES 0)",
            "A OK LIST completed"
        ]
    );
}

#[tokio::test]
async fn patterns_mixing_star_and_percent_match_every_name_they_describe() {
    // RFC 3501 §6.3.8: `*` matches zero or more characters, `%` the same but not the
    // hierarchy delimiter; in one pattern both keep their meaning.
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    assert_eq!(c.cmd("CREATE a/b/c").await, ["A OK CREATE completed"]);
    assert_eq!(
        c.cmd("LIST \"\" \"a*/%\"").await,
        list(&["(\\HasChildren) \"/\" a/b", "(\\HasNoChildren) \"/\" a/b/c"])
    );
    assert_eq!(
        c.cmd("LIST \"\" \"%/*c\"").await,
        list(&["(\\HasNoChildren) \"/\" a/b/c"])
    );
    assert_eq!(c.cmd("LIST \"\" \"%/%c\"").await, list(&[]));
}

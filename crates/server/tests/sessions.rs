//! An account's open sessions end when it is disabled, deleted or given a new password,
//! on this twin (the admin command runs in another process) and on the other (the change
//! arrives over the mirror): IMAP says BYE, POP3 and submission close with an error; a new
//! login with the new password works (issue 17).

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
};

use common::pair::{PASSWORD, Pair, py};

/// Opens an IMAP, a POP3 and a submission session for `user` on each twin, runs `change`,
/// then gives each session one more command; prints how each ended, as JSON.
const SESSIONS: &str = r#"
import poplib, time
user, pw = sys.argv[1], sys.argv[2]
ports = json.loads(sys.argv[3])
open_ = []
for twin, p in ports.items():
    m = imap(p['imaps'], user, pw); m.select('INBOX')
    pop = poplib.POP3('127.0.0.1', int(p['pop3'])); pop.stls(CTX); pop.user(user); pop.pass_(pw)
    s = smtplib.SMTP('127.0.0.1', int(p['submission'])); s.starttls(context=CTX); s.login(user, pw)
    open_.append((twin, m, pop, s))
print('ready', flush=True)
sys.stdin.readline()
out = {}
for twin, m, pop, s in open_:
    r = {}
    try:
        typ, _ = m.noop(); r['imap'] = 'answered ' + typ
    except Exception as e:
        r['imap'] = 'closed: ' + type(e).__name__
    try:
        pop.stat(); r['pop3'] = 'answered'
    except Exception as e:
        r['pop3'] = 'closed: ' + str(e)[:60]
    try:
        code, _ = s.noop(); r['smtp'] = ('closed: %d' if code == 421 else 'answered %d') % code
    except Exception as e:
        r['smtp'] = 'closed: ' + str(e)[:60]
    out[twin] = r
print(json.dumps(out), flush=True)
"#;

#[test]
fn a_new_password_ends_the_accounts_sessions_on_both_twins() {
    let pair = Pair::start();
    let user = "changes@example.org";
    pair.add_user(&pair.a, user);
    let ports = serde_json::json!({
        "a": {"imaps": pair.a.port("imaps"), "pop3": pair.a.port("pop3"), "submission": pair.a.port("submission")},
        "b": {"imaps": pair.b.port("imaps"), "pop3": pair.b.port("pop3"), "submission": pair.b.port("submission")},
    });
    twinmail_testkit::require(&["python3"]);
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(format!("{}\n{SESSIONS}", common::pair::PY))
        .args([user, PASSWORD, &ports.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    common::admin(
        &pair.a.config,
        &["user", "passwd", user],
        "a-new-password-1\n",
    );
    pair.wait_in_sync();
    // The server process learns of another process's change within a second.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    let out: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert!(child.wait().unwrap().success());
    for twin in ["a", "b"] {
        let r = &out[twin];
        assert!(
            r["imap"].as_str().unwrap().starts_with("closed"),
            "{twin}: {out}"
        );
        assert!(
            r["pop3"].as_str().unwrap().starts_with("closed"),
            "{twin}: {out}"
        );
        assert!(
            r["smtp"].as_str().unwrap().starts_with("closed"),
            "{twin}: {out}"
        );
    }
    // The new password works on both.
    for twin in [&pair.a, &pair.b] {
        py(
            "m = imap(sys.argv[1], sys.argv[2], sys.argv[3]); m.logout()",
            &[
                twin.port("imaps").to_string(),
                user.to_string(),
                "a-new-password-1".to_string(),
            ],
        );
    }
}

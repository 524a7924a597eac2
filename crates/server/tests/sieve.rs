//! Sieve end to end on real twins: a script stored with `twinmail sieve put` on twin a
//! files (fileinto :flags), flags (addflag) and answers (vacation) mail over SMTP, as
//! seen over IMAP on twin b (the finished copies mirror; b runs nothing); the vacation reply goes out once, from <>, to a real
//! SMTP server; a reject refuses the message in SMTP.

mod common;

use std::time::Duration;

use common::pair::{PASSWORD, Pair, py};
use twinmail_testkit::{Sink, SinkOptions};

const SCRIPT: &str = r#"require ["fileinto", "imap4flags", "vacation"];
if header :contains "subject" "report" {
    fileinto :flags "\\Flagged" "Reports";
    stop;
}
if header :contains "subject" "again" {
    addflag "$Repeat";
}
vacation :days 1 :subject "Away" "I am away until Monday.";
"#;

/// Sends messages with these subjects from `from` to `rcpt` on port 25; one line per
/// message: "ok" or the refusal.
fn send(port: u16, from: &str, rcpt: &str, subjects: &[&str]) -> String {
    let mut args = vec![port.to_string(), from.to_string(), rcpt.to_string()];
    args.extend(subjects.iter().map(|s| s.to_string()));
    py(
        r#"
port, frm, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = smtplib.SMTP('127.0.0.1', port, timeout=30)
for i, subj in enumerate(sys.argv[4:]):
    msg = 'From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <s%d.%s@remote.test>\r\n\r\nbody\r\n' % (frm, rcpt, subj, i, subj.replace(' ', '.'))
    try:
        s.sendmail(frm, [rcpt], msg.encode())
        print('ok')
    except smtplib.SMTPDataError as e:
        print('refused %d %s' % (e.smtp_code, e.smtp_error.decode()))
s.quit()
"#,
        &args,
    )
}

/// Each folder's messages over IMAP: (folder, subject, flags).
fn folders(port: u16, user: &str) -> Vec<(String, String, String)> {
    let out = py(
        r#"
m = imap(sys.argv[1], sys.argv[2], sys.argv[3])
for line in m.list()[1]:
    name = line.decode().rsplit(' "/" ', 1)[1].strip('"')
    m.select('"%s"' % name, readonly=True)
    typ, data = m.uid('FETCH', '1:*', '(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
    for d in data:
        if isinstance(d, tuple):
            flags = d[0].decode().split('FLAGS (')[1].split(')')[0]
            subj = d[1].decode().strip().replace('Subject: ', '')
            print('%s|%s|%s' % (name, subj, flags))
"#,
        &[port.to_string(), user.to_string(), PASSWORD.to_string()],
    );
    out.lines()
        .map(|l| {
            let mut p = l.splitn(3, '|');
            (
                p.next().unwrap().to_string(),
                p.next().unwrap().to_string(),
                p.next().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_script_files_flags_and_answers_once_on_both_twins() {
    twinmail_testkit::require(&["python3", "aiosmtpd"]);
    let sink = Sink::start(SinkOptions::default());
    let extra = format!(
        "[outbound]\nrelay_host = \"127.0.0.1:{}\"\nrelay_tls = \"none\"\nretry_secs = [1]\n",
        sink.port
    );
    let pair = Pair::start_custom(|b| b, 1, &extra);
    pair.add_user(&pair.a, "ann@example.org");
    pair.add_user(&pair.a, "rex@example.org");
    py(
        "m = imap(sys.argv[1], sys.argv[2], sys.argv[3]); m.create('Reports'); m.logout()",
        &[
            pair.a.port("imaps").to_string(),
            "ann@example.org".into(),
            PASSWORD.into(),
        ],
    );
    let file = pair.dir.path().join("main.sieve");
    std::fs::write(&file, SCRIPT).unwrap();
    let put = pair.a.cli(&[
        "sieve",
        "put",
        "ann@example.org",
        "main",
        file.to_str().unwrap(),
    ]);
    assert_eq!(put.0, 0, "{}", put.1);
    let act = pair
        .a
        .cli(&["sieve", "activate", "ann@example.org", "main"]);
    assert_eq!(act.0, 0, "{}", act.1);
    // A script with an error is refused with its line.
    std::fs::write(&file, "require \"fileinto\";\nfileinto;\n").unwrap();
    let bad = pair.a.cli(&[
        "sieve",
        "put",
        "ann@example.org",
        "bad",
        file.to_str().unwrap(),
    ]);
    assert_ne!(bad.0, 0);
    assert!(bad.1.contains('2'), "names line 2: {}", bad.1);
    pair.wait_in_sync();
    // The script mirrored: b lists it, active.
    let (_, list) = pair.b.cli(&["sieve", "list", "ann@example.org"]);
    assert_eq!(list.trim(), "main (active)");

    let out = send(
        pair.a.port("smtp"),
        "bob@remote.test",
        "ann@example.org",
        &["weekly report", "hello", "hello again"],
    );
    assert_eq!(out.lines().collect::<Vec<_>>(), ["ok", "ok", "ok"]);
    pair.wait_in_sync();
    let mut seen = folders(pair.b.port("imaps"), "ann@example.org");
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("INBOX".into(), "hello".into(), "".into()),
            ("INBOX".into(), "hello again".into(), "$Repeat".into()),
            ("Reports".into(), "weekly report".into(), "\\Flagged".into()),
        ],
        "filed and flagged by a's script, as b shows it"
    );
    // One vacation reply for two messages from bob, from the null sender.
    sink.wait_for(1, 20);
    std::thread::sleep(Duration::from_secs(2));
    let got = sink.received();
    assert_eq!(got.len(), 1, "one reply within :days");
    assert_eq!(got[0].from, "<>", "the null sender (as aiosmtpd writes it)");
    assert_eq!(got[0].rcpts, vec!["bob@remote.test".to_string()]);
    let text = String::from_utf8_lossy(&got[0].data);
    assert!(text.contains("Subject: Away"), "{text}");
    assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
    assert!(text.contains("I am away until Monday."), "{text}");

    // A reject is said in SMTP.
    std::fs::write(&file, "require \"reject\";\nreject \"No mail, thanks.\";\n").unwrap();
    assert_eq!(
        pair.a
            .cli(&[
                "sieve",
                "put",
                "rex@example.org",
                "no",
                file.to_str().unwrap()
            ])
            .0,
        0
    );
    assert_eq!(
        pair.a
            .cli(&["sieve", "activate", "rex@example.org", "no"])
            .0,
        0
    );
    let out = send(
        pair.a.port("smtp"),
        "bob@remote.test",
        "rex@example.org",
        &["hi"],
    );
    assert!(
        out.starts_with("refused 550 5.7.1 No mail, thanks."),
        "{out}"
    );
    pair.wait_in_sync();
    pair.assert_identical();
}

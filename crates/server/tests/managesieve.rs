//! ManageSieve (RFC 5804) on real twins, driven by sievelib (PyPI, the client library
//! behind several Sieve editors): STARTTLS, AUTHENTICATE PLAIN, PUTSCRIPT, CHECKSCRIPT
//! refusing a script with its line, LISTSCRIPTS, SETACTIVE, GETSCRIPT on twin a; twin b
//! then lists the script active (mirrored), and a message delivered over SMTP is filed by
//! it. Raw sessions check what a hostile client meets: no password in plaintext, literals
//! that are too big, literal bytes that look like commands.

mod common;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    time::Duration,
};

use common::pair::{PASSWORD, Pair, py};

const SCRIPT: &str = r#"require ["fileinto"];
if header :contains "subject" "report" {
    fileinto "Reports";
}
"#;

/// Runs `body` in the test venv's Python (sievelib lives there), with `args`.
fn venv_py(body: &str, args: &[String]) -> String {
    let out = std::process::Command::new(twinmail_testkit::PYTHON_VENV)
        .arg("-c")
        .arg(body)
        .args(args)
        .output()
        .expect("the venv's python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The sievelib session: one line per step, as the test reads it.
const CLIENT: &str = r#"
import ssl, sys
# The twins' certificates are self-signed: sievelib builds its TLS context here.
ssl.create_default_context = ssl._create_unverified_context
from sievelib.managesieve import Client
port, user, pw, script = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = Client('127.0.0.1', port)
print('connect', c.connect(user, pw, starttls=True, authmech='PLAIN'))
print('implementation', c.get_implementation())
print('fileinto', 'fileinto' in c.get_sieve_capabilities())
print('havespace', c.havespace('main', len(script)))
print('put', c.putscript('main', script))
print('check-ok', c.checkscript(script))
ok = c.checkscript('require "fileinto";\nkeep;\nfileinto;\n')
print('check-bad', ok, c.errmsg.decode())
print('put-bad', c.putscript('bad', 'if true {'))
print('setactive', c.setactive('main'))
print('list', c.listscripts())
# sievelib gives the literal back line by line, joined with LF.
print('get', c.getscript('main').replace('\r\n', '\n').strip() == script.strip())
print('delete-active', c.deletescript('main'), c.errmsg.decode())
print('get-missing', c.getscript('nope'))
c.logout()
"#;

/// A raw plaintext session: sends `input` after the greeting, returns all it got.
fn raw(port: u16, input: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut greeting = String::new();
    while !greeting.lines().last().unwrap_or("").starts_with("OK") {
        let n = r.read_line(&mut greeting).unwrap();
        assert!(n > 0, "greeting ends with OK: {greeting}");
    }
    s.write_all(input).unwrap();
    let mut out = String::new();
    let _ = r.read_to_string(&mut out);
    format!("{greeting}{out}")
}

#[test]
fn an_editor_stores_checks_and_activates_a_script_that_files_mail_on_both_twins() {
    twinmail_testkit::require(&["python3", "sievelib"]);
    let pair = Pair::start();
    let user = "ann@example.org";
    pair.add_user(&pair.a, user);
    py(
        "m = imap(sys.argv[1], sys.argv[2], sys.argv[3]); m.create('Reports'); m.logout()",
        &[
            pair.a.port("imaps").to_string(),
            user.into(),
            PASSWORD.into(),
        ],
    );
    let out = venv_py(
        CLIENT,
        &[
            pair.a.port("managesieve").to_string(),
            user.into(),
            PASSWORD.into(),
            SCRIPT.into(),
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    let expect = |prefix: &str| -> &str {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{prefix} ")))
            .unwrap_or_else(|| panic!("no {prefix} line in:\n{out}"))
    };
    assert_eq!(expect("connect"), "connect True");
    assert_eq!(expect("implementation"), "implementation twinmail");
    assert_eq!(expect("fileinto"), "fileinto True");
    assert_eq!(expect("havespace"), "havespace True");
    assert_eq!(expect("put"), "put True");
    assert_eq!(expect("check-ok"), "check-ok True");
    let bad = expect("check-bad");
    assert!(bad.starts_with("check-bad False line 3"), "{bad}");
    assert_eq!(expect("put-bad"), "put-bad False");
    assert_eq!(expect("setactive"), "setactive True");
    assert_eq!(expect("list"), "list ('main', [])");
    assert_eq!(expect("get"), "get True", "the script comes back as stored");
    let del = expect("delete-active");
    assert!(del.starts_with("delete-active False"), "{del}");
    assert_eq!(expect("get-missing"), "get-missing None");

    // Mirrored: b lists it, active, and b never saw the bad one.
    pair.wait_in_sync();
    let (code, list) = pair.b.cli(&["sieve", "list", user]);
    assert_eq!(code, 0, "{list}");
    assert_eq!(list.trim(), "main (active)");

    // And delivery runs it.
    common::pair::send(
        pair.a.port("smtp"),
        user,
        &["weekly report".into(), "hello".into()],
    );
    pair.wait_in_sync();
    let dump = common::pair::dump(pair.b.port("imaps"), user);
    assert_eq!(dump["Reports"][1].as_array().unwrap().len(), 1, "{dump}");
    assert_eq!(dump["INBOX"][1].as_array().unwrap().len(), 1, "{dump}");
    pair.assert_identical();
}

#[test]
fn hostile_sessions_get_no_and_bye_never_a_hang_and_literals_stay_data() {
    let pair = Pair::start();
    let port = pair.a.port("managesieve");

    // Before TLS: no mechanism offered, none accepted; commands that need a login are
    // refused; a literal holding "LOGOUT" is data, not a command.
    let out = raw(
        port,
        b"AUTHENTICATE \"PLAIN\" \"AGFubkBleGFtcGxlLm9yZwBwdw==\"\r\n\
          LISTSCRIPTS\r\n\
          NOOP {8+}\r\nLOGOUT\r\n\r\n\
          NOOP \"tag\\\"1\"\r\n\
          LOGOUT\r\n",
    );
    assert!(out.contains("\"SASL\" \"\""), "{out}");
    assert!(out.contains("\"STARTTLS\""), "{out}");
    assert!(out.contains("\"VERSION\" \"1.0\""), "{out}");
    assert!(
        out.contains("NO (ENCRYPT-NEEDED) \"Authentication is allowed only after STARTTLS\""),
        "{out}"
    );
    assert!(out.contains("NO \"Authenticate first\""), "{out}");
    assert!(
        out.contains("OK (TAG \"LOGOUT\\r\\n\") \"Done\"") || out.contains("OK (TAG {8}"),
        "{out}"
    );
    assert!(out.contains("OK (TAG \"tag\\\"1\") \"Done\""), "{out}");
    assert!(out.ends_with("OK \"Logout completed\"\r\n"), "{out}");

    // A synchronising literal that is too big is refused before it is read, and the
    // session ends (the client may be sending it regardless).
    let out = raw(port, b"PUTSCRIPT \"x\" {999999999}\r\n");
    assert!(
        out.contains("NO \"Syntax error: literal too big\""),
        "{out}"
    );
    assert!(out.contains("BYE"), "{out}");

    // A non-synchronising one is read and dropped, and the session goes on.
    let big = 70_000;
    let mut input = format!("CHECKSCRIPT {{{big}+}}\r\n").into_bytes();
    input.extend(std::iter::repeat_n(b'L', big));
    input.extend_from_slice(b"\r\nNOOP\r\nLOGOUT\r\n");
    let out = raw(port, &input);
    assert!(
        out.contains("NO \"Syntax error: literal too big\""),
        "{out}"
    );
    assert!(out.contains("OK \"Done\""), "{out}");
    assert!(out.ends_with("OK \"Logout completed\"\r\n"), "{out}");

    // Junk: unknown commands, bad strings, binary; then BYE after the error budget.
    let mut junk = Vec::new();
    for _ in 0..12 {
        junk.extend_from_slice(b"\x00\xff\"unterminated\r\nFOO\r\n");
    }
    let out = raw(port, &junk);
    assert!(out.contains("BYE \"Too many errors\""), "{out}");
}

/// A raw session under STARTTLS: each command and everything up to its OK/NO/BYE line.
const RAW_TLS: &str = r#"
import socket, ssl, sys, base64
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(('127.0.0.1', port), timeout=10)
f = s.makefile('rb')
def answer():
    out = []
    while True:
        line = f.readline().decode()
        out.append(line.rstrip('\r\n'))
        if line.startswith(('OK', 'NO', 'BYE')) or line == '' or line.startswith('""'):
            return out
answer()
s.sendall(b'STARTTLS\r\n'); answer()
ctx = ssl._create_unverified_context()
s = ctx.wrap_socket(s); f = s.makefile('rb')
print('caps', answer())
def cmd(b):
    s.sendall(b); print(repr(b), answer())
resp = base64.b64encode(b'\0' + user.encode() + b'\0' + pw.encode())
cmd(b'AUTHENTICATE "PLAIN"\r\n')
cmd(b'{%d+}\r\n%s\r\n' % (len(resp), resp))
cmd(b'PUTSCRIPT "one" {6+}\r\nkeep;\r\n')
cmd(b'PUTSCRIPT "two" "discard;"\r\n')
cmd(b'RENAMESCRIPT "one" "two"\r\n')
cmd(b'RENAMESCRIPT "one" "uno"\r\n')
cmd(b'SETACTIVE "nope"\r\n')
cmd(b'SETACTIVE "uno"\r\n')
cmd(b'DELETESCRIPT "uno"\r\n')
cmd(b'DELETESCRIPT "nope"\r\n')
cmd(b'HAVESPACE "big" 999999999\r\n')
cmd(b'SETACTIVE ""\r\n')
cmd(b'DELETESCRIPT "uno"\r\n')
cmd(b'LISTSCRIPTS\r\n')
cmd(b'UNAUTHENTICATE\r\n')
cmd(b'LISTSCRIPTS\r\n')
cmd(b'LOGOUT\r\n')
"#;

#[test]
fn sasl_continuation_response_codes_and_unauthenticate_under_starttls() {
    let pair = Pair::start();
    let user = "rex@example.org";
    pair.add_user(&pair.a, user);
    let out = twinmail_testkit::python(
        RAW_TLS,
        &[
            pair.a.port("managesieve").to_string(),
            user.into(),
            PASSWORD.into(),
        ],
    );
    let line = |prefix: &str| -> &str {
        out.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{out}"))
    };
    // Under TLS the capabilities are re-issued, PLAIN offered, STARTTLS not.
    let caps = line("caps");
    assert!(caps.contains(r#"'"SASL" "PLAIN"'"#), "{caps}");
    assert!(!caps.contains("STARTTLS"), "{caps}");
    assert!(line("b'AUTHENTICATE").contains(r#"['""']"#), "{out}");
    assert!(line("b'{").contains("OK"), "the answer as a literal: {out}");
    assert!(line("b'PUTSCRIPT \"one\"").contains("OK"), "{out}");
    assert!(line("b'PUTSCRIPT \"two\"").contains("OK"), "{out}");
    assert!(
        line("b'RENAMESCRIPT \"one\" \"two\"").contains("NO (ALREADYEXISTS)"),
        "{out}"
    );
    assert!(
        line("b'RENAMESCRIPT \"one\" \"uno\"").contains("OK"),
        "{out}"
    );
    assert!(
        line("b'SETACTIVE \"nope\"").contains("NO (NONEXISTENT)"),
        "{out}"
    );
    assert!(line("b'SETACTIVE \"uno\"").contains("OK"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let del: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("b'DELETESCRIPT \"uno\""))
        .collect();
    assert!(del[0].contains("NO (ACTIVE)"), "{out}");
    assert!(del[1].contains("OK"), "deletable once inactive: {out}");
    assert!(
        line("b'DELETESCRIPT \"nope\"").contains("NO (NONEXISTENT)"),
        "{out}"
    );
    assert!(line("b'HAVESPACE").contains("NO (QUOTA/MAXSIZE)"), "{out}");
    let lists: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("b'LISTSCRIPTS"))
        .collect();
    assert!(lists[0].contains(r#"['"two"', 'OK"#), "{out}");
    assert!(lists[1].contains("Authenticate first"), "{out}");
    assert!(line("b'LOGOUT").contains("OK"), "{out}");
}

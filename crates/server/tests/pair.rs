//! `twinmail pair` as a newcomer meets it: started in an empty directory, it prints three
//! lines to paste; pasted into a shell, the first sends a message to twin a with swaks,
//! the second reads it over IMAP on twin b with curl, and the third is a status page that
//! answers. The default directory is one git ignores, so trying it leaves a checkout
//! clean.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// Stops the pair (SIGTERM, which it passes on to both twins) however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

/// Runs `line` as a shell would; returns (success, stdout and stderr).
fn shell(line: &str) -> (bool, String) {
    let out = Command::new("sh").arg("-c").arg(line).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_three_printed_lines_send_read_on_the_other_twin_and_show_the_status_page() {
    twinmail_testkit::require(&["swaks", "curl"]);
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("pair.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_twinmail"))
        .args(["pair", "--base-port", "0", "--dir"])
        .arg(dir.path().join("pair"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Everything up to and including the three lines (the pair prints them once both
    // twins answer; the first start hashes passwords, so allow for a slow machine).
    let mut printed: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while printed.len() < 4 || !printed[printed.len() - 4].starts_with("Try it") {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => printed.push(line),
            Err(_) => panic!(
                "the pair printed no three lines to try; it printed:\n{}\nlog:\n{}",
                printed.join("\n"),
                std::fs::read_to_string(dir.path().join("pair.log")).unwrap_or_default()
            ),
        }
    }
    let text = printed.join("\n");
    let lines: Vec<&str> = printed[printed.len() - 3..]
        .iter()
        .map(|l| l.trim())
        .collect();
    let [send, read, page] = lines[..] else {
        unreachable!()
    };
    assert!(send.starts_with("swaks "), "{text}");
    assert!(read.starts_with("curl "), "{text}");
    assert!(page.starts_with("https://127.0.0.1:"), "{text}");

    let (ok, out) = shell(send);
    assert!(ok, "{send}\n{out}");
    assert!(out.contains("<-  250"), "swaks saw no 250:\n{out}");

    // Twin b has it once the mirror has carried it over (milliseconds on loopback).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ok, out) = shell(read);
        if ok && out.contains("Subject: hello, twins") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{read}\nnever showed the message on twin b:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // The status page answers, behind the password the pair printed.
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("Try it")?.split("password ").nth(1))
        .map(|p| p.trim_end_matches("):"))
        .unwrap_or_else(|| panic!("no admin password printed:\n{text}"));
    let (ok, body) = shell(&format!(
        "curl --silent --show-error --insecure --fail --user 'admin:{password}' '{page}'"
    ));
    assert!(ok, "{page}: {body}");
    assert!(body.contains("twinmail"), "{body}");
    let (ok, _) = shell(&format!("curl --silent --insecure --fail '{page}'"));
    assert!(!ok, "the status page answered without a password");
}

/// The pair's default directory is git-ignored, so `cargo run -- pair` in a checkout
/// leaves `git status` clean.
#[test]
fn the_default_pair_directory_is_git_ignored() {
    let help = Command::new(env!("CARGO_BIN_EXE_twinmail"))
        .args(["pair", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let default = help
        .lines()
        .skip_while(|l| !l.contains("--dir"))
        .find_map(|l| l.split("[default: ").nth(1))
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| panic!("no default --dir in:\n{help}"));
    let ignore =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.gitignore")).unwrap();
    assert!(
        ignore
            .lines()
            .any(|l| l.trim_matches('/') == default.trim_matches('/')),
        "{default} is not in .gitignore"
    );
}

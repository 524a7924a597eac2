//! `twinmail pair` as a newcomer meets it: started in an empty directory, it prints three
//! lines to paste; pasted into a shell, the first sends a message to twin a with swaks,
//! the second reads it over IMAP on twin b with curl, and the third is a status page that
//! answers. The default directory is one git ignores, so trying it leaves a checkout
//! clean. What a pair or a server leaves on disk is for its own user alone.

mod common;

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

/// Every file and directory under `dir` that group or others may read: (path, mode).
fn readable_by_others(dir: &std::path::Path) -> Vec<(String, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().map_while(Result::ok) {
            let meta = e.path().symlink_metadata().unwrap();
            if meta.is_dir() {
                todo.push(e.path());
            }
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                out.push((e.path().display().to_string(), mode));
            }
        }
    }
    out
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

/// A pair leaves nothing readable to other local users (configs, secret, databases, keys,
/// status files, pair.json), and pair.json names the password files instead of holding
/// the passwords; the printout still shows the demo password.
#[test]
fn a_pair_keeps_its_files_and_passwords_to_itself() {
    let dir = tempfile::tempdir().unwrap();
    let pair_dir = dir.path().join("pair");
    let mut child = Command::new(env!("CARGO_BIN_EXE_twinmail"))
        .args(["pair", "--base-port", "0", "--dir"])
        .arg(&pair_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let mut printed = String::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("Try it") {
            break;
        }
    }
    // Both twins have written their status files by now (the first sample is at start).
    let deadline = Instant::now() + Duration::from_secs(30);
    while ["a", "b"]
        .iter()
        .any(|t| !pair_dir.join(format!("{t}-data/status.json")).exists())
    {
        assert!(Instant::now() < deadline, "no status.json from both twins");
        std::thread::sleep(Duration::from_millis(100));
    }
    let open = readable_by_others(&pair_dir);
    assert!(open.is_empty(), "readable by others: {open:?}");
    let facts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pair_dir.join("pair.json")).unwrap())
            .unwrap();
    let demo = std::fs::read_to_string(pair_dir.join("demo.password")).unwrap();
    let admin = std::fs::read_to_string(pair_dir.join("admin.password")).unwrap();
    let text = facts.to_string();
    assert!(
        !text.contains(demo.trim()) && !text.contains(admin.trim()),
        "{text}"
    );
    assert_eq!(
        facts["demo"]["password_file"].as_str(),
        Some(pair_dir.join("demo.password").to_str().unwrap())
    );
    assert!(
        printed.contains(&format!("password: {}", demo.trim())),
        "{printed}"
    );
}

/// `twinmail serve` makes its data private, also what an older version (or a loose umask)
/// left readable: the data directory 0700, the database and its WAL/SHM and the status
/// file 0600.
#[test]
fn a_start_leaves_the_data_directory_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = common::write_config(dir.path());
    common::admin(&config, &["domain", "add", "example.org"], "");
    let data = dir.path().join("twinmail-data");
    // As an older twinmail left them.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        data.join("twinmail.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let mut serving = common::serve(&config);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !data.join("status.json").exists() {
        assert!(Instant::now() < deadline, "no status.json");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mode = |p: &std::path::Path| p.metadata().unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for f in [
        "twinmail.db",
        "twinmail.db-wal",
        "twinmail.db-shm",
        "status.json",
    ] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    let open = readable_by_others(dir.path());
    let _ = serving.child.kill();
    let _ = serving.child.wait();
    // The test's own config and log are the test's; everything twinmail made is private.
    let open: Vec<_> = open
        .into_iter()
        .filter(|(p, _)| !p.ends_with("twinmail.toml") && !p.ends_with("twinmail.log"))
        .collect();
    assert!(open.is_empty(), "readable by others: {open:?}");
}

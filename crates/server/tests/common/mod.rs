//! Starts the real `twinmail` binary with a config in a temp dir, and reads the
//! addresses it listens on from its JSON log.
#![allow(dead_code)]

pub mod mbsync;
pub mod pair;
pub mod proxy;

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Write},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A config for tests: every listener on port 0, cheap password hashing, JSON logs.
pub fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("twinmail.toml");
    std::fs::write(
        &path,
        r#"[node]
id = "a"
hostname = "mx.example.com"
[store]
password_memory_kib = 64
password_passes = 1
[smtp]
listen = ["127.0.0.1:0"]
submission_listen = ["127.0.0.1:0"]
submissions_listen = ["127.0.0.1:0"]
error_delay_ms = 1
auth_failure_delay_ms = 1
[imap]
listen = ["127.0.0.1:0"]
tls_listen = ["127.0.0.1:0"]
[pop3]
listen = ["127.0.0.1:0"]
tls_listen = ["127.0.0.1:0"]
[managesieve]
listen = ["127.0.0.1:0"]
[log]
format = "json"
"#,
    )
    .unwrap();
    path
}

/// Runs a twinmail admin command with `stdin`, panicking on failure.
pub fn admin(config: &Path, args: &[&str], stdin: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_twinmail"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `twinmail serve`.
pub struct Serving {
    pub child: Child,
    /// Listening addresses by service name (smtp, submission, submissions).
    pub addrs: HashMap<String, SocketAddr>,
}

/// Starts `twinmail serve` and waits until it logs "twinmail ready".
pub fn serve(config: &Path) -> Serving {
    let mut child = Command::new(env!("CARGO_BIN_EXE_twinmail"))
        .arg("--config")
        .arg(config)
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut addrs = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "twinmail did not start");
        let Some(Ok(line)) = lines.next() else {
            panic!("twinmail exited early:\n{}", seen.join("\n"));
        };
        seen.push(line.clone());
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let fields = &v["fields"];
        if fields["message"] == "listening" {
            let service = fields["service"].as_str().unwrap().to_string();
            let addr = fields["addr"].as_str().unwrap().parse().unwrap();
            addrs.insert(service, addr);
        }
        if fields["message"] == "twinmail ready" {
            break;
        }
    }
    // Keep draining the log (into a file beside the config, for post-mortems) so the
    // server never blocks on a full pipe.
    let log = config.with_extension("log");
    std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .ok();
        for line in lines.map_while(Result::ok) {
            if let Some(f) = f.as_mut() {
                let _ = writeln!(f, "{line}");
            }
        }
    });
    Serving { child, addrs }
}

//! A twin pair of real `twinmail serve` processes for end-to-end tests: configs in a temp
//! dir, client listeners on port 0 (read back from the log), mirror listeners on ports
//! picked free, optionally a proxy in the mirror path; either twin can be killed and
//! restarted from its config.

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use super::{Serving, admin, serve};

/// The test account's password.
pub const PASSWORD: &str = "twin-secret-pw";
/// The admin page's password (user `admin`).
pub const ADMIN_PASSWORD: &str = "admin-page-pw";

/// One twin.
pub struct Twin {
    /// Its node id.
    pub id: &'static str,
    /// Its config file.
    pub config: PathBuf,
    /// The running process, if any.
    pub serving: Option<Serving>,
}

impl Twin {
    /// A listening address of the running twin.
    pub fn addr(&self, service: &str) -> SocketAddr {
        self.serving.as_ref().expect("twin running").addrs[service]
    }

    /// A listening port of the running twin.
    pub fn port(&self, service: &str) -> u16 {
        self.addr(service).port()
    }

    /// SIGKILLs the twin.
    pub fn kill(&mut self) {
        if let Some(mut s) = self.serving.take() {
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
    }

    /// Starts (or restarts) the twin from its config.
    pub fn start(&mut self) {
        assert!(self.serving.is_none());
        self.serving = Some(serve(&self.config));
    }

    /// Runs a CLI command against this twin's config; returns (exit code, stdout).
    pub fn cli(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_twinmail"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    /// `twinmail mirror status`.
    pub fn status(&self) -> String {
        self.cli(&["mirror", "status"]).1
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.serving.as_ref().expect("twin running").child.id()
    }

    /// Resident memory of the running twin, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Twin {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Two twins, `a` (which dials) and `b`.
pub struct Pair {
    /// Holds both twins' files.
    pub dir: tempfile::TempDir,
    /// Twin a.
    pub a: Twin,
    /// Twin b.
    pub b: Twin,
    /// b's mirror listener (what a dials, unless a proxy sits between).
    pub b_mirror: SocketAddr,
}

impl Drop for Pair {
    fn drop(&mut self) {
        // TWINMAIL_KEEP_TEST_DIRS=1 keeps both twins' configs, data and logs for a look.
        if std::env::var_os("TWINMAIL_KEEP_TEST_DIRS").is_some() {
            self.a.kill();
            self.b.kill();
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
            eprintln!("kept {}", dir.keep().display());
        }
    }
}

/// A free loopback port for a listener that must keep its number across restarts (a
/// twin's mirror port). Taken below the kernel's ephemeral range (32768 and up here), so
/// no outgoing connection of a test running beside it can land on it while its twin is
/// down; the port is bound once to check it is free.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    // Spread over the range by process, then walk it.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 600) as u16 * 20;
    loop {
        let port = 20_000 + (base - 20_000 + NEXT.fetch_add(1, Ordering::Relaxed)) % 12_000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn config(
    dir: &Path,
    id: &str,
    twin: &str,
    listen: u16,
    dial: SocketAddr,
    heartbeat: u64,
    extra: &str,
) -> PathBuf {
    let path = dir.join(format!("{id}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"[node]
id = "{id}"
data_dir = "{id}-data"
hostname = "localhost"
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
auth_failure_delay_ms = 1
[pop3]
listen = ["127.0.0.1:0"]
tls_listen = ["127.0.0.1:0"]
auth_failure_delay_ms = 1
[managesieve]
listen = ["127.0.0.1:0"]
auth_failure_delay_ms = 1
error_delay_ms = 1
[mirror]
twin_id = "{twin}"
twin = "{dial}"
listen = "127.0.0.1:{listen}"
secret_file = "mirror.secret"
heartbeat_secs = {heartbeat}
max_backoff_secs = 1
{extra}
[log]
format = "json"
level = "info,twinmail_mirror=debug"
"#
        ),
    )
    .unwrap();
    path
}

impl Pair {
    /// Starts a pair whose twin a dials b directly.
    pub fn start() -> Pair {
        Pair::start_with(|b| b)
    }

    /// Starts a pair whose mirror link runs through a [`Proxy`] (a dials b through it).
    pub fn start_behind_proxy() -> (Pair, super::proxy::Proxy) {
        let mut proxy = None;
        let pair = Pair::start_with(|b| {
            let p = super::proxy::Proxy::start(b);
            let addr = p.addr;
            proxy = Some(p);
            addr
        });
        (pair, proxy.expect("the proxy started"))
    }

    /// Starts a pair; `route` maps b's mirror address to what a dials (a proxy, say).
    /// Domain example.org exists on both (made on a, mirrored to b).
    pub fn start_with(route: impl FnOnce(SocketAddr) -> SocketAddr) -> Pair {
        Pair::start_custom(route, 1, "")
    }

    /// Like `start_with`, with heartbeats every `heartbeat` seconds (a twin is taken for
    /// down after three missed ones) and `extra` lines in both twins' [mirror] sections.
    pub fn start_custom(
        route: impl FnOnce(SocketAddr) -> SocketAddr,
        heartbeat: u64,
        extra: &str,
    ) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mirror.secret"),
            "0123456789abcdef".repeat(4),
        )
        .unwrap();
        let (pa, pb) = (free_port(), free_port());
        let b_mirror: SocketAddr = format!("127.0.0.1:{pb}").parse().unwrap();
        let a_mirror: SocketAddr = format!("127.0.0.1:{pa}").parse().unwrap();
        let a = Twin {
            id: "a",
            config: config(dir.path(), "a", "b", pa, route(b_mirror), heartbeat, extra),
            serving: None,
        };
        let b = Twin {
            id: "b",
            config: config(dir.path(), "b", "a", pb, a_mirror, heartbeat, extra),
            serving: None,
        };
        admin(&a.config, &["domain", "add", "example.org"], "");
        // Both twins' admin pages, with one password.
        let out = Command::new(env!("CARGO_BIN_EXE_twinmail"))
            .arg("--config")
            .arg(&a.config)
            .arg("hash-password")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(ADMIN_PASSWORD.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert!(hash.starts_with("$argon2"), "{hash}");
        for t in [&a, &b] {
            let mut text = std::fs::read_to_string(&t.config).unwrap();
            text.push_str(&format!(
                "[admin]\nlisten = \"127.0.0.1:0\"\npassword_hash = \"{hash}\"\n"
            ));
            std::fs::write(&t.config, text).unwrap();
        }
        let mut pair = Pair {
            dir,
            a,
            b,
            b_mirror,
        };
        pair.a.start();
        pair.b.start();
        pair.wait_in_sync();
        pair
    }

    /// Creates an account on `twin` (by the CLI) and waits until both twins hold it.
    pub fn add_user(&self, on: &Twin, name: &str) {
        self.add_user_alone(on, name);
        self.wait_in_sync();
    }

    /// Creates an account on `twin` (by the CLI), not waiting for the other twin.
    pub fn add_user_alone(&self, on: &Twin, name: &str) {
        admin(&on.config, &["user", "add", name], &format!("{PASSWORD}\n"));
    }

    /// Waits until both twins report "in sync" (linked, nothing unacknowledged).
    pub fn wait_in_sync(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (sa, sb) = (self.a.status(), self.b.status());
            if sa.contains("State: in sync") && sb.contains("State: in sync") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the twins did not get in sync:\n--- a\n{sa}\n--- b\n{sb}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `twinmail mirror verify` from a: (exit code, output).
    pub fn verify(&self) -> (i32, String) {
        self.a.cli(&["mirror", "verify"])
    }

    /// Asserts that verify finds the twins identical, from both sides.
    pub fn assert_identical(&self) {
        for t in [&self.a, &self.b] {
            let (code, out) = t.cli(&["mirror", "verify"]);
            assert_eq!(code, 0, "verify from {} found differences:\n{out}", t.id);
        }
    }

    /// The home twin of an account, as the twins compute it (by its GUID's first byte).
    pub fn home_of(&self, name: &str) -> &'static str {
        twinmail_testkit::require(&["python3"]);
        let db = self.dir.path().join("a-data/twinmail.db");
        let out = Command::new("python3")
            .arg("-c")
            .arg(
                "import sqlite3,sys; c=sqlite3.connect('file:'+sys.argv[1]+'?mode=ro', uri=True); \
                 print(c.execute('SELECT guid FROM accounts WHERE name=?', (sys.argv[2],)).fetchone()[0][0])",
            )
            .arg(&db)
            .arg(name)
            .output()
            .unwrap();
        let first: u8 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        if first.is_multiple_of(2) { "a" } else { "b" }
    }

    /// Creates accounts until there is one homed on each twin: (homed on a, homed on b).
    pub fn users_on_both_homes(&self) -> (String, String) {
        let (mut on_a, mut on_b) = (None, None);
        for i in 0..40 {
            let name = format!("user{i}@example.org");
            self.add_user(&self.a, &name);
            match self.home_of(&name) {
                "a" => on_a = on_a.or(Some(name)),
                _ => on_b = on_b.or(Some(name)),
            }
            if let (Some(a), Some(b)) = (&on_a, &on_b) {
                return (a.clone(), b.clone());
            }
        }
        panic!("40 accounts, all on one home twin");
    }
}

/// Python helpers the tests run with `twinmail_testkit::python`.
pub const PY: &str = r#"
import imaplib, smtplib, ssl, sys, json, hashlib
CTX = ssl.create_default_context(); CTX.check_hostname = False; CTX.verify_mode = ssl.CERT_NONE
def imap(port, user, pw):
    m = imaplib.IMAP4_SSL('127.0.0.1', int(port), ssl_context=CTX)
    m.login(user, pw)
    return m
def dump(port, user, pw):
    """Every folder: UIDVALIDITY and each message's UID, flags, body hash, INTERNALDATE
    and save date (RFC 8514)."""
    m = imap(port, user, pw)
    out = {}
    for line in m.list()[1]:
        name = line.decode().rsplit(' "/" ', 1)[1].strip('"')
        if name.startswith('Other Users'):
            continue  # other accounts' mailboxes shared with this one (ACL): theirs
        typ, _ = m.select('"%s"' % name, readonly=True)
        uv = m.response('UIDVALIDITY')[1][0].decode()
        typ, data = m.uid('FETCH', '1:*', '(UID FLAGS BODY.PEEK[])')
        msgs = []
        for d in data:
            if isinstance(d, tuple):
                head = d[0].decode()
                uid = int(head.split('UID ')[1].split()[0])
                flags = head.split('FLAGS (')[1].split(')')[0]
                msgs.append([uid, ' '.join(sorted(flags.split())), hashlib.sha256(d[1]).hexdigest()])
        typ, data = m.uid('FETCH', '1:*', '(UID INTERNALDATE SAVEDATE)')
        dates = {}
        for d in data:
            if isinstance(d, bytes) and b'SAVEDATE' in d:
                line = d.decode()
                dates[int(line.split('UID ')[1].split()[0])] = [
                    line.split('INTERNALDATE "')[1].split('"')[0],
                    line.split('SAVEDATE "')[1].split('"')[0]]
        for msg in msgs:
            msg.extend(dates[msg[0]])
        out[name] = [uv, sorted(msgs)]
    m.logout()
    return out
def send(port, rcpt, subjects):
    s = smtplib.SMTP('127.0.0.1', int(port))
    for subj in subjects:
        s.sendmail('someone@remote.test', [rcpt], ('Subject: %s\r\nMessage-ID: <%s@remote.test>\r\n\r\nbody of %s\r\n' % (subj, subj.replace(' ', '.'), subj)).encode())
    s.quit()
"#;

/// Runs `body` after the helpers above, with `args`.
pub fn py(body: &str, args: &[String]) -> String {
    twinmail_testkit::python(&format!("{PY}\n{body}"), args)
}

/// The JSON dump of an account over IMAP on a port.
pub fn dump(port: u16, user: &str) -> serde_json::Value {
    let out = py(
        "print(json.dumps(dump(sys.argv[1], sys.argv[2], sys.argv[3])))",
        &[port.to_string(), user.to_string(), PASSWORD.to_string()],
    );
    serde_json::from_str(out.trim()).unwrap()
}

/// Delivers messages with these subjects to `rcpt` over SMTP on `port`.
pub fn send(port: u16, rcpt: &str, subjects: &[String]) {
    let mut args = vec![port.to_string(), rcpt.to_string()];
    args.extend(subjects.iter().cloned());
    py("send(sys.argv[1], sys.argv[2], sys.argv[3:])", &args);
}

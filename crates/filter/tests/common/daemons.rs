//! Real clamd and rspamd for tests, each started in a temp dir on loopback (never the
//! system's services) and killed when dropped. Shared by the filter crate's tests and
//! the twin test (crates/server/tests/filter_pair.rs includes this file by path).
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A daemon started by a test, killed when dropped.
pub struct Daemon {
    /// The process.
    child: Child,
    /// Its config, socket and logs.
    pub dir: tempfile::TempDir,
    /// Where it listens: a socket path or "127.0.0.1:port".
    pub address: String,
    /// A second address, over TCP, where the daemon has one (clamd).
    pub tcp: Option<String>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The whole process group: rspamd's workers would outlive their main process.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A command in a process group of its own, so that [`Daemon`]'s drop ends all of it.
fn grouped(program: &str) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(program);
    cmd.process_group(0);
    cmd
}

/// True when this process runs as root (daemons then need to be told to stay root: there
/// is no user of theirs to switch to in a temp dir).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|v| v.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(false)
}

/// The EICAR test string (not a virus: the standard test file every scanner detects).
pub const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Starts clamd on a Unix socket in a temp dir with one signature: EICAR (no virus
/// database can be downloaded here). Waits until it answers PING.
pub fn clamd() -> Daemon {
    twinmail_testkit::require(&["clamd"]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    std::fs::create_dir(&db).unwrap();
    let hex: String = EICAR.bytes().map(|b| format!("{b:02x}")).collect();
    // An extended signature (.ndb): name, any file type, any offset, the bytes in hex.
    std::fs::write(
        db.join("twinmail-test.ndb"),
        format!("Twinmail-EICAR:0:*:{hex}\n"),
    )
    .unwrap();
    let socket = dir.path().join("clamd.sock");
    let conf = dir.path().join("clamd.conf");
    let port = free_port();
    let mut text = format!(
        "Foreground yes\nDatabaseDirectory {}\nLocalSocket {}\nTCPAddr 127.0.0.1\nTCPSocket {port}\n\
         LogFile {}\nPidFile {}\n",
        db.display(),
        socket.display(),
        dir.path().join("clamd.log").display(),
        dir.path().join("clamd.pid").display(),
    );
    if is_root() {
        text.push_str("User root\n");
    }
    std::fs::write(&conf, text).unwrap();
    let child = grouped("clamd")
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("clamd starts");
    let d = Daemon {
        child,
        address: socket.display().to_string(),
        tcp: Some(format!("127.0.0.1:{port}")),
        dir,
    };
    wait_for(&d, Duration::from_secs(120), || {
        ping_clamd(&socket) && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    d
}

fn ping_clamd(socket: &Path) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(socket) else {
        return false;
    };
    let mut out = String::new();
    s.write_all(b"zPING\0").is_ok() && s.read_to_string(&mut out).is_ok() && out.starts_with("PONG")
}

/// The rules rspamd is given: words in a message's text that score for each action.
const RSPAMD_RULES: &str = r#"
local function word(name, text, score)
  rspamd_config:register_symbol{
    name = name, score = score,
    callback = function(task)
      for _, p in ipairs(task:get_text_parts() or {}) do
        if tostring(p:get_content() or ''):find(text, 1, true) then return true end
      end
      return false
    end
  }
end
word('TWINMAIL_GREY', 'TWINMAIL-GREY-TEST', 5.0)
word('TWINMAIL_SPAM', 'TWINMAIL-SPAM-TEST', 8.0)
word('TWINMAIL_SUBJECT', 'TWINMAIL-SUBJECT-TEST', 11.0)
rspamd_config:register_symbol{
  name = 'TWINMAIL_SOFT', score = 0.0, type = 'prefilter', priority = 10,
  callback = function(task)
    for _, p in ipairs(task:get_text_parts() or {}) do
      if tostring(p:get_content() or ''):find('TWINMAIL-SOFT-TEST', 1, true) then
        task:set_pre_result('soft reject', 'try again later', 'twinmail')
        return true
      end
    end
    return false
  end
}
"#;

/// Starts rspamd (one normal worker) on a free loopback port with a minimal config: no
/// redis, no modules, action thresholds greylist 4, add header 6, rewrite subject 10,
/// reject 15, the rules above (one forcing a soft reject) and rspamd's built-in GTUBE
/// handling. Waits until it
/// answers (its start compiles a TLD list: some seconds).
pub fn rspamd() -> Daemon {
    twinmail_testkit::require(&["rspamd"]);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let p = |name: &str| dir.path().join(name).display().to_string();
    std::fs::create_dir(dir.path().join("db")).unwrap();
    std::fs::write(dir.path().join("rules.lua"), RSPAMD_RULES).unwrap();
    let conf = format!(
        r#"options {{
  pidfile = "{pid}";
  dbdir = "{db}";
  filters = "";
  gtube_patterns = "all";
}}
logging {{ type = "file"; filename = "{log}"; level = "info"; }}
worker "normal" {{ bind_socket = "127.0.0.1:{port}"; count = 1; }}
actions {{ reject = 15; rewrite_subject = 10; add_header = 6; greylist = 4; }}
lua = "{rules}";
"#,
        pid = p("rspamd.pid"),
        db = p("db"),
        log = p("rspamd.log"),
        rules = p("rules.lua"),
    );
    let conf_path = dir.path().join("rspamd.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut cmd = grouped("rspamd");
    cmd.arg("-f").arg("-c").arg(&conf_path);
    if is_root() {
        cmd.args(["-u", "root", "-g", "root"]);
    }
    let child = cmd
        .env("TMPDIR", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rspamd starts");
    let address = format!("127.0.0.1:{port}");
    let d = Daemon {
        child,
        address: address.clone(),
        tcp: None,
        dir,
    };
    wait_for(&d, Duration::from_secs(180), || ping_rspamd(&address));
    d
}

fn ping_rspamd(address: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(address) else {
        return false;
    };
    let mut out = String::new();
    s.write_all(b"GET /ping HTTP/1.0\r\n\r\n").is_ok()
        && s.read_to_string(&mut out).is_ok()
        && out.contains("pong")
}

/// A loopback port that was free a moment ago, for a daemon that cannot be told port 0.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Polls `ready` until it holds; panics with the daemon's log if the time runs out.
fn wait_for(d: &Daemon, limit: Duration, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        if Instant::now() > deadline {
            let logs: Vec<String> = ["clamd.log", "rspamd.log"]
                .iter()
                .filter_map(|f| std::fs::read_to_string(d.dir.path().join(f)).ok())
                .collect();
            panic!("{} did not come up:\n{}", d.address, logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A path in a temp dir where nothing listens.
pub fn dead_socket(dir: &Path) -> PathBuf {
    dir.join("nobody.sock")
}

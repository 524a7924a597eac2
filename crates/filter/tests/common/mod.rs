//! Filter test harness: an SMTP server on port 0 whose pipeline holds the filters under
//! test, a raw SMTP client, and real clamd and rspamd daemons started in temp dirs on
//! loopback (never the system's services), stopped when dropped.
#![allow(dead_code)]

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::watch,
};
use twinmail_filter::FilterSet;
use twinmail_smtp::{Envelope, Kind, Smtp, SmtpSettings};
use twinmail_store::Store;

/// A running SMTP server with the filters under test.
pub struct Mx {
    /// Its store (alice@ and bob@example.com).
    pub store: Store,
    /// Port 25's stand-in.
    pub mx: SocketAddr,
    /// Stops the listeners when dropped.
    pub stop: watch::Sender<bool>,
    /// The store's files.
    pub dir: tempfile::TempDir,
}

/// Starts an MX on port 0 with `filters` (after the hop limit).
pub async fn mx(filters: &FilterSet) -> Mx {
    let dir = tempfile::tempdir().unwrap();
    let store = twinmail_testkit::store(dir.path()).await;
    let mut settings = SmtpSettings::new("mx.example.com");
    settings.error_delay = Duration::from_millis(1);
    let smtp = Smtp::new(settings, store.clone(), None, filters.pipeline(50));
    let (stop, shutdown) = watch::channel(false);
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mx = l.local_addr().unwrap();
    tokio::spawn(twinmail_smtp::run(l, Kind::Mx, smtp, shutdown));
    Mx {
        store,
        mx,
        stop,
        dir,
    }
}

impl Mx {
    /// The messages in a folder of an account, oldest first.
    pub async fn folder(&self, account: &str, name: &str) -> Vec<Vec<u8>> {
        let a = self.store.account(account).await.unwrap().unwrap();
        let Some(m) = self.store.mailbox(a.id, name).await.unwrap() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for m in self.store.messages(m.id).await.unwrap() {
            out.push(self.store.blob(&m.blob).await.unwrap().unwrap());
        }
        out
    }
}

/// Reads one (possibly multi-line) reply.
async fn reply(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        assert!(r.read_line(&mut line).await.unwrap() > 0, "closed after {all:?}");
        all.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return all.trim_end().to_string();
        }
    }
}

/// Sends one message over SMTP; returns the reply to the end of its data.
pub async fn send(addr: SocketAddr, from: &str, rcpt: &str, message: &str) -> String {
    let (r, mut w) = TcpStream::connect(addr).await.unwrap().into_split();
    let mut r = BufReader::new(r);
    assert!(reply(&mut r).await.starts_with("220"));
    for (cmd, want) in [
        ("EHLO client.test".to_string(), "250"),
        (format!("MAIL FROM:<{from}>"), "250"),
        (format!("RCPT TO:<{rcpt}>"), "250"),
        ("DATA".to_string(), "354"),
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes()).await.unwrap();
        let got = reply(&mut r).await;
        assert!(got.starts_with(want), "{cmd}: {got}");
    }
    let body = message.replace("\r\n", "\n").replace('\n', "\r\n");
    w.write_all(body.as_bytes()).await.unwrap();
    w.write_all(b".\r\n").await.unwrap();
    let got = reply(&mut r).await;
    w.write_all(b"QUIT\r\n").await.unwrap();
    got
}

/// An envelope as the MX would build it for a message from `peer`.
pub fn envelope(peer: &str, helo: &str, from: &str) -> Envelope {
    Envelope {
        from: from.to_string(),
        recipients: vec!["alice@example.com".into()],
        peer: peer.parse::<IpAddr>().unwrap(),
        helo: helo.to_string(),
        user: None,
        kind: Kind::Mx,
        id: "0123456789ABCDEF".into(),
    }
}

/// A daemon started by a test, killed when dropped.
pub struct Daemon {
    /// The process.
    child: Child,
    /// Its config, socket and logs.
    pub dir: tempfile::TempDir,
    /// Where it listens: a socket path or "127.0.0.1:port".
    pub address: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    std::fs::write(db.join("twinmail-test.ndb"), format!("Twinmail-EICAR:0:*:{hex}\n")).unwrap();
    let socket = dir.path().join("clamd.sock");
    let conf = dir.path().join("clamd.conf");
    let mut text = format!(
        "Foreground yes\nDatabaseDirectory {}\nLocalSocket {}\nLogFile {}\nPidFile {}\n",
        db.display(),
        socket.display(),
        dir.path().join("clamd.log").display(),
        dir.path().join("clamd.pid").display(),
    );
    if is_root() {
        text.push_str("User root\n");
    }
    std::fs::write(&conf, text).unwrap();
    let child = Command::new("clamd")
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
        dir,
    };
    wait_for(&d, Duration::from_secs(120), || ping_clamd(&socket));
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
"#;

/// Starts rspamd (one normal worker) on a free loopback port with a minimal config: no
/// redis, no modules, action thresholds greylist 4, add header 6, rewrite subject 10,
/// reject 15, the rules above and rspamd's built-in GTUBE handling. Waits until it
/// answers (its start compiles a TLD list: some seconds).
pub fn rspamd() -> Daemon {
    twinmail_testkit::require(&["rspamd"]);
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
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
    let mut cmd = Command::new("rspamd");
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

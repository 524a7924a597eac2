//! neomutt (Debian's package) as a user drives it, typed into inside tmux against a real
//! server: it opens INBOX over IMAPS, reads a message, flags it, saves (moves) one to
//! another folder, deletes one and syncs; then the store must hold exactly that: the
//! read and flagged message \Seen and \Flagged, the moved one in Archive and no longer
//! in INBOX, the deleted one nowhere.
//!
//! A terminal program has no state to wait on but its screen: each step waits (with a
//! deadline, never a bare sleep) until the screen shows what the step led to.

mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use common::{ALICE, Client, Server, start};

/// How long one step may take before the test fails with the screen it saw.
const STEP: Duration = Duration::from_secs(20);

/// A tmux server of the test's own (its socket in a temp dir, so no user's or other
/// test's tmux is touched) running one program in a detached session.
struct Tmux {
    /// The server's socket.
    socket: PathBuf,
}

impl Tmux {
    /// Starts `program` with `args` in a 160x48 terminal, with `home` as HOME.
    fn start(dir: &Path, home: &Path, program: &str, args: &[&str]) -> Tmux {
        let t = Tmux {
            socket: dir.join("tmux.sock"),
        };
        let mut cmd = vec!["new-session", "-d", "-x", "160", "-y", "48", "--", program];
        cmd.extend_from_slice(args);
        let out = t.run(&cmd, home);
        assert!(out.status.success(), "tmux: {out:?}");
        t
    }

    fn run(&self, args: &[&str], home: &Path) -> std::process::Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .env("HOME", home)
            .env_remove("TMUX")
            .output()
            .expect("tmux runs")
    }

    /// What the terminal shows now.
    fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p"], Path::new("/"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// True while the program runs (the session ends with it).
    fn running(&self) -> bool {
        self.run(&["has-session"], Path::new("/")).status.success()
    }

    /// Presses keys, in tmux's names ("Enter", "C-u", "q").
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        assert!(self.run(&args, Path::new("/")).status.success());
    }

    /// Types `text` as it stands.
    fn text(&self, text: &str) {
        let out = self.run(&["send-keys", "-l", text], Path::new("/"));
        assert!(out.status.success());
    }

    /// Waits until the screen satisfies `done`; fails with the screen when it does not
    /// within `STEP`.
    fn wait(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("neomutt never showed {what}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the screen shows `text`.
    fn wait_for(&self, text: &str) -> String {
        self.wait(text, |s| s.contains(text))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"], Path::new("/"));
    }
}

/// A neomuttrc for alice on the server's IMAPS port: the test's certificate trusted,
/// no caches, no questions that a scripted session would have to answer.
fn config(dir: &Path, port: u16) -> PathBuf {
    let ca = dir.join("ca.pem");
    let rc = dir.join("neomuttrc");
    std::fs::write(
        &rc,
        format!(
            "set folder = \"imaps://localhost:{port}/\"\n\
             set spoolfile = \"+INBOX\"\n\
             set imap_user = \"{user}\"\n\
             set imap_pass = \"{pass}\"\n\
             set ssl_force_tls = yes\n\
             set ssl_ca_certificates_file = \"{ca}\"\n\
             set certificate_file = \"{ca}\"\n\
             set header_cache = \"\"\n\
             set message_cachedir = \"\"\n\
             set record = \"\"\n\
             set postponed = \"\"\n\
             set mailcap_path = \"/dev/null\"\n\
             set sort = mailbox-order\n\
             set imap_check_subscribed = no\n\
             set confirmappend = no\n\
             set confirmcreate = no\n\
             set delete = yes\n\
             set move = no\n\
             set mark_old = no\n\
             set quit = yes\n\
             set wait_key = no\n\
             set beep = no\n\
             set pager_stop = no\n\
             set help = yes\n",
            user = ALICE.0,
            pass = ALICE.1,
            ca = ca.display(),
        ),
    )
    .unwrap();
    rc
}

/// Four messages, "neo one" to "neo four", in INBOX; Archive is there and empty.
async fn fill(srv: &Server) {
    let mut c: Client = srv.login(ALICE).await;
    for (i, name) in ["one", "two", "three", "four"].iter().enumerate() {
        let msg = format!(
            "From: Ann <ann@example.org>\r\nTo: alice@example.com\r\nSubject: neo {name}\r\nDate: Mon, 0{} Jun 2026 10:00:00 +0000\r\nMessage-ID: <{name}@example.org>\r\n\r\nbody of {name}\r\n",
            i + 1
        );
        let r = c
            .cmd(&format!("APPEND INBOX {{{}+}}\r\n{msg}", msg.len()))
            .await;
        assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
    }
    // Archive is one of the folders every account starts with.
    let r = c.cmd("STATUS Archive (MESSAGES)").await;
    assert_eq!(r[0], "* STATUS Archive (MESSAGES 0)", "{r:?}");
    c.cmd("LOGOUT").await;
}

/// (subject, flags) of each message in a mailbox, in UID order.
async fn contents(srv: &Server, mailbox: &str) -> Vec<(String, Vec<String>)> {
    let a = srv.store.account(ALICE.0).await.unwrap().unwrap();
    let m = srv.store.mailbox(a.id, mailbox).await.unwrap().unwrap();
    let mut out = Vec::new();
    for msg in srv.store.messages(m.id).await.unwrap() {
        let raw = srv.store.blob(&msg.blob).await.unwrap().unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let subject = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_default()
            .to_string();
        let mut flags: Vec<String> = msg.flags.iter().map(|f| f.to_string()).collect();
        flags.sort();
        out.push((subject, flags));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neomutt_reads_flags_moves_and_deletes() {
    twinmail_testkit::require(&["neomutt", "tmux"]);
    let srv = start().await;
    fill(&srv).await;
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("ca.pem"), srv.tls.cert_pem()).unwrap();
    let rc = config(work.path(), srv.imaps.port());
    let dir = work.path().to_path_buf();

    // neomutt runs in the blocking pool: the server keeps the runtime's threads.
    tokio::task::spawn_blocking(move || {
        let rc = rc.display().to_string();
        let t = Tmux::start(&dir, &dir, "neomutt", &["-n", "-F", &rc]);
        t.wait_for("neo four");

        // Read message 1 (jump to it by number, open it), back to the index, flag it.
        t.text("1");
        t.keys(&["Enter"]);
        t.keys(&["Enter"]);
        t.wait_for("body of one");
        t.keys(&["q"]);
        t.wait_for("neo four");
        t.text("1");
        t.keys(&["Enter"]);
        t.keys(&["F"]);

        // Save message 2 to Archive: neomutt copies it and marks it deleted.
        t.text("2");
        t.keys(&["Enter"]);
        t.keys(&["s"]);
        t.wait_for("Save to mailbox");
        t.keys(&["C-u"]);
        t.text("=Archive");
        t.keys(&["Enter"]);
        t.wait("the save done", |s| {
            !s.contains("Save to mailbox") && !s.contains("Saving")
        });

        // Delete message 3, then sync (expunging what is deleted) and quit.
        t.text("3");
        t.keys(&["Enter"]);
        t.keys(&["d"]);
        t.keys(&["$"]);
        t.keys(&["q"]);
        let deadline = Instant::now() + STEP;
        while t.running() {
            assert!(
                Instant::now() < deadline,
                "neomutt did not quit; the screen:\n{}",
                t.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();

    let s = |v: &[&str]| v.iter().map(|f| f.to_string()).collect::<Vec<_>>();
    assert_eq!(
        contents(&srv, "INBOX").await,
        [
            ("neo one".to_string(), s(&["\\Flagged", "\\Seen"])),
            ("neo four".to_string(), s(&[])),
        ]
    );
    assert_eq!(
        contents(&srv, "Archive").await,
        [("neo two".to_string(), s(&[]))]
    );
}

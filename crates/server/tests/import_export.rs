//! `twinmail import` / `twinmail export` with the real binary: a real-world-shaped
//! Maildir++ goes in and comes back out (as a Maildir and as mbox files) with every
//! message byte for byte, its flags and its internal date; an mboxrd with `From ` lines
//! in bodies round-trips byte for byte; input in the wrong format is refused whole.

mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, UNIX_EPOCH},
};

use common::{admin, write_config};

/// A temp dir with a config, the domain example.com and two accounts.
struct Setup {
    /// Keeps the temp dir alive.
    dir: tempfile::TempDir,
    /// The config file.
    config: PathBuf,
}

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path());
        admin(&config, &["domain", "add", "example.com"], "");
        admin(&config, &["user", "add", ALICE], "secret one\n");
        admin(&config, &["user", "add", BOB], "secret two\n");
        Setup { dir, config }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs twinmail with this config.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_twinmail"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs twinmail, asserts success, returns stdout's last line.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        stdout.lines().last().unwrap_or_default().to_string()
    }

    /// Runs twinmail, asserts failure, returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "{args:?} should have failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// One message as found in a Maildir: its bytes, its info letters, its internal date.
type Entry = (Vec<u8>, String, i64);

/// Writes a file (creating directories) and, if given, sets its mtime.
fn put(path: &Path, bytes: &[u8], mtime: Option<i64>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
    if let Some(t) = mtime {
        let f = fs::File::options().write(true).open(path).unwrap();
        f.set_modified(UNIX_EPOCH + Duration::from_secs(t as u64))
            .unwrap();
    }
}

/// The odd message: Latin-1 body, a 20,000-byte line, CRLF and bare LF mixed, a bare CR,
/// a NUL, and lines that an mbox must quote.
fn odd_message() -> Vec<u8> {
    let mut m = b"From: =?ISO-8859-1?Q?J=F6rg?= <jorg@example.net>\r\n\
To: alice@example.com\r\n\
Subject: =?ISO-8859-1?Q?caf=E9?=\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n"
        .to_vec();
    m.extend_from_slice(b"caf\xe9 na\xefve \xff\xfe\x00\x01 end\r\n");
    m.extend(std::iter::repeat_n(b'x', 20_000));
    m.extend_from_slice(b"\nbare LF line\nCR in the\rmiddle\r\n");
    m.extend_from_slice(b"\nFrom the start of a paragraph\n>From quoted already\r\n");
    m.extend_from_slice(b"\r\nlast line\r\n");
    m
}

fn simple(subject: &str, eol: &str) -> Vec<u8> {
    format!(
        "From: someone@example.net{eol}To: alice@example.com{eol}Subject: {subject}{eol}\
         Date: Tue, 14 Nov 2023 22:13:20 +0000{eol}{eol}Body of {subject}.{eol}"
    )
    .into_bytes()
}

/// Builds the source Maildir++; returns what each folder (by Maildir++ directory name,
/// "" for INBOX) must hold after the import.
fn build_maildir(top: &Path) -> BTreeMap<String, Vec<Entry>> {
    let mut want: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    let mut add = |dir: &str, sub: &str, file: &str, bytes: Vec<u8>, letters: &str, date| {
        let mtime = (!file.starts_with(|c: char| c.is_ascii_digit())).then_some(date);
        put(&top.join(dir).join(sub).join(file), &bytes, mtime);
        want.entry(dir.to_string())
            .or_default()
            .push((bytes, letters.to_string(), date));
    };
    add(
        "",
        "cur",
        "1700000001.M1P100.mx,S=120,W=125:2,S",
        simple("crlf", "\r\n"),
        "S",
        1_700_000_001,
    );
    add(
        "",
        "cur",
        "1700000002.M2P100.mx:2,FRS",
        simple("flagged", "\n"),
        "FRS",
        1_700_000_002,
    );
    add(
        "",
        "cur",
        "1700000003.M3P100.mx:2,DT",
        simple("draft", "\n"),
        "DT",
        1_700_000_003,
    );
    add(
        "",
        "cur",
        "1700000004.M4P100.mx:2,Pab",
        simple("forwarded", "\n"),
        "P",
        1_700_000_004,
    );
    add(
        "",
        "cur",
        "1700000005.M5P100.mx:2,RS",
        odd_message(),
        "RS",
        1_700_000_005,
    );
    add(
        "",
        "cur",
        "1700000006.M6P100.mx:2,",
        b"Subject: no newline\n\nthe last line has no line end".to_vec(),
        "",
        1_700_000_006,
    );
    // No timestamp in the name: the mtime is the internal date.
    add(
        "",
        "cur",
        "courier-msg.abc:2,S",
        simple("mtime", "\n"),
        "S",
        1_600_000_000,
    );
    add(
        "",
        "new",
        "1700000010.M10P100.mx",
        simple("new", "\n"),
        "",
        1_700_000_010,
    );
    add(
        "",
        "new",
        "1700000011.M11P100.mx:2,FS",
        simple("new flagged", "\n"),
        "F",
        1_700_000_011,
    );
    add(
        ".Sent",
        "cur",
        "1700000020.M20P100.mx:2,S",
        simple("sent", "\r\n"),
        "S",
        1_700_000_020,
    );
    add(
        ".Lists.rust",
        "cur",
        "1700000030.M30P100.mx:2,S",
        simple("rust 1", "\n"),
        "S",
        1_700_000_030,
    );
    add(
        ".Lists.rust",
        "cur",
        "1700000031.M31P100.mx:2,RS",
        simple("rust 2", "\n"),
        "RS",
        1_700_000_031,
    );
    add(
        ".Lists.rust",
        "new",
        "1700000032.M32P100.mx",
        simple("rust 3", "\n"),
        "",
        1_700_000_032,
    );
    add(
        ".Entw&APw-rfe",
        "cur",
        "1700000040.M40P100.mx:2,DS",
        simple("entwurf", "\n"),
        "DS",
        1_700_000_040,
    );
    // What real Maildirs also hold, none of it mail to import.
    put(
        &top.join("tmp/1700000099.M99P100.mx"),
        b"Subject: half-delivered\n\n",
        None,
    );
    put(&top.join("dovecot-uidlist"), b"3 V1700000000 N12\n", None);
    put(&top.join("dovecot.index.log"), b"\x00\x01binary", None);
    put(&top.join("subscriptions"), b"Sent\nLists.rust\n", None);
    put(&top.join("courierimapkeywords/:list"), b"a\n", None);
    put(&top.join(".Sent/maildirfolder"), b"", None);
    put(&top.join(".Sent/tmp/.keep"), b"", None);
    put(&top.join(".NotAFolder/maildirfolder"), b"", None);
    for entries in want.values_mut() {
        entries.sort();
    }
    want
}

/// Reads a Maildir that `twinmail export maildir` wrote: folder directory name ("" for
/// INBOX) → its messages, checking every file name and mtime on the way.
fn read_export(top: &Path) -> BTreeMap<String, Vec<Entry>> {
    let mut dirs = vec![(String::new(), top.to_path_buf())];
    for e in fs::read_dir(top).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if ["cur", "new", "tmp"].contains(&name.as_str()) {
            continue;
        }
        assert!(name.starts_with('.'), "unexpected {name} at the top");
        dirs.push((name, e.path()));
    }
    let mut out = BTreeMap::new();
    for (name, dir) in dirs {
        for sub in ["new", "tmp"] {
            assert_eq!(
                fs::read_dir(dir.join(sub)).unwrap().count(),
                0,
                "{name}/{sub}"
            );
        }
        if !name.is_empty() {
            assert!(dir.join("maildirfolder").is_file(), "{name}/maildirfolder");
        }
        let mut entries = Vec::new();
        for f in fs::read_dir(dir.join("cur")).unwrap() {
            let f = f.unwrap();
            let file = f.file_name().into_string().unwrap();
            let (base, letters) = file.split_once(":2,").expect("info suffix");
            let parts: Vec<&str> = base.split('.').collect();
            assert_eq!(parts.len(), 3, "{file}");
            assert_eq!(parts[2], "twinmail", "{file}");
            assert!(
                parts[1].len() == 32 && parts[1].bytes().all(|b| b.is_ascii_hexdigit()),
                "{file}"
            );
            let date: i64 = parts[0].parse().unwrap();
            let mut sorted: Vec<char> = letters.chars().collect();
            sorted.sort_unstable();
            assert_eq!(letters, sorted.into_iter().collect::<String>(), "{file}");
            let mtime = f.metadata().unwrap().modified().unwrap();
            assert_eq!(
                mtime.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64,
                date,
                "mtime of {file}"
            );
            entries.push((fs::read(f.path()).unwrap(), letters.to_string(), date));
        }
        entries.sort();
        out.insert(name, entries);
    }
    out
}

/// Store folder names (as `--folder` takes them) of the Maildir++ directory names.
const FOLDERS: [(&str, &str); 4] = [
    ("", "INBOX"),
    (".Sent", "Sent"),
    (".Lists.rust", "Lists/rust"),
    (".Entw&APw-rfe", "Entwürfe"),
];

#[test]
fn maildir_round_trips_through_maildir_and_mbox() {
    let t = Setup::new();
    let src = t.path("source-maildir");
    let want = build_maildir(&src);

    let out = t.run(&["import", "maildir", s(&src), "--user", ALICE]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim_end(),
        format!("imported 14 messages into 4 folders for {ALICE}")
    );
    // The directory without cur/ and new/ is named, not imported.
    assert!(String::from_utf8_lossy(&out.stderr).contains(".NotAFolder"));

    // Back out as a Maildir++: the same folders (plus the account's defaults and the
    // parent Lists), every message byte for byte with its flags and date.
    let exported = t.path("exported-maildir");
    assert_eq!(
        t.ok(&["export", "maildir", s(&exported), "--user", ALICE]),
        format!("exported 14 messages from 9 folders for {ALICE}")
    );
    let got = read_export(&exported);
    let dirs: BTreeSet<&str> = got.keys().map(String::as_str).collect();
    let mut expected_dirs: BTreeSet<&str> = want.keys().map(String::as_str).collect();
    expected_dirs.extend([".Drafts", ".Trash", ".Junk", ".Archive", ".Lists"]);
    assert_eq!(dirs, expected_dirs);
    for (dir, entries) in &want {
        assert_eq!(&got[dir], entries, "folder {dir:?}");
    }
    for empty in [".Drafts", ".Trash", ".Junk", ".Archive", ".Lists"] {
        assert!(got[empty].is_empty(), "{empty}");
    }

    // Out as mbox files (one per folder, names decoded as the store holds them), into
    // Bob's account, and out again: the same bytes and dates. mbox keeps no flags, and a
    // message needs a final line end in an mbox, so the one without gets one.
    for (i, (dir, folder)) in FOLDERS.iter().enumerate() {
        let mbox = t.path(&format!("{i}.mbox"));
        let n = want[*dir].len();
        assert_eq!(
            t.ok(&[
                "export",
                "mbox",
                s(&mbox),
                "--user",
                ALICE,
                "--folder",
                folder
            ]),
            format!("exported {n} messages from 1 folders for {ALICE}")
        );
        assert!(fs::read(&mbox).unwrap().starts_with(b"From MAILER-DAEMON "));
        assert_eq!(
            t.ok(&[
                "import",
                "mbox",
                s(&mbox),
                "--user",
                BOB,
                "--folder",
                folder
            ]),
            format!("imported {n} messages into 1 folders for {BOB}")
        );
    }
    let bob_export = t.path("bob-maildir");
    assert_eq!(
        t.ok(&["export", "maildir", s(&bob_export), "--user", BOB]),
        format!("exported 14 messages from 9 folders for {BOB}")
    );
    let bob = read_export(&bob_export);
    for (dir, entries) in &want {
        let mut expected: Vec<(Vec<u8>, i64)> = entries
            .iter()
            .map(|(bytes, _, date)| {
                let mut b = bytes.clone();
                if !b.ends_with(b"\n") {
                    b.push(b'\n');
                }
                (b, *date)
            })
            .collect();
        expected.sort();
        let mut got: Vec<(Vec<u8>, i64)> =
            bob[dir].iter().map(|(b, _, d)| (b.clone(), *d)).collect();
        got.sort();
        assert_eq!(got, expected, "folder {dir:?} through mbox");
    }

    // Exports never write into something that exists.
    assert!(
        t.fails(&["export", "maildir", s(&exported), "--user", ALICE])
            .contains("not empty")
    );
    assert!(
        t.fails(&["export", "mbox", s(&t.path("0.mbox")), "--user", ALICE])
            .contains("0.mbox")
    );
}

/// One mboxrd message: the `From ` line, the quoted bytes, the blank line.
fn mboxrd(date: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("From MAILER-DAEMON {date}\n").into_bytes();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let quotes = line.iter().take_while(|&&b| b == b'>').count();
        if line[quotes..].starts_with(b"From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
    out.push(b'\n');
    out
}

#[test]
fn mboxrd_round_trips_byte_for_byte() {
    let t = Setup::new();
    let messages: Vec<(&str, Vec<u8>, &str, i64)> = vec![
        (
            "Thu Nov 16 22:13:20 2023",
            b"Status: RO\nX-Status: AF\nFrom: alice@example.net\nSubject: quoting\n\n\
From the start of the body\nbody\n>From once\n>>From twice\n>>>From thrice\n\
From again\n\nFrom after a blank line\n"
                .to_vec(),
            "FRS",
            1_700_172_800,
        ),
        (
            "Fri Nov 17 08:00:00 2023",
            b"Subject: crlf\r\nX-Status: DT\r\n\r\nline one\r\n>From crlf\r\nFrom crlf\r\n"
                .to_vec(),
            "DT",
            1_700_208_000,
        ),
        (
            "Mon Jan  1 00:00:00 2001",
            b"Subject: ends with a blank line\nStatus: O\n\ntext\n\n".to_vec(),
            "",
            978_307_200,
        ),
        (
            "Sat Feb 29 12:34:56 2020",
            b"Subject: not a header\n\nStatus: R\nX-Status: F\n".to_vec(),
            "",
            1_582_979_696,
        ),
        (
            "Sun Mar  1 00:00:01 2020",
            b"Subject: last\n\n>\n>From\n>From \nFrom\n".to_vec(),
            "",
            1_583_020_801,
        ),
    ];
    let mut file = Vec::new();
    for (date, bytes, _, _) in &messages {
        file.extend(mboxrd(date, bytes));
    }
    let src = t.path("in.mbox");
    fs::write(&src, &file).unwrap();

    assert_eq!(
        t.ok(&[
            "import",
            "mbox",
            s(&src),
            "--user",
            ALICE,
            "--folder",
            "Archive/2023"
        ]),
        format!("imported 5 messages into 1 folders for {ALICE}")
    );
    let back = t.path("out.mbox");
    assert_eq!(
        t.ok(&[
            "export",
            "mbox",
            s(&back),
            "--user",
            ALICE,
            "--folder",
            "Archive/2023"
        ]),
        format!("exported 5 messages from 1 folders for {ALICE}")
    );
    let got = fs::read(&back).unwrap();
    assert!(
        got == file,
        "mbox differs after import and export:\n--- in\n{}\n--- out\n{}",
        String::from_utf8_lossy(&file),
        String::from_utf8_lossy(&got)
    );

    // Flags from Status / X-Status (headers only) and dates from the `From ` lines.
    let md = t.path("md");
    t.ok(&["export", "maildir", s(&md), "--user", ALICE]);
    let folder = &read_export(&md)[".Archive.2023"];
    let mut want: Vec<Entry> = messages
        .iter()
        .map(|(_, b, l, d)| (b.clone(), l.to_string(), *d))
        .collect();
    want.sort();
    assert_eq!(folder, &want);

    // The default folder is INBOX; an mbox with a From line that has no date still
    // imports (dated now) and an empty file is an empty mbox.
    let loose = t.path("loose.mbox");
    fs::write(&loose, b"From someone\nSubject: undated\n\nbody\n").unwrap();
    assert_eq!(
        t.ok(&["import", "mbox", s(&loose), "--user", BOB]),
        format!("imported 1 messages into 1 folders for {BOB}")
    );
    let empty = t.path("empty.mbox");
    fs::write(&empty, b"").unwrap();
    assert_eq!(
        t.ok(&["import", "mbox", s(&empty), "--user", BOB]),
        format!("imported 0 messages into 1 folders for {BOB}")
    );
}

#[test]
fn wrong_formats_are_refused_whole() {
    let t = Setup::new();

    // A directory of mail that is not a Maildir (no cur/ new/ tmp/ at the top).
    let not_maildir = t.path("not-maildir");
    put(
        &not_maildir.join("1700000001.M1P1.mx:2,S"),
        &simple("loose", "\n"),
        None,
    );
    put(
        &not_maildir.join(".Sent/cur/1700000002.M2P1.mx:2,S"),
        &simple("sent", "\n"),
        None,
    );
    let err = t.fails(&["import", "maildir", s(&not_maildir), "--user", ALICE]);
    assert!(err.contains("not a Maildir"), "{err}");
    // A file is not a Maildir either, nor is a path that does not exist.
    let err = t.fails(&["import", "maildir", s(&t.config), "--user", ALICE]);
    assert!(err.contains("not a directory"), "{err}");
    t.fails(&["import", "maildir", s(&t.path("nowhere")), "--user", ALICE]);

    // A single message (RFC 5322, starting with a `From:` header) is not an mbox.
    let eml = t.path("message.eml");
    fs::write(
        &eml,
        b"From: a@example.net\nSubject: x\n\nFrom here on\n\nFrom x\n",
    )
    .unwrap();
    let err = t.fails(&[
        "import",
        "mbox",
        s(&eml),
        "--user",
        ALICE,
        "--folder",
        "Quarantine",
    ]);
    assert!(err.contains("not an mbox"), "{err}");
    // Nor is one with a blank line before its first `From ` line.
    let late = t.path("late.mbox");
    fs::write(
        &late,
        b"\nFrom MAILER-DAEMON Thu Nov 16 22:13:20 2023\nSubject: x\n\nb\n",
    )
    .unwrap();
    let err = t.fails(&["import", "mbox", s(&late), "--user", ALICE]);
    assert!(err.contains("not an mbox"), "{err}");

    // An unknown account, a good Maildir.
    let good = t.path("good");
    put(
        &good.join("cur/1700000001.M1P1.mx:2,S"),
        &simple("good", "\n"),
        None,
    );
    fs::create_dir_all(good.join("new")).unwrap();
    fs::create_dir_all(good.join("tmp")).unwrap();
    let err = t.fails(&[
        "import",
        "maildir",
        s(&good),
        "--user",
        "nobody@example.com",
    ]);
    assert!(err.contains("nobody@example.com"), "{err}");

    // Nothing was imported anywhere, and no folder was made.
    let md = t.path("export");
    assert_eq!(
        t.ok(&["export", "maildir", s(&md), "--user", ALICE]),
        format!("exported 0 messages from 6 folders for {ALICE}")
    );
    assert!(!md.join(".Quarantine").exists());
}

/// A Maildir whose `cur` is a symbolic link to a directory of secrets (as `cur ->
/// /etc/twinmail`), with a linked message file, a linked folder and a FIFO: nothing of
/// the secrets lands, the import does not hang on the FIFO, and each skipped entry is
/// named.
#[test]
fn symbolic_links_and_special_files_are_skipped_and_named() {
    let t = Setup::new();
    let secrets = t.path("etc-twinmail");
    put(&secrets.join("mirror.secret"), b"the-mirror-secret\n", None);
    put(
        &t.path("elsewhere/cur/1700000009.M9P9.mx:2,S"),
        b"Subject: elsewhere\n\nnot in this Maildir\n",
        None,
    );
    let md = t.path("hostile");
    put(
        &md.join("new/1700000001.M1P1.mx"),
        &simple("the only real one", "\n"),
        None,
    );
    std::os::unix::fs::symlink(&secrets, md.join("cur")).unwrap();
    std::os::unix::fs::symlink(
        secrets.join("mirror.secret"),
        md.join("new/1700000002.M2P1.mx"),
    )
    .unwrap();
    std::os::unix::fs::symlink(t.path("elsewhere"), md.join(".Leak")).unwrap();
    let fifo = md.join("new/1700000003.M3P1.mx");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = t.run(&["import", "maildir", s(&md), "--user", ALICE]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("imported 1 messages into 1 folders") && stdout.contains("skipped 4"),
        "{stdout}"
    );
    for (path, what) in [
        (md.join("cur"), "a symbolic link"),
        (md.join("new/1700000002.M2P1.mx"), "a symbolic link"),
        (md.join(".Leak"), "a symbolic link"),
        (fifo.clone(), "a FIFO"),
    ] {
        assert!(
            stderr.contains(&format!("skipped {}: {what}", path.display())),
            "{} not named as {what}:\n{stderr}",
            path.display()
        );
    }
    let export = t.path("export");
    assert_eq!(
        t.ok(&["export", "maildir", s(&export), "--user", ALICE]),
        format!("exported 1 messages from 6 folders for {ALICE}")
    );
    let mut all = Vec::new();
    for sub in ["cur", "new"] {
        for e in fs::read_dir(export.join(sub)).unwrap() {
            all.extend(fs::read(e.unwrap().path()).unwrap());
        }
    }
    let all = String::from_utf8_lossy(&all);
    assert!(all.contains("the only real one"), "{all}");
    assert!(!all.contains("the-mirror-secret"), "the secret landed");
    assert!(!export.join(".Leak").exists());
}

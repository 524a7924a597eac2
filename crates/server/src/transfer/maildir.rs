//! Maildir++ import and export.
//!
//! Layout: `cur/ new/ tmp/` at the top are INBOX; every other folder is a directory
//! `.Level1.Level2` beside them, each level in modified UTF-7 (as Dovecot and Courier
//! write them). Flags live in the file name's `:2,` info suffix; INTERNALDATE is the
//! leading Unix timestamp of the file name, else the file's mtime.
//!
//! Only real directories and regular files are read: a symbolic link (`cur ->
//! /etc/twinmail` would land the mirror secret in someone's INBOX), a FIFO or a device is
//! skipped and named on standard error, and counted in the summary. Files are opened
//! without following a link, so one swapped in after the listing is refused too.

use std::{
    collections::BTreeSet,
    fs,
    io::Write,
    path::{Path, PathBuf},
    time::{Duration, UNIX_EPOCH},
};

use anyhow::{Context, Result, bail};
use twinmail_imap::mutf7;
use twinmail_store::{Account, Flags, Store};

use super::{Tally, bytes_of, folder};

/// Maildir info letters and the flags they stand for, in the letters' sorted order.
const LETTERS: [(char, &str); 6] = [
    ('D', "\\Draft"),
    ('F', "\\Flagged"),
    ('P', "$Forwarded"),
    ('R', "\\Answered"),
    ('S', "\\Seen"),
    ('T', "\\Deleted"),
];

/// One folder found in a Maildir++ to import.
struct SourceFolder {
    /// The store's name for it (`/`-delimited, decoded from modified UTF-7).
    name: String,
    /// The directory holding its `cur/` and `new/`.
    dir: PathBuf,
}

/// One message file to import.
struct SourceMessage {
    /// The file.
    path: PathBuf,
    /// The file name's leading Unix timestamp, if it has one.
    stamp: Option<i64>,
    /// The file name (the import order's tie-breaker).
    name: String,
    /// True for a file in `new/` (never seen by a client: no `\Seen`).
    is_new: bool,
}

/// True when `dir` holds a `cur/` or a `new/` directory (copies made with tools that
/// drop empty directories may lack one; a missing one holds no mail). A symbolic link
/// named so is no directory of the Maildir's.
fn is_maildir(dir: &Path) -> bool {
    real_dir(&dir.join("cur")) || real_dir(&dir.join("new"))
}

/// True for a directory that is not reached through a symbolic link at its last step.
fn real_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// What a Maildir entry is when it is not what an import reads, for the skip message.
fn oddity(kind: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Says on standard error that `path` was left out, and why; counts it.
fn skip(path: &Path, why: &str, skipped: &mut u64) {
    eprintln!("twinmail: skipped {}: {why}", path.display());
    *skipped += 1;
}

/// A message file's bytes, read only if it is a regular file: opened without following
/// a symbolic link and without blocking on a FIFO, then checked on the open file.
fn read_regular(path: &Path) -> std::io::Result<Result<Vec<u8>, &'static str>> {
    use std::{io::Read, os::unix::fs::OpenOptionsExt};
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let mut f = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
    {
        Ok(f) => f,
        // ELOOP: the last step is a symbolic link.
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Ok(Err("a symbolic link"));
        }
        Err(e) => return Err(e),
    };
    let kind = f.metadata()?.file_type();
    if !kind.is_file() {
        return Ok(Err(oddity(kind)));
    }
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(Ok(bytes))
}

/// Imports every folder of the Maildir++ at `path` into the account.
pub async fn import(store: &Store, account: &Account, path: &Path) -> Result<Tally> {
    if !path.is_dir() {
        bail!("{} is not a directory", path.display());
    }
    if !is_maildir(path) {
        bail!(
            "{} is not a Maildir: it has no cur/, new/ or tmp/ directory",
            path.display()
        );
    }
    // Find and name every folder before importing anything, so that a bad folder name
    // stops the import before it has begun.
    let mut tally = Tally::default();
    let folders = source_folders(path, &mut tally.skipped)?;
    for f in &folders {
        let mailbox = folder(store, account, &f.name).await?;
        let messages = source_messages(&f.dir, &mut tally.skipped)?;
        for m in messages {
            let read =
                read_regular(&m.path).with_context(|| format!("reading {}", m.path.display()))?;
            let bytes = match read {
                Ok(b) => b,
                Err(why) => {
                    skip(&m.path, why, &mut tally.skipped);
                    continue;
                }
            };
            let date = match m.stamp {
                Some(s) => s,
                None => mtime(&m.path)?,
            };
            let flags = flags_of(&m.name, m.is_new);
            store
                .append(mailbox.id, bytes, flags, Some(date))
                .await
                .with_context(|| format!("storing {} in {:?}", m.path.display(), f.name))?;
            tally.messages += 1;
        }
        tally.folders += 1;
    }
    Ok(tally)
}

/// INBOX and every `.Name` folder directory of a Maildir++, named for the store.
fn source_folders(top: &Path, skipped: &mut u64) -> Result<Vec<SourceFolder>> {
    let mut folders = vec![SourceFolder {
        name: "INBOX".into(),
        dir: top.to_path_buf(),
    }];
    let mut dirs = Vec::new();
    for entry in fs::read_dir(top).with_context(|| format!("listing {}", top.display()))? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(raw) = file_name.to_str() else {
            bail!(
                "folder directory {:?} is not valid UTF-8",
                entry.path().display()
            );
        };
        let Some(encoded) = raw.strip_prefix('.') else {
            continue;
        };
        if encoded.is_empty() || encoded == "." {
            continue;
        }
        let kind = entry.file_type()?;
        if !kind.is_dir() {
            if kind.is_symlink() {
                skip(&entry.path(), oddity(kind), skipped);
            }
            continue;
        }
        if !is_maildir(&entry.path()) {
            eprintln!(
                "twinmail: skipping {}: no cur/ or new/ in it",
                entry.path().display()
            );
            continue;
        }
        dirs.push((encoded.to_string(), entry.path()));
    }
    dirs.sort();
    let mut seen = BTreeSet::new();
    seen.insert("INBOX".to_string());
    for (encoded, dir) in dirs {
        let name = folder_name(&encoded)?;
        if !seen.insert(name.clone()) {
            bail!(
                "two folder directories name {name:?} (one is {})",
                dir.display()
            );
        }
        folders.push(SourceFolder { name, dir });
    }
    Ok(folders)
}

/// The store's name for a Maildir++ folder directory (without its leading dot):
/// `Lists.rust` → `Lists/rust`, `Entw&APw-rfe` → `Entwürfe`.
fn folder_name(encoded: &str) -> Result<String> {
    let mut levels = Vec::new();
    for level in encoded.split('.') {
        let decoded = match mutf7::decode(level) {
            Some(d) => d,
            // Dovecot with its UTF-8 option writes names unencoded.
            None if !level.is_ascii() => level.to_string(),
            None => bail!("folder directory .{encoded}: {level:?} is not valid modified UTF-7"),
        };
        if decoded.contains('/') {
            bail!("folder directory .{encoded}: a level holds a '/'");
        }
        levels.push(decoded);
    }
    let name = levels.join("/");
    twinmail_store::names::mailbox(&name).with_context(|| format!("folder directory .{encoded}"))
}

/// The message files in a folder's `cur/` and `new/`, oldest first. `tmp/` holds
/// deliveries in progress and is left alone, as are hidden files.
fn source_messages(dir: &Path, skipped: &mut u64) -> Result<Vec<SourceMessage>> {
    let mut out = Vec::new();
    for (sub, is_new) in [("cur", false), ("new", true)] {
        let d = dir.join(sub);
        match fs::symlink_metadata(&d) {
            Ok(m) if m.is_dir() => {}
            Ok(m) => {
                skip(&d, oddity(m.file_type()), skipped);
                continue;
            }
            Err(_) => continue,
        }
        for entry in fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                bail!("file name {} is not valid UTF-8", entry.path().display());
            };
            if name.starts_with('.') {
                continue;
            }
            let kind = entry.file_type()?;
            if !kind.is_file() {
                skip(&entry.path(), oddity(kind), skipped);
                continue;
            }
            out.push(SourceMessage {
                path: entry.path(),
                stamp: leading_stamp(&name),
                name,
                is_new,
            });
        }
    }
    out.sort_by(|a, b| (a.stamp, &a.name).cmp(&(b.stamp, &b.name)));
    Ok(out)
}

/// The Unix timestamp a Maildir file name starts with (`1700000000.M1P2.host`).
fn leading_stamp(name: &str) -> Option<i64> {
    let (digits, _) = name.split_once('.')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A file's mtime as Unix seconds.
fn mtime(path: &Path) -> Result<i64> {
    let modified = fs::metadata(path)
        .and_then(|m| m.modified())
        .with_context(|| format!("reading the mtime of {}", path.display()))?;
    Ok(match modified.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    })
}

/// The flags in a file name's `:2,` info; lowercase letters (Dovecot keywords) and
/// unknown letters are ignored, and a file in `new/` is never `\Seen`.
fn flags_of(name: &str, is_new: bool) -> Flags {
    let info = name.rsplit_once(":2,").map(|(_, i)| i).unwrap_or("");
    Flags::new(info.chars().filter_map(|c| {
        LETTERS
            .iter()
            .find(|(l, _)| *l == c)
            .map(|(_, f)| *f)
            .filter(|f| !(is_new && *f == "\\Seen"))
    }))
}

/// The info letters for a flag set, sorted; flags without a letter are left out.
fn letters_of(flags: &Flags) -> (String, bool) {
    let mut letters: Vec<char> = Vec::new();
    let mut dropped = false;
    for f in flags.iter() {
        match LETTERS
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(f))
        {
            Some((l, _)) => letters.push(*l),
            None => dropped = true,
        }
    }
    letters.sort_unstable();
    (letters.into_iter().collect(), dropped)
}

/// The Maildir++ directory name for a store folder name (`None` for INBOX, which is the
/// top directory).
fn folder_dir(name: &str) -> Result<Option<String>> {
    if name == "INBOX" {
        return Ok(None);
    }
    let mut out = String::new();
    for level in name.split(twinmail_store::names::DELIMITER) {
        if level.contains('.') {
            bail!("folder {name:?} has a '.' in a level, which Maildir++ cannot name");
        }
        out.push('.');
        out.push_str(&mutf7::encode(level));
    }
    Ok(Some(out))
}

/// Makes `cur/ new/ tmp/` in `dir`.
fn make_maildir(dir: &Path) -> Result<()> {
    for sub in ["cur", "new", "tmp"] {
        let d = dir.join(sub);
        fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    }
    Ok(())
}

/// Exports every folder of the account to a new Maildir++ at `path`.
pub async fn export(store: &Store, account: &Account, path: &Path) -> Result<Tally> {
    if path.exists() {
        let mut entries = fs::read_dir(path)
            .with_context(|| format!("{} exists and is not a directory", path.display()))?;
        if entries.next().is_some() {
            bail!(
                "refusing to export into {}: it is not empty",
                path.display()
            );
        }
    }
    let mailboxes = store.mailboxes(account.id).await?;
    // Name every folder before writing anything.
    let mut targets = Vec::with_capacity(mailboxes.len());
    for m in mailboxes {
        let dir = match folder_dir(&m.name)? {
            None => path.to_path_buf(),
            Some(d) => path.join(d),
        };
        targets.push((m, dir));
    }
    // INBOX (the top) first, so that the Maildir exists before its folders.
    targets.sort_by_key(|(m, _)| m.name != "INBOX");
    make_maildir(path)?;
    let mut tally = Tally::default();
    let mut dropped = 0u64;
    for (mailbox, dir) in &targets {
        make_maildir(dir)?;
        if dir != path {
            fs::write(dir.join("maildirfolder"), b"")
                .with_context(|| format!("writing {}/maildirfolder", dir.display()))?;
        }
        for m in store.messages(mailbox.id).await? {
            let bytes = bytes_of(store, &m).await?;
            let (letters, lost) = letters_of(&m.flags);
            dropped += u64::from(lost);
            let base = format!("{}.{}.twinmail", m.internal_date, m.guid);
            let tmp = dir.join("tmp").join(&base);
            let cur = dir.join("cur").join(format!("{base}:2,{letters}"));
            write_file(&tmp, &bytes, m.internal_date)?;
            fs::rename(&tmp, &cur)
                .with_context(|| format!("moving {} into cur/", tmp.display()))?;
            tally.messages += 1;
        }
        tally.folders += 1;
    }
    if dropped > 0 {
        eprintln!(
            "twinmail: {dropped} message(s) had keywords that Maildir file names cannot hold; \
             they were left out"
        );
    }
    Ok(tally)
}

/// Writes a new file with `bytes` and sets its mtime to `date` (Unix seconds).
fn write_file(path: &Path, bytes: &[u8], date: i64) -> Result<()> {
    let mut f =
        fs::File::create_new(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    let when = if date >= 0 {
        UNIX_EPOCH + Duration::from_secs(date as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(date.unsigned_abs())
    };
    f.set_modified(when)
        .with_context(|| format!("setting the mtime of {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_flags() {
        assert_eq!(folder_name("Entw&APw-rfe").unwrap(), "Entwürfe");
        assert_eq!(folder_name("Lists.rust").unwrap(), "Lists/rust");
        assert_eq!(folder_name("inbox.x").unwrap(), "INBOX/x");
        assert!(folder_name("Lists..rust").is_err());
        assert!(folder_name("&AEE-").is_err());
        assert_eq!(folder_dir("Lists/rust").unwrap().unwrap(), ".Lists.rust");
        assert_eq!(folder_dir("Entwürfe").unwrap().unwrap(), ".Entw&APw-rfe");
        assert!(folder_dir("a.b").is_err());
        assert_eq!(folder_dir("INBOX").unwrap(), None);
        assert_eq!(
            leading_stamp("1700000000.M1P2.host:2,S"),
            Some(1_700_000_000)
        );
        assert_eq!(leading_stamp("msg.1700000000"), None);
        let f = flags_of("1.x,S=12:2,TSRPFDab", false);
        assert_eq!(
            f,
            Flags::new([
                "\\Draft",
                "\\Flagged",
                "$Forwarded",
                "\\Answered",
                "\\Seen",
                "\\Deleted"
            ])
        );
        assert_eq!(letters_of(&f), ("DFPRST".to_string(), false));
        assert_eq!(flags_of("1.x:2,S", true), Flags::default());
        assert_eq!(
            letters_of(&Flags::new(["\\Seen", "$Junk"])),
            ("S".to_string(), true)
        );
    }
}

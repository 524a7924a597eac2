//! mbox import (mboxrd and mboxo) and export (mboxrd).
//!
//! A message starts at a line beginning with `From ` at the start of the file or after
//! a blank line; that blank line separates messages and belongs to neither. Body lines
//! matching `^>+From ` lose one `>` on import (mboxrd); on export every line matching
//! `^>*From ` gains one, so the bytes come back unchanged. INTERNALDATE travels in the
//! `From ` line's asctime date (UTC); flags come from the `Status:` and `X-Status:`
//! headers on import, which stay in the message as they are.

use std::{
    fs,
    io::{BufRead, BufReader, BufWriter, Write},
    path::Path,
};

use anyhow::{Context, Result, bail};
use twinmail_store::{Account, Flags, Store, now_unix};

use super::{Tally, bytes_of, existing_folder, folder};

/// Reads an mbox one message at a time.
struct Reader<R> {
    /// The mbox, read line by line.
    input: R,
    /// The `From ` line that starts the next message, once it has been read.
    pending: Option<Vec<u8>>,
    /// True once the first line has been read (and checked to be a `From ` line).
    started: bool,
}

/// One message read from an mbox.
struct Parsed {
    /// The message's bytes, separator and quoting removed.
    bytes: Vec<u8>,
    /// INTERNALDATE from the `From ` line, if its date parses.
    date: Option<i64>,
    /// Flags from the `Status:` and `X-Status:` headers.
    flags: Flags,
}

/// True for a line (with its line ending) that holds nothing else.
fn is_blank(line: &[u8]) -> bool {
    line == b"\n" || line == b"\r\n"
}

/// The number of `>` before `From ` at the start of a line, if the line is a (quoted)
/// `From ` line.
fn from_quotes(line: &[u8]) -> Option<usize> {
    let n = line.iter().take_while(|&&b| b == b'>').count();
    line[n..].starts_with(b"From ").then_some(n)
}

impl<R: BufRead> Reader<R> {
    fn new(input: R) -> Self {
        Reader {
            input,
            pending: None,
            started: false,
        }
    }

    /// Reads one line (with its `\n`) into `line`; false at the end of the file.
    fn line(&mut self, line: &mut Vec<u8>) -> Result<bool> {
        line.clear();
        Ok(self
            .input
            .read_until(b'\n', line)
            .context("reading the mbox")?
            > 0)
    }

    /// The next message, or `None` at the end of the file. The first call fails unless
    /// the file is empty or starts with a `From ` line.
    fn next(&mut self) -> Result<Option<Parsed>> {
        let mut line = Vec::new();
        let from = match self.pending.take() {
            Some(f) => f,
            None if self.started => return Ok(None),
            None => {
                self.started = true;
                if !self.line(&mut line)? {
                    return Ok(None);
                }
                if !line.starts_with(b"From ") {
                    bail!("not an mbox: the file does not start with a `From ` line");
                }
                std::mem::take(&mut line)
            }
        };
        let mut bytes = Vec::new();
        let mut status = Vec::new();
        let mut in_header = true;
        let mut last_blank = false;
        let mut last_start = 0;
        while self.line(&mut line)? {
            if last_blank && line.starts_with(b"From ") {
                self.pending = Some(std::mem::take(&mut line));
                break;
            }
            last_blank = is_blank(&line);
            last_start = bytes.len();
            let unquoted = match from_quotes(&line) {
                Some(n) if n > 0 => &line[1..],
                _ => &line[..],
            };
            if in_header {
                if last_blank {
                    in_header = false;
                } else if let Some(v) =
                    header_value(unquoted, "Status").or_else(|| header_value(unquoted, "X-Status"))
                {
                    status.extend_from_slice(v);
                }
            }
            bytes.extend_from_slice(unquoted);
        }
        if last_blank {
            bytes.truncate(last_start);
        }
        Ok(Some(Parsed {
            bytes,
            date: from_line_date(&from),
            flags: status_flags(&status),
        }))
    }
}

/// The value of header `name` if `line` is that header.
fn header_value<'a>(line: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let n = name.len();
    (line.len() > n && line[..n].eq_ignore_ascii_case(name.as_bytes()) && line[n] == b':')
        .then(|| &line[n + 1..])
}

/// Flags from the letters of `Status:` and `X-Status:` (R: \Seen; O: nothing; A:
/// \Answered; F: \Flagged; T: \Draft; D: \Deleted).
fn status_flags(letters: &[u8]) -> Flags {
    Flags::new(letters.iter().filter_map(|b| match b {
        b'R' => Some("\\Seen"),
        b'A' => Some("\\Answered"),
        b'F' => Some("\\Flagged"),
        b'T' => Some("\\Draft"),
        b'D' => Some("\\Deleted"),
        _ => None,
    }))
}

/// Imports the mbox at `path` into the account's folder `name`.
pub async fn import(store: &Store, account: &Account, path: &Path, name: &str) -> Result<Tally> {
    let file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = Reader::new(BufReader::with_capacity(64 * 1024, file));
    // Read the first message before creating anything: a file that is not an mbox
    // leaves no trace.
    let mut next = reader.next()?;
    let mailbox = folder(store, account, name).await?;
    let mut tally = Tally {
        folders: 1,
        ..Tally::default()
    };
    while let Some(m) = next {
        let date = m.date.unwrap_or_else(now_unix);
        store
            .append(mailbox.id, m.bytes, m.flags, Some(date))
            .await
            .with_context(|| format!("storing message {} in {name:?}", tally.messages + 1))?;
        tally.messages += 1;
        next = reader.next()?;
    }
    Ok(tally)
}

/// Exports the account's folder `name` to a new mbox file at `path`.
pub async fn export(store: &Store, account: &Account, path: &Path, name: &str) -> Result<Tally> {
    let mailbox = existing_folder(store, account, name).await?;
    let file =
        fs::File::create_new(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::with_capacity(64 * 1024, file);
    let mut tally = Tally {
        folders: 1,
        ..Tally::default()
    };
    let mut unterminated = 0u64;
    for m in store.messages(mailbox.id).await? {
        let bytes = bytes_of(store, &m).await?;
        writeln!(out, "From MAILER-DAEMON {}", asctime(m.internal_date))?;
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            if from_quotes(line).is_some() {
                out.write_all(b">")?;
            }
            out.write_all(line)?;
        }
        if !bytes.ends_with(b"\n") {
            // mbox cannot hold a message without a final line end.
            out.write_all(b"\n")?;
            unterminated += 1;
        }
        out.write_all(b"\n")?;
        tally.messages += 1;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
        .with_context(|| format!("writing {}", path.display()))?;
    if unterminated > 0 {
        eprintln!(
            "twinmail: {unterminated} message(s) did not end with a line end; mbox needs one, \
             so one was added"
        );
    }
    Ok(tally)
}

/// Month abbreviations as asctime writes them.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
/// Weekday abbreviations, Sunday first.
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a count of days since 1970-01-01: (year, month 1–12, day 1–31).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Unix seconds as asctime in UTC: `Thu Nov 16 22:13:20 2023`.
fn asctime(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let weekday = WEEKDAYS[(days + 4).rem_euclid(7) as usize];
    format!(
        "{weekday} {} {d:>2} {:02}:{:02}:{:02} {y}",
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The date of a `From sender asctime` line as Unix seconds: `Mon dd hh:mm[:ss] yyyy`
/// anywhere after the sender, with an optional numeric zone before or after the year
/// (none means UTC).
fn from_line_date(line: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(line).ok()?;
    let tokens: Vec<&str> = text.split_ascii_whitespace().skip(2).collect();
    (0..tokens.len()).find_map(|i| date_at(&tokens[i..]))
}

/// A date starting with a month name at `t[0]`.
fn date_at(t: &[&str]) -> Option<i64> {
    let first = t.first()?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(first))? as i64 + 1;
    let day: i64 = t.get(1)?.parse().ok().filter(|d| (1..=31).contains(d))?;
    let mut hms = t.get(2)?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, mi) = (hms.next()??, hms.next()??);
    let s = hms.next().unwrap_or(Some(0))?;
    if hms.next().is_some() || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let (zone, year) = match (zone(t.get(3)?), t.get(3)?.parse::<i64>()) {
        (Some(z), _) => (Some(z), t.get(4)?.parse::<i64>().ok()?),
        (None, Ok(y)) => (t.get(4).and_then(|z| zone(z)), y),
        (None, Err(_)) => return None,
    };
    if !(1000..=9999).contains(&year) {
        return None;
    }
    let local = days_from_civil(year, month, day) * 86_400 + h * 3600 + mi * 60 + s;
    Some(local - zone.unwrap_or(0))
}

/// A numeric zone `+hhmm` / `-hhmm` as seconds east of UTC.
fn zone(z: &str) -> Option<i64> {
    let (sign, digits) = match z.as_bytes().first()? {
        b'+' => (1, &z[1..]),
        b'-' => (-1, &z[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    Some(sign * ((n / 100) * 3600 + (n % 100) * 60))
}

/// Reads a whole mbox from bytes (for tests).
#[cfg(test)]
fn parse_all(data: &[u8]) -> Result<Vec<Parsed>> {
    use std::io::Read;
    let mut r = Reader::new(BufReader::new(data));
    let mut out = Vec::new();
    while let Some(m) = r.next()? {
        out.push(m);
    }
    let mut rest = Vec::new();
    r.input.read_to_end(&mut rest)?;
    assert!(rest.is_empty());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(asctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(asctime(1_700_172_800), "Thu Nov 16 22:13:20 2023");
        assert_eq!(asctime(-1), "Wed Dec 31 23:59:59 1969");
        for t in [0, 1_700_172_800, -86_401, 951_782_400, 4_102_444_800] {
            let line = format!("From MAILER-DAEMON {}\n", asctime(t));
            assert_eq!(from_line_date(line.as_bytes()), Some(t), "{line}");
        }
        assert_eq!(
            from_line_date(b"From a@b Thu Nov 16 23:13:20 2023 +0100\n"),
            Some(1_700_172_800)
        );
        assert_eq!(
            from_line_date(b"From a@b Thu Nov 16 23:13:20 +0100 2023\n"),
            Some(1_700_172_800)
        );
        assert_eq!(from_line_date(b"From a@b sometime\n"), None);
    }

    #[test]
    fn reads_mboxrd() {
        let data = b"From a Thu Nov 16 22:13:20 2023\nStatus: RO\nX-Status: AF\n\n>From x\n>>From y\nFrom z\n\nFrom b Thu Nov 16 22:13:21 2023\r\nA: b\r\n\r\nc\r\n\n";
        let m = parse_all(data).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0].bytes,
            b"Status: RO\nX-Status: AF\n\nFrom x\n>From y\nFrom z\n"
        );
        assert_eq!(
            m[0].flags,
            Flags::new(["\\Seen", "\\Answered", "\\Flagged"])
        );
        assert_eq!(m[0].date, Some(1_700_172_800));
        assert_eq!(m[1].bytes, b"A: b\r\n\r\nc\r\n");
        assert!(m[1].flags.is_empty());
        assert!(parse_all(b"From: a\n\nb\n").is_err());
        assert!(parse_all(b"").unwrap().is_empty());
    }
}

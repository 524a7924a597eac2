//! Times as the terminal shows them to people: UTC timestamps ("2026-12-03 08:04:24
//! UTC") and rounded durations ("3 h 12 min"), never bare Unix seconds. JSON and metrics
//! keep Unix seconds; only what `twinmail status` and `twinmail mirror status` print goes
//! through here.

use chrono::DateTime;

/// Unix seconds as a UTC timestamp to the second; the number itself if out of range.
pub fn utc(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0).map_or_else(
        || unix.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// A duration in its two largest units ("45 s", "12 min 3 s", "3 h 12 min", "2 d 5 h"),
/// as the admin page shows it.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) => format!("{m} min {s} s"),
        (0, _, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

/// A moment relative to `now`: "2026-12-03 08:04:24 UTC, 3 h 12 min ago" (or "in ..."
/// for one still to come).
pub fn moment(unix: i64, now: i64) -> String {
    let delta = now - unix;
    if delta >= 0 {
        format!("{}, {} ago", utc(unix), duration(delta as u64))
    } else {
        format!("{}, in {}", utc(unix), duration(delta.unsigned_abs()))
    }
}

/// The mirror's status lines with their Unix times made readable: every "since N" and
/// "at N" whose N is a plausible Unix time becomes a [`moment`], and "since 0" (a link
/// that never came up) is dropped. The lines themselves come from the store, which also
/// feeds logs and tests; only the terminal gets this form.
pub fn mirror_lines(text: &str, now: i64) -> String {
    /// Unix seconds from 2001 on: below that a number is a count, not a time.
    const PLAUSIBLE: i64 = 1_000_000_000;
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while !rest.is_empty() {
        let next = [" since ", " at "]
            .iter()
            .filter_map(|k| rest.find(k).map(|i| (i, *k)))
            .min();
        let Some((i, keyword)) = next else {
            out.push_str(rest);
            break;
        };
        let after = &rest[i + keyword.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let value: Option<i64> = after[..digits].parse().ok();
        match value {
            Some(0) if keyword == " since " => {
                out.push_str(&rest[..i]);
                rest = &after[digits..];
            }
            Some(v) if v >= PLAUSIBLE => {
                out.push_str(&rest[..i + keyword.len()]);
                out.push_str(&moment(v, now));
                rest = &after[digits..];
            }
            _ => {
                out.push_str(&rest[..i + keyword.len()]);
                rest = after;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_speech() {
        assert_eq!(duration(0), "0 s");
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(723), "12 min 3 s");
        assert_eq!(duration(3 * 3600 + 12 * 60 + 59), "3 h 12 min");
        assert_eq!(duration(2 * 86400 + 5 * 3600), "2 d 5 h");
    }

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(utc(1_796_281_295), "2026-12-03 07:01:35 UTC");
        assert_eq!(
            moment(1_796_281_295, 1_796_281_295 + 3 * 3600 + 720),
            "2026-12-03 07:01:35 UTC, 3 h 12 min ago"
        );
        assert_eq!(
            moment(1_796_281_295 + 86400 * 30, 1_796_281_295),
            "2027-01-02 07:01:35 UTC, in 30 d 0 h"
        );
        assert_eq!(utc(i64::MAX), i64::MAX.to_string());
    }

    #[test]
    fn the_mirror_lines_lose_their_unix_seconds_and_nothing_else() {
        let now = 1_796_281_295 + 600;
        let text = "Mirror out: Que/sent add=612/611 (3343432 bytes) del=612/610\n\
                    Link: up since 1796281295 (twin b); log 5/5 acknowledged, lag 0 s\n\
                    Audit: the twins matched at 1796281295\n\
                    Last error: 3 at 12 since 7\n";
        assert_eq!(
            mirror_lines(text, now),
            "Mirror out: Que/sent add=612/611 (3343432 bytes) del=612/610\n\
             Link: up since 2026-12-03 07:01:35 UTC, 10 min 0 s ago (twin b); log 5/5 acknowledged, lag 0 s\n\
             Audit: the twins matched at 2026-12-03 07:01:35 UTC, 10 min 0 s ago\n\
             Last error: 3 at 12 since 7\n"
        );
        assert_eq!(
            mirror_lines("Link: never since 0 (twin -); log", now),
            "Link: never (twin -); log"
        );
    }
}

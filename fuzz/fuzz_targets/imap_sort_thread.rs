//! Fuzzes what SORT and THREAD parse and compute, without a session:
//!
//! - the command: the input's first piece (up to a 0xFF byte) after `SORT`, `UID SORT
//!   RETURN`, `THREAD` and `UID THREAD REFERENCES UTF-8`, through imap-codec's decoder
//!   (which knows plain SORT and THREAD) and, as the session does when it refuses one,
//!   extparse's rescue (SORT RETURN, `$`): never a panic, and the tag survives;
//! - each further piece as a message header: the sort keys (`sortkeys::fields`), whose
//!   base subject must be its own base subject (RFC 5256 §2.1 is a fixed point);
//! - the same pieces as synthetic threads (small Message-IDs and references drawn from
//!   their bytes, so loops, duplicates and missing parents are common): all three
//!   threading algorithms (ORDEREDSUBJECT, REFERENCES, REFS) must name every message
//!   exactly once, in balanced parentheses.
#![no_main]

use imap_codec::{CommandCodec, decode::Decoder};
use libfuzzer_sys::fuzz_target;
use twinmail_imap::{
    extparse::{Rescued, rescue},
    sortkeys::{Fields, base_subject, fields},
    threading::{Item, ordered_subject, references, refs},
};

/// Most messages one input threads.
const MAX_MESSAGES: usize = 200;

fuzz_target!(|data: &[u8]| {
    let mut pieces = data.split(|&b| b == 0xff);
    let command = pieces.next().unwrap_or_default();
    for prefix in [
        &b"t SORT "[..],
        b"t UID SORT RETURN ",
        b"t THREAD ",
        b"t UID THREAD REFERENCES UTF-8 ",
    ] {
        let mut line = prefix.to_vec();
        line.extend_from_slice(command);
        line.extend_from_slice(b"\r\n");
        if let Ok((_, c)) = CommandCodec::default().decode(&line) {
            assert_eq!(c.tag.as_ref(), "t");
        }
        if let Some(Ok(Rescued::Command { command, .. })) = rescue(&line) {
            assert_eq!(command.tag.as_ref(), "t");
        }
    }

    let pieces: Vec<&[u8]> = pieces.take(MAX_MESSAGES).collect();
    let mut parsed = Vec::with_capacity(pieces.len());
    for p in &pieces {
        let mut raw = p.to_vec();
        raw.extend_from_slice(b"\r\n\r\n");
        let f = fields(&raw);
        let (again, _) = base_subject(&f.subject);
        assert_eq!(again, f.subject, "base subject of a base subject");
        parsed.push(f);
    }
    check(&parsed, |i| i64::from(pieces[i].len() as u8));

    let synthetic: Vec<Fields> = pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (subject, reply) = base_subject(match p.first().map(|b| b % 4) {
                Some(0) => "a",
                Some(1) => "Re: a",
                Some(2) => "b",
                _ => "",
            });
            Fields {
                subject,
                reply,
                message_id: p
                    .get(1)
                    .filter(|&&b| b % 8 != 0)
                    .map(|b| (b % 16).to_string()),
                references: p
                    .iter()
                    .skip(2)
                    .take(8)
                    .map(|b| (b % 16).to_string())
                    .collect(),
                sent: Some(i as i64 % 5),
                ..Fields::default()
            }
        })
        .collect();
    check(&synthetic, |i| synthetic[i].sent.unwrap_or_default());
});

/// Threads `fields` in each way and checks each answer names every message once.
fn check(fields: &[Fields], date: impl Fn(usize) -> i64) {
    let items: Vec<Item> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| Item {
            number: i as u32 + 1,
            date: date(i),
            fields: f,
        })
        .collect();
    for text in [references(&items), ordered_subject(&items), refs(&items)] {
        let mut depth = 0i64;
        for c in text.bytes() {
            match c {
                b'(' => depth += 1,
                b')' => depth -= 1,
                b' ' | b'0'..=b'9' => {}
                _ => panic!("unexpected byte in {text}"),
            }
            assert!(depth >= 0, "{text}");
        }
        assert_eq!(depth, 0, "{text}");
        let mut seen: Vec<u32> = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().expect("a number"))
            .collect();
        seen.sort_unstable();
        let want: Vec<u32> = (1..=fields.len() as u32).collect();
        assert_eq!(seen, want, "{text}");
    }
}

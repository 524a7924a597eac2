//! Where each client message (a command with its literals, an AUTHENTICATE response, an
//! IDLE's DONE) ends in the input, found the way imap-codec's `Fragmentizer` finds it
//! (a line ends at LF; a line ending in `{N}` or `{N+}` before its CRLF is followed by N
//! literal bytes and another line).
//!
//! Hand-written because imap-next keeps its fragmentizer to itself, and imap-codec's own
//! copies every byte of a message into a buffer, which is what this is here to avoid: the
//! session hands imap-next its input one piece at a time (a line, or the literal bytes at
//! hand), so that imap-next never holds bytes of a message after the one it is decoding.
//! Then, between two messages, the session may replace imap-next's decoder with a fresh
//! one: with larger limits after login, and after a large literal to give its buffer back.

/// What the last bytes of the current line were, as far as a literal announcement goes
/// (imap-codec's `LatestByte`, same transitions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Latest {
    /// Anything else.
    Other,
    /// `{`.
    Open,
    /// `{` and digits: the length so far.
    Digit(u32),
    /// `{N+`.
    Plus(u32),
    /// `{N}` or `{N+}`: the length, and whether the literal is synchronising (`{N}`).
    Close(u32, bool),
    /// CR, after `{N}` or `{N+}` (the announcement: length, synchronising) or after
    /// anything else.
    Cr(Option<(u32, bool)>),
}

/// Where the framer is in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// In a line, with what its last bytes were.
    Line(Latest),
    /// In a literal, with this many bytes still to come.
    Literal(u32),
}

/// Finds message ends in the client's input, one piece at a time.
#[derive(Debug)]
pub struct Framer {
    /// Where the next byte goes.
    part: Part,
    /// Bytes of the current message seen so far (0 between messages).
    current: u64,
    /// How many of `current` are line bytes, not literal bytes.
    line_bytes: u64,
    /// The largest message completed since `take_largest` was last called, in bytes.
    largest: u64,
    /// The current message has announced a literal.
    literal: bool,
    /// The literal the last piece announced, not yet taken (`take_announced`): its
    /// length, and whether it is synchronising.
    announced: Option<(u32, bool)>,
}

impl Default for Framer {
    fn default() -> Self {
        Framer {
            part: Part::Line(Latest::Other),
            current: 0,
            line_bytes: 0,
            largest: 0,
            literal: false,
            announced: None,
        }
    }
}

impl Framer {
    /// How many bytes at the start of `input` make the next piece: up to and including
    /// the LF that ends the current line, or as much of the current literal as is there
    /// (all of `input` when neither ends in it). Advances over them.
    pub fn piece(&mut self, input: &[u8]) -> usize {
        let n = match self.part {
            Part::Literal(left) => {
                let n = input.len().min(left as usize);
                // n <= left, a u32.
                let left = left - n as u32;
                if left == 0 {
                    self.part = Part::Line(Latest::Other);
                } else {
                    self.part = Part::Literal(left);
                }
                n
            }
            Part::Line(mut latest) => {
                let mut n = input.len();
                for (i, &b) in input.iter().enumerate() {
                    if b == b'\n' {
                        n = i + 1;
                        let announced = match latest {
                            Latest::Close(len, sync) | Latest::Cr(Some((len, sync))) => {
                                Some((len, sync))
                            }
                            _ => None,
                        };
                        latest = Latest::Other;
                        match announced {
                            Some((len, sync)) => {
                                self.part = Part::Literal(len);
                                self.literal = true;
                                self.announced = Some((len, sync));
                            }
                            None => {
                                self.literal = false;
                                self.current += n as u64;
                                self.largest = self.largest.max(self.current);
                                self.current = 0;
                                self.line_bytes = 0;
                                self.part = Part::Line(Latest::Other);
                                return n;
                            }
                        }
                        break;
                    }
                    latest = next(latest, b);
                }
                if let Part::Line(_) = self.part {
                    self.part = Part::Line(latest);
                }
                self.line_bytes += n as u64;
                n
            }
        };
        self.current += n as u64;
        // A literal of 0 bytes is over as soon as it is announced.
        if self.part == Part::Literal(0) {
            self.part = Part::Line(Latest::Other);
        }
        n
    }

    /// True between two messages: everything given so far made whole messages.
    pub fn at_boundary(&self) -> bool {
        self.current == 0 && self.part == Part::Line(Latest::Other)
    }

    /// The decoder refused a synchronising literal before it was sent (imap-next skips
    /// the message right after its announcement): the next byte starts a new message.
    pub fn literal_refused(&mut self) {
        self.part = Part::Line(Latest::Other);
        self.current = 0;
        self.line_bytes = 0;
        self.literal = false;
    }

    /// The literal the last piece announced (it ended with `{N}` or `{N+}` and its
    /// line end), if not taken yet: its length, and whether it is synchronising.
    pub fn take_announced(&mut self) -> Option<(u32, bool)> {
        self.announced.take()
    }

    /// Bytes of the message under way given so far (0 between messages): all of them,
    /// and those of its lines alone (its literals left out).
    pub fn message_len(&self) -> (u64, u64) {
        (self.current, self.line_bytes)
    }

    /// True when the message under way has announced a literal.
    pub fn has_literal(&self) -> bool {
        self.literal
    }

    /// The largest message completed since the last call, in bytes.
    pub fn take_largest(&mut self) -> u64 {
        std::mem::take(&mut self.largest)
    }
}

/// imap-codec's `LineParser` transitions for every byte but LF.
fn next(latest: Latest, b: u8) -> Latest {
    match (latest, b) {
        (Latest::Close(len, sync), b'\r') => Latest::Cr(Some((len, sync))),
        (_, b'\r') => Latest::Cr(None),
        (_, b'{') => Latest::Open,
        (Latest::Open, b'0'..=b'9') => Latest::Digit(u32::from(b - b'0')),
        (Latest::Digit(len), b'0'..=b'9') => len
            .checked_mul(10)
            .and_then(|x| x.checked_add(u32::from(b - b'0')))
            .map_or(Latest::Other, Latest::Digit),
        (Latest::Digit(len), b'+') => Latest::Plus(len),
        (Latest::Digit(len), b'}') => Latest::Close(len, true),
        (Latest::Plus(len), b'}') => Latest::Close(len, false),
        _ => Latest::Other,
    }
}

#[cfg(test)]
mod tests {
    use imap_codec::fragmentizer::{FragmentInfo, Fragmentizer};

    use super::Framer;

    /// Message ends (offsets just past them) as imap-codec's fragmentizer finds them.
    fn codec_ends(input: &[u8]) -> Vec<usize> {
        let mut f = Fragmentizer::without_max_message_size();
        f.enqueue_bytes(input);
        let mut ends = Vec::new();
        let mut at = 0;
        while let Some(fragment) = f.progress() {
            at += match fragment {
                FragmentInfo::Line { start, end, .. } | FragmentInfo::Literal { start, end } => {
                    end - start
                }
            };
            if f.is_message_complete() {
                ends.push(at);
            }
        }
        ends
    }

    /// The same, found piece by piece, with the input arriving in `chunk`-byte reads.
    fn framer_ends(input: &[u8], chunk: usize) -> Vec<usize> {
        let mut f = Framer::default();
        let mut ends = Vec::new();
        let mut at = 0;
        for read in input.chunks(chunk) {
            let mut rest = read;
            while !rest.is_empty() {
                let n = f.piece(rest);
                assert!(n > 0);
                at += n;
                rest = &rest[n..];
                if f.at_boundary() {
                    ends.push(at);
                }
            }
        }
        ends
    }

    #[test]
    fn finds_the_ends_imap_codec_finds() {
        let inputs: &[&[u8]] = &[
            b"A NOOP\r\nB LOGIN {5}\r\nalice {3+}\r\npw!\r\nC LOGOUT\r\n",
            b"A APPEND INBOX ~{4}\r\n\r\n\n\n\r\nB NOOP\n",
            b"A X {0}\r\n\r\nB {12}\r}\r\n{}{1}\n{2}\r\r\nx\r\n",
            b"A X {99999999999999}\r\nB Y {4294967295}\r\nabc",
            b"A X {3}\r\n{3}\r\n\r\n\r\n",
            b"{{{1}}}\r\n\n{1}\n\n\n",
        ];
        for input in inputs {
            let want = codec_ends(input);
            for chunk in [1, 2, 3, 7, 1000] {
                assert_eq!(framer_ends(input, chunk), want, "{input:?} in {chunk}s");
            }
        }
        // Pseudo-random inputs over the bytes that matter.
        let alphabet = b"{}+~0123456789\r\n xA";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let len = (seed % 60) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let want = codec_ends(&input);
            for chunk in [1, 5, 64] {
                assert_eq!(framer_ends(&input, chunk), want, "{input:?} in {chunk}s");
            }
        }
    }

    #[test]
    fn tells_each_literal_announced_once() {
        let mut f = Framer::default();
        let input = b"A APPEND INBOX {3}\r\nabc {2+}\r\nde\r\nB NOOP\r\n";
        let mut rest = &input[..];
        let mut told = Vec::new();
        while !rest.is_empty() {
            let n = f.piece(rest);
            rest = &rest[n..];
            told.push(f.take_announced());
        }
        assert_eq!(
            told,
            [Some((3, true)), None, Some((2, false)), None, None, None]
        );
    }

    #[test]
    fn remembers_the_largest_message() {
        let mut f = Framer::default();
        let input = b"A APPEND INBOX {10}\r\n0123456789\r\nB NOOP\r\n";
        let mut rest = &input[..];
        while !rest.is_empty() {
            let n = f.piece(rest);
            rest = &rest[n..];
        }
        assert!(f.at_boundary());
        assert_eq!(f.take_largest(), 33);
        assert_eq!(f.take_largest(), 0);
    }

    #[test]
    fn counts_line_bytes_apart_from_literal_bytes() {
        let mut f = Framer::default();
        let input = b"A APPEND INBOX {10}\r\n0123456789 tail";
        let mut rest = &input[..];
        while !rest.is_empty() {
            let n = f.piece(rest);
            rest = &rest[n..];
        }
        assert_eq!(
            f.message_len(),
            (input.len() as u64, input.len() as u64 - 10)
        );
        f.piece(b"\r\n");
        assert_eq!(f.message_len(), (0, 0));
    }
}

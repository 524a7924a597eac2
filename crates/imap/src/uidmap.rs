//! The sequence-number → UID map of a selected mailbox, kept as runs of consecutive UIDs.
//! UIDs are mostly consecutive (a gap only where messages were expunged), so a mailbox of
//! thousands of messages costs a few runs instead of four bytes per message: what lets
//! 10,000 idle sessions fit in little memory (bench/imap-idle.sh).

/// Consecutive UIDs `first .. first + count`, holding sequence numbers
/// `before + 1 ..= before + count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    /// The run's first UID.
    first: u32,
    /// How many UIDs it holds (never 0).
    count: u32,
    /// How many messages come before it.
    before: u32,
}

impl Run {
    fn end(&self) -> u32 {
        self.first + self.count
    }
}

/// Ascending UIDs by sequence number (index + 1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UidMap {
    /// The runs, ascending.
    runs: Vec<Run>,
}

impl UidMap {
    /// A map of ascending UIDs.
    pub fn from_sorted(uids: impl IntoIterator<Item = u32>) -> UidMap {
        let mut m = UidMap::default();
        for uid in uids {
            m.push(uid);
        }
        m.runs.shrink_to_fit();
        m
    }

    /// How many messages.
    pub fn len(&self) -> usize {
        self.runs
            .last()
            .map_or(0, |r| (r.before + r.count) as usize)
    }

    /// True when there are none.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The largest UID, if any.
    pub fn last(&self) -> Option<u32> {
        self.runs.last().map(|r| r.end() - 1)
    }

    /// Appends a UID larger than every one held (others are ignored).
    pub fn push(&mut self, uid: u32) {
        match self.runs.last_mut() {
            Some(r) if uid == r.end() => r.count += 1,
            Some(r) if uid < r.end() => {}
            _ => {
                let before = self.len() as u32;
                self.runs.push(Run {
                    first: uid,
                    count: 1,
                    before,
                });
            }
        }
    }

    /// The index of the run holding `uid`.
    fn run_of(&self, uid: u32) -> Option<usize> {
        let i = self.runs.partition_point(|r| r.end() <= uid);
        (i < self.runs.len() && self.runs[i].first <= uid).then_some(i)
    }

    /// The sequence number of `uid`, if held.
    pub fn seq(&self, uid: u32) -> Option<u32> {
        let r = &self.runs[self.run_of(uid)?];
        Some(r.before + (uid - r.first) + 1)
    }

    /// The UID at sequence number `seq` (1-based), if there is one.
    pub fn uid(&self, seq: u32) -> Option<u32> {
        let i = seq.checked_sub(1)?;
        let k = self.runs.partition_point(|r| r.before + r.count <= i);
        let r = self.runs.get(k)?;
        Some(r.first + (i - r.before))
    }

    /// Removes `uid`; returns the sequence number it had.
    pub fn remove(&mut self, uid: u32) -> Option<u32> {
        let i = self.run_of(uid)?;
        let r = self.runs[i];
        let seq = r.before + (uid - r.first) + 1;
        // The first run whose messages all move up one place.
        let later = if r.count == 1 {
            self.runs.remove(i);
            i
        } else if uid == r.first {
            self.runs[i].first += 1;
            self.runs[i].count -= 1;
            i + 1
        } else if uid == r.end() - 1 {
            self.runs[i].count -= 1;
            i + 1
        } else {
            let head = uid - r.first;
            self.runs[i].count = head;
            self.runs.insert(
                i + 1,
                Run {
                    first: uid + 1,
                    count: r.count - head - 1,
                    before: r.before + head,
                },
            );
            i + 2
        };
        for run in &mut self.runs[later..] {
            run.before -= 1;
        }
        Some(seq)
    }

    /// (sequence number, UID) for every message, ascending.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.runs
            .iter()
            .flat_map(|r| (0..r.count).map(move |k| (r.before + k + 1, r.first + k)))
    }

    /// (sequence number, UID) of the held UIDs within `lo ..= hi`, ascending.
    pub fn range(&self, lo: u32, hi: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        let start = self.runs.partition_point(|r| r.end() <= lo);
        self.runs[start..]
            .iter()
            .take_while(move |r| r.first <= hi)
            .flat_map(move |r| {
                let a = r.first.max(lo);
                let b = (r.end() - 1).min(hi);
                (a..=b).map(move |u| (r.before + (u - r.first) + 1, u))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the map against the plain vector it stands for.
    fn same(m: &UidMap, v: &[u32]) {
        assert_eq!(m.len(), v.len());
        assert_eq!(m.last(), v.last().copied());
        let pairs: Vec<(u32, u32)> = m.iter().collect();
        let want: Vec<(u32, u32)> = v
            .iter()
            .enumerate()
            .map(|(i, &u)| (i as u32 + 1, u))
            .collect();
        assert_eq!(pairs, want);
        for (i, &u) in v.iter().enumerate() {
            assert_eq!(m.seq(u), Some(i as u32 + 1));
            assert_eq!(m.uid(i as u32 + 1), Some(u));
        }
        assert_eq!(m.uid(0), None);
        assert_eq!(m.uid(v.len() as u32 + 1), None);
        for r in m.runs.windows(2) {
            assert!(
                r[0].end() < r[1].first,
                "runs not merged or not ascending: {r:?}"
            );
        }
    }

    #[test]
    fn behaves_like_a_vector_under_random_pushes_and_removes() {
        // A small xorshift: deterministic, no dependency.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: u32| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as u32
        };
        for round in 0..50 {
            let mut v: Vec<u32> = Vec::new();
            let mut uid = 0;
            for _ in 0..(200 + round * 20) {
                uid += 1 + if next(10) == 0 { next(5) } else { 0 };
                v.push(uid);
            }
            let mut m = UidMap::from_sorted(v.iter().copied());
            same(&m, &v);
            for _ in 0..300 {
                match next(4) {
                    0 => {
                        uid += 1 + next(3);
                        v.push(uid);
                        m.push(uid);
                    }
                    _ if !v.is_empty() => {
                        let i = next(v.len() as u32) as usize;
                        let u = v.remove(i);
                        assert_eq!(m.remove(u), Some(i as u32 + 1));
                        assert_eq!(m.remove(u), None);
                    }
                    _ => {}
                }
                same(&m, &v);
                let (lo, hi) = (next(uid + 2), next(uid + 2));
                let want: Vec<(u32, u32)> = v
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| (lo..=hi).contains(*u))
                    .map(|(i, &u)| (i as u32 + 1, u))
                    .collect();
                assert_eq!(m.range(lo, hi).collect::<Vec<_>>(), want);
            }
        }
    }

    #[test]
    fn a_consecutive_mailbox_is_one_run() {
        let m = UidMap::from_sorted(1..=100_000);
        assert_eq!(m.runs.len(), 1);
        assert_eq!(m.seq(50_000), Some(50_000));
        assert_eq!(m.range(0, u32::MAX).count(), 100_000);
        assert!(UidMap::default().is_empty());
        assert_eq!(UidMap::default().range(1, 10).count(), 0);
    }
}

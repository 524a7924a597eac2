//! A set of UIDs as sorted, disjoint, inclusive ranges: what IMAP sequence sets become once
//! the protocol has resolved `*` and sequence numbers. Bounded by ranges, not by members, so
//! `1:4294967295` costs nothing (HOSTILE.md IMAP: huge sequence sets).

use sqlx::SqliteConnection;

use crate::{StoreError, rows, types::Message};

/// Sorted, disjoint, inclusive UID ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "Vec<(u32, u32)>")]
pub struct UidSet(Vec<(u32, u32)>);

impl From<Vec<(u32, u32)>> for UidSet {
    fn from(ranges: Vec<(u32, u32)>) -> UidSet {
        UidSet::from_ranges(ranges)
    }
}

/// Above this many ranges one query over the whole span beats one query per range.
const MAX_RANGE_QUERIES: usize = 16;

impl UidSet {
    /// Builds a set from ranges in any order, each `(a, b)` meaning a..=b or b..=a.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (u32, u32)>) -> UidSet {
        let mut v: Vec<(u32, u32)> = ranges
            .into_iter()
            .map(|(a, b)| (a.min(b), a.max(b)))
            .collect();
        v.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        UidSet(out)
    }

    /// A set of single UIDs.
    pub fn from_uids(uids: impl IntoIterator<Item = u32>) -> UidSet {
        UidSet::from_ranges(uids.into_iter().map(|u| (u, u)))
    }

    /// Every UID.
    pub fn all() -> UidSet {
        UidSet(vec![(1, u32::MAX)])
    }

    /// True when `uid` is in the set.
    pub fn contains(&self, uid: u32) -> bool {
        let i = self.0.partition_point(|&(_, hi)| hi < uid);
        self.0.get(i).is_some_and(|&(lo, _)| lo <= uid)
    }

    /// The ranges, ascending.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.0
    }

    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The messages of `mailbox_id` whose UIDs are in the set, ascending.
    pub(crate) async fn load(
        &self,
        conn: &mut SqliteConnection,
        mailbox_id: i64,
    ) -> Result<Vec<Message>, StoreError> {
        let (Some(first), Some(last)) = (self.0.first(), self.0.last()) else {
            return Ok(Vec::new());
        };
        if self.0.len() > MAX_RANGE_QUERIES {
            let mut all = rows::messages_in(&mut *conn, mailbox_id, first.0, last.1).await?;
            all.retain(|m| self.contains(m.uid));
            return Ok(all);
        }
        let mut out = Vec::new();
        for &(lo, hi) in &self.0 {
            out.extend(rows::messages_in(&mut *conn, mailbox_id, lo, hi).await?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_finds() {
        let s = UidSet::from_ranges([(5, 3), (7, 9), (6, 6), (20, 20), (1, 1)]);
        assert_eq!(s.ranges(), &[(1, 1), (3, 9), (20, 20)]);
        assert!(s.contains(1) && s.contains(3) && s.contains(9) && s.contains(20));
        assert!(!s.contains(2) && !s.contains(10) && !s.contains(21) && !s.contains(0));
        assert!(UidSet::all().contains(u32::MAX));
        assert_eq!(
            UidSet::from_uids([u32::MAX, u32::MAX - 1]).ranges(),
            &[(u32::MAX - 1, u32::MAX)]
        );
    }
}

//! Half-open time ranges and sets of them.
//!
//! The coverage ledger is a [`RangeSet`] of instants the provider has answered for; gap detection
//! is `wanted − covered`. The arithmetic is pure and property-tested: a set's ranges are sorted,
//! non-empty, disjoint and never adjacent (touching ranges are merged).

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The half-open interval `[start, end)` of instants. Never empty.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimeRange {
    start: Timestamp,
    end: Timestamp,
}

impl TimeRange {
    /// `[start, end)`, or `None` when it would be empty (`end <= start`).
    pub fn new(start: Timestamp, end: Timestamp) -> Option<TimeRange> {
        (start < end).then_some(TimeRange { start, end })
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    pub fn end(&self) -> Timestamp {
        self.end
    }

    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }

    /// The overlap of two ranges, if any.
    pub fn intersect(&self, other: &TimeRange) -> Option<TimeRange> {
        TimeRange::new(self.start.max(other.start), self.end.min(other.end))
    }

    /// Whether `other` lies entirely inside this range.
    pub fn covers(&self, other: &TimeRange) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    pub fn duration(&self) -> jiff::SignedDuration {
        self.end.duration_since(self.start)
    }
}

impl fmt::Debug for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.start, self.end)
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A normalised set of instants: sorted, disjoint, non-adjacent [`TimeRange`]s.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<TimeRange>", into = "Vec<TimeRange>")]
pub struct RangeSet {
    ranges: Vec<TimeRange>,
}

impl RangeSet {
    pub fn new() -> RangeSet {
        RangeSet::default()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The normalised ranges, in order.
    pub fn ranges(&self) -> &[TimeRange] {
        &self.ranges
    }

    /// Adds a range, merging it with any range it overlaps or touches.
    pub fn insert(&mut self, r: TimeRange) {
        // First range whose end reaches r.start (touching counts): everything before stays.
        let lo = self.ranges.partition_point(|x| x.end < r.start);
        // First range that starts after r.end (touching counts as merge): everything from here stays.
        let hi = self.ranges.partition_point(|x| x.start <= r.end);
        if lo == hi {
            self.ranges.insert(lo, r);
            return;
        }
        let start = r.start.min(self.ranges[lo].start);
        let end = r.end.max(self.ranges[hi - 1].end);
        self.ranges
            .splice(lo..hi, std::iter::once(TimeRange { start, end }));
    }

    /// The union of two sets.
    #[must_use]
    pub fn union(&self, other: &RangeSet) -> RangeSet {
        let mut out = self.clone();
        for r in &other.ranges {
            out.insert(*r);
        }
        out
    }

    /// Instants of `self` not in `other`.
    #[must_use]
    pub fn subtract(&self, other: &RangeSet) -> RangeSet {
        let mut out = Vec::new();
        let mut j = 0;
        for r in &self.ranges {
            let mut start = r.start;
            while j < other.ranges.len() && other.ranges[j].end <= start {
                j += 1;
            }
            let mut k = j;
            while k < other.ranges.len() && other.ranges[k].start < r.end {
                let o = other.ranges[k];
                if o.start > start {
                    out.push(TimeRange {
                        start,
                        end: o.start,
                    });
                }
                start = start.max(o.end);
                k += 1;
            }
            if start < r.end {
                out.push(TimeRange { start, end: r.end });
            }
        }
        RangeSet { ranges: out }
    }

    /// Instants in both sets.
    #[must_use]
    pub fn intersect(&self, other: &RangeSet) -> RangeSet {
        self.subtract(&self.subtract(other))
    }

    /// The parts of `want` this set does not cover, in order.
    #[must_use]
    pub fn gaps_in(&self, want: TimeRange) -> RangeSet {
        RangeSet::from(want).subtract(self)
    }

    pub fn contains(&self, t: Timestamp) -> bool {
        let i = self.ranges.partition_point(|x| x.end <= t);
        self.ranges.get(i).is_some_and(|r| r.contains(t))
    }

    /// Whether every instant of `r` is in the set.
    pub fn covers(&self, r: &TimeRange) -> bool {
        let i = self.ranges.partition_point(|x| x.end <= r.start);
        self.ranges.get(i).is_some_and(|x| x.covers(r))
    }

    /// Total length of the set.
    pub fn total(&self) -> jiff::SignedDuration {
        self.ranges.iter().map(TimeRange::duration).sum()
    }
}

impl From<TimeRange> for RangeSet {
    fn from(r: TimeRange) -> RangeSet {
        RangeSet { ranges: vec![r] }
    }
}

impl From<Vec<TimeRange>> for RangeSet {
    fn from(v: Vec<TimeRange>) -> RangeSet {
        v.into_iter().collect()
    }
}

impl From<RangeSet> for Vec<TimeRange> {
    fn from(s: RangeSet) -> Vec<TimeRange> {
        s.ranges
    }
}

impl FromIterator<TimeRange> for RangeSet {
    fn from_iter<I: IntoIterator<Item = TimeRange>>(iter: I) -> RangeSet {
        let mut s = RangeSet::new();
        for r in iter {
            s.insert(r);
        }
        s
    }
}

impl fmt::Debug for RangeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(&self.ranges).finish()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn r(a: i64, b: i64) -> TimeRange {
        TimeRange::new(ts(a), ts(b)).unwrap()
    }

    /// Reference model: the set of whole seconds in [0, 200).
    fn model(s: &RangeSet) -> Vec<bool> {
        (0..200).map(|i| s.contains(ts(i))).collect()
    }

    fn arb_set() -> impl Strategy<Value = RangeSet> {
        prop::collection::vec((0i64..200, 1i64..40), 0..8).prop_map(|v| {
            v.into_iter()
                .map(|(a, w)| r(a, (a + w).min(200).max(a + 1)))
                .collect()
        })
    }

    fn normalised(s: &RangeSet) -> bool {
        s.ranges().windows(2).all(|w| w[0].end() < w[1].start())
    }

    #[test]
    fn merges_touching_and_overlapping() {
        let mut s = RangeSet::new();
        s.insert(r(10, 20));
        s.insert(r(30, 40));
        s.insert(r(20, 30));
        assert_eq!(s.ranges(), &[r(10, 40)]);
        s.insert(r(0, 5));
        s.insert(r(50, 60));
        s.insert(r(3, 55));
        assert_eq!(s.ranges(), &[r(0, 60)]);
        assert!(TimeRange::new(ts(5), ts(5)).is_none());
    }

    #[test]
    fn gaps() {
        let s: RangeSet = vec![r(10, 20), r(30, 40)].into();
        assert_eq!(
            s.gaps_in(r(0, 50)).ranges(),
            &[r(0, 10), r(20, 30), r(40, 50)]
        );
        assert_eq!(s.gaps_in(r(12, 18)).ranges(), &[] as &[TimeRange]);
        assert!(s.covers(&r(31, 40)) && !s.covers(&r(19, 31)));
    }

    proptest! {
        #[test]
        fn set_ops_match_model(a in arb_set(), b in arb_set()) {
            let (ma, mb) = (model(&a), model(&b));
            let u = a.union(&b);
            let d = a.subtract(&b);
            let i = a.intersect(&b);
            prop_assert!(normalised(&a) && normalised(&u) && normalised(&d) && normalised(&i));
            for k in 0..200 {
                prop_assert_eq!(model(&u)[k], ma[k] || mb[k]);
                prop_assert_eq!(model(&d)[k], ma[k] && !mb[k]);
                prop_assert_eq!(model(&i)[k], ma[k] && mb[k]);
            }
        }

        #[test]
        fn gaps_partition_the_request(a in arb_set(), lo in 0i64..150, w in 1i64..50) {
            let want = r(lo, lo + w);
            let gaps = a.gaps_in(want);
            for g in gaps.ranges() {
                prop_assert!(want.covers(g), "gap {g:?} outside request {want:?}");
            }
            // coverage ∪ gaps ⊇ request; coverage ∩ gaps = ∅
            for k in lo..lo + w {
                prop_assert!(a.contains(ts(k)) != gaps.contains(ts(k)));
            }
        }
    }
}

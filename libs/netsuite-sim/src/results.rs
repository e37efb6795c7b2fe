//! What the simulator keeps of a statement's result between its pages: its total, and
//! from the first page after the first on, its remaining rows.
//!
//! SQLite answers `LIMIT … OFFSET …` by running the whole statement (and its sort) and
//! skipping rows, so reading a result of n pages by offset cost the simulator n whole
//! runs of it: at 100,000 customers that, not the configured page latency, limited a
//! benchmark. NetSuite's page time does not grow that way, so the simulator runs a
//! statement at most three times (count, first page, the rest) whatever its length.
//! Answers are the same as without the cache; anything that changes data clears it.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;

/// Statements whose remaining rows are kept at once; the oldest goes first.
const KEPT_RESULTS: usize = 64;
/// Statement totals kept; keyset paging makes every page a new statement.
const KEPT_TOTALS: usize = 4096;

/// Totals and remaining rows of recent statements, by statement and parameters.
#[derive(Default)]
pub(crate) struct ResultCache {
    totals: HashMap<String, usize>,
    /// Keys of `totals`, oldest first.
    total_order: VecDeque<String>,
    rows: VecDeque<(String, Remaining)>,
}

/// Rows of a statement from `base` on, and how many of them were served.
struct Remaining {
    base: usize,
    rows: Vec<Value>,
    served: usize,
}

impl ResultCache {
    /// Forgets everything (the data changed).
    pub(crate) fn clear(&mut self) {
        self.totals.clear();
        self.total_order.clear();
        self.rows.clear();
    }

    pub(crate) fn total(&self, key: &str) -> Option<usize> {
        self.totals.get(key).copied()
    }

    pub(crate) fn keep_total(&mut self, key: String, total: usize) {
        if self.totals.len() == KEPT_TOTALS
            && let Some(oldest) = self.total_order.pop_front()
        {
            self.totals.remove(&oldest);
        }
        if self.totals.insert(key.clone(), total).is_none() {
            self.total_order.push_back(key);
        }
    }

    /// Up to `limit` rows from `offset`, when kept; the entry goes once all its rows
    /// were served.
    pub(crate) fn page(&mut self, key: &str, offset: usize, limit: usize) -> Option<Vec<Value>> {
        let index = self
            .rows
            .iter()
            .position(|(k, kept)| k == key && offset >= kept.base && offset < kept.base + kept.rows.len())?;
        let kept = &mut self.rows[index].1;
        let start = offset - kept.base;
        let page: Vec<Value> = kept.rows[start..(start + limit).min(kept.rows.len())].to_vec();
        kept.served += page.len();
        if kept.served >= kept.rows.len() {
            self.rows.remove(index);
        }
        Some(page)
    }

    /// Keeps the rows of a statement from `base` on.
    pub(crate) fn keep_rows(&mut self, key: String, base: usize, rows: Vec<Value>) {
        if rows.is_empty() {
            return;
        }
        if self.rows.len() == KEPT_RESULTS {
            self.rows.pop_front();
        }
        self.rows.push_back((key, Remaining { base, rows, served: 0 }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(range: std::ops::Range<i64>) -> Vec<Value> {
        range.map(Value::from).collect()
    }

    #[test]
    fn pages_come_from_the_kept_rows_until_all_were_served() {
        let mut cache = ResultCache::default();
        assert_eq!(cache.page("q", 2, 2), None);
        cache.keep_rows("q".to_owned(), 2, rows(2..7));
        assert_eq!(cache.page("other", 2, 2), None);
        assert_eq!(cache.page("q", 4, 2), Some(rows(4..6)));
        assert_eq!(cache.page("q", 0, 2), None, "rows before the base were never kept");
        assert_eq!(cache.page("q", 2, 2), Some(rows(2..4)));
        assert_eq!(cache.page("q", 6, 2), Some(rows(6..7)));
        assert_eq!(cache.page("q", 2, 2), None, "every row served: forgotten");
    }

    #[test]
    fn totals_and_rows_are_bounded_and_cleared() {
        let mut cache = ResultCache::default();
        for n in 0..=KEPT_TOTALS {
            cache.keep_total(format!("q{n}"), n);
        }
        assert_eq!(cache.total("q0"), None);
        assert_eq!(cache.total("q1"), Some(1));
        for n in 0..=KEPT_RESULTS {
            cache.keep_rows(format!("q{n}"), 1, rows(1..3));
        }
        assert_eq!(cache.page("q0", 1, 1), None);
        assert_eq!(cache.page("q1", 1, 1), Some(rows(1..2)));
        cache.clear();
        assert_eq!(cache.total("q1"), None);
        assert_eq!(cache.page("q1", 2, 1), None);
    }
}

//! Per-operation rate limits from Klaviyo's published table (`openapi/ratelimits.tsv`):
//! fixed windows of one second (burst), one minute (steady) and, where the table gives
//! one, one day, counted per account, which for the simulator means per server.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};

const TABLE: &str = include_str!("../openapi/ratelimits.tsv");

/// How the simulator enforces the table.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum RateLimitMode {
    /// Klaviyo's values as published.
    #[default]
    On,
    /// No limits at all.
    Off,
    /// Every limit multiplied by the factor (rounded up, at least 1), for example 0.1
    /// to make a test reach the limit with a tenth of the requests.
    Scaled(f64),
}

/// The published limits and scopes of one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationLimits {
    /// Requests per second.
    pub burst: u32,
    /// Requests per minute.
    pub steady: u32,
    /// Requests per day, where Klaviyo caps it.
    pub daily: Option<u32>,
    /// Scopes the private key needs.
    pub scopes: Vec<String>,
}

/// Returns the published limits of every served operation, by operationId.
pub fn table() -> &'static HashMap<String, OperationLimits> {
    static TABLE_PARSED: OnceLock<HashMap<String, OperationLimits>> = OnceLock::new();
    TABLE_PARSED.get_or_init(|| {
        let mut out = HashMap::new();
        for line in TABLE.lines().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 7 {
                continue;
            }
            let per = |text: &str, unit: &str| text.strip_suffix(unit).and_then(|n| n.parse().ok());
            let (Some(burst), Some(steady)) = (per(cols[3], "/s"), per(cols[4], "/m")) else {
                continue;
            };
            out.insert(
                cols[2].to_owned(),
                OperationLimits {
                    burst,
                    steady,
                    daily: per(cols[5], "/d"),
                    scopes: cols[6]
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                },
            );
        }
        out
    })
}

/// What a request that was let through may report in `RateLimit-*` headers (steady window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// `RateLimit-Limit`.
    pub limit: u32,
    /// `RateLimit-Remaining`.
    pub remaining: u32,
    /// `RateLimit-Reset`, seconds.
    pub reset_secs: u64,
}

/// A refused request: how long until the exceeded window resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Whole seconds, rounded down, as Klaviyo's `detail` words it ("Expected available in 0 seconds").
    pub detail_secs: u64,
    /// Whole seconds, rounded up and at least 1, for `Retry-After`, so a client that waits
    /// that long is let through.
    pub retry_after_secs: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    index: i64,
    count: u32,
}

/// Fixed-window counters per operation.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    windows: HashMap<String, [Window; 3]>,
}

const SPANS_MS: [i64; 3] = [1_000, 60_000, 86_400_000];

impl Limiter {
    /// Counts a request to `operation` at `now`, or refuses it without counting it.
    pub(crate) fn check(
        &mut self,
        operation: &str,
        mode: RateLimitMode,
        now: DateTime<Utc>,
    ) -> Result<Option<Allowance>, Throttled> {
        let factor = match mode {
            RateLimitMode::Off => return Ok(None),
            RateLimitMode::On => 1.0,
            RateLimitMode::Scaled(f) => f,
        };
        let Some(limits) = table().get(operation) else {
            return Ok(None);
        };
        let scale = |n: u32| ((f64::from(n) * factor).ceil() as u32).max(1);
        let caps = [
            Some(scale(limits.burst)),
            Some(scale(limits.steady)),
            limits.daily.map(scale),
        ];
        let now_ms = now.timestamp_millis();
        let windows = self.windows.entry(operation.to_owned()).or_default();
        let mut wait_ms = 0i64;
        for (i, window) in windows.iter_mut().enumerate() {
            let index = now_ms.div_euclid(SPANS_MS[i]);
            if window.index != index {
                *window = Window { index, count: 0 };
            }
            if let Some(cap) = caps[i]
                && window.count >= cap
            {
                wait_ms = wait_ms.max((index + 1) * SPANS_MS[i] - now_ms);
            }
        }
        if wait_ms > 0 {
            let wait_ms = wait_ms as u64;
            return Err(Throttled {
                detail_secs: wait_ms / 1000,
                retry_after_secs: wait_ms.div_ceil(1000).max(1),
            });
        }
        for window in windows.iter_mut() {
            window.count += 1;
        }
        let steady = caps[1].unwrap_or(u32::MAX);
        Ok(Some(Allowance {
            limit: steady,
            remaining: steady.saturating_sub(windows[1].count),
            reset_secs: ((windows[1].index + 1) * SPANS_MS[1] - now_ms).div_euclid(1000) as u64,
        }))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_800_000_000_000 + ms).unwrap()
    }

    #[test]
    fn table_has_published_values() {
        let t = table();
        assert_eq!(t["create_event"].burst, 350);
        assert_eq!(t["create_event"].steady, 3500);
        assert_eq!(t["create_segment"].daily, Some(100));
        assert_eq!(t["create_list"].daily, Some(150));
        assert_eq!(t["create_or_update_profile"].scopes, vec!["profiles:write".to_string()]);
    }

    #[test]
    fn burst_is_a_fixed_one_second_window() {
        let mut limiter = Limiter::default();
        assert!(limiter.check("create_segment", RateLimitMode::On, at(100)).is_ok());
        let throttled = limiter.check("create_segment", RateLimitMode::On, at(400)).unwrap_err();
        assert_eq!(
            throttled,
            Throttled {
                detail_secs: 0,
                retry_after_secs: 1
            }
        );
        assert!(limiter.check("create_segment", RateLimitMode::On, at(1000)).is_ok());
    }

    #[test]
    fn steady_window_refuses_until_the_minute_ends() {
        let mut limiter = Limiter::default();
        for second in 0..15 {
            assert!(
                limiter
                    .check("create_segment", RateLimitMode::On, at(second * 1000))
                    .is_ok()
            );
        }
        let throttled = limiter
            .check("create_segment", RateLimitMode::On, at(15_000))
            .unwrap_err();
        assert_eq!(throttled.retry_after_secs, 45);
    }

    #[test]
    fn scaled_mode_multiplies_and_off_mode_never_refuses() {
        let mut limiter = Limiter::default();
        for _ in 0..8 {
            assert!(
                limiter
                    .check("create_or_update_profile", RateLimitMode::Scaled(0.1), at(0))
                    .is_ok()
            );
        }
        assert!(
            limiter
                .check("create_or_update_profile", RateLimitMode::Scaled(0.1), at(0))
                .is_err()
        );
        for _ in 0..1000 {
            assert!(limiter.check("create_segment", RateLimitMode::Off, at(0)).is_ok());
        }
    }

    #[test]
    fn success_reports_steady_window_headers() {
        let mut limiter = Limiter::default();
        let a = limiter
            .check("get_metrics", RateLimitMode::On, at(30_000))
            .unwrap()
            .unwrap();
        assert_eq!(
            a,
            Allowance {
                limit: 150,
                remaining: 149,
                reset_secs: 30
            }
        );
    }
}

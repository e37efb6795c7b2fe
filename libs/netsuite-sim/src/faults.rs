//! Injected faults: by rate (seeded, reproducible) or queued for the next requests.

use std::collections::VecDeque;
use std::time::Duration;

/// One kind of fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// 500 with NetSuite's `UNEXPECTED_ERROR` body.
    ServerError,
    /// 503 with an HTML page, as a load balancer in front of NetSuite sends.
    UnavailableHtml,
    /// 429 `CONCURRENCY_LIMIT_EXCEEDED`, whatever the real load.
    TooManyRequests,
    /// Extra latency before the request is handled normally.
    Latency(Duration),
    /// The connection is closed without an answer.
    DropConnection,
}

/// Faults drawn at random on API requests.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// Share of requests that get a fault, 0 to 1.
    pub rate: f64,
    /// The kinds drawn from, uniformly.
    pub kinds: Vec<FaultKind>,
    /// Seed of the draw, so a failing run can be replayed.
    pub seed: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            rate: 0.0,
            kinds: vec![
                FaultKind::ServerError,
                FaultKind::UnavailableHtml,
                FaultKind::TooManyRequests,
                FaultKind::DropConnection,
            ],
            seed: 0,
        }
    }
}

#[derive(Debug)]
pub(crate) struct FaultState {
    config: FaultConfig,
    rng_state: u64,
    queued: VecDeque<FaultKind>,
}

fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl FaultState {
    pub(crate) fn new(config: FaultConfig) -> Self {
        FaultState {
            rng_state: config.seed,
            config,
            queued: VecDeque::new(),
        }
    }

    pub(crate) fn configure(&mut self, config: FaultConfig) {
        *self = FaultState {
            queued: std::mem::take(&mut self.queued),
            ..FaultState::new(config)
        };
    }

    pub(crate) fn queue(&mut self, kind: FaultKind, count: usize) {
        self.queued.extend(std::iter::repeat_n(kind, count));
    }

    pub(crate) fn next(&mut self) -> Option<FaultKind> {
        if let Some(kind) = self.queued.pop_front() {
            return Some(kind);
        }
        if self.config.rate <= 0.0 || self.config.kinds.is_empty() {
            return None;
        }
        self.rng_state = self.rng_state.wrapping_add(1);
        let draw = mix(self.rng_state);
        let unit = (draw >> 11) as f64 / (1u64 << 53) as f64;
        if unit >= self.config.rate {
            return None;
        }
        let index = (mix(draw) % self.config.kinds.len() as u64) as usize;
        Some(self.config.kinds[index].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_faults_come_first_and_rate_draws_replay_with_the_same_seed() {
        let config = FaultConfig {
            rate: 0.5,
            seed: 9,
            ..FaultConfig::default()
        };
        let mut first = FaultState::new(config.clone());
        first.queue(FaultKind::DropConnection, 1);
        assert_eq!(first.next(), Some(FaultKind::DropConnection));
        let draws: Vec<_> = (0..50).map(|_| first.next()).collect();
        let mut again = FaultState::new(config);
        let replay: Vec<_> = (0..50).map(|_| again.next()).collect();
        assert_eq!(draws, replay);
        let faults = draws.iter().filter(|d| d.is_some()).count();
        assert!((10..=40).contains(&faults), "{faults}");
    }
}

//! Injectable faults: scripted ("the next N requests") or random at a rate from the
//! seeded generator, optionally limited to some operations.

use std::collections::VecDeque;
use std::time::Duration;

use crate::ids::Rng;

/// One thing that can go wrong with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// A 5xx with Klaviyo's JSON:API error body.
    ServerError {
        /// 500, 502, 503, 504, ...
        status: u16,
    },
    /// A 5xx with an HTML body, as a proxy or load balancer in front of the API sends.
    HtmlServerError {
        /// 502, 503, 504, 524, ...
        status: u16,
    },
    /// A 403 Cloudflare challenge page (`text/html`, `cf-mitigated: challenge`).
    CloudflareChallenge,
    /// A 429 `throttled` whatever the real counters say.
    Throttle {
        /// The `Retry-After` value, seconds.
        retry_after_secs: u64,
    },
    /// The request is answered normally, after this delay.
    Latency(Duration),
    /// The connection is closed before the request is processed; nothing is applied.
    DropConnection,
    /// The request is processed and applied, then the connection is closed without an
    /// answer, so only an idempotent retry is safe.
    ResponseLost,
}

/// Random faults: each request matching `operations` suffers one of `kinds` with
/// probability `rate`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RandomFaults {
    /// Probability per request, 0.0 to 1.0.
    pub rate: f64,
    /// The faults to pick from, uniformly.
    pub kinds: Vec<Fault>,
    /// operationIds the faults apply to; empty means every operation.
    pub operations: Vec<String>,
}

impl RandomFaults {
    /// Every kind of fault, for `--fault-rate` without `--fault-kinds`.
    pub fn all_kinds() -> Vec<Fault> {
        vec![
            Fault::ServerError { status: 500 },
            Fault::ServerError { status: 503 },
            Fault::HtmlServerError { status: 502 },
            Fault::Throttle { retry_after_secs: 1 },
            Fault::Latency(Duration::from_millis(250)),
            Fault::DropConnection,
            Fault::ResponseLost,
        ]
    }
}

#[derive(Debug, Clone)]
struct Scripted {
    fault: Fault,
    remaining: u32,
    operation: Option<String>,
}

/// The plan the server consults for every API request.
#[derive(Debug, Clone, Default)]
pub(crate) struct FaultPlan {
    scripted: VecDeque<Scripted>,
    pub(crate) random: RandomFaults,
}

impl FaultPlan {
    pub(crate) fn inject(&mut self, fault: Fault, times: u32, operation: Option<String>) {
        if times > 0 {
            self.scripted.push_back(Scripted {
                fault,
                remaining: times,
                operation,
            });
        }
    }

    pub(crate) fn clear(&mut self) {
        self.scripted.clear();
        self.random = RandomFaults::default();
    }

    /// Returns the fault for this request to `operation`, if any.
    pub(crate) fn pick(&mut self, operation: &str, rng: &mut Rng) -> Option<Fault> {
        if let Some(pos) = self
            .scripted
            .iter()
            .position(|s| s.operation.as_deref().is_none_or(|op| op == operation))
        {
            let entry = &mut self.scripted[pos];
            let fault = entry.fault.clone();
            entry.remaining -= 1;
            if entry.remaining == 0 {
                self.scripted.remove(pos);
            }
            return Some(fault);
        }
        let random = &self.random;
        if random.rate <= 0.0 || random.kinds.is_empty() {
            return None;
        }
        if !random.operations.is_empty() && !random.operations.iter().any(|op| op == operation) {
            return None;
        }
        (rng.unit() < random.rate).then(|| random.kinds[rng.below(random.kinds.len())].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_faults_apply_to_the_next_matching_requests_only() {
        let mut plan = FaultPlan::default();
        let mut rng = Rng::new(1);
        plan.inject(Fault::DropConnection, 2, Some("create_event".into()));
        assert_eq!(plan.pick("get_profiles", &mut rng), None);
        assert_eq!(plan.pick("create_event", &mut rng), Some(Fault::DropConnection));
        assert_eq!(plan.pick("create_event", &mut rng), Some(Fault::DropConnection));
        assert_eq!(plan.pick("create_event", &mut rng), None);
    }

    #[test]
    fn random_faults_follow_the_rate_and_the_seed() {
        let plan = FaultPlan {
            random: RandomFaults {
                rate: 0.3,
                kinds: RandomFaults::all_kinds(),
                operations: vec![],
            },
            ..FaultPlan::default()
        };
        let run = |seed| {
            let mut plan = plan.clone();
            let mut rng = Rng::new(seed);
            (0..1000)
                .map(|_| plan.pick("create_event", &mut rng))
                .collect::<Vec<_>>()
        };
        let first = run(9);
        assert_eq!(first, run(9));
        let hits = first.iter().filter(|f| f.is_some()).count();
        assert!((200..400).contains(&hits), "{hits} faults in 1000 at rate 0.3");
    }
}

//! The coordinator's run metrics, on the global `ledgerlink` meter: runs by outcome and
//! duration, and the batches, records and rejects they carry.

use std::collections::BTreeMap;
use std::time::Duration;

use ledgerlink_domain::Rejection;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};

use crate::run::RunKind;

/// Seconds; from a one-invoice run to a full run over a large account.
const RUN_BOUNDS: [f64; 14] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0,
];

/// The instruments, made from the global meter when the executor is built.
#[derive(Debug, Clone)]
pub struct RunMetrics {
    runs: Counter<u64>,
    duration: Histogram<f64>,
    batches: Counter<u64>,
    records: Counter<u64>,
    rejects: Counter<u64>,
}

impl Default for RunMetrics {
    fn default() -> Self {
        RunMetrics::new()
    }
}

impl RunMetrics {
    /// Builds the instruments.
    pub fn new() -> Self {
        let meter = opentelemetry::global::meter("ledgerlink");
        RunMetrics {
            runs: meter
                .u64_counter("ledgerlink.runs")
                .with_description("Runs that ended, by kind and outcome")
                .build(),
            duration: meter
                .f64_histogram("ledgerlink.run.duration")
                .with_description("Time a run took on this replica, from start (or resumption) to end")
                .with_unit("s")
                .with_boundaries(RUN_BOUNDS.to_vec())
                .build(),
            batches: meter
                .u64_counter("ledgerlink.batches")
                .with_description("Batches carried through every phase")
                .build(),
            records: meter
                .u64_counter("ledgerlink.records")
                .with_description("Customers carried through every phase")
                .build(),
            rejects: meter
                .u64_counter("ledgerlink.rejects")
                .with_description("Records rejected, by record kind")
                .build(),
        }
    }

    /// A run ended: `outcome` is its final state, or `interrupted` when a shutdown left
    /// it for the next leader.
    pub fn run_ended(&self, kind: RunKind, outcome: &'static str, took: Duration) {
        let labels = [KeyValue::new("kind", kind.as_str()), KeyValue::new("outcome", outcome)];
        self.runs.add(1, &labels);
        self.duration.record(took.as_secs_f64(), &labels);
    }

    /// A batch of `customers` came through, with `rejections`.
    pub fn batch_done(&self, kind: RunKind, customers: u64, rejections: &[Rejection]) {
        let kind = [KeyValue::new("kind", kind.as_str())];
        self.batches.add(1, &kind);
        self.records.add(customers, &kind);
        let mut by_kind: BTreeMap<&'static str, u64> = BTreeMap::new();
        for rejection in rejections {
            *by_kind.entry(rejection.record_kind.as_str()).or_default() += 1;
        }
        for (record_kind, count) in by_kind {
            self.rejects.add(count, &[KeyValue::new("record_kind", record_kind)]);
        }
    }
}

//! The test's side of a running simulator: state to assert on, request counts, and
//! knobs for faults, limits and time.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::SimConfig;
use crate::faults::{Fault, RandomFaults};
use crate::model::{BulkImportJob, Event, JobStatus, List, Metric, Profile, RequestRecord, Segment};
use crate::ratelimit::RateLimitMode;
use crate::server::{Inner, Shared, serve};

/// A simulator serving on a listener; dropping the handle stops it.
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Starts a simulator on `listener` (bind `127.0.0.1:0` in tests) and returns its handle.
pub fn start(config: SimConfig, listener: TcpListener) -> std::io::Result<SimHandle> {
    start_with_shutdown(config, listener, CancellationToken::new())
}

/// Like [`start`], stopping also when `shutdown` is cancelled.
pub fn start_with_shutdown(
    config: SimConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<SimHandle> {
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared::new(config));
    let task = tokio::spawn(serve(shared.clone(), listener, shutdown.clone()));
    Ok(SimHandle {
        addr,
        shared,
        shutdown,
        task: Some(task),
    })
}

impl SimHandle {
    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, what a client uses instead of `https://a.klaviyo.com`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The simulator's clock (manual if the configuration gave one).
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// Moves a manual clock forward.
    pub fn advance(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// Every profile, in id order.
    pub fn profiles(&self) -> Vec<Profile> {
        self.shared.lock().store.profiles.values().cloned().collect()
    }

    /// The profile with this Klaviyo id.
    pub fn profile(&self, id: &str) -> Option<Profile> {
        self.shared.lock().store.profiles.get(id).cloned()
    }

    /// The profile with this email (matched case-insensitively).
    pub fn profile_by_email(&self, email: &str) -> Option<Profile> {
        self.shared.lock().store.profile_by("email", email).cloned()
    }

    /// The profile with this external id.
    pub fn profile_by_external_id(&self, external_id: &str) -> Option<Profile> {
        self.shared.lock().store.profile_by("external_id", external_id).cloned()
    }

    /// Every recorded event, in arrival order (duplicates were never recorded).
    pub fn events(&self) -> Vec<Event> {
        self.shared.lock().store.events.clone()
    }

    /// How many events are recorded, without copying them (for pollers and benchmarks).
    pub fn event_count(&self) -> usize {
        self.shared.lock().store.events.len()
    }

    /// The recorded events from position `start` on, in arrival order, so a poller
    /// copies only what arrived since it last looked.
    pub fn events_from(&self, start: usize) -> Vec<Event> {
        let inner = self.shared.lock();
        inner
            .store
            .events
            .get(start..)
            .map(<[Event]>::to_vec)
            .unwrap_or_default()
    }

    /// How many profiles are stored, without copying them.
    pub fn profile_count(&self) -> usize {
        self.shared.lock().store.profiles.len()
    }

    /// Requests answered with `status`, per operationId (for example 429s, to tell
    /// throttled requests from the ones that did work).
    pub fn request_counts_with_status(&self, status: u16) -> BTreeMap<String, u64> {
        let inner = self.shared.lock();
        let mut counts = BTreeMap::new();
        for record in inner.records.iter().filter(|r| r.status == Some(status)) {
            *counts.entry(record.operation.clone()).or_default() += 1;
        }
        counts
    }

    /// How many events were dropped as duplicates of (profile, metric, unique_id).
    pub fn duplicate_events_dropped(&self) -> u64 {
        self.shared.lock().store.duplicate_events
    }

    /// Every metric.
    pub fn metrics(&self) -> Vec<Metric> {
        self.shared.lock().store.metrics.clone()
    }

    /// Every list with its members.
    pub fn lists(&self) -> Vec<List> {
        self.shared.lock().store.lists.clone()
    }

    /// Every segment.
    pub fn segments(&self) -> Vec<Segment> {
        self.shared.lock().store.segments.clone()
    }

    /// Every bulk profile import job.
    pub fn bulk_import_jobs(&self) -> Vec<BulkImportJob> {
        self.shared.lock().store.jobs.clone()
    }

    /// Requests received for one operationId (for example `create_event`), whatever
    /// their outcome, faults and throttling included.
    pub fn request_count(&self, operation: &str) -> u64 {
        self.shared.lock().counts.get(operation).copied().unwrap_or(0)
    }

    /// Requests received per operationId.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.shared.lock().counts.clone()
    }

    /// Every request with the status it got (`None`: closed without an answer).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().records.clone()
    }

    /// Makes the next `times` API requests suffer `fault`.
    pub fn inject_fault(&self, fault: Fault, times: u32) {
        self.shared.lock().faults.inject(fault, times, None);
    }

    /// Makes the next `times` requests to `operation` suffer `fault`.
    pub fn inject_fault_for(&self, operation: &str, fault: Fault, times: u32) {
        self.shared
            .lock()
            .faults
            .inject(fault, times, Some(operation.to_owned()));
    }

    /// Replaces the random faults.
    pub fn set_random_faults(&self, faults: RandomFaults) {
        self.shared.lock().faults.random = faults;
    }

    /// Removes every scripted and random fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Changes rate-limit enforcement.
    pub fn set_rate_limits(&self, mode: RateLimitMode) {
        self.shared.lock().rate_mode = mode;
    }

    /// Changes the delay added to every API request.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    /// Changes the key's scopes; `None` grants all.
    pub fn set_scopes(&self, scopes: Option<Vec<String>>) {
        self.shared.lock().scopes = scopes;
    }

    /// Waits until every bulk import job accepted so far is complete.
    pub async fn wait_for_jobs(&self) {
        let mut done = self.shared.jobs_done.subscribe();
        loop {
            let pending = self
                .shared
                .lock()
                .store
                .jobs
                .iter()
                .any(|j| matches!(j.status, JobStatus::Queued | JobStatus::Processing));
            if !pending || done.changed().await.is_err() {
                return;
            }
        }
    }

    /// The whole state as JSON, the same document `GET /__sim/state` serves.
    pub fn dump(&self) -> Value {
        dump(&self.shared.lock())
    }

    /// Stops accepting, closes connections and waits for the server task.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub(crate) fn dump(inner: &Inner) -> Value {
    let store = &inner.store;
    json!({
        "profiles": store.profiles.values().collect::<Vec<_>>(),
        "events": store.events,
        "duplicate_events_dropped": store.duplicate_events,
        "metrics": store.metrics,
        "lists": store.lists,
        "segments": store.segments,
        "profile_bulk_import_jobs": store.jobs,
        "request_counts": inner.counts,
    })
}

//! The coordinator's engine room: the queue of runs, the workers that execute them
//! on the leader, the scheduler, and the live view of running runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::executor::Executor;
use crate::run::{RunKind, RunRecord, RunState};
use crate::schedule::{Decision, Schedule, ScheduledKind};
use crate::settings::CoordinatorSettings;
use crate::store::{NewRun, Store, StoreError};

/// How often a worker looks for queued runs when nothing wakes it: runs queued by
/// another replica are only seen this way.
const POLL: Duration = Duration::from_millis(500);

struct ActiveRun {
    cancel: CancellationToken,
    updates: watch::Sender<RunRecord>,
}

/// Runs, queued and live.
pub struct Coordinator {
    store: Store,
    executor: Executor,
    settings: CoordinatorSettings,
    active: Mutex<HashMap<String, ActiveRun>>,
    wake: Notify,
    bulk: Arc<Semaphore>,
    targeted: Arc<Semaphore>,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator").finish_non_exhaustive()
    }
}

impl Coordinator {
    /// Builds the coordinator.
    pub fn new(store: Store, executor: Executor, settings: CoordinatorSettings) -> Coordinator {
        Coordinator {
            bulk: Arc::new(Semaphore::new(settings.bulk_runs)),
            targeted: Arc::new(Semaphore::new(settings.targeted_runs)),
            store,
            executor,
            settings,
            active: Mutex::new(HashMap::new()),
            wake: Notify::new(),
        }
    }

    /// Returns the store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Returns today in the account's time zone.
    pub fn today(&self) -> NaiveDate {
        Utc::now().with_timezone(&self.settings.time_zone).date_naive()
    }

    /// Queues a run; the leader starts it.
    pub async fn submit(&self, new: NewRun) -> Result<RunRecord, StoreError> {
        let run = self.store.create_run(new, Utc::now()).await?;
        tracing::info!(run_id = %run.run_id, kind = run.kind.as_str(), trigger = %run.trigger, dry_run = run.dry_run, "run queued");
        self.wake.notify_waiters();
        Ok(run)
    }

    /// Returns a live view of a running run on this replica.
    pub fn watch(&self, run_id: &str) -> Option<watch::Receiver<RunRecord>> {
        self.lock_active().get(run_id).map(|active| active.updates.subscribe())
    }

    /// Cancels a run: a live one stops after its current batches, a queued one never
    /// starts. Returns the run as it now stands.
    pub async fn cancel(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        if let Some(active) = self.lock_active().get(run_id) {
            active.cancel.cancel();
        }
        let Some(run) = self.store.get_run(run_id).await? else {
            return Ok(None);
        };
        if run.state == RunState::Queued {
            self.store
                .finish_run(run_id, RunState::Cancelled, &run.report, None, Utc::now())
                .await?;
        }
        self.store.get_run(run_id).await
    }

    fn lock_active(&self) -> std::sync::MutexGuard<'_, HashMap<String, ActiveRun>> {
        // A poisoned map only means a panic elsewhere mid-insert; its data is still usable.
        self.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Executes queued runs while this replica leads, resuming runs left running by a
    /// stopped leader first.
    pub async fn work(self: Arc<Self>, mut leader: watch::Receiver<bool>, shutdown: CancellationToken) {
        let mut resumed = false;
        // Where leadership cannot change (SQLite: one process leads for good) the
        // sender is gone, and `changed()` would be ready at once on every turn.
        let mut leadership_can_change = true;
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            if *leader.borrow() {
                if !resumed {
                    resumed = true;
                    if let Err(error) = self.resume_running(&shutdown).await {
                        tracing::error!(error = %error, "cannot resume runs");
                    }
                }
                if let Err(error) = self.start_queued(&shutdown).await {
                    tracing::error!(error = %error, "cannot start queued runs");
                }
            } else {
                resumed = false;
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified() => {}
                changed = leader.changed(), if leadership_can_change => leadership_can_change = changed.is_ok(),
                () = tokio::time::sleep(POLL) => {}
            }
        }
        // Let live runs stop at a batch boundary; their checkpoints let the next leader
        // resume them.
        for active in self.lock_active().values() {
            active.cancel.cancel();
        }
    }

    async fn resume_running(self: &Arc<Self>, shutdown: &CancellationToken) -> Result<(), StoreError> {
        for run in self.store.runs_in_state(RunState::Running).await? {
            if self.lock_active().contains_key(&run.run_id) {
                continue;
            }
            tracing::info!(run_id = %run.run_id, "resuming run left running");
            self.spawn_run(run, shutdown);
        }
        Ok(())
    }

    async fn start_queued(self: &Arc<Self>, shutdown: &CancellationToken) -> Result<(), StoreError> {
        for run in self.store.runs_in_state(RunState::Queued).await? {
            let lane = self.lane(run.kind);
            if lane.available_permits() == 0 {
                continue;
            }
            if !self.store.start_run(&run.run_id, Utc::now()).await? {
                continue;
            }
            let mut run = run;
            run.state = RunState::Running;
            self.spawn_run(run, shutdown);
        }
        Ok(())
    }

    fn lane(&self, kind: RunKind) -> &Arc<Semaphore> {
        match kind {
            RunKind::Full | RunKind::Incremental => &self.bulk,
            RunKind::Customer | RunKind::Invoice => &self.targeted,
        }
    }

    fn spawn_run(self: &Arc<Self>, run: RunRecord, shutdown: &CancellationToken) {
        let cancel = shutdown.child_token();
        let (updates, _) = watch::channel(run.clone());
        self.lock_active().insert(
            run.run_id.clone(),
            ActiveRun {
                cancel: cancel.clone(),
                updates: updates.clone(),
            },
        );
        let lane = Arc::clone(self.lane(run.kind));
        let coordinator = Arc::clone(self);
        let shutdown = shutdown.clone();
        // The root of the run's trace: every RPC of the run, and through the propagated
        // context every service's work for it, is a descendant.
        let span = tracing::info_span!(
            parent: None,
            "run",
            run.id = %run.run_id,
            run.kind = run.kind.as_str(),
            run.trigger = %run.trigger,
            run.dry_run = run.dry_run,
            run.outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        let task = async move {
            let Ok(_permit) = lane.acquire_owned().await else {
                return;
            };
            let started = Instant::now();
            let publish = |progress: &crate::run::Progress, report: &crate::run::Report| {
                updates.send_modify(|live| {
                    live.progress = progress.clone();
                    live.report = report.clone();
                });
            };
            let (state, report, error) = coordinator.executor.execute(&run, cancel.clone(), publish).await;
            // A coordinator shutting down leaves the run running for the next leader; a
            // user's cancel cancels only the run's own token.
            let stopping = state == RunState::Cancelled && shutdown.is_cancelled();
            let outcome = if stopping { "interrupted" } else { state.as_str() };
            let span = tracing::Span::current();
            span.record("run.outcome", outcome);
            if state == RunState::Failed {
                span.record("otel.status_code", "ERROR");
            }
            coordinator
                .executor
                .metrics()
                .run_ended(run.kind, outcome, started.elapsed());
            if !stopping {
                if let Err(store_error) = coordinator
                    .store
                    .finish_run(&run.run_id, state, &report, error.as_deref(), Utc::now())
                    .await
                {
                    tracing::error!(run_id = %run.run_id, error = %store_error, "cannot record the end of a run");
                }
                tracing::info!(run_id = %run.run_id, state = state.as_str(), "run ended");
            }
            if let Ok(Some(finished)) = coordinator.store.get_run(&run.run_id).await {
                let _ = updates.send(finished);
            }
            coordinator.lock_active().remove(&run.run_id);
        };
        tokio::spawn(task.instrument(span));
    }

    /// Starts scheduled runs while this replica leads.
    pub async fn schedule(self: Arc<Self>, mut leader: watch::Receiver<bool>, shutdown: CancellationToken) {
        if !self.settings.schedules_enabled || self.settings.schedules.is_empty() {
            return;
        }
        let mut schedules = Vec::new();
        for spec in &self.settings.schedules {
            match Schedule::new(spec.clone(), self.settings.time_zone) {
                Ok(schedule) => schedules.push(schedule),
                Err(error) => tracing::error!(error = %error, "schedule ignored"),
            }
        }
        let mut leadership_can_change = true;
        loop {
            let mut next_wake = Utc::now() + chrono::Duration::minutes(1);
            if *leader.borrow() {
                for schedule in &schedules {
                    match self.tick(schedule).await {
                        Ok(Some(wait_until)) => next_wake = next_wake.min(wait_until),
                        Ok(None) => next_wake = Utc::now(),
                        Err(error) => {
                            tracing::error!(schedule = %schedule.spec.name, error = %error, "schedule failed")
                        }
                    }
                }
            }
            let sleep = (next_wake - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                () = shutdown.cancelled() => break,
                changed = leader.changed(), if leadership_can_change => leadership_can_change = changed.is_ok(),
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Handles one schedule; returns when to look again (`None`: at once).
    async fn tick(&self, schedule: &Schedule) -> Result<Option<chrono::DateTime<Utc>>, StoreError> {
        let name = &schedule.spec.name;
        let now = Utc::now();
        let last = self.store.schedule_last_handled(name).await?;
        match schedule.decide(last, now) {
            Decision::Wait(next) => {
                if last.is_none() {
                    self.store.set_schedule_last_handled(name, now).await?;
                }
                Ok(Some(next))
            }
            Decision::Skip(occurrence) => {
                tracing::warn!(schedule = %name, %occurrence, "missed occurrence skipped");
                self.store.set_schedule_last_handled(name, occurrence).await?;
                Ok(None)
            }
            Decision::Fire(occurrence) => {
                // Recorded first: a crash now loses this firing rather than doubling it,
                // and the next occurrence covers what it would have done.
                self.store.set_schedule_last_handled(name, occurrence).await?;
                let kind = match schedule.spec.kind {
                    ScheduledKind::Full => RunKind::Full,
                    ScheduledKind::Incremental => RunKind::Incremental,
                };
                self.submit(NewRun {
                    kind,
                    dry_run: false,
                    trigger: format!("schedule:{name}"),
                    targets: crate::run::Targets {
                        standings: schedule.spec.standings.clone(),
                        ..Default::default()
                    },
                    as_of: occurrence.with_timezone(&self.settings.time_zone).date_naive(),
                })
                .await?;
                Ok(None)
            }
        }
    }
}

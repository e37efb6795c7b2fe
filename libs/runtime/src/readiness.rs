//! Whether this process's gRPC service is taking traffic, for the HTTP `/readyz` probe.
//!
//! [`grpc::serve`](crate::grpc::serve) marks the [`Readiness`] of the task it runs in:
//! ready once health reports `SERVING`, not ready as soon as shutdown starts. The handle
//! travels as a task-local rather than a parameter because every service's `run` owns
//! its call to `serve`, and the probe is the business of the binary around it
//! ([`service_main`](crate::service_main)), not of each service.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

tokio::task_local! {
    static CURRENT: Readiness;
}

/// A shared readiness flag; clones see the same flag. Not ready when made.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// A flag that is not ready.
    pub fn new() -> Self {
        Readiness::default()
    }

    /// Returns whether the service is ready.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// Marks the service ready or not.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }

    /// Returns a guard that marks the service not ready when dropped, whichever way the
    /// code holding it ends.
    pub fn unset_on_drop(&self) -> UnsetOnDrop {
        UnsetOnDrop(self.clone())
    }

    /// Runs `future` with this flag as the one `serve` marks.
    pub async fn scope<F: Future>(&self, future: F) -> F::Output {
        CURRENT.scope(self.clone(), future).await
    }

    /// The flag of the current [`scope`](Readiness::scope); outside one, a flag nobody
    /// reads, so marking it is harmless.
    pub fn of_current_task() -> Readiness {
        CURRENT.try_with(Readiness::clone).unwrap_or_default()
    }
}

/// Marks its [`Readiness`] not ready when dropped.
#[derive(Debug)]
pub struct UnsetOnDrop(Readiness);

impl Drop for UnsetOnDrop {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scope_hands_the_flag_to_the_code_inside() {
        let readiness = Readiness::new();
        readiness
            .scope(async {
                Readiness::of_current_task().set(true);
            })
            .await;
        assert!(readiness.is_ready());
        Readiness::of_current_task().set(true);
        assert!(readiness.is_ready(), "outside the scope nothing changes");
    }
}

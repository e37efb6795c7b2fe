//! The simulator's notion of "now": wall time by default, or a manual clock that
//! tests move forward so rate-limit windows and timestamps need no sleeping.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Where the simulator reads the time from.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system's wall clock, as Klaviyo's windows are aligned to real seconds and minutes.
    #[default]
    System,
    /// A clock that only moves when [`Clock::advance`] or [`Clock::set`] is called.
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    /// Returns a manual clock starting at `start`.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Clock::Manual(Arc::new(Mutex::new(start)))
    }

    /// Returns the current time.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(now) => *now.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Moves a manual clock forward; a system clock ignores it.
    pub fn advance(&self, by: Duration) {
        if let Clock::Manual(now) = self {
            let mut now = now.lock().unwrap_or_else(|e| e.into_inner());
            *now += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        }
    }

    /// Sets a manual clock; a system clock ignores it.
    pub fn set(&self, to: DateTime<Utc>) {
        if let Clock::Manual(now) = self {
            *now.lock().unwrap_or_else(|e| e.into_inner()) = to;
        }
    }
}

//! NetSuite's clock as the simulator sees it: the system clock moved by an offset, or
//! frozen at an instant, so tests can check timestamp windows and watermarks.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

const NOT_FROZEN: i64 = i64::MIN;

/// The simulator's clock.
#[derive(Debug)]
pub struct ServerClock {
    offset_secs: AtomicI64,
    frozen_at: AtomicI64,
    /// How far the account's data has been moved ahead of the login clock by
    /// `SimHandle::advance_days`: days pass for the data (SYSDATE, last-modified
    /// stamps, the `Date` header) while signatures keep being checked against the
    /// time the client signs with.
    data_offset_secs: AtomicI64,
}

impl Default for ServerClock {
    fn default() -> Self {
        ServerClock {
            offset_secs: AtomicI64::new(0),
            frozen_at: AtomicI64::new(NOT_FROZEN),
            data_offset_secs: AtomicI64::new(0),
        }
    }
}

impl ServerClock {
    /// NetSuite's "now".
    pub fn now(&self) -> DateTime<Utc> {
        let frozen = self.frozen_at.load(Ordering::SeqCst);
        let base = if frozen == NOT_FROZEN {
            Utc::now()
        } else {
            DateTime::from_timestamp(frozen, 0).unwrap_or_default()
        };
        base + TimeDelta::seconds(self.offset_secs.load(Ordering::SeqCst))
    }

    /// The account's "now" for data: [`ServerClock::now`] plus the days the data set
    /// was advanced.
    pub fn data_now(&self) -> DateTime<Utc> {
        self.now() + TimeDelta::seconds(self.data_offset_secs.load(Ordering::SeqCst))
    }

    /// Moves data time forward without moving the login clock.
    pub fn advance_data(&self, delta: TimeDelta) {
        self.data_offset_secs.fetch_add(delta.num_seconds(), Ordering::SeqCst);
    }

    /// Stops the clock at `instant` (offset reset to zero).
    pub fn freeze_at(&self, instant: DateTime<Utc>) {
        self.offset_secs.store(0, Ordering::SeqCst);
        self.frozen_at.store(instant.timestamp(), Ordering::SeqCst);
    }

    /// Lets the clock run from the system clock again, shifted by `offset_secs`.
    pub fn run_with_offset(&self, offset_secs: i64) {
        self.frozen_at.store(NOT_FROZEN, Ordering::SeqCst);
        self.offset_secs.store(offset_secs, Ordering::SeqCst);
    }

    /// Moves the clock forward (or back, when negative).
    pub fn advance(&self, delta: TimeDelta) {
        self.offset_secs.fetch_add(delta.num_seconds(), Ordering::SeqCst);
    }
}

//! The scoring engine of `spec/scoring.md` §2–§5, as pure functions without I/O.
//!
//! - [`compute_metrics`] and the per-invoice figures ([`days_past_due`],
//!   [`aging_bucket`], [`days_to_pay`], [`days_late`]) implement §2–§3.
//! - [`Rules`] holds the segment rules of §4 as data: CEL conditions, checked at load
//!   and compiled to a small evaluator. [`Rules::default`] is the spec's rule set.
//! - [`Engine::score`] produces the §6 [`CustomerScore`](ledgerlink_domain::CustomerScore)
//!   with its explanation.
//! - [`newly_aged_invoice_ids`] and [`segment_migrations`] implement §5.

mod change;
mod engine;
mod metrics;
mod numeric;
mod params;
mod rules;
mod vars;

pub use change::{
    AGED_AFTER_DAYS, PreviousSegments, SegmentMigration, is_toward_risk, newly_aged_invoice_ids, segment_migrations,
};
pub use engine::{Engine, Segments};
pub use metrics::{
    AgingBucket, Metrics, SEASONAL_OFFSET_DAYS, aging_bucket, compute_metrics, days_late, days_past_due, days_to_pay,
    is_owing, risk_score,
};
pub use params::{ParamsError, ScoringParams};
pub use rules::{DEFAULT_RULES_TOML, Dimension, Rule, Rules, RulesError, RulesErrorKind, RulesFormat};
pub use vars::{orders_declining, variable_names};

//! Change over time (§5): newly aged invoices and segment migrations.

use chrono::NaiveDate;
use ledgerlink_domain::{CustomerScore, CustomerSnapshot, shift_days};
use serde::{Deserialize, Serialize};

use crate::metrics::{day_number, days_past_due};
use crate::rules::Dimension;

/// Days past due beyond which an invoice counts as aged (the 30-day line of §5).
pub const AGED_AFTER_DAYS: i64 = 30;

/// Returns the ids, sorted, of open invoices that crossed 30 days past due between
/// `prev_as_of` (the as-of date of the last successful run that scored this customer,
/// `as_of - 1` when there is none) and `as_of`.
pub fn newly_aged_invoice_ids(
    snapshot: &CustomerSnapshot,
    as_of: NaiveDate,
    prev_as_of: Option<NaiveDate>,
) -> Vec<String> {
    let previous = prev_as_of.unwrap_or_else(|| shift_days(as_of, -1));
    // Crossing the line needs dpd(as_of) > 30 >= dpd(previous); nothing can cross when
    // the previous run was not earlier.
    if day_number(previous) >= day_number(as_of) {
        return Vec::new();
    }
    let terms = snapshot.customer.terms.as_ref();
    let mut ids: Vec<String> = snapshot
        .invoices
        .iter()
        .filter(|invoice| {
            days_past_due(invoice, terms, as_of) > AGED_AFTER_DAYS
                && days_past_due(invoice, terms, previous) <= AGED_AFTER_DAYS
        })
        .map(|invoice| invoice.id.clone())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The three segment values of a customer's previous successful score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSegments {
    /// The as-of date of that score.
    pub as_of: NaiveDate,
    /// Its `account_standing`.
    pub account_standing: String,
    /// Its `behavior_segment`.
    pub behavior_segment: String,
    /// Its `loyalty_tier`.
    pub loyalty_tier: String,
}

impl PreviousSegments {
    /// Takes the segments of a stored score.
    pub fn of(score: &CustomerScore) -> PreviousSegments {
        PreviousSegments {
            as_of: score.as_of,
            account_standing: score.account_standing.clone(),
            behavior_segment: score.behavior_segment.clone(),
            loyalty_tier: score.loyalty_tier.clone(),
        }
    }

    fn get(&self, dimension: Dimension) -> &str {
        match dimension {
            Dimension::AccountStanding => &self.account_standing,
            Dimension::BehaviorSegment => &self.behavior_segment,
            Dimension::LoyaltyTier => &self.loyalty_tier,
        }
    }
}

/// One change of segment between two successful runs (the run id is added by the
/// service that records it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentMigration {
    /// The NetSuite customer id.
    pub customer_id: String,
    /// Which dimension changed.
    pub dimension: Dimension,
    /// The previous segment.
    pub from: String,
    /// The new segment.
    pub to: String,
    /// The as-of date of the previous score.
    pub from_date: NaiveDate,
    /// The as-of date of the new score.
    pub to_date: NaiveDate,
    /// Whether the move is toward risk (see [`is_toward_risk`]).
    pub toward_risk: bool,
}

/// Returns true for the moves §5 flags: standing from `standard` or `high_credit_vip`
/// to `payment_watch` or `credit_hold`, and behaviour from anything to `at_risk`.
/// Loyalty moves are never flagged.
pub fn is_toward_risk(dimension: Dimension, from: &str, to: &str) -> bool {
    match dimension {
        Dimension::AccountStanding => {
            matches!(from, "standard" | "high_credit_vip") && matches!(to, "payment_watch" | "credit_hold")
        }
        Dimension::BehaviorSegment => from != to && to == "at_risk",
        Dimension::LoyaltyTier => false,
    }
}

/// Returns the migrations between a customer's previous segments and a new score,
/// one per dimension whose value changed, in dimension order.
pub fn segment_migrations(previous: &PreviousSegments, current: &CustomerScore) -> Vec<SegmentMigration> {
    Dimension::ALL
        .into_iter()
        .filter_map(|dimension| {
            let from = previous.get(dimension);
            let to = match dimension {
                Dimension::AccountStanding => &current.account_standing,
                Dimension::BehaviorSegment => &current.behavior_segment,
                Dimension::LoyaltyTier => &current.loyalty_tier,
            };
            (from != to).then(|| SegmentMigration {
                customer_id: current.customer_id.clone(),
                dimension,
                from: from.to_owned(),
                to: to.clone(),
                from_date: previous.as_of,
                to_date: current.as_of,
                toward_risk: is_toward_risk(dimension, from, to),
            })
        })
        .collect()
}

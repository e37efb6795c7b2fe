//! The top-level entry point: one snapshot in, one [`CustomerScore`] out.

use chrono::NaiveDate;
use ledgerlink_domain::{CustomerScore, CustomerSnapshot, DimensionExplanation, Explanation};

use crate::change::newly_aged_invoice_ids;
use crate::metrics::{Metrics, compute_metrics};
use crate::params::ScoringParams;
use crate::rules::{Dimension, Rules};
use crate::vars::Facts;

/// Scores customers with one set of rules and window parameters. Cheap to share
/// between threads (`Send + Sync`); scoring never fails.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    rules: Rules,
    params: ScoringParams,
}

/// The segment of each dimension, without explanations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segments<'r> {
    /// `account_standing`.
    pub account_standing: &'r str,
    /// `behavior_segment`.
    pub behavior_segment: &'r str,
    /// `loyalty_tier`.
    pub loyalty_tier: &'r str,
}

impl Engine {
    /// Returns an engine with the given rules and windows.
    pub fn new(rules: Rules, params: ScoringParams) -> Engine {
        Engine { rules, params }
    }

    /// The rules in use.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The window parameters in use.
    pub fn params(&self) -> &ScoringParams {
        &self.params
    }

    /// Computes the §3 metrics only.
    pub fn metrics(&self, snapshot: &CustomerSnapshot, as_of: NaiveDate) -> Metrics {
        compute_metrics(snapshot, as_of, &self.params)
    }

    /// Assigns the three segments from already computed metrics.
    pub fn segments<'r>(&'r self, snapshot: &CustomerSnapshot, metrics: &Metrics) -> Segments<'r> {
        let facts = Facts {
            metrics,
            customer: &snapshot.customer,
        };
        let segment = |dimension| {
            let index = self.rules.first_match(dimension, &facts);
            self.rules.rules(dimension)[index].segment()
        };
        Segments {
            account_standing: segment(Dimension::AccountStanding),
            behavior_segment: segment(Dimension::BehaviorSegment),
            loyalty_tier: segment(Dimension::LoyaltyTier),
        }
    }

    /// Scores one customer as of `as_of`; `prev_as_of` is the as-of date of the last
    /// successful run that scored this customer (for `newly_aged_invoice_ids`).
    ///
    /// The result does not depend on the order of invoices or orders.
    pub fn score(&self, snapshot: &CustomerSnapshot, as_of: NaiveDate, prev_as_of: Option<NaiveDate>) -> CustomerScore {
        let metrics = self.metrics(snapshot, as_of);
        let facts = Facts {
            metrics: &metrics,
            customer: &snapshot.customer,
        };
        let explain = Explanation {
            account_standing: self.explain_dimension(Dimension::AccountStanding, &facts),
            behavior_segment: self.explain_dimension(Dimension::BehaviorSegment, &facts),
            loyalty_tier: self.explain_dimension(Dimension::LoyaltyTier, &facts),
        };
        CustomerScore {
            customer_id: snapshot.customer.id.clone(),
            as_of,
            open_balance: metrics.open_balance,
            overdue_balance: metrics.overdue_balance,
            aging: metrics.aging,
            max_days_past_due: metrics.max_days_past_due,
            open_invoice_count: metrics.open_invoice_count,
            overdue_invoice_count: metrics.overdue_invoice_count,
            credit_utilization: metrics.credit_utilization,
            available_credit: metrics.available_credit,
            paid_count: metrics.paid_count,
            avg_days_to_pay: metrics.avg_days_to_pay,
            avg_days_late: metrics.avg_days_late,
            on_time_rate: metrics.on_time_rate,
            payment_consistency: metrics.payment_consistency,
            payment_trend: metrics.payment_trend,
            orders_recent: metrics.orders_recent,
            orders_prior: metrics.orders_prior,
            orders_per_month: metrics.orders_per_month,
            order_frequency_trend: metrics.order_frequency_trend,
            orders_same_period_last_year: metrics.orders_same_period_last_year,
            seasonal_order_trend: metrics.seasonal_order_trend,
            avg_order_value: metrics.avg_order_value,
            order_value_trend: metrics.order_value_trend,
            effective_credit_hold: metrics.effective_credit_hold,
            risk_score: metrics.risk_score,
            account_standing: explain.account_standing.segment.clone(),
            behavior_segment: explain.behavior_segment.segment.clone(),
            loyalty_tier: explain.loyalty_tier.segment.clone(),
            newly_aged_invoice_ids: newly_aged_invoice_ids(snapshot, as_of, prev_as_of),
            customer: snapshot.customer.clone(),
            explain,
        }
    }

    fn explain_dimension(&self, dimension: Dimension, facts: &Facts<'_>) -> DimensionExplanation {
        let index = self.rules.first_match(dimension, facts);
        let rule = &self.rules.rules(dimension)[index];
        DimensionExplanation {
            segment: rule.segment().to_owned(),
            rule: rule.condition().to_owned(),
            metrics: self
                .rules
                .reads_through(dimension, index)
                .iter()
                .map(|&var| (var.name().to_owned(), facts.metric_value(var)))
                .collect(),
        }
    }
}

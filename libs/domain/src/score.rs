//! The per-customer score of `spec/scoring.md` §6.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::money::{Money, serialize_cents, serialize_opt_cents};
use crate::snapshot::Customer;

/// Open amounts by aging bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aging {
    /// Not yet due.
    #[serde(serialize_with = "serialize_cents")]
    pub current: Money,
    /// 1–30 days past due.
    #[serde(serialize_with = "serialize_cents")]
    pub d1_30: Money,
    /// 31–60 days past due.
    #[serde(serialize_with = "serialize_cents")]
    pub d31_60: Money,
    /// 61–90 days past due.
    #[serde(serialize_with = "serialize_cents")]
    pub d61_90: Money,
    /// 91 days or more past due.
    #[serde(serialize_with = "serialize_cents")]
    pub d91_plus: Money,
}

impl Aging {
    /// Returns the sum of all buckets.
    pub fn total(&self) -> Money {
        self.current + self.d1_30 + self.d31_60 + self.d61_90 + self.d91_plus
    }

    /// Returns the name of the worst bucket holding money, or `none`.
    pub fn worst_bucket(&self) -> &'static str {
        let buckets = [
            ("d91_plus", self.d91_plus),
            ("d61_90", self.d61_90),
            ("d31_60", self.d31_60),
            ("d1_30", self.d1_30),
            ("current", self.current),
        ];
        buckets
            .into_iter()
            .find(|(_, amount)| amount.is_positive())
            .map_or("none", |(name, _)| name)
    }
}

/// A metric value as read by a segment rule, for explanations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MetricValue {
    /// Undefined (`null`).
    Null,
    /// A flag.
    Bool(bool),
    /// A count or number of days.
    Integer(i64),
    /// A ratio or mean.
    Number(f64),
    /// Money or text.
    Text(String),
}

/// Why a customer landed in one segment of one dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DimensionExplanation {
    /// The segment the matching rule assigns.
    pub segment: String,
    /// The matching rule's condition as written in the rules file.
    pub rule: String,
    /// The values of the metrics the rules of this dimension read, up to the match.
    pub metrics: BTreeMap<String, MetricValue>,
}

/// The explanation of all three dimensions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The standing dimension.
    pub account_standing: DimensionExplanation,
    /// The behaviour dimension.
    pub behavior_segment: DimensionExplanation,
    /// The loyalty dimension.
    pub loyalty_tier: DimensionExplanation,
}

/// Everything scoring computed for one customer as of one date.
///
/// Money is written with exactly two places; ratios and means are JSON numbers
/// (`avg_order_value` is a mean, so it is a number too); undefined metrics are `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerScore {
    /// The NetSuite customer id.
    pub customer_id: String,
    /// The as-of date of the run.
    pub as_of: NaiveDate,
    /// Sum of `amount_remaining` over open invoices.
    #[serde(serialize_with = "serialize_cents")]
    pub open_balance: Money,
    /// The same over open invoices past due.
    #[serde(serialize_with = "serialize_cents")]
    pub overdue_balance: Money,
    /// Open amounts by aging bucket.
    pub aging: Aging,
    /// Largest days past due over open invoices.
    pub max_days_past_due: i64,
    /// Number of open invoices with money remaining.
    pub open_invoice_count: u32,
    /// Number of open invoices past due.
    pub overdue_invoice_count: u32,
    /// `open_balance / credit_limit`, null without a positive limit.
    pub credit_utilization: Option<f64>,
    /// `credit_limit - open_balance`, null without a limit.
    #[serde(serialize_with = "serialize_opt_cents")]
    pub available_credit: Option<Money>,
    /// Invoices paid in the lookback window.
    pub paid_count: u32,
    /// Mean days from invoice to payment.
    pub avg_days_to_pay: Option<f64>,
    /// Mean days paid after the due date.
    pub avg_days_late: Option<f64>,
    /// Share of paid invoices paid by their due date.
    pub on_time_rate: Option<f64>,
    /// Population standard deviation of days late.
    pub payment_consistency: Option<f64>,
    /// Recent mean days late minus earlier mean days late.
    pub payment_trend: Option<f64>,
    /// Orders in the recent window.
    pub orders_recent: u32,
    /// Orders in the window before it.
    pub orders_prior: u32,
    /// Orders per 30 days over the lookback window.
    pub orders_per_month: f64,
    /// `orders_recent / orders_prior`.
    pub order_frequency_trend: Option<f64>,
    /// Orders in the recent window one year earlier.
    pub orders_same_period_last_year: u32,
    /// `orders_recent / orders_same_period_last_year`.
    pub seasonal_order_trend: Option<f64>,
    /// Mean order total over the lookback window.
    pub avg_order_value: Option<f64>,
    /// Mean recent order total over mean prior order total.
    pub order_value_trend: Option<f64>,
    /// Whether the customer is on credit hold in effect.
    pub effective_credit_hold: bool,
    /// 0–100, higher is riskier.
    pub risk_score: u8,
    /// Standing segment (`credit_hold`, `payment_watch`, …).
    pub account_standing: String,
    /// Behaviour segment (`reliable_frequent`, `at_risk`, …).
    pub behavior_segment: String,
    /// Loyalty tier (`platinum`, `gold`, `standard`, `none`).
    pub loyalty_tier: String,
    /// Open invoices that crossed 30 days past due since the previous run, sorted.
    pub newly_aged_invoice_ids: Vec<String>,
    /// The snapshot's customer object, unchanged.
    pub customer: Customer,
    /// For each dimension, the rule that matched and the metrics it read.
    pub explain: Explanation,
}

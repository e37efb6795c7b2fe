//! Per-invoice figures (§2) and per-customer metrics (§3) of `spec/scoring.md`.
//!
//! Money is summed exactly as decimals. Every ratio and mean is formed from exact
//! integers or decimals and rounded to `f64` once, so an independent implementation
//! lands on the same side of every rule threshold.

use chrono::{Datelike, NaiveDate};
use ledgerlink_domain::{Aging, CreditHold, CustomerSnapshot, Invoice, InvoiceStatus, Money, Terms};
use rust_decimal::Decimal;

use crate::numeric::{decimal_to_f64, ratio};
use crate::params::ScoringParams;

/// How far back the seasonal comparison looks: the same window one year earlier.
/// A calendar fact, so it does not follow `lookback_days`.
pub const SEASONAL_OFFSET_DAYS: i64 = 365;

/// The aging bucket of an open invoice with money remaining.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AgingBucket {
    /// Not yet past due (due today counts as current).
    Current,
    /// 1–30 days past due.
    D1To30,
    /// 31–60 days past due.
    D31To60,
    /// 61–90 days past due.
    D61To90,
    /// 91 days or more past due.
    D91Plus,
}

impl AgingBucket {
    /// Returns the bucket for a number of days past due (0 or less is current).
    pub fn for_days_past_due(days_past_due: i64) -> AgingBucket {
        match days_past_due {
            i64::MIN..=0 => AgingBucket::Current,
            1..=30 => AgingBucket::D1To30,
            31..=60 => AgingBucket::D31To60,
            61..=90 => AgingBucket::D61To90,
            _ => AgingBucket::D91Plus,
        }
    }

    /// Returns the field name used in [`Aging`] and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AgingBucket::Current => "current",
            AgingBucket::D1To30 => "d1_30",
            AgingBucket::D31To60 => "d31_60",
            AgingBucket::D61To90 => "d61_90",
            AgingBucket::D91Plus => "d91_plus",
        }
    }
}

/// Returns the date as a day count, for cheap window arithmetic.
pub(crate) fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce())
}

/// Returns true for an open invoice that still owes money: the only kind that ages.
pub fn is_owing(invoice: &Invoice) -> bool {
    invoice.status == InvoiceStatus::Open && invoice.amount_remaining.is_positive()
}

/// Days past due as of `as_of`: `max(0, as_of - due_date)` for an open invoice with
/// money remaining, 0 otherwise. A null due date follows from the terms.
pub fn days_past_due(invoice: &Invoice, terms: Option<&Terms>, as_of: NaiveDate) -> i64 {
    if !is_owing(invoice) {
        return 0;
    }
    owing_days_past_due(invoice, terms, day_number(as_of))
}

fn owing_days_past_due(invoice: &Invoice, terms: Option<&Terms>, as_of_day: i64) -> i64 {
    (as_of_day - day_number(invoice.effective_due_date(terms))).max(0)
}

/// The aging bucket of an open invoice with money remaining; `None` for any other.
pub fn aging_bucket(invoice: &Invoice, terms: Option<&Terms>, as_of: NaiveDate) -> Option<AgingBucket> {
    is_owing(invoice).then(|| AgingBucket::for_days_past_due(days_past_due(invoice, terms, as_of)))
}

/// Days from invoice to full payment, for a paid invoice.
pub fn days_to_pay(invoice: &Invoice) -> Option<i64> {
    paid_date(invoice).map(|paid| day_number(paid) - day_number(invoice.tran_date))
}

/// Days paid after the due date (negative means early), for a paid invoice.
pub fn days_late(invoice: &Invoice, terms: Option<&Terms>) -> Option<i64> {
    paid_date(invoice).map(|paid| day_number(paid) - day_number(invoice.effective_due_date(terms)))
}

fn paid_date(invoice: &Invoice) -> Option<NaiveDate> {
    match invoice.status {
        InvoiceStatus::Paid => invoice.paid_date,
        InvoiceStatus::Open | InvoiceStatus::Voided => None,
    }
}

/// Every per-customer metric of §3.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Sum of `amount_remaining` over open invoices.
    pub open_balance: Money,
    /// The same over open invoices past due.
    pub overdue_balance: Money,
    /// Open amounts by aging bucket.
    pub aging: Aging,
    /// Largest days past due over open invoices (0 when none).
    pub max_days_past_due: i64,
    /// Open invoices with money remaining.
    pub open_invoice_count: u32,
    /// Open invoices past due.
    pub overdue_invoice_count: u32,
    /// `open_balance / credit_limit`; null without a limit or with a zero limit.
    pub credit_utilization: Option<f64>,
    /// `credit_limit - open_balance`; null without a limit.
    pub available_credit: Option<Money>,
    /// Invoices paid in the lookback window.
    pub paid_count: u32,
    /// Mean days to pay over invoices paid in the window.
    pub avg_days_to_pay: Option<f64>,
    /// Mean days late over invoices paid in the window.
    pub avg_days_late: Option<f64>,
    /// Share of invoices paid in the window with `days_late <= 0`.
    pub on_time_rate: Option<f64>,
    /// Population standard deviation of days late; null below two paid invoices.
    pub payment_consistency: Option<f64>,
    /// Recent mean days late minus the earlier mean.
    pub payment_trend: Option<f64>,
    /// Orders in `(D - recent, D]`.
    pub orders_recent: u32,
    /// Orders in `(D - 2 * recent, D - recent]`.
    pub orders_prior: u32,
    /// Orders in the lookback window per 30 days.
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
    /// NetSuite's hold in effect.
    pub effective_credit_hold: bool,
    /// 0–100, higher is riskier.
    pub risk_score: u8,
}

/// Running sums of integers, so means and deviations are exact until the last step.
#[derive(Default, Clone, Copy)]
struct IntStats {
    count: i64,
    sum: i64,
    sum_of_squares: i128,
}

impl IntStats {
    fn push(&mut self, value: i64) {
        self.count += 1;
        self.sum += value;
        self.sum_of_squares += i128::from(value) * i128::from(value);
    }

    fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    fn population_std_dev(&self) -> Option<f64> {
        if self.count < 2 {
            return None;
        }
        let n = i128::from(self.count);
        let sum = i128::from(self.sum);
        // n²·variance = n·Σx² − (Σx)², exact in integers and never negative.
        let scaled_variance = n * self.sum_of_squares - sum * sum;
        Some((scaled_variance as f64 / (n * n) as f64).sqrt())
    }

    /// `mean(self) - mean(other)` with a single rounding.
    fn mean_difference(&self, other: &IntStats) -> Option<f64> {
        if self.count == 0 || other.count == 0 {
            return None;
        }
        let numerator = i128::from(self.sum) * i128::from(other.count) - i128::from(other.sum) * i128::from(self.count);
        let denominator = i128::from(self.count) * i128::from(other.count);
        Some(numerator as f64 / denominator as f64)
    }
}

#[derive(Default, Clone, Copy)]
struct MoneyStats {
    count: u32,
    sum: Decimal,
}

impl MoneyStats {
    fn push(&mut self, amount: Money) {
        self.count += 1;
        self.sum += amount.amount();
    }

    fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| ratio(self.sum, Decimal::from(self.count)))
    }

    /// `mean(self) / mean(other)`, null when either side is empty or the other mean is 0.
    fn mean_ratio(&self, other: &MoneyStats) -> Option<f64> {
        if self.count == 0 || other.count == 0 || other.sum.is_zero() {
            return None;
        }
        let numerator = self.sum.checked_mul(Decimal::from(other.count));
        let denominator = other.sum.checked_mul(Decimal::from(self.count));
        Some(match (numerator, denominator) {
            (Some(numerator), Some(denominator)) => ratio(numerator, denominator),
            _ => self.mean()? / other.mean()?,
        })
    }
}

fn count_ratio(numerator: u32, denominator: u32) -> Option<f64> {
    (denominator > 0).then(|| f64::from(numerator) / f64::from(denominator))
}

/// Returns true when `from < day <= to`, the half-open windows of §3.
fn within(day: i64, from_exclusive: i64, to_inclusive: i64) -> bool {
    from_exclusive < day && day <= to_inclusive
}

/// Computes every metric of §3 for one customer as of `as_of`.
///
/// The result does not depend on the order of invoices or orders.
pub fn compute_metrics(snapshot: &CustomerSnapshot, as_of: NaiveDate, params: &ScoringParams) -> Metrics {
    let customer = &snapshot.customer;
    let terms = customer.terms.as_ref();
    let today = day_number(as_of);
    let lookback = i64::from(params.lookback_days());
    let recent = i64::from(params.recent_days());

    let mut open_balance = Money::ZERO;
    let mut overdue_balance = Money::ZERO;
    let mut aging = Aging::default();
    let mut max_days_past_due = 0;
    let mut open_invoice_count = 0u32;
    let mut overdue_invoice_count = 0u32;
    let mut days_to_pay_stats = IntStats::default();
    let mut days_late_stats = IntStats::default();
    let mut on_time = 0u32;
    let mut late_recent = IntStats::default();
    let mut late_prior = IntStats::default();

    for invoice in &snapshot.invoices {
        match invoice.status {
            InvoiceStatus::Open => {
                open_balance += invoice.amount_remaining;
                if !invoice.amount_remaining.is_positive() {
                    continue;
                }
                open_invoice_count += 1;
                let dpd = owing_days_past_due(invoice, terms, today);
                max_days_past_due = max_days_past_due.max(dpd);
                if dpd > 0 {
                    overdue_invoice_count += 1;
                    overdue_balance += invoice.amount_remaining;
                }
                let bucket = match AgingBucket::for_days_past_due(dpd) {
                    AgingBucket::Current => &mut aging.current,
                    AgingBucket::D1To30 => &mut aging.d1_30,
                    AgingBucket::D31To60 => &mut aging.d31_60,
                    AgingBucket::D61To90 => &mut aging.d61_90,
                    AgingBucket::D91Plus => &mut aging.d91_plus,
                };
                *bucket += invoice.amount_remaining;
            }
            InvoiceStatus::Paid => {
                let Some(paid) = invoice.paid_date else {
                    continue;
                };
                let paid = day_number(paid);
                let late = paid - day_number(invoice.effective_due_date(terms));
                if within(paid, today - lookback, today) {
                    days_to_pay_stats.push(paid - day_number(invoice.tran_date));
                    days_late_stats.push(late);
                    if late <= 0 {
                        on_time += 1;
                    }
                }
                if within(paid, today - recent, today) {
                    late_recent.push(late);
                } else if within(paid, today - lookback, today - recent) {
                    late_prior.push(late);
                }
            }
            InvoiceStatus::Voided => {}
        }
    }

    let mut orders_recent = MoneyStats::default();
    let mut orders_prior = MoneyStats::default();
    let mut orders_in_lookback = MoneyStats::default();
    let mut orders_same_period_last_year = 0u32;
    for order in snapshot.orders.iter().filter(|order| !order.is_ignored()) {
        let day = day_number(order.tran_date);
        if within(day, today - recent, today) {
            orders_recent.push(order.total);
        } else if within(day, today - 2 * recent, today - recent) {
            orders_prior.push(order.total);
        }
        if within(day, today - lookback, today) {
            orders_in_lookback.push(order.total);
        }
        let year_ago = today - SEASONAL_OFFSET_DAYS;
        if within(day, year_ago - recent, year_ago) {
            orders_same_period_last_year += 1;
        }
    }

    let credit_limit = customer.credit_limit;
    let credit_utilization = credit_limit
        .filter(|limit| !limit.amount().is_zero())
        .map(|limit| ratio(open_balance.amount(), limit.amount()));
    let available_credit = credit_limit.map(|limit| limit - open_balance);
    let effective_credit_hold = match customer.credit_hold {
        CreditHold::On => true,
        CreditHold::Off => false,
        CreditHold::Auto => credit_limit.is_some_and(|limit| open_balance > limit),
    };

    let paid_count = u32::try_from(days_late_stats.count).unwrap_or(u32::MAX);
    let on_time_rate = count_ratio(on_time, paid_count);
    let payment_consistency = days_late_stats.population_std_dev();
    let risk_score = risk_score(
        effective_credit_hold,
        credit_utilization,
        max_days_past_due,
        on_time_rate,
        payment_consistency,
    );

    Metrics {
        open_balance,
        overdue_balance,
        aging,
        max_days_past_due,
        open_invoice_count,
        overdue_invoice_count,
        credit_utilization,
        available_credit,
        paid_count,
        avg_days_to_pay: days_to_pay_stats.mean(),
        avg_days_late: days_late_stats.mean(),
        on_time_rate,
        payment_consistency,
        payment_trend: late_recent.mean_difference(&late_prior),
        orders_recent: orders_recent.count,
        orders_prior: orders_prior.count,
        orders_per_month: f64::from(orders_in_lookback.count) * 30.0 / lookback as f64,
        order_frequency_trend: count_ratio(orders_recent.count, orders_prior.count),
        orders_same_period_last_year,
        seasonal_order_trend: count_ratio(orders_recent.count, orders_same_period_last_year),
        avg_order_value: orders_in_lookback.mean(),
        order_value_trend: orders_recent.mean_ratio(&orders_prior),
        effective_credit_hold,
        risk_score,
    }
}

/// The `risk_score` formula of §3, evaluated term by term in the spec's order and
/// rounded half away from zero.
pub fn risk_score(
    effective_credit_hold: bool,
    credit_utilization: Option<f64>,
    max_days_past_due: i64,
    on_time_rate: Option<f64>,
    payment_consistency: Option<f64>,
) -> u8 {
    if effective_credit_hold {
        return 100;
    }
    let utilization = credit_utilization.unwrap_or(0.0);
    let on_time = on_time_rate.unwrap_or(1.0);
    let consistency = payment_consistency.unwrap_or(0.0);
    let days = max_days_past_due.min(90) as f64;
    let score = 40.0 * utilization.min(1.5) / 1.5
        + 30.0 * days / 90.0
        + 20.0 * (1.0 - on_time)
        + 10.0 * consistency.min(30.0) / 30.0;
    // Negative utilization (a negative open balance from credits) must not push
    // the score below the scale.
    score.round().clamp(0.0, 100.0) as u8
}

/// Converts money to the nearest `f64`, for rule evaluation.
pub(crate) fn money_to_f64(money: Money) -> f64 {
    decimal_to_f64(money.amount())
}

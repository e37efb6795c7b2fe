//! The variables a segment rule may read, and how each is looked up.

use ledgerlink_domain::{Customer, MetricValue, Money};

use crate::metrics::{Metrics, money_to_f64};

/// The type of a variable as seen by rule expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarType {
    Bool,
    Number,
    Text,
}

macro_rules! variables {
    ($($variant:ident => $name:literal : $ty:ident,)*) => {
        /// A variable readable by rules: a §3 metric, a customer field or a helper.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub(crate) enum Var {
            $($variant,)*
        }

        impl Var {
            pub(crate) const ALL: &'static [Var] = &[$(Var::$variant,)*];

            /// The name rules use.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Var::$variant => $name,)*
                }
            }

            pub(crate) fn ty(self) -> VarType {
                match self {
                    $(Var::$variant => VarType::$ty,)*
                }
            }
        }
    };
}

variables! {
    OpenBalance => "open_balance": Number,
    OverdueBalance => "overdue_balance": Number,
    AgingCurrent => "aging.current": Number,
    AgingD1To30 => "aging.d1_30": Number,
    AgingD31To60 => "aging.d31_60": Number,
    AgingD61To90 => "aging.d61_90": Number,
    AgingD91Plus => "aging.d91_plus": Number,
    MaxDaysPastDue => "max_days_past_due": Number,
    OpenInvoiceCount => "open_invoice_count": Number,
    OverdueInvoiceCount => "overdue_invoice_count": Number,
    CreditUtilization => "credit_utilization": Number,
    AvailableCredit => "available_credit": Number,
    PaidCount => "paid_count": Number,
    AvgDaysToPay => "avg_days_to_pay": Number,
    AvgDaysLate => "avg_days_late": Number,
    OnTimeRate => "on_time_rate": Number,
    PaymentConsistency => "payment_consistency": Number,
    PaymentTrend => "payment_trend": Number,
    OrdersRecent => "orders_recent": Number,
    OrdersPrior => "orders_prior": Number,
    OrdersPerMonth => "orders_per_month": Number,
    OrderFrequencyTrend => "order_frequency_trend": Number,
    OrdersSamePeriodLastYear => "orders_same_period_last_year": Number,
    SeasonalOrderTrend => "seasonal_order_trend": Number,
    AvgOrderValue => "avg_order_value": Number,
    OrderValueTrend => "order_value_trend": Number,
    EffectiveCreditHold => "effective_credit_hold": Bool,
    RiskScore => "risk_score": Number,
    CreditLimit => "credit_limit": Number,
    TermsDays => "terms_days": Number,
    Currency => "currency": Text,
    OrdersDeclining => "orders_declining": Bool,
}

impl Var {
    /// Finds a variable by the name a rule uses.
    pub(crate) fn lookup(name: &str) -> Option<Var> {
        Var::ALL.iter().copied().find(|var| var.name() == name)
    }

    /// The variables a helper is derived from, so explanations show them too.
    pub(crate) fn inputs(self) -> &'static [Var] {
        match self {
            Var::OrdersDeclining => &[Var::OrdersPrior, Var::OrdersRecent, Var::SeasonalOrderTrend],
            _ => &[],
        }
    }
}

/// Returns the name of every variable rules may read, in catalogue order.
pub fn variable_names() -> impl Iterator<Item = &'static str> {
    Var::ALL.iter().map(|var| var.name())
}

/// Everything a rule can read about one customer.
#[derive(Clone, Copy)]
pub(crate) struct Facts<'a> {
    pub(crate) metrics: &'a Metrics,
    pub(crate) customer: &'a Customer,
}

impl<'a> Facts<'a> {
    /// The value of a number variable, `None` when undefined.
    pub(crate) fn number(&self, var: Var) -> Option<f64> {
        let m = self.metrics;
        let value = match var {
            Var::OpenBalance => money_to_f64(m.open_balance),
            Var::OverdueBalance => money_to_f64(m.overdue_balance),
            Var::AgingCurrent => money_to_f64(m.aging.current),
            Var::AgingD1To30 => money_to_f64(m.aging.d1_30),
            Var::AgingD31To60 => money_to_f64(m.aging.d31_60),
            Var::AgingD61To90 => money_to_f64(m.aging.d61_90),
            Var::AgingD91Plus => money_to_f64(m.aging.d91_plus),
            Var::MaxDaysPastDue => m.max_days_past_due as f64,
            Var::OpenInvoiceCount => f64::from(m.open_invoice_count),
            Var::OverdueInvoiceCount => f64::from(m.overdue_invoice_count),
            Var::CreditUtilization => return m.credit_utilization,
            Var::AvailableCredit => return m.available_credit.map(money_to_f64),
            Var::PaidCount => f64::from(m.paid_count),
            Var::AvgDaysToPay => return m.avg_days_to_pay,
            Var::AvgDaysLate => return m.avg_days_late,
            Var::OnTimeRate => return m.on_time_rate,
            Var::PaymentConsistency => return m.payment_consistency,
            Var::PaymentTrend => return m.payment_trend,
            Var::OrdersRecent => f64::from(m.orders_recent),
            Var::OrdersPrior => f64::from(m.orders_prior),
            Var::OrdersPerMonth => m.orders_per_month,
            Var::OrderFrequencyTrend => return m.order_frequency_trend,
            Var::OrdersSamePeriodLastYear => f64::from(m.orders_same_period_last_year),
            Var::SeasonalOrderTrend => return m.seasonal_order_trend,
            Var::AvgOrderValue => return m.avg_order_value,
            Var::OrderValueTrend => return m.order_value_trend,
            Var::RiskScore => f64::from(m.risk_score),
            Var::CreditLimit => return self.customer.credit_limit.map(money_to_f64),
            Var::TermsDays => return self.terms_days().map(|days| days as f64),
            Var::EffectiveCreditHold | Var::OrdersDeclining | Var::Currency => return None,
        };
        Some(value)
    }

    /// The value of a flag variable.
    pub(crate) fn flag(&self, var: Var) -> bool {
        match var {
            Var::EffectiveCreditHold => self.metrics.effective_credit_hold,
            Var::OrdersDeclining => orders_declining(self.metrics),
            _ => false,
        }
    }

    /// The value of a text variable, `None` when undefined.
    pub(crate) fn text(&self, var: Var) -> Option<&'a str> {
        match var {
            Var::Currency => self.customer.currency.as_deref(),
            _ => None,
        }
    }

    fn terms_days(&self) -> Option<i64> {
        self.customer.terms.as_ref()?.days_until_net_due
    }

    /// The value as shown in explanations: money as two-place text, counts as integers.
    pub(crate) fn metric_value(&self, var: Var) -> MetricValue {
        let m = self.metrics;
        let money = |money: Money| MetricValue::Text(money.to_cents().to_string());
        let count = |count: u32| MetricValue::Integer(i64::from(count));
        let number = |value: Option<f64>| value.map_or(MetricValue::Null, MetricValue::Number);
        match var {
            Var::OpenBalance => money(m.open_balance),
            Var::OverdueBalance => money(m.overdue_balance),
            Var::AgingCurrent => money(m.aging.current),
            Var::AgingD1To30 => money(m.aging.d1_30),
            Var::AgingD31To60 => money(m.aging.d31_60),
            Var::AgingD61To90 => money(m.aging.d61_90),
            Var::AgingD91Plus => money(m.aging.d91_plus),
            Var::MaxDaysPastDue => MetricValue::Integer(m.max_days_past_due),
            Var::OpenInvoiceCount => count(m.open_invoice_count),
            Var::OverdueInvoiceCount => count(m.overdue_invoice_count),
            Var::CreditUtilization => number(m.credit_utilization),
            Var::AvailableCredit => m.available_credit.map_or(MetricValue::Null, money),
            Var::PaidCount => count(m.paid_count),
            Var::AvgDaysToPay => number(m.avg_days_to_pay),
            Var::AvgDaysLate => number(m.avg_days_late),
            Var::OnTimeRate => number(m.on_time_rate),
            Var::PaymentConsistency => number(m.payment_consistency),
            Var::PaymentTrend => number(m.payment_trend),
            Var::OrdersRecent => count(m.orders_recent),
            Var::OrdersPrior => count(m.orders_prior),
            Var::OrdersPerMonth => MetricValue::Number(m.orders_per_month),
            Var::OrderFrequencyTrend => number(m.order_frequency_trend),
            Var::OrdersSamePeriodLastYear => count(m.orders_same_period_last_year),
            Var::SeasonalOrderTrend => number(m.seasonal_order_trend),
            Var::AvgOrderValue => number(m.avg_order_value),
            Var::OrderValueTrend => number(m.order_value_trend),
            Var::EffectiveCreditHold | Var::OrdersDeclining => MetricValue::Bool(self.flag(var)),
            Var::RiskScore => MetricValue::Integer(i64::from(m.risk_score)),
            Var::CreditLimit => self.customer.credit_limit.map_or(MetricValue::Null, money),
            Var::TermsDays => self.terms_days().map_or(MetricValue::Null, MetricValue::Integer),
            Var::Currency => self
                .text(var)
                .map_or(MetricValue::Null, |text| MetricValue::Text(text.to_owned())),
        }
    }
}

/// The spec's "orders declining": at least two prior orders, recent orders below half
/// of them, and the drop not seasonal (no seasonal trend, or one below 0.8).
pub fn orders_declining(metrics: &Metrics) -> bool {
    let not_seasonal = metrics.seasonal_order_trend.is_none_or(|trend| trend < 0.8);
    // `recent < 0.5 * prior` in integers.
    metrics.orders_prior >= 2 && 2 * u64::from(metrics.orders_recent) < u64::from(metrics.orders_prior) && not_seasonal
}

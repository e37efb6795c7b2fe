//! Scores for tests and examples of this crate and its callers.

use ledgerlink_domain::CustomerScore;
use serde_json::json;

/// A plausible score of customer `id` with `email`, a credit limit (none when `None`),
/// an on-time rate and an account standing; the rest is fixed.
pub fn sample_score(
    id: &str,
    email: Option<&str>,
    credit_limit: Option<&str>,
    on_time_rate: Option<f64>,
    standing: &str,
) -> CustomerScore {
    let explanation = json!({"segment": standing, "rule": "true", "metrics": {}});
    let value = json!({
        "customer_id": id,
        "as_of": "2026-11-23",
        "open_balance": "12500.50",
        "overdue_balance": "2500.25",
        "aging": {"current": "10000.25", "d1_30": "0.00", "d31_60": "2500.25", "d61_90": "0.00", "d91_plus": "0.00"},
        "max_days_past_due": 41,
        "open_invoice_count": 3,
        "overdue_invoice_count": 1,
        "credit_utilization": credit_limit.map(|_| 0.41667),
        "available_credit": credit_limit.map(|_| "17499.50"),
        "paid_count": 12,
        "avg_days_to_pay": on_time_rate.map(|_| 33.333),
        "avg_days_late": on_time_rate.map(|_| 3.0),
        "on_time_rate": on_time_rate,
        "payment_consistency": null,
        "payment_trend": null,
        "orders_recent": 4,
        "orders_prior": 3,
        "orders_per_month": 1.2,
        "order_frequency_trend": null,
        "orders_same_period_last_year": 2,
        "seasonal_order_trend": null,
        "avg_order_value": 1500.0,
        "order_value_trend": null,
        "effective_credit_hold": standing == "credit_hold",
        "risk_score": 37,
        "account_standing": standing,
        "behavior_segment": "reliable_frequent",
        "loyalty_tier": "gold",
        "newly_aged_invoice_ids": [],
        "customer": {
            "id": id,
            "email": email,
            "terms": {"id": "2", "name": "Net 30", "days_until_net_due": 30},
            "credit_limit": credit_limit,
            "credit_hold": "AUTO",
        },
        "explain": {"account_standing": explanation, "behavior_segment": explanation, "loyalty_tier": explanation},
    });
    serde_json::from_value(value).expect("the sample score is valid")
}

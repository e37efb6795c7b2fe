//! Every default rule hit and missed, null semantics, and explanations.

mod support;

use ledgerlink_domain::{Aging, MetricValue, Money};
use ledgerlink_scoring_engine::{Engine, Metrics, Rules, ScoringParams};
use support::*;

/// A quiet customer: limit 50,000.00, 40 % used, nothing late, no history.
fn baseline() -> Metrics {
    Metrics {
        open_balance: money("20000.00"),
        overdue_balance: Money::ZERO,
        aging: Aging::default(),
        max_days_past_due: 0,
        open_invoice_count: 1,
        overdue_invoice_count: 0,
        credit_utilization: Some(0.4),
        available_credit: Some(money("30000.00")),
        paid_count: 0,
        avg_days_to_pay: None,
        avg_days_late: None,
        on_time_rate: None,
        payment_consistency: None,
        payment_trend: None,
        orders_recent: 0,
        orders_prior: 0,
        orders_per_month: 0.0,
        order_frequency_trend: None,
        orders_same_period_last_year: 0,
        seasonal_order_trend: None,
        avg_order_value: None,
        order_value_trend: None,
        effective_credit_hold: false,
        risk_score: 10,
    }
}

/// Segments of (standing, behavior, loyalty) for the baseline changed by `change`,
/// with the customer's credit limit set to `limit`.
fn segments_with(limit: Option<&str>, change: impl FnOnce(&mut Metrics)) -> (String, String, String) {
    let engine = Engine::default();
    let mut s = snapshot(vec![], vec![]);
    s.customer.credit_limit = limit.map(money);
    let mut metrics = baseline();
    change(&mut metrics);
    let segments = engine.segments(&s, &metrics);
    (
        segments.account_standing.to_owned(),
        segments.behavior_segment.to_owned(),
        segments.loyalty_tier.to_owned(),
    )
}

fn standing(change: impl FnOnce(&mut Metrics)) -> String {
    segments_with(Some("50000.00"), change).0
}

fn behavior(change: impl FnOnce(&mut Metrics)) -> String {
    segments_with(Some("50000.00"), change).1
}

fn loyalty(limit: Option<&str>, change: impl FnOnce(&mut Metrics)) -> String {
    segments_with(limit, change).2
}

#[test]
fn baseline_lands_in_the_fallbacks() {
    let (standing, behavior, loyalty) = segments_with(Some("50000.00"), |_| {});
    assert_eq!(
        (standing.as_str(), behavior.as_str(), loyalty.as_str()),
        ("standard", "unclassified", "gold")
    );
}

#[test]
fn standing_credit_hold() {
    assert_eq!(standing(|m| m.effective_credit_hold = true), "credit_hold");
    // Hold beats a watch signal.
    assert_eq!(
        standing(|m| {
            m.effective_credit_hold = true;
            m.max_days_past_due = 100;
        }),
        "credit_hold"
    );
}

#[test]
fn standing_payment_watch_hits_and_misses() {
    assert_eq!(standing(|m| m.max_days_past_due = 31), "payment_watch");
    assert_eq!(standing(|m| m.max_days_past_due = 30), "standard");
    assert_eq!(standing(|m| m.credit_utilization = Some(0.91)), "payment_watch");
    assert_eq!(standing(|m| m.credit_utilization = Some(0.9)), "standard");
    let poor_payer = |paid_count, rate| {
        move |m: &mut Metrics| {
            m.paid_count = paid_count;
            m.on_time_rate = Some(rate);
        }
    };
    assert_eq!(standing(poor_payer(3, 0.69)), "payment_watch");
    assert_eq!(standing(poor_payer(2, 0.0)), "standard");
    assert_eq!(standing(poor_payer(3, 0.7)), "standard");
}

#[test]
fn standing_high_credit_vip_hits_and_misses() {
    let vip = |m: &mut Metrics| {
        m.paid_count = 3;
        m.on_time_rate = Some(0.9);
    };
    assert_eq!(segments_with(Some("50000.00"), vip).0, "high_credit_vip");
    assert_eq!(segments_with(Some("49999.99"), vip).0, "standard");
    assert_eq!(segments_with(None, vip).0, "standard");
    assert_eq!(
        standing(|m| {
            vip(m);
            m.max_days_past_due = 1;
        }),
        "standard"
    );
    assert_eq!(
        standing(|m| {
            vip(m);
            m.paid_count = 2;
        }),
        "standard"
    );
    assert_eq!(
        standing(|m| {
            vip(m);
            m.on_time_rate = Some(0.89);
        }),
        "standard"
    );
}

fn declining(m: &mut Metrics) {
    m.orders_prior = 4;
    m.orders_recent = 1;
}

#[test]
fn behavior_at_risk_hits_and_misses() {
    assert_eq!(
        behavior(|m| {
            declining(m);
            m.payment_trend = Some(5.01);
        }),
        "at_risk"
    );
    assert_eq!(
        behavior(|m| {
            declining(m);
            m.max_days_past_due = 31;
        }),
        "at_risk"
    );
    assert_eq!(
        behavior(|m| {
            declining(m);
            m.payment_trend = Some(5.0);
        }),
        "unclassified"
    );
    // Not declining: recent exactly half of prior.
    assert_eq!(
        behavior(|m| {
            m.orders_prior = 4;
            m.orders_recent = 2;
            m.payment_trend = Some(9.0);
        }),
        "unclassified"
    );
    // Not declining: a single prior order.
    assert_eq!(
        behavior(|m| {
            m.orders_prior = 1;
            m.payment_trend = Some(9.0);
        }),
        "unclassified"
    );
}

#[test]
fn seasonal_drop_is_not_decline() {
    let with_season = |trend: Option<f64>| {
        behavior(move |m| {
            declining(m);
            m.payment_trend = Some(9.0);
            m.seasonal_order_trend = trend;
        })
    };
    assert_eq!(with_season(None), "at_risk");
    assert_eq!(with_season(Some(0.79)), "at_risk");
    assert_eq!(with_season(Some(0.8)), "unclassified");
    assert_eq!(with_season(Some(1.5)), "unclassified");
}

#[test]
fn behavior_declining_engagement_hits_and_misses() {
    assert_eq!(
        behavior(|m| {
            declining(m);
            m.avg_days_late = Some(0.5);
        }),
        "declining_engagement"
    );
    assert_eq!(
        behavior(|m| {
            declining(m);
            m.max_days_past_due = 1;
        }),
        "declining_engagement"
    );
    assert_eq!(
        behavior(|m| {
            declining(m);
            m.avg_days_late = Some(0.0);
        }),
        "unclassified"
    );
}

#[test]
fn behavior_high_value_slow_pay_hits_and_misses() {
    let slow_big = |value: f64, late: Option<f64>| {
        behavior(move |m| {
            m.avg_order_value = Some(value);
            m.avg_days_late = late;
        })
    };
    assert_eq!(slow_big(10000.0, Some(10.5)), "high_value_slow_pay");
    assert_eq!(slow_big(9999.99, Some(10.5)), "unclassified");
    assert_eq!(slow_big(10000.0, Some(10.0)), "unclassified");
    assert_eq!(slow_big(10000.0, None), "unclassified");
}

#[test]
fn behavior_reliable_frequent_hits_and_misses() {
    let reliable = |per_month: f64, rate: Option<f64>, consistency: Option<f64>| {
        behavior(move |m| {
            m.orders_per_month = per_month;
            m.on_time_rate = rate;
            m.payment_consistency = consistency;
        })
    };
    assert_eq!(reliable(2.0, Some(0.9), Some(5.0)), "reliable_frequent");
    assert_eq!(reliable(1.99, Some(0.9), Some(5.0)), "unclassified");
    assert_eq!(reliable(2.0, Some(0.89), Some(5.0)), "unclassified");
    assert_eq!(reliable(2.0, Some(0.9), Some(5.01)), "unclassified");
    // A comparison with a null metric is false.
    assert_eq!(reliable(2.0, None, Some(1.0)), "unclassified");
    assert_eq!(reliable(2.0, Some(1.0), None), "unclassified");
}

#[test]
fn loyalty_tiers_hit_and_miss() {
    let with = |limit: Option<&str>, utilization: Option<f64>, late: Option<f64>| {
        loyalty(limit, move |m| {
            m.credit_utilization = utilization;
            m.avg_days_late = late;
        })
    };
    assert_eq!(with(None, None, None), "none");
    assert_eq!(with(Some("0"), None, None), "none");
    assert_eq!(with(Some("0.00"), None, Some(-3.0)), "none");
    assert_eq!(with(Some("1000"), Some(0.29), None), "platinum");
    assert_eq!(with(Some("1000"), Some(0.29), Some(0.0)), "platinum");
    assert_eq!(with(Some("1000"), Some(0.29), Some(-1.0)), "platinum");
    assert_eq!(with(Some("1000"), Some(0.29), Some(0.1)), "gold");
    assert_eq!(with(Some("1000"), Some(0.30), None), "gold");
    assert_eq!(with(Some("1000"), Some(0.71), None), "standard");
    assert_eq!(with(Some("1000"), Some(0.70), None), "gold");
}

/// Rules whose standing is `hit` when `condition` holds and `miss` otherwise.
fn probe(condition: &str) -> Rules {
    let quoted = condition.replace('"', "\\\"");
    let text = format!(
        "[[account_standing]]\nsegment = \"hit\"\nwhen = \"{quoted}\"\n\
         [[account_standing]]\nsegment = \"miss\"\nwhen = true\n\
         [[behavior_segment]]\nsegment = \"b\"\nwhen = true\n\
         [[loyalty_tier]]\nsegment = \"l\"\nwhen = true\n"
    );
    Rules::from_toml_str(&text).unwrap_or_else(|error| panic!("{condition}: {error}"))
}

fn holds(condition: &str, metrics: &Metrics, limit: Option<&str>) -> bool {
    let engine = Engine::new(probe(condition), ScoringParams::default());
    let mut s = snapshot(vec![], vec![]);
    s.customer.credit_limit = limit.map(money);
    engine.segments(&s, metrics).account_standing == "hit"
}

#[test]
fn comparisons_with_null_are_false_and_logic_is_two_valued() {
    let m = baseline(); // avg_days_late, payment_trend, on_time_rate are null
    let table = [
        ("avg_days_late > 0", false),
        ("avg_days_late <= 0", false),
        ("avg_days_late == 0", false),
        ("avg_days_late != 0", false),
        ("avg_days_late == avg_days_late", false),
        ("!(avg_days_late > 0)", true),
        ("avg_days_late > 0 || true", true),
        ("avg_days_late > 0 && true", false),
        ("avg_days_late == null", true),
        ("avg_days_late != null", false),
        ("null == avg_days_late", true),
        ("open_balance != null", true),
        ("avg_days_late + 1 > 0", false),
        ("(avg_days_late == null ? 0 : avg_days_late) == 0", true),
        ("credit_limit - open_balance > 0", false),
        ("open_balance / 0 > 1", false),
        ("open_balance / 0 == null", true),
        ("currency == 'USD'", true),
        ("currency in ['EUR', 'USD']", true),
        ("terms_days == 30", true),
        ("aging.d91_plus == 0", true),
        ("orders_declining == false", true),
        ("-open_balance < 0", true),
        ("open_balance * 2 == 40000", true),
        ("risk_score < 11 && risk_score >= 10", true),
    ];
    for (condition, expected) in table {
        assert_eq!(holds(condition, &m, None), expected, "{condition}");
    }
    // With a limit, credit_limit arithmetic is defined.
    assert!(holds("credit_limit - open_balance == 30000", &m, Some("50000.00")));
}

#[test]
fn missing_currency_compares_false() {
    let engine = Engine::new(probe("currency != 'USD'"), ScoringParams::default());
    let mut s = snapshot(vec![], vec![]);
    s.customer.currency = None;
    assert_eq!(engine.segments(&s, &baseline()).account_standing, "miss");
    let engine = Engine::new(probe("currency == null"), ScoringParams::default());
    assert_eq!(engine.segments(&s, &baseline()).account_standing, "hit");
}

#[test]
fn explanation_shows_the_rule_and_the_metrics_read_up_to_the_match() {
    let engine = Engine::default();
    // One invoice 40 days past due: payment_watch, the second standing rule.
    let s = snapshot(vec![open("1", day(-40), "100.00")], vec![]);
    let score = engine.score(&s, as_of(), None);
    let standing = &score.explain.account_standing;
    assert_eq!(standing.segment, "payment_watch");
    assert_eq!(score.account_standing, "payment_watch");
    assert_eq!(
        standing.rule,
        "max_days_past_due > 30 || credit_utilization > 0.9 || (paid_count >= 3 && on_time_rate < 0.7)"
    );
    let names: Vec<&str> = standing.metrics.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "credit_utilization",
            "effective_credit_hold",
            "max_days_past_due",
            "on_time_rate",
            "paid_count"
        ]
    );
    assert_eq!(standing.metrics["max_days_past_due"], MetricValue::Integer(40));
    assert_eq!(standing.metrics["on_time_rate"], MetricValue::Null);
    assert_eq!(standing.metrics["effective_credit_hold"], MetricValue::Bool(false));
    assert_eq!(standing.metrics["credit_utilization"], MetricValue::Number(0.002));

    // The fallback shows every metric its dimension read, helpers with their inputs.
    let behavior = &score.explain.behavior_segment;
    assert_eq!(
        (behavior.segment.as_str(), behavior.rule.as_str()),
        ("unclassified", "true")
    );
    for name in [
        "orders_declining",
        "orders_prior",
        "orders_recent",
        "seasonal_order_trend",
        "payment_trend",
    ] {
        assert!(behavior.metrics.contains_key(name), "{name} missing");
    }
    let loyalty = &score.explain.loyalty_tier;
    assert_eq!(loyalty.segment, "platinum");
    assert_eq!(loyalty.metrics["credit_limit"], MetricValue::Text("50000.00".into()));
    assert!(!loyalty.metrics.contains_key("open_balance"));
}

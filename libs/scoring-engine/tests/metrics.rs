//! Boundary tables for §2 and §3.

mod support;

use ledgerlink_domain::{CreditHold, Invoice, InvoiceStatus, Money};
use ledgerlink_scoring_engine::{
    AgingBucket, Metrics, ScoringParams, aging_bucket, compute_metrics, days_late, days_past_due, days_to_pay,
    risk_score,
};
use support::*;

fn metrics_of(snapshot: &ledgerlink_domain::CustomerSnapshot) -> Metrics {
    compute_metrics(snapshot, as_of(), &ScoringParams::default())
}

fn close(actual: Option<f64>, expected: f64) -> bool {
    actual.is_some_and(|actual| (actual - expected).abs() < 1e-9)
}

#[test]
fn days_past_due_lands_in_the_right_bucket() {
    let table = [
        (0, AgingBucket::Current),
        (1, AgingBucket::D1To30),
        (30, AgingBucket::D1To30),
        (31, AgingBucket::D31To60),
        (60, AgingBucket::D31To60),
        (61, AgingBucket::D61To90),
        (90, AgingBucket::D61To90),
        (91, AgingBucket::D91Plus),
        (400, AgingBucket::D91Plus),
    ];
    for (dpd, bucket) in table {
        let invoice = open("1", day(-dpd), "10.00");
        assert_eq!(days_past_due(&invoice, None, as_of()), dpd, "dpd {dpd}");
        assert_eq!(aging_bucket(&invoice, None, as_of()), Some(bucket), "dpd {dpd}");

        let m = metrics_of(&snapshot(vec![invoice], vec![]));
        let expected_in_bucket = |b: AgingBucket| if b == bucket { money("10.00") } else { Money::ZERO };
        assert_eq!(m.aging.current, expected_in_bucket(AgingBucket::Current), "dpd {dpd}");
        assert_eq!(m.aging.d1_30, expected_in_bucket(AgingBucket::D1To30), "dpd {dpd}");
        assert_eq!(m.aging.d31_60, expected_in_bucket(AgingBucket::D31To60), "dpd {dpd}");
        assert_eq!(m.aging.d61_90, expected_in_bucket(AgingBucket::D61To90), "dpd {dpd}");
        assert_eq!(m.aging.d91_plus, expected_in_bucket(AgingBucket::D91Plus), "dpd {dpd}");
        assert_eq!(m.max_days_past_due, dpd);
        assert_eq!(m.overdue_invoice_count, u32::from(dpd > 0));
        assert_eq!(m.overdue_balance, if dpd > 0 { money("10.00") } else { Money::ZERO });
    }
}

#[test]
fn due_today_is_current_and_due_tomorrow_too() {
    for due in [day(0), day(1)] {
        let m = metrics_of(&snapshot(vec![open("1", due, "5.00")], vec![]));
        assert_eq!(m.aging.current, money("5.00"));
        assert_eq!(m.max_days_past_due, 0);
        assert_eq!(m.overdue_balance, Money::ZERO);
        assert_eq!(m.open_invoice_count, 1);
    }
}

#[test]
fn null_due_date_follows_terms_or_tran_date() {
    let mut invoice = open("1", day(0), "5.00");
    invoice.due_date = None;
    invoice.tran_date = day(-40);
    // Net 30: due ten days ago.
    assert_eq!(days_past_due(&invoice, Some(&net(30)), as_of()), 10);
    // No terms: due on the transaction date.
    assert_eq!(days_past_due(&invoice, None, as_of()), 40);
    // Terms without a day count behave like no terms.
    let mut no_days = net(30);
    no_days.days_until_net_due = None;
    assert_eq!(days_past_due(&invoice, Some(&no_days), as_of()), 40);

    let mut with_terms = snapshot(vec![invoice], vec![]);
    assert_eq!(metrics_of(&with_terms).max_days_past_due, 10);
    with_terms.customer.terms = None;
    assert_eq!(metrics_of(&with_terms).max_days_past_due, 40);
}

#[test]
fn paid_late_figures_use_the_effective_due_date() {
    let mut invoice = paid("1", day(-20), day(-15), "10.00");
    assert_eq!(days_to_pay(&invoice), Some(35));
    assert_eq!(days_late(&invoice, None), Some(5));
    invoice.due_date = None;
    assert_eq!(days_late(&invoice, Some(&net(45))), Some(-10));
    assert_eq!(days_late(&open("2", day(0), "1.00"), None), None);
}

#[test]
fn only_open_invoices_with_money_remaining_age() {
    let mut settled = open("1", day(-50), "0.00");
    settled.total = money("10.00");
    let mut voided = open("2", day(-50), "7.00");
    voided.status = InvoiceStatus::Voided;
    let m = metrics_of(&snapshot(vec![settled.clone(), voided.clone()], vec![]));
    assert_eq!(m.open_balance, Money::ZERO);
    assert_eq!(m.open_invoice_count, 0);
    assert_eq!(m.max_days_past_due, 0);
    assert_eq!(days_past_due(&settled, None, as_of()), 0);
    assert_eq!(aging_bucket(&voided, None, as_of()), None);
}

#[test]
fn lookback_window_excludes_its_start_and_includes_today() {
    // (paid_date offset, counted)
    let table = [(-365, false), (-364, true), (-1, true), (0, true), (1, false)];
    for (offset, counted) in table {
        let m = metrics_of(&snapshot(vec![paid_late("1", day(offset), 3)], vec![]));
        assert_eq!(m.paid_count, u32::from(counted), "paid at D{offset:+}");
        assert_eq!(m.avg_days_late.is_some(), counted, "paid at D{offset:+}");
        assert_eq!(m.on_time_rate.is_some(), counted, "paid at D{offset:+}");
    }
}

#[test]
fn payment_trend_splits_at_the_recent_window() {
    // Paid at D-90 belongs to the earlier side, D-89 to the recent side.
    let m = metrics_of(&snapshot(
        vec![paid_late("a", day(-90), 2), paid_late("b", day(-89), 10)],
        vec![],
    ));
    assert!(close(m.payment_trend, 8.0), "{:?}", m.payment_trend);

    let only_recent = metrics_of(&snapshot(vec![paid_late("b", day(-89), 10)], vec![]));
    assert_eq!(only_recent.payment_trend, None);
    let only_prior = metrics_of(&snapshot(vec![paid_late("a", day(-90), 2)], vec![]));
    assert_eq!(only_prior.payment_trend, None);
    // The earlier side stops at the lookback start.
    let too_old = metrics_of(&snapshot(
        vec![paid_late("a", day(-365), 2), paid_late("b", day(-10), 10)],
        vec![],
    ));
    assert_eq!(too_old.payment_trend, None);
}

#[test]
fn payment_means_rates_and_consistency() {
    // days late: -2, 0, 4, 10 → mean 3, on time 2/4, population sd sqrt(((−5)²+(−3)²+1²+7²)/4) = sqrt(21).
    let invoices = vec![
        paid_late("a", day(-10), -2),
        paid_late("b", day(-20), 0),
        paid_late("c", day(-100), 4),
        paid_late("d", day(-200), 10),
    ];
    let m = metrics_of(&snapshot(invoices, vec![]));
    assert_eq!(m.paid_count, 4);
    assert!(close(m.avg_days_late, 3.0));
    assert!(close(m.avg_days_to_pay, 33.0));
    assert!(close(m.on_time_rate, 0.5));
    assert!(close(m.payment_consistency, 21f64.sqrt()));
    // recent: -2, 0 → -1; earlier: 4, 10 → 7.
    assert!(close(m.payment_trend, -8.0));
}

#[test]
fn consistency_needs_two_paid_invoices() {
    let none = metrics_of(&snapshot(vec![], vec![]));
    assert_eq!((none.paid_count, none.payment_consistency), (0, None));
    assert_eq!(
        (none.avg_days_late, none.on_time_rate, none.avg_days_to_pay),
        (None, None, None)
    );
    let one = metrics_of(&snapshot(vec![paid_late("a", day(-5), 3)], vec![]));
    assert_eq!(one.payment_consistency, None);
    let two = metrics_of(&snapshot(
        vec![paid_late("a", day(-5), 2), paid_late("b", day(-6), 6)],
        vec![],
    ));
    assert!(close(two.payment_consistency, 2.0));
}

#[test]
fn order_windows_have_exclusive_starts() {
    // (order date offset, recent, prior, in lookback, same period last year)
    let table = [
        (0, true, false, true, false),
        (-89, true, false, true, false),
        (-90, false, true, true, false),
        (-179, false, true, true, false),
        (-180, false, false, true, false),
        (-364, false, false, true, false),
        (-365, false, false, false, true),
        (-454, false, false, false, true),
        (-455, false, false, false, false),
        (1, false, false, false, false),
    ];
    for (offset, recent, prior, lookback, last_year) in table {
        let m = metrics_of(&snapshot(vec![], vec![order("1", day(offset), "100.00")]));
        assert_eq!(m.orders_recent, u32::from(recent), "D{offset:+}");
        assert_eq!(m.orders_prior, u32::from(prior), "D{offset:+}");
        assert_eq!(m.orders_per_month > 0.0, lookback, "D{offset:+}");
        assert_eq!(m.avg_order_value.is_some(), lookback, "D{offset:+}");
        assert_eq!(m.orders_same_period_last_year, u32::from(last_year), "D{offset:+}");
    }
}

#[test]
fn order_ratios_and_means() {
    let mut orders = vec![
        order("r1", day(-1), "300.00"),
        order("r2", day(-2), "100.00"),
        order("p1", day(-100), "50.00"),
        order("p2", day(-120), "150.00"),
        order("p3", day(-150), "100.00"),
        order("y1", day(-400), "999.00"),
    ];
    let mut cancelled = order("x", day(-3), "1000000.00");
    cancelled.status = "cancelled".into();
    let mut unbilled = order("y", day(-4), "1000000.00");
    unbilled.status = "closed_unbilled".into();
    orders.push(cancelled);
    orders.push(unbilled);
    let m = metrics_of(&snapshot(vec![], orders));
    assert_eq!(
        (m.orders_recent, m.orders_prior, m.orders_same_period_last_year),
        (2, 3, 1)
    );
    assert!(close(m.order_frequency_trend, 2.0 / 3.0));
    assert!(close(m.seasonal_order_trend, 2.0));
    assert!((m.orders_per_month - 5.0 * 30.0 / 365.0).abs() < 1e-12);
    assert!(close(m.avg_order_value, 140.0));
    // recent mean 200, prior mean 100.
    assert!(close(m.order_value_trend, 2.0));
}

#[test]
fn order_ratios_are_null_without_a_base() {
    let m = metrics_of(&snapshot(vec![], vec![order("r", day(-1), "10.00")]));
    assert_eq!(m.order_frequency_trend, None);
    assert_eq!(m.seasonal_order_trend, None);
    assert_eq!(m.order_value_trend, None);
    let empty = metrics_of(&snapshot(vec![], vec![]));
    assert_eq!((empty.orders_per_month, empty.avg_order_value), (0.0, None));
}

#[test]
fn credit_limit_zero_and_missing() {
    let invoices = vec![open("1", day(5), "400.00")];
    let mut s = snapshot(invoices, vec![]);
    s.customer.credit_limit = Some(money("1000.00"));
    let m = metrics_of(&s);
    assert!(close(m.credit_utilization, 0.4));
    assert_eq!(m.available_credit, Some(money("600.00")));

    s.customer.credit_limit = Some(Money::ZERO);
    s.customer.credit_hold = CreditHold::Off;
    let m = metrics_of(&s);
    assert_eq!(m.credit_utilization, None);
    assert_eq!(m.available_credit, Some(money("-400.00")));

    s.customer.credit_limit = None;
    let m = metrics_of(&s);
    assert_eq!(m.credit_utilization, None);
    assert_eq!(m.available_credit, None);
}

#[test]
fn effective_credit_hold_table() {
    // (hold, limit, open balance, expected)
    let table = [
        (CreditHold::Auto, Some("1000.00"), "1000.01", true),
        (CreditHold::Auto, Some("1000.00"), "1000.00", false),
        (CreditHold::Auto, Some("1000.00"), "999.99", false),
        (CreditHold::Auto, None, "999999.00", false),
        (CreditHold::Auto, Some("0"), "0.01", true),
        (CreditHold::On, None, "0.00", true),
        (CreditHold::On, Some("1000.00"), "1.00", true),
        (CreditHold::Off, Some("1000.00"), "5000.00", false),
    ];
    for (hold, limit, balance, expected) in table {
        let mut s = snapshot(vec![open("1", day(10), balance)], vec![]);
        s.customer.credit_hold = hold;
        s.customer.credit_limit = limit.map(money);
        let m = metrics_of(&s);
        assert_eq!(m.effective_credit_hold, expected, "{hold:?} {limit:?} {balance}");
        if expected {
            assert_eq!(m.risk_score, 100);
        }
    }
}

#[test]
fn risk_score_examples_by_hand() {
    // Nothing known: 0.
    assert_eq!(risk_score(false, None, 0, None, None), 0);
    // u = 0.75 → 20; dpd 45 → 15; r = 0.5 → 10; c = 6 → 2: 47.
    assert_eq!(risk_score(false, Some(0.75), 45, Some(0.5), Some(6.0)), 47);
    // Everything capped: u 3 → 40, dpd 200 → 30, r 0 → 20, c 90 → 10: 100.
    assert_eq!(risk_score(false, Some(3.0), 200, Some(0.0), Some(90.0)), 100);
    // u = 0.3 → 8; dpd 3 → 1; r = 0.9 → 2; c = 1.5 → 0.5: 11.5 rounds away from zero to 12.
    assert_eq!(risk_score(false, Some(0.3), 3, Some(0.9), Some(1.5)), 12);
    // u = 0.1 → 2.667; dpd 1 → 0.333; r 1 → 0; c 0: 3.0.
    assert_eq!(risk_score(false, Some(0.1), 1, Some(1.0), Some(0.0)), 3);
    // 40*0.15/1.5 = 4, 30*5/90 = 1.667 → 5.667 → 6.
    assert_eq!(risk_score(false, Some(0.15), 5, None, None), 6);
    // Hold wins over everything.
    assert_eq!(risk_score(true, None, 0, None, None), 100);
}

#[test]
fn risk_score_from_a_whole_snapshot() {
    // Limit 1000, open 600 (u = 0.6 → 16), one invoice 40 days past due (→ 13.333),
    // two paid: late 0 and 10 (r = 0.5 → 10, c = 5 → 1.667): 41.
    let mut s = snapshot(
        vec![
            open("o", day(-40), "600.00"),
            paid_late("a", day(-3), 0),
            paid_late("b", day(-4), 10),
        ],
        vec![],
    );
    s.customer.credit_limit = Some(money("1000.00"));
    let m = metrics_of(&s);
    assert!(close(m.credit_utilization, 0.6));
    assert!(close(m.payment_consistency, 5.0));
    assert_eq!(m.risk_score, 41);
}

#[test]
fn windows_follow_the_parameters() {
    let params = ScoringParams::new(100, 10).unwrap();
    let s = snapshot(
        vec![paid_late("a", day(-99), 1), paid_late("b", day(-100), 1)],
        vec![
            order("1", day(-9), "1.00"),
            order("2", day(-10), "1.00"),
            order("3", day(-20), "1.00"),
        ],
    );
    let m = compute_metrics(&s, as_of(), &params);
    assert_eq!(m.paid_count, 1);
    assert_eq!((m.orders_recent, m.orders_prior), (1, 1));
    assert!((m.orders_per_month - 0.9).abs() < 1e-12);
}

#[test]
fn invoice_amounts_are_summed_exactly() {
    let invoices: Vec<Invoice> = (0..10).map(|i| open(&i.to_string(), day(-5), "0.10")).collect();
    let m = metrics_of(&snapshot(invoices, vec![]));
    assert_eq!(m.open_balance, money("1.00"));
    assert_eq!(m.aging.d1_30, money("1.00"));
}

//! §5: newly aged invoices and segment migrations.

mod support;

use ledgerlink_domain::CustomerScore;
use ledgerlink_scoring_engine::{
    Dimension, Engine, PreviousSegments, SegmentMigration, is_toward_risk, newly_aged_invoice_ids, segment_migrations,
};
use support::*;

#[test]
fn crossing_thirty_days_since_yesterday_is_newly_aged() {
    // (days past due today, previous run offset, newly aged)
    let table = [
        (31, None, true),
        (30, None, false),
        (32, None, false),
        (40, Some(-10), true),
        (40, Some(-9), false),
        (31, Some(-1), true),
        (31, Some(0), false),
        (31, Some(3), false),
        (100, Some(-400), true),
    ];
    for (dpd, previous, expected) in table {
        let s = snapshot(vec![open("1", day(-dpd), "10.00")], vec![]);
        let ids = newly_aged_invoice_ids(&s, as_of(), previous.map(day));
        assert_eq!(!ids.is_empty(), expected, "dpd {dpd}, previous {previous:?}");
    }
}

#[test]
fn only_open_invoices_with_money_remaining_age() {
    let settled = open("z", day(-31), "0.00");
    let paid_one = paid("y", day(-31), day(0), "5.00");
    let s = snapshot(vec![settled, paid_one], vec![]);
    assert!(newly_aged_invoice_ids(&s, as_of(), None).is_empty());
}

#[test]
fn ids_come_back_sorted_and_in_the_score() {
    let s = snapshot(
        vec![
            open("b", day(-31), "1.00"),
            open("a", day(-31), "1.00"),
            open("c", day(-5), "1.00"),
            open("10", day(-31), "1.00"),
        ],
        vec![],
    );
    assert_eq!(newly_aged_invoice_ids(&s, as_of(), None), ["10", "a", "b"]);
    let score = Engine::default().score(&s, as_of(), None);
    assert_eq!(score.newly_aged_invoice_ids, ["10", "a", "b"]);
    let later = Engine::default().score(&s, day(1), Some(as_of()));
    assert!(later.newly_aged_invoice_ids.is_empty());
}

fn score_with(standing: &str, behavior: &str, loyalty: &str) -> CustomerScore {
    let mut score = Engine::default().score(&snapshot(vec![], vec![]), as_of(), None);
    score.account_standing = standing.into();
    score.behavior_segment = behavior.into();
    score.loyalty_tier = loyalty.into();
    score
}

fn previous(standing: &str, behavior: &str, loyalty: &str) -> PreviousSegments {
    PreviousSegments {
        as_of: day(-1),
        account_standing: standing.into(),
        behavior_segment: behavior.into(),
        loyalty_tier: loyalty.into(),
    }
}

#[test]
fn every_change_is_a_migration_with_both_values_and_dates() {
    let migrations = segment_migrations(
        &previous("standard", "reliable_frequent", "gold"),
        &score_with("payment_watch", "at_risk", "platinum"),
    );
    assert_eq!(
        migrations,
        [
            SegmentMigration {
                customer_id: "C1".into(),
                dimension: Dimension::AccountStanding,
                from: "standard".into(),
                to: "payment_watch".into(),
                from_date: day(-1),
                to_date: as_of(),
                toward_risk: true,
            },
            SegmentMigration {
                customer_id: "C1".into(),
                dimension: Dimension::BehaviorSegment,
                from: "reliable_frequent".into(),
                to: "at_risk".into(),
                from_date: day(-1),
                to_date: as_of(),
                toward_risk: true,
            },
            SegmentMigration {
                customer_id: "C1".into(),
                dimension: Dimension::LoyaltyTier,
                from: "gold".into(),
                to: "platinum".into(),
                from_date: day(-1),
                to_date: as_of(),
                toward_risk: false,
            },
        ]
    );
    let json = serde_json::to_value(&migrations[0]).unwrap();
    assert_eq!(json["dimension"], "account_standing");
    assert_eq!(json["from_date"], "2026-06-29");
}

#[test]
fn unchanged_segments_are_not_migrations() {
    let same = segment_migrations(
        &previous("standard", "unclassified", "gold"),
        &score_with("standard", "unclassified", "gold"),
    );
    assert!(same.is_empty());
    let from_score = PreviousSegments::of(&score_with("standard", "unclassified", "gold"));
    assert!(segment_migrations(&from_score, &score_with("standard", "unclassified", "gold")).is_empty());
}

#[test]
fn toward_risk_table() {
    let table = [
        (Dimension::AccountStanding, "standard", "payment_watch", true),
        (Dimension::AccountStanding, "standard", "credit_hold", true),
        (Dimension::AccountStanding, "high_credit_vip", "payment_watch", true),
        (Dimension::AccountStanding, "high_credit_vip", "credit_hold", true),
        (Dimension::AccountStanding, "payment_watch", "credit_hold", false),
        (Dimension::AccountStanding, "credit_hold", "standard", false),
        (Dimension::AccountStanding, "standard", "high_credit_vip", false),
        (Dimension::BehaviorSegment, "unclassified", "at_risk", true),
        (Dimension::BehaviorSegment, "declining_engagement", "at_risk", true),
        (Dimension::BehaviorSegment, "at_risk", "declining_engagement", false),
        (Dimension::BehaviorSegment, "at_risk", "at_risk", false),
        (Dimension::LoyaltyTier, "platinum", "none", false),
    ];
    for (dimension, from, to, expected) in table {
        assert_eq!(
            is_toward_risk(dimension, from, to),
            expected,
            "{dimension} {from} -> {to}"
        );
    }
}

#[test]
fn engine_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
    let engine = std::sync::Arc::new(Engine::default());
    let s = snapshot(vec![open("a", day(-31), "1.00")], vec![]);
    let handle = {
        let engine = engine.clone();
        let s = s.clone();
        std::thread::spawn(move || engine.score(&s, as_of(), None))
    };
    assert_eq!(handle.join().unwrap(), engine.score(&s, as_of(), None));
}

//! Every request body the client can produce, validated against the OpenAPI document.

mod support;

use chrono::{TimeZone, Utc};
use ledgerlink_klaviyo_client::{
    EventInput, EventProfile, NumericOperator, ProfileUpsert, SegmentDefinition, SegmentSpec, bulk_create_events_body,
    create_event_body, create_list_body, create_segment_body, list_members_body, profile_bulk_import_body,
    profile_import_body, property_equals, property_is, property_number, update_segment_body,
};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use support::{assert_valid, openapi};

fn full_profile() -> ProfileUpsert {
    let mut properties = Map::new();
    properties.insert("credit_limit".into(), json!(50000));
    properties.insert("credit_hold".into(), json!(false));
    properties.insert("aging_bucket".into(), json!("31-60"));
    properties.insert("ar_synced_at".into(), json!("2026-11-23T12:00:00Z"));
    ProfileUpsert {
        id: Some("01HZX".into()),
        email: Some("ap@example.com".into()),
        phone_number: Some("+15005550006".into()),
        external_id: Some("netsuite:42".into()),
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        organization: Some("Acme".into()),
        properties,
        unset: vec!["on_time_rate_pct".into(), "avg_days_to_pay".into()],
    }
}

fn minimal_profile() -> ProfileUpsert {
    ProfileUpsert {
        external_id: Some("netsuite:7".into()),
        ..ProfileUpsert::default()
    }
}

fn event(unique_id: &str, email: Option<&str>, external_id: Option<&str>) -> EventInput {
    let mut properties = Map::new();
    properties.insert("invoice_id".into(), json!("88121"));
    properties.insert("amount_remaining".into(), json!("120.50"));
    properties.insert("due_date".into(), json!("2026-12-01T12:00:00Z"));
    EventInput {
        metric: "Invoice Past Due".into(),
        unique_id: unique_id.into(),
        time: Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).single().expect("time"),
        value: Some(Decimal::new(12050, 2)),
        value_currency: Some("USD".into()),
        properties,
        profile: EventProfile {
            email: email.map(str::to_owned),
            external_id: external_id.map(str::to_owned),
            phone_number: None,
        },
    }
}

fn seed_segments() -> Vec<SegmentSpec> {
    vec![
        SegmentSpec {
            name: "Credit Hold — exclude from promotions".into(),
            definition: SegmentDefinition::all_of(vec![property_is("credit_hold", true)]),
            is_starred: Some(true),
        },
        SegmentSpec {
            name: "VIP bulk buyers".into(),
            definition: SegmentDefinition::all_of(vec![
                property_number("credit_limit", NumericOperator::GreaterThanOrEqual, 50_000),
                property_number("on_time_rate_pct", NumericOperator::GreaterThanOrEqual, 90),
            ]),
            is_starred: None,
        },
        SegmentSpec {
            name: "Loyalty platinum".into(),
            definition: SegmentDefinition::all_of(vec![property_equals("loyalty_tier", "platinum")]),
            is_starred: Some(false),
        },
    ]
}

#[test]
fn validator_rejects_what_klaviyo_would() {
    // `meta` inside attributes is right for events' profiles but wrong for profile-import.
    let mut misplaced = profile_import_body(&full_profile());
    let meta = misplaced["data"]
        .as_object_mut()
        .expect("data")
        .remove("meta")
        .expect("meta");
    misplaced["data"]["attributes"]["meta"] = meta;
    assert!(
        openapi()
            .validate_request("create_or_update_profile", &misplaced)
            .is_err()
    );

    let missing_type = json!({"data": {"attributes": {"email": "a@example.com"}}});
    assert!(
        openapi()
            .validate_request("create_or_update_profile", &missing_type)
            .is_err()
    );

    let wrong_enum = json!({"data": {"type": "profiles", "attributes": {}}});
    assert!(
        openapi()
            .validate_request("create_or_update_profile", &wrong_enum)
            .is_err()
    );

    let bad_time = json!({"data": {"type": "event", "attributes": {"properties": {}, "time": "yesterday",
        "metric": {"data": {"type": "metric", "attributes": {"name": "x"}}},
        "profile": {"data": {"type": "profile", "attributes": {"email": "a@example.com"}}}}}});
    assert!(openapi().validate_request("create_event", &bad_time).is_err());

    let bad_operator = json!({"data": {"type": "segment", "attributes": {"name": "x", "definition": {"condition_groups": [
        {"conditions": [{"type": "profile-property", "property": "properties['a']",
          "filter": {"type": "numeric", "operator": "at-least", "value": 1}}]}]}}}});
    assert!(openapi().validate_request("create_segment", &bad_operator).is_err());

    // nullable fields accept null.
    let nulls = json!({"data": {"type": "profile", "attributes": {"email": null, "properties": null}}});
    assert!(openapi().validate_request("create_or_update_profile", &nulls).is_ok());
}

#[test]
fn profile_import_bodies_match_the_schema() {
    assert_valid("create_or_update_profile", &profile_import_body(&full_profile()));
    assert_valid("create_or_update_profile", &profile_import_body(&minimal_profile()));
}

#[test]
fn bulk_import_bodies_match_the_schema() {
    let resources = vec![full_profile().resource(), minimal_profile().resource()];
    assert_valid(
        "bulk_import_profiles",
        &profile_bulk_import_body(resources.clone(), &[]),
    );
    assert_valid(
        "bulk_import_profiles",
        &profile_bulk_import_body(resources, &["LIST1".into(), "LIST2".into()]),
    );
}

#[test]
fn event_bodies_match_the_schema() {
    let mut no_value = event("due:1:0", None, Some("netsuite:1"));
    no_value.value = None;
    no_value.value_currency = None;
    no_value.properties = Map::new();
    let events = [
        event("due:88121:-7", Some("ap@example.com"), Some("netsuite:42")),
        event("due:88121:0", Some("ap@example.com"), Some("netsuite:42")),
        event("aging:9:30", Some("b@example.com"), None),
        no_value,
    ];
    for event in &events {
        assert_valid("create_event", &create_event_body(event));
    }
    let refs: Vec<&EventInput> = events.iter().collect();
    assert_valid("bulk_create_events", &bulk_create_events_body(&refs));
}

#[test]
fn list_bodies_match_the_schema() {
    assert_valid("create_list", &create_list_body("Promotion exclusions"));
    let ids = vec!["01A".to_owned(), "01B".to_owned()];
    assert_valid("add_profiles_to_list", &list_members_body(&ids));
    assert_valid("remove_profiles_from_list", &list_members_body(&ids));
}

#[test]
fn segment_bodies_match_the_schema() {
    for spec in seed_segments() {
        assert_valid("create_segment", &create_segment_body(&spec));
        assert_valid("update_segment", &update_segment_body("SEG1", &spec));
    }
}

#[test]
fn every_condition_helper_matches_the_schema() {
    use NumericOperator::*;
    let mut conditions: Vec<Value> = [
        Equals,
        NotEquals,
        GreaterThan,
        GreaterThanOrEqual,
        LessThan,
        LessThanOrEqual,
    ]
    .into_iter()
    .map(|operator| property_number("risk_score", operator, 3))
    .collect();
    conditions.push(property_number(
        "credit_utilization_pct",
        GreaterThan,
        serde_json::Number::from_f64(72.5).expect("n"),
    ));
    conditions.push(property_is("promotions_eligible", false));
    conditions.push(property_equals("account_standing", "payment_watch"));
    let spec = SegmentSpec {
        name: "all helpers".into(),
        definition: SegmentDefinition::all_of(conditions),
        is_starred: None,
    };
    assert_valid("create_segment", &create_segment_body(&spec));
}

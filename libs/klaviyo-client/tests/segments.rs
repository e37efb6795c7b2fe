//! Segment and list behaviour: idempotent apply, list find-or-create and batching.

mod support;

use std::sync::{Arc, Mutex};

use ledgerlink_klaviyo_client::{
    NumericOperator, SegmentAction, SegmentDefinition, SegmentSpec, property_equals, property_is, property_number,
};
use serde_json::{Value, json};
use support::{Mock, Recorded, Reply};

/// Stores segments like Klaviyo and echoes definitions back with the optional fields it
/// adds (nulls) and numbers as floats.
fn segment_server() -> impl Fn(&Recorded) -> Reply {
    let store: Arc<Mutex<Vec<(String, String, Value)>>> = Arc::default();
    move |request| {
        let mut store = store.lock().expect("lock");
        match request.operation.as_deref() {
            Some("get_segments") => {
                let filter = &request.query["filter"];
                let data: Vec<Value> = store
                    .iter()
                    .filter(|(_, name, _)| *filter == format!("equals(name,{})", json!(name)))
                    .map(|(id, name, definition)| {
                        json!({"type": "segment", "id": id, "attributes": {"name": name, "definition": echo(definition),
                            "is_active": true, "is_processing": false, "is_starred": false}, "links": {"self": "x"}})
                    })
                    .collect();
                Reply::json(200, json!({ "data": data, "links": {"self": "x"} }))
            }
            Some("create_segment") => {
                let attributes = &request.body.as_ref().expect("body")["data"]["attributes"];
                let id = format!("SEG{}", store.len());
                store.push((
                    id.clone(),
                    attributes["name"].as_str().expect("name").to_owned(),
                    attributes["definition"].clone(),
                ));
                Reply::json(
                    201,
                    json!({"data": {"type": "segment", "id": id, "attributes": {}, "links": {"self": "x"}}}),
                )
            }
            Some("update_segment") => {
                let data = &request.body.as_ref().expect("body")["data"];
                let entry = store
                    .iter_mut()
                    .find(|(id, _, _)| data["id"] == *id)
                    .expect("known segment");
                entry.2 = data["attributes"]["definition"].clone();
                Reply::json(
                    200,
                    json!({"data": {"type": "segment", "id": entry.0, "attributes": {}, "links": {"self": "x"}}}),
                )
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn echo(value: &Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut echoed: serde_json::Map<String, Value> =
                object.iter().map(|(key, value)| (key.clone(), echo(value))).collect();
            if echoed.contains_key("property") {
                echoed.insert("timeframe_filter".into(), Value::Null);
            }
            Value::Object(echoed)
        }
        Value::Array(items) => Value::Array(items.iter().map(echo).collect()),
        Value::Number(number) => json!(number.as_f64().expect("number")),
        other => other.clone(),
    }
}

fn seeds(vip_limit: i64) -> Vec<SegmentSpec> {
    vec![
        SegmentSpec {
            name: "Credit Hold — exclude from promotions".into(),
            definition: SegmentDefinition::all_of(vec![property_is("credit_hold", true)]),
            is_starred: None,
        },
        SegmentSpec {
            name: "VIP bulk buyers".into(),
            definition: SegmentDefinition::all_of(vec![
                property_number("credit_limit", NumericOperator::GreaterThanOrEqual, vip_limit),
                property_number("on_time_rate_pct", NumericOperator::GreaterThanOrEqual, 90),
            ]),
            is_starred: None,
        },
        SegmentSpec {
            name: "Loyalty platinum".into(),
            definition: SegmentDefinition::all_of(vec![property_equals("loyalty_tier", "platinum")]),
            is_starred: None,
        },
    ]
}

// Segment writes are limited to 1/s; paused time keeps the test instant.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn applying_segments_twice_changes_nothing_the_second_time() {
    let mock = Mock::start(segment_server()).await;
    let client = mock.client();
    for spec in seeds(50_000) {
        let outcome = client.apply_segment(&spec, false).await.expect("apply");
        assert_eq!(outcome.action, SegmentAction::Created, "{}", spec.name);
    }
    let writes = |mock: &Mock| mock.requests_to("create_segment").len() + mock.requests_to("update_segment").len();
    assert_eq!(writes(&mock), 3);
    for spec in seeds(50_000) {
        let outcome = client.apply_segment(&spec, false).await.expect("apply");
        assert_eq!(outcome.action, SegmentAction::Unchanged, "{}", spec.name);
    }
    assert_eq!(writes(&mock), 3, "an unchanged segment must not be written");

    // A changed threshold is PATCHed, in place, once.
    let vip = &seeds(75_000)[1];
    let dry = client.apply_segment(vip, true).await.expect("dry run");
    assert_eq!(dry.action, SegmentAction::Updated);
    assert_eq!(writes(&mock), 3, "a dry run writes nothing");
    let outcome = client.apply_segment(vip, false).await.expect("apply");
    assert_eq!(outcome.action, SegmentAction::Updated);
    assert_eq!(outcome.id.as_deref(), Some("SEG1"));
    assert_eq!(
        client.apply_segment(vip, false).await.expect("apply").action,
        SegmentAction::Unchanged
    );
    assert_eq!(mock.requests_to("update_segment").len(), 1);
    mock.assert_all_valid();
}

#[tokio::test]
async fn ensure_list_finds_or_creates_and_membership_is_batched() {
    let lists: Arc<Mutex<Vec<String>>> = Arc::default();
    let shared = lists.clone();
    let mock = Mock::start(move |request: &Recorded| match request.operation.as_deref() {
        Some("get_lists") => {
            let data: Vec<Value> = shared
                .lock()
                .expect("lock")
                .iter()
                .map(|name| json!({"type": "list", "id": "LIST1", "attributes": {"name": name}}))
                .collect();
            Reply::json(200, json!({"data": data, "links": {"self": "x"}}))
        }
        Some("create_list") => {
            let name = request.body.as_ref().expect("body")["data"]["attributes"]["name"]
                .as_str()
                .expect("n")
                .to_owned();
            shared.lock().expect("lock").push(name);
            Reply::json(201, json!({"data": {"type": "list", "id": "LIST1", "attributes": {}}}))
        }
        Some("add_profiles_to_list" | "remove_profiles_from_list") => Reply::empty(204),
        other => panic!("unexpected {other:?}"),
    })
    .await;
    let client = mock.client();
    let first = client.ensure_list("Promotion exclusions").await.expect("ensure");
    assert!(first.created);
    let second = client.ensure_list("Promotion exclusions").await.expect("ensure");
    assert!(!second.created);
    assert_eq!(second.id, "LIST1");
    assert_eq!(mock.requests_to("create_list").len(), 1);

    let ids: Vec<String> = (0..2_500).map(|n| format!("01P{n:05}")).collect();
    client.add_profiles_to_list("LIST1", &ids).await.expect("add");
    client
        .remove_profiles_from_list("LIST1", &ids[..10])
        .await
        .expect("remove");
    let sizes: Vec<usize> = mock
        .requests_to("add_profiles_to_list")
        .iter()
        .map(|r| r.body.as_ref().expect("b")["data"].as_array().expect("a").len())
        .collect();
    assert_eq!(sizes, vec![1_000, 1_000, 500]);
    assert_eq!(mock.requests_to("remove_profiles_from_list")[0].method, "DELETE");
    mock.assert_all_valid();
}

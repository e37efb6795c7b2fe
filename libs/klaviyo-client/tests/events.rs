//! Event behaviour: bulk batches without repeated unique_ids, fallback to single sends.

mod support;

use std::collections::HashSet;

use chrono::{TimeZone, Utc};
use ledgerlink_klaviyo_client::{EventInput, EventProfile};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use support::{Mock, Recorded, Reply};

fn event(unique_id: &str, email: &str) -> EventInput {
    let mut properties = Map::new();
    properties.insert("invoice_id".into(), json!("88121"));
    EventInput {
        metric: "Invoice Due Soon".into(),
        unique_id: unique_id.into(),
        time: Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).single().expect("time"),
        value: Some(Decimal::new(99_95, 2)),
        value_currency: Some("EUR".into()),
        properties,
        profile: EventProfile {
            email: Some(email.into()),
            external_id: Some(format!("netsuite:{email}")),
            phone_number: None,
        },
    }
}

fn unique_ids(body: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    for entry in body["data"]["attributes"]["events-bulk-create"]["data"]
        .as_array()
        .expect("entries")
    {
        for event in entry["attributes"]["events"]["data"].as_array().expect("events") {
            ids.push(event["attributes"]["unique_id"].as_str().expect("unique_id").to_owned());
        }
    }
    ids
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn bulk_requests_never_repeat_a_unique_id() {
    let mock = Mock::start(|_| Reply::empty(202)).await;
    // Two customers share every reminder key (same invoice numbering in two subsidiaries),
    // and one event is given twice.
    let mut events = Vec::new();
    for n in 0..1_500 {
        events.push(event(&format!("due:{n}:-7"), "a@example.com"));
        events.push(event(&format!("due:{n}:-7"), "b@example.com"));
    }
    events.push(event("due:0:-7", "a@example.com"));
    let report = mock.client().create_events_bulk(&events).await.expect("send");
    assert_eq!(report.accepted.len(), 3_000);
    assert_eq!(report.duplicates, vec![3_000]);
    assert!(report.failures.is_empty() && report.aborted.is_none());
    let requests = mock.requests_to("bulk_create_events");
    let mut total = 0;
    for request in &requests {
        let ids = unique_ids(request.body.as_ref().expect("body"));
        assert!(ids.len() <= 1_000);
        let distinct: HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "a unique_id repeats within one request");
        total += ids.len();
    }
    assert_eq!(total, 3_000);
    assert_eq!(requests.len(), 3);
    mock.assert_all_valid();
}

#[tokio::test]
async fn a_refused_batch_is_resent_event_by_event() {
    let mock = Mock::start(|request: &Recorded| match request.operation.as_deref() {
        Some("bulk_create_events") => Reply::error(400, "invalid", "Invalid input.", Some("/data/attributes")),
        Some("create_event") => {
            let body = request.body.as_ref().expect("body");
            if body["data"]["attributes"]["unique_id"] == "k1" {
                Reply::error(
                    400,
                    "invalid",
                    "time is too far in the future",
                    Some("/data/attributes/time"),
                )
            } else {
                Reply::empty(202)
            }
        }
        other => panic!("unexpected {other:?}"),
    })
    .await;
    let events = vec![
        event("k0", "a@example.com"),
        event("k1", "a@example.com"),
        event("k2", "b@example.com"),
    ];
    let report = mock.client().create_events_bulk(&events).await.expect("send");
    assert_eq!(report.accepted, vec![0, 2]);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].index, 1);
    assert_eq!(report.failures[0].code, "invalid");
    assert!(report.failures[0].detail.contains("/data/attributes/time"));
    assert_eq!(mock.requests_to("create_event").len(), 3);
    mock.assert_all_valid();
}

#[tokio::test]
async fn an_outage_stops_sending_and_lists_what_was_not_sent() {
    let mock = Mock::start(|_| Reply::error(401, "not_authenticated", "Missing or invalid private key.", None)).await;
    let events = vec![event("k0", "a@example.com"), event("k1", "b@example.com")];
    let report = mock.client().create_events_bulk(&events).await.expect("report");
    assert!(report.accepted.is_empty());
    assert!(
        report
            .aborted
            .as_deref()
            .is_some_and(|text| text.contains("not_authenticated"))
    );
    let not_sent: Vec<usize> = report
        .failures
        .iter()
        .filter(|f| f.code == "not_sent")
        .map(|f| f.index)
        .collect();
    assert_eq!(not_sent, vec![0, 1]);
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn single_event_carries_time_value_metric_and_profile() {
    let mock = Mock::start(|_| Reply::empty(202)).await;
    mock.client()
        .create_event(&event("due:88121:-7", "ap@example.com"))
        .await
        .expect("send");
    let body = mock.requests()[0].body.clone().expect("body");
    let attributes = &body["data"]["attributes"];
    assert_eq!(attributes["unique_id"], "due:88121:-7");
    assert_eq!(attributes["time"], "2026-11-24T00:00:00Z");
    assert_eq!(attributes["value"], 99.95);
    assert_eq!(attributes["value_currency"], "EUR");
    assert_eq!(attributes["metric"]["data"]["attributes"]["name"], "Invoice Due Soon");
    assert_eq!(attributes["profile"]["data"]["attributes"]["email"], "ap@example.com");
    mock.assert_all_valid();
}

#[tokio::test]
async fn an_invalid_event_is_refused_before_sending() {
    let mock = Mock::start(|_| Reply::empty(202)).await;
    let mut bad = event("k", "a@example.com");
    bad.metric = "m".repeat(200);
    let error = mock.client().create_event(&bad).await.expect_err("refused");
    assert!(error.to_string().contains("metric name"), "{error}");
    assert!(mock.requests().is_empty());
}

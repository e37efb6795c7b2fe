//! Bulk profile import jobs, events with dedupe (single and bulk), lists and segments.

mod common;

use common::*;
use ledgerlink_klaviyo_sim::BulkValidation;
use serde_json::{Value, json};

fn bulk(profiles: Vec<Value>, list: Option<&str>) -> Value {
    let mut body =
        json!({ "data": { "type": "profile-bulk-import-job", "attributes": { "profiles": { "data": profiles } } } });
    if let Some(list) = list {
        body["data"]["relationships"] = json!({ "lists": { "data": [ { "type": "list", "id": list } ] } });
    }
    body
}

fn resource(attributes: Value) -> Value {
    json!({ "type": "profile", "attributes": attributes })
}

async fn create_list(sim: &Sim, name: &str) -> String {
    let (status, list) = sim
        .post(
            "/api/lists",
            &json!({ "data": { "type": "list", "attributes": { "name": name } } }),
        )
        .await;
    assert_eq!(status, 201);
    list["data"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn bulk_import_refuses_the_whole_request_for_one_bad_email_by_default() {
    let sim = spawn(config()).await;
    let body = bulk(
        vec![
            resource(json!({ "email": "ok@example.com" })),
            resource(json!({ "email": "bad@" })),
        ],
        None,
    );
    let (status, error) = sim.post("/api/profile-bulk-import-jobs", &body).await;
    assert_eq!(status, 400);
    assert_eq!(
        error_pointer(&error),
        "/data/attributes/profiles/data/1/attributes/email"
    );
    assert!(sim.handle.bulk_import_jobs().is_empty());
    assert!(sim.handle.profiles().is_empty());
}

#[tokio::test]
async fn bulk_import_job_goes_queued_to_complete_and_reports_import_errors() {
    let mut cfg = config();
    cfg.bulk_validation = BulkValidation::Deferred;
    let sim = spawn(cfg).await;
    let list = create_list(&sim, "AR customers").await;
    let body = bulk(
        vec![
            resource(
                json!({ "email": "a@example.com", "external_id": "netsuite:1", "properties": { "credit_limit": 5000 } }),
            ),
            resource(json!({ "email": "not-an-email", "external_id": "netsuite:2" })),
            resource(json!({ "email": "c@example.com", "properties": { "credit_hold": true } })),
        ],
        Some(&list),
    );
    let (status, accepted) = sim.post("/api/profile-bulk-import-jobs", &body).await;
    assert_eq!(status, 202);
    assert_eq!(accepted["data"]["type"], "profile-bulk-import-job");
    assert_eq!(accepted["data"]["attributes"]["status"], "queued");
    assert_eq!(accepted["data"]["attributes"]["total_count"], 3);
    let id = accepted["data"]["id"].as_str().unwrap().to_owned();

    sim.handle.wait_for_jobs().await;
    let (status, job) = sim.get(&format!("/api/profile-bulk-import-jobs/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(job["data"]["attributes"]["status"], "complete");
    assert_eq!(job["data"]["attributes"]["completed_count"], 2);
    assert_eq!(job["data"]["attributes"]["failed_count"], 1);
    assert!(job["data"]["attributes"]["completed_at"].is_string());

    let (status, errors) = sim
        .get(&format!("/api/profile-bulk-import-jobs/{id}/import-errors"))
        .await;
    assert_eq!(status, 200);
    let errors = errors["data"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["type"], "import-error");
    assert_eq!(
        errors[0]["attributes"]["source"]["pointer"],
        "/data/attributes/profiles/data/1/attributes/email"
    );
    assert_eq!(
        errors[0]["attributes"]["original_payload"]["attributes"]["external_id"],
        "netsuite:2"
    );

    let (_, ids) = sim
        .get(&format!("/api/profile-bulk-import-jobs/{id}/relationships/profiles"))
        .await;
    assert_eq!(ids["data"].as_array().unwrap().len(), 2);
    let (_, jobs) = sim
        .get("/api/profile-bulk-import-jobs?filter=equals(status,%27complete%27)")
        .await;
    assert_eq!(jobs["data"].as_array().unwrap().len(), 1);

    assert_eq!(
        sim.handle.profile_by_email("a@example.com").unwrap().properties["credit_limit"],
        5000
    );
    assert!(sim.handle.profile_by_external_id("netsuite:2").is_none());
    let members = &sim.handle.lists()[0].members;
    assert_eq!(members.len(), 2);
}

#[tokio::test]
async fn bulk_import_reports_identifier_conflicts_as_import_errors() {
    let sim = spawn(config()).await;
    sim.post("/api/profile-import", &profile(json!({ "email": "a@example.com" })))
        .await;
    sim.post("/api/profile-import", &profile(json!({ "external_id": "netsuite:9" })))
        .await;
    let body = bulk(
        vec![resource(
            json!({ "email": "a@example.com", "external_id": "netsuite:9" }),
        )],
        None,
    );
    let (status, accepted) = sim.post("/api/profile-bulk-import-jobs", &body).await;
    assert_eq!(status, 202);
    sim.handle.wait_for_jobs().await;
    let id = accepted["data"]["id"].as_str().unwrap();
    let (_, errors) = sim
        .get(&format!("/api/profile-bulk-import-jobs/{id}/import-errors"))
        .await;
    assert_eq!(errors["data"][0]["attributes"]["code"], "duplicate_profile");
}

#[tokio::test]
async fn bulk_import_limits_profile_count_and_checks_lists() {
    let mut cfg = config();
    cfg.rate_limits = ledgerlink_klaviyo_sim::RateLimitMode::Off;
    let sim = spawn(cfg).await;
    let too_many: Vec<Value> = (0..10_001)
        .map(|i| resource(json!({ "external_id": format!("n{i}") })))
        .collect();
    let (status, error) = sim.post("/api/profile-bulk-import-jobs", &bulk(too_many, None)).await;
    assert_eq!(status, 400);
    assert_eq!(error_pointer(&error), "/data/attributes/profiles/data");

    let (status, error) = sim
        .post(
            "/api/profile-bulk-import-jobs",
            &bulk(vec![resource(json!({ "external_id": "n" }))], Some("NOLIST")),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_pointer(&error), "/data/relationships/lists/data/0/id");
}

#[tokio::test]
async fn event_with_the_same_unique_id_is_stored_once_and_creates_its_profile_and_metric() {
    let sim = spawn(config()).await;
    let first = event(
        "a@example.com",
        "Payment Reminder Due",
        Some("reminder:INV-1:due:2026-11-23"),
        "2026-11-23T09:00:00Z",
    );
    assert_eq!(sim.post("/api/events", &first).await, (202, Value::Null));
    assert_eq!(sim.post("/api/events", &first).await.0, 202);
    let other = event(
        "a@example.com",
        "Payment Reminder Due",
        Some("reminder:INV-1:due+7:2026-11-30"),
        "2026-11-23T09:00:00Z",
    );
    assert_eq!(sim.post("/api/events", &other).await.0, 202);
    let other_metric = event(
        "a@example.com",
        "Invoice Overdue 30",
        Some("reminder:INV-1:due:2026-11-23"),
        "2026-11-23T09:00:00Z",
    );
    assert_eq!(sim.post("/api/events", &other_metric).await.0, 202);

    let events = sim.handle.events();
    assert_eq!(events.len(), 3);
    assert_eq!(sim.handle.duplicate_events_dropped(), 1);
    assert_eq!(sim.handle.metrics().len(), 2);
    let profile = sim.handle.profile_by_email("a@example.com").unwrap();
    assert!(events.iter().all(|e| e.profile_id == profile.id));
    assert_eq!(events[0].value, Some(120.5));

    let (_, metrics) = sim.get("/api/metrics").await;
    let names: Vec<&str> = metrics["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["attributes"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Payment Reminder Due", "Invoice Overdue 30"]);
}

#[tokio::test]
async fn events_without_unique_id_dedupe_on_the_second() {
    let sim = spawn(config()).await;
    sim.post(
        "/api/events",
        &event("a@example.com", "Viewed", None, "2026-11-23T09:00:00.100Z"),
    )
    .await;
    sim.post(
        "/api/events",
        &event("a@example.com", "Viewed", None, "2026-11-23T09:00:00.900Z"),
    )
    .await;
    sim.post(
        "/api/events",
        &event("a@example.com", "Viewed", None, "2026-11-23T09:00:01Z"),
    )
    .await;
    assert_eq!(sim.handle.events().len(), 2);
}

#[tokio::test]
async fn event_validation_refuses_bad_time_metric_and_profile() {
    let sim = spawn(config()).await;
    let (status, error) = sim
        .post(
            "/api/events",
            &event("a@example.com", "M", None, "1989-12-31T00:00:00Z"),
        )
        .await;
    assert_eq!((status, error_pointer(&error)), (400, "/data/attributes/time"));
    let (status, _) = sim
        .post(
            "/api/events",
            &event("a@example.com", "M", None, "2027-12-01T00:00:00Z"),
        )
        .await;
    assert_eq!(status, 400);
    let long = "m".repeat(128);
    let (status, error) = sim
        .post(
            "/api/events",
            &event("a@example.com", &long, None, "2026-11-23T09:00:00Z"),
        )
        .await;
    assert_eq!(
        (status, error_pointer(&error)),
        (400, "/data/attributes/metric/data/attributes/name")
    );
    let mut no_identifier = event("a@example.com", "M", None, "2026-11-23T09:00:00Z");
    no_identifier["data"]["attributes"]["profile"]["data"]["attributes"] = json!({ "first_name": "A" });
    let (status, error) = sim.post("/api/events", &no_identifier).await;
    assert_eq!(
        (status, error_pointer(&error)),
        (400, "/data/attributes/profile/data/attributes")
    );
    let mut no_properties = event("a@example.com", "M", None, "2026-11-23T09:00:00Z");
    no_properties["data"]["attributes"]
        .as_object_mut()
        .unwrap()
        .remove("properties");
    let (status, error) = sim.post("/api/events", &no_properties).await;
    assert_eq!((status, error_pointer(&error)), (400, "/data/attributes/properties"));
    assert!(sim.handle.events().is_empty());
}

fn bulk_events(entries: Vec<(&str, Vec<(&str, &str)>)>) -> Value {
    let data: Vec<Value> = entries
        .into_iter()
        .map(|(email, events)| {
            let events: Vec<Value> = events
                .into_iter()
                .map(|(metric, unique_id)| {
                    json!({ "type": "event", "attributes": {
                        "properties": { "invoice_id": "INV-1" }, "time": "2026-11-23T09:00:00Z", "unique_id": unique_id,
                        "metric": { "data": { "type": "metric", "attributes": { "name": metric } } } } })
                })
                .collect();
            json!({ "type": "event-bulk-create", "attributes": {
                "profile": { "data": { "type": "profile", "attributes": { "email": email } } },
                "events": { "data": events } } })
        })
        .collect();
    json!({ "data": { "type": "event-bulk-create-job", "attributes": { "events-bulk-create": { "data": data } } } })
}

#[tokio::test]
async fn bulk_events_dedupe_against_stored_events_and_refuse_repeats_within_a_request() {
    let sim = spawn(config()).await;
    let body = bulk_events(vec![
        ("a@example.com", vec![("Due", "k1"), ("Due", "k2")]),
        ("b@example.com", vec![("Due", "k1")]),
    ]);
    assert_eq!(sim.post("/api/event-bulk-create-jobs", &body).await, (202, Value::Null));
    assert_eq!(sim.handle.events().len(), 3);

    let again = bulk_events(vec![("a@example.com", vec![("Due", "k1"), ("Due", "k3")])]);
    assert_eq!(sim.post("/api/event-bulk-create-jobs", &again).await.0, 202);
    assert_eq!(sim.handle.events().len(), 4);
    assert_eq!(sim.handle.duplicate_events_dropped(), 1);

    let repeated = bulk_events(vec![
        ("c@example.com", vec![("Due", "k9")]),
        ("C@example.com", vec![("Due", "k9")]),
    ]);
    let (status, error) = sim.post("/api/event-bulk-create-jobs", &repeated).await;
    assert_eq!(status, 400);
    assert_eq!(
        error_pointer(&error),
        "/data/attributes/events-bulk-create/data/1/attributes/events/data/0/attributes/unique_id"
    );
    assert_eq!(sim.handle.events().len(), 4);
    assert!(sim.handle.profile_by_email("c@example.com").is_none());
}

#[tokio::test]
async fn list_members_are_added_and_removed_by_profile_id() {
    let sim = spawn(config()).await;
    let list = create_list(&sim, "Promotion exclusions").await;
    let (_, a) = sim
        .post("/api/profile-import", &profile(json!({ "email": "a@example.com" })))
        .await;
    let (_, b) = sim
        .post("/api/profile-import", &profile(json!({ "email": "b@example.com" })))
        .await;
    let ids = [a["data"]["id"].clone(), b["data"]["id"].clone()];
    let add = json!({ "data": [ { "type": "profile", "id": ids[0] }, { "type": "profile", "id": ids[1] } ] });
    let path = format!("/api/lists/{list}/relationships/profiles");
    assert_eq!(sim.post(&path, &add).await, (204, Value::Null));
    assert_eq!(sim.post(&path, &add).await.0, 204);
    let (_, members) = sim.get(&path).await;
    assert_eq!(members["data"].as_array().unwrap().len(), 2);

    let remove = json!({ "data": [ { "type": "profile", "id": ids[0] } ] });
    assert_eq!(sim.delete(&path, &remove).await.0, 204);
    let (_, members) = sim.get(&format!("/api/lists/{list}/profiles")).await;
    assert_eq!(members["data"].as_array().unwrap().len(), 1);
    assert_eq!(members["data"][0]["attributes"]["email"], "b@example.com");

    let by_email = json!({ "data": [ { "type": "profile", "id": "nobody@example.com" } ] });
    let (status, error) = sim.post(&path, &by_email).await;
    assert_eq!((status, error_pointer(&error)), (400, "/data/0/id"));
    let (_, lists) = sim
        .get("/api/lists?filter=equals(name,%22Promotion%20exclusions%22)")
        .await;
    assert_eq!(lists["data"][0]["id"], list.as_str());
}

#[tokio::test]
async fn segment_create_then_identical_update_changes_nothing_and_membership_is_evaluated() {
    let sim = spawn(config()).await;
    let definition = json!({ "condition_groups": [
        { "conditions": [ { "type": "profile-property", "property": "properties['credit_limit']", "filter": { "type": "numeric", "operator": "greater-than-or-equal", "value": 50000 } } ] },
        { "conditions": [ { "type": "profile-property", "property": "properties['on_time_rate_pct']", "filter": { "type": "numeric", "operator": "greater-than-or-equal", "value": 90 } } ] },
    ] });
    let create =
        json!({ "data": { "type": "segment", "attributes": { "name": "VIP bulk buyers", "definition": definition } } });
    let (status, created) = sim.post("/api/segments", &create).await;
    assert_eq!(status, 201);
    assert_eq!(created["data"]["attributes"]["is_active"], true);
    assert_eq!(created["data"]["attributes"]["definition"], definition);
    let id = created["data"]["id"].as_str().unwrap().to_owned();

    let update = json!({ "data": { "type": "segment", "id": id, "attributes": { "name": "VIP bulk buyers", "definition": definition } } });
    for _ in 0..2 {
        sim.handle.advance(std::time::Duration::from_secs(2));
        let (status, updated) = sim.patch(&format!("/api/segments/{id}"), &update).await;
        assert_eq!(status, 200);
        assert_eq!(
            updated["data"]["attributes"]["updated"],
            created["data"]["attributes"]["updated"]
        );
    }
    assert_eq!(sim.handle.segments().len(), 1);

    let (_, found) = sim
        .get("/api/segments?filter=equals(name,%22VIP%20bulk%20buyers%22)")
        .await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);

    sim.post(
        "/api/profile-import",
        &profile(
            json!({ "email": "vip@example.com", "properties": { "credit_limit": 60000, "on_time_rate_pct": 95 } }),
        ),
    )
    .await;
    sim.post(
        "/api/profile-import",
        &profile(
            json!({ "email": "late@example.com", "properties": { "credit_limit": 60000, "on_time_rate_pct": 40 } }),
        ),
    )
    .await;
    let (_, members) = sim.get(&format!("/api/segments/{id}/profiles")).await;
    let members = members["data"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["attributes"]["email"], "vip@example.com");

    let bad = json!({ "data": { "type": "segment", "attributes": { "name": "x", "definition": { "condition_groups": [ { "conditions": [
        { "type": "profile-property", "property": "properties['x']", "filter": { "type": "numeric", "operator": "bigger", "value": 1 } } ] } ] } } } });
    sim.handle.advance(std::time::Duration::from_secs(2));
    let (status, error) = sim.post("/api/segments", &bad).await;
    assert_eq!(status, 400);
    assert_eq!(
        error_pointer(&error),
        "/data/attributes/definition/condition_groups/0/conditions/0/filter/operator"
    );
}

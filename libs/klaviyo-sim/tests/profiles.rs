//! Profile upsert, identity resolution, conflicts, property patches, look-ups and paging.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn profile_import_creates_then_updates_by_email() {
    let sim = spawn(config()).await;
    let (status, created) = sim
        .post("/api/profile-import", &profile(json!({ "email": "Ann@Example.com", "external_id": "netsuite:1", "properties": { "credit_limit": 5000, "aging_bucket": "none" } })))
        .await;
    assert_eq!(status, 201);
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 26);
    assert_eq!(created["data"]["type"], "profile");
    assert_eq!(created["data"]["attributes"]["email"], "ann@example.com");
    assert!(
        created["data"]["links"]["self"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/api/profiles/{id}/"))
    );

    sim.handle.advance(std::time::Duration::from_secs(5));
    let (status, updated) = sim
        .post(
            "/api/profile-import",
            &profile(json!({ "email": "ann@example.com", "properties": { "balance_due": 12.5 } })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["data"]["id"], id.as_str());
    assert_eq!(
        updated["data"]["attributes"]["properties"],
        json!({ "credit_limit": 5000, "aging_bucket": "none", "balance_due": 12.5 })
    );
    assert_eq!(updated["data"]["attributes"]["external_id"], "netsuite:1");
    assert_ne!(
        updated["data"]["attributes"]["updated"],
        created["data"]["attributes"]["updated"]
    );
    assert_eq!(sim.handle.profiles().len(), 1);
}

#[tokio::test]
async fn external_id_resolves_the_profile_when_the_email_changes() {
    let sim = spawn(config()).await;
    let (_, first) = sim
        .post(
            "/api/profile-import",
            &profile(json!({ "email": "old@example.com", "external_id": "netsuite:7" })),
        )
        .await;
    let (status, second) = sim
        .post(
            "/api/profile-import",
            &profile(json!({ "email": "new@example.com", "external_id": "netsuite:7" })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(second["data"]["id"], first["data"]["id"]);
    let stored = sim.handle.profile_by_external_id("netsuite:7").unwrap();
    assert_eq!(stored.email.as_deref(), Some("new@example.com"));
    assert!(sim.handle.profile_by_email("old@example.com").is_none());
}

#[tokio::test]
async fn identifiers_of_two_different_profiles_conflict_with_409() {
    let sim = spawn(config()).await;
    let (_, a) = sim
        .post("/api/profile-import", &profile(json!({ "email": "a@example.com" })))
        .await;
    let (_, b) = sim
        .post(
            "/api/profile-import",
            &profile(json!({ "phone_number": "+15005550006", "external_id": "x" })),
        )
        .await;
    let (status, error) = sim
        .post(
            "/api/profile-import",
            &profile(json!({ "email": "a@example.com", "phone_number": "+15005550006" })),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&error), "duplicate_profile");
    assert_eq!(error["errors"][0]["meta"]["duplicate_profile_id"], b["data"]["id"]);
    assert_eq!(error_pointer(&error), "/data/attributes");
    assert_ne!(a["data"]["id"], b["data"]["id"]);
}

#[tokio::test]
async fn create_profile_refuses_an_existing_identifier_with_the_existing_id() {
    let sim = spawn(config()).await;
    let (status, created) = sim
        .post("/api/profiles", &profile(json!({ "email": "a@example.com" })))
        .await;
    assert_eq!(status, 201);
    let (status, error) = sim
        .post(
            "/api/profiles",
            &profile(json!({ "email": "A@example.com", "first_name": "A" })),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(error["errors"][0]["title"], "Conflict.");
    assert_eq!(
        error["errors"][0]["meta"]["duplicate_profile_id"],
        created["data"]["id"]
    );
    assert_eq!(sim.handle.profiles().len(), 1);
}

#[tokio::test]
async fn id_with_another_profiles_email_gets_404_on_profile_import() {
    let sim = spawn(config()).await;
    let (_, a) = sim
        .post("/api/profile-import", &profile(json!({ "email": "a@example.com" })))
        .await;
    sim.post("/api/profile-import", &profile(json!({ "email": "b@example.com" })))
        .await;
    let body =
        json!({ "data": { "type": "profile", "id": a["data"]["id"], "attributes": { "email": "b@example.com" } } });
    let (status, error) = sim.post("/api/profile-import", &body).await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&error), "not_found");
}

#[tokio::test]
async fn null_clears_fields_and_patch_properties_unset_removes_keys() {
    let sim = spawn(config()).await;
    sim.post(
        "/api/profile-import",
        &profile(json!({ "email": "a@example.com", "first_name": "Ann", "properties": { "credit_limit": 5000, "on_time_rate_pct": 91.5, "tags": ["a"] } })),
    )
    .await;
    let body = json!({ "data": { "type": "profile",
        "attributes": { "email": "a@example.com", "first_name": null, "properties": { "days_past_due": 3 } },
        "meta": { "patch_properties": { "unset": ["on_time_rate_pct"], "append": { "tags": "b" } } } } });
    let (status, updated) = sim.post("/api/profile-import", &body).await;
    assert_eq!(status, 200);
    assert_eq!(updated["data"]["attributes"]["first_name"], Value::Null);
    assert_eq!(
        updated["data"]["attributes"]["properties"],
        json!({ "credit_limit": 5000, "days_past_due": 3, "tags": ["a", "b"] })
    );

    let single = json!({ "data": { "type": "profile", "attributes": { "email": "a@example.com" }, "meta": { "patch_properties": { "unset": "credit_limit" } } } });
    sim.post("/api/profile-import", &single).await;
    let stored = sim.handle.profile_by_email("a@example.com").unwrap();
    assert!(!stored.properties.contains_key("credit_limit"));
    assert!(!stored.attributes.contains_key("first_name"));
}

#[tokio::test]
async fn get_profiles_filters_by_email_and_external_id() {
    let sim = spawn(config()).await;
    sim.post(
        "/api/profile-import",
        &profile(json!({ "email": "a@example.com", "external_id": "netsuite:1" })),
    )
    .await;
    sim.post(
        "/api/profile-import",
        &profile(json!({ "email": "b@example.com", "external_id": "netsuite:2" })),
    )
    .await;

    let (status, found) = sim.get("/api/profiles?filter=equals(email,%22A@example.com%22)").await;
    assert_eq!(status, 200);
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    assert_eq!(found["data"][0]["attributes"]["external_id"], "netsuite:1");

    let (_, found) = sim
        .get("/api/profiles?filter=any(external_id,[%27netsuite:1%27,%27netsuite:2%27])")
        .await;
    assert_eq!(found["data"].as_array().unwrap().len(), 2);

    let (status, error) = sim.get("/api/profiles?filter=equals(first_name,%22x%22)").await;
    assert_eq!(status, 400);
    assert_eq!(error["errors"][0]["source"]["parameter"], "filter");
}

#[tokio::test]
async fn get_and_patch_profile_by_id() {
    let sim = spawn(config()).await;
    let (_, a) = sim
        .post("/api/profile-import", &profile(json!({ "email": "a@example.com" })))
        .await;
    sim.post("/api/profile-import", &profile(json!({ "email": "b@example.com" })))
        .await;
    let id = a["data"]["id"].as_str().unwrap();

    let (status, got) = sim.get(&format!("/api/profiles/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got["data"]["attributes"]["email"], "a@example.com");

    let body = json!({ "data": { "type": "profile", "id": id, "attributes": { "organization": "Acme", "properties": { "x": 1 } } } });
    let (status, patched) = sim.patch(&format!("/api/profiles/{id}"), &body).await;
    assert_eq!(status, 200);
    assert_eq!(patched["data"]["attributes"]["organization"], "Acme");

    let conflict = json!({ "data": { "type": "profile", "id": id, "attributes": { "email": "b@example.com" } } });
    let (status, error) = sim.patch(&format!("/api/profiles/{id}"), &conflict).await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&error), "duplicate_profile");

    let mismatch = json!({ "data": { "type": "profile", "id": "01OTHER", "attributes": {} } });
    assert_eq!(sim.patch(&format!("/api/profiles/{id}"), &mismatch).await.0, 409);
    assert_eq!(sim.get("/api/profiles/01NOPE").await.0, 404);
}

#[tokio::test]
async fn profiles_page_with_cursor_links() {
    let mut cfg = config();
    cfg.rate_limits = ledgerlink_klaviyo_sim::RateLimitMode::Off;
    let sim = spawn(cfg).await;
    for i in 0..25 {
        sim.post(
            "/api/profile-import",
            &profile(json!({ "email": format!("p{i}@example.com") })),
        )
        .await;
    }
    let mut next = Some("/api/profiles?page[size]=10".to_owned());
    let mut sizes = Vec::new();
    let mut seen = std::collections::HashSet::new();
    while let Some(url) = next {
        let (status, page) = sim.get(&url).await;
        assert_eq!(status, 200);
        for item in page["data"].as_array().unwrap() {
            assert!(seen.insert(item["id"].as_str().unwrap().to_owned()));
        }
        sizes.push(page["data"].as_array().unwrap().len());
        next = page["links"]["next"].as_str().map(str::to_owned);
    }
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(seen.len(), 25);
    assert_eq!(sim.get("/api/profiles?page[size]=101").await.0, 400);
    assert_eq!(sim.get("/api/profiles?page[cursor]=garbage").await.0, 400);
}

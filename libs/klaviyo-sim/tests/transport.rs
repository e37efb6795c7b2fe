//! Auth, revision, media type and body validation, as every operation applies them.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn missing_or_wrong_credentials_get_401_with_a_json_api_body() {
    let sim = spawn(config()).await;
    let body = profile(json!({ "email": "a@example.com" }));

    let no_header = sim
        .http
        .post(sim.url("/api/profile-import"))
        .header("revision", REVISION)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, error) = read(no_header).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&error), "not_authenticated");
    assert!(error["errors"][0]["id"].as_str().is_some_and(|id| id.len() == 36));

    let bearer = sim
        .http
        .post(sim.url("/api/profile-import"))
        .header("Authorization", format!("Bearer {KEY}"))
        .header("revision", REVISION)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(read(bearer).await.0, 401);

    let wrong_key = sim
        .http
        .post(sim.url("/api/profile-import"))
        .header("Authorization", "Klaviyo-API-Key pk_wrong")
        .header("revision", REVISION)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, error) = read(wrong_key).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&error), "authentication_failed");
    assert!(sim.handle.profiles().is_empty());
}

#[tokio::test]
async fn a_key_without_the_scope_gets_403() {
    let mut cfg = config();
    cfg.scopes = Some(vec!["profiles:read".into()]);
    let sim = spawn(cfg).await;
    let (status, error) = sim
        .post("/api/profile-import", &profile(json!({ "email": "a@example.com" })))
        .await;
    assert_eq!(status, 403);
    assert_eq!(error_code(&error), "permission_denied");
    assert_eq!(sim.get("/api/profiles").await.0, 200);
}

#[tokio::test]
async fn revision_header_is_required_and_must_be_a_valid_revision() {
    let sim = spawn(config()).await;
    let missing = sim
        .http
        .get(sim.url("/api/profiles"))
        .header("Authorization", format!("Klaviyo-API-Key {KEY}"))
        .send()
        .await
        .unwrap();
    let (status, error) = read(missing).await;
    assert_eq!(status, 400);
    assert_eq!(error["errors"][0]["source"]["parameter"], "revision");

    for bad in ["2026-7-15", "yesterday", "2021-01-01", "2027-01-15", "2026-07-15."] {
        let response = sim
            .http
            .get(sim.url("/api/profiles"))
            .header("Authorization", format!("Klaviyo-API-Key {KEY}"))
            .header("revision", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(read(response).await.0, 400, "revision {bad}");
    }
    for good in ["2026-07-15", "2024-10-15", "2026-07-15.pre"] {
        let response = sim
            .http
            .get(sim.url("/api/profiles"))
            .header("Authorization", format!("Klaviyo-API-Key {KEY}"))
            .header("revision", good)
            .send()
            .await
            .unwrap();
        assert_eq!(read(response).await.0, 200, "revision {good}");
    }
}

#[tokio::test]
async fn non_conforming_bodies_get_400_pointing_at_the_offending_member() {
    let sim = spawn(config()).await;
    let cases = [
        (profile(json!({ "email": 42 })), "/data/attributes/email"),
        (
            profile(json!({ "email": "a@example.com", "nickname": "x" })),
            "/data/attributes/nickname",
        ),
        (json!({ "data": { "type": "profile" } }), "/data/attributes"),
        (json!({ "data": { "type": "person", "attributes": {} } }), "/data/type"),
        (json!({ "data": [] }), "/data"),
        (profile(json!({ "email": "not-an-email" })), "/data/attributes/email"),
        (
            profile(json!({ "phone_number": "5005550006" })),
            "/data/attributes/phone_number",
        ),
    ];
    for (body, pointer) in cases {
        let (status, error) = sim.post("/api/profile-import", &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error_code(&error), "invalid");
        assert_eq!(error_pointer(&error), pointer, "{body}");
        assert_eq!(error["errors"][0]["status"], 400);
        assert!(error["errors"][0]["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    assert!(sim.handle.profiles().is_empty());
}

#[tokio::test]
async fn unparsable_json_and_wrong_media_type_are_refused() {
    let sim = spawn(config()).await;
    let broken = sim
        .request(Method::POST, "/api/profile-import")
        .header("content-type", "application/vnd.api+json")
        .body("{\"data\": ")
        .send()
        .await
        .unwrap();
    let (status, error) = read(broken).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&error), "parse_error");

    let text = sim
        .request(Method::POST, "/api/profile-import")
        .header("content-type", "text/plain")
        .body(profile(json!({ "email": "a@example.com" })).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(read(text).await.0, 415);
}

#[tokio::test]
async fn oversized_profile_payload_gets_413() {
    let sim = spawn(config()).await;
    let big = "x".repeat(101 * 1024);
    let (status, error) = sim
        .post(
            "/api/profile-import",
            &profile(json!({ "email": "a@example.com", "properties": { "blob": big } })),
        )
        .await;
    assert_eq!(status, 413);
    assert_eq!(error_code(&error), "payload_too_large");
}

#[tokio::test]
async fn unknown_paths_get_404_json() {
    let sim = spawn(config()).await;
    let (status, error) = sim.get("/api/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&error), "not_found");
}

#[tokio::test]
async fn successful_responses_carry_json_api_type_and_steady_rate_limit_headers() {
    let sim = spawn(config()).await;
    let response = sim.send(Method::GET, "/api/profiles", None).await;
    assert_eq!(response.headers()["content-type"], "application/vnd.api+json");
    assert_eq!(response.headers()["ratelimit-limit"], "750");
    assert_eq!(response.headers()["ratelimit-remaining"], "749");
    assert!(response.headers().get("ratelimit-reset").is_some());
}

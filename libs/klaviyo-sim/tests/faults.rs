//! Rate limits with 429 and Retry-After, and every injectable fault.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ledgerlink_klaviyo_sim::{Fault, RandomFaults, RateLimitMode};
use reqwest::Method;
use serde_json::{Value, json};

fn segment(name: &str) -> Value {
    json!({ "data": { "type": "segment", "attributes": { "name": name, "definition": { "condition_groups": [] } } } })
}

#[tokio::test]
async fn exceeding_the_burst_gets_429_with_retry_after_until_the_second_ends() {
    let sim = spawn(config()).await;
    assert_eq!(sim.post("/api/segments", &segment("one")).await.0, 201);

    let response = sim.send(Method::POST, "/api/segments", Some(&segment("two"))).await;
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(response.headers().get("ratelimit-limit").is_none());
    let (_, error) = read(response).await;
    assert_eq!(error_code(&error), "throttled");
    assert_eq!(
        error["errors"][0]["detail"],
        "Request was throttled. Expected available in 0 seconds."
    );
    assert_eq!(sim.handle.segments().len(), 1);

    sim.handle.advance(Duration::from_millis(750));
    assert_eq!(sim.post("/api/segments", &segment("two")).await.0, 201);
    assert_eq!(sim.handle.request_count("create_segment"), 3);
}

#[tokio::test]
async fn exceeding_the_steady_window_waits_for_the_minute() {
    let sim = spawn(config()).await;
    for i in 0..15 {
        assert_eq!(
            sim.post("/api/segments", &segment(&format!("s{i}"))).await.0,
            201,
            "request {i}"
        );
        sim.handle.advance(Duration::from_secs(1));
    }
    let response = sim.send(Method::POST, "/api/segments", Some(&segment("late"))).await;
    assert_eq!(response.status().as_u16(), 429);
    // 15 s into the minute, 0.25 s in: 44.75 s remain.
    assert_eq!(response.headers()["retry-after"], "45");
    let (_, error) = read(response).await;
    assert_eq!(
        error["errors"][0]["detail"],
        "Request was throttled. Expected available in 44 seconds."
    );
}

#[tokio::test]
async fn scaled_and_disabled_limits() {
    let mut cfg = config();
    cfg.rate_limits = RateLimitMode::Scaled(0.02);
    let sim = spawn(cfg).await;
    // 75/s scaled by 0.02 is 2/s.
    for _ in 0..2 {
        assert_eq!(sim.get("/api/profiles").await.0, 200);
    }
    assert_eq!(sim.get("/api/profiles").await.0, 429);
    sim.handle.set_rate_limits(RateLimitMode::Off);
    for _ in 0..5 {
        assert_eq!(sim.post("/api/segments", &segment("s")).await.0, 201);
    }
}

#[tokio::test]
async fn server_error_faults_answer_json_or_html() {
    let sim = spawn(config()).await;
    sim.handle.inject_fault(Fault::ServerError { status: 503 }, 1);
    sim.handle.inject_fault(Fault::HtmlServerError { status: 502 }, 1);
    sim.handle.inject_fault(Fault::CloudflareChallenge, 1);

    let json_error = sim.send(Method::GET, "/api/profiles", None).await;
    assert_eq!(json_error.status().as_u16(), 503);
    assert_eq!(json_error.headers()["content-type"], "application/vnd.api+json");
    let (_, body) = read(json_error).await;
    assert_eq!(body["errors"][0]["status"], 503);

    let html = sim.send(Method::GET, "/api/profiles", None).await;
    assert_eq!(html.status().as_u16(), 502);
    assert_eq!(html.headers()["content-type"], "text/html");
    assert!(html.text().await.unwrap().contains("502 Bad Gateway"));

    let challenge = sim.send(Method::GET, "/api/profiles", None).await;
    assert_eq!(challenge.status().as_u16(), 403);
    assert_eq!(challenge.headers()["cf-mitigated"], "challenge");

    assert_eq!(sim.get("/api/profiles").await.0, 200);
    let statuses: Vec<Option<u16>> = sim.handle.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![Some(503), Some(502), Some(403), Some(200)]);
}

#[tokio::test]
async fn throttle_storm_answers_429_for_the_scripted_requests_only() {
    let sim = spawn(config()).await;
    sim.handle
        .inject_fault_for("create_event", Fault::Throttle { retry_after_secs: 3 }, 3);
    let body = event("a@example.com", "Due", Some("k1"), "2026-11-23T09:00:00Z");
    assert_eq!(sim.get("/api/profiles").await.0, 200);
    for _ in 0..3 {
        let response = sim.send(Method::POST, "/api/events", Some(&body)).await;
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers()["retry-after"], "3");
    }
    assert!(sim.handle.events().is_empty());
    assert_eq!(sim.post("/api/events", &body).await.0, 202);
    assert_eq!(sim.handle.events().len(), 1);
    assert_eq!(sim.handle.request_count("create_event"), 4);
}

#[tokio::test]
async fn latency_fault_delays_the_answer() {
    let sim = spawn(config()).await;
    sim.handle.inject_fault(Fault::Latency(Duration::from_millis(300)), 1);
    let started = Instant::now();
    assert_eq!(sim.get("/api/profiles").await.0, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn dropped_connection_applies_nothing() {
    let sim = spawn(config()).await;
    sim.handle
        .inject_fault_for("create_or_update_profile", Fault::DropConnection, 1);
    let result = sim
        .request(Method::POST, "/api/profile-import")
        .header("content-type", "application/vnd.api+json")
        .body(profile(json!({ "email": "a@example.com" })).to_string())
        .send()
        .await;
    assert!(result.is_err(), "expected a transport error, got {result:?}");
    assert!(sim.handle.profiles().is_empty());
    assert_eq!(sim.handle.requests()[0].status, None);
}

#[tokio::test]
async fn response_lost_applies_the_write_so_only_an_idempotent_retry_is_safe() {
    let sim = spawn(config()).await;
    sim.handle
        .inject_fault_for("create_or_update_profile", Fault::ResponseLost, 1);
    sim.handle.inject_fault_for("create_event", Fault::ResponseLost, 1);
    let upsert = profile(json!({ "email": "a@example.com", "properties": { "balance_due": 10 } }));
    let lost = sim
        .request(Method::POST, "/api/profile-import")
        .header("content-type", "application/vnd.api+json")
        .body(upsert.to_string())
        .send()
        .await;
    assert!(lost.is_err(), "expected a transport error, got {lost:?}");
    assert_eq!(sim.handle.profiles().len(), 1);
    let (status, _) = sim.post("/api/profile-import", &upsert).await;
    assert_eq!(status, 200, "the retry finds the profile the lost request created");
    assert_eq!(sim.handle.profiles().len(), 1);

    let body = event("a@example.com", "Due", Some("reminder:INV-1"), "2026-11-23T09:00:00Z");
    let lost = sim
        .request(Method::POST, "/api/events")
        .header("content-type", "application/vnd.api+json")
        .body(body.to_string())
        .send()
        .await;
    assert!(lost.is_err());
    assert_eq!(sim.post("/api/events", &body).await.0, 202);
    assert_eq!(sim.handle.events().len(), 1);
    assert_eq!(sim.handle.duplicate_events_dropped(), 1);
}

#[tokio::test]
async fn random_faults_follow_the_rate_and_spare_other_operations() {
    let mut cfg = config();
    cfg.rate_limits = RateLimitMode::Off;
    cfg.random_faults = RandomFaults {
        rate: 0.5,
        kinds: vec![Fault::ServerError { status: 500 }],
        operations: vec!["get_profiles".into()],
    };
    let sim = spawn(cfg).await;
    let mut failures = 0;
    for _ in 0..200 {
        if sim.get("/api/profiles").await.0 == 500 {
            failures += 1;
        }
    }
    assert!((60..140).contains(&failures), "{failures} of 200 failed at rate 0.5");
    for _ in 0..20 {
        assert_eq!(sim.get("/api/lists").await.0, 200);
    }
}

#[tokio::test]
async fn state_dump_endpoint_needs_the_key_and_shows_everything() {
    let sim = spawn(config()).await;
    sim.post("/api/profile-import", &profile(json!({ "email": "a@example.com" })))
        .await;
    let anonymous = sim.http.get(sim.url("/__sim/state")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let (status, state) = sim.get("/__sim/state").await;
    assert_eq!(status, 200);
    assert_eq!(state["profiles"][0]["email"], "a@example.com");
    assert_eq!(state["request_counts"]["create_or_update_profile"], 1);
    assert_eq!(state, sim.handle.dump());
}

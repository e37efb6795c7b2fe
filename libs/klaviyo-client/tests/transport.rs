//! Transport behaviour against a scripted stand-in: headers, throttling, retries, errors.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ledgerlink_klaviyo_client::{ClientSettings, DEFAULT_REVISION, Endpoint, Error, ProfileUpsert};
use serde_json::json;
use support::{Mock, Reply, fast_settings};

fn profile() -> ProfileUpsert {
    ProfileUpsert {
        email: Some("ap@example.com".into()),
        external_id: Some("netsuite:1".into()),
        ..ProfileUpsert::default()
    }
}

fn created(id: &str) -> Reply {
    Reply::json(201, json!({"data": {"type": "profile", "id": id, "attributes": {}}}))
}

/// Answers with `first` for the first `times` calls, then with `then`.
fn scripted(times: usize, first: Reply, then: Reply) -> (Arc<AtomicUsize>, impl Fn(&support::Recorded) -> Reply) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    (calls, move |_: &support::Recorded| {
        if counter.fetch_add(1, Ordering::SeqCst) < times {
            first.clone()
        } else {
            then.clone()
        }
    })
}

#[tokio::test]
async fn sends_json_api_headers_with_key_and_revision() {
    let mock = Mock::start(|_| created("01P")).await;
    let outcome = mock.client().upsert_profile(&profile()).await.expect("upsert");
    assert_eq!(outcome.id, "01P");
    assert!(outcome.created);
    let request = &mock.requests()[0];
    assert_eq!(request.headers["revision"], DEFAULT_REVISION);
    assert_eq!(
        request.headers["authorization"],
        format!("Klaviyo-API-Key {}", support::API_KEY)
    );
    assert_eq!(request.headers["content-type"], "application/vnd.api+json");
    mock.assert_all_valid();
}

#[tokio::test]
async fn revision_can_be_overridden() {
    let mock = Mock::start(|_| created("01P")).await;
    let client = ledgerlink_klaviyo_client::KlaviyoClient::builder(support::API_KEY.to_owned().into())
        .base_url(format!("{}/", mock.base_url))
        .revision("2026-10-15")
        .build()
        .expect("client");
    client.upsert_profile(&profile()).await.expect("upsert");
    assert_eq!(mock.requests()[0].headers["revision"], "2026-10-15");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn throttled_request_waits_for_retry_after() {
    let throttled = Reply::error(429, "throttled", "Request was throttled.", Some("/data/")).header("retry-after", "7");
    let (calls, handler) = scripted(1, throttled, created("01P"));
    let mock = Mock::start(handler).await;
    let client = mock.client();
    let start = tokio::time::Instant::now();
    client.upsert_profile(&profile()).await.expect("upsert after the wait");
    assert!(
        start.elapsed() >= Duration::from_secs(7),
        "waited only {:?}",
        start.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let requests = mock.requests();
    assert!(requests[1].at - requests[0].at >= Duration::from_secs(7));
    let stats = client.stats().endpoint(Endpoint::CreateOrUpdateProfile);
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.throttled_responses, 1);
    assert_eq!(stats.throttled_waits, 1);
    assert!(stats.total_wait >= Duration::from_secs(6));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn throttle_without_retry_after_reads_the_detail_text() {
    let throttled = Reply::error(
        429,
        "throttled",
        "Request was throttled. Expected available in 12 seconds.",
        None,
    );
    let (_, handler) = scripted(1, throttled, created("01P"));
    let mock = Mock::start(handler).await;
    let start = tokio::time::Instant::now();
    mock.client().upsert_profile(&profile()).await.expect("upsert");
    assert!(
        start.elapsed() >= Duration::from_secs(12),
        "waited only {:?}",
        start.elapsed()
    );
    assert!(start.elapsed() < Duration::from_secs(13));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn throttle_saying_zero_seconds_still_waits_the_minimum() {
    let throttled = Reply::error(
        429,
        "throttled",
        "Request was throttled. Expected available in 0 seconds.",
        None,
    );
    let (_, handler) = scripted(1, throttled, created("01P"));
    let mock = Mock::start(handler).await;
    let settings = ClientSettings {
        min_throttle_wait_ms: 1_500,
        ..fast_settings()
    };
    let start = tokio::time::Instant::now();
    mock.client_with(settings)
        .upsert_profile(&profile())
        .await
        .expect("upsert");
    assert!(
        start.elapsed() >= Duration::from_millis(1_500),
        "waited only {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn server_errors_are_retried() {
    let (calls, handler) = scripted(
        2,
        Reply::text(503, "text/plain", "upstream unavailable"),
        created("01P"),
    );
    let mock = Mock::start(handler).await;
    let client = mock.client();
    client.upsert_profile(&profile()).await.expect("third attempt succeeds");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(client.stats().retries(), 2);
}

#[tokio::test]
async fn retries_run_out_with_the_last_error() {
    let mock = Mock::start(|_| Reply::error(500, "error", "boom", None)).await;
    let error = mock
        .client()
        .upsert_profile(&profile())
        .await
        .expect_err("keeps failing");
    assert!(matches!(error, Error::RetriesExhausted { attempts: 4, .. }), "{error}");
    assert_eq!(error.status(), Some(500));
    assert!(error.is_transient());
}

#[tokio::test]
async fn client_errors_are_not_retried_and_carry_klaviyo_details() {
    let mock =
        Mock::start(|_| Reply::error(400, "invalid", "Invalid email address.", Some("/data/attributes/email"))).await;
    let error = mock.client().upsert_profile(&profile()).await.expect_err("refused");
    assert_eq!(mock.requests().len(), 1, "a 400 must not be retried");
    let api = error.api_error().expect("klaviyo's answer");
    assert_eq!(api.status, 400);
    let first = api.first().expect("error object");
    assert_eq!(first.code, "invalid");
    assert_eq!(first.detail, "Invalid email address.");
    assert_eq!(first.pointer(), Some("/data/attributes/email"));
    assert_eq!(first.id, "err-1");
    assert_eq!(first.status, Some(400));
    assert!(!error.is_transient());
    let text = error.to_string();
    assert!(
        text.contains("invalid") && text.contains("/data/attributes/email"),
        "{text}"
    );
}

#[tokio::test]
async fn non_json_error_bodies_are_reported() {
    let mock = Mock::start(|_| {
        Reply::text(403, "text/html", "<html><title>Just a moment...</title></html>")
            .header("cf-mitigated", "challenge")
    })
    .await;
    let error = mock.client().upsert_profile(&profile()).await.expect_err("refused");
    assert_eq!(mock.requests().len(), 1);
    let api = error.api_error().expect("answer");
    assert_eq!(api.status, 403);
    assert!(api.errors.is_empty());
    assert!(
        api.body_excerpt
            .as_deref()
            .is_some_and(|text| text.contains("Just a moment"))
    );
}

#[tokio::test]
async fn connection_failures_are_retried_then_reported() {
    // A port nobody listens on: bind, read the address, drop the listener.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = ledgerlink_klaviyo_client::KlaviyoClient::builder(support::API_KEY.to_owned().into())
        .base_url(format!("http://{addr}"))
        .settings(fast_settings())
        .build()
        .expect("client");
    let error = client.upsert_profile(&profile()).await.expect_err("nobody listens");
    assert!(matches!(error, Error::RetriesExhausted { attempts: 4, .. }), "{error}");
    assert!(error.is_transient());
    assert_eq!(client.stats().retries(), 3);
}

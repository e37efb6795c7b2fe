//! The coordinator carrying runs through stand-in services over real gRPC.

mod fakes;

use std::time::Duration;

use ledgerlink_coordinator::webhook;
use ledgerlink_proto::coordinator::v1::coordinator_service_client::CoordinatorServiceClient;
use ledgerlink_proto::coordinator::v1::{
    GetRunRequest, ListRejectsRequest, RunKind, RunState, StartRunRequest, WatchRunRequest,
};
use ledgerlink_test_support::{TEST_TOKEN, connect, in_process_config_with_env, loopback_listener, with_token};
use tokio_util::sync::CancellationToken;

const WEBHOOK_SECRET: &str = "whsec-test-secret";

struct Harness {
    client: CoordinatorServiceClient<tonic::transport::Channel>,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<Result<(), ledgerlink_coordinator::Error>>,
    webhook_url: String,
    _dir: tempfile::TempDir,
}

async fn start(fakes: fakes::Fakes) -> Harness {
    let url = fakes::serve(fakes).await;
    let dir = tempfile::tempdir().unwrap();
    let webhook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let webhook_port = webhook_listener.local_addr().unwrap().port();
    let file = format!(
        "[coordinator]\nschedules_enabled = false\nextractor_url = \"{url}\"\nscoring_url = \"{url}\"\n\
         reminder_url = \"{url}\"\nklaviyo_gateway_url = \"{url}\"\n\
         [coordinator.execution]\nbatch_size = 10\nin_flight = 3\nbackoff_millis = 1\nmax_backoff_millis = 5\n"
    );
    let config = in_process_config_with_env(
        "coordinator",
        dir.path(),
        &file,
        &[("LEDGERLINK_WEBHOOK_SECRET", WEBHOOK_SECRET)],
    )
    .unwrap();
    let (listener, grpc_url) = loopback_listener().await.unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(ledgerlink_coordinator::run_with_webhook_listener(
        config,
        listener,
        Some(webhook_listener),
        shutdown.clone(),
    ));
    Harness {
        client: CoordinatorServiceClient::new(connect(&grpc_url).await.unwrap()),
        shutdown,
        server,
        webhook_url: format!("http://127.0.0.1:{webhook_port}{}", webhook::server::PATH),
        _dir: dir,
    }
}

impl Harness {
    async fn start_run(&mut self, kind: RunKind, dry_run: bool, customer_ids: Vec<String>) -> String {
        let response = self
            .client
            .start_run(with_token(
                StartRunRequest {
                    kind: kind as i32,
                    dry_run,
                    customer_ids,
                    ..Default::default()
                },
                TEST_TOKEN,
            ))
            .await
            .unwrap()
            .into_inner();
        response.run.unwrap().run_id
    }

    /// Follows the run's watch stream to its end and returns the final run.
    async fn finish(&mut self, run_id: &str) -> ledgerlink_proto::coordinator::v1::Run {
        let mut stream = self
            .client
            .watch_run(with_token(
                WatchRunRequest {
                    run_id: run_id.to_owned(),
                },
                TEST_TOKEN,
            ))
            .await
            .unwrap()
            .into_inner();
        let mut last = None;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while let Some(update) = tokio::time::timeout_at(deadline, stream.message())
            .await
            .unwrap()
            .unwrap()
        {
            last = update.run;
        }
        let last = last.expect("at least one update");
        assert!(
            last.state != RunState::Running as i32 && last.state != RunState::Queued as i32,
            "watch ended before the run: {last:?}"
        );
        last
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.server.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn full_run_sends_every_customer_once_and_survives_a_broken_extract_stream() {
    let fakes = fakes::Fakes::new(95);
    *fakes.break_extract_after.lock().unwrap() = Some(4);
    let mut harness = start(fakes.clone()).await;
    let run_id = harness.start_run(RunKind::Full, false, vec![]).await;
    let run = harness.finish(&run_id).await;
    assert_eq!(run.state, RunState::Succeeded as i32, "{}", run.error);

    {
        let seen = fakes.seen();
        assert_eq!(seen.extract_calls.len(), 2, "one reconnect after the break");
        for (what, ids) in [("scored", &seen.scored), ("profiled", &seen.profiled)] {
            let counts = fakes::counts(ids);
            assert_eq!(counts.len(), 95, "{what}");
            assert!(counts.values().all(|n| *n == 1), "{what} twice: {counts:?}");
        }
        let confirmed = fakes::counts(&seen.confirmed);
        assert_eq!(confirmed.len(), 95);
        assert!(confirmed.values().all(|n| *n == 1));
        assert_eq!(seen.completed_runs, std::slice::from_ref(&run_id));
    }
    let report = run.report.unwrap();
    assert_eq!(report.profiles_updated, 95);
    assert_eq!(report.events_by_kind.get("Invoice Due Today"), Some(&95));
    assert_eq!(run.progress.unwrap().batches_done, 10);
    harness.stop().await;
}

#[tokio::test]
async fn dry_run_writes_nothing_and_reports_what_it_would_send() {
    let fakes = fakes::Fakes::new(12);
    let mut harness = start(fakes.clone()).await;
    let run_id = harness.start_run(RunKind::Full, true, vec![]).await;
    let run = harness.finish(&run_id).await;
    assert_eq!(run.state, RunState::Succeeded as i32, "{}", run.error);
    {
        let seen = fakes.seen();
        assert!(seen.scored.is_empty() && seen.profiled.is_empty() && seen.planned.is_empty());
        assert!(seen.sent.is_empty() && seen.confirmed.is_empty() && seen.completed_runs.is_empty());
    }
    let previews = run.report.unwrap().previews;
    assert_eq!(previews.len(), 12);
    assert!(previews[0].set_properties_json.contains("account_standing"));
    assert_eq!(previews[0].events.len(), 1);
    harness.stop().await;
}

#[tokio::test]
async fn failing_records_are_set_aside_without_failing_the_run() {
    let mut fakes = fakes::Fakes::new(20);
    fakes.failing_profiles = std::sync::Arc::new(vec!["00003".to_owned()]);
    let mut harness = start(fakes.clone()).await;
    let run_id = harness.start_run(RunKind::Full, false, vec![]).await;
    let run = harness.finish(&run_id).await;
    assert_eq!(run.state, RunState::Succeeded as i32);
    let rejects = harness
        .client
        .list_rejects(with_token(
            ListRejectsRequest {
                run_id: run_id.clone(),
                ..Default::default()
            },
            TEST_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner()
        .rejections;
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0].record_id, "00003");
    assert_eq!(rejects[0].reason, "invalid email");
    assert_eq!(run.report.unwrap().profiles_failed, 1);
    harness.stop().await;
}

#[tokio::test]
async fn customer_runs_need_targets_and_unknown_runs_are_not_found() {
    let mut harness = start(fakes::Fakes::new(1)).await;
    let refused = harness
        .client
        .start_run(with_token(
            StartRunRequest {
                kind: RunKind::Customer as i32,
                ..Default::default()
            },
            TEST_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let missing = harness
        .client
        .get_run(with_token(
            GetRunRequest {
                run_id: "run-nope".into(),
            },
            TEST_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    harness.stop().await;
}

#[tokio::test]
async fn signed_webhook_queues_an_invoice_run_once() {
    let fakes = fakes::Fakes::new(3);
    let mut harness = start(fakes.clone()).await;
    let http = reqwest::Client::new();
    let body = br#"{"invoice_id":"88121"}"#.to_vec();
    let timestamp = chrono::Utc::now().timestamp();
    let signature = webhook::sign(WEBHOOK_SECRET.as_bytes(), timestamp, &body);
    let post = |signature: String, timestamp: i64| {
        http.post(&harness.webhook_url)
            .header(webhook::TIMESTAMP_HEADER, timestamp.to_string())
            .header(webhook::SIGNATURE_HEADER, signature)
            .body(body.clone())
            .send()
    };
    let accepted = post(signature.clone(), timestamp).await.unwrap();
    assert_eq!(accepted.status(), reqwest::StatusCode::ACCEPTED);
    let run_id = accepted.json::<serde_json::Value>().await.unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let replay = post(signature, timestamp).await.unwrap();
    assert_eq!(replay.status(), reqwest::StatusCode::CONFLICT);
    let forged = post(webhook::sign(b"not-the-secret", timestamp, &body), timestamp)
        .await
        .unwrap();
    assert_eq!(forged.status(), reqwest::StatusCode::UNAUTHORIZED);
    let stale_time = timestamp - 3600;
    let stale = post(webhook::sign(WEBHOOK_SECRET.as_bytes(), stale_time, &body), stale_time)
        .await
        .unwrap();
    assert_eq!(stale.status(), reqwest::StatusCode::UNAUTHORIZED);

    let run = harness.finish(&run_id).await;
    assert_eq!(run.kind, RunKind::Invoice as i32);
    assert_eq!(run.trigger, "webhook");
    assert_eq!(run.invoice_ids, ["88121"]);
    harness.stop().await;
}

#[tokio::test]
async fn a_run_that_finds_nobody_still_succeeds() {
    let fakes = fakes::Fakes::new(0);
    let mut harness = start(fakes.clone()).await;
    let run_id = harness.start_run(RunKind::Full, false, vec![]).await;
    let run = harness.finish(&run_id).await;
    assert_eq!(run.state, RunState::Succeeded as i32, "{}", run.error);
    assert_eq!(run.progress.unwrap().records_done, 0);
    harness.stop().await;
}

#[tokio::test]
async fn cancelling_a_running_run_stops_it_without_completing_history() {
    let mut fakes = fakes::Fakes::new(5);
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    fakes.extract_gate = Some(gate.clone());
    let mut harness = start(fakes.clone()).await;
    let run_id = harness.start_run(RunKind::Full, false, vec![]).await;
    // Wait until the run is extracting (held at the gate), then cancel it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while fakes.seen().extract_calls.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "extraction never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cancelled = harness
        .client
        .cancel_run(with_token(
            ledgerlink_proto::coordinator::v1::CancelRunRequest { run_id: run_id.clone() },
            TEST_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(cancelled.run.is_some());
    let run = harness.finish(&run_id).await;
    assert_eq!(run.state, RunState::Cancelled as i32);
    gate.add_permits(10);
    assert!(
        fakes.seen().completed_runs.is_empty(),
        "a cancelled run records no history"
    );
    let again = harness
        .client
        .cancel_run(with_token(
            ledgerlink_proto::coordinator::v1::CancelRunRequest { run_id },
            TEST_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    harness.stop().await;
}

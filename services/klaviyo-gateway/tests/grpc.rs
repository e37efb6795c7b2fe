//! The gateway's gRPC service end to end on loopback, against the simulator.

use ledgerlink_klaviyo_gateway::testing::sample_score;
use ledgerlink_proto::convert::score_to_pb;
use ledgerlink_proto::klaviyo::v1::klaviyo_gateway_service_client::KlaviyoGatewayServiceClient;
use ledgerlink_proto::klaviyo::v1::{ApplySegmentsRequest, PreviewProfileRequest, UpsertProfilesRequest};
use ledgerlink_proto::types::v1 as pb;
use ledgerlink_test_support::{TEST_TOKEN, connect, in_process_config_with_env, loopback_listener, with_token};
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn upserts_previews_and_applies_segments_over_grpc() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sim = ledgerlink_klaviyo_sim::start(ledgerlink_klaviyo_sim::SimConfig::new("pk_grpc"), listener)?;
    let dir = tempfile::tempdir()?;
    let base_url = sim.base_url();
    let config = in_process_config_with_env(
        "klaviyo-gateway",
        dir.path(),
        "[klaviyo-gateway]\n[klaviyo-gateway.client]\npoll_initial_ms = 20\n",
        &[("KLAVIYO_API_KEY", "pk_grpc"), ("KLAVIYO_BASE_URL", base_url.as_str())],
    )?;
    let (listener, url) = loopback_listener().await?;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(ledgerlink_klaviyo_gateway::run(config, listener, shutdown.clone()));
    let mut client = KlaviyoGatewayServiceClient::new(connect(&url).await?);

    let scores: Vec<pb::CustomerScore> = (0..12)
        .map(|i| {
            score_to_pb(&sample_score(
                &i.to_string(),
                Some(&format!("g{i}@acme.example")),
                Some("1000"),
                None,
                "good_standing",
            ))
        })
        .collect();
    let requests = vec![
        UpsertProfilesRequest {
            run_id: "r1".into(),
            sequence: 1,
            scores: scores.clone(),
            ..Default::default()
        },
        UpsertProfilesRequest {
            run_id: "r1".into(),
            sequence: 2,
            scores: scores[..2].to_vec(),
            ..Default::default()
        },
    ];
    let mut responses = client
        .upsert_profiles(with_token(tokio_stream::iter(requests), TEST_TOKEN))
        .await?
        .into_inner();
    let first = responses.next().await.expect("first response")?;
    assert_eq!(first.sequence, 1);
    assert!(
        first
            .results
            .iter()
            .all(|r| r.outcome == pb::RecordOutcome::Created as i32)
    );
    assert!(first.requests.expect("stats").requests >= 2);
    let second = responses.next().await.expect("second response")?;
    assert_eq!(second.sequence, 2);
    assert!(
        second
            .results
            .iter()
            .all(|r| r.outcome == pb::RecordOutcome::Unchanged as i32)
    );
    assert_eq!(sim.profiles().len(), 12);

    let preview = client
        .preview_profile(with_token(
            PreviewProfileRequest {
                contacts: Vec::new(),
                score: Some(score_to_pb(&sample_score("x", None, None, None, "good_standing"))),
            },
            TEST_TOKEN,
        ))
        .await?
        .into_inner();
    assert_eq!(preview.skip_reason, "customer has no email");

    let segments = client
        .apply_segments(with_token(ApplySegmentsRequest { dry_run: false }, TEST_TOKEN))
        .await?
        .into_inner();
    assert_eq!(segments.segments.len(), 3);
    shutdown.cancel();
    server.await??;
    Ok(())
}

#[tokio::test]
async fn without_a_key_klaviyo_calls_name_the_variable() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = in_process_config_with_env("klaviyo-gateway", dir.path(), "", &[])?;
    let (listener, url) = loopback_listener().await?;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(ledgerlink_klaviyo_gateway::run(config, listener, shutdown.clone()));
    let mut client = KlaviyoGatewayServiceClient::new(connect(&url).await?);
    let status = client
        .apply_segments(with_token(ApplySegmentsRequest { dry_run: false }, TEST_TOKEN))
        .await
        .expect_err("no key");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert!(status.message().contains("KLAVIYO_API_KEY"), "{}", status.message());
    shutdown.cancel();
    server.await??;
    Ok(())
}

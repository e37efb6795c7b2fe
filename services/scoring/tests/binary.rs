//! The scoring binary as a gRPC client and Kubernetes see it.

use ledgerlink_proto::scoring::v1::GetRulesRequest;
use ledgerlink_proto::scoring::v1::scoring_service_client::ScoringServiceClient;
use ledgerlink_test_support::{assert_service_conformance, with_token};

#[tokio::test]
async fn serves_health_reflection_auth_and_stops_on_sigterm() -> anyhow::Result<()> {
    assert_service_conformance(
        env!("CARGO_BIN_EXE_ledgerlink-scoring").as_ref(),
        ledgerlink_proto::service_names::SCORING,
        |channel, token| async move {
            let request = match token {
                Some(token) => with_token(GetRulesRequest {}, token),
                None => tonic::Request::new(GetRulesRequest {}),
            };
            ScoringServiceClient::new(channel).get_rules(request).await.map(drop)
        },
    )
    .await
}

#[tokio::test]
async fn migrations_apply_idempotently_on_sqlite_and_postgres() -> anyhow::Result<()> {
    ledgerlink_test_support::assert_migrations_on_both_backends::<ledgerlink_scoring::migration::Migrator>(&[
        "scoring_run",
        "customer_score",
        "segment_migration",
        "pending_score",
    ])
    .await
}

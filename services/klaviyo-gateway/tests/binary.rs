//! The gateway binary as a gRPC client and Kubernetes see it.

use ledgerlink_proto::klaviyo::v1::ApplySegmentsRequest;
use ledgerlink_proto::klaviyo::v1::klaviyo_gateway_service_client::KlaviyoGatewayServiceClient;
use ledgerlink_test_support::{assert_service_conformance, with_token};

#[tokio::test]
async fn serves_health_reflection_auth_and_stops_on_sigterm() -> anyhow::Result<()> {
    assert_service_conformance(
        env!("CARGO_BIN_EXE_ledgerlink-klaviyo-gateway").as_ref(),
        ledgerlink_proto::service_names::KLAVIYO_GATEWAY,
        |channel, token| async move {
            let request = ApplySegmentsRequest { dry_run: true };
            let request = match token {
                Some(token) => with_token(request, token),
                None => tonic::Request::new(request),
            };
            KlaviyoGatewayServiceClient::new(channel)
                .apply_segments(request)
                .await
                .map(drop)
        },
    )
    .await
}

#[tokio::test]
async fn migrations_apply_idempotently_on_sqlite_and_postgres() -> anyhow::Result<()> {
    ledgerlink_test_support::assert_migrations_on_both_backends::<ledgerlink_klaviyo_gateway::migration::Migrator>(&[
        "profile_digest",
        "bulk_job",
        "managed_object",
    ])
    .await
}

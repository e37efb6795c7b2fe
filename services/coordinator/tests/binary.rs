//! The coordinator binary as a gRPC client and Kubernetes see it.

use ledgerlink_proto::coordinator::v1::ListRunsRequest;
use ledgerlink_proto::coordinator::v1::coordinator_service_client::CoordinatorServiceClient;
use ledgerlink_test_support::{assert_service_conformance, with_token};

#[tokio::test]
async fn serves_health_reflection_auth_and_stops_on_sigterm() -> anyhow::Result<()> {
    assert_service_conformance(
        env!("CARGO_BIN_EXE_ledgerlink-coordinator").as_ref(),
        ledgerlink_proto::service_names::COORDINATOR,
        |channel, token| async move {
            let request = ListRunsRequest::default();
            let request = match token {
                Some(token) => with_token(request, token),
                None => tonic::Request::new(request),
            };
            CoordinatorServiceClient::new(channel)
                .list_runs(request)
                .await
                .map(drop)
        },
    )
    .await
}

#[tokio::test]
async fn migrations_apply_idempotently_on_sqlite_and_postgres() -> anyhow::Result<()> {
    ledgerlink_test_support::assert_migrations_on_both_backends::<ledgerlink_coordinator::migration::Migrator>(&[
        "run",
        "run_checkpoint",
        "watermark",
        "rejected_record",
    ])
    .await
}

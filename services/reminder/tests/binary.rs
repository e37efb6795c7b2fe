//! The reminder binary as a gRPC client and Kubernetes see it.

use ledgerlink_proto::reminder::v1::ListRemindersRequest;
use ledgerlink_proto::reminder::v1::reminder_service_client::ReminderServiceClient;
use ledgerlink_test_support::{assert_service_conformance, with_token};

#[tokio::test]
async fn serves_health_reflection_auth_and_stops_on_sigterm() -> anyhow::Result<()> {
    assert_service_conformance(
        env!("CARGO_BIN_EXE_ledgerlink-reminder").as_ref(),
        ledgerlink_proto::service_names::REMINDER,
        |channel, token| async move {
            let request = ListRemindersRequest::default();
            let request = match token {
                Some(token) => with_token(request, token),
                None => tonic::Request::new(request),
            };
            ReminderServiceClient::new(channel)
                .list_reminders(request)
                .await
                .map(drop)
        },
    )
    .await
}

#[tokio::test]
async fn migrations_apply_idempotently_on_sqlite_and_postgres() -> anyhow::Result<()> {
    ledgerlink_test_support::assert_migrations_on_both_backends::<ledgerlink_reminder::migration::Migrator>(&[
        "reminder_ledger",
        "reminder_pause",
        "balance_detection",
    ])
    .await
}

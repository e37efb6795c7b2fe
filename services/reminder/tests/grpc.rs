//! The reminder service over real gRPC on loopback.

use ledgerlink_domain::parse_snapshot_line;
use ledgerlink_proto::convert::{date_to_pb, snapshot_to_pb};
use ledgerlink_proto::reminder::v1::reminder_service_client::ReminderServiceClient;
use ledgerlink_proto::reminder::v1::{
    ConfirmRequest, ListRemindersRequest, PauseRequest, PlanItem, PlanRequest, ReminderState, ResumeRequest,
};
use ledgerlink_proto::types::v1 as pb;
use ledgerlink_test_support::{TEST_TOKEN, connect, in_process_config, loopback_listener, with_token};
use tokio_util::sync::CancellationToken;

fn snapshot() -> pb::CustomerSnapshot {
    let line = r#"{"customer":{"id":"42","email":"ap@example.com","currency":"USD",
        "terms":{"id":"2","name":"Net 30","days_until_net_due":30}},
      "invoices":[{"id":"9001","tran_id":"INV-9001","tran_date":"2026-10-31","due_date":"2026-11-30",
        "total":"500.00","amount_remaining":"500.00","status":"open"}]}"#;
    snapshot_to_pb(&parse_snapshot_line(&line.replace('\n', " ")).unwrap().snapshot)
}

fn plan_request(run_id: &str, day: &str, snapshot: pb::CustomerSnapshot) -> PlanRequest {
    PlanRequest {
        run_id: run_id.to_owned(),
        as_of: Some(date_to_pb(day.parse().unwrap())),
        sequence: 7,
        items: vec![PlanItem {
            snapshot: Some(snapshot),
            score: None,
            migrations: vec![],
        }],
        dry_run: false,
    }
}

#[tokio::test]
async fn plans_confirms_lists_and_pauses_over_grpc() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = in_process_config("reminder", dir.path(), "[reminder]\nmax_lateness_days = 3\n")?;
    let (listener, url) = loopback_listener().await?;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(ledgerlink_reminder::run(config, listener, shutdown.clone()));
    let mut client = ReminderServiceClient::new(connect(&url).await?);

    let mut bad = snapshot();
    bad.invoices.push(pb::Invoice {
        id: "bad".into(),
        total: Some(pb::Money {
            amount: "x".into(),
            currency: "USD".into(),
        }),
        ..bad.invoices[0].clone()
    });
    let requests = tokio_stream::iter([plan_request("run-1", "2026-11-23", bad)]);
    let mut responses = client.plan(with_token(requests, TEST_TOKEN)).await?.into_inner();
    let response = responses.message().await?.expect("one response per request");
    assert_eq!(response.sequence, 7);
    let keys: Vec<_> = response.events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["due:9001:-7"]);
    let event = &response.events[0];
    assert_eq!(event.metric, "Invoice Due Soon");
    assert_eq!(event.value.as_ref().unwrap().amount, "500.00");
    let properties: serde_json::Value = serde_json::from_str(&event.properties_json)?;
    assert_eq!(properties["invoice_id"], "9001");
    assert_eq!(response.rejections.len(), 1);
    assert_eq!(response.rejections[0].record_id, "bad");
    assert_eq!(response.rejections[0].field, "total");
    assert!(responses.message().await?.is_none());

    let confirm = client
        .confirm(with_token(
            ConfirmRequest {
                run_id: "run-1".into(),
                keys: vec!["due:9001:-7".into()],
            },
            TEST_TOKEN,
        ))
        .await?
        .into_inner();
    assert_eq!(confirm.results[0].outcome, pb::RecordOutcome::Sent as i32);

    let listed = client
        .list_reminders(with_token(
            ListRemindersRequest {
                invoice_id: "9001".into(),
                ..Default::default()
            },
            TEST_TOKEN,
        ))
        .await?
        .into_inner();
    assert_eq!(listed.reminders.len(), 1);
    assert_eq!(listed.reminders[0].state, ReminderState::Confirmed as i32);

    let refused = client
        .pause(with_token(
            PauseRequest {
                invoice_id: "9001".into(),
                until: None,
                reason: "promise to pay".into(),
            },
            TEST_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    client
        .pause(with_token(
            PauseRequest {
                invoice_id: "9001".into(),
                until: Some(date_to_pb("2026-12-15".parse()?)),
                reason: "promise to pay".into(),
            },
            TEST_TOKEN,
        ))
        .await?;
    // Paused: the due-today milestone of 2026-11-30 is held back.
    let requests = tokio_stream::iter([plan_request("run-2", "2026-11-30", snapshot())]);
    let mut responses = client.plan(with_token(requests, TEST_TOKEN)).await?.into_inner();
    assert!(responses.message().await?.unwrap().events.is_empty());
    client
        .resume(with_token(
            ResumeRequest {
                invoice_id: "9001".into(),
            },
            TEST_TOKEN,
        ))
        .await?;
    let missing = client
        .resume(with_token(
            ResumeRequest {
                invoice_id: "9001".into(),
            },
            TEST_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);

    let no_run = client
        .plan(with_token(
            tokio_stream::iter([plan_request("", "2026-11-30", snapshot())]),
            TEST_TOKEN,
        ))
        .await?
        .into_inner()
        .message()
        .await
        .unwrap_err();
    assert_eq!(no_run.code(), tonic::Code::InvalidArgument);

    shutdown.cancel();
    server.await??;
    Ok(())
}

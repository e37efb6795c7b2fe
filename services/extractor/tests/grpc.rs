//! `Extract` over real gRPC on loopback, served by `run_with_env` against a fake NetSuite.

mod support;

use ledgerlink_proto::extractor::v1::extractor_service_client::ExtractorServiceClient;
use ledgerlink_proto::extractor::v1::{
    ExtractRequest, FullScope, IncrementalScope, TargetScope, extract_request, extract_response,
};
use ledgerlink_runtime::MapEnv;
use ledgerlink_test_support::{TEST_TOKEN, connect, in_process_config, loopback_listener, with_token};
use support::{Account, FakeNetSuite, customer, invoice, reference_data};
use tokio_util::sync::CancellationToken;

struct Served {
    client: ExtractorServiceClient<tonic::transport::Channel>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), ledgerlink_extractor::Error>>,
    _dir: tempfile::TempDir,
}

async fn serve(env: MapEnv, file: &str) -> anyhow::Result<Served> {
    let dir = tempfile::tempdir()?;
    let config = in_process_config(ledgerlink_extractor::SERVICE, dir.path(), file)?;
    let (listener, url) = loopback_listener().await?;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { ledgerlink_extractor::run_with_env(config, &env, listener, shutdown).await }
    });
    let client = ExtractorServiceClient::new(connect(&url).await?);
    Ok(Served {
        client,
        shutdown,
        task,
        _dir: dir,
    })
}

impl Served {
    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await??;
        Ok(())
    }
}

fn netsuite_env(base_url: &str) -> MapEnv {
    MapEnv::from_pairs([
        ("NETSUITE_ACCOUNT_ID", "1234567"),
        ("NETSUITE_BASE_URL", base_url),
        ("NETSUITE_CONSUMER_KEY", "ck"),
        ("NETSUITE_CONSUMER_SECRET", "cs"),
        ("NETSUITE_TOKEN_ID", "ti"),
        ("NETSUITE_TOKEN_SECRET", "ts"),
    ])
}

fn full() -> ExtractRequest {
    ExtractRequest {
        scope: Some(extract_request::Scope::Full(FullScope::default())),
        batch_size: 2,
        run_id: "run-1".to_owned(),
    }
}

#[tokio::test]
async fn extract_streams_batches_then_a_summary_over_grpc() -> anyhow::Result<()> {
    let mut account = Account {
        now: "2026-11-20 14:03:00".to_owned(),
        ..Default::default()
    };
    reference_data(&mut account);
    account.customers = (1..=5).map(|id| customer(id, "2026-10-01 08:00:00")).collect();
    account.transactions = (1..=5)
        .map(|id| invoice(100 + id, id, "A", "10.00", "10.00", "2026-10-01 08:00:00"))
        .chain([invoice(106, 2, "A", "5.00", "9.00", "2026-10-01 08:00:00")])
        .collect();
    let fake = FakeNetSuite::start(account).await;
    let mut served = serve(netsuite_env(&fake.base_url()), "[extractor]\ncustomers_per_chunk = 3\n").await?;

    let mut stream = served
        .client
        .extract(with_token(full(), TEST_TOKEN))
        .await?
        .into_inner();
    let (mut batches, mut summary) = (Vec::new(), None);
    while let Some(response) = stream.message().await? {
        match response.item {
            Some(extract_response::Item::Batch(batch)) => {
                assert!(summary.is_none(), "a batch after the summary");
                batches.push(batch);
            }
            Some(extract_response::Item::Summary(s)) => summary = Some(s),
            None => panic!("empty response"),
        }
    }
    let summary = summary.expect("a summary closes the stream");
    let ids: Vec<String> = batches
        .iter()
        .flat_map(|b| b.snapshots.iter().map(|s| s.customer.as_ref().unwrap().id.clone()))
        .collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    assert!(batches.iter().all(|b| b.snapshots.len() <= 2));
    let rejected: Vec<_> = batches.iter().flat_map(|b| b.rejections.clone()).collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        (
            rejected[0].customer_id.as_str(),
            rejected[0].record_id.as_str(),
            rejected[0].field.as_str()
        ),
        ("2", "106", "amount_remaining")
    );
    assert_eq!((summary.customers, summary.invoices, summary.rejected), (5, 5, 1));
    assert_eq!(
        summary.watermark.unwrap().seconds,
        1_795_183_380,
        "2026-11-20T14:03:00Z (UTC account)"
    );
    assert!(summary.requests.unwrap().requests >= 7);
    assert_eq!(batches.last().unwrap().last_customer_id, "5");
    served.stop().await
}

#[tokio::test]
async fn extract_refuses_bad_requests_and_missing_configuration() -> anyhow::Result<()> {
    let mut unconfigured = serve(MapEnv::default(), "").await?;
    let status = unconfigured
        .client
        .extract(with_token(full(), TEST_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert!(status.message().contains("NETSUITE_ACCOUNT_ID"), "{}", status.message());
    assert!(
        status.message().contains("NETSUITE_TOKEN_SECRET"),
        "{}",
        status.message()
    );

    let bad = [
        ExtractRequest::default(),
        ExtractRequest {
            scope: Some(extract_request::Scope::Targets(TargetScope {
                customer_ids: vec!["CUST-1".to_owned()],
                invoice_ids: vec![],
            })),
            ..Default::default()
        },
        ExtractRequest {
            scope: Some(extract_request::Scope::Incremental(IncrementalScope::default())),
            ..Default::default()
        },
        ExtractRequest {
            scope: Some(extract_request::Scope::Full(FullScope {
                after_customer_id: "9".to_owned(),
                until_customer_id: "3".to_owned(),
            })),
            ..Default::default()
        },
    ];
    for request in bad {
        let status = unconfigured
            .client
            .extract(with_token(request.clone(), TEST_TOKEN))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{request:?}: {status}");
    }
    unconfigured.stop().await?;

    // NetSuite refusing the query surfaces as FAILED_PRECONDITION in the stream.
    let fake = FakeNetSuite::start(Account {
        now: "2026-11-20 14:03:00".to_owned(),
        refuse: Some("FROM term"),
        ..Default::default()
    })
    .await;
    let mut served = serve(netsuite_env(&fake.base_url()), "[extractor.client]\nmax_retries = 0\n").await?;
    let mut stream = served
        .client
        .extract(with_token(full(), TEST_TOKEN))
        .await?
        .into_inner();
    let status = stream.message().await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status}");
    assert!(status.message().contains("INVALID_PARAMETER"), "{status}");
    served.stop().await
}

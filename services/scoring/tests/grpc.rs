//! The scoring service over real gRPC on loopback.

use ledgerlink_domain::parse_snapshot_line;
use ledgerlink_proto::convert::{date_to_pb, snapshot_to_pb};
use ledgerlink_proto::scoring::v1::scoring_service_client::ScoringServiceClient;
use ledgerlink_proto::scoring::v1::{
    CompleteRunRequest, ExplainRequest, GetRulesRequest, ListMigrationsRequest, ReloadRulesRequest, ScoreRequest,
    ScoreResponse, ValidateRulesRequest,
};
use ledgerlink_proto::types::v1 as pb;
use ledgerlink_scoring_engine::DEFAULT_RULES_TOML;
use ledgerlink_test_support::{TEST_TOKEN, connect, in_process_config, loopback_listener, with_token};
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;

type Client = ScoringServiceClient<Channel>;

/// A customer with a 10,000 limit and one open invoice due 2026-10-01.
fn snapshot(id: &str, remaining: &str) -> pb::CustomerSnapshot {
    let line = format!(
        r#"{{"customer":{{"id":"{id}","currency":"USD","credit_limit":"10000.00"}},
           "invoices":[{{"id":"inv-{id}","tran_date":"2026-09-01","due_date":"2026-10-01",
             "total":"{remaining}","amount_remaining":"{remaining}","status":"open"}}]}}"#
    );
    snapshot_to_pb(&parse_snapshot_line(&line.replace('\n', " ")).unwrap().snapshot)
}

fn date(text: &str) -> Option<pb::Date> {
    Some(date_to_pb(text.parse().unwrap()))
}

fn request(run_id: &str, as_of: &str, sequence: u64, snapshots: Vec<pb::CustomerSnapshot>) -> ScoreRequest {
    ScoreRequest {
        run_id: run_id.to_owned(),
        as_of: date(as_of),
        sequence,
        snapshots,
        dry_run: false,
    }
}

async fn score(client: &mut Client, requests: Vec<ScoreRequest>) -> Result<Vec<ScoreResponse>, tonic::Status> {
    let mut stream = client
        .score(with_token(tokio_stream::iter(requests), TEST_TOKEN))
        .await?
        .into_inner();
    let mut responses = Vec::new();
    while let Some(response) = stream.message().await? {
        responses.push(response);
    }
    Ok(responses)
}

async fn complete(client: &mut Client, run_id: &str) -> Result<u64, tonic::Status> {
    let request = CompleteRunRequest {
        run_id: run_id.to_owned(),
    };
    Ok(client
        .complete_run(with_token(request, TEST_TOKEN))
        .await?
        .into_inner()
        .customers)
}

async fn migrations(
    client: &mut Client,
    customer_id: &str,
    segment: &str,
) -> anyhow::Result<Vec<pb::SegmentMigration>> {
    let request = ListMigrationsRequest {
        customer_id: customer_id.to_owned(),
        segment: segment.to_owned(),
        page_size: 0,
        page_token: String::new(),
    };
    Ok(client
        .list_migrations(with_token(request, TEST_TOKEN))
        .await?
        .into_inner()
        .migrations)
}

struct Server {
    client: Client,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), ledgerlink_scoring::Error>>,
}

async fn start(dir: &std::path::Path, config_file: &str) -> anyhow::Result<Server> {
    let config = in_process_config("scoring", dir, config_file)?;
    let (listener, url) = loopback_listener().await?;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(ledgerlink_scoring::run(config, listener, shutdown.clone()));
    Ok(Server {
        client: ScoringServiceClient::new(connect(&url).await?),
        shutdown,
        task,
    })
}

impl Server {
    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await??;
        Ok(())
    }
}

#[tokio::test]
async fn scores_batches_in_order_and_records_history_on_completion() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = start(dir.path(), "").await?;
    let mut client = server.client.clone();

    let mut bad = snapshot("2", "1000.00");
    bad.invoices.push(pb::Invoice {
        id: "broken".into(),
        total: Some(pb::Money {
            amount: "12,00".into(),
            currency: "USD".into(),
        }),
        ..bad.invoices[0].clone()
    });
    let responses = score(
        &mut client,
        vec![
            request("run-1", "2026-10-15", 41, vec![snapshot("1", "1000.00")]),
            request("run-1", "2026-10-15", 42, vec![bad]),
        ],
    )
    .await?;
    let sequences: Vec<_> = responses.iter().map(|r| r.sequence).collect();
    assert_eq!(sequences, [41, 42]);
    assert_eq!(responses[0].scores[0].customer_id, "1");
    assert_eq!(responses[0].scores[0].account_standing, "standard");
    let rejection = &responses[1].rejections[..];
    assert_eq!(rejection.len(), 1);
    assert_eq!(
        (
            rejection[0].customer_id.as_str(),
            rejection[0].record_id.as_str(),
            rejection[0].field.as_str()
        ),
        ("2", "broken", "total")
    );
    assert_eq!(responses[1].scores.len(), 1, "the rest of the snapshot is scored");
    assert_eq!(complete(&mut client, "run-1").await?, 2);

    // The next run finds the move toward risk and the newly aged invoice, and returns
    // them before the run completes.
    let responses = score(
        &mut client,
        vec![request("run-2", "2026-11-05", 1, vec![snapshot("1", "9500.00")])],
    )
    .await?;
    let score = &responses[0].scores[0];
    assert_eq!(score.newly_aged_invoice_ids, ["inv-1"]);
    let moves: Vec<_> = responses[0]
        .migrations
        .iter()
        .map(|m| {
            (
                m.dimension,
                m.from_segment.as_str(),
                m.to_segment.as_str(),
                m.toward_risk,
                m.run_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        [
            (
                pb::SegmentDimension::AccountStanding as i32,
                "standard",
                "payment_watch",
                true,
                "run-2"
            ),
            (
                pb::SegmentDimension::LoyaltyTier as i32,
                "platinum",
                "standard",
                false,
                "run-2"
            ),
        ]
    );
    assert!(
        migrations(&mut client, "", "").await?.is_empty(),
        "nothing recorded before completion"
    );
    assert_eq!(complete(&mut client, "run-2").await?, 1);
    let recorded = migrations(&mut client, "1", "payment_watch").await?;
    assert_eq!(recorded, responses[0].migrations[..1]);
    assert_eq!(recorded[0].from_date, date("2026-10-15"));
    assert_eq!(recorded[0].to_date, date("2026-11-05"));

    server.stop().await
}

#[tokio::test]
async fn dry_runs_and_explain_record_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = start(dir.path(), "").await?;
    let mut client = server.client.clone();
    score(
        &mut client,
        vec![request("base", "2026-10-15", 1, vec![snapshot("1", "1000.00")])],
    )
    .await?;
    complete(&mut client, "base").await?;

    let mut dry = request("", "2026-11-05", 1, vec![snapshot("1", "9500.00")]);
    dry.dry_run = true;
    let responses = score(&mut client, vec![dry]).await?;
    assert_eq!(
        responses[0].migrations.len(),
        2,
        "a dry run previews against the history"
    );
    assert_eq!(responses[0].scores[0].newly_aged_invoice_ids, ["inv-1"]);

    let explained = client
        .explain(with_token(
            ExplainRequest {
                snapshot: Some(snapshot("1", "9500.00")),
                as_of: date("2026-11-05"),
            },
            TEST_TOKEN,
        ))
        .await?
        .into_inner();
    let score = explained.score.expect("a score");
    let standing = score
        .explain
        .expect("an explanation")
        .account_standing
        .expect("standing");
    assert_eq!(standing.segment, "payment_watch");
    assert_eq!(standing.metrics["max_days_past_due"], "35");

    assert!(migrations(&mut client, "", "").await?.is_empty());
    let error = complete(&mut client, "").await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    server.stop().await
}

#[tokio::test]
async fn bad_requests_get_the_status_that_names_the_problem() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = start(dir.path(), "").await?;
    let mut client = server.client.clone();

    let error = score(&mut client, vec![request("", "2026-10-15", 1, vec![])])
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.message().contains("run_id"), "{}", error.message());

    let mut no_date = request("r", "2026-10-15", 1, vec![]);
    no_date.as_of = None;
    let error = score(&mut client, vec![no_date]).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.message().contains("as_of"), "{}", error.message());

    score(
        &mut client,
        vec![request("r", "2026-10-15", 1, vec![snapshot("1", "5.00")])],
    )
    .await?;
    let error = score(&mut client, vec![request("r", "2026-10-16", 2, vec![])])
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);

    let error = complete(&mut client, "no-such-run").await.unwrap_err();
    assert_eq!(error.code(), Code::NotFound);

    let error = client
        .list_migrations(with_token(
            ListMigrationsRequest {
                page_token: "x".into(),
                ..Default::default()
            },
            TEST_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    server.stop().await
}

#[tokio::test]
async fn rules_are_read_validated_and_reloaded_from_the_configured_file() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let rules_path = dir.path().join("rules.toml");
    std::fs::write(&rules_path, DEFAULT_RULES_TOML)?;
    let config = format!(
        "[scoring]\nrules_file = {:?}\nrecent_days = 60\n",
        rules_path.display().to_string()
    );
    let server = start(dir.path(), &config).await?;
    let mut client = server.client.clone();

    let rules = client
        .get_rules(with_token(GetRulesRequest {}, TEST_TOKEN))
        .await?
        .into_inner();
    assert_eq!(rules.source, rules_path.display().to_string());
    assert_eq!(rules.text, DEFAULT_RULES_TOML);

    let invalid = "[[account_standing]]\nsegment = \"x\"\nwhen = \"no_such_metric > 1\"\n";
    let validated = client
        .validate_rules(with_token(
            ValidateRulesRequest {
                text: invalid.into(),
                format: "toml".into(),
            },
            TEST_TOKEN,
        ))
        .await?
        .into_inner();
    assert!(!validated.valid);
    // Every problem: the unknown metric, then the two dimensions the file leaves out.
    let lines: Vec<u32> = validated.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [3, 1, 1], "{:?}", validated.problems);
    assert!(
        validated.problems[0].reason.contains("no_such_metric"),
        "{:?}",
        validated.problems
    );
    let error = client
        .validate_rules(with_token(
            ValidateRulesRequest {
                text: String::new(),
                format: "json".into(),
            },
            TEST_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);

    // An invalid file is refused with its line and the old rules stay in force.
    std::fs::write(&rules_path, invalid)?;
    let error = client
        .reload_rules(with_token(ReloadRulesRequest {}, TEST_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.message().contains("line 3"), "{}", error.message());
    let rules = client
        .get_rules(with_token(GetRulesRequest {}, TEST_TOKEN))
        .await?
        .into_inner();
    assert_eq!(rules.text, DEFAULT_RULES_TOML);

    let everyone_gold = DEFAULT_RULES_TOML.replace("segment = \"platinum\"", "segment = \"gold_plus\"");
    assert_ne!(everyone_gold, DEFAULT_RULES_TOML, "the default rules name platinum");
    std::fs::write(&rules_path, &everyone_gold)?;
    client
        .reload_rules(with_token(ReloadRulesRequest {}, TEST_TOKEN))
        .await?;
    let mut dry = request("", "2026-10-15", 1, vec![snapshot("1", "1000.00")]);
    dry.dry_run = true;
    let responses = score(&mut client, vec![dry]).await?;
    assert_eq!(responses[0].scores[0].loyalty_tier, "gold_plus");
    server.stop().await
}

#[tokio::test]
async fn an_invalid_rules_file_stops_the_service_at_start() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let rules_path = dir.path().join("rules.yaml");
    std::fs::write(&rules_path, "account_standing: [\n")?;
    let config = format!("[scoring]\nrules_file = {:?}\n", rules_path.display().to_string());
    let config = in_process_config("scoring", dir.path(), &config)?;
    let (listener, _url) = loopback_listener().await?;
    let error = ledgerlink_scoring::run(config, listener, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("rules.yaml"), "{error}");
    Ok(())
}

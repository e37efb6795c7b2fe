//! The score history store on SQLite and PostgreSQL: staging per run, commit on
//! completion, migrations and their listing.

use std::sync::Arc;

use chrono::NaiveDate;
use ledgerlink_domain::{CustomerSnapshot, parse_snapshot_line};
use ledgerlink_scoring::history::{History, HistoryError, MigrationFilter};
use ledgerlink_scoring_engine::{Dimension, Engine};

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// A customer with a 10,000 limit and one open invoice due 2026-10-01.
fn customer(id: &str, remaining: &str) -> CustomerSnapshot {
    let line = format!(
        r#"{{"customer":{{"id":"{id}","currency":"USD","credit_limit":"10000.00","credit_hold":"AUTO"}},
           "invoices":[{{"id":"inv-{id}","tran_date":"2026-09-01","due_date":"2026-10-01",
             "total":"{remaining}","amount_remaining":"{remaining}","status":"open"}}]}}"#
    );
    parse_snapshot_line(&line.replace('\n', " ")).unwrap().snapshot
}

async fn sqlite() -> anyhow::Result<(tempfile::TempDir, History)> {
    let dir = tempfile::tempdir()?;
    let url = ledgerlink_store::default_sqlite_url(dir.path(), "scoring")?;
    Ok((dir, History::open(&url).await?))
}

async fn postgres() -> anyhow::Result<History> {
    let url = ledgerlink_store::testing::fresh_postgres_url(&ledgerlink_test_support::postgres_server_url()).await?;
    Ok(History::open(&url).await?)
}

fn engine() -> Arc<Engine> {
    Arc::new(Engine::default())
}

async fn staged_scores_count_only_after_the_run_completes(history: &History) -> anyhow::Result<()> {
    let first = history
        .score_batch(
            engine(),
            Some("run-1"),
            day("2026-10-15"),
            vec![customer("1", "1000.00")],
        )
        .await?;
    assert!(first.migrations.is_empty());
    assert!(
        history.previous(&["1".to_owned()]).await?.is_empty(),
        "nothing committed before completion"
    );

    // Run 1 has not completed, so the base of new aging is D - 1 and the invoice,
    // 34 days past due yesterday, is not newly aged today.
    let uncommitted = history
        .score_batch(engine(), None, day("2026-11-05"), vec![customer("1", "1000.00")])
        .await?;
    assert!(uncommitted.scores[0].newly_aged_invoice_ids.is_empty());

    assert_eq!(history.complete_run("run-1").await?, 1);
    let previous = history.previous(&["1".to_owned()]).await?;
    assert_eq!(previous["1"].as_of, day("2026-10-15"));
    assert_eq!(previous["1"].account_standing, "standard");

    // Now the base is run 1's date (14 days past due then), so the invoice crossed 30.
    let second = history
        .score_batch(
            engine(),
            Some("run-2"),
            day("2026-11-05"),
            vec![customer("1", "1000.00")],
        )
        .await?;
    assert_eq!(second.scores[0].newly_aged_invoice_ids, ["inv-1"]);
    let moves: Vec<_> = second
        .migrations
        .iter()
        .map(|m| (m.dimension, m.from.as_str(), m.to.as_str(), m.toward_risk))
        .collect();
    assert_eq!(moves, [(Dimension::AccountStanding, "standard", "payment_watch", true)]);
    assert!(
        history
            .list_migrations(&MigrationFilter::default(), 0, None)
            .await?
            .migrations
            .is_empty(),
        "migrations are recorded on completion only"
    );

    assert_eq!(history.complete_run("run-2").await?, 1);
    let recorded = history.list_migrations(&MigrationFilter::default(), 0, None).await?;
    assert_eq!(recorded.migrations.len(), 1);
    let recorded = &recorded.migrations[0];
    assert_eq!(recorded.run_id, "run-2");
    assert_eq!(recorded.migration, second.migrations[0]);
    assert_eq!(
        (recorded.migration.from_date, recorded.migration.to_date),
        (day("2026-10-15"), day("2026-11-05"))
    );
    Ok(())
}

async fn retried_batches_stage_one_row_and_give_the_same_result(history: &History) -> anyhow::Result<()> {
    history
        .score_batch(
            engine(),
            Some("base"),
            day("2026-10-15"),
            vec![customer("7", "1000.00")],
        )
        .await?;
    history.complete_run("base").await?;
    let batch = || vec![customer("7", "9500.00"), customer("8", "10.00")];
    let first = history
        .score_batch(engine(), Some("retry"), day("2026-11-05"), batch())
        .await?;
    let again = history
        .score_batch(engine(), Some("retry"), day("2026-11-05"), batch())
        .await?;
    assert_eq!(first, again);
    assert_eq!(history.complete_run("retry").await?, 2, "one staged row per customer");
    // Completing twice is harmless and reports the same count.
    assert_eq!(history.complete_run("retry").await?, 2);
    let moves = history
        .list_migrations(
            &MigrationFilter {
                customer_id: Some("7".into()),
                segment: None,
            },
            0,
            None,
        )
        .await?;
    let dimensions: Vec<_> = moves.migrations.iter().map(|m| m.migration.dimension).collect();
    assert_eq!(dimensions, [Dimension::AccountStanding, Dimension::LoyaltyTier]);
    Ok(())
}

async fn runs_refuse_a_second_date_and_batches_after_completion(history: &History) -> anyhow::Result<()> {
    history
        .score_batch(engine(), Some("r"), day("2026-10-15"), vec![customer("1", "5.00")])
        .await?;
    let error = history
        .score_batch(engine(), Some("r"), day("2026-10-16"), vec![customer("1", "5.00")])
        .await
        .unwrap_err();
    assert!(matches!(error, HistoryError::RunDateMismatch { .. }), "{error}");
    history.complete_run("r").await?;
    let error = history
        .score_batch(engine(), Some("r"), day("2026-10-15"), vec![customer("1", "5.00")])
        .await
        .unwrap_err();
    assert!(matches!(error, HistoryError::RunCompleted { .. }), "{error}");
    let error = history.complete_run("never-started").await.unwrap_err();
    assert!(matches!(error, HistoryError::UnknownRun { .. }), "{error}");

    // A run left open is abandoned: its staged scores go and it accepts nothing more.
    history
        .score_batch(
            engine(),
            Some("left-open"),
            day("2026-10-15"),
            vec![customer("9", "5.00")],
        )
        .await?;
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(history.abandon_stale_runs(later).await?, 1);
    let error = history.complete_run("left-open").await.unwrap_err();
    assert!(matches!(error, HistoryError::RunAbandoned { .. }), "{error}");
    assert!(history.previous(&["9".to_owned()]).await?.is_empty());
    Ok(())
}

async fn history_never_moves_backwards(history: &History) -> anyhow::Result<()> {
    history
        .score_batch(
            engine(),
            Some("early"),
            day("2026-10-15"),
            vec![customer("3", "9500.00")],
        )
        .await?;
    history
        .score_batch(
            engine(),
            Some("late"),
            day("2026-11-05"),
            vec![customer("3", "1000.00")],
        )
        .await?;
    history.complete_run("late").await?;
    assert_eq!(history.complete_run("early").await?, 0);
    assert_eq!(history.previous(&["3".to_owned()]).await?["3"].as_of, day("2026-11-05"));
    Ok(())
}

async fn migrations_are_listed_per_segment_and_paged(history: &History) -> anyhow::Result<()> {
    let ids: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
    let snapshots = |remaining: &str| ids.iter().map(|id| customer(id, remaining)).collect::<Vec<_>>();
    history
        .score_batch(engine(), Some("p1"), day("2026-10-15"), snapshots("1000.00"))
        .await?;
    history.complete_run("p1").await?;
    history
        .score_batch(engine(), Some("p2"), day("2026-10-16"), snapshots("9500.00"))
        .await?;
    history.complete_run("p2").await?;

    let by_segment = |segment: &str| MigrationFilter {
        customer_id: None,
        segment: Some(segment.to_owned()),
    };
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = history
            .list_migrations(&by_segment("payment_watch"), 2, token.as_deref())
            .await?;
        assert!(page.migrations.len() <= 2);
        seen.extend(
            page.migrations
                .into_iter()
                .map(|m| (m.migration.customer_id, m.migration.to)),
        );
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    let expected: Vec<_> = ids.iter().map(|id| (id.clone(), "payment_watch".to_owned())).collect();
    assert_eq!(seen, expected);
    // "standard" matches the from side of the standing moves and the to side of the
    // loyalty moves (platinum → standard at 95% utilization).
    let either_side = history.list_migrations(&by_segment("standard"), 100, None).await?;
    assert_eq!(either_side.migrations.len(), 10);
    assert!(
        history
            .list_migrations(&by_segment("gold"), 100, None)
            .await?
            .migrations
            .is_empty()
    );
    let error = history
        .list_migrations(&MigrationFilter::default(), 10, Some("not-a-token"))
        .await
        .unwrap_err();
    assert!(matches!(error, HistoryError::PageToken(_)), "{error}");
    Ok(())
}

macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() -> anyhow::Result<()> {
                    let (_dir, history) = super::sqlite().await?;
                    super::$scenario(&history).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() -> anyhow::Result<()> {
                    let history = super::postgres().await?;
                    super::$scenario(&history).await
                }
            )*
        }
    };
}

on_both_backends!(
    staged_scores_count_only_after_the_run_completes,
    retried_batches_stage_one_row_and_give_the_same_result,
    runs_refuse_a_second_date_and_batches_after_completion,
    history_never_moves_backwards,
    migrations_are_listed_per_segment_and_paged,
);

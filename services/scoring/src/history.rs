//! Score history (`spec/scoring.md` §5): the last committed score per customer, scores
//! staged per run, and the recorded segment migrations.
//!
//! A run's scores are staged under its id and become the customers' last scores only
//! when the run completes ([`History::complete_run`]); until then, and forever for a run
//! that fails or is abandoned, the committed history is untouched. So the base of new
//! aging (`D_prev`) is always the as-of date of the last *successful* run.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use ledgerlink_domain::{CustomerScore, CustomerSnapshot};
use ledgerlink_scoring_engine::{Dimension, Engine, PreviousSegments, SegmentMigration, is_toward_risk};
use ledgerlink_store::{DatabaseConnection, StoreError};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use serde::Serialize;

use crate::entity::{customer_score, pending_score, scoring_run, segment_migration};
use crate::migration::Migrator;

/// Rows written per statement: far below PostgreSQL's bind-parameter limit.
const CHUNK: usize = 500;
/// Default and largest page of [`History::list_migrations`].
pub const DEFAULT_PAGE_SIZE: u64 = 100;
/// The largest page [`History::list_migrations`] returns.
pub const MAX_PAGE_SIZE: u64 = 1000;

const RUNNING: &str = "running";
const COMPLETED: &str = "completed";
const ABANDONED: &str = "abandoned";

/// A run still open this long after it started is abandoned: its staged scores are
/// dropped (by the next completion) so they do not pile up.
pub const ABANDON_AFTER: chrono::Duration = chrono::Duration::days(7);

/// A history operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// No batch was ever scored under this run id.
    #[error("unknown run {run_id:?}")]
    UnknownRun {
        /// The run id asked for.
        run_id: String,
    },
    /// A batch of a run came with another as-of date than the run's first batch.
    #[error("run {run_id:?} is dated {run_as_of}, not {requested}")]
    RunDateMismatch {
        /// The run.
        run_id: String,
        /// The date the run was started with.
        run_as_of: NaiveDate,
        /// The date of the refused batch.
        requested: NaiveDate,
    },
    /// A batch arrived for a run that already completed.
    #[error("run {run_id:?} is already completed")]
    RunCompleted {
        /// The run.
        run_id: String,
    },
    /// A batch or completion arrived for a run given up as abandoned.
    #[error("run {run_id:?} was abandoned: it stayed open longer than {} days", ABANDON_AFTER.num_days())]
    RunAbandoned {
        /// The run.
        run_id: String,
    },
    /// A stored value is not what this version of ledgerlink wrote.
    #[error("stored {what} is unreadable: {reason}")]
    Corrupt {
        /// Which value.
        what: String,
        /// Why.
        reason: String,
    },
    /// A page token that no listing returned.
    #[error("invalid page token {0:?}")]
    PageToken(String),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

impl HistoryError {
    /// Whether the same call may succeed later (the database was unreachable or busy).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            HistoryError::Db(DbErr::Conn(_) | DbErr::ConnectionAcquire(_))
                | HistoryError::Store(StoreError::Connect { .. })
        )
    }
}

/// A segment migration as recorded, with the run that found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedMigration {
    /// The change itself.
    #[serde(flatten)]
    pub migration: SegmentMigration,
    /// The run whose completion recorded it.
    pub run_id: String,
}

/// Which migrations to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationFilter {
    /// Only this customer's.
    pub customer_id: Option<String>,
    /// Only those from or to this segment.
    pub segment: Option<String>,
}

/// One page of migrations, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationPage {
    /// The migrations.
    pub migrations: Vec<RecordedMigration>,
    /// The token of the next page, when there is one.
    pub next_page_token: Option<String>,
}

/// The outcome of scoring one batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoredBatch {
    /// One score per snapshot, in input order.
    pub scores: Vec<CustomerScore>,
    /// The segment changes against each customer's last committed score.
    pub migrations: Vec<SegmentMigration>,
}

/// The score history store.
#[derive(Debug, Clone)]
pub struct History {
    db: DatabaseConnection,
}

impl History {
    /// Wraps a connection whose scoring migrations are applied.
    pub fn new(db: DatabaseConnection) -> History {
        History { db }
    }

    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies the migrations.
    pub async fn open(url: &str) -> Result<History, HistoryError> {
        Ok(History::new(ledgerlink_store::open::<Migrator>(url).await?))
    }

    /// The underlying connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Returns the last committed segments (with their as-of date) of those of
    /// `customer_ids` that have any.
    pub async fn previous(&self, customer_ids: &[String]) -> Result<HashMap<String, PreviousSegments>, HistoryError> {
        let mut previous = HashMap::with_capacity(customer_ids.len());
        for chunk in customer_ids.chunks(CHUNK) {
            let rows = customer_score::Entity::find()
                .filter(customer_score::Column::CustomerId.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await?;
            previous.extend(rows.into_iter().map(|row| (row.customer_id.clone(), previous_of(&row))));
        }
        Ok(previous)
    }

    /// Records that `run_id` scores as of `as_of`, or checks that it already does and
    /// has not completed.
    pub async fn begin_run(&self, run_id: &str, as_of: NaiveDate) -> Result<(), HistoryError> {
        let run = scoring_run::ActiveModel {
            run_id: Set(run_id.to_owned()),
            as_of: Set(as_of),
            state: Set(RUNNING.to_owned()),
            started_at: Set(Utc::now()),
            completed_at: Set(None),
            customers: Set(0),
        };
        // Every batch of a run calls this, so the common case must be one statement.
        scoring_run::Entity::insert(run)
            .on_conflict_do_nothing_on([scoring_run::Column::RunId])
            .exec_without_returning(&self.db)
            .await?;
        let run = scoring_run::Entity::find_by_id(run_id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| HistoryError::UnknownRun {
                run_id: run_id.to_owned(),
            })?;
        if run.as_of != as_of {
            return Err(HistoryError::RunDateMismatch {
                run_id: run_id.to_owned(),
                run_as_of: run.as_of,
                requested: as_of,
            });
        }
        match run.state.as_str() {
            COMPLETED => Err(HistoryError::RunCompleted {
                run_id: run_id.to_owned(),
            }),
            ABANDONED => Err(HistoryError::RunAbandoned {
                run_id: run_id.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// Stages `scores` under `run_id` (started with [`History::begin_run`]); a customer
    /// staged again in the same run (a retried batch) replaces its earlier row.
    pub async fn stage(&self, run_id: &str, scores: &[CustomerScore]) -> Result<(), HistoryError> {
        // One row per customer per statement: PostgreSQL refuses an upsert that touches
        // the same row twice, and the last score of a customer is the one that counts.
        let mut last: HashMap<&str, &CustomerScore> = HashMap::with_capacity(scores.len());
        for score in scores {
            last.insert(&score.customer_id, score);
        }
        let now = Utc::now();
        let rows = last
            .into_values()
            .map(|score| {
                let json = serde_json::to_string(score).map_err(|e| HistoryError::Corrupt {
                    what: format!("score of customer {}", score.customer_id),
                    reason: e.to_string(),
                })?;
                Ok(pending_score::ActiveModel {
                    run_id: Set(run_id.to_owned()),
                    customer_id: Set(score.customer_id.clone()),
                    as_of: Set(score.as_of),
                    account_standing: Set(score.account_standing.clone()),
                    behavior_segment: Set(score.behavior_segment.clone()),
                    loyalty_tier: Set(score.loyalty_tier.clone()),
                    score: Set(json),
                    staged_at: Set(now),
                })
            })
            .collect::<Result<Vec<_>, HistoryError>>()?;
        for chunk in rows.chunks(CHUNK) {
            pending_score::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([pending_score::Column::RunId, pending_score::Column::CustomerId])
                        .update_columns([
                            pending_score::Column::AsOf,
                            pending_score::Column::AccountStanding,
                            pending_score::Column::BehaviorSegment,
                            pending_score::Column::LoyaltyTier,
                            pending_score::Column::Score,
                            pending_score::Column::StagedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(&self.db)
                .await?;
        }
        Ok(())
    }

    /// Scores `snapshots` as of `as_of` against the committed history: new aging from
    /// each customer's last successful run, migrations against its last committed
    /// segments. With a `run_id` the scores are staged under that run; without one
    /// (a dry run) nothing is written.
    pub async fn score_batch(
        &self,
        engine: Arc<Engine>,
        run_id: Option<&str>,
        as_of: NaiveDate,
        snapshots: Vec<CustomerSnapshot>,
    ) -> Result<ScoredBatch, HistoryError> {
        if let Some(run_id) = run_id {
            self.begin_run(run_id, as_of).await?;
        }
        let ids: Vec<String> = snapshots.iter().map(|s| s.customer.id.clone()).collect();
        let previous = self.previous(&ids).await?;
        // Scoring a batch is CPU work of milliseconds: keep it off the async workers.
        let batch = tokio::task::spawn_blocking(move || score_with_previous(&engine, as_of, &snapshots, &previous))
            .await
            .map_err(|e| HistoryError::Corrupt {
                what: "scoring task".to_owned(),
                reason: e.to_string(),
            })?;
        if let Some(run_id) = run_id {
            self.stage(run_id, &batch.scores).await?;
        }
        Ok(batch)
    }

    /// Commits run `run_id`: its staged scores become the customers' last scores and the
    /// segment migrations they make are recorded. Returns how many customers the run
    /// committed; completing a completed run again returns the same count and changes
    /// nothing.
    ///
    /// A customer whose committed score is already later than this run (a later run
    /// completed first) keeps it: history never moves backwards.
    pub async fn complete_run(&self, run_id: &str) -> Result<u64, HistoryError> {
        let txn = self.db.begin().await?;
        let run = scoring_run::Entity::find_by_id(run_id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| HistoryError::UnknownRun {
                run_id: run_id.to_owned(),
            })?;
        match run.state.as_str() {
            COMPLETED => return Ok(u64::try_from(run.customers).unwrap_or(0)),
            ABANDONED => {
                return Err(HistoryError::RunAbandoned {
                    run_id: run_id.to_owned(),
                });
            }
            _ => {}
        }
        let now = Utc::now();
        let mut committed: u64 = 0;
        let mut after: Option<String> = None;
        loop {
            let mut query = pending_score::Entity::find()
                .filter(pending_score::Column::RunId.eq(run_id))
                .order_by_asc(pending_score::Column::CustomerId)
                .limit(CHUNK as u64);
            if let Some(after) = &after {
                query = query.filter(pending_score::Column::CustomerId.gt(after.clone()));
            }
            let staged = query.all(&txn).await?;
            let Some(last) = staged.last() else { break };
            after = Some(last.customer_id.clone());

            let ids: Vec<String> = staged.iter().map(|row| row.customer_id.clone()).collect();
            let current: HashMap<String, customer_score::Model> = customer_score::Entity::find()
                .filter(customer_score::Column::CustomerId.is_in(ids))
                .all(&txn)
                .await?
                .into_iter()
                .map(|row| (row.customer_id.clone(), row))
                .collect();
            let mut scores = Vec::with_capacity(staged.len());
            let mut migrations = Vec::new();
            for row in staged {
                let previous = current.get(&row.customer_id);
                if previous.is_some_and(|previous| previous.as_of > row.as_of) {
                    continue;
                }
                if let Some(previous) = previous {
                    // Against what is committed now, not what was committed at score
                    // time: a run that completed in between is the true previous one.
                    for change in migrations_between(&previous_of(previous), &row) {
                        migrations.push(migration_row(&change, run_id, now));
                    }
                }
                scores.push(customer_score::ActiveModel {
                    customer_id: Set(row.customer_id),
                    as_of: Set(row.as_of),
                    run_id: Set(run_id.to_owned()),
                    account_standing: Set(row.account_standing),
                    behavior_segment: Set(row.behavior_segment),
                    loyalty_tier: Set(row.loyalty_tier),
                    score: Set(row.score),
                    updated_at: Set(now),
                });
            }
            committed += scores.len() as u64;
            if !scores.is_empty() {
                customer_score::Entity::insert_many(scores)
                    .on_conflict(
                        OnConflict::column(customer_score::Column::CustomerId)
                            .update_columns([
                                customer_score::Column::AsOf,
                                customer_score::Column::RunId,
                                customer_score::Column::AccountStanding,
                                customer_score::Column::BehaviorSegment,
                                customer_score::Column::LoyaltyTier,
                                customer_score::Column::Score,
                                customer_score::Column::UpdatedAt,
                            ])
                            .to_owned(),
                    )
                    .exec_without_returning(&txn)
                    .await?;
            }
            if !migrations.is_empty() {
                segment_migration::Entity::insert_many(migrations)
                    .exec_without_returning(&txn)
                    .await?;
            }
        }
        pending_score::Entity::delete_many()
            .filter(pending_score::Column::RunId.eq(run_id))
            .exec(&txn)
            .await?;
        scoring_run::Entity::update(scoring_run::ActiveModel {
            run_id: Set(run_id.to_owned()),
            state: Set(COMPLETED.to_owned()),
            completed_at: Set(Some(now)),
            customers: Set(i64::try_from(committed).unwrap_or(i64::MAX)),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        txn.commit().await?;
        tracing::info!(run_id, customers = committed, "scoring run completed");
        self.abandon_stale_runs(now - ABANDON_AFTER).await?;
        Ok(committed)
    }

    /// Marks runs still open that started before `started_before` abandoned and drops
    /// their staged scores. Returns how many runs were abandoned.
    pub async fn abandon_stale_runs(&self, started_before: chrono::DateTime<Utc>) -> Result<u64, HistoryError> {
        let stale: Vec<String> = scoring_run::Entity::find()
            .filter(scoring_run::Column::State.eq(RUNNING))
            .filter(scoring_run::Column::StartedAt.lt(started_before))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|run| run.run_id)
            .collect();
        for run_id in &stale {
            let txn = self.db.begin().await?;
            scoring_run::Entity::update_many()
                .col_expr(scoring_run::Column::State, sea_orm::sea_query::Expr::value(ABANDONED))
                .filter(scoring_run::Column::RunId.eq(run_id.clone()))
                .filter(scoring_run::Column::State.eq(RUNNING))
                .exec(&txn)
                .await?;
            pending_score::Entity::delete_many()
                .filter(pending_score::Column::RunId.eq(run_id.clone()))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            tracing::warn!(run_id = %run_id, "scoring run abandoned, its staged scores dropped");
        }
        Ok(stale.len() as u64)
    }

    /// Lists recorded migrations oldest first, `page_size` at a time (0 means
    /// [`DEFAULT_PAGE_SIZE`], at most [`MAX_PAGE_SIZE`]), continuing after `page_token`.
    pub async fn list_migrations(
        &self,
        filter: &MigrationFilter,
        page_size: u64,
        page_token: Option<&str>,
    ) -> Result<MigrationPage, HistoryError> {
        let page_size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            size => size.min(MAX_PAGE_SIZE),
        };
        let mut query = segment_migration::Entity::find().order_by_asc(segment_migration::Column::Id);
        if let Some(token) = page_token.filter(|token| !token.is_empty()) {
            let after: i64 = token.parse().map_err(|_| HistoryError::PageToken(token.to_owned()))?;
            query = query.filter(segment_migration::Column::Id.gt(after));
        }
        if let Some(customer_id) = &filter.customer_id {
            query = query.filter(segment_migration::Column::CustomerId.eq(customer_id.clone()));
        }
        if let Some(segment) = &filter.segment {
            query = query.filter(
                Condition::any()
                    .add(segment_migration::Column::FromSegment.eq(segment.clone()))
                    .add(segment_migration::Column::ToSegment.eq(segment.clone())),
            );
        }
        let mut rows = query.limit(page_size + 1).all(&self.db).await?;
        let next_page_token = if rows.len() as u64 > page_size {
            rows.truncate(page_size as usize);
            rows.last().map(|row| row.id.to_string())
        } else {
            None
        };
        let migrations = rows
            .into_iter()
            .map(recorded_of)
            .collect::<Result<Vec<_>, HistoryError>>()?;
        Ok(MigrationPage {
            migrations,
            next_page_token,
        })
    }
}

/// Scores each snapshot with the as-of date of its customer's previous score as the
/// base of new aging, and finds the migrations against that score.
pub fn score_with_previous(
    engine: &Engine,
    as_of: NaiveDate,
    snapshots: &[CustomerSnapshot],
    previous: &HashMap<String, PreviousSegments>,
) -> ScoredBatch {
    let mut batch = ScoredBatch {
        scores: Vec::with_capacity(snapshots.len()),
        migrations: Vec::new(),
    };
    for snapshot in snapshots {
        let last = previous.get(&snapshot.customer.id);
        let score = engine.score(snapshot, as_of, last.map(|last| last.as_of));
        if let Some(last) = last {
            batch
                .migrations
                .extend(ledgerlink_scoring_engine::segment_migrations(last, &score));
        }
        batch.scores.push(score);
    }
    batch
}

fn previous_of(row: &customer_score::Model) -> PreviousSegments {
    PreviousSegments {
        as_of: row.as_of,
        account_standing: row.account_standing.clone(),
        behavior_segment: row.behavior_segment.clone(),
        loyalty_tier: row.loyalty_tier.clone(),
    }
}

fn migrations_between(previous: &PreviousSegments, staged: &pending_score::Model) -> Vec<SegmentMigration> {
    Dimension::ALL
        .into_iter()
        .filter_map(|dimension| {
            let (from, to) = match dimension {
                Dimension::AccountStanding => (&previous.account_standing, &staged.account_standing),
                Dimension::BehaviorSegment => (&previous.behavior_segment, &staged.behavior_segment),
                Dimension::LoyaltyTier => (&previous.loyalty_tier, &staged.loyalty_tier),
            };
            (from != to).then(|| SegmentMigration {
                customer_id: staged.customer_id.clone(),
                dimension,
                from: from.clone(),
                to: to.clone(),
                from_date: previous.as_of,
                to_date: staged.as_of,
                toward_risk: is_toward_risk(dimension, from, to),
            })
        })
        .collect()
}

fn migration_row(
    change: &SegmentMigration,
    run_id: &str,
    now: chrono::DateTime<Utc>,
) -> segment_migration::ActiveModel {
    segment_migration::ActiveModel {
        customer_id: Set(change.customer_id.clone()),
        dimension: Set(change.dimension.as_str().to_owned()),
        from_segment: Set(change.from.clone()),
        to_segment: Set(change.to.clone()),
        from_date: Set(change.from_date),
        to_date: Set(change.to_date),
        run_id: Set(run_id.to_owned()),
        toward_risk: Set(change.toward_risk),
        recorded_at: Set(now),
        ..Default::default()
    }
}

fn recorded_of(row: segment_migration::Model) -> Result<RecordedMigration, HistoryError> {
    let dimension = Dimension::from_name(&row.dimension).ok_or_else(|| HistoryError::Corrupt {
        what: format!("dimension of migration {}", row.id),
        reason: format!("unknown dimension {:?}", row.dimension),
    })?;
    Ok(RecordedMigration {
        migration: SegmentMigration {
            customer_id: row.customer_id,
            dimension,
            from: row.from_segment,
            to: row.to_segment,
            from_date: row.from_date,
            to_date: row.to_date,
            toward_risk: row.toward_risk,
        },
        run_id: row.run_id,
    })
}

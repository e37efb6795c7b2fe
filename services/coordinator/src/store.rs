//! The coordinator's store: runs, checkpoints, watermarks, rejected records, webhook
//! replay protection and schedule firings.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ledgerlink_domain::Rejection;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entity::{rejected_record, run, run_checkpoint, schedule_state, watermark, webhook_delivery};
use crate::run::{Progress, Report, RunKind, RunRecord, RunState, Targets};

/// The store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("coordinator database error: {0}")]
    Db(#[from] DbErr),
    /// A stored row does not decode.
    #[error("stored run {run_id} is unreadable: {reason}")]
    Corrupt {
        /// The run.
        run_id: String,
        /// What is wrong.
        reason: String,
    },
}

/// A run to create.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// What it covers.
    pub kind: RunKind,
    /// Compute only.
    pub dry_run: bool,
    /// Who asked.
    pub trigger: String,
    /// Its targets.
    pub targets: Targets,
    /// Its as-of date.
    pub as_of: NaiveDate,
}

/// The coordinator's database.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
}

fn decode(row: run::Model) -> Result<RunRecord, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        run_id: row.run_id.clone(),
        reason,
    };
    let kind = RunKind::parse(&row.kind).ok_or_else(|| corrupt(format!("unknown kind {}", row.kind)))?;
    let state = RunState::parse(&row.state).ok_or_else(|| corrupt(format!("unknown state {}", row.state)))?;
    let targets: Targets = serde_json::from_str(&row.targets).map_err(|e| corrupt(e.to_string()))?;
    let progress: Progress = serde_json::from_str(&row.progress).map_err(|e| corrupt(e.to_string()))?;
    let report: Report = match &row.report {
        Some(text) => serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?,
        None => Report::default(),
    };
    Ok(RunRecord {
        run_id: row.run_id,
        kind,
        state,
        dry_run: row.dry_run,
        trigger: row.trigger,
        targets,
        as_of: row.as_of,
        created_at: row.created_at,
        finished_at: row.finished_at,
        progress,
        report,
        error: row.error,
    })
}

fn json<T: serde::Serialize>(value: &T) -> String {
    // Plain owned data: serializing cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

impl Store {
    /// Wraps a migrated database.
    pub fn new(db: DatabaseConnection) -> Store {
        Store { db }
    }

    /// Returns the connection (leader election needs its own use of it).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Creates a queued run with a new id.
    pub async fn create_run(&self, new: NewRun, now: DateTime<Utc>) -> Result<RunRecord, StoreError> {
        let run_id = new_run_id(now);
        let row = run::ActiveModel {
            run_id: Set(run_id.clone()),
            kind: Set(new.kind.as_str().to_owned()),
            state: Set(RunState::Queued.as_str().to_owned()),
            dry_run: Set(new.dry_run),
            trigger: Set(new.trigger),
            targets: Set(json(&new.targets)),
            as_of: Set(new.as_of),
            created_at: Set(now),
            started_at: Set(None),
            finished_at: Set(None),
            progress: Set(json(&Progress::default())),
            report: Set(None),
            error: Set(None),
        };
        run::Entity::insert(row).exec_without_returning(&self.db).await?;
        self.get_run(&run_id).await?.ok_or_else(|| StoreError::Corrupt {
            run_id,
            reason: "vanished after insert".to_owned(),
        })
    }

    /// Returns a run.
    pub async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        run::Entity::find_by_id(run_id.to_owned())
            .one(&self.db)
            .await?
            .map(decode)
            .transpose()
    }

    /// Lists runs newest first, after the run `after` (a page token), at most `limit`.
    pub async fn list_runs(&self, after: Option<&str>, limit: u64) -> Result<Vec<RunRecord>, StoreError> {
        let mut query = run::Entity::find()
            .order_by_desc(run::Column::CreatedAt)
            .order_by_desc(run::Column::RunId);
        if let Some(after) = after
            && let Some(anchor) = run::Entity::find_by_id(after.to_owned()).one(&self.db).await?
        {
            query = query.filter(
                Condition::any().add(run::Column::CreatedAt.lt(anchor.created_at)).add(
                    Condition::all()
                        .add(run::Column::CreatedAt.eq(anchor.created_at))
                        .add(run::Column::RunId.lt(anchor.run_id)),
                ),
            );
        }
        query
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    /// Returns the runs in `state`, oldest first.
    pub async fn runs_in_state(&self, state: RunState) -> Result<Vec<RunRecord>, StoreError> {
        run::Entity::find()
            .filter(run::Column::State.eq(state.as_str()))
            .order_by_asc(run::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    /// Moves a queued run to running; returns false when it was not queued (another
    /// replica, or a cancellation, got there first).
    pub async fn start_run(&self, run_id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let updated = run::Entity::update_many()
            .col_expr(run::Column::State, Expr::value(RunState::Running.as_str()))
            .col_expr(run::Column::StartedAt, Expr::value(now))
            .filter(run::Column::RunId.eq(run_id))
            .filter(run::Column::State.eq(RunState::Queued.as_str()))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected > 0)
    }

    /// Stores progress and the report so far of a running run.
    pub async fn save_progress(&self, run_id: &str, progress: &Progress, report: &Report) -> Result<(), StoreError> {
        run::Entity::update_many()
            .col_expr(run::Column::Progress, Expr::value(json(progress)))
            .col_expr(run::Column::Report, Expr::value(json(report)))
            .filter(run::Column::RunId.eq(run_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Ends a run; a run already ended is left as it was. Returns false then.
    pub async fn finish_run(
        &self,
        run_id: &str,
        state: RunState,
        report: &Report,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let updated = run::Entity::update_many()
            .col_expr(run::Column::State, Expr::value(state.as_str()))
            .col_expr(run::Column::Report, Expr::value(json(report)))
            .col_expr(run::Column::Error, Expr::value(error.map(str::to_owned)))
            .col_expr(run::Column::FinishedAt, Expr::value(now))
            .filter(run::Column::RunId.eq(run_id))
            .filter(run::Column::State.is_in([RunState::Queued.as_str(), RunState::Running.as_str()]))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected > 0)
    }

    /// Records that batch `sequence` of a run is done through its last phase.
    pub async fn checkpoint(
        &self,
        run_id: &str,
        sequence: i64,
        last_customer_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = run_checkpoint::ActiveModel {
            run_id: Set(run_id.to_owned()),
            sequence: Set(sequence),
            phase: Set("done".to_owned()),
            last_customer_id: Set(last_customer_id.to_owned()),
            state: Set("done".to_owned()),
            updated_at: Set(now),
        };
        run_checkpoint::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([run_checkpoint::Column::RunId, run_checkpoint::Column::Sequence])
                    .update_columns([
                        run_checkpoint::Column::LastCustomerId,
                        run_checkpoint::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// Returns the last checkpoint of a run: its sequence and last customer id.
    pub async fn last_checkpoint(&self, run_id: &str) -> Result<Option<(i64, String)>, StoreError> {
        let row = run_checkpoint::Entity::find()
            .filter(run_checkpoint::Column::RunId.eq(run_id))
            .order_by_desc(run_checkpoint::Column::Sequence)
            .one(&self.db)
            .await?;
        Ok(row.map(|row| (row.sequence, row.last_customer_id)))
    }

    /// Returns a watermark.
    pub async fn watermark(&self, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(watermark::Entity::find_by_id(name.to_owned())
            .one(&self.db)
            .await?
            .map(|row| row.value))
    }

    /// Moves a watermark forward (never back) for a run that succeeded.
    pub async fn advance_watermark(
        &self,
        name: &str,
        value: DateTime<Utc>,
        run_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Some(current) = self.watermark(name).await?
            && current >= value
        {
            return Ok(());
        }
        let row = watermark::ActiveModel {
            name: Set(name.to_owned()),
            value: Set(value),
            run_id: Set(run_id.to_owned()),
            updated_at: Set(now),
        };
        watermark::Entity::insert(row)
            .on_conflict(
                OnConflict::column(watermark::Column::Name)
                    .update_columns([
                        watermark::Column::Value,
                        watermark::Column::RunId,
                        watermark::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// Records rejected records of a run.
    pub async fn add_rejects(
        &self,
        run_id: &str,
        rejections: &[Rejection],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if rejections.is_empty() {
            return Ok(());
        }
        let rows = rejections.iter().map(|r| rejected_record::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            run_id: Set(run_id.to_owned()),
            customer_id: Set(r.customer_id.clone()),
            record_kind: Set(r.record_kind.as_str().to_owned()),
            record_id: Set(r.record_id.clone()),
            field: Set(r.field.clone()),
            reason: Set(r.reason.clone()),
            created_at: Set(now),
        });
        rejected_record::Entity::insert_many(rows)
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// Lists a run's rejected records after id `after`, at most `limit`.
    pub async fn list_rejects(
        &self,
        run_id: &str,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<rejected_record::Model>, StoreError> {
        let mut query = rejected_record::Entity::find()
            .filter(rejected_record::Column::RunId.eq(run_id))
            .order_by_asc(rejected_record::Column::Id);
        if let Some(after) = after {
            query = query.filter(rejected_record::Column::Id.gt(after));
        }
        Ok(query.limit(limit).all(&self.db).await?)
    }

    /// Accepts a webhook signature once; false when it was seen before (a replay).
    /// Signatures older than twice the replay window are forgotten: their timestamps
    /// would be refused anyway.
    pub async fn accept_webhook(
        &self,
        signature: &str,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<bool, StoreError> {
        webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::ReceivedAt.lt(now - window * 2))
            .exec(&self.db)
            .await?;
        let row = webhook_delivery::ActiveModel {
            signature: Set(signature.to_owned()),
            received_at: Set(now),
        };
        let inserted = webhook_delivery::Entity::insert(row)
            .on_conflict_do_nothing_on([webhook_delivery::Column::Signature])
            .exec_without_returning(&self.db)
            .await?;
        Ok(matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0))
    }

    /// Returns the occurrence a schedule last handled.
    pub async fn schedule_last_handled(&self, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(schedule_state::Entity::find_by_id(name.to_owned())
            .one(&self.db)
            .await?
            .map(|row| row.last_handled))
    }

    /// Records the occurrence a schedule handled.
    pub async fn set_schedule_last_handled(&self, name: &str, occurrence: DateTime<Utc>) -> Result<(), StoreError> {
        let row = schedule_state::ActiveModel {
            name: Set(name.to_owned()),
            last_handled: Set(occurrence),
        };
        schedule_state::Entity::insert(row)
            .on_conflict(
                OnConflict::column(schedule_state::Column::Name)
                    .update_column(schedule_state::Column::LastHandled)
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }
}

/// A run id that sorts by creation time and is unique across replicas.
fn new_run_id(now: DateTime<Utc>) -> String {
    let mut random = [0u8; 4];
    // Without randomness two replicas could collide within a millisecond; the
    // timestamp alone still orders the ids, so fall back to zeros rather than fail.
    let _ = getrandom::fill(&mut random);
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("run-{}-{suffix}", now.format("%Y%m%dT%H%M%S%3fZ"))
}

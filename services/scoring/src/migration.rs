//! The scoring service's tables: runs, the last score per customer, and migrations.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, boolean, date, string, text, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

/// Applies the scoring service's migrations in order.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateScoreHistory), Box::new(StagePerRun)]
    }

    fn migration_table_name() -> DynIden {
        "scoring_migrations".into_iden()
    }
}

#[derive(DeriveIden)]
enum ScoringRun {
    Table,
    RunId,
    AsOf,
    State,
    StartedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum CustomerScore {
    Table,
    CustomerId,
    AsOf,
    RunId,
    AccountStanding,
    BehaviorSegment,
    LoyaltyTier,
    Score,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SegmentMigration {
    Table,
    Id,
    CustomerId,
    Dimension,
    FromSegment,
    ToSegment,
    FromDate,
    ToDate,
    RunId,
    TowardRisk,
    RecordedAt,
}

struct CreateScoreHistory;

impl MigrationName for CreateScoreHistory {
    fn name(&self) -> &str {
        "m0001_create_score_history"
    }
}

// sea-orm-migration declares `up` with an elided lifetime; naming it would no longer
// match the trait's signature.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateScoreHistory {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ScoringRun::Table)
                    .if_not_exists()
                    .col(string(ScoringRun::RunId).primary_key())
                    .col(date(ScoringRun::AsOf))
                    .col(string(ScoringRun::State))
                    .col(timestamp_with_time_zone(ScoringRun::StartedAt))
                    .col(timestamp_with_time_zone_null(ScoringRun::CompletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CustomerScore::Table)
                    .if_not_exists()
                    .col(string(CustomerScore::CustomerId).primary_key())
                    .col(date(CustomerScore::AsOf))
                    .col(string(CustomerScore::RunId))
                    .col(string(CustomerScore::AccountStanding))
                    .col(string(CustomerScore::BehaviorSegment))
                    .col(string(CustomerScore::LoyaltyTier))
                    .col(text(CustomerScore::Score))
                    .col(timestamp_with_time_zone(CustomerScore::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SegmentMigration::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SegmentMigration::Id))
                    .col(string(SegmentMigration::CustomerId))
                    .col(string(SegmentMigration::Dimension))
                    .col(string(SegmentMigration::FromSegment))
                    .col(string(SegmentMigration::ToSegment))
                    .col(date(SegmentMigration::FromDate))
                    .col(date(SegmentMigration::ToDate))
                    .col(string(SegmentMigration::RunId))
                    .col(boolean(SegmentMigration::TowardRisk))
                    .col(timestamp_with_time_zone(SegmentMigration::RecordedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_segment_migration_customer", SegmentMigration::CustomerId),
            ("idx_segment_migration_to", SegmentMigration::ToSegment),
            ("idx_segment_migration_from", SegmentMigration::FromSegment),
        ] {
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name(name)
                        .table(SegmentMigration::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum PendingScore {
    Table,
    RunId,
    CustomerId,
    AsOf,
    AccountStanding,
    BehaviorSegment,
    LoyaltyTier,
    Score,
    StagedAt,
}

#[derive(DeriveIden)]
enum ScoringRunCustomers {
    Customers,
}

/// Scores are staged per run and become a customer's last score only when the run
/// completes, so a failed run never moves the base of new aging.
struct StagePerRun;

impl MigrationName for StagePerRun {
    fn name(&self) -> &str {
        "m0002_stage_scores_per_run"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for StagePerRun {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PendingScore::Table)
                    .if_not_exists()
                    .col(string(PendingScore::RunId))
                    .col(string(PendingScore::CustomerId))
                    .col(date(PendingScore::AsOf))
                    .col(string(PendingScore::AccountStanding))
                    .col(string(PendingScore::BehaviorSegment))
                    .col(string(PendingScore::LoyaltyTier))
                    .col(text(PendingScore::Score))
                    .col(timestamp_with_time_zone(PendingScore::StagedAt))
                    .primary_key(
                        Index::create()
                            .name("pk_pending_score")
                            .col(PendingScore::RunId)
                            .col(PendingScore::CustomerId),
                    )
                    .to_owned(),
            )
            .await?;
        // Re-applying must be harmless: the column may already be there when a previous
        // attempt failed after adding it.
        if !manager.has_column("scoring_run", "customers").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(ScoringRun::Table)
                        .add_column(big_integer(ScoringRunCustomers::Customers).default(0))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_segment_migration_run")
                    .table(SegmentMigration::Table)
                    .col(SegmentMigration::RunId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

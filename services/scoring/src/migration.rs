//! The scoring service's tables: runs, the last score per customer, and migrations.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_pk_auto, boolean, date, string, text, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

/// Applies the scoring service's migrations in order.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateScoreHistory)]
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

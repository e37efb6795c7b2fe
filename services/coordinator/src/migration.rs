//! The coordinator's tables: runs, per-batch checkpoints, watermarks and the records
//! set aside with their reasons.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, boolean, date, string, text, text_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null,
};

/// Applies the coordinator's migrations in order.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateRuns), Box::new(CreateTriggers)]
    }

    fn migration_table_name() -> DynIden {
        "coordinator_migrations".into_iden()
    }
}

// The variants are the table's column names, so some repeat the table's name.
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum Run {
    Table,
    RunId,
    Kind,
    State,
    DryRun,
    Trigger,
    Targets,
    AsOf,
    CreatedAt,
    StartedAt,
    FinishedAt,
    Progress,
    Report,
    Error,
}

#[derive(DeriveIden)]
enum RunCheckpoint {
    Table,
    RunId,
    Sequence,
    Phase,
    LastCustomerId,
    State,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Watermark {
    Table,
    Name,
    Value,
    RunId,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RejectedRecord {
    Table,
    Id,
    RunId,
    CustomerId,
    RecordKind,
    RecordId,
    Field,
    Reason,
    CreatedAt,
}

struct CreateRuns;

impl MigrationName for CreateRuns {
    fn name(&self) -> &str {
        "m0001_create_runs"
    }
}

// sea-orm-migration declares `up` with an elided lifetime; naming it would no longer
// match the trait's signature.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateRuns {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Run::Table)
                    .if_not_exists()
                    .col(string(Run::RunId).primary_key())
                    .col(string(Run::Kind))
                    .col(string(Run::State))
                    .col(boolean(Run::DryRun))
                    .col(string(Run::Trigger))
                    .col(text(Run::Targets))
                    .col(date(Run::AsOf))
                    .col(timestamp_with_time_zone(Run::CreatedAt))
                    .col(timestamp_with_time_zone_null(Run::StartedAt))
                    .col(timestamp_with_time_zone_null(Run::FinishedAt))
                    .col(text(Run::Progress))
                    .col(text_null(Run::Report))
                    .col(text_null(Run::Error))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RunCheckpoint::Table)
                    .if_not_exists()
                    .col(string(RunCheckpoint::RunId))
                    .col(big_integer(RunCheckpoint::Sequence))
                    .col(string(RunCheckpoint::Phase))
                    .col(string(RunCheckpoint::LastCustomerId))
                    .col(string(RunCheckpoint::State))
                    .col(timestamp_with_time_zone(RunCheckpoint::UpdatedAt))
                    .primary_key(Index::create().col(RunCheckpoint::RunId).col(RunCheckpoint::Sequence))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Watermark::Table)
                    .if_not_exists()
                    .col(string(Watermark::Name).primary_key())
                    .col(timestamp_with_time_zone(Watermark::Value))
                    .col(string(Watermark::RunId))
                    .col(timestamp_with_time_zone(Watermark::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RejectedRecord::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RejectedRecord::Id))
                    .col(string(RejectedRecord::RunId))
                    .col(string(RejectedRecord::CustomerId))
                    .col(string(RejectedRecord::RecordKind))
                    .col(string(RejectedRecord::RecordId))
                    .col(string(RejectedRecord::Field))
                    .col(text(RejectedRecord::Reason))
                    .col(timestamp_with_time_zone(RejectedRecord::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_rejected_record_run")
                    .table(RejectedRecord::Table)
                    .col(RejectedRecord::RunId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum WebhookDelivery {
    Table,
    Signature,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum ScheduleState {
    Table,
    Name,
    LastHandled,
}

/// Replay protection for the webhook, and when each schedule last fired.
struct CreateTriggers;

impl MigrationName for CreateTriggers {
    fn name(&self) -> &str {
        "m0002_create_triggers"
    }
}

// sea-orm-migration declares `up` with an elided lifetime; naming it would no longer
// match the trait's signature.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateTriggers {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookDelivery::Table)
                    .if_not_exists()
                    .col(string(WebhookDelivery::Signature).primary_key())
                    .col(timestamp_with_time_zone(WebhookDelivery::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScheduleState::Table)
                    .if_not_exists()
                    .col(string(ScheduleState::Name).primary_key())
                    .col(timestamp_with_time_zone(ScheduleState::LastHandled))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_run_state_created")
                    .table(Run::Table)
                    .col(Run::State)
                    .col(Run::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

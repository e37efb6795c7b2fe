//! The reminder service's tables: the ledger of reminder keys, pauses, and when each
//! order's outstanding balance was first seen.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    date, date_null, integer_null, string, string_null, text, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

/// Applies the reminder service's migrations in order.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateLedger), Box::new(CreateCustomerState)]
    }

    fn migration_table_name() -> DynIden {
        "reminder_migrations".into_iden()
    }
}

#[derive(DeriveIden)]
enum ReminderLedger {
    Table,
    Key,
    Kind,
    CustomerId,
    InvoiceId,
    OrderId,
    RunId,
    State,
    Event,
    ReservedAt,
    ExpiresAt,
    ConfirmedAt,
}

#[derive(DeriveIden)]
enum ReminderPause {
    Table,
    InvoiceId,
    Until,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BalanceDetection {
    Table,
    OrderId,
    CustomerId,
    DetectedOn,
    LastWindow,
}

struct CreateLedger;

impl MigrationName for CreateLedger {
    fn name(&self) -> &str {
        "m0001_create_ledger"
    }
}

// sea-orm-migration declares `up` with an elided lifetime; naming it would no longer
// match the trait's signature.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateLedger {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReminderLedger::Table)
                    .if_not_exists()
                    // The primary key is what makes a second reservation of a key impossible,
                    // even for two coordinators at once.
                    .col(string(ReminderLedger::Key).primary_key())
                    .col(string(ReminderLedger::Kind))
                    .col(string(ReminderLedger::CustomerId))
                    .col(string_null(ReminderLedger::InvoiceId))
                    .col(string_null(ReminderLedger::OrderId))
                    .col(string(ReminderLedger::RunId))
                    .col(string(ReminderLedger::State))
                    .col(text(ReminderLedger::Event))
                    .col(timestamp_with_time_zone(ReminderLedger::ReservedAt))
                    .col(timestamp_with_time_zone(ReminderLedger::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ReminderLedger::ConfirmedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_reminder_ledger_customer", ReminderLedger::CustomerId),
            ("idx_reminder_ledger_invoice", ReminderLedger::InvoiceId),
            ("idx_reminder_ledger_order", ReminderLedger::OrderId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name(name)
                        .table(ReminderLedger::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ReminderPause::Table)
                    .if_not_exists()
                    .col(string(ReminderPause::InvoiceId).primary_key())
                    .col(date(ReminderPause::Until))
                    .col(text(ReminderPause::Reason))
                    .col(timestamp_with_time_zone(ReminderPause::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BalanceDetection::Table)
                    .if_not_exists()
                    .col(string(BalanceDetection::OrderId).primary_key())
                    .col(string(BalanceDetection::CustomerId))
                    .col(date(BalanceDetection::DetectedOn))
                    .col(integer_null(BalanceDetection::LastWindow))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ReminderCustomerState {
    Table,
    CustomerId,
    PreviousRun,
    PendingRunId,
    PendingAsOf,
}

/// Per customer, the as-of date of the last run whose reminders were all confirmed,
/// the base of "newly crossed" aging thresholds; and the run still waiting for its
/// confirmations.
struct CreateCustomerState;

impl MigrationName for CreateCustomerState {
    fn name(&self) -> &str {
        "m0002_create_customer_state"
    }
}

// sea-orm-migration declares `up` with an elided lifetime; naming it would no longer
// match the trait's signature.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateCustomerState {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReminderCustomerState::Table)
                    .if_not_exists()
                    .col(string(ReminderCustomerState::CustomerId).primary_key())
                    .col(date_null(ReminderCustomerState::PreviousRun))
                    .col(string_null(ReminderCustomerState::PendingRunId))
                    .col(date_null(ReminderCustomerState::PendingAsOf))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

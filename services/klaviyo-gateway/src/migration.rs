//! The gateway's tables: the digest of what each profile last received, bulk jobs in
//! flight, and the Klaviyo ids of the segments and lists it manages.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    string, string_null, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

/// Applies the gateway's migrations in order.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateSyncState), Box::new(AddWrittenProperties)]
    }

    fn migration_table_name() -> DynIden {
        "klaviyo_gateway_migrations".into_iden()
    }
}

#[derive(DeriveIden)]
enum ProfileDigest {
    Table,
    CustomerId,
    ProfileId,
    Digest,
    WrittenAt,
    Properties,
}

#[derive(DeriveIden)]
enum BulkJob {
    Table,
    JobId,
    Kind,
    RunId,
    Status,
    CreatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum ManagedObject {
    Table,
    Kind,
    Name,
    KlaviyoId,
    DefinitionDigest,
    UpdatedAt,
}

struct CreateSyncState;

impl MigrationName for CreateSyncState {
    fn name(&self) -> &str {
        "m0001_create_sync_state"
    }
}

// sea-orm-migration declares `up` with an elided lifetime; naming it would no longer
// match the trait's signature.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateSyncState {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProfileDigest::Table)
                    .if_not_exists()
                    .col(string(ProfileDigest::CustomerId).primary_key())
                    .col(string_null(ProfileDigest::ProfileId))
                    .col(string(ProfileDigest::Digest))
                    .col(timestamp_with_time_zone(ProfileDigest::WrittenAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BulkJob::Table)
                    .if_not_exists()
                    .col(string(BulkJob::JobId).primary_key())
                    .col(string(BulkJob::Kind))
                    .col(string(BulkJob::RunId))
                    .col(string(BulkJob::Status))
                    .col(timestamp_with_time_zone(BulkJob::CreatedAt))
                    .col(timestamp_with_time_zone_null(BulkJob::CompletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ManagedObject::Table)
                    .if_not_exists()
                    .col(string(ManagedObject::Kind))
                    .col(string(ManagedObject::Name))
                    .col(string(ManagedObject::KlaviyoId))
                    .col(string(ManagedObject::DefinitionDigest))
                    .col(timestamp_with_time_zone(ManagedObject::UpdatedAt))
                    .primary_key(Index::create().col(ManagedObject::Kind).col(ManagedObject::Name))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

/// Keeps, beside the digest, the properties last written (a JSON object), so a later
/// write knows which names to unset and lists can be kept in step without asking Klaviyo.
struct AddWrittenProperties;

impl MigrationName for AddWrittenProperties {
    fn name(&self) -> &str {
        "m0002_add_written_properties"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddWrittenProperties {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.has_column("profile_digest", "properties").await? {
            return Ok(());
        }
        manager
            .alter_table(
                Table::alter()
                    .table(ProfileDigest::Table)
                    .add_column(text_null(ProfileDigest::Properties))
                    .to_owned(),
            )
            .await
    }
}

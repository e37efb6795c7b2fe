//! The gateway's memory of what each profile last received.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ledgerlink_store::DatabaseConnection;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use serde_json::{Map, Value, json};

use crate::mapping::Identity;

/// The `profile_digest` table: one row per profile key.
pub mod profile_digest {
    use sea_orm::entity::prelude::*;

    /// A profile's last successful write.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "profile_digest")]
    pub struct Model {
        /// The profile key (the customer id, or `{customer}#contact:{contact}`).
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: String,
        /// Klaviyo's profile id, when known.
        pub profile_id: Option<String>,
        /// The digest of what was written.
        pub digest: String,
        /// When it was written.
        pub written_at: ChronoDateTimeUtc,
        /// The identity and properties written, as a JSON object.
        #[sea_orm(column_type = "Text", nullable)]
        pub properties: Option<String>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What the store remembers of one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The digest last written.
    pub digest: String,
    /// Klaviyo's id, when known.
    pub profile_id: Option<String>,
    /// The identifiers it was written with.
    pub identity: Identity,
    /// The properties last written.
    pub properties: Map<String, Value>,
}

/// Reads and records digests.
#[derive(Debug, Clone)]
pub struct DigestStore {
    db: DatabaseConnection,
}

/// How many keys go in one `IN (…)` query.
const CHUNK: usize = 500;

impl DigestStore {
    /// Wraps an open, migrated connection.
    pub fn new(db: DatabaseConnection) -> DigestStore {
        DigestStore { db }
    }

    /// What was last written for each of `keys` that has a row.
    pub async fn load(&self, keys: &[String]) -> Result<HashMap<String, Written>, DbErr> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(CHUNK) {
            let rows = profile_digest::Entity::find()
                .filter(profile_digest::Column::CustomerId.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await?;
            for row in rows {
                found.insert(row.customer_id.clone(), written(row));
            }
        }
        Ok(found)
    }

    /// Every row, for list membership.
    pub async fn all(&self) -> Result<Vec<(String, Written)>, DbErr> {
        let rows = profile_digest::Entity::find().all(&self.db).await?;
        Ok(rows
            .into_iter()
            .map(|row| (row.customer_id.clone(), written(row)))
            .collect())
    }

    /// Records confirmed writes.
    pub async fn record(&self, rows: Vec<(String, Written)>, at: DateTime<Utc>) -> Result<(), DbErr> {
        for chunk in rows.chunks(CHUNK) {
            let models = chunk.iter().map(|(key, written)| profile_digest::ActiveModel {
                customer_id: sea_orm::Set(key.clone()),
                profile_id: sea_orm::Set(written.profile_id.clone()),
                digest: sea_orm::Set(written.digest.clone()),
                written_at: sea_orm::Set(at),
                properties: sea_orm::Set(Some(
                    json!({
                        "email": written.identity.email,
                        "external_id": written.identity.external_id,
                        "properties": written.properties,
                    })
                    .to_string(),
                )),
            });
            profile_digest::Entity::insert_many(models)
                .on_conflict(
                    OnConflict::column(profile_digest::Column::CustomerId)
                        .update_columns([
                            profile_digest::Column::ProfileId,
                            profile_digest::Column::Digest,
                            profile_digest::Column::WrittenAt,
                            profile_digest::Column::Properties,
                        ])
                        .to_owned(),
                )
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }

    /// Remembers Klaviyo ids found later (by lookup).
    pub async fn set_profile_ids(&self, ids: &[(String, String)]) -> Result<(), DbErr> {
        for (key, id) in ids {
            profile_digest::Entity::update_many()
                .col_expr(
                    profile_digest::Column::ProfileId,
                    sea_orm::sea_query::Expr::value(id.clone()),
                )
                .filter(profile_digest::Column::CustomerId.eq(key.clone()))
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }
}

fn written(row: profile_digest::Model) -> Written {
    let stored: Value = row
        .properties
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    let text = |name: &str| stored.get(name).and_then(Value::as_str).map(str::to_owned);
    Written {
        digest: row.digest,
        profile_id: row.profile_id,
        identity: Identity {
            email: text("email"),
            external_id: text("external_id"),
        },
        properties: stored
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    }
}

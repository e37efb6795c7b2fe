//! sea-orm entities of the scoring service's tables (see [`crate::migration`]).

/// One scoring run: its as-of date and whether it completed.
pub mod scoring_run {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scoring_run")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub run_id: String,
        pub as_of: Date,
        pub state: String,
        pub started_at: ChronoDateTimeUtc,
        pub completed_at: Option<ChronoDateTimeUtc>,
        pub customers: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The last committed score of each customer: the base of new aging and migrations.
pub mod customer_score {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customer_score")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: String,
        pub as_of: Date,
        pub run_id: String,
        pub account_standing: String,
        pub behavior_segment: String,
        pub loyalty_tier: String,
        #[sea_orm(column_type = "Text")]
        pub score: String,
        pub updated_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A score computed in a run that has not completed yet.
pub mod pending_score {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pending_score")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub run_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: String,
        pub as_of: Date,
        pub account_standing: String,
        pub behavior_segment: String,
        pub loyalty_tier: String,
        #[sea_orm(column_type = "Text")]
        pub score: String,
        pub staged_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One recorded change of segment.
pub mod segment_migration {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "segment_migration")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub customer_id: String,
        pub dimension: String,
        pub from_segment: String,
        pub to_segment: String,
        pub from_date: Date,
        pub to_date: Date,
        pub run_id: String,
        pub toward_risk: bool,
        pub recorded_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

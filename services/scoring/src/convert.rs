//! Conversions between the scoring service's wire types and domain types.
//!
//! Snapshots, scores and rejections convert with [`ledgerlink_proto::convert`] (shared by
//! every service and re-exported here); this module adds segment migrations and
//! dimensions, which belong to the scoring engine.

pub use ledgerlink_proto::convert::*;
use ledgerlink_proto::types::v1 as pb;
use ledgerlink_scoring_engine::{Dimension, SegmentMigration};

use crate::history::RecordedMigration;

/// Returns the wire form of a dimension.
pub fn dimension_to_pb(dimension: Dimension) -> pb::SegmentDimension {
    match dimension {
        Dimension::AccountStanding => pb::SegmentDimension::AccountStanding,
        Dimension::BehaviorSegment => pb::SegmentDimension::BehaviorSegment,
        Dimension::LoyaltyTier => pb::SegmentDimension::LoyaltyTier,
    }
}

/// Reads a wire dimension; `None` for an unspecified or unknown value.
pub fn dimension_from_pb(dimension: i32) -> Option<Dimension> {
    match pb::SegmentDimension::try_from(dimension) {
        Ok(pb::SegmentDimension::AccountStanding) => Some(Dimension::AccountStanding),
        Ok(pb::SegmentDimension::BehaviorSegment) => Some(Dimension::BehaviorSegment),
        Ok(pb::SegmentDimension::LoyaltyTier) => Some(Dimension::LoyaltyTier),
        _ => None,
    }
}

/// Returns the wire form of a migration found in run `run_id`.
pub fn migration_to_pb(migration: &SegmentMigration, run_id: &str) -> pb::SegmentMigration {
    pb::SegmentMigration {
        customer_id: migration.customer_id.clone(),
        dimension: dimension_to_pb(migration.dimension) as i32,
        from_segment: migration.from.clone(),
        to_segment: migration.to.clone(),
        from_date: Some(date_to_pb(migration.from_date)),
        to_date: Some(date_to_pb(migration.to_date)),
        run_id: run_id.to_owned(),
        toward_risk: migration.toward_risk,
    }
}

/// Returns the wire form of a recorded migration.
pub fn recorded_migration_to_pb(recorded: &RecordedMigration) -> pb::SegmentMigration {
    migration_to_pb(&recorded.migration, &recorded.run_id)
}

/// Reads a wire migration.
pub fn migration_from_pb(migration: &pb::SegmentMigration) -> Result<RecordedMigration, ConvertError> {
    let dimension = dimension_from_pb(migration.dimension).ok_or_else(|| ConvertError {
        field: "dimension".to_owned(),
        reason: format!("unknown dimension {}", migration.dimension),
    })?;
    Ok(RecordedMigration {
        migration: SegmentMigration {
            customer_id: migration.customer_id.clone(),
            dimension,
            from: migration.from_segment.clone(),
            to: migration.to_segment.clone(),
            from_date: required_date(migration.from_date.as_ref(), "from_date")?,
            to_date: required_date(migration.to_date.as_ref(), "to_date")?,
            toward_risk: migration.toward_risk,
        },
        run_id: migration.run_id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn migrations_round_trip_through_the_wire() {
        let recorded = RecordedMigration {
            migration: SegmentMigration {
                customer_id: "42".into(),
                dimension: Dimension::BehaviorSegment,
                from: "reliable_frequent".into(),
                to: "at_risk".into(),
                from_date: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
                to_date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
                toward_risk: true,
            },
            run_id: "run-7".into(),
        };
        let wire = recorded_migration_to_pb(&recorded);
        assert_eq!(wire.dimension, pb::SegmentDimension::BehaviorSegment as i32);
        assert_eq!(migration_from_pb(&wire).unwrap(), recorded);
    }

    #[test]
    fn an_unspecified_dimension_does_not_convert() {
        let wire = pb::SegmentMigration::default();
        assert_eq!(migration_from_pb(&wire).unwrap_err().field, "dimension");
    }
}

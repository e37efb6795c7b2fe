//! Reminder events on the wire.

use ledgerlink_proto::convert::{money_to_pb, timestamp_to_pb};
use ledgerlink_proto::types::v1 as pb;
use ledgerlink_reminder_planner::{ReminderEvent, ReminderKind};

/// Returns the wire form of a planned event.
pub fn event_to_pb(event: &ReminderEvent) -> pb::ReminderEvent {
    pb::ReminderEvent {
        key: event.key.clone(),
        kind: match event.kind {
            ReminderKind::Milestone => pb::ReminderKind::Milestone,
            ReminderKind::Aging => pb::ReminderKind::AgingThreshold,
            ReminderKind::Balance => pb::ReminderKind::RecurringBalance,
            ReminderKind::Standing => pb::ReminderKind::StandingChange,
        } as i32,
        metric: event.metric.clone(),
        customer_id: event.customer_id.clone(),
        profile: Some(pb::ProfileIdentity {
            email: event.profile.email.clone(),
            external_id: Some(event.profile.external_id.clone()),
        }),
        // Serializing plain owned data cannot fail.
        properties_json: serde_json::to_string(&event.properties).unwrap_or_else(|_| "{}".to_owned()),
        time: Some(timestamp_to_pb(event.time)),
        value: Some(money_to_pb(
            event.value.to_cents(),
            event.properties.currency.as_deref(),
        )),
    }
}

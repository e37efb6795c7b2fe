//! Membership of a profile in a segment, for the condition types simple enough to
//! evaluate from stored state: profile properties (string, numeric, boolean and
//! existence filters) and list membership. Anything else makes the segment
//! unevaluable (`None`), and the simulator then reports it with no members.

use serde_json::Value;

use crate::model::Profile;

/// Evaluates `definition` for `profile`, a member of `list_ids`. Condition groups are
/// combined with AND, the conditions inside a group with OR.
pub fn is_member(definition: &Value, profile: &Profile, list_ids: &[String]) -> Option<bool> {
    let groups = definition.get("condition_groups")?.as_array()?;
    let mut all = true;
    for group in groups {
        let mut any = false;
        for condition in group.get("conditions")?.as_array()? {
            any |= condition_holds(condition, profile, list_ids)?;
        }
        all &= any;
    }
    Some(all)
}

fn condition_holds(condition: &Value, profile: &Profile, list_ids: &[String]) -> Option<bool> {
    match condition.get("type")?.as_str()? {
        "profile-property" => {
            let property = condition.get("property")?.as_str()?;
            let actual = lookup(profile, property);
            filter_holds(condition.get("filter")?, actual.as_ref())
        }
        "profile-group-membership" => {
            let groups = condition.get("group_ids")?.as_array()?;
            if condition.get("timeframe_filter").is_some_and(|t| !t.is_null()) {
                return None;
            }
            let member = groups
                .iter()
                .filter_map(Value::as_str)
                .any(|g| list_ids.iter().any(|l| l == g));
            let wanted = condition.get("is_member").and_then(Value::as_bool).unwrap_or(true);
            Some(member == wanted)
        }
        _ => None,
    }
}

fn lookup(profile: &Profile, property: &str) -> Option<Value> {
    if let Some(name) = property.strip_prefix("properties[").and_then(|r| r.strip_suffix(']')) {
        let name = name.trim_matches(|c| c == '\'' || c == '"');
        return profile.properties.get(name).cloned();
    }
    match property {
        "email" => profile.email.clone().map(Value::String),
        "phone_number" => profile.phone_number.clone().map(Value::String),
        "external_id" => profile.external_id.clone().map(Value::String),
        other => profile
            .attributes
            .get(other)
            .or_else(|| profile.location.get(other))
            .cloned(),
    }
}

fn filter_holds(filter: &Value, actual: Option<&Value>) -> Option<bool> {
    let operator = filter.get("operator")?.as_str()?;
    let expected = filter.get("value");
    match filter.get("type")?.as_str()? {
        "existence" => Some(match operator {
            "is-set" => actual.is_some_and(|v| !v.is_null()),
            "not-set" => actual.is_none_or(Value::is_null),
            _ => return None,
        }),
        "string" => {
            let wanted = expected?.as_str().unwrap_or_default();
            let Some(have) = actual.and_then(Value::as_str) else {
                return Some(false);
            };
            Some(match operator {
                "equals" => have == wanted,
                "not-equals" => have != wanted,
                "contains" => have.contains(wanted),
                "not-contains" => !have.contains(wanted),
                "starts-with" => have.starts_with(wanted),
                "not-starts-with" => !have.starts_with(wanted),
                "ends-with" => have.ends_with(wanted),
                "not-ends-with" => !have.ends_with(wanted),
                _ => return None,
            })
        }
        "numeric" => {
            let wanted = expected?.as_f64()?;
            let Some(have) = actual.and_then(Value::as_f64) else {
                return Some(false);
            };
            Some(match operator {
                "equals" => have == wanted,
                "not-equals" => have != wanted,
                "greater-than" => have > wanted,
                "greater-than-or-equal" => have >= wanted,
                "less-than" => have < wanted,
                "less-than-or-equal" => have <= wanted,
                _ => return None,
            })
        }
        "boolean" => Some(actual.and_then(Value::as_bool) == expected?.as_bool()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::{Map, json};

    use super::*;

    fn profile(properties: Value) -> Profile {
        Profile {
            id: "P".into(),
            email: Some("a@b.com".into()),
            phone_number: None,
            external_id: None,
            attributes: Map::new(),
            location: Map::new(),
            properties: properties.as_object().unwrap().clone(),
            created: Utc::now(),
            updated: Utc::now(),
            last_event_date: None,
        }
    }

    fn numeric(name: &str, operator: &str, value: f64) -> Value {
        json!({ "type": "profile-property", "property": format!("properties['{name}']"),
                "filter": { "type": "numeric", "operator": operator, "value": value } })
    }

    #[test]
    fn groups_are_and_conditions_are_or() {
        let definition = json!({ "condition_groups": [
            { "conditions": [ numeric("credit_limit", "greater-than-or-equal", 50000.0) ] },
            { "conditions": [ numeric("on_time_rate_pct", "greater-than-or-equal", 90.0), numeric("vip", "equals", 1.0) ] },
        ] });
        let vip = profile(json!({ "credit_limit": 60000, "on_time_rate_pct": 95 }));
        let late = profile(json!({ "credit_limit": 60000, "on_time_rate_pct": 50 }));
        let flagged = profile(json!({ "credit_limit": 60000, "on_time_rate_pct": 50, "vip": 1 }));
        assert_eq!(is_member(&definition, &vip, &[]), Some(true));
        assert_eq!(is_member(&definition, &late, &[]), Some(false));
        assert_eq!(is_member(&definition, &flagged, &[]), Some(true));
    }

    #[test]
    fn boolean_existence_string_and_list_conditions() {
        let p = profile(json!({ "credit_hold": true, "tier": "platinum" }));
        let definition = json!({ "condition_groups": [
            { "conditions": [ { "type": "profile-property", "property": "properties['credit_hold']", "filter": { "type": "boolean", "operator": "equals", "value": true } } ] },
            { "conditions": [ { "type": "profile-property", "property": "properties['missing']", "filter": { "type": "existence", "operator": "not-set" } } ] },
            { "conditions": [ { "type": "profile-property", "property": "email", "filter": { "type": "string", "operator": "ends-with", "value": "@b.com" } } ] },
            { "conditions": [ { "type": "profile-group-membership", "is_member": true, "group_ids": ["L1"] } ] },
        ] });
        assert_eq!(is_member(&definition, &p, &["L1".into()]), Some(true));
        assert_eq!(is_member(&definition, &p, &[]), Some(false));
    }

    #[test]
    fn unsupported_conditions_make_the_segment_unevaluable() {
        let definition =
            json!({ "condition_groups": [ { "conditions": [ { "type": "profile-metric", "metric_id": "X" } ] } ] });
        assert_eq!(is_member(&definition, &profile(json!({})), &[]), None);
    }
}

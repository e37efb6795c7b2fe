//! Segments: definitions built from profile-property conditions, applied idempotently
//! (find by name, compare, create or PATCH only when different).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value, json};

use crate::client::{KlaviyoClient, filter_string};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::profiles::{path_segment, resource_id};

/// The most conditions Klaviyo's editor allows in one segment.
const MAX_CONDITIONS: usize = 100;

/// A segment as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentSpec {
    /// Segment name, the key it is found by.
    pub name: String,
    /// What the segment holds.
    pub definition: SegmentDefinition,
    /// Whether to star it; `None` leaves it as it is.
    #[serde(default)]
    pub is_starred: Option<bool>,
}

/// Klaviyo's segment definition: groups are ANDed, conditions within a group ORed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentDefinition {
    /// The groups.
    pub condition_groups: Vec<ConditionGroup>,
}

/// Conditions of which at least one must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionGroup {
    /// Condition objects as the OpenAPI document defines them (`profile-property`, …).
    pub conditions: Vec<Value>,
}

impl SegmentDefinition {
    /// A definition requiring every one of `conditions` (one group each).
    pub fn all_of(conditions: Vec<Value>) -> SegmentDefinition {
        SegmentDefinition {
            condition_groups: conditions
                .into_iter()
                .map(|condition| ConditionGroup {
                    conditions: vec![condition],
                })
                .collect(),
        }
    }
}

/// Operators of a numeric filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NumericOperator {
    /// `=`
    Equals,
    /// `≠`
    NotEquals,
    /// `>`
    GreaterThan,
    /// `≥`
    GreaterThanOrEqual,
    /// `<`
    LessThan,
    /// `≤`
    LessThanOrEqual,
}

impl NumericOperator {
    fn as_str(self) -> &'static str {
        match self {
            NumericOperator::Equals => "equals",
            NumericOperator::NotEquals => "not-equals",
            NumericOperator::GreaterThan => "greater-than",
            NumericOperator::GreaterThanOrEqual => "greater-than-or-equal",
            NumericOperator::LessThan => "less-than",
            NumericOperator::LessThanOrEqual => "less-than-or-equal",
        }
    }
}

/// How a custom profile property is named in a condition: `properties['name']`.
pub fn custom_property(name: &str) -> String {
    format!("properties['{name}']")
}

/// `properties[name] = value` for a boolean custom property.
pub fn property_is(name: &str, value: bool) -> Value {
    property_condition(name, json!({ "type": "boolean", "operator": "equals", "value": value }))
}

/// `properties[name] <operator> value` for a numeric custom property.
pub fn property_number(name: &str, operator: NumericOperator, value: impl Into<Number>) -> Value {
    property_condition(
        name,
        json!({ "type": "numeric", "operator": operator.as_str(), "value": Value::Number(value.into()) }),
    )
}

/// `properties[name] = value` for a text custom property.
pub fn property_equals(name: &str, value: &str) -> Value {
    property_condition(name, json!({ "type": "string", "operator": "equals", "value": value }))
}

fn property_condition(name: &str, filter: Value) -> Value {
    json!({ "type": "profile-property", "property": custom_property(name), "filter": filter })
}

impl SegmentSpec {
    /// Checks the spec before anything is sent.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| {
            Err(Error::InvalidInput {
                what: "segment",
                reason,
            })
        };
        if self.name.trim().is_empty() {
            return invalid("name is empty".to_owned());
        }
        let groups = &self.definition.condition_groups;
        if groups.is_empty() || groups.iter().any(|group| group.conditions.is_empty()) {
            return invalid(format!(
                "segment {:?} has an empty definition or condition group",
                self.name
            ));
        }
        let count: usize = groups.iter().map(|group| group.conditions.len()).sum();
        if count > MAX_CONDITIONS {
            return invalid(format!(
                "segment {:?} has {count} conditions, above {MAX_CONDITIONS}",
                self.name
            ));
        }
        if let Some(bad) = groups
            .iter()
            .flat_map(|group| &group.conditions)
            .find(|condition| condition.get("type").and_then(Value::as_str).is_none())
        {
            return invalid(format!("segment {:?} has a condition without a type: {bad}", self.name));
        }
        Ok(())
    }
}

/// The body of `POST /api/segments`.
pub fn create_segment_body(spec: &SegmentSpec) -> Value {
    let mut attributes = Map::new();
    attributes.insert("name".to_owned(), Value::String(spec.name.clone()));
    attributes.insert("definition".to_owned(), definition_value(&spec.definition));
    if let Some(starred) = spec.is_starred {
        attributes.insert("is_starred".to_owned(), Value::Bool(starred));
    }
    json!({ "data": { "type": "segment", "attributes": attributes } })
}

/// The body of `PATCH /api/segments/{id}`.
pub fn update_segment_body(id: &str, spec: &SegmentSpec) -> Value {
    let mut attributes = Map::new();
    attributes.insert("definition".to_owned(), definition_value(&spec.definition));
    if let Some(starred) = spec.is_starred {
        attributes.insert("is_starred".to_owned(), Value::Bool(starred));
    }
    json!({ "data": { "type": "segment", "id": id, "attributes": attributes } })
}

fn definition_value(definition: &SegmentDefinition) -> Value {
    serde_json::to_value(definition).expect("a definition always serializes")
}

/// What applying a segment did (or, in a dry run, would do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentAction {
    /// It did not exist and was created.
    Created,
    /// It existed with another definition and was updated.
    Updated,
    /// It existed as configured; nothing was sent.
    Unchanged,
}

/// The outcome of [`KlaviyoClient::apply_segment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentOutcome {
    /// The segment's id; `None` only for a dry-run creation.
    pub id: Option<String>,
    /// What was (or would be) done.
    pub action: SegmentAction,
}

/// Whether a definition read back from Klaviyo says the same as the configured one:
/// `null` members are ignored (Klaviyo echoes optional fields as null) and numbers are
/// compared by value (`50000` equals `50000.0`).
pub fn same_definition(configured: &SegmentDefinition, existing: &Value) -> bool {
    same_value(&definition_value(configured), existing)
}

fn same_value(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Object(left), Value::Object(right)) => {
            let keys = left.keys().chain(right.keys());
            keys.into_iter().all(|key| {
                let a = left.get(key).unwrap_or(&Value::Null);
                let b = right.get(key).unwrap_or(&Value::Null);
                same_value(a, b)
            })
        }
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len() && left.iter().zip(right).all(|(a, b)| same_value(a, b))
        }
        (Value::Number(left), Value::Number(right)) => left.as_f64() == right.as_f64(),
        _ => left == right,
    }
}

impl KlaviyoClient {
    /// Makes Klaviyo hold the segment as configured: created when no segment has the name,
    /// PATCHed when its definition (or requested star) differs, left alone otherwise. With
    /// `dry_run` nothing is written and the outcome says what would happen.
    pub async fn apply_segment(&self, spec: &SegmentSpec, dry_run: bool) -> Result<SegmentOutcome, Error> {
        spec.validate()?;
        let existing = self.find_segment(&spec.name).await?;
        let Some(existing) = existing else {
            if dry_run {
                return Ok(SegmentOutcome {
                    id: None,
                    action: SegmentAction::Created,
                });
            }
            let endpoint = Endpoint::CreateSegment;
            let answer = self
                .send(endpoint, "/api/segments", &[], Some(&create_segment_body(spec)))
                .await?;
            let id = resource_id(&answer.json(endpoint)?, endpoint)?;
            tracing::info!(segment_id = %id, "created klaviyo segment");
            return Ok(SegmentOutcome {
                id: Some(id),
                action: SegmentAction::Created,
            });
        };
        let id = existing
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let attributes = existing.get("attributes").cloned().unwrap_or(Value::Null);
        let definition = attributes.get("definition").unwrap_or(&Value::Null);
        let star_matches = spec
            .is_starred
            .is_none_or(|starred| attributes.get("is_starred").and_then(Value::as_bool) == Some(starred));
        if same_definition(&spec.definition, definition) && star_matches {
            return Ok(SegmentOutcome {
                id: Some(id),
                action: SegmentAction::Unchanged,
            });
        }
        if !dry_run {
            let path = format!("/api/segments/{}", path_segment(&id)?);
            self.send(
                Endpoint::UpdateSegment,
                &path,
                &[],
                Some(&update_segment_body(&id, spec)),
            )
            .await?;
            tracing::info!(segment_id = %id, "updated klaviyo segment definition");
        }
        Ok(SegmentOutcome {
            id: Some(id),
            action: SegmentAction::Updated,
        })
    }

    /// The segment resource named exactly `name` (with its definition), if any.
    pub async fn find_segment(&self, name: &str) -> Result<Option<Value>, Error> {
        let endpoint = Endpoint::GetSegments;
        let query = [
            ("filter", format!("equals(name,{})", filter_string(name))),
            ("fields[segment]", "name,definition,is_starred".to_owned()),
        ];
        let document = self
            .send(endpoint, "/api/segments", &query, None)
            .await?
            .json(endpoint)?;
        Ok(document
            .get("data")
            .and_then(Value::as_array)
            .and_then(|segments| {
                segments
                    .iter()
                    .find(|segment| segment.pointer("/attributes/name").and_then(Value::as_str) == Some(name))
            })
            .cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vip_definition_ands_two_numeric_conditions() {
        let vip = SegmentDefinition::all_of(vec![
            property_number("credit_limit", NumericOperator::GreaterThanOrEqual, 50_000),
            property_number("on_time_rate_pct", NumericOperator::GreaterThanOrEqual, 90),
        ]);
        let value = definition_value(&vip);
        assert_eq!(value["condition_groups"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            value["condition_groups"][0]["conditions"][0],
            json!({"type": "profile-property", "property": "properties['credit_limit']",
                   "filter": {"type": "numeric", "operator": "greater-than-or-equal", "value": 50000}})
        );
    }

    #[test]
    fn definitions_compare_ignoring_nulls_and_number_spelling() {
        let configured = SegmentDefinition::all_of(vec![property_number(
            "credit_limit",
            NumericOperator::GreaterThanOrEqual,
            50_000,
        )]);
        let echoed = json!({"condition_groups": [{"conditions": [{"type": "profile-property",
            "property": "properties['credit_limit']", "timeframe_filter": null,
            "filter": {"type": "numeric", "operator": "greater-than-or-equal", "value": 50000.0}}]}]});
        assert!(same_definition(&configured, &echoed));
        let changed = json!({"condition_groups": [{"conditions": [{"type": "profile-property",
            "property": "properties['credit_limit']",
            "filter": {"type": "numeric", "operator": "greater-than-or-equal", "value": 40000}}]}]});
        assert!(!same_definition(&configured, &changed));
    }

    #[test]
    fn empty_definitions_are_refused() {
        let spec = SegmentSpec {
            name: "x".to_owned(),
            definition: SegmentDefinition {
                condition_groups: vec![],
            },
            is_starred: None,
        };
        assert!(spec.validate().is_err());
    }
}

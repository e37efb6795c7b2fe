//! Validation of request bodies against the request schemas of Klaviyo's OpenAPI
//! document (trimmed copy in `openapi/requests.json`).
//!
//! The schemas use a small subset of OpenAPI 3.0: `type`, `properties`, `required`,
//! `items`, `enum`, `nullable`, `oneOf`, `format: date-time` and `$ref` (sometimes
//! with a `nullable` sibling). This module implements exactly that subset, plus one
//! rule the live API applies that the document leaves implicit: an object whose schema
//! lists its `properties` refuses any other member ("'x' is not a valid field for the
//! resource 'profile'."), while an object schema without `properties` is free-form.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ApiError;

const EMBEDDED: &str = include_str!("../openapi/requests.json");

/// One served operation as the OpenAPI document describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct OperationSpec {
    /// HTTP method, upper case.
    pub method: String,
    /// Path template, for example `/api/lists/{id}/relationships/profiles`.
    pub path: String,
    /// Name of the request body schema in `components/schemas`, if the operation takes a body.
    pub request: Option<String>,
}

/// The embedded request schemas.
#[derive(Debug, Deserialize)]
pub struct Schemas {
    /// The API revision the schemas come from.
    pub revision: String,
    /// Served operations by operationId.
    pub operations: HashMap<String, OperationSpec>,
    schemas: Map<String, Value>,
}

/// A place where a body does not conform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer of the offending member.
    pub pointer: String,
    /// What is wrong, worded like Klaviyo's validation messages.
    pub detail: String,
}

impl From<Violation> for ApiError {
    fn from(v: Violation) -> Self {
        ApiError::invalid(v.pointer, v.detail)
    }
}

impl Schemas {
    /// Returns the schemas embedded in the crate, parsed once.
    pub fn embedded() -> &'static Schemas {
        static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
        SCHEMAS.get_or_init(|| serde_json::from_str(EMBEDDED).expect("embedded openapi/requests.json is valid"))
    }

    /// Validates `body` against the request schema of `operation`; operations without a
    /// body schema accept anything.
    pub fn validate(&self, operation: &str, body: &Value) -> Result<(), Violation> {
        let Some(name) = self.operations.get(operation).and_then(|op| op.request.as_deref()) else {
            return Ok(());
        };
        let schema = self.schemas.get(name).ok_or_else(|| Violation {
            pointer: "/data".into(),
            detail: format!("no schema named {name}"),
        })?;
        self.check(schema, body, "", "data", "data")
    }

    fn resolve<'a>(&'a self, reference: &str) -> Option<&'a Value> {
        self.schemas.get(reference.rsplit('/').next()?)
    }

    fn check(
        &self,
        schema: &Value,
        value: &Value,
        pointer: &str,
        field: &str,
        resource: &str,
    ) -> Result<(), Violation> {
        let nullable = schema.get("nullable").and_then(Value::as_bool).unwrap_or(false);
        if value.is_null() && nullable {
            return Ok(());
        }
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let target = self.resolve(reference).ok_or_else(|| Violation {
                pointer: pointer.into(),
                detail: format!("unresolvable schema {reference}"),
            })?;
            return self.check(target, value, pointer, field, resource);
        }
        if value.is_null() {
            return Err(violation(pointer, format!("'{field}' may not be null.")));
        }
        if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
            return self.one_of(branches, value, pointer, field, resource);
        }
        if let Some(ty) = schema.get("type").and_then(Value::as_str)
            && !type_matches(ty, value)
        {
            return Err(violation(
                pointer,
                format!("'{field}' must be of type {}.", type_word(ty)),
            ));
        }
        if let Some(choices) = schema.get("enum").and_then(Value::as_array)
            && !choices.contains(value)
        {
            return Err(violation(
                pointer,
                format!("{} is not a valid choice for '{field}'.", short(value)),
            ));
        }
        if schema.get("format").and_then(Value::as_str) == Some("date-time")
            && let Some(text) = value.as_str()
            && crate::time::parse_datetime(text).is_none()
        {
            return Err(violation(
                pointer,
                format!("'{field}' must be a valid ISO 8601 datetime."),
            ));
        }
        if let (Some(object), Some(properties)) =
            (value.as_object(), schema.get("properties").and_then(Value::as_object))
        {
            self.check_object(schema, properties, object, pointer, resource)?;
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (index, item) in array.iter().enumerate() {
                self.check(items, item, &format!("{pointer}/{index}"), field, resource)?;
            }
        }
        Ok(())
    }

    fn check_object(
        &self,
        schema: &Value,
        properties: &Map<String, Value>,
        object: &Map<String, Value>,
        pointer: &str,
        resource: &str,
    ) -> Result<(), Violation> {
        for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let Some(name) = name.as_str() else { continue };
            if !object.contains_key(name) {
                return Err(violation(
                    &format!("{pointer}/{}", escape(name)),
                    format!("'{name}' is a required field."),
                ));
            }
        }
        let own_type = object.get("type").and_then(Value::as_str);
        // The `type` member goes first: it is the discriminator that tells `oneOf`
        // branches apart, so its failure must be the first one a wrong branch reports.
        let members = object
            .iter()
            .filter(|(k, _)| *k == "type")
            .chain(object.iter().filter(|(k, _)| *k != "type"));
        for (name, member) in members {
            let child_pointer = format!("{pointer}/{}", escape(name));
            let Some(member_schema) = properties.get(name) else {
                return Err(violation(
                    &child_pointer,
                    format!("'{name}' is not a valid field for the resource '{resource}'."),
                ));
            };
            // Klaviyo names the resource by its JSON:API type for `attributes`, and by the
            // member name for nested plain objects such as `location`.
            let child_resource = match (name.as_str(), own_type) {
                ("attributes", Some(ty)) => ty,
                _ => name.as_str(),
            };
            self.check(member_schema, member, &child_pointer, name, child_resource)?;
        }
        Ok(())
    }

    fn one_of(
        &self,
        branches: &[Value],
        value: &Value,
        pointer: &str,
        field: &str,
        resource: &str,
    ) -> Result<(), Violation> {
        // First match wins (anyOf semantics): the document's own unions overlap, for
        // example `oneOf: [integer, number]`, so exactly-one would refuse every integer.
        let mut best: Option<Violation> = None;
        for branch in branches {
            match self.check(branch, value, pointer, field, resource) {
                Ok(()) => return Ok(()),
                Err(v) => {
                    // The deepest failure is the branch the caller meant (its `type`
                    // discriminator matched), so its message is the useful one; a branch
                    // refused on its own `type` made no progress at all.
                    let progress = |v: &Violation| {
                        if v.pointer == format!("{pointer}/type") {
                            depth(pointer)
                        } else {
                            depth(&v.pointer)
                        }
                    };
                    if best.as_ref().is_none_or(|b| progress(&v) > progress(b)) {
                        best = Some(v);
                    }
                }
            }
        }
        match best {
            Some(v) if depth(&v.pointer) > depth(pointer) && v.pointer != format!("{pointer}/type") => Err(v),
            _ => Err(violation(
                pointer,
                format!("'{field}' does not match any of the allowed shapes."),
            )),
        }
    }
}

fn violation(pointer: &str, detail: String) -> Violation {
    Violation {
        pointer: if pointer.is_empty() { "/".into() } else { pointer.into() },
        detail,
    }
}

fn depth(pointer: &str) -> usize {
    pointer.matches('/').count()
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn type_matches(ty: &str, value: &Value) -> bool {
    match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => true,
    }
}

fn type_word(ty: &str) -> &str {
    match ty {
        "object" => "object",
        "array" => "array",
        "boolean" => "boolean",
        "integer" => "integer",
        "number" => "number",
        _ => "string",
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 60 {
        format!("{}…", &text[..text.floor_char_boundary(60)])
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn upsert(attributes: Value) -> Value {
        json!({ "data": { "type": "profile", "attributes": attributes } })
    }

    #[test]
    fn embedded_document_lists_every_served_operation_with_a_body_schema() {
        let schemas = Schemas::embedded();
        assert_eq!(schemas.revision, "2026-07-15");
        for op in [
            "create_or_update_profile",
            "create_event",
            "bulk_create_events",
            "create_segment",
        ] {
            let name = schemas.operations[op].request.as_deref().unwrap();
            assert!(schemas.schemas.contains_key(name), "{op} schema {name} missing");
        }
    }

    #[test]
    fn valid_upsert_passes() {
        let body = upsert(
            json!({ "email": "a@b.com", "properties": { "x": [1, {"y": null}] }, "location": { "latitude": 1.5 } }),
        );
        assert_eq!(Schemas::embedded().validate("create_or_update_profile", &body), Ok(()));
    }

    #[test]
    fn wrong_type_points_at_the_field() {
        let body = upsert(json!({ "email": 42 }));
        let v = Schemas::embedded()
            .validate("create_or_update_profile", &body)
            .unwrap_err();
        assert_eq!(v.pointer, "/data/attributes/email");
        assert!(v.detail.contains("string"), "{}", v.detail);
    }

    #[test]
    fn missing_required_member_points_where_it_belongs() {
        let body = json!({ "data": { "type": "profile" } });
        let v = Schemas::embedded()
            .validate("create_or_update_profile", &body)
            .unwrap_err();
        assert_eq!(v.pointer, "/data/attributes");
    }

    #[test]
    fn unknown_attribute_is_refused_with_the_resource_name() {
        let body = upsert(json!({ "email": "a@b.com", "nickname": "x" }));
        let v = Schemas::embedded()
            .validate("create_or_update_profile", &body)
            .unwrap_err();
        assert_eq!(v.pointer, "/data/attributes/nickname");
        assert_eq!(v.detail, "'nickname' is not a valid field for the resource 'profile'.");
    }

    #[test]
    fn wrong_enum_value_is_refused() {
        let body = json!({ "data": { "type": "profiles", "attributes": {} } });
        let v = Schemas::embedded()
            .validate("create_or_update_profile", &body)
            .unwrap_err();
        assert_eq!(v.pointer, "/data/type");
    }

    #[test]
    fn nullable_ref_accepts_null() {
        let body = upsert(json!({ "email": "a@b.com", "location": null }));
        assert_eq!(Schemas::embedded().validate("create_or_update_profile", &body), Ok(()));
    }

    #[test]
    fn one_of_reports_the_branch_that_matched_its_discriminator() {
        let body = json!({ "data": { "type": "segment", "attributes": { "name": "s", "definition": { "condition_groups": [ { "conditions": [
            { "type": "profile-property", "property": "properties['x']", "filter": { "type": "numeric", "operator": "greater-than", "value": "ten" } }
        ] } ] } } } });
        let v = Schemas::embedded().validate("create_segment", &body).unwrap_err();
        assert_eq!(
            v.pointer,
            "/data/attributes/definition/condition_groups/0/conditions/0/filter/value"
        );
    }

    #[test]
    fn integer_satisfies_integer_or_number_union() {
        let body = json!({ "data": { "type": "segment", "attributes": { "name": "s", "definition": { "condition_groups": [ { "conditions": [
            { "type": "profile-property", "property": "properties['x']", "filter": { "type": "numeric", "operator": "greater-than", "value": 10 } }
        ] } ] } } } });
        assert_eq!(Schemas::embedded().validate("create_segment", &body), Ok(()));
    }

    #[test]
    fn event_time_must_be_a_datetime() {
        let body = json!({ "data": { "type": "event", "attributes": {
            "properties": {}, "time": "yesterday",
            "metric": { "data": { "type": "metric", "attributes": { "name": "m" } } },
            "profile": { "data": { "type": "profile", "attributes": { "email": "a@b.com" } } } } } });
        let v = Schemas::embedded().validate("create_event", &body).unwrap_err();
        assert_eq!(v.pointer, "/data/attributes/time");
    }
}

//! JSON:API documents for stored resources, shaped like the response schemas of the
//! OpenAPI document (links with Klaviyo's trailing slashes included).

use serde_json::{Map, Value, json};

use crate::model::{BulkImportJob, ImportError, List, Metric, Profile, Segment};
use crate::store::PLAIN_ATTRIBUTES;
use crate::time::format;

const LOCATION_FIELDS: &[&str] = &[
    "address1",
    "address2",
    "city",
    "country",
    "latitude",
    "longitude",
    "region",
    "zip",
    "timezone",
    "ip",
];

fn relationship(base: &str, path: &str, name: &str) -> Value {
    json!({ "links": { "self": format!("{base}{path}/relationships/{name}/"), "related": format!("{base}{path}/{name}/") } })
}

/// A profile resource object.
pub fn profile(base: &str, p: &Profile) -> Value {
    let mut attributes = Map::new();
    attributes.insert("email".into(), json!(p.email));
    attributes.insert("phone_number".into(), json!(p.phone_number));
    attributes.insert("external_id".into(), json!(p.external_id));
    for name in PLAIN_ATTRIBUTES.iter().filter(|n| **n != "_kx") {
        attributes.insert((*name).into(), p.attributes.get(*name).cloned().unwrap_or(Value::Null));
    }
    attributes.insert("created".into(), json!(format(p.created)));
    attributes.insert("updated".into(), json!(format(p.updated)));
    attributes.insert("last_event_date".into(), json!(p.last_event_date.map(format)));
    let location: Map<String, Value> = LOCATION_FIELDS
        .iter()
        .map(|f| ((*f).to_owned(), p.location.get(*f).cloned().unwrap_or(Value::Null)))
        .collect();
    attributes.insert("location".into(), Value::Object(location));
    attributes.insert("properties".into(), Value::Object(p.properties.clone()));
    let path = format!("/api/profiles/{}", p.id);
    json!({
        "type": "profile",
        "id": p.id,
        "attributes": attributes,
        "relationships": {
            "lists": relationship(base, &path, "lists"),
            "segments": relationship(base, &path, "segments"),
            "push-tokens": relationship(base, &path, "push-tokens"),
        },
        "links": { "self": format!("{base}{path}/") },
    })
}

/// A list resource object.
pub fn list(base: &str, l: &List) -> Value {
    let path = format!("/api/lists/{}", l.id);
    json!({
        "type": "list",
        "id": l.id,
        "attributes": {
            "name": l.name,
            "created": format(l.created),
            "updated": format(l.updated),
            "opt_in_process": l.opt_in_process,
        },
        "relationships": {
            "profiles": relationship(base, &path, "profiles"),
            "tags": relationship(base, &path, "tags"),
            "flow-triggers": relationship(base, &path, "flow-triggers"),
        },
        "links": { "self": format!("{base}{path}/") },
    })
}

/// A segment resource object.
pub fn segment(base: &str, s: &Segment) -> Value {
    let path = format!("/api/segments/{}", s.id);
    json!({
        "type": "segment",
        "id": s.id,
        "attributes": {
            "name": s.name,
            "definition": s.definition,
            "created": format(s.created),
            "updated": format(s.updated),
            "is_active": s.is_active,
            "is_processing": false,
            "is_starred": s.is_starred,
        },
        "relationships": {
            "profiles": relationship(base, &path, "profiles"),
            "tags": relationship(base, &path, "tags"),
            "flow-triggers": relationship(base, &path, "flow-triggers"),
        },
        "links": { "self": format!("{base}{path}/") },
    })
}

/// A metric resource object (every metric here comes from the API integration).
pub fn metric(base: &str, m: &Metric) -> Value {
    let path = format!("/api/metrics/{}", m.id);
    json!({
        "type": "metric",
        "id": m.id,
        "attributes": {
            "name": m.name,
            "created": format(m.created),
            "updated": format(m.created),
            "integration": { "object": "integration", "id": "0rG4eQ", "key": "api", "name": "API", "category": "API" },
        },
        "relationships": { "flow-triggers": relationship(base, &path, "flow-triggers") },
        "links": { "self": format!("{base}{path}/") },
    })
}

/// A profile bulk import job resource object.
pub fn job(base: &str, j: &BulkImportJob) -> Value {
    let path = format!("/api/profile-bulk-import-jobs/{}", j.id);
    json!({
        "type": "profile-bulk-import-job",
        "id": j.id,
        "attributes": {
            "status": j.status.as_str(),
            "created_at": format(j.created_at),
            "total_count": j.total_count,
            "completed_count": j.completed_count,
            "failed_count": j.failed_count,
            "completed_at": j.completed_at.map(format),
            "expires_at": format(j.expires_at),
            "started_at": j.started_at.map(format),
        },
        "relationships": {
            "lists": relationship(base, &path, "lists"),
            "profiles": relationship(base, &path, "profiles"),
            "import-errors": { "links": { "related": format!("{base}{path}/import-errors/") } },
        },
        "links": { "self": format!("{base}{path}/") },
    })
}

/// An import error resource object.
pub fn import_error(e: &ImportError) -> Value {
    json!({
        "type": "import-error",
        "id": e.id,
        "attributes": {
            "code": e.code,
            "title": e.title,
            "detail": e.detail,
            "source": { "pointer": e.pointer },
            "original_payload": e.original_payload,
        },
    })
}

/// Keeps only the attributes a sparse fieldset (`fields[type]=a,b`) asks for.
pub fn sparse(mut resource: Value, fields: Option<&str>) -> Value {
    if let (Some(fields), Some(attributes)) = (fields, resource.get_mut("attributes").and_then(Value::as_object_mut)) {
        let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
        attributes.retain(|k, _| wanted.contains(&k.as_str()));
    }
    resource
}

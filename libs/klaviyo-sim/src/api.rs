//! The operations: each turns a validated request into a state change and a reply.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use crate::config::BulkValidation;
use crate::error::ApiError;
use crate::filter::{self, Term};
use crate::model::{BulkImportJob, JobStatus, List, Segment};
use crate::render;
use crate::store::{Mode, Store, validate_profile_attributes};

/// One request, after transport checks.
pub(crate) struct Ctx {
    pub(crate) operation: &'static str,
    pub(crate) params: HashMap<String, String>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) raw_query: String,
    pub(crate) body: Value,
    pub(crate) base: String,
    pub(crate) now: DateTime<Utc>,
    pub(crate) bulk_validation: BulkValidation,
}

/// What to answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Option<Value>,
    pub(crate) spawn_job: Option<String>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            body: Some(body),
            spawn_job: None,
        }
    }

    fn empty(status: u16) -> Self {
        Reply {
            status,
            body: None,
            spawn_job: None,
        }
    }
}

impl Ctx {
    fn param(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or_default()
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn filter(&self, allowed: &[(&str, &[&str])]) -> Result<Vec<Term>, ApiError> {
        let Some(text) = self.query("filter") else {
            return Ok(Vec::new());
        };
        let terms =
            filter::parse(text).map_err(|e| ApiError::invalid_parameter("filter", format!("Invalid filter: {e}.")))?;
        filter::check_allowed(&terms, allowed).map_err(|e| ApiError::invalid_parameter("filter", e))?;
        Ok(terms)
    }

    fn self_link(&self) -> String {
        let path = self.path();
        if self.raw_query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{}", self.base, self.raw_query)
        }
    }

    fn path(&self) -> String {
        let spec = &crate::schema::Schemas::embedded().operations[self.operation];
        let mut path = spec.path.clone();
        for (name, value) in &self.params {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        format!("{path}/")
    }

    /// Cuts one page out of `items`; cursors are opaque offsets.
    fn page<T: Clone>(&self, items: &[T], default: usize, max: usize) -> Result<(Vec<T>, Value), ApiError> {
        let size = match self.query("page[size]") {
            None => default,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    return Err(ApiError::invalid_parameter(
                        "page[size]",
                        format!("Page size must be an integer between 1 and {max}."),
                    ));
                }
            },
        };
        let offset = match self.query("page[cursor]") {
            None => 0,
            Some(cursor) => decode_cursor(cursor)
                .filter(|o| *o <= items.len())
                .ok_or_else(|| ApiError::invalid_parameter("page[cursor]", "Invalid cursor provided."))?,
        };
        let end = (offset + size).min(items.len());
        let mut links = Map::new();
        links.insert("self".into(), json!(self.self_link()));
        if end < items.len() {
            let kept: Vec<&str> = self
                .raw_query
                .split('&')
                .filter(|p| !p.is_empty() && !p.starts_with("page%5Bcursor%5D=") && !p.starts_with("page[cursor]="))
                .collect();
            let mut query = kept.join("&");
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&format!("page%5Bcursor%5D={}", encode_cursor(end)));
            links.insert("next".into(), json!(format!("{}{}?{query}", self.base, self.path())));
        }
        Ok((items[offset..end].to_vec(), Value::Object(links)))
    }
}

fn encode_cursor(offset: usize) -> String {
    format!("bz{offset:x}")
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    usize::from_str_radix(cursor.strip_prefix("bz")?, 16).ok()
}

fn collection(data: Vec<Value>, links: Value) -> Value {
    json!({ "data": data, "links": links })
}

/// Runs the operation named in `ctx`.
pub(crate) fn handle(store: &mut Store, ctx: &mut Ctx) -> Result<Reply, ApiError> {
    match ctx.operation {
        "create_or_update_profile" => upsert_profile(store, ctx),
        "create_profile" => create_profile(store, ctx),
        "update_profile" => update_profile(store, ctx),
        "get_profiles" => get_profiles(store, ctx),
        "get_profile" => get_profile(store, ctx),
        "bulk_import_profiles" => bulk_import(store, ctx),
        "get_bulk_import_profiles_jobs" => get_jobs(store, ctx),
        "get_bulk_import_profiles_job" => {
            let job = find_job(store, ctx.param("job_id"))?;
            Ok(Reply::json(
                200,
                json!({ "data": render::job(&ctx.base, job), "links": { "self": ctx.self_link() } }),
            ))
        }
        "get_errors_for_bulk_import_profiles_job" => {
            let job = find_job(store, ctx.param("id"))?;
            let (page, links) = ctx.page(&job.import_errors, 20, 100)?;
            Ok(Reply::json(
                200,
                collection(page.iter().map(render::import_error).collect(), links),
            ))
        }
        "get_profiles_for_bulk_import_profiles_job" | "get_profile_ids_for_bulk_import_profiles_job" => {
            let ids = find_job(store, ctx.param("id"))?.profile_ids.clone();
            profiles_reply(store, ctx, &ids, ctx.operation.contains("profile_ids"))
        }
        "get_list_for_bulk_import_profiles_job" | "get_list_ids_for_bulk_import_profiles_job" => {
            let job = find_job(store, ctx.param("id"))?;
            let lists: Vec<&List> = store.lists.iter().filter(|l| job.list_ids.contains(&l.id)).collect();
            let data = if ctx.operation.contains("list_ids") {
                lists.iter().map(|l| json!({ "type": "list", "id": l.id })).collect()
            } else {
                lists.iter().map(|l| render::list(&ctx.base, l)).collect()
            };
            Ok(Reply::json(200, collection(data, json!({ "self": ctx.self_link() }))))
        }
        "create_event" => create_event(store, ctx),
        "bulk_create_events" => bulk_create_events(store, ctx),
        "get_metrics" => {
            let terms = ctx.filter(&[("integration.name", &["equals"]), ("integration.category", &["equals"])])?;
            let metrics: Vec<_> = store
                .metrics
                .iter()
                .filter(|_| terms.iter().all(|t| t.matches(&json!("API"))))
                .cloned()
                .collect();
            let (page, links) = ctx.page(&metrics, 200, 200)?;
            Ok(Reply::json(
                200,
                collection(page.iter().map(|m| render::metric(&ctx.base, m)).collect(), links),
            ))
        }
        "get_metric" => {
            let metric =
                store.metrics.iter().find(|m| m.id == ctx.param("id")).ok_or_else(|| {
                    ApiError::not_found(format!("A metric with id {} does not exist.", ctx.param("id")))
                })?;
            Ok(Reply::json(
                200,
                json!({ "data": render::metric(&ctx.base, metric), "links": { "self": ctx.self_link() } }),
            ))
        }
        "get_lists" => get_lists(store, ctx),
        "create_list" => create_list(store, ctx),
        "get_list" => {
            let list = find_list(store, ctx.param("id"))?;
            Ok(Reply::json(
                200,
                json!({ "data": sparse(ctx, "list", render::list(&ctx.base, list)), "links": { "self": ctx.self_link() } }),
            ))
        }
        "add_profiles_to_list" | "remove_profiles_from_list" => change_list_members(store, ctx),
        "get_profiles_for_list" | "get_profile_ids_for_list" => {
            let list = find_list(store, ctx.param("id"))?;
            let ids: Vec<String> = list.members.iter().map(|(p, _)| p.clone()).collect();
            profiles_reply(store, ctx, &ids, ctx.operation == "get_profile_ids_for_list")
        }
        "get_segments" => get_segments(store, ctx),
        "create_segment" => create_segment(store, ctx),
        "get_segment" => {
            let segment = find_segment(store, ctx.param("id"))?;
            Ok(Reply::json(
                200,
                json!({ "data": sparse(ctx, "segment", render::segment(&ctx.base, segment)), "links": { "self": ctx.self_link() } }),
            ))
        }
        "update_segment" => update_segment(store, ctx),
        "get_profiles_for_segment" | "get_profile_ids_for_segment" => {
            let segment = find_segment(store, ctx.param("id"))?.clone();
            let ids: Vec<String> = store
                .profiles
                .values()
                .filter(|p| {
                    segment.is_active
                        && crate::segment_eval::is_member(&segment.definition, p, &store.list_ids_of(&p.id))
                            == Some(true)
                })
                .map(|p| p.id.clone())
                .collect();
            profiles_reply(store, ctx, &ids, ctx.operation == "get_profile_ids_for_segment")
        }
        other => Err(ApiError::not_found(format!("operation {other} is not served"))),
    }
}

fn sparse(ctx: &Ctx, ty: &str, resource: Value) -> Value {
    render::sparse(resource, ctx.query(&format!("fields[{ty}]")))
}

fn profile_doc(store: &Store, ctx: &Ctx, id: &str) -> Value {
    let profile = &store.profiles[id];
    json!({ "data": sparse(ctx, "profile", render::profile(&ctx.base, profile)), "links": { "self": ctx.self_link() } })
}

fn profiles_reply(store: &Store, ctx: &Ctx, ids: &[String], ids_only: bool) -> Result<Reply, ApiError> {
    let (page, links) = ctx.page(ids, 20, 100)?;
    let data = page
        .iter()
        .filter_map(|id| store.profiles.get(id))
        .map(|p| {
            if ids_only {
                json!({ "type": "profile", "id": p.id })
            } else {
                sparse(ctx, "profile", render::profile(&ctx.base, p))
            }
        })
        .collect();
    Ok(Reply::json(200, collection(data, links)))
}

fn upsert_profile(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let applied = store.apply_profile(&ctx.body["data"], Mode::Upsert, None, "/data", ctx.now)?;
    Ok(Reply::json(
        if applied.created { 201 } else { 200 },
        profile_doc(store, ctx, &applied.id),
    ))
}

fn create_profile(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let applied = store.apply_profile(&ctx.body["data"], Mode::CreateOnly, None, "/data", ctx.now)?;
    Ok(Reply::json(201, profile_doc(store, ctx, &applied.id)))
}

fn update_profile(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param("id");
    if ctx.body["data"]["id"].as_str() != Some(id) {
        return Err(ApiError::conflict(
            "/data/id",
            "The id in the request body does not match the id in the URL.",
        ));
    }
    let applied = store.apply_profile(&ctx.body["data"], Mode::Patch, Some(id), "/data", ctx.now)?;
    Ok(Reply::json(200, profile_doc(store, ctx, &applied.id)))
}

const PROFILE_FILTERS: &[(&str, &[&str])] = &[
    ("id", &["any", "equals"]),
    ("email", &["any", "equals"]),
    ("phone_number", &["any", "equals"]),
    ("external_id", &["any", "equals"]),
    ("_kx", &["equals"]),
    ("created", &["greater-than", "less-than"]),
    ("updated", &["greater-than", "less-than"]),
];

fn get_profiles(store: &Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let mut terms = ctx.filter(PROFILE_FILTERS)?;
    for term in &mut terms {
        // Emails are stored lower-cased, so the filter compares them that way too.
        if term.field == "email" {
            lowercase_strings(&mut term.value);
        }
    }
    let mut profiles: Vec<_> = store
        .profiles
        .values()
        .filter(|p| {
            terms.iter().all(|t| {
                let actual = match t.field.as_str() {
                    "id" => json!(p.id),
                    "email" => json!(p.email),
                    "phone_number" => json!(p.phone_number),
                    "external_id" => json!(p.external_id),
                    "_kx" => p.attributes.get("_kx").cloned().unwrap_or(Value::Null),
                    "created" => json!(crate::time::format(p.created)),
                    _ => json!(crate::time::format(p.updated)),
                };
                t.matches(&actual)
            })
        })
        .collect();
    sort_by(
        &mut profiles,
        ctx.query("sort"),
        &["created", "email", "id", "updated"],
        |p, key| match key {
            "created" => json!(p.created.timestamp_millis()),
            "email" => json!(p.email),
            "updated" => json!(p.updated.timestamp_millis()),
            _ => json!(p.id),
        },
    )?;
    let ids: Vec<String> = profiles.iter().map(|p| p.id.clone()).collect();
    profiles_reply(store, ctx, &ids, false)
}

fn lowercase_strings(value: &mut Value) {
    match value {
        Value::String(s) => *s = s.trim().to_lowercase(),
        Value::Array(items) => items.iter_mut().for_each(lowercase_strings),
        _ => {}
    }
}

fn sort_by<T>(
    items: &mut [T],
    sort: Option<&str>,
    allowed: &[&str],
    key: impl Fn(&T, &str) -> Value,
) -> Result<(), ApiError> {
    let Some(sort) = sort else { return Ok(()) };
    let (field, descending) = sort.strip_prefix('-').map_or((sort, false), |f| (f, true));
    if !allowed.contains(&field) {
        return Err(ApiError::invalid_parameter(
            "sort",
            format!("'{sort}' is not a valid sort value."),
        ));
    }
    items.sort_by(|a, b| {
        let ordering = compare_values(&key(a, field), &key(b, field));
        if descending { ordering.reverse() } else { ordering }
    });
    Ok(())
}

fn compare_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(std::cmp::Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
        (Value::Null, _) => std::cmp::Ordering::Less,
        (_, Value::Null) => std::cmp::Ordering::Greater,
        _ => std::cmp::Ordering::Equal,
    }
}

fn get_profile(store: &Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param("id");
    if !store.profiles.contains_key(id) {
        return Err(ApiError::not_found(format!("A profile with id {id} does not exist.")));
    }
    Ok(Reply::json(200, profile_doc(store, ctx, id)))
}

const MAX_BULK_PROFILES: usize = 10_000;
const MAX_PROFILE_BYTES: usize = 100 * 1024;

fn bulk_import(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let profiles = ctx
        .body
        .pointer("/data/attributes/profiles/data")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if profiles.is_empty() || profiles.len() > MAX_BULK_PROFILES {
        return Err(ApiError::invalid(
            "/data/attributes/profiles/data",
            format!(
                "A bulk import job must contain between 1 and {MAX_BULK_PROFILES} profiles; got {}.",
                profiles.len()
            ),
        ));
    }
    for (i, profile) in profiles.iter().enumerate() {
        let pointer = format!("/data/attributes/profiles/data/{i}");
        if serde_json::to_vec(profile).map_or(0, |b| b.len()) > MAX_PROFILE_BYTES {
            return Err(ApiError::invalid(
                pointer,
                "The profile exceeds the size limit of 100 KB.",
            ));
        }
        let attrs = profile
            .get("attributes")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let has_identifier = ["email", "phone_number", "external_id"]
            .iter()
            .any(|k| attrs.get(*k).is_some_and(Value::is_string))
            || profile.get("id").is_some_and(Value::is_string);
        if ctx.bulk_validation == BulkValidation::Strict {
            validate_profile_attributes(&attrs, &format!("{pointer}/attributes"))?;
            if !has_identifier {
                return Err(ApiError::invalid(
                    format!("{pointer}/attributes"),
                    "A profile requires at least one of email, phone_number, or external_id.",
                ));
            }
        }
    }
    let mut list_ids = Vec::new();
    let lists = ctx
        .body
        .pointer("/data/relationships/lists/data")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, list) in lists.iter().enumerate() {
        let id = list["id"].as_str().unwrap_or_default();
        if !store.lists.iter().any(|l| l.id == id) {
            return Err(ApiError::invalid(
                format!("/data/relationships/lists/data/{i}/id"),
                format!("A list with id {id} does not exist."),
            ));
        }
        list_ids.push(id.to_owned());
    }
    let id = store.rng.ulid(ctx.now.timestamp_millis());
    let job = BulkImportJob {
        id: id.clone(),
        status: JobStatus::Queued,
        created_at: ctx.now,
        started_at: None,
        completed_at: None,
        expires_at: ctx.now + Duration::days(7),
        total_count: profiles.len(),
        completed_count: 0,
        failed_count: 0,
        list_ids,
        profile_ids: Vec::new(),
        import_errors: Vec::new(),
        pending: profiles,
    };
    let body = json!({ "data": render::job(&ctx.base, &job), "links": { "self": format!("{}/api/profile-bulk-import-jobs/{id}/", ctx.base) } });
    store.jobs.push(job);
    Ok(Reply {
        status: 202,
        body: Some(body),
        spawn_job: Some(id),
    })
}

fn get_jobs(store: &Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let terms = ctx.filter(&[("status", &["any", "equals"])])?;
    let mut jobs: Vec<_> = store
        .jobs
        .iter()
        .filter(|j| terms.iter().all(|t| t.matches(&json!(j.status.as_str()))))
        .collect();
    sort_by(&mut jobs, ctx.query("sort"), &["created_at"], |j, _| {
        json!(j.created_at.timestamp_millis())
    })?;
    let (page, links) = ctx.page(&jobs, 20, 100)?;
    Ok(Reply::json(
        200,
        collection(page.iter().map(|j| render::job(&ctx.base, j)).collect(), links),
    ))
}

fn find_job<'a>(store: &'a Store, id: &str) -> Result<&'a BulkImportJob, ApiError> {
    store
        .jobs
        .iter()
        .find(|j| j.id == id)
        .ok_or_else(|| ApiError::not_found(format!("A profile bulk import job with id {id} does not exist.")))
}

const MAX_EVENT_PROPERTIES: usize = 400;
const MAX_STRING_BYTES: usize = 100 * 1024;
const MAX_ARRAY_ITEMS: usize = 4_000;
const MAX_NESTING: usize = 10;
const MAX_BULK_EVENTS: usize = 1_000;

/// Checks what the schema cannot: metric name length, an identifier on the profile,
/// the time window and the ingestion limits.
fn validate_event(
    attributes: &Map<String, Value>,
    profile: &Value,
    pointer: &str,
    profile_pointer: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if let Some(name) = attributes
        .get("metric")
        .and_then(|m| m.pointer("/data/attributes/name"))
        .and_then(Value::as_str)
        && (name.is_empty() || name.chars().count() >= 128)
    {
        return Err(ApiError::invalid(
            format!("{pointer}/metric/data/attributes/name"),
            "The metric name must be between 1 and 127 characters.",
        ));
    }
    let profile_attrs = profile
        .get("attributes")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let has_identifier = ["email", "phone_number", "external_id"]
        .iter()
        .any(|k| profile_attrs.get(*k).is_some_and(Value::is_string))
        || profile.get("id").is_some_and(Value::is_string);
    if !has_identifier {
        return Err(ApiError::invalid(
            format!("{profile_pointer}/attributes"),
            "The profile must have at least one identifier: id, email, phone_number, or external_id.",
        ));
    }
    validate_profile_attributes(&profile_attrs, &format!("{profile_pointer}/attributes"))?;
    if let Some(time) = attributes
        .get("time")
        .and_then(Value::as_str)
        .and_then(crate::time::parse_datetime)
    {
        let earliest = chrono::NaiveDate::from_ymd_opt(1990, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("valid")
            .and_utc();
        if time < earliest || time > now + Duration::days(365) {
            return Err(ApiError::invalid(
                format!("{pointer}/time"),
                "The event time must be after 1990 and at most 1 year in the future.",
            ));
        }
    }
    let properties = attributes.get("properties").and_then(Value::as_object);
    if properties.is_some_and(|p| p.len() > MAX_EVENT_PROPERTIES) {
        return Err(ApiError::invalid(
            format!("{pointer}/properties"),
            format!("An event may have at most {MAX_EVENT_PROPERTIES} properties."),
        ));
    }
    if let Some(properties) = attributes.get("properties") {
        check_limits(properties, &format!("{pointer}/properties"), 0)?;
    }
    Ok(())
}

fn check_limits(value: &Value, pointer: &str, depth: usize) -> Result<(), ApiError> {
    match value {
        Value::String(s) if s.len() > MAX_STRING_BYTES => {
            Err(ApiError::invalid(pointer, "Strings may be at most 100 KB."))
        }
        Value::Array(items) => {
            if items.len() > MAX_ARRAY_ITEMS {
                return Err(ApiError::invalid(
                    pointer,
                    format!("Arrays may have at most {MAX_ARRAY_ITEMS} items."),
                ));
            }
            if depth >= MAX_NESTING {
                return Err(ApiError::invalid(
                    pointer,
                    format!("Properties may be nested at most {MAX_NESTING} levels."),
                ));
            }
            for (i, item) in items.iter().enumerate() {
                check_limits(item, &format!("{pointer}/{i}"), depth + 1)?;
            }
            Ok(())
        }
        Value::Object(members) => {
            if depth >= MAX_NESTING {
                return Err(ApiError::invalid(
                    pointer,
                    format!("Properties may be nested at most {MAX_NESTING} levels."),
                ));
            }
            for (k, v) in members {
                check_limits(v, &format!("{pointer}/{k}"), depth + 1)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn create_event(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let attributes = ctx.body["data"]["attributes"].as_object().cloned().unwrap_or_default();
    let profile = attributes.get("profile").map(|p| p["data"].clone()).unwrap_or_default();
    validate_event(
        &attributes,
        &profile,
        "/data/attributes",
        "/data/attributes/profile/data",
        ctx.now,
    )?;
    if let Some(id) = profile.get("id").and_then(Value::as_str)
        && !store.profiles.contains_key(id)
    {
        return Err(ApiError::invalid(
            "/data/attributes/profile/data/id",
            format!("A profile with id {id} does not exist."),
        ));
    }
    store.record_event(&attributes, &profile, "/data/attributes/profile/data", ctx.now)?;
    Ok(Reply::empty(202))
}

fn bulk_create_events(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let entries = ctx
        .body
        .pointer("/data/attributes/events-bulk-create/data")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total: usize = entries
        .iter()
        .map(|e| {
            e.pointer("/attributes/events/data")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        })
        .sum();
    if total == 0 || total > MAX_BULK_EVENTS {
        return Err(ApiError::invalid(
            "/data/attributes/events-bulk-create/data",
            format!("A bulk create job must contain between 1 and {MAX_BULK_EVENTS} events; got {total}."),
        ));
    }
    let mut seen = HashSet::new();
    let mut work = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let profile = entry.pointer("/attributes/profile/data").cloned().unwrap_or_default();
        let key = store.event_profile_key(&profile);
        if let Some(id) = profile.get("id").and_then(Value::as_str)
            && !store.profiles.contains_key(id)
        {
            return Err(ApiError::invalid(
                format!("/data/attributes/events-bulk-create/data/{i}/attributes/profile/data/id"),
                format!("A profile with id {id} does not exist."),
            ));
        }
        let events = entry
            .pointer("/attributes/events/data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (j, event) in events.iter().enumerate() {
            let pointer = format!("/data/attributes/events-bulk-create/data/{i}/attributes/events/data/{j}/attributes");
            let mut attributes = event["attributes"].as_object().cloned().unwrap_or_default();
            if !attributes.contains_key("backfill")
                && let Some(backfill) = entry.pointer("/attributes/backfill")
            {
                attributes.insert("backfill".into(), backfill.clone());
            }
            let profile_pointer = format!("/data/attributes/events-bulk-create/data/{i}/attributes/profile/data");
            validate_event(&attributes, &profile, &pointer, &profile_pointer, ctx.now)?;
            if let Some(unique_id) = attributes.get("unique_id").and_then(Value::as_str) {
                let metric = attributes
                    .get("metric")
                    .and_then(|m| m.pointer("/data/attributes/name"))
                    .cloned()
                    .unwrap_or_default();
                if !seen.insert((key.clone(), metric.to_string(), unique_id.to_owned())) {
                    return Err(ApiError::invalid(
                        format!("{pointer}/unique_id"),
                        format!("Duplicate unique_id '{unique_id}' for the same profile and metric in this request."),
                    ));
                }
            }
            work.push((
                attributes,
                profile.clone(),
                format!("/data/attributes/events-bulk-create/data/{i}/attributes/profile/data"),
            ));
        }
    }
    for (attributes, profile, pointer) in work {
        store.record_event(&attributes, &profile, &pointer, ctx.now)?;
    }
    Ok(Reply::empty(202))
}

fn find_list<'a>(store: &'a Store, id: &str) -> Result<&'a List, ApiError> {
    store
        .lists
        .iter()
        .find(|l| l.id == id)
        .ok_or_else(|| ApiError::not_found(format!("A list with id {id} does not exist.")))
}

fn get_lists(store: &Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let terms = ctx.filter(&[
        ("name", &["any", "equals"]),
        ("id", &["any", "equals"]),
        ("created", &["greater-than"]),
        ("updated", &["greater-than"]),
    ])?;
    let lists = store
        .lists
        .iter()
        .filter(|l| terms.iter().all(|t| t.matches(&named_field(l.named(), &t.field))))
        .collect();
    named_collection(ctx, lists, "list", |base, l| render::list(base, l), |l| l.named())
}

fn create_list(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let attributes = &ctx.body["data"]["attributes"];
    let name = attributes["name"].as_str().unwrap_or_default().to_owned();
    if name.trim().is_empty() {
        return Err(ApiError::invalid(
            "/data/attributes/name",
            "The list name may not be blank.",
        ));
    }
    let list = List {
        id: store.rng.short_id(),
        name,
        opt_in_process: attributes["opt_in_process"]
            .as_str()
            .unwrap_or("single_opt_in")
            .to_owned(),
        created: ctx.now,
        updated: ctx.now,
        members: Vec::new(),
    };
    let body = json!({ "data": render::list(&ctx.base, &list), "links": { "self": format!("{}/api/lists/{}/", ctx.base, list.id) } });
    store.lists.push(list);
    Ok(Reply::json(201, body))
}

const MAX_LIST_CHANGE: usize = 1_000;

fn change_list_members(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let list_id = ctx.param("id").to_owned();
    find_list(store, &list_id)?;
    let items = ctx.body["data"].as_array().cloned().unwrap_or_default();
    if items.len() > MAX_LIST_CHANGE {
        return Err(ApiError::invalid(
            "/data",
            format!("At most {MAX_LIST_CHANGE} profiles may be changed per request."),
        ));
    }
    let mut ids = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let id = item["id"].as_str().unwrap_or_default();
        if !store.profiles.contains_key(id) {
            return Err(ApiError::invalid(
                format!("/data/{i}/id"),
                format!("A profile with id {id} does not exist."),
            ));
        }
        ids.push(id.to_owned());
    }
    if ctx.operation == "add_profiles_to_list" {
        for id in &ids {
            store.add_to_list(&list_id, id, ctx.now);
        }
    } else if let Some(list) = store.lists.iter_mut().find(|l| l.id == list_id) {
        let before = list.members.len();
        list.members.retain(|(p, _)| !ids.contains(p));
        if list.members.len() != before {
            list.updated = ctx.now;
        }
    }
    Ok(Reply::empty(204))
}

fn find_segment<'a>(store: &'a Store, id: &str) -> Result<&'a Segment, ApiError> {
    store
        .segments
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| ApiError::not_found(format!("A segment with id {id} does not exist.")))
}

fn get_segments(store: &Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let terms = ctx.filter(&[
        ("name", &["any", "equals"]),
        ("id", &["any", "equals"]),
        ("created", &["greater-than"]),
        ("updated", &["greater-than"]),
        ("is_active", &["any", "equals"]),
        ("is_starred", &["equals"]),
    ])?;
    let segments = store
        .segments
        .iter()
        .filter(|s| {
            terms.iter().all(|t| {
                t.matches(&match t.field.as_str() {
                    "is_active" => json!(s.is_active),
                    "is_starred" => json!(s.is_starred),
                    field => named_field(s.named(), field),
                })
            })
        })
        .collect();
    named_collection(
        ctx,
        segments,
        "segment",
        |base, s| render::segment(base, s),
        |s| s.named(),
    )
}

/// What lists and segments share for filtering and sorting.
struct Named<'a> {
    id: &'a str,
    name: &'a str,
    created: chrono::DateTime<chrono::Utc>,
    updated: chrono::DateTime<chrono::Utc>,
}

impl List {
    fn named(&self) -> Named<'_> {
        Named {
            id: &self.id,
            name: &self.name,
            created: self.created,
            updated: self.updated,
        }
    }
}

impl Segment {
    fn named(&self) -> Named<'_> {
        Named {
            id: &self.id,
            name: &self.name,
            created: self.created,
            updated: self.updated,
        }
    }
}

/// The value a filter on `field` (`name`, `id`, `created` or `updated`) compares.
fn named_field(named: Named<'_>, field: &str) -> Value {
    match field {
        "name" => json!(named.name),
        "id" => json!(named.id),
        "created" => json!(crate::time::format(named.created)),
        _ => json!(crate::time::format(named.updated)),
    }
}

/// A page of lists or segments, sorted by `sort` on the keys both have.
fn named_collection<T: Clone>(
    ctx: &Ctx,
    mut items: Vec<T>,
    kind: &str,
    render: impl Fn(&str, &T) -> Value,
    named: impl Fn(&T) -> Named<'_>,
) -> Result<Reply, ApiError> {
    sort_by(
        &mut items,
        ctx.query("sort"),
        &["created", "id", "name", "updated"],
        |item, key| {
            let named = named(item);
            match key {
                "created" => json!(named.created.timestamp_millis()),
                "name" => json!(named.name),
                "updated" => json!(named.updated.timestamp_millis()),
                _ => json!(named.id),
            }
        },
    )?;
    let (page, links) = ctx.page(&items, 10, 10)?;
    Ok(Reply::json(
        200,
        collection(
            page.iter()
                .map(|item| sparse(ctx, kind, render(&ctx.base, item)))
                .collect(),
            links,
        ),
    ))
}

fn create_segment(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let attributes = &ctx.body["data"]["attributes"];
    let segment = Segment {
        id: store.rng.short_id(),
        name: attributes["name"].as_str().unwrap_or_default().to_owned(),
        definition: attributes["definition"].clone(),
        is_active: true,
        is_starred: attributes["is_starred"].as_bool().unwrap_or(false),
        created: ctx.now,
        updated: ctx.now,
    };
    let body = json!({ "data": render::segment(&ctx.base, &segment), "links": { "self": format!("{}/api/segments/{}/", ctx.base, segment.id) } });
    store.segments.push(segment);
    Ok(Reply::json(201, body))
}

fn update_segment(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    let id = ctx.param("id").to_owned();
    if ctx.body["data"]["id"].as_str() != Some(id.as_str()) {
        return Err(ApiError::conflict(
            "/data/id",
            "The id in the request body does not match the id in the URL.",
        ));
    }
    find_segment(store, &id)?;
    let attributes = ctx.body["data"]["attributes"].as_object().cloned().unwrap_or_default();
    let given: Vec<&String> = attributes
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, _)| k)
        .collect();
    if attributes.get("is_active") == Some(&Value::Bool(false)) && given.len() > 1 {
        return Err(ApiError::invalid(
            "/data/attributes/is_active",
            "Deactivating a segment must be the only change in the request.",
        ));
    }
    let segment = store.segments.iter_mut().find(|s| s.id == id).expect("segment exists");
    let before = segment.clone();
    if let Some(name) = attributes.get("name").and_then(Value::as_str) {
        segment.name = name.to_owned();
    }
    if let Some(definition) = attributes.get("definition").filter(|d| !d.is_null()) {
        segment.definition = definition.clone();
    }
    if let Some(starred) = attributes.get("is_starred").and_then(Value::as_bool) {
        segment.is_starred = starred;
    }
    if let Some(active) = attributes.get("is_active").and_then(Value::as_bool) {
        segment.is_active = active;
    }
    if *segment != before {
        segment.updated = ctx.now;
    }
    let body = json!({ "data": render::segment(&ctx.base, segment), "links": { "self": ctx.self_link() } });
    Ok(Reply::json(200, body))
}

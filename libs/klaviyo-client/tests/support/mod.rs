//! Test support: a validator for request bodies against Klaviyo's OpenAPI document, and a
//! scripted Klaviyo stand-in on 127.0.0.1:0 that records and validates every request.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ledgerlink_klaviyo_client::{ClientSettings, KlaviyoClient};
use serde_json::Value;

const OPENAPI_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/reference/klaviyo-openapi-2026-07-15.json"
);

/// Klaviyo's OpenAPI document with a validator for the subset of OpenAPI 3.0 schema it uses.
///
/// Stricter than JSON Schema on one point: an object schema that lists `properties` and
/// says nothing about `additionalProperties` is treated as closed, because the document
/// never says `additionalProperties: false` and an open reading would accept a `meta`
/// placed at the wrong level, the very mistake these tests exist to catch.
pub struct OpenApi {
    doc: Value,
}

pub fn openapi() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let text = std::fs::read_to_string(OPENAPI_PATH)
            .unwrap_or_else(|error| panic!("the klaviyo openapi document must be at {OPENAPI_PATH}: {error}"));
        OpenApi {
            doc: serde_json::from_str(&text).expect("openapi document is json"),
        }
    })
}

impl OpenApi {
    /// The operation matching a concrete method and path: `(operationId, operation)`.
    pub fn operation(&self, method: &str, path: &str) -> Option<(String, &Value)> {
        let method = method.to_ascii_lowercase();
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let paths = self.doc["paths"].as_object()?;
        for (template, item) in paths {
            let parts: Vec<&str> = template.split('/').collect();
            let matches = parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(part, segment)| part.starts_with('{') || part == segment);
            if matches && let Some(operation) = item.get(&method) {
                let id = operation["operationId"].as_str()?.to_owned();
                return Some((id, operation));
            }
        }
        None
    }

    /// The JSON:API request schema of an operation, by operationId.
    pub fn request_schema(&self, operation_id: &str) -> &Value {
        for item in self.doc["paths"].as_object().expect("paths").values() {
            for operation in item.as_object().expect("path item").values() {
                if operation.get("operationId").and_then(Value::as_str) == Some(operation_id) {
                    return operation
                        .pointer("/requestBody/content/application~1vnd.api+json/schema")
                        .unwrap_or_else(|| panic!("{operation_id} has no json:api request body"));
                }
            }
        }
        panic!("no operation {operation_id}")
    }

    /// Validates `body` against `operation_id`'s request schema.
    pub fn validate_request(&self, operation_id: &str, body: &Value) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        self.validate(self.request_schema(operation_id), body, "", &mut errors);
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.strip_prefix('#').expect("local ref");
                self.resolve(
                    self.doc
                        .pointer(pointer)
                        .unwrap_or_else(|| panic!("dangling ref {reference}")),
                )
            }
            None => schema,
        }
    }

    fn validate(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if value.is_null() {
            if schema.get("nullable") != Some(&Value::Bool(true)) {
                errors.push(format!("{at}: null where the schema is not nullable"));
            }
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for branch in all {
                self.validate(branch, value, at, errors);
            }
        }
        if let Some(any) = schema.get("anyOf").and_then(Value::as_array)
            && !any.iter().any(|branch| self.check(branch, value, at).is_empty())
        {
            errors.push(format!("{at}: matches no anyOf branch"));
        }
        if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
            let matching: Vec<&Value> = one
                .iter()
                .filter(|branch| self.check(branch, value, at).is_empty())
                .collect();
            // The document writes numbers as oneOf [integer, number], which a whole number
            // matches twice; that overlap is not an ambiguity in what was meant.
            let numeric_overlap = matching.len() > 1
                && matching.iter().all(|branch| {
                    let branch = self.resolve(branch);
                    branch.as_object().is_some_and(|object| object.len() == 1)
                        && matches!(branch.get("type").and_then(Value::as_str), Some("integer" | "number"))
                });
            if matching.len() != 1 && !numeric_overlap {
                let mut detail = String::new();
                if matching.is_empty() {
                    // Show why the closest branch failed.
                    if let Some(best) = one
                        .iter()
                        .map(|branch| self.check(branch, value, at))
                        .min_by_key(Vec::len)
                    {
                        detail = format!(" (closest: {})", best.join("; "));
                    }
                }
                errors.push(format!(
                    "{at}: matches {} oneOf branches, needs 1{detail}",
                    matching.len()
                ));
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{at}: {value} not in {allowed:?}"));
        }
        let kind = schema.get("type").and_then(Value::as_str);
        let type_ok = match kind {
            None => true,
            Some("string") => value.is_string(),
            Some("number") => value.is_number(),
            Some("integer") => value.as_f64().is_some_and(|n| n.fract() == 0.0),
            Some("boolean") => value.is_boolean(),
            Some("array") => value.is_array(),
            Some("object") => value.is_object(),
            Some(other) => panic!("unknown schema type {other}"),
        };
        if !type_ok {
            errors.push(format!("{at}: {value} is not of type {}", kind.unwrap_or_default()));
            return;
        }
        if schema.get("format").and_then(Value::as_str) == Some("date-time")
            && let Some(text) = value.as_str()
            && chrono::DateTime::parse_from_rfc3339(text).is_err()
        {
            errors.push(format!("{at}: {text:?} is not an rfc 3339 date-time"));
        }
        if let (Some(minimum), Some(number)) = (schema.get("minimum").and_then(Value::as_f64), value.as_f64())
            && number < minimum
        {
            errors.push(format!("{at}: {number} below minimum {minimum}"));
        }
        if let (Some(maximum), Some(number)) = (schema.get("maximum").and_then(Value::as_f64), value.as_f64())
            && number > maximum
        {
            errors.push(format!("{at}: {number} above maximum {maximum}"));
        }
        if let (Some(items), Some(item_schema)) = (value.as_array(), schema.get("items")) {
            for (index, item) in items.iter().enumerate() {
                self.validate(item_schema, item, &format!("{at}/{index}"), errors);
            }
        }
        if let Some(object) = value.as_object() {
            for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                let name = required.as_str().expect("required names are strings");
                if !object.contains_key(name) {
                    errors.push(format!("{at}: missing required {name:?}"));
                }
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            for (name, member) in object {
                let member_at = format!("{at}/{name}");
                match properties.and_then(|properties| properties.get(name)) {
                    Some(member_schema) => self.validate(member_schema, member, &member_at, errors),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(true)) => {}
                        Some(Value::Bool(false)) => errors.push(format!("{member_at}: not allowed")),
                        Some(extra) => self.validate(extra, member, &member_at, errors),
                        // Free-form objects (no `properties`) take anything.
                        None if properties.is_some() => errors.push(format!("{member_at}: not in the schema")),
                        None => {}
                    },
                }
            }
        }
    }

    fn check(&self, schema: &Value, value: &Value, at: &str) -> Vec<String> {
        let mut errors = Vec::new();
        self.validate(schema, value, at, &mut errors);
        errors
    }
}

/// Asserts that `body` is a valid request body for `operation_id`.
pub fn assert_valid(operation_id: &str, body: &Value) {
    if let Err(errors) = openapi().validate_request(operation_id, body) {
        panic!(
            "{operation_id} body does not match the openapi schema:\n{}\nbody: {body}",
            errors.join("\n")
        );
    }
}

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Option<Value>,
    pub body_len: usize,
    pub operation: Option<String>,
    pub at: tokio::time::Instant,
}

/// What the stand-in answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/vnd.api+json".to_owned())],
            body: body.to_string(),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn text(status: u16, content_type: &str, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", content_type.to_owned())],
            body: body.to_owned(),
        }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn error(status: u16, code: &str, detail: &str, pointer: Option<&str>) -> Reply {
        let mut error =
            serde_json::json!({"id": "err-1", "status": status, "code": code, "title": "Error.", "detail": detail});
        if let Some(pointer) = pointer {
            error["source"] = serde_json::json!({ "pointer": pointer });
        }
        Reply::json(status, serde_json::json!({ "errors": [error] }))
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

struct State {
    handler: Box<Handler>,
    requests: Mutex<Vec<Recorded>>,
    problems: Mutex<Vec<String>>,
}

/// A scripted Klaviyo stand-in.
pub struct Mock {
    pub base_url: String,
    state: Arc<State>,
}

pub const API_KEY: &str = "pk_test_0123456789";

impl Mock {
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Mock {
        let state = Arc::new(State {
            handler: Box::new(handler),
            requests: Mutex::new(Vec::new()),
            problems: Mutex::new(Vec::new()),
        });
        let shared = state.clone();
        let app = axum::Router::new()
            .fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { handle(&state, method, uri, headers, body) }
            })
            // Bulk bodies go up to Klaviyo's 5 MB, above axum's default 2 MB.
            .layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Mock {
            base_url: format!("http://{addr}"),
            state,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("lock").clone()
    }

    pub fn requests_to(&self, operation: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|request| request.operation.as_deref() == Some(operation))
            .collect()
    }

    /// Panics when any request had a body that does not match its schema, or bad headers.
    pub fn assert_all_valid(&self) {
        let problems = self.state.problems.lock().expect("lock");
        assert!(problems.is_empty(), "invalid requests:\n{}", problems.join("\n"));
    }

    pub fn client(&self) -> KlaviyoClient {
        self.client_with(fast_settings())
    }

    pub fn client_with(&self, settings: ClientSettings) -> KlaviyoClient {
        KlaviyoClient::builder(API_KEY.to_owned().into())
            .base_url(&self.base_url)
            .settings(settings)
            .build()
            .expect("client")
    }
}

/// Settings with short waits so that tests run fast on real time.
pub fn fast_settings() -> ClientSettings {
    ClientSettings {
        backoff_initial_ms: 2,
        backoff_max_ms: 10,
        min_throttle_wait_ms: 5,
        poll_initial_ms: 1,
        poll_max_ms: 5,
        max_retries: 3,
        ..ClientSettings::default()
    }
}

fn handle(state: &State, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    let query: HashMap<String, String> = uri
        .query()
        .map(|query| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(name, value)| (decode(name), decode(value)))
                .collect()
        })
        .unwrap_or_default();
    let mut problems = Vec::new();
    let operation = openapi().operation(method.as_str(), &path);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    if header("authorization").as_deref() != Some(&format!("Klaviyo-API-Key {API_KEY}")) {
        problems.push(format!("{method} {path}: wrong authorization header"));
    }
    if header("revision").is_none() {
        problems.push(format!("{method} {path}: no revision header"));
    }
    if header("accept").as_deref() != Some("application/vnd.api+json") {
        problems.push(format!("{method} {path}: accept is not json:api"));
    }
    let parsed = if body.is_empty() {
        None
    } else {
        if header("content-type").as_deref() != Some("application/vnd.api+json") {
            problems.push(format!("{method} {path}: content-type is not json:api"));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(value) => Some(value),
            Err(error) => {
                problems.push(format!("{method} {path}: body is not json: {error}"));
                None
            }
        }
    };
    match (&operation, &parsed) {
        (None, _) => problems.push(format!("{method} {path}: no such operation in the openapi document")),
        (Some((id, _)), Some(body)) => {
            if let Err(errors) = openapi().validate_request(id, body) {
                problems.push(format!("{id}: {}", errors.join("; ")));
            }
        }
        (Some((id, operation)), None) => {
            if operation.pointer("/requestBody/required") == Some(&Value::Bool(true)) {
                problems.push(format!("{id}: request body missing"));
            }
        }
    }
    let recorded = Recorded {
        method: method.to_string(),
        path,
        query,
        headers,
        body: parsed,
        body_len: body.len(),
        operation: operation.map(|(id, _)| id),
        at: tokio::time::Instant::now(),
    };
    state.problems.lock().expect("lock").extend(problems);
    let reply = (state.handler)(&recorded);
    state.requests.lock().expect("lock").push(recorded);
    let mut response = (StatusCode::from_u16(reply.status).expect("status"), reply.body).into_response();
    for (name, value) in reply.headers {
        response
            .headers_mut()
            .insert(name, value.parse().expect("header value"));
    }
    response
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                index += 2;
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

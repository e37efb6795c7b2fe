//! Klaviyo's JSON:API error envelope and the errors the simulator answers with.

use serde_json::{Map, Value, json};

/// Where an error points in the request: a JSON pointer into the body or a query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `source.pointer`, for example `/data/attributes/email`.
    Pointer(String),
    /// `source.parameter`, for example `filter`.
    Parameter(String),
}

/// One JSON:API error as Klaviyo returns it: `{id, status, code, title, detail, source, links, meta}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Klaviyo's machine code, for example `invalid` or `duplicate_profile`.
    pub code: &'static str,
    /// Short, fixed title for the code.
    pub title: &'static str,
    /// Human explanation of this occurrence.
    pub detail: String,
    /// What in the request was wrong.
    pub source: Option<Source>,
    /// Extra members such as `duplicate_profile_id`.
    pub meta: Map<String, Value>,
}

impl ApiError {
    /// Returns a 400 `invalid` error pointing at `pointer`.
    pub fn invalid(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError {
            status: 400,
            code: "invalid",
            title: "Invalid input.",
            detail: detail.into(),
            source: Some(Source::Pointer(pointer.into())),
            meta: Map::new(),
        }
    }

    /// Returns a 400 `invalid` error naming a query parameter.
    pub fn invalid_parameter(parameter: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError {
            source: Some(Source::Parameter(parameter.into())),
            ..ApiError::invalid("", detail)
        }
    }

    /// Returns a 404 `not_found` error.
    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError {
            status: 404,
            code: "not_found",
            title: "Not found.",
            detail: detail.into(),
            source: Some(Source::Pointer("/data/".into())),
            meta: Map::new(),
        }
    }

    /// Returns the 409 `duplicate_profile` error with `meta.duplicate_profile_id`.
    pub fn duplicate_profile(existing_id: &str) -> Self {
        let mut meta = Map::new();
        meta.insert("duplicate_profile_id".into(), Value::String(existing_id.into()));
        ApiError {
            status: 409,
            code: "duplicate_profile",
            title: "Conflict.",
            detail: "A profile already exists with one of these identifiers.".into(),
            source: Some(Source::Pointer("/data/attributes".into())),
            meta,
        }
    }

    /// Returns a 409 `conflict` error (JSON:API: the body's id or type disagrees with the URL).
    pub fn conflict(pointer: &str, detail: impl Into<String>) -> Self {
        ApiError {
            status: 409,
            code: "conflict",
            title: "Conflict.",
            detail: detail.into(),
            source: Some(Source::Pointer(pointer.into())),
            meta: Map::new(),
        }
    }

    /// Returns the 429 `throttled` error; `wait_secs` goes into the detail as Klaviyo words it.
    pub fn throttled(wait_secs: u64) -> Self {
        ApiError {
            status: 429,
            code: "throttled",
            title: "Request was throttled.",
            detail: format!("Request was throttled. Expected available in {wait_secs} seconds."),
            source: Some(Source::Pointer("/data/".into())),
            meta: Map::new(),
        }
    }

    /// Renders the one-error envelope `{"errors":[...]}` with the given error id.
    pub fn to_body(&self, id: String) -> Value {
        let source = match &self.source {
            Some(Source::Pointer(p)) => json!({ "pointer": p }),
            Some(Source::Parameter(p)) => json!({ "parameter": p }),
            None => json!({}),
        };
        json!({ "errors": [ {
            "id": id,
            "status": self.status,
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "source": source,
            "links": {},
            "meta": self.meta,
        } ] })
    }
}

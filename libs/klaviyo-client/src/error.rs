//! Errors of the Klaviyo client, and Klaviyo's JSON:API error objects.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::endpoint::Endpoint;

/// How much of a body that is not JSON is kept for the error message.
const BODY_EXCERPT_CHARS: usize = 300;

/// Everything that can go wrong talking to Klaviyo.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configured base URL is not usable.
    #[error("invalid klaviyo base url {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The configured URL.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The client settings cannot work.
    #[error("invalid klaviyo client setting {field}: {reason}")]
    InvalidSettings {
        /// The setting.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// A record cannot be sent as given (checked before anything is sent).
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// What was being checked (`profile`, `event`, `segment`, …).
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Klaviyo answered with an error status that is not worth retrying (or retries ran out).
    #[error("klaviyo rejected {endpoint}: {error}")]
    Api {
        /// The operation called.
        endpoint: Endpoint,
        /// What Klaviyo said.
        error: ApiError,
    },
    /// The HTTP exchange itself failed (connect, timeout, reset).
    #[error("http request to klaviyo {endpoint} failed: {source}")]
    Transport {
        /// The operation called.
        endpoint: Endpoint,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// Retries were spent; `last` is the error of the final attempt.
    #[error("klaviyo request failed after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The error of the last attempt.
        last: Box<Error>,
    },
    /// A success response that does not have the documented shape.
    #[error("unexpected response from klaviyo {endpoint}: {reason}")]
    Decode {
        /// The operation called.
        endpoint: Endpoint,
        /// What was wrong.
        reason: String,
    },
    /// The endpoint's daily cap is spent; waiting inside a run would take hours.
    #[error("daily limit of klaviyo {endpoint} reached, next slot in {}s", retry_in.as_secs())]
    DailyLimitReached {
        /// The operation.
        endpoint: Endpoint,
        /// When a request could be sent again.
        retry_in: Duration,
    },
    /// A bulk profile import job did not finish within the configured time.
    #[error("klaviyo profile import job {job_id} still {status} after {}s", waited.as_secs())]
    JobTimeout {
        /// The job.
        job_id: String,
        /// Its last seen status.
        status: String,
        /// How long the client polled.
        waited: Duration,
    },
    /// A 409 `duplicate_profile` that re-targeting the existing profile did not resolve.
    #[error("profile identifiers belong to another klaviyo profile {duplicate_profile_id}")]
    DuplicateProfile {
        /// The existing profile Klaviyo named.
        duplicate_profile_id: String,
        /// Klaviyo's answer.
        error: ApiError,
    },
}

impl Error {
    /// Klaviyo's answer behind this error, if Klaviyo answered.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api { error, .. } | Error::DuplicateProfile { error, .. } => Some(error),
            Error::RetriesExhausted { last, .. } => last.api_error(),
            _ => None,
        }
    }

    /// The HTTP status Klaviyo answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        self.api_error().map(|error| error.status)
    }

    /// Whether the same request could succeed later (throttling, server or network trouble).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Api { error, .. } => error.is_transient(),
            Error::Transport { source, .. } => !source.is_builder(),
            Error::RetriesExhausted { last, .. } => last.is_transient(),
            Error::DailyLimitReached { .. } | Error::JobTimeout { .. } => true,
            _ => false,
        }
    }
}

/// An error answer from Klaviyo: the status and its JSON:API error objects.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The `errors` array; empty when the body was not JSON:API.
    pub errors: Vec<ErrorObject>,
    /// The start of a body that was not JSON (a proxy's HTML page, say), else `None`.
    pub body_excerpt: Option<String>,
    /// Seconds from a `Retry-After` header, when one was sent.
    pub retry_after: Option<Duration>,
}

/// One JSON:API error object.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[non_exhaustive]
pub struct ErrorObject {
    /// Klaviyo's id of this error occurrence.
    #[serde(default)]
    pub id: String,
    /// HTTP status as Klaviyo wrote it inside the object.
    #[serde(default)]
    pub status: Option<u16>,
    /// Machine-readable code (`duplicate_profile`, `throttled`, `invalid`, …).
    #[serde(default)]
    pub code: String,
    /// Short summary.
    #[serde(default)]
    pub title: String,
    /// Human-readable explanation.
    #[serde(default)]
    pub detail: String,
    /// Where in the request the problem is.
    #[serde(default)]
    pub source: Option<ErrorSource>,
    /// Extra data, such as `duplicate_profile_id`.
    #[serde(default)]
    pub meta: Option<Value>,
}

/// The `source` of an error object.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct ErrorSource {
    /// JSON pointer into the request body.
    #[serde(default)]
    pub pointer: Option<String>,
    /// The query parameter at fault.
    #[serde(default)]
    pub parameter: Option<String>,
}

impl ErrorObject {
    /// `source.pointer`, if given.
    pub fn pointer(&self) -> Option<&str> {
        self.source.as_ref().and_then(|source| source.pointer.as_deref())
    }

    /// `meta.duplicate_profile_id`, if given.
    pub fn duplicate_profile_id(&self) -> Option<&str> {
        self.meta
            .as_ref()
            .and_then(|meta| meta.get("duplicate_profile_id"))
            .and_then(Value::as_str)
    }
}

#[derive(Deserialize)]
struct Envelope {
    errors: Vec<ErrorObject>,
}

impl ApiError {
    /// Reads an error answer; a body that is not a JSON:API error document keeps an excerpt.
    pub fn from_response(status: u16, retry_after: Option<Duration>, body: &[u8]) -> ApiError {
        // Status codes inside the objects are sometimes strings; they are informative only.
        let errors = serde_json::from_slice::<Value>(body).ok().and_then(|mut value| {
            if let Some(errors) = value.get_mut("errors").and_then(Value::as_array_mut) {
                for error in errors.iter_mut() {
                    if let Some(text) = error.get("status").and_then(Value::as_str) {
                        let parsed = text.parse::<u16>().ok().map(Value::from).unwrap_or(Value::Null);
                        error["status"] = parsed;
                    }
                }
            }
            serde_json::from_value::<Envelope>(value).ok()
        });
        match errors {
            Some(envelope) => ApiError {
                status,
                errors: envelope.errors,
                body_excerpt: None,
                retry_after,
            },
            None => {
                let text = String::from_utf8_lossy(body);
                let excerpt: String = text.trim().chars().take(BODY_EXCERPT_CHARS).collect();
                ApiError {
                    status,
                    errors: Vec::new(),
                    body_excerpt: Some(excerpt),
                    retry_after,
                }
            }
        }
    }

    /// The first error object, which is the one Klaviyo's own clients read.
    pub fn first(&self) -> Option<&ErrorObject> {
        self.errors.first()
    }

    /// The first error's code, if any.
    pub fn code(&self) -> Option<&str> {
        self.first()
            .map(|error| error.code.as_str())
            .filter(|code| !code.is_empty())
    }

    /// The first `meta.duplicate_profile_id` among the errors.
    pub fn duplicate_profile_id(&self) -> Option<&str> {
        self.errors.iter().find_map(ErrorObject::duplicate_profile_id)
    }

    /// Whether this answer is worth retrying: 429, 5xx (and 408).
    pub fn is_transient(&self) -> bool {
        self.status == 429 || self.status == 408 || self.status >= 500
    }

    /// The seconds a 429's `detail` says to wait ("Expected available in 3 seconds").
    pub fn detail_wait(&self) -> Option<Duration> {
        self.errors.iter().find_map(|error| seconds_in_detail(&error.detail))
    }
}

/// Reads the number before "second" in a throttling detail.
fn seconds_in_detail(detail: &str) -> Option<Duration> {
    let lower = detail.to_ascii_lowercase();
    let end = lower.find(" second")?;
    let before = lower[..end].trim_end();
    let start = before
        .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or(0, |index| index + 1);
    let seconds: f64 = before[start..].parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "status {}", self.status)?;
        if let Some(first) = self.first() {
            if !first.code.is_empty() {
                write!(f, " {}", first.code)?;
            }
            let message = if first.detail.is_empty() {
                &first.title
            } else {
                &first.detail
            };
            if !message.is_empty() {
                write!(f, ": {message}")?;
            }
            if let Some(pointer) = first.pointer() {
                write!(f, " (at {pointer})")?;
            }
            if self.errors.len() > 1 {
                write!(f, " and {} more", self.errors.len() - 1)?;
            }
        } else if let Some(excerpt) = &self.body_excerpt {
            if excerpt.is_empty() {
                f.write_str(" with an empty body")?;
            } else {
                write!(f, " with a non-json body: {excerpt}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_duplicate_profile_error() {
        let body = br#"{"errors":[{"id":"e1","status":409,"code":"duplicate_profile","title":"Conflict.",
            "detail":"A profile already exists with one of these identifiers.",
            "source":{"pointer":"/data/attributes"},"links":{},"meta":{"duplicate_profile_id":"01DUP"}}]}"#;
        let error = ApiError::from_response(409, None, body);
        assert_eq!(error.code(), Some("duplicate_profile"));
        assert_eq!(error.duplicate_profile_id(), Some("01DUP"));
        assert_eq!(error.first().and_then(ErrorObject::pointer), Some("/data/attributes"));
        assert_eq!(error.first().and_then(|e| e.status), Some(409));
    }

    #[test]
    fn keeps_an_excerpt_of_a_non_json_body() {
        let error = ApiError::from_response(403, None, b"<html>Just a moment...</html>");
        assert!(error.errors.is_empty());
        assert_eq!(error.body_excerpt.as_deref(), Some("<html>Just a moment...</html>"));
        assert!(error.to_string().contains("non-json body"));
    }

    #[test]
    fn string_status_inside_error_objects_is_accepted() {
        let body = br#"{"errors":[{"id":"x","status":"400","code":"invalid","title":"t","detail":"d"}]}"#;
        let error = ApiError::from_response(400, None, body);
        assert_eq!(error.first().and_then(|e| e.status), Some(400));
    }

    #[test]
    fn reads_wait_from_throttle_detail() {
        assert_eq!(
            seconds_in_detail("Request was throttled. Expected available in 3 seconds."),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            seconds_in_detail("Expected available in 0 seconds"),
            Some(Duration::ZERO)
        );
        assert_eq!(
            seconds_in_detail("Expected available in 1.5 seconds"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(seconds_in_detail("Request was throttled."), None);
    }
}

//! Errors of the NetSuite client, and NetSuite's own error body.

use std::fmt;

use serde::Deserialize;

use crate::settings::SettingsError;
use crate::suiteql::RowError;

/// NetSuite's error code for a request refused because too many run at once.
pub const CONCURRENCY_LIMIT_EXCEEDED: &str = "CONCURRENCY_LIMIT_EXCEEDED";
/// The RESTlet flavour of the same refusal (HTTP 400).
pub const SSS_REQUEST_LIMIT_EXCEEDED: &str = "SSS_REQUEST_LIMIT_EXCEEDED";

/// Everything that can go wrong talking to NetSuite.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configured base URL is not usable.
    #[error("invalid base url {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The configured URL.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The client settings cannot work.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// NetSuite answered with an error status that is not worth retrying (or retries ran out).
    #[error("netsuite rejected the request: {0}")]
    Api(ApiError),
    /// NetSuite refused the credentials, even after one retry with a fresh signature or token.
    #[error("netsuite rejected the credentials: {0}")]
    BadCredentials(ApiError),
    /// The OAuth 2.0 token endpoint refused the client assertion.
    #[error("netsuite token endpoint rejected the client assertion: {0}")]
    TokenRejected(ApiError),
    /// The HTTP exchange itself failed (connect, timeout, reset).
    #[error("http request to netsuite failed: {0}")]
    Transport(#[source] reqwest::Error),
    /// Retries were spent; `last` is the error of the final attempt.
    #[error("netsuite request failed after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The error of the last attempt.
        last: Box<Error>,
    },
    /// A success response that does not have the documented shape.
    #[error("unexpected response from netsuite ({context}): {source}")]
    Decode {
        /// What was being decoded.
        context: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The OAuth 2.0 private key could not be loaded or used.
    #[error("invalid oauth 2.0 private key: {0}")]
    InvalidKey(String),
    /// A paging request NetSuite would refuse (limit outside 1..=1000, offset not a
    /// multiple of limit, offset past the 100,000-row cap).
    #[error("invalid paging request: {0}")]
    InvalidPaging(String),
    /// Offset paging would have to go past NetSuite's 100,000-row cap; use keyset paging.
    #[error("query has more than {cap} rows, past what offset paging can reach; page by key instead")]
    OffsetCapReached {
        /// The cap that was hit.
        cap: u64,
    },
    /// Keyset paging could not continue.
    #[error("keyset paging on column {column}: {reason}")]
    Keyset {
        /// The key column.
        column: String,
        /// What went wrong.
        reason: String,
    },
    /// A row value did not have the expected type.
    #[error(transparent)]
    Row(#[from] RowError),
}

impl Error {
    /// NetSuite's error details, when this error carries a NetSuite answer.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) | Error::BadCredentials(api) | Error::TokenRejected(api) => Some(api),
            Error::RetriesExhausted { last, .. } => last.api_error(),
            _ => None,
        }
    }

    /// True when the failure was a timeout, at any depth.
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Transport(error) => error.is_timeout(),
            Error::RetriesExhausted { last, .. } => last.is_timeout(),
            _ => false,
        }
    }
}

/// One NetSuite error answer: the HTTP status plus what the RFC 7807-like body said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The body's `title`, e.g. `Bad Request`.
    pub title: Option<String>,
    /// The most specific error code: the first `o:errorDetails[].o:errorCode`, else the
    /// top-level `o:errorCode`, else an OAuth `error`.
    pub error_code: Option<String>,
    /// The first detail message (or a prefix of a body that was not JSON).
    pub detail: Option<String>,
    /// Every entry of `o:errorDetails`.
    pub details: Vec<ErrorDetail>,
}

/// One entry of `o:errorDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ErrorDetail {
    /// Human-readable message.
    #[serde(default)]
    pub detail: Option<String>,
    /// NetSuite's error code, e.g. `INVALID_PARAMETER`.
    #[serde(default, rename = "o:errorCode")]
    pub error_code: Option<String>,
    /// Path of the offending field, when given.
    #[serde(default, rename = "o:errorPath")]
    pub error_path: Option<String>,
    /// Offending query parameter, when given.
    #[serde(default, rename = "o:errorQueryParam")]
    pub error_query_param: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    title: Option<String>,
    #[serde(default, rename = "o:errorCode")]
    error_code: Option<String>,
    #[serde(default, rename = "o:errorDetails")]
    details: Vec<ErrorDetail>,
    // OAuth 2.0 token endpoint errors (RFC 6749 §5.2).
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// How much of a body that is not JSON is kept as the detail.
const MAX_RAW_DETAIL: usize = 300;

impl ApiError {
    /// Reads an error answer; tolerates bodies that are not NetSuite's JSON (proxies and
    /// load balancers answer with HTML or plain text).
    pub fn from_response(status: u16, www_authenticate: Option<&str>, body: &[u8]) -> ApiError {
        let mut error = ApiError {
            status,
            title: None,
            error_code: None,
            detail: None,
            details: Vec::new(),
        };
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(parsed) => {
                error.error_code = parsed
                    .details
                    .iter()
                    .find_map(|detail| detail.error_code.clone())
                    .or(parsed.error_code)
                    .or(parsed.error);
                error.detail = parsed
                    .details
                    .iter()
                    .find_map(|detail| detail.detail.clone())
                    .or(parsed.error_description);
                error.title = parsed.title;
                error.details = parsed.details;
            }
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                if !text.is_empty() {
                    error.detail = Some(text.chars().take(MAX_RAW_DETAIL).collect());
                }
            }
        }
        if let Some(challenge) = www_authenticate {
            if error.error_code.is_none() {
                error.error_code = challenge_param(challenge, "error");
            }
            if error.detail.is_none() {
                error.detail = challenge_param(challenge, "error_description");
            }
        }
        error
    }

    /// True when NetSuite refused the request for exceeding the concurrency limit.
    pub fn is_concurrency_limit(&self) -> bool {
        let is_limit_code = |code: &str| code == CONCURRENCY_LIMIT_EXCEEDED || code == SSS_REQUEST_LIMIT_EXCEEDED;
        self.error_code.as_deref().is_some_and(is_limit_code)
            || self
                .details
                .iter()
                .filter_map(|detail| detail.error_code.as_deref())
                .any(is_limit_code)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http {}", self.status)?;
        if let Some(code) = &self.error_code {
            write!(f, " {code}")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

/// Reads `name="value"` out of a `WWW-Authenticate: Bearer …` challenge.
fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}=\"");
    let mut rest = challenge;
    while let Some(index) = rest.find(&prefix) {
        let before = rest[..index].chars().last();
        let value_start = index + prefix.len();
        // Skip matches inside a longer name (`error` inside `my_error`).
        if before.is_none_or(|c| c == ' ' || c == ',') {
            let value = &rest[value_start..];
            return value.find('"').map(|end| value[..end].to_owned());
        }
        rest = &rest[value_start..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_code_and_detail_from_netsuite_error_body() {
        let body = br#"{"type":"https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html","title":"Bad Request","status":400,
            "o:errorDetails":[{"detail":"Invalid search query. Unknown identifier 'foreignamountremaining'.","o:errorCode":"INVALID_PARAMETER","o:errorQueryParam":"q"}]}"#;
        let error = ApiError::from_response(400, None, body);
        assert_eq!(error.error_code.as_deref(), Some("INVALID_PARAMETER"));
        assert!(error.detail.as_deref().unwrap().contains("foreignamountremaining"));
        assert_eq!(error.title.as_deref(), Some("Bad Request"));
        assert_eq!(error.details[0].error_query_param.as_deref(), Some("q"));
        assert!(!error.is_concurrency_limit());
        assert_eq!(
            error.to_string(),
            "http 400 INVALID_PARAMETER: Invalid search query. Unknown identifier 'foreignamountremaining'."
        );
    }

    #[test]
    fn concurrency_body_with_top_level_user_error_is_still_a_concurrency_limit() {
        let body = br#"{"type":"x","title":"Bad Request","status":429,"o:errorCode":"USER_ERROR",
            "o:errorDetails":[{"detail":"Concurrent request limit exceeded. Request blocked.","o:errorCode":"CONCURRENCY_LIMIT_EXCEEDED"}]}"#;
        let error = ApiError::from_response(429, None, body);
        assert_eq!(error.error_code.as_deref(), Some(CONCURRENCY_LIMIT_EXCEEDED));
        assert!(error.is_concurrency_limit());
    }

    #[test]
    fn tolerates_html_and_empty_bodies() {
        let error = ApiError::from_response(502, None, b"<html>Bad gateway</html>");
        assert_eq!(error.error_code, None);
        assert_eq!(error.detail.as_deref(), Some("<html>Bad gateway</html>"));
        let long = "x".repeat(5000);
        let error = ApiError::from_response(500, None, long.as_bytes());
        assert_eq!(error.detail.unwrap().len(), MAX_RAW_DETAIL);
        let error = ApiError::from_response(503, None, b"");
        assert_eq!(error.detail, None);
        assert_eq!(error.to_string(), "http 503");
    }

    #[test]
    fn falls_back_to_oauth_error_fields_and_www_authenticate() {
        let error = ApiError::from_response(400, None, br#"{"error":"invalid_grant","error_description":"expired"}"#);
        assert_eq!(error.error_code.as_deref(), Some("invalid_grant"));
        assert_eq!(error.detail.as_deref(), Some("expired"));
        let error = ApiError::from_response(
            401,
            Some(r#"Bearer realm="123456", error="invalid_token", error_description="Invalid login attempt.""#),
            b"",
        );
        assert_eq!(error.error_code.as_deref(), Some("invalid_token"));
        assert_eq!(error.detail.as_deref(), Some("Invalid login attempt."));
    }
}

//! NetSuite's REST error bodies (reference §5).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The detail NetSuite gives for every failed login, whatever the real reason.
pub const INVALID_LOGIN_DETAIL: &str = "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.";

/// The detail of a refused concurrent request.
pub const CONCURRENCY_DETAIL: &str = "Concurrent request limit exceeded. Request blocked.";

const TYPE_URL: &str = "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html";

fn title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 429 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        415 => "Unsupported Media Type",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

fn type_url(status: StatusCode) -> String {
    let section = match status.as_u16() {
        // The 401 sample of the reference carries no fragment; keep it exactly.
        401 => return TYPE_URL.to_owned(),
        400 | 429 => "#sec10.4.1",
        403 => "#sec10.4.4",
        404 => "#sec10.4.5",
        405 => "#sec10.4.6",
        415 => "#sec10.4.16",
        503 => "#sec10.5.4",
        _ => "#sec10.5.1",
    };
    format!("{TYPE_URL}{section}")
}

/// An error response with NetSuite's body shape.
pub fn error_response(status: StatusCode, code: &str, detail: &str, query_param: Option<&str>) -> Response {
    let mut entry = json!({"detail": detail, "o:errorCode": code});
    if let Some(param) = query_param {
        entry["o:errorQueryParam"] = json!(param);
    }
    let mut body = json!({
        "type": type_url(status),
        "title": title(status),
        "status": status.as_u16(),
        "o:errorDetails": [entry],
    });
    if status == StatusCode::TOO_MANY_REQUESTS {
        // Oracle's sample of this error carries a second, top-level code.
        body["o:errorCode"] = json!("USER_ERROR");
    }
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.oracle.resource+json; type=error; charset=UTF-8"),
    );
    response
}

/// 401 `INVALID_LOGIN`.
pub fn invalid_login() -> Response {
    error_response(StatusCode::UNAUTHORIZED, "INVALID_LOGIN", INVALID_LOGIN_DETAIL, None)
}

/// 429 `CONCURRENCY_LIMIT_EXCEEDED`.
pub fn concurrency_exceeded() -> Response {
    error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "CONCURRENCY_LIMIT_EXCEEDED",
        CONCURRENCY_DETAIL,
        None,
    )
}

/// 400 `INVALID_PARAMETER` about the query.
pub fn invalid_query(detail: &str) -> Response {
    error_response(
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER",
        &format!("Invalid search query. Detailed unprocessed description follows. Search error occurred: {detail}"),
        Some("q"),
    )
}

/// 500 `UNEXPECTED_ERROR` with an error id, as NetSuite words it.
pub fn unexpected_error(error_id: &str) -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "UNEXPECTED_ERROR",
        &format!("An unexpected error occurred. Error ID: {error_id}"),
        None,
    )
}

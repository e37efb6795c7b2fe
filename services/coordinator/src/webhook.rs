//! The signed HTTP webhook a NetSuite user-event script calls when an invoice changes.
//!
//! The body is signed with HMAC-SHA256 over `"{timestamp}.{body}"` with a shared
//! secret; the timestamp must be within the replay window of the coordinator's clock,
//! and each signature is accepted once (the store remembers it for the window).

use aws_lc_rs::hmac;
use chrono::{DateTime, Duration, Utc};

/// Header carrying the Unix time, in seconds, at which the request was signed.
pub const TIMESTAMP_HEADER: &str = "x-ledgerlink-timestamp";
/// Header carrying `v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "x-ledgerlink-signature";
/// How far the signing time may be from the coordinator's clock, either way.
pub const DEFAULT_REPLAY_WINDOW: Duration = Duration::minutes(5);

/// Why a webhook request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// A header is missing or malformed.
    #[error("missing or malformed {0} header")]
    Header(&'static str),
    /// The signing time is outside the replay window.
    #[error("timestamp outside the replay window")]
    Stale,
    /// The signature does not match the body.
    #[error("signature does not match")]
    BadSignature,
    /// The same signed request was already accepted.
    #[error("request already accepted once")]
    Replayed,
}

/// Returns the signature header value for `body` signed at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!("v1={}", hex(context.sign().as_ref()))
}

/// Checks the headers against `body`; returns the signature, which the caller records
/// to refuse a replay of the same request.
pub fn verify(
    secret: &[u8],
    timestamp_header: Option<&str>,
    signature_header: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
    window: Duration,
) -> Result<String, WebhookError> {
    let timestamp: i64 = timestamp_header
        .and_then(|text| text.trim().parse().ok())
        .ok_or(WebhookError::Header(TIMESTAMP_HEADER))?;
    let signature = signature_header
        .map(str::trim)
        .filter(|s| s.starts_with("v1="))
        .ok_or(WebhookError::Header(SIGNATURE_HEADER))?;
    let signed_at = DateTime::from_timestamp(timestamp, 0).ok_or(WebhookError::Header(TIMESTAMP_HEADER))?;
    if (now - signed_at).abs() > window {
        return Err(WebhookError::Stale);
    }
    let presented = unhex(&signature[3..]).ok_or(WebhookError::Header(SIGNATURE_HEADER))?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut message = Vec::with_capacity(body.len() + 12);
    message.extend_from_slice(timestamp.to_string().as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    // Constant-time comparison inside aws-lc.
    hmac::verify(&key, &message, &presented).map_err(|_| WebhookError::BadSignature)?;
    Ok(signature.to_owned())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const SECRET: &[u8] = b"whsec-test";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
    }

    #[test]
    fn a_signed_request_verifies() {
        let body = br#"{"invoice_id":"88121"}"#;
        let ts = now().timestamp();
        let signature = sign(SECRET, ts, body);
        let verified = verify(
            SECRET,
            Some(&ts.to_string()),
            Some(&signature),
            body,
            now(),
            DEFAULT_REPLAY_WINDOW,
        );
        assert_eq!(verified, Ok(signature));
    }

    #[test]
    fn tampering_wrong_secret_and_staleness_are_refused() {
        let body = br#"{"invoice_id":"88121"}"#;
        let ts = now().timestamp();
        let signature = sign(SECRET, ts, body);
        let check = |secret: &[u8], ts: i64, sig: Option<&str>, body: &[u8]| {
            verify(secret, Some(&ts.to_string()), sig, body, now(), DEFAULT_REPLAY_WINDOW)
        };
        assert_eq!(
            check(SECRET, ts, Some(&signature), br#"{"invoice_id":"88122"}"#),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            check(b"other", ts, Some(&signature), body),
            Err(WebhookError::BadSignature)
        );
        // Same body, signature made for another timestamp.
        assert_eq!(
            check(SECRET, ts + 1, Some(&signature), body),
            Err(WebhookError::BadSignature)
        );
        let old = ts - 301;
        assert_eq!(
            check(SECRET, old, Some(&sign(SECRET, old, body)), body),
            Err(WebhookError::Stale)
        );
        let future = ts + 301;
        assert_eq!(
            check(SECRET, future, Some(&sign(SECRET, future, body)), body),
            Err(WebhookError::Stale)
        );
        assert_eq!(
            check(SECRET, ts, None, body),
            Err(WebhookError::Header(SIGNATURE_HEADER))
        );
        assert_eq!(
            check(SECRET, ts, Some("v1=zz"), body),
            Err(WebhookError::Header(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(
                SECRET,
                Some("yesterday"),
                Some(&signature),
                body,
                now(),
                DEFAULT_REPLAY_WINDOW
            ),
            Err(WebhookError::Header(TIMESTAMP_HEADER))
        );
    }

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Known answer computed independently (Python's hmac module) for the framing
        // "{timestamp}.{body}", so a SuiteScript implementation can be checked against it.
        assert_eq!(
            sign(b"Jefe", 0, b"what do ya want for nothing?"),
            "v1=37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc"
        );
    }
}

/// The HTTP side: `POST /webhooks/netsuite/invoice` with `{"invoice_id": "…"}`.
pub mod server {
    use std::sync::Arc;

    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use chrono::Utc;
    use secrecy::{ExposeSecret, SecretString};
    use serde::Deserialize;

    use super::{DEFAULT_REPLAY_WINDOW, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookError, verify};
    use crate::run::{RunKind, Targets};
    use crate::runner::Coordinator;
    use crate::store::NewRun;

    /// The route a NetSuite user-event script posts to.
    pub const PATH: &str = "/webhooks/netsuite/invoice";

    #[derive(Clone)]
    struct Hook {
        coordinator: Arc<Coordinator>,
        secret: Arc<SecretString>,
    }

    #[derive(Deserialize)]
    struct Body {
        invoice_id: serde_json::Value,
    }

    fn answer(status: StatusCode, message: &str) -> Response {
        (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
    }

    /// Builds the webhook's routes.
    pub fn router(coordinator: Arc<Coordinator>, secret: SecretString) -> Router {
        Router::new()
            .route(PATH, post(receive))
            .route("/healthz", get(|| async { "ok" }))
            .with_state(Hook {
                coordinator,
                secret: Arc::new(secret),
            })
    }

    async fn receive(State(hook): State<Hook>, headers: HeaderMap, body: Bytes) -> Response {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let now = Utc::now();
        let signature = match verify(
            hook.secret.expose_secret().as_bytes(),
            header(TIMESTAMP_HEADER),
            header(SIGNATURE_HEADER),
            &body,
            now,
            DEFAULT_REPLAY_WINDOW,
        ) {
            Ok(signature) => signature,
            Err(error) => {
                tracing::warn!(reason = %error, "webhook refused");
                return answer(StatusCode::UNAUTHORIZED, &error.to_string());
            }
        };
        let invoice_id = match serde_json::from_slice::<Body>(&body) {
            Ok(Body {
                invoice_id: serde_json::Value::String(id),
            }) if !id.trim().is_empty() => id.trim().to_owned(),
            Ok(Body {
                invoice_id: serde_json::Value::Number(id),
            }) => id.to_string(),
            _ => return answer(StatusCode::BAD_REQUEST, "body must be {\"invoice_id\": \"…\"}"),
        };
        match hook
            .coordinator
            .store()
            .accept_webhook(&signature, now, DEFAULT_REPLAY_WINDOW)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(invoice_id = %invoice_id, "webhook replay refused");
                return answer(StatusCode::CONFLICT, &WebhookError::Replayed.to_string());
            }
            Err(error) => {
                tracing::error!(error = %error, "webhook store failed");
                return answer(StatusCode::SERVICE_UNAVAILABLE, "store unavailable");
            }
        }
        let submitted = hook
            .coordinator
            .submit(NewRun {
                kind: RunKind::Invoice,
                dry_run: false,
                trigger: "webhook".to_owned(),
                targets: Targets {
                    invoice_ids: vec![invoice_id],
                    ..Targets::default()
                },
                as_of: hook.coordinator.today(),
            })
            .await;
        match submitted {
            Ok(run) => (
                StatusCode::ACCEPTED,
                axum::Json(serde_json::json!({ "run_id": run.run_id })),
            )
                .into_response(),
            Err(error) => {
                tracing::error!(error = %error, "webhook run not queued");
                answer(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
            }
        }
    }
}

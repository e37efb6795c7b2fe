//! What the client tells OpenTelemetry: one span per logical request (its attempts,
//! rate-limit waits, last status and Klaviyo error code) and, per HTTP attempt, the shared
//! `ledgerlink.external.*` metrics of [`ledgerlink_api_telemetry`]. Neither carries a
//! header, the API key, a query string (lookup filters hold email addresses) or a
//! request body.

pub(crate) use ledgerlink_api_telemetry::{ApiInstruments, Tally};

use crate::error::Error;

/// The `api` attribute of every metric recorded here.
pub(crate) const API: &str = "klaviyo";

/// Klaviyo's error code behind `error`, if Klaviyo answered one.
pub(crate) fn error_code(error: &Error) -> Option<&str> {
    match error {
        Error::Api { error, .. } => error
            .errors
            .iter()
            .map(|object| object.code.as_str())
            .find(|code| !code.is_empty()),
        Error::RetriesExhausted { last, .. } => error_code(last),
        _ => None,
    }
}

//! What the client tells OpenTelemetry: one span per logical request (its attempts,
//! waits, last status and NetSuite error code) and, per HTTP attempt, the shared
//! `ledgerlink.external.*` metrics of [`ledgerlink_api_telemetry`]. Neither carries a
//! header, a token or a query string.

pub(crate) use ledgerlink_api_telemetry::{ApiInstruments, Tally};

use crate::error::{ApiError, Error};
use crate::oauth2::TOKEN_PATH;
use crate::suiteql::SUITEQL_PATH;

/// The `api` attribute of every metric recorded here.
pub(crate) const API: &str = "netsuite";

/// The endpoint label of a REST path: a fixed few, so ids in paths never become series.
pub(crate) fn endpoint_of(path: &str) -> &'static str {
    if path == SUITEQL_PATH {
        "suiteql"
    } else if path == TOKEN_PATH {
        "token"
    } else if path.starts_with("/services/rest/record/") {
        "record"
    } else {
        "rest"
    }
}

/// The NetSuite error behind `error`, if NetSuite answered one.
pub(crate) fn api_error(error: &Error) -> Option<&ApiError> {
    match error {
        Error::Api(api) | Error::BadCredentials(api) | Error::TokenRejected(api) => Some(api),
        Error::RetriesExhausted { last, .. } => api_error(last),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_a_fixed_few() {
        assert_eq!(endpoint_of(SUITEQL_PATH), "suiteql");
        assert_eq!(endpoint_of(TOKEN_PATH), "token");
        assert_eq!(endpoint_of("/services/rest/record/v1/customer/42"), "record");
        assert_eq!(endpoint_of("/services/rest/system/v1/x"), "rest");
    }
}

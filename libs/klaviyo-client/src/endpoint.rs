//! The Klaviyo operations this client calls, with their published rate limits.
//!
//! The limits are copied from `x-klaviyo-ratelimit` of the OpenAPI document of revision
//! 2026-07-15 (via `klaviyo-ratelimits-2026-07-15.tsv`); a test checks the table against
//! that file so a drift is caught.

use std::fmt;
use std::time::Duration;

/// One Klaviyo operation, named after its OpenAPI `operationId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST /api/profile-import`
    CreateOrUpdateProfile,
    /// `GET /api/profiles`
    GetProfiles,
    /// `POST /api/profile-bulk-import-jobs`
    BulkImportProfiles,
    /// `GET /api/profile-bulk-import-jobs/{job_id}`
    GetBulkImportProfilesJob,
    /// `GET /api/profile-bulk-import-jobs/{id}/import-errors`
    GetErrorsForBulkImportProfilesJob,
    /// `POST /api/events`
    CreateEvent,
    /// `POST /api/event-bulk-create-jobs`
    BulkCreateEvents,
    /// `GET /api/lists`
    GetLists,
    /// `POST /api/lists`
    CreateList,
    /// `GET /api/lists/{id}/relationships/profiles`
    GetProfileIdsForList,
    /// `POST /api/lists/{id}/relationships/profiles`
    AddProfilesToList,
    /// `DELETE /api/lists/{id}/relationships/profiles`
    RemoveProfilesFromList,
    /// `GET /api/segments`
    GetSegments,
    /// `POST /api/segments`
    CreateSegment,
    /// `PATCH /api/segments/{id}`
    UpdateSegment,
}

/// The published limits of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointLimits {
    /// Requests allowed per one-second window.
    pub burst_per_second: u32,
    /// Requests allowed per one-minute window.
    pub steady_per_minute: u32,
    /// Requests allowed per day, for the few operations with a daily cap.
    pub daily: Option<u32>,
}

/// `(endpoint, method, path template, operationId, burst/s, steady/m, daily)`.
type Row = (
    Endpoint,
    &'static str,
    &'static str,
    &'static str,
    u32,
    u32,
    Option<u32>,
);

const TABLE: &[Row] = &[
    (
        Endpoint::CreateOrUpdateProfile,
        "POST",
        "/api/profile-import",
        "create_or_update_profile",
        75,
        750,
        None,
    ),
    (
        Endpoint::GetProfiles,
        "GET",
        "/api/profiles",
        "get_profiles",
        75,
        750,
        None,
    ),
    (
        Endpoint::BulkImportProfiles,
        "POST",
        "/api/profile-bulk-import-jobs",
        "bulk_import_profiles",
        10,
        150,
        None,
    ),
    (
        Endpoint::GetBulkImportProfilesJob,
        "GET",
        "/api/profile-bulk-import-jobs/{job_id}",
        "get_bulk_import_profiles_job",
        10,
        150,
        None,
    ),
    (
        Endpoint::GetErrorsForBulkImportProfilesJob,
        "GET",
        "/api/profile-bulk-import-jobs/{id}/import-errors",
        "get_errors_for_bulk_import_profiles_job",
        10,
        150,
        None,
    ),
    (
        Endpoint::CreateEvent,
        "POST",
        "/api/events",
        "create_event",
        350,
        3500,
        None,
    ),
    (
        Endpoint::BulkCreateEvents,
        "POST",
        "/api/event-bulk-create-jobs",
        "bulk_create_events",
        10,
        150,
        None,
    ),
    (Endpoint::GetLists, "GET", "/api/lists", "get_lists", 75, 750, None),
    (
        Endpoint::CreateList,
        "POST",
        "/api/lists",
        "create_list",
        10,
        150,
        Some(150),
    ),
    (
        Endpoint::GetProfileIdsForList,
        "GET",
        "/api/lists/{id}/relationships/profiles",
        "get_profile_ids_for_list",
        75,
        750,
        None,
    ),
    (
        Endpoint::AddProfilesToList,
        "POST",
        "/api/lists/{id}/relationships/profiles",
        "add_profiles_to_list",
        10,
        150,
        None,
    ),
    (
        Endpoint::RemoveProfilesFromList,
        "DELETE",
        "/api/lists/{id}/relationships/profiles",
        "remove_profiles_from_list",
        10,
        150,
        None,
    ),
    (
        Endpoint::GetSegments,
        "GET",
        "/api/segments",
        "get_segments",
        75,
        750,
        None,
    ),
    (
        Endpoint::CreateSegment,
        "POST",
        "/api/segments",
        "create_segment",
        1,
        15,
        Some(100),
    ),
    (
        Endpoint::UpdateSegment,
        "PATCH",
        "/api/segments/{id}",
        "update_segment",
        1,
        15,
        Some(100),
    ),
];

impl Endpoint {
    /// Every endpoint the client knows.
    pub const ALL: [Endpoint; 15] = [
        Endpoint::CreateOrUpdateProfile,
        Endpoint::GetProfiles,
        Endpoint::BulkImportProfiles,
        Endpoint::GetBulkImportProfilesJob,
        Endpoint::GetErrorsForBulkImportProfilesJob,
        Endpoint::CreateEvent,
        Endpoint::BulkCreateEvents,
        Endpoint::GetLists,
        Endpoint::CreateList,
        Endpoint::GetProfileIdsForList,
        Endpoint::AddProfilesToList,
        Endpoint::RemoveProfilesFromList,
        Endpoint::GetSegments,
        Endpoint::CreateSegment,
        Endpoint::UpdateSegment,
    ];

    fn row(
        self,
    ) -> &'static (
        Endpoint,
        &'static str,
        &'static str,
        &'static str,
        u32,
        u32,
        Option<u32>,
    ) {
        TABLE
            .iter()
            .find(|row| row.0 == self)
            .expect("every endpoint has a row in the limits table")
    }

    /// The HTTP method.
    pub fn method(self) -> &'static str {
        self.row().1
    }

    /// The path template as the OpenAPI document writes it.
    pub fn path_template(self) -> &'static str {
        self.row().2
    }

    /// The OpenAPI `operationId`.
    pub fn operation_id(self) -> &'static str {
        self.row().3
    }

    /// The published limits.
    pub fn limits(self) -> EndpointLimits {
        let row = self.row();
        EndpointLimits {
            burst_per_second: row.4,
            steady_per_minute: row.5,
            daily: row.6,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.operation_id())
    }
}

impl EndpointLimits {
    /// The windows as `(allowed requests, window length)`, shortest first.
    pub(crate) fn windows(self) -> Vec<(u32, Duration)> {
        let mut windows = vec![
            (self.burst_per_second, Duration::from_secs(1)),
            (self.steady_per_minute, Duration::from_secs(60)),
        ];
        if let Some(daily) = self.daily {
            windows.push((daily, Duration::from_secs(86_400)));
        }
        windows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per(value: &str, unit: &str) -> Option<u32> {
        value.strip_suffix(unit).and_then(|number| number.parse().ok())
    }

    #[test]
    fn limits_table_matches_the_published_tsv() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/reference/klaviyo-ratelimits-2026-07-15.tsv"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"));
        for endpoint in Endpoint::ALL {
            let line = text
                .lines()
                .find(|line| line.split('\t').nth(2) == Some(endpoint.operation_id()))
                .unwrap_or_else(|| panic!("{endpoint} missing from the tsv"));
            let cells: Vec<&str> = line.split('\t').collect();
            assert_eq!(cells[0], endpoint.method(), "{endpoint} method");
            assert_eq!(cells[1], endpoint.path_template(), "{endpoint} path");
            let limits = endpoint.limits();
            assert_eq!(per(cells[3], "/s"), Some(limits.burst_per_second), "{endpoint} burst");
            assert_eq!(per(cells[4], "/m"), Some(limits.steady_per_minute), "{endpoint} steady");
            assert_eq!(per(cells[5], "/d"), limits.daily, "{endpoint} daily");
        }
    }
}

//! Datetimes as Klaviyo reads and writes them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// Parses an ISO 8601 datetime as Klaviyo accepts it: RFC 3339 with an offset, a
/// datetime without one (read as UTC), or a bare date (midnight UTC).
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Formats a time the way Klaviyo's responses do, `2022-11-08T00:00:00+00:00`.
pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_offset_naive_and_date_forms() {
        let expected = "2026-11-23T10:00:00+00:00";
        for input in [
            "2026-11-23T10:00:00Z",
            "2026-11-23T12:00:00+02:00",
            "2026-11-23T10:00:00",
        ] {
            assert_eq!(format(parse_datetime(input).unwrap()), expected, "{input}");
        }
        assert_eq!(
            format(parse_datetime("2026-11-23").unwrap()),
            "2026-11-23T00:00:00+00:00"
        );
        assert!(parse_datetime("23/11/2026").is_none());
    }
}

//! Date handling of SuiteQL: Oracle format models for `TO_CHAR`/`TO_DATE`, the user's
//! date format for raw date columns, and the internal storage form.
//!
//! Dates and datetimes are stored as `YYYY-MM-DDTHH:MM:SS` text in the account's time
//! zone. The `T` marks a raw date value: SQLite compares such text correctly, and when
//! a result value still has that shape it came straight from a date column (or
//! `SYSDATE`), so it is rendered in the user's date format, as NetSuite does.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

/// The storage form of a datetime.
pub(crate) const STORAGE_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// Writes a datetime in storage form.
pub(crate) fn store(value: NaiveDateTime) -> String {
    value.format(STORAGE_FORMAT).to_string()
}

/// Writes a date (midnight) in storage form.
pub(crate) fn store_date(value: NaiveDate) -> String {
    store(value.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// Reads a value in storage form.
pub(crate) fn parse_stored(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 19 || bytes[10] != b'T' || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    NaiveDateTime::parse_from_str(text, STORAGE_FORMAT).ok()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Year4,
    Year2,
    Month2,
    Month1,
    MonthAbbrev,
    MonthName,
    Day2,
    Day1,
    Hour24,
    Hour12,
    Minute,
    Second,
    Meridian,
    Literal(String),
}

/// A parsed date format model (`YYYY-MM-DD HH24:MI:SS`, `M/D/YYYY`, `DD.MM.YY`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateFormat {
    tokens: Vec<Token>,
    text: String,
}

/// A format model with an element the simulator does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported date format element at {rest:?} in {format:?}")]
pub struct FormatError {
    /// The whole format.
    pub format: String,
    /// Where parsing stopped.
    pub rest: String,
}

impl DateFormat {
    /// Parses an Oracle-style format model. `M` and `D` (one letter) are NetSuite's
    /// preference forms without leading zeros.
    pub fn parse(format: &str) -> Result<DateFormat, FormatError> {
        const ELEMENTS: [(&str, Token); 13] = [
            ("YYYY", Token::Year4),
            ("HH24", Token::Hour24),
            ("HH12", Token::Hour12),
            ("MONTH", Token::MonthName),
            ("MON", Token::MonthAbbrev),
            ("YY", Token::Year2),
            ("MM", Token::Month2),
            ("DD", Token::Day2),
            ("HH", Token::Hour12),
            ("MI", Token::Minute),
            ("SS", Token::Second),
            ("AM", Token::Meridian),
            ("PM", Token::Meridian),
        ];
        let mut tokens = Vec::new();
        let mut rest = format;
        'outer: while !rest.is_empty() {
            let upper = rest.to_ascii_uppercase();
            for (element, token) in &ELEMENTS {
                if upper.starts_with(element) {
                    tokens.push(token.clone());
                    rest = &rest[element.len()..];
                    continue 'outer;
                }
            }
            let first = rest.chars().next().unwrap_or(' ');
            match first {
                'M' | 'm' => tokens.push(Token::Month1),
                'D' | 'd' => tokens.push(Token::Day1),
                '"' => {
                    let Some(end) = rest[1..].find('"') else {
                        return Err(FormatError {
                            format: format.to_owned(),
                            rest: rest.to_owned(),
                        });
                    };
                    tokens.push(Token::Literal(rest[1..=end].to_owned()));
                    rest = &rest[end + 2..];
                    continue;
                }
                '-' | '/' | ':' | '.' | ',' | ' ' | ';' | 'T' => tokens.push(Token::Literal(first.to_string())),
                _ => {
                    return Err(FormatError {
                        format: format.to_owned(),
                        rest: rest.to_owned(),
                    });
                }
            }
            rest = &rest[first.len_utf8()..];
        }
        Ok(DateFormat {
            tokens,
            text: format.to_owned(),
        })
    }

    /// The format as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Formats a datetime.
    pub fn format(&self, value: NaiveDateTime) -> String {
        const MONTHS: [&str; 12] = [
            "JANUARY",
            "FEBRUARY",
            "MARCH",
            "APRIL",
            "MAY",
            "JUNE",
            "JULY",
            "AUGUST",
            "SEPTEMBER",
            "OCTOBER",
            "NOVEMBER",
            "DECEMBER",
        ];
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Year4 => out.push_str(&format!("{:04}", value.year())),
                Token::Year2 => out.push_str(&format!("{:02}", value.year().rem_euclid(100))),
                Token::Month2 => out.push_str(&format!("{:02}", value.month())),
                Token::Month1 => out.push_str(&value.month().to_string()),
                Token::MonthAbbrev => out.push_str(&MONTHS[value.month0() as usize][..3]),
                Token::MonthName => out.push_str(MONTHS[value.month0() as usize]),
                Token::Day2 => out.push_str(&format!("{:02}", value.day())),
                Token::Day1 => out.push_str(&value.day().to_string()),
                Token::Hour24 => out.push_str(&format!("{:02}", value.hour())),
                Token::Hour12 => out.push_str(&format!("{:02}", value.hour12().1)),
                Token::Minute => out.push_str(&format!("{:02}", value.minute())),
                Token::Second => out.push_str(&format!("{:02}", value.second())),
                Token::Meridian => out.push_str(if value.hour12().0 { "PM" } else { "AM" }),
                Token::Literal(text) => out.push_str(text),
            }
        }
        out
    }

    /// Parses text written in this format; missing parts default to the first of the
    /// month and midnight, as Oracle's `TO_DATE` does for the time.
    pub fn parse_value(&self, input: &str) -> Option<NaiveDateTime> {
        let (mut year, mut month, mut day) = (None, 1u32, 1u32);
        let (mut hour, mut minute, mut second, mut pm, mut twelve) = (0u32, 0u32, 0u32, None, false);
        let mut rest = input.trim();
        for token in &self.tokens {
            let number = |rest: &mut &str, max_digits: usize| -> Option<u32> {
                let digits = rest.bytes().take(max_digits).take_while(u8::is_ascii_digit).count();
                if digits == 0 {
                    return None;
                }
                let value = rest[..digits].parse().ok();
                *rest = &rest[digits..];
                value
            };
            match token {
                Token::Year4 => year = Some(number(&mut rest, 4)? as i32),
                Token::Year2 => year = Some(2000 + number(&mut rest, 2)? as i32),
                Token::Month2 | Token::Month1 => month = number(&mut rest, 2)?,
                Token::Day2 | Token::Day1 => day = number(&mut rest, 2)?,
                Token::Hour24 => hour = number(&mut rest, 2)?,
                Token::Hour12 => {
                    hour = number(&mut rest, 2)?;
                    twelve = true;
                }
                Token::Minute => minute = number(&mut rest, 2)?,
                Token::Second => second = number(&mut rest, 2)?,
                Token::Meridian => {
                    let upper = rest.get(..2)?.to_ascii_uppercase();
                    pm = Some(upper == "PM");
                    rest = &rest[2..];
                }
                Token::MonthAbbrev | Token::MonthName => {
                    let upper = rest.to_ascii_uppercase();
                    let names = [
                        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
                    ];
                    let index = names.iter().position(|name| upper.starts_with(name))?;
                    month = index as u32 + 1;
                    let length = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
                    rest = &rest[length..];
                }
                Token::Literal(text) => rest = rest.strip_prefix(text.as_str())?,
            }
        }
        if !rest.trim().is_empty() {
            return None;
        }
        if twelve {
            hour %= 12;
            if pm == Some(true) {
                hour += 12;
            }
        }
        NaiveDate::from_ymd_opt(year?, month, day)?.and_hms_opt(hour, minute, second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn formats_user_preferences_and_to_char_models() {
        let value = at("2026-03-05 14:07:09");
        let cases = [
            ("M/D/YYYY", "3/5/2026"),
            ("MM/DD/YYYY", "03/05/2026"),
            ("DD.MM.YY", "05.03.26"),
            ("D/M/YYYY", "5/3/2026"),
            ("YYYY-MM-DD HH24:MI:SS", "2026-03-05 14:07:09"),
            ("yyyy-mm-dd hh24:mi:ss", "2026-03-05 14:07:09"),
            ("YYYY-MM", "2026-03"),
            ("DD-MON-YYYY HH:MI AM", "05-MAR-2026 02:07 PM"),
            ("YYYY-MM-DD\"T\"HH24:MI:SS", "2026-03-05T14:07:09"),
        ];
        for (format, expected) in cases {
            assert_eq!(DateFormat::parse(format).unwrap().format(value), expected, "{format}");
        }
    }

    #[test]
    fn parses_what_it_formats_and_refuses_text_that_does_not_match() {
        let format = DateFormat::parse("YYYY-MM-DD HH24:MI:SS").unwrap();
        assert_eq!(
            format.parse_value("2026-03-05 14:07:09"),
            Some(at("2026-03-05 14:07:09"))
        );
        let date_only = DateFormat::parse("YYYY-MM-DD").unwrap();
        assert_eq!(date_only.parse_value("2026-03-05"), Some(at("2026-03-05 00:00:00")));
        assert_eq!(date_only.parse_value("03/05/2026"), None);
        assert_eq!(date_only.parse_value("2026-02-30"), None);
        assert_eq!(
            DateFormat::parse("M/D/YYYY").unwrap().parse_value("11/20/2026"),
            Some(at("2026-11-20 00:00:00"))
        );
    }

    #[test]
    fn unknown_format_elements_are_refused() {
        assert!(DateFormat::parse("YYYY-Q").is_err());
    }

    #[test]
    fn storage_form_round_trips_and_only_it_is_recognised() {
        let value = at("2026-11-20 14:03:00");
        assert_eq!(parse_stored(&store(value)), Some(value));
        assert_eq!(parse_stored("2026-11-20 14:03:00"), None);
        assert_eq!(parse_stored("2026-11-20"), None);
    }
}

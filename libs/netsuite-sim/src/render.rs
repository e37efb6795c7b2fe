//! Rendering SQLite values the way SuiteQL returns them: every value a string, NULL
//! omitted, raw dates in the user's date format.

use rusqlite::types::ValueRef;
use serde_json::Value;

use crate::dates::{DateFormat, parse_stored};

/// Writes a number the way Oracle prints a NUMBER: no exponent, no trailing zeros.
pub(crate) fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{value:.0}");
    }
    // Sums of two-place amounts carry float noise; eight places is far below a cent.
    let text = format!("{value:.8}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".to_owned() } else { text.to_owned() }
}

/// Renders one value; `None` for NULL (the key is left out of the item).
pub(crate) fn value(raw: ValueRef<'_>, user_format: &DateFormat) -> Option<Value> {
    let text = match raw {
        ValueRef::Null => return None,
        ValueRef::Integer(value) => value.to_string(),
        ValueRef::Real(value) => number(value),
        ValueRef::Text(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            match parse_stored(&text) {
                Some(date) => user_format.format(date),
                None => text.into_owned(),
            }
        }
        ValueRef::Blob(bytes) => String::from_utf8_lossy(bytes).into_owned(),
    };
    Some(Value::String(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_like_oracle_numbers() {
        assert_eq!(number(1200.0), "1200");
        assert_eq!(number(1200.5), "1200.5");
        assert_eq!(number(0.1 + 0.2), "0.3");
        assert_eq!(number(-49.99), "-49.99");
    }
}

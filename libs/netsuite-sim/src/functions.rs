//! SQLite functions that stand in for Oracle/SuiteQL built-ins.

use std::sync::Arc;

use chrono::{NaiveDateTime, TimeDelta};
use chrono_tz::Tz;
use ledgerlink_synthdata::TransactionType;
use rusqlite::Connection;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};

use crate::clock::ServerClock;
use crate::dates::{DateFormat, parse_stored, store};

/// Prefix of errors raised by these functions, so the server can tell a bad value in a
/// query (400) from a simulator fault.
pub(crate) const USER_ERROR_PREFIX: &str = "suiteql: ";

fn user_error(message: String) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(format!("{USER_ERROR_PREFIX}{message}").into())
}

fn text_arg(context: &Context<'_>, index: usize) -> rusqlite::Result<Option<String>> {
    Ok(match context.get_raw(index) {
        ValueRef::Null => None,
        ValueRef::Text(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        ValueRef::Integer(value) => Some(value.to_string()),
        ValueRef::Real(value) => Some(crate::render::number(value)),
        ValueRef::Blob(_) => return Err(user_error("binary values are not supported".to_owned())),
    })
}

fn format_arg(context: &Context<'_>, index: usize, fallback: &DateFormat) -> rusqlite::Result<DateFormat> {
    if context.len() <= index {
        return Ok(fallback.clone());
    }
    let text = text_arg(context, index)?.unwrap_or_default();
    DateFormat::parse(&text).map_err(|error| user_error(error.to_string()))
}

/// Registers the `ns_*` functions on `connection`.
pub(crate) fn register(
    connection: &Connection,
    clock: Arc<ServerClock>,
    zone: Tz,
    user_format: DateFormat,
) -> rusqlite::Result<()> {
    let deterministic = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    let volatile = FunctionFlags::SQLITE_UTF8;
    let now = move || store(clock.data_now().with_timezone(&zone).naive_local());
    let now_for_date = now.clone();
    connection.create_scalar_function("ns_sysdate", 0, volatile, move |_| Ok(now()))?;
    connection.create_scalar_function("ns_current_date", 0, volatile, move |_| {
        Ok(format!("{}T00:00:00", &now_for_date()[..10]))
    })?;
    let to_char_format = user_format.clone();
    let to_char = move |context: &Context<'_>| -> rusqlite::Result<Option<String>> {
        let Some(value) = text_arg(context, 0)? else {
            return Ok(None);
        };
        match parse_stored(&value) {
            Some(date) => Ok(Some(format_arg(context, 1, &to_char_format)?.format(date))),
            None => Ok(Some(value)),
        }
    };
    connection.create_scalar_function("ns_to_char", 1, deterministic, to_char.clone())?;
    connection.create_scalar_function("ns_to_char", 2, deterministic, to_char)?;
    let to_date_format = user_format;
    let to_date = move |context: &Context<'_>| -> rusqlite::Result<Option<String>> {
        let Some(value) = text_arg(context, 0)? else {
            return Ok(None);
        };
        if parse_stored(&value).is_some() {
            return Ok(Some(value));
        }
        let format = format_arg(context, 1, &to_date_format)?;
        format.parse_value(&value).map(|date| Some(store(date))).ok_or_else(|| {
            user_error(format!(
                "Unparseable date: \"{value}\" for format \"{}\"",
                format.as_str()
            ))
        })
    };
    connection.create_scalar_function("ns_to_date", 1, deterministic, to_date.clone())?;
    connection.create_scalar_function("ns_to_date", 2, deterministic, to_date)?;
    connection.create_scalar_function("ns_trunc_date", -1, deterministic, |context| {
        Ok(text_arg(context, 0)?
            .and_then(|value| parse_stored(&value))
            .map(|date| store(date.date().and_hms_opt(0, 0, 0).unwrap_or(date))))
    })?;
    connection.create_scalar_function("ns_trunc_number", -1, deterministic, |context| {
        Ok(match context.get_raw(0) {
            ValueRef::Integer(value) => Value::Integer(value),
            ValueRef::Real(value) => Value::Real(value.trunc()),
            ValueRef::Null => Value::Null,
            _ => return Err(user_error("TRUNC expects a number or a date".to_owned())),
        })
    })?;
    connection.create_scalar_function("ns_date_add", 2, deterministic, |context| {
        let Some(date) = text_arg(context, 0)?.and_then(|value| parse_stored(&value)) else {
            return Ok(None);
        };
        let days: f64 = match context.get_raw(1) {
            ValueRef::Integer(value) => value as f64,
            ValueRef::Real(value) => value,
            ValueRef::Text(text) => String::from_utf8_lossy(text)
                .trim()
                .parse()
                .map_err(|_| user_error("date arithmetic needs a number of days".to_owned()))?,
            _ => return Ok(None),
        };
        let shifted: NaiveDateTime = date + TimeDelta::seconds((days * 86_400.0).round() as i64);
        Ok(Some(store(shifted)))
    })?;
    connection.create_scalar_function("ns_status_text", 2, deterministic, |context| {
        let kind = text_arg(context, 0)?.unwrap_or_default();
        let Some(status) = text_arg(context, 1)? else {
            return Ok(None);
        };
        let kind = TransactionType::from_code(&kind);
        let letter = status.chars().next().unwrap_or(' ');
        Ok(Some(
            kind.and_then(|kind| kind.status_text(letter))
                .map(str::to_owned)
                .unwrap_or(status),
        ))
    })?;
    connection.create_scalar_function("ns_type_text", 1, deterministic, |context| {
        let kind = text_arg(context, 0)?;
        Ok(kind.map(|kind| {
            match kind.as_str() {
                "CustInvc" => "Invoice",
                "CustPymt" => "Payment",
                "SalesOrd" => "Sales Order",
                "CustCred" => "Credit Memo",
                "CustDep" => "Customer Deposit",
                _ => kind.as_str(),
            }
            .to_owned()
        }))
    })?;
    Ok(())
}

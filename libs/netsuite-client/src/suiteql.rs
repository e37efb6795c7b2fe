//! SuiteQL over REST: single pages, offset paging within NetSuite's cap, keyset paging
//! for whole tables, and typed reads of the all-strings rows.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use futures_util::stream::{self, Stream, TryStreamExt};
use ledgerlink_domain::Money;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::client::{NetSuiteClient, PreparedRequest};
use crate::error::Error;

/// Path of the SuiteQL endpoint.
pub const SUITEQL_PATH: &str = "/services/rest/query/v1/suiteql";
/// The largest page NetSuite serves.
pub const MAX_LIMIT: u32 = 1000;
/// Rows reachable through offset paging of one query.
pub const OFFSET_ROW_CAP: u64 = 100_000;

/// A SuiteQL statement with optional `?` parameters (sent as strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteQl {
    /// The statement.
    pub q: String,
    /// Values for the `?` placeholders, in order.
    pub params: Vec<String>,
}

impl SuiteQl {
    /// A statement without parameters.
    pub fn new(q: impl Into<String>) -> Self {
        SuiteQl {
            q: q.into(),
            params: Vec::new(),
        }
    }

    /// Adds a value for the next `?` placeholder.
    pub fn bind(mut self, value: impl Into<String>) -> Self {
        self.params.push(value.into());
        self
    }

    fn body(&self) -> Value {
        if self.params.is_empty() {
            json!({ "q": self.q })
        } else {
            json!({ "q": self.q, "params": self.params })
        }
    }
}

/// One page of SuiteQL results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The rows.
    pub items: Vec<Row>,
    /// Whether NetSuite has more rows after this page.
    pub has_more: bool,
    /// NetSuite's count of all matching rows, when given.
    pub total_results: Option<u64>,
    /// The offset of this page.
    pub offset: u64,
    /// Rows in this page as NetSuite counted them.
    pub count: u64,
    /// Navigation links (`next`, `last`, `self`, …).
    pub links: Vec<Link>,
}

/// A navigation link of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Relation, e.g. `next`.
    pub rel: String,
    /// Target URL.
    pub href: String,
}

impl Page {
    /// Parses a SuiteQL response body.
    pub fn from_json(body: &[u8]) -> Result<Page, Error> {
        let value: Value = serde_json::from_slice(body).map_err(|source| Error::Decode {
            context: "suiteql page",
            source,
        })?;
        let shape_error = |what: &str| Error::Decode {
            context: "suiteql page",
            source: serde::de::Error::custom(what),
        };
        let object = value
            .as_object()
            .ok_or_else(|| shape_error("the page is not a json object"))?;
        let items = match object.get("items") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_object()
                        .map(Row::from_item)
                        .ok_or_else(|| shape_error("an item is not a json object"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(shape_error("items is not an array")),
        };
        let has_more = match object.get("hasMore") {
            Some(Value::Bool(flag)) => *flag,
            Some(Value::String(text)) => text.eq_ignore_ascii_case("true") || text == "T",
            _ => false,
        };
        let links = object
            .get("links")
            .and_then(Value::as_array)
            .map(|links| {
                links
                    .iter()
                    .filter_map(|link| {
                        Some(Link {
                            rel: link.get("rel")?.as_str()?.to_owned(),
                            href: link.get("href")?.as_str()?.to_owned(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let count = number_field(object, "count").unwrap_or(items.len() as u64);
        Ok(Page {
            has_more,
            total_results: number_field(object, "totalResults"),
            offset: number_field(object, "offset").unwrap_or(0),
            count,
            links,
            items,
        })
    }
}

fn number_field(object: &Map<String, Value>, key: &str) -> Option<u64> {
    match object.get(key)? {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// One result row: lower-cased column names to string values. NULL columns are absent,
/// as NetSuite omits them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    columns: BTreeMap<String, String>,
}

/// A row value that is missing or does not have the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// The column is absent (NULL, or not selected).
    #[error("column {column} is missing or null")]
    Missing {
        /// The column.
        column: String,
    },
    /// The value does not parse as the expected type.
    #[error("column {column} holds {value:?}, expected {expected}")]
    Invalid {
        /// The column.
        column: String,
        /// What was expected.
        expected: &'static str,
        /// The value (cut to 64 characters).
        value: String,
    },
}

const EXPECTED_DATE: &str =
    "a date as YYYY-MM-DD (select it with TO_CHAR(col, 'YYYY-MM-DD'); raw dates come in the user's date format)";
const EXPECTED_DATETIME: &str =
    "a datetime as YYYY-MM-DD HH24:MI:SS or ISO 8601 (select it with TO_CHAR(col, 'YYYY-MM-DD HH24:MI:SS'))";

impl Row {
    /// Builds a row from one SuiteQL item: drops the per-item `links`, lower-cases the
    /// keys, omits nulls and turns every scalar into its string form (`true` → `T`).
    pub fn from_item(item: &Map<String, Value>) -> Row {
        let mut columns = BTreeMap::new();
        for (key, value) in item {
            if key.eq_ignore_ascii_case("links") {
                continue;
            }
            let text = match value {
                Value::Null => continue,
                Value::String(text) => text.clone(),
                Value::Bool(flag) => if *flag { "T" } else { "F" }.to_owned(),
                Value::Number(number) => number.to_string(),
                other => other.to_string(),
            };
            columns.insert(key.to_lowercase(), text);
        }
        Row { columns }
    }

    /// Builds a row from column/value pairs (for tests and simulators).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Row {
        Row {
            columns: pairs
                .into_iter()
                .map(|(key, value)| (key.to_lowercase(), value.to_owned()))
                .collect(),
        }
    }

    /// Every present column, by lower-cased name.
    pub fn columns(&self) -> &BTreeMap<String, String> {
        &self.columns
    }

    /// The raw value of `column` (any case), `None` when NULL.
    pub fn get(&self, column: &str) -> Option<&str> {
        match self.columns.get(column) {
            Some(value) => Some(value),
            None => self.columns.get(&column.to_lowercase()).map(String::as_str),
        }
    }

    /// The value of a column that must be present.
    pub fn string(&self, column: &str) -> Result<&str, RowError> {
        self.get(column).ok_or_else(|| RowError::Missing {
            column: column.to_lowercase(),
        })
    }

    /// A required decimal amount.
    pub fn money(&self, column: &str) -> Result<Money, RowError> {
        parse_required(self, column, "a decimal amount", |text| text.parse().ok())
    }

    /// An optional decimal amount.
    pub fn opt_money(&self, column: &str) -> Result<Option<Money>, RowError> {
        parse_optional(self, column, "a decimal amount", |text| text.parse().ok())
    }

    /// A required integer.
    pub fn i64(&self, column: &str) -> Result<i64, RowError> {
        parse_required(self, column, "an integer", |text| text.trim().parse().ok())
    }

    /// An optional integer.
    pub fn opt_i64(&self, column: &str) -> Result<Option<i64>, RowError> {
        parse_optional(self, column, "an integer", |text| text.trim().parse().ok())
    }

    /// A required `T`/`F` flag.
    pub fn bool(&self, column: &str) -> Result<bool, RowError> {
        parse_required(self, column, "T or F", parse_flag)
    }

    /// An optional `T`/`F` flag.
    pub fn opt_bool(&self, column: &str) -> Result<Option<bool>, RowError> {
        parse_optional(self, column, "T or F", parse_flag)
    }

    /// A required date selected as `TO_CHAR(col, 'YYYY-MM-DD')`. A date in a user format
    /// (`11/20/2026`, `20.11.26`) is an error, never a guess.
    pub fn date(&self, column: &str) -> Result<NaiveDate, RowError> {
        parse_required(self, column, EXPECTED_DATE, parse_iso_date)
    }

    /// An optional date, as [`Row::date`].
    pub fn opt_date(&self, column: &str) -> Result<Option<NaiveDate>, RowError> {
        parse_optional(self, column, EXPECTED_DATE, parse_iso_date)
    }

    /// A required datetime without zone, selected as
    /// `TO_CHAR(col, 'YYYY-MM-DD HH24:MI:SS')`; it is in the account's time zone.
    pub fn naive_datetime(&self, column: &str) -> Result<NaiveDateTime, RowError> {
        parse_required(self, column, EXPECTED_DATETIME, parse_naive_datetime)
    }

    /// An optional datetime without zone, as [`Row::naive_datetime`].
    pub fn opt_naive_datetime(&self, column: &str) -> Result<Option<NaiveDateTime>, RowError> {
        parse_optional(self, column, EXPECTED_DATETIME, parse_naive_datetime)
    }

    /// A required instant: an ISO 8601 value with an offset is taken as is; one without
    /// (the `TO_CHAR` form) is read in `account_offset`, the account's UTC offset.
    pub fn datetime_utc(&self, column: &str, account_offset: FixedOffset) -> Result<DateTime<Utc>, RowError> {
        parse_required(self, column, EXPECTED_DATETIME, |text| {
            parse_instant(text, account_offset)
        })
    }

    /// An optional instant, as [`Row::datetime_utc`].
    pub fn opt_datetime_utc(
        &self,
        column: &str,
        account_offset: FixedOffset,
    ) -> Result<Option<DateTime<Utc>>, RowError> {
        parse_optional(self, column, EXPECTED_DATETIME, |text| {
            parse_instant(text, account_offset)
        })
    }
}

fn parse_optional<T>(
    row: &Row,
    column: &str,
    expected: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, RowError> {
    let Some(text) = row.get(column) else {
        return Ok(None);
    };
    parse(text).map(Some).ok_or_else(|| RowError::Invalid {
        column: column.to_lowercase(),
        expected,
        value: text.chars().take(64).collect(),
    })
}

fn parse_required<T>(
    row: &Row,
    column: &str,
    expected: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, RowError> {
    parse_optional(row, column, expected, parse)?.ok_or_else(|| RowError::Missing {
        column: column.to_lowercase(),
    })
}

fn parse_flag(text: &str) -> Option<bool> {
    match text {
        "T" => Some(true),
        "F" => Some(false),
        _ => None,
    }
}

/// Strict `YYYY-MM-DD`: chrono alone would accept `2026-1-5`, and anything looser risks
/// reading a day-month date as month-day.
fn parse_iso_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        });
    if !shaped {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn parse_naive_datetime(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() < 19 || parse_iso_date(&text[..10]).is_none() {
        return None;
    }
    let time = &text[11..];
    if !(bytes[10] == b' ' || bytes[10] == b'T') {
        return None;
    }
    let time_shaped = time.len() >= 8
        && time.as_bytes()[..8]
            .iter()
            .enumerate()
            .all(|(index, byte)| match index {
                2 | 5 => *byte == b':',
                _ => byte.is_ascii_digit(),
            });
    if !time_shaped {
        return None;
    }
    NaiveDateTime::parse_from_str(&format!("{} {}", &text[..10], time), "%Y-%m-%d %H:%M:%S%.f").ok()
}

fn parse_instant(text: &str, account_offset: FixedOffset) -> Option<DateTime<Utc>> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Some(instant.with_timezone(&Utc));
    }
    let naive = parse_naive_datetime(text)?;
    account_offset
        .from_local_datetime(&naive)
        .single()
        .map(|instant| instant.with_timezone(&Utc))
}

/// A query streamed by keyset paging: each round asks for `key > last` ordered by key
/// with offset 0, so no request ever needs an offset, whatever the table size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysetQuery {
    /// `SELECT … FROM …` without `WHERE` or `ORDER BY`; it must select the key.
    pub select: String,
    /// Extra conditions (without `WHERE`), joined to the key condition with `AND`.
    pub filter: Option<String>,
    /// Values for `?` placeholders in `filter`.
    pub params: Vec<String>,
    /// The SQL expression of the key, e.g. `c.id`; it must be a unique integer.
    pub key_expr: String,
    /// The key's column name in the result, e.g. `id`.
    pub key_column: String,
    /// Resume after this key (from a checkpoint); `None` starts at the beginning.
    pub start_after: Option<i64>,
}

impl KeysetQuery {
    /// Streams `select` ordered by the unique integer column `id`.
    pub fn by_id(select: impl Into<String>, key_expr: impl Into<String>) -> Self {
        KeysetQuery {
            select: select.into(),
            filter: None,
            params: Vec::new(),
            key_expr: key_expr.into(),
            key_column: "id".to_owned(),
            start_after: None,
        }
    }

    /// Adds conditions.
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    /// Adds a value for the next `?` placeholder of the filter.
    pub fn bind(mut self, value: impl Into<String>) -> Self {
        self.params.push(value.into());
        self
    }

    /// The statement of the round after `last_key`.
    pub fn statement(&self, last_key: Option<i64>) -> SuiteQl {
        let mut conditions = Vec::new();
        if let Some(filter) = &self.filter {
            conditions.push(format!("({filter})"));
        }
        // An i64 rendered by Rust cannot inject anything, and a numeric literal keeps
        // the comparison numeric (a bound `?` is a string).
        if let Some(last) = last_key {
            conditions.push(format!("{} > {last}", self.key_expr));
        }
        let mut q = self.select.trim().to_owned();
        if !conditions.is_empty() {
            q.push_str(" WHERE ");
            q.push_str(&conditions.join(" AND "));
        }
        q.push_str(" ORDER BY ");
        q.push_str(&self.key_expr);
        SuiteQl {
            q,
            params: self.params.clone(),
        }
    }
}

enum OffsetState {
    Next(u64),
    Failed(Error),
    Done,
}

enum KeysetState {
    Next(Option<i64>),
    Done,
}

impl NetSuiteClient {
    /// Fetches one page: `POST …/suiteql?limit=&offset=` with `Prefer: transient`.
    ///
    /// Refuses, before sending, what NetSuite would refuse: `limit` outside 1..=1000,
    /// `offset` not a multiple of `limit`, or `offset` at or past the 100,000-row cap.
    pub async fn suiteql_page(&self, query: &SuiteQl, limit: u32, offset: u64) -> Result<Page, Error> {
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::InvalidPaging(format!(
                "limit {limit} is outside 1..={MAX_LIMIT}"
            )));
        }
        if !offset.is_multiple_of(u64::from(limit)) {
            return Err(Error::InvalidPaging(format!(
                "offset {offset} is not a multiple of limit {limit}"
            )));
        }
        if offset >= OFFSET_ROW_CAP {
            return Err(Error::OffsetCapReached { cap: OFFSET_ROW_CAP });
        }
        let limit_text = limit.to_string();
        let offset_text = offset.to_string();
        let request = PreparedRequest {
            method: Method::POST,
            url: self.url(SUITEQL_PATH, &[("limit", &limit_text), ("offset", &offset_text)])?,
            body: Some(query.body().to_string().into_bytes()),
            prefer_transient: true,
        };
        let body = self.execute(&request).await?;
        Page::from_json(&body)
    }

    /// Streams every page of `query` by offset, until `hasMore` is false.
    ///
    /// Fails with [`Error::OffsetCapReached`] rather than stop silently when the result
    /// goes past the 100,000 rows offset paging can reach (including NetSuite's
    /// `hasMore=false` with `totalResults` above what was served); use
    /// [`NetSuiteClient::suiteql_keyset_pages`] for whole tables.
    pub fn suiteql_pages(&self, query: SuiteQl) -> impl Stream<Item = Result<Page, Error>> + Send + 'static {
        self.suiteql_pages_from(query, 0)
    }

    /// [`NetSuiteClient::suiteql_pages`] from `offset` on.
    fn suiteql_pages_from(
        &self,
        query: SuiteQl,
        offset: u64,
    ) -> impl Stream<Item = Result<Page, Error>> + Send + 'static {
        let client = self.clone();
        let limit = client.settings().page_size;
        stream::unfold(OffsetState::Next(offset), move |state| {
            let client = client.clone();
            let query = query.clone();
            async move {
                let offset = match state {
                    OffsetState::Done => return None,
                    OffsetState::Failed(error) => return Some((Err(error), OffsetState::Done)),
                    OffsetState::Next(offset) => offset,
                };
                let page = match client.suiteql_page(&query, limit, offset).await {
                    Ok(page) => page,
                    Err(error) => return Some((Err(error), OffsetState::Done)),
                };
                let served = offset + page.items.len() as u64;
                let next = offset + u64::from(limit);
                let next_state = if page.has_more {
                    if next >= OFFSET_ROW_CAP {
                        OffsetState::Failed(Error::OffsetCapReached { cap: OFFSET_ROW_CAP })
                    } else {
                        OffsetState::Next(next)
                    }
                } else if page.total_results.is_some_and(|total| total > served) {
                    OffsetState::Failed(Error::OffsetCapReached { cap: OFFSET_ROW_CAP })
                } else {
                    OffsetState::Done
                };
                Some((Ok(page), next_state))
            }
        })
    }

    /// Reads every row of `query` by offset: the first page, then all the others at
    /// once, since the first page's `totalResults` says which offsets exist. The
    /// client's concurrency limit queues them, so a result of many pages takes two
    /// round trips of latency instead of one per page.
    ///
    /// Fails with [`Error::OffsetCapReached`] after the first page when `totalResults`
    /// is past the 100,000 rows offset paging can reach, so the caller can read the
    /// result another way before anything else was spent on it. Without
    /// `totalResults`, or when rows were added while paging, it goes on page by page.
    pub async fn suiteql_all_rows(&self, query: &SuiteQl) -> Result<Vec<Row>, Error> {
        let limit = self.settings().page_size;
        let first = self.suiteql_page(query, limit, 0).await?;
        let total = first.total_results.unwrap_or(first.items.len() as u64);
        if total > OFFSET_ROW_CAP {
            return Err(Error::OffsetCapReached { cap: OFFSET_ROW_CAP });
        }
        let mut has_more = first.has_more;
        let mut rows = first.items;
        let limit_rows = u64::from(limit);
        let known_offsets: Vec<u64> = if has_more {
            (1..total.div_ceil(limit_rows)).map(|page| page * limit_rows).collect()
        } else {
            Vec::new()
        };
        let mut next = limit_rows;
        if !known_offsets.is_empty() {
            // At most 99 pages (the cap); the concurrency limit queues them.
            let pages = futures_util::future::try_join_all(
                known_offsets
                    .iter()
                    .map(|&offset| self.suiteql_page(query, limit, offset)),
            )
            .await?;
            for page in pages {
                has_more = page.has_more;
                rows.extend(page.items);
            }
            next = (known_offsets.len() as u64 + 1) * limit_rows;
        }
        if has_more {
            let rest = collect_rows(self.suiteql_pages_from(query.clone(), next)).await?;
            rows.extend(rest);
        }
        Ok(rows)
    }

    /// Streams a whole table by keyset paging: each round is a fresh query
    /// `… WHERE key > last ORDER BY key` at offset 0, so no offset ever grows.
    ///
    /// Fails when a row lacks the key, the key is not an integer, or keys do not come
    /// back strictly increasing (the query is not ordered by a unique key), since
    /// continuing would skip or repeat rows.
    pub fn suiteql_keyset_pages(&self, query: KeysetQuery) -> impl Stream<Item = Result<Page, Error>> + Send + 'static {
        let client = self.clone();
        let limit = client.settings().page_size;
        let start = query.start_after;
        stream::try_unfold(KeysetState::Next(start), move |state| {
            let client = client.clone();
            let query = query.clone();
            async move {
                let last = match state {
                    KeysetState::Done => return Ok(None),
                    KeysetState::Next(last) => last,
                };
                let page = client.suiteql_page(&query.statement(last), limit, 0).await?;
                let mut previous = last;
                for row in &page.items {
                    let key = row.i64(&query.key_column).map_err(|error| Error::Keyset {
                        column: query.key_column.clone(),
                        reason: error.to_string(),
                    })?;
                    if previous.is_some_and(|previous| key <= previous) {
                        return Err(Error::Keyset {
                            column: query.key_column.clone(),
                            reason: format!(
                                "key {key} did not come after {}; the query must be ordered by a unique key",
                                previous.unwrap_or_default()
                            ),
                        });
                    }
                    previous = Some(key);
                }
                let next = if page.has_more && !page.items.is_empty() {
                    KeysetState::Next(previous)
                } else {
                    KeysetState::Done
                };
                Ok(Some((page, next)))
            }
        })
    }

    /// [`NetSuiteClient::suiteql_keyset_pages`], one row at a time.
    pub fn suiteql_keyset_rows(&self, query: KeysetQuery) -> impl Stream<Item = Result<Row, Error>> + Send + 'static {
        self.suiteql_keyset_pages(query)
            .map_ok(|page| stream::iter(page.items.into_iter().map(Ok)))
            .try_flatten()
    }

    /// [`NetSuiteClient::suiteql_pages`], one row at a time.
    pub fn suiteql_rows(&self, query: SuiteQl) -> impl Stream<Item = Result<Row, Error>> + Send + 'static {
        self.suiteql_pages(query)
            .map_ok(|page| stream::iter(page.items.into_iter().map(Ok)))
            .try_flatten()
    }
}

/// Collects a stream of pages into rows; convenient for small results.
pub async fn collect_rows(pages: impl Stream<Item = Result<Page, Error>>) -> Result<Vec<Row>, Error> {
    let pages: Vec<Page> = pages.try_collect().await?;
    Ok(pages.into_iter().flat_map(|page| page.items).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> Row {
        Row::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn page_parsing_strips_links_lowercases_keys_omits_nulls_and_stringifies() {
        let body = br#"{"links":[{"rel":"next","href":"https://h/suiteql?limit=2&offset=2"}],
            "count":2,"hasMore":true,"offset":0,"totalResults":53000,
            "items":[{"links":[],"ID":"107","Email":"x@y.com","count":143,"isinactive":false,"parent":null},
                     {"links":[],"id":"108"}]}"#;
        let page = Page::from_json(body).unwrap();
        assert!(page.has_more);
        assert_eq!(page.total_results, Some(53_000));
        assert_eq!(page.count, 2);
        assert_eq!(page.links[0].rel, "next");
        let first = &page.items[0];
        assert_eq!(
            first.columns().keys().collect::<Vec<_>>(),
            ["count", "email", "id", "isinactive"]
        );
        assert_eq!(first.string("ID").unwrap(), "107");
        assert_eq!(first.i64("count").unwrap(), 143);
        assert!(!first.bool("isinactive").unwrap());
        assert_eq!(first.get("parent"), None);
        assert_eq!(page.items[1].get("email"), None);
    }

    #[test]
    fn page_without_items_or_with_a_wrong_shape() {
        let page = Page::from_json(br#"{"count":0,"hasMore":false,"offset":0,"totalResults":0}"#).unwrap();
        assert!(page.items.is_empty() && !page.has_more);
        assert!(Page::from_json(br#"{"items":{}}"#).is_err());
        assert!(Page::from_json(b"[1]").is_err());
        assert!(Page::from_json(b"<html>").is_err());
    }

    #[test]
    fn dates_must_be_iso_and_user_formats_are_named_errors() {
        let values = row(&[
            ("trandate", "2026-11-20"),
            ("us", "11/20/2026"),
            ("eu", "20.11.26"),
            ("unpadded", "2026-1-5"),
            ("impossible", "2026-02-30"),
            ("withtime", "2026-11-20 00:00:00"),
        ]);
        assert_eq!(
            values.date("trandate").unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
        );
        for column in ["us", "eu", "unpadded", "impossible", "withtime"] {
            let error = values.date(column).unwrap_err();
            let RowError::Invalid { column: named, .. } = &error else {
                panic!("{column}: {error:?}");
            };
            assert_eq!(named, column);
            assert!(error.to_string().contains("YYYY-MM-DD"), "{error}");
        }
        assert_eq!(values.opt_date("closedate").unwrap(), None);
        assert!(matches!(
            values.date("closedate"),
            Err(RowError::Missing { column }) if column == "closedate"
        ));
        assert!(values.opt_date("us").is_err(), "a present bad value is never None");
    }

    #[test]
    fn datetimes_accept_to_char_and_iso_forms_in_the_account_offset() {
        let values = row(&[
            ("lastmodifieddate", "2026-03-01 23:30:00"),
            ("iso", "2026-03-01T23:30:00Z"),
            ("isooffset", "2026-03-01T23:30:00-05:00"),
            ("us", "3/1/2026 11:30 pm"),
            ("dateonly", "2026-03-01"),
            ("badtime", "2026-03-01 25:00:00"),
        ]);
        let eastern = FixedOffset::west_opt(5 * 3600).unwrap();
        let naive = values.naive_datetime("lastmodifieddate").unwrap();
        assert_eq!(naive.to_string(), "2026-03-01 23:30:00");
        assert_eq!(
            values.datetime_utc("lastmodifieddate", eastern).unwrap().to_rfc3339(),
            "2026-03-02T04:30:00+00:00"
        );
        assert_eq!(
            values.datetime_utc("iso", eastern).unwrap().to_rfc3339(),
            "2026-03-01T23:30:00+00:00"
        );
        assert_eq!(
            values
                .datetime_utc("isooffset", FixedOffset::east_opt(0).unwrap())
                .unwrap()
                .to_rfc3339(),
            "2026-03-02T04:30:00+00:00"
        );
        for column in ["us", "dateonly", "badtime"] {
            assert!(values.naive_datetime(column).is_err(), "{column}");
            assert!(values.datetime_utc(column, eastern).is_err(), "{column}");
        }
        assert_eq!(values.opt_naive_datetime("missing").unwrap(), None);
    }

    #[test]
    fn money_integers_and_flags_name_the_column_on_error() {
        let values = row(&[
            ("foreigntotal", "1250.50"),
            ("negative", "-3.1"),
            ("grouped", "1,250.50"),
            ("oncredithold", "T"),
            ("lower", "t"),
            ("days", "12"),
            ("fraction", "1.5"),
        ]);
        assert_eq!(values.money("foreigntotal").unwrap().to_string(), "1250.50");
        assert!(values.money("negative").unwrap().is_negative());
        let error = values.money("grouped").unwrap_err();
        assert!(error.to_string().contains("grouped"), "{error}");
        assert_eq!(values.opt_money("creditlimit").unwrap(), None);
        assert!(values.bool("oncredithold").unwrap());
        assert!(values.bool("lower").is_err());
        assert_eq!(values.opt_bool("missing").unwrap(), None);
        assert_eq!(values.i64("days").unwrap(), 12);
        assert!(values.i64("fraction").is_err());
    }

    #[test]
    fn keyset_statement_adds_filter_key_condition_and_order() {
        let query = KeysetQuery::by_id("SELECT c.id FROM customer c", "c.id")
            .filter("c.lastmodifieddate >= TO_DATE(?, 'YYYY-MM-DD HH24:MI:SS')")
            .bind("2026-01-01 00:00:00");
        assert_eq!(
            query.statement(None).q,
            "SELECT c.id FROM customer c WHERE (c.lastmodifieddate >= TO_DATE(?, 'YYYY-MM-DD HH24:MI:SS')) ORDER BY c.id"
        );
        let next = query.statement(Some(4711));
        assert_eq!(
            next.q,
            "SELECT c.id FROM customer c WHERE (c.lastmodifieddate >= TO_DATE(?, 'YYYY-MM-DD HH24:MI:SS')) AND c.id > 4711 ORDER BY c.id"
        );
        assert_eq!(next.params, ["2026-01-01 00:00:00"]);
        let plain = KeysetQuery::by_id("SELECT id FROM term", "id");
        assert_eq!(
            plain.statement(Some(9)).q,
            "SELECT id FROM term WHERE id > 9 ORDER BY id"
        );
    }
}

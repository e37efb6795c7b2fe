//! A fake NetSuite SuiteQL endpoint on 127.0.0.1:0 that answers exactly the statements the
//! extractor sends, from an in-memory account, the way NetSuite shapes its answers
//! (strings everywhere, NULL columns omitted, `links` per item, `hasMore`).
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

/// One transaction of the fake account.
#[derive(Debug, Clone)]
pub struct Txn {
    pub id: i64,
    pub entity: i64,
    /// `CustInvc`, `CustPymt`, `CustCred`, `SalesOrd`, `CustDep`.
    pub kind: &'static str,
    /// Columns as SuiteQL returns them (after `TO_CHAR`).
    pub columns: Value,
    /// `YYYY-MM-DD HH:MM:SS`, account time.
    pub modified: String,
}

/// A `NextTransactionLineLink` row.
#[derive(Debug, Clone)]
pub struct Link {
    pub previousdoc: i64,
    pub nextdoc: i64,
    pub linktype: &'static str,
    pub amount: &'static str,
}

/// The fake account.
#[derive(Debug, Clone, Default)]
pub struct Account {
    /// `SYSDATE` as `TO_CHAR` prints it.
    pub now: String,
    /// Customer rows by id (columns as selected), with their `lastmodifieddate`.
    pub customers: Vec<(i64, Value)>,
    pub terms: Vec<Value>,
    pub currencies: Vec<Value>,
    pub transactions: Vec<Txn>,
    pub links: Vec<Link>,
    /// Statements containing this text are refused with 400 `INVALID_PARAMETER`.
    pub refuse: Option<&'static str>,
    /// Statements containing any of these report 150,000 `totalResults`, past what
    /// offset paging reaches (their rows and `hasMore` stay true).
    pub huge: Vec<&'static str>,
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub q: String,
    pub params: Vec<String>,
    pub limit: usize,
    pub offset: usize,
}

struct Shared {
    account: Mutex<Account>,
    seen: Mutex<Vec<Seen>>,
}

pub struct FakeNetSuite {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    _shutdown: oneshot::Sender<()>,
}

impl FakeNetSuite {
    pub async fn start(account: Account) -> Self {
        let shared = Arc::new(Shared {
            account: Mutex::new(account),
            seen: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/services/rest/query/v1/suiteql", post(suiteql))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        FakeNetSuite {
            addr,
            shared,
            _shutdown: shutdown,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    pub fn update(&self, change: impl FnOnce(&mut Account)) {
        change(&mut self.shared.account.lock().unwrap());
    }
}

#[derive(serde::Deserialize)]
struct Paging {
    limit: usize,
    offset: usize,
}

async fn suiteql(State(shared): State<Arc<Shared>>, Query(paging): Query<Paging>, Json(body): Json<Value>) -> Response {
    let q = body["q"].as_str().unwrap_or_default().to_owned();
    let params: Vec<String> = body["params"]
        .as_array()
        .map(|values| {
            values
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    shared.seen.lock().unwrap().push(Seen {
        q: q.clone(),
        params: params.clone(),
        limit: paging.limit,
        offset: paging.offset,
    });
    let account = shared.account.lock().unwrap().clone();
    let refused = account.refuse.is_some_and(|text| q.contains(text));
    let Some(rows) = answer(&account, &q, &params).filter(|_| !refused) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"title": "Bad Request", "status": 400,
                "o:errorDetails": [{"detail": format!("Invalid search query: {q}"), "o:errorCode": "INVALID_PARAMETER"}]})),
        )
            .into_response();
    };
    let total = if account.huge.iter().any(|text| q.contains(text)) {
        150_000
    } else {
        rows.len()
    };
    let rows_len = rows.len();
    let items: Vec<Value> = rows
        .into_iter()
        .skip(paging.offset)
        .take(paging.limit)
        .map(|mut row| {
            let object = row.as_object_mut().unwrap();
            object.retain(|_, value| !value.is_null());
            object.insert("links".to_owned(), json!([]));
            row
        })
        .collect();
    let has_more = paging.offset + items.len() < rows_len;
    Json(
        json!({"links": [], "count": items.len(), "hasMore": has_more, "offset": paging.offset,
        "totalResults": total, "items": items}),
    )
    .into_response()
}

fn int_after(q: &str, marker: &str) -> Option<i64> {
    let start = q.find(marker)? + marker.len();
    let digits: String = q[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse().ok()
}

fn list_after(q: &str, marker: &str) -> Option<Vec<i64>> {
    let start = q.find(marker)? + marker.len();
    let end = start + q[start..].find(')')?;
    Some(
        q[start..end]
            .split(',')
            .filter_map(|id| id.trim().parse().ok())
            .collect(),
    )
}

fn between(q: &str, marker: &str) -> Option<(i64, i64)> {
    let lo = int_after(q, marker)?;
    let rest = &q[q.find(marker)? + marker.len()..];
    let hi = int_after(rest, " AND ")?;
    Some((lo, hi))
}

fn id_of(row: &Value) -> i64 {
    row["id"].as_str().and_then(|id| id.parse().ok()).unwrap_or_default()
}

/// The rows of a statement, or `None` for a statement the fake does not know.
fn answer(account: &Account, q: &str, params: &[String]) -> Option<Vec<Value>> {
    if q.contains("FROM DUAL") {
        return Some(vec![json!({"now": account.now})]);
    }
    let keyed = |rows: Vec<Value>, key: &str| -> Vec<Value> {
        let after = int_after(q, &format!("{key} > "));
        let mut rows: Vec<Value> = rows
            .into_iter()
            .filter(|row| after.is_none_or(|after| id_of(row) > after))
            .collect();
        rows.sort_by_key(id_of);
        rows
    };
    if q.starts_with("SELECT id, name, daysuntilnetdue") {
        return Some(keyed(account.terms.clone(), "id"));
    }
    if q.starts_with("SELECT id, symbol FROM currency") {
        return Some(keyed(account.currencies.clone(), "id"));
    }
    if q.starts_with("SELECT c.id FROM customer c WHERE (c.lastmodifieddate >= TO_DATE(?") {
        let since = params.first()?;
        let rows = account
            .customers
            .iter()
            .filter(|(_, row)| row["lastmodifieddate"].as_str().is_some_and(|m| m >= since.as_str()))
            .map(|(id, _)| json!({"id": id.to_string()}))
            .collect();
        return Some(keyed(rows, "c.id"));
    }
    if q.starts_with("SELECT c.id, c.entityid") {
        let until = int_after(q, "c.id <= ");
        let listed = list_after(q, "c.id IN (");
        let rows = account
            .customers
            .iter()
            .filter(|(id, _)| until.is_none_or(|until| *id <= until))
            .filter(|(id, _)| listed.as_ref().is_none_or(|ids| ids.contains(id)))
            .map(|(_, row)| row.clone())
            .collect();
        return Some(keyed(rows, "c.id"));
    }
    if q.starts_with("SELECT t.id, t.entity FROM transaction t") {
        if let Some(ids) = list_after(q, "t.id IN (") {
            let rows = account
                .transactions
                .iter()
                .filter(|t| t.kind == "CustInvc" && ids.contains(&t.id))
                .map(|t| json!({"id": t.id.to_string(), "entity": t.entity.to_string()}))
                .collect();
            return Some(keyed(rows, "t.id"));
        }
        let since = params.first()?;
        let rows = account
            .transactions
            .iter()
            .filter(|t| ["CustInvc", "CustPymt", "CustCred", "SalesOrd", "CustDep"].contains(&t.kind))
            .filter(|t| t.modified.as_str() >= since.as_str())
            .map(|t| json!({"id": t.id.to_string(), "entity": t.entity.to_string()}))
            .collect();
        return Some(keyed(rows, "t.id"));
    }
    if q.contains("FROM transaction t WHERE (t.type = 'CustInvc'")
        || q.contains("FROM transaction t WHERE (t.type = 'SalesOrd'")
    {
        let kind = if q.contains("'CustInvc'") {
            "CustInvc"
        } else {
            "SalesOrd"
        };
        let range = between(q, "t.entity BETWEEN ");
        let listed = list_after(q, "t.entity IN (");
        let rows = account
            .transactions
            .iter()
            .filter(|t| t.kind == kind)
            .filter(|t| range.is_none_or(|(lo, hi)| (lo..=hi).contains(&t.entity)))
            .filter(|t| listed.as_ref().is_none_or(|ids| ids.contains(&t.entity)))
            .map(|t| {
                let mut row = t.columns.clone();
                row["id"] = json!(t.id.to_string());
                row["entity"] = json!(t.entity.to_string());
                row
            })
            .collect();
        return Some(keyed(rows, "t.id"));
    }
    // Links by the ids of their documents, or by the customers of their documents.
    let linked_from = |alias: &str, kind: &str, statuses: &[&str]| -> Option<Vec<i64>> {
        if let Some(ids) = list_after(q, "l.previousdoc IN (") {
            return Some(ids);
        }
        let range = between(q, &format!("{alias}.entity BETWEEN "));
        let listed = list_after(q, &format!("{alias}.entity IN ("));
        if range.is_none() && listed.is_none() {
            return None;
        }
        Some(
            account
                .transactions
                .iter()
                .filter(|t| t.kind == kind && statuses.contains(&t.columns["status"].as_str().unwrap_or_default()))
                .filter(|t| range.is_none_or(|(lo, hi)| (lo..=hi).contains(&t.entity)))
                .filter(|t| listed.as_ref().is_none_or(|ids| ids.contains(&t.entity)))
                .map(|t| t.id)
                .collect(),
        )
    };
    if q.contains("FROM NextTransactionLineLink l JOIN transaction p") {
        let ids = linked_from("i", "CustInvc", &["B"])?;
        let mut rows = Vec::new();
        for link in account
            .links
            .iter()
            .filter(|l| l.linktype == "Payment" && ids.contains(&l.previousdoc))
        {
            let applying = account.transactions.iter().find(|t| t.id == link.nextdoc)?;
            rows.push(
                json!({"invoice_id": link.previousdoc.to_string(), "applying_id": link.nextdoc.to_string(),
                "applying_type": applying.kind, "applied_on": applying.columns["trandate"],
                "applied_amount": link.amount}),
            );
        }
        return Some(rows);
    }
    if q.contains("FROM contact c") {
        // The fake account has no contacts.
        return Some(Vec::new());
    }
    if q.contains("FROM NextTransactionLineLink l JOIN transaction d") {
        let ids = linked_from("o", "SalesOrd", &["A", "B", "D"])?;
        let mut rows = Vec::new();
        for link in account.links.iter().filter(|l| ids.contains(&l.previousdoc)) {
            let deposit = account.transactions.iter().find(|t| t.id == link.nextdoc)?;
            if deposit.kind == "CustDep" {
                rows.push(
                    json!({"order_id": link.previousdoc.to_string(), "deposit_id": link.nextdoc.to_string(),
                    "amount": link.amount}),
                );
            }
        }
        return Some(rows);
    }
    None
}

/// A customer row as the extractor selects it.
pub fn customer(id: i64, modified: &str) -> (i64, Value) {
    let mut row = Map::new();
    row.insert("id".into(), json!(id.to_string()));
    row.insert("entityid".into(), json!(format!("CUST-{id}")));
    row.insert("companyname".into(), json!(format!("Company {id}")));
    row.insert("email".into(), json!(format!("ap{id}@example.test")));
    row.insert("terms".into(), json!("2"));
    row.insert("creditlimit".into(), json!("5000.00"));
    row.insert("creditholdoverride".into(), json!("AUTO"));
    row.insert("currency".into(), json!("1"));
    row.insert("currency_name".into(), json!("US Dollar"));
    row.insert("isinactive".into(), json!("F"));
    row.insert("subsidiary".into(), json!("1"));
    row.insert("lastmodifieddate".into(), json!(modified));
    (id, Value::Object(row))
}

/// An invoice (`A` open, `B` paid, `V` voided).
pub fn invoice(id: i64, entity: i64, status: &str, total: &str, unpaid: &str, modified: &str) -> Txn {
    Txn {
        id,
        entity,
        kind: "CustInvc",
        columns: json!({"tranid": format!("INV-{id}"), "status": status, "trandate": "2026-09-01",
            "duedate": "2026-10-01", "foreigntotal": total, "foreignamountunpaid": unpaid}),
        modified: modified.to_owned(),
    }
}

/// A payment (or credit memo) dated `on`.
pub fn payment(id: i64, entity: i64, kind: &'static str, on: &str, modified: &str) -> Txn {
    Txn {
        id,
        entity,
        kind,
        columns: json!({"trandate": on}),
        modified: modified.to_owned(),
    }
}

/// A sales order.
pub fn order(id: i64, entity: i64, status: &str, total: &str, modified: &str) -> Txn {
    Txn {
        id,
        entity,
        kind: "SalesOrd",
        columns: json!({"tranid": format!("SO-{id}"), "status": status, "trandate": "2026-08-28", "foreigntotal": total}),
        modified: modified.to_owned(),
    }
}

pub fn applied(invoice: i64, by: i64, amount: &'static str) -> Link {
    Link {
        previousdoc: invoice,
        nextdoc: by,
        linktype: "Payment",
        amount,
    }
}

/// Terms `Net 30` (id 2) and currency USD (id 1).
pub fn reference_data(account: &mut Account) {
    account.terms = vec![
        json!({"id": "2", "name": "Net 30", "daysuntilnetdue": "30", "discountpercent": "2.0", "daysuntilexpiry": "10"}),
    ];
    account.currencies = vec![json!({"id": "1", "symbol": "USD"})];
}

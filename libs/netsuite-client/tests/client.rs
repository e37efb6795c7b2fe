//! The client against real HTTP servers on 127.0.0.1:0.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::TryStreamExt;
use ledgerlink_netsuite_client::tba::{OAuthHeader, hmac_signature, signature_base_string};
use ledgerlink_netsuite_client::{
    AccountId, Auth, ClientSettings, Error, KeysetQuery, NetSuiteClient, OFFSET_ROW_CAP, SuiteQl, TbaCredentials,
};
use reqwest::Url;
use support::{Reply, TestServer, page_json, query_param};

const CONSUMER_SECRET: &str = "consumer-secret";
const TOKEN_SECRET: &str = "token-secret";

fn tba_credentials() -> TbaCredentials {
    TbaCredentials {
        consumer_key: "consumer-key".into(),
        consumer_secret: CONSUMER_SECRET.into(),
        token_id: "token-id".into(),
        token_secret: TOKEN_SECRET.into(),
    }
}

fn fast_settings() -> ClientSettings {
    ClientSettings {
        backoff_initial_ms: 2,
        backoff_max_ms: 10,
        max_retries: 4,
        request_timeout_ms: 5_000,
        ..ClientSettings::default()
    }
}

fn tba_client(server: &TestServer, settings: ClientSettings) -> NetSuiteClient {
    NetSuiteClient::builder(AccountId::parse("123456-sb1").unwrap(), Auth::Tba(tba_credentials()))
        .base_url(server.url())
        .settings(settings)
        .build()
        .unwrap()
}

fn error_body(status: u16, code: &str, detail: &str) -> String {
    serde_json::json!({
        "type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html",
        "title": "Error",
        "status": status,
        "o:errorDetails": [{"detail": detail, "o:errorCode": code}]
    })
    .to_string()
}

#[tokio::test]
async fn suiteql_request_is_a_signed_transient_post_with_paging_only_in_the_query() {
    let server = TestServer::start(|_, _| Reply::Json(200, page_json(&[1, 2], false, 0, 2))).await;
    let client = tba_client(&server, fast_settings());
    let query = SuiteQl::new("SELECT id, entityid FROM customer WHERE id > ?").bind("0");
    let page = client.suiteql_page(&query, 1000, 0).await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[1].string("id").unwrap(), "2");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/services/rest/query/v1/suiteql");
    assert_eq!(request.query, "limit=1000&offset=0");
    assert_eq!(request.prefer.as_deref(), Some("transient"));
    assert_eq!(request.content_type.as_deref(), Some("application/json"));
    let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(body["q"], "SELECT id, entityid FROM customer WHERE id > ?");
    assert_eq!(body["params"], serde_json::json!(["0"]));

    let header = OAuthHeader::parse(request.authorization.as_deref().unwrap()).unwrap();
    assert_eq!(header.realm.as_deref(), Some("123456_SB1"));
    assert!(header.get("limit").is_none() && header.get("offset").is_none());
    assert!(header.params.iter().all(|(name, _)| name.starts_with("oauth_")));

    // Verify like NetSuite would: the URL as received, query included, body excluded.
    let url = Url::parse(&format!("{}{}?{}", server.url(), request.path, request.query)).unwrap();
    let oauth_params: Vec<(&str, &str)> = header
        .params
        .iter()
        .filter(|(name, _)| name != "oauth_signature")
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let base = signature_base_string("POST", &url, &oauth_params);
    assert!(base.contains("limit%3D1000"), "{base}");
    assert_eq!(
        Some(hmac_signature(&base, CONSUMER_SECRET, TOKEN_SECRET).as_str()),
        header.get("oauth_signature")
    );
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_until_success() {
    let server = TestServer::start(|_, index| match index {
        0 => Reply::Json(
            429,
            serde_json::json!({
                "title": "Bad Request", "status": 429, "o:errorCode": "USER_ERROR",
                "o:errorDetails": [{"detail": "Concurrent request limit exceeded. Request blocked.",
                                    "o:errorCode": "CONCURRENCY_LIMIT_EXCEEDED"}]
            })
            .to_string(),
        ),
        1 => Reply::Json(503, "<html>service unavailable</html>".to_owned()),
        2 => Reply::Json(
            500,
            error_body(500, "UNEXPECTED_ERROR", "An unexpected error occurred."),
        ),
        _ => Reply::Json(200, page_json(&[7], false, 0, 1)),
    })
    .await;
    let client = tba_client(&server, fast_settings());
    let page = client
        .suiteql_page(&SuiteQl::new("SELECT id FROM term"), 1000, 0)
        .await
        .unwrap();
    assert_eq!(page.items[0].i64("id").unwrap(), 7);
    let stats = client.stats();
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.retries, 3);
    assert_eq!(stats.throttled, 1);
    let nonces: std::collections::HashSet<String> = server
        .requests()
        .iter()
        .map(|request| {
            OAuthHeader::parse(request.authorization.as_deref().unwrap())
                .unwrap()
                .get("oauth_nonce")
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(nonces.len(), 4, "every attempt is signed with a fresh nonce");
}

#[tokio::test]
async fn retries_stop_at_the_configured_count() {
    let server = TestServer::start(|_, _| Reply::Json(503, String::new())).await;
    let client = tba_client(
        &server,
        ClientSettings {
            max_retries: 2,
            ..fast_settings()
        },
    );
    let error = client
        .suiteql_page(&SuiteQl::new("SELECT id FROM term"), 1000, 0)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::RetriesExhausted { attempts: 3, .. }), "{error}");
    assert_eq!(error.api_error().unwrap().status, 503);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn bad_request_is_not_retried_and_surfaces_netsuite_code_and_detail() {
    let server = TestServer::start(|_, _| {
        Reply::Json(
            400,
            error_body(400, "INVALID_PARAMETER", "Unknown identifier 'foreignamountremaining'."),
        )
    })
    .await;
    let client = tba_client(&server, fast_settings());
    let error = client
        .suiteql_page(&SuiteQl::new("SELECT foreignamountremaining FROM transaction"), 1000, 0)
        .await
        .unwrap_err();
    let Error::Api(api) = &error else {
        panic!("expected an api error, got {error:?}");
    };
    assert_eq!(api.status, 400);
    assert_eq!(api.error_code.as_deref(), Some("INVALID_PARAMETER"));
    assert!(api.detail.as_deref().unwrap().contains("foreignamountremaining"));
    assert_eq!(server.requests().len(), 1);
    assert_eq!(client.stats().retries, 0);
}

#[tokio::test]
async fn unauthorized_is_retried_exactly_once_with_a_new_nonce_then_reported_as_bad_credentials() {
    let server =
        TestServer::start(|_, _| Reply::Json(401, error_body(401, "INVALID_LOGIN", "Invalid login attempt."))).await;
    let client = tba_client(&server, fast_settings());
    let error = client
        .suiteql_page(&SuiteQl::new("SELECT id FROM term"), 1000, 0)
        .await
        .unwrap_err();
    let Error::BadCredentials(api) = &error else {
        panic!("expected bad credentials, got {error:?}");
    };
    assert_eq!(api.error_code.as_deref(), Some("INVALID_LOGIN"));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let nonce = |index: usize| {
        OAuthHeader::parse(requests[index].authorization.as_deref().unwrap())
            .unwrap()
            .get("oauth_nonce")
            .unwrap()
            .to_owned()
    };
    assert_ne!(nonce(0), nonce(1));
    // Debug and Display of the error carry no secret.
    let printed = format!("{error} {error:?} {client:?}");
    for secret in [CONSUMER_SECRET, TOKEN_SECRET, "token-id", "consumer-key"] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
}

#[tokio::test]
async fn a_single_unauthorized_answer_is_recovered_by_the_retry() {
    let server = TestServer::start(|_, index| match index {
        0 => Reply::Json(401, error_body(401, "INVALID_LOGIN", "Invalid login attempt.")),
        _ => Reply::Json(200, page_json(&[1], false, 0, 1)),
    })
    .await;
    let client = tba_client(&server, fast_settings());
    let page = client
        .suiteql_page(&SuiteQl::new("SELECT id FROM term"), 1000, 0)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn a_request_that_times_out_is_retried() {
    let server = TestServer::start(|_, index| match index {
        0 => Reply::Hang,
        _ => Reply::Json(200, page_json(&[3], false, 0, 1)),
    })
    .await;
    let client = tba_client(
        &server,
        ClientSettings {
            request_timeout_ms: 200,
            ..fast_settings()
        },
    );
    let page = client
        .suiteql_page(&SuiteQl::new("SELECT id FROM term"), 1000, 0)
        .await
        .unwrap();
    assert_eq!(page.items[0].i64("id").unwrap(), 3);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(client.stats().retries, 1);

    let hanging = TestServer::start(|_, _| Reply::Hang).await;
    let client = tba_client(
        &hanging,
        ClientSettings {
            request_timeout_ms: 100,
            max_retries: 1,
            ..fast_settings()
        },
    );
    let error = client
        .suiteql_page(&SuiteQl::new("SELECT id FROM term"), 1000, 0)
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
}

#[tokio::test]
async fn a_connection_refused_is_retried_and_then_reported_as_transport_error() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = NetSuiteClient::builder(AccountId::parse("123456").unwrap(), Auth::Tba(tba_credentials()))
        .base_url(format!("http://127.0.0.1:{port}"))
        .settings(ClientSettings {
            max_retries: 2,
            ..fast_settings()
        })
        .build()
        .unwrap();
    let error = client
        .suiteql_page(&SuiteQl::new("SELECT id FROM term"), 1000, 0)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::RetriesExhausted { attempts: 3, last } if matches!(**last, Error::Transport(_))),
        "{error:?}"
    );
}

#[tokio::test]
async fn offset_paging_walks_multiples_of_the_limit_and_stops_when_has_more_is_false() {
    let server = TestServer::start(|request, _| {
        let offset: i64 = query_param(&request.query, "offset").unwrap().parse().unwrap();
        let ids: Vec<i64> = (offset + 1..=(offset + 2).min(5)).collect();
        Reply::Json(200, page_json(&ids, offset + 2 < 5, offset as u64, 5))
    })
    .await;
    let client = tba_client(
        &server,
        ClientSettings {
            page_size: 2,
            ..fast_settings()
        },
    );
    let pages: Vec<_> = client
        .suiteql_pages(SuiteQl::new("SELECT id FROM customer ORDER BY id"))
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<i64> = pages
        .iter()
        .flat_map(|page| &page.items)
        .map(|row| row.i64("id").unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    let offsets: Vec<String> = server.requests().iter().map(|request| request.query.clone()).collect();
    assert_eq!(offsets, ["limit=2&offset=0", "limit=2&offset=2", "limit=2&offset=4"]);
}

/// Answers offset pages of `rows` ids, `limit` from the request, with `totalResults`
/// unless told otherwise.
fn offset_page(request: &support::Recorded, rows: i64, with_total: bool) -> Reply {
    let limit: i64 = query_param(&request.query, "limit").unwrap().parse().unwrap();
    let offset: i64 = query_param(&request.query, "offset").unwrap().parse().unwrap();
    let ids: Vec<i64> = (offset + 1..=(offset + limit).min(rows)).collect();
    let mut page: serde_json::Value =
        serde_json::from_str(&page_json(&ids, offset + limit < rows, offset as u64, rows as u64)).unwrap();
    if !with_total {
        page.as_object_mut().unwrap().remove("totalResults");
    }
    Reply::Json(200, page.to_string())
}

#[tokio::test]
async fn all_rows_reads_the_first_page_then_every_other_page_at_once() {
    const ROWS: i64 = 23;
    let (arrived_tx, arrived_rx) = tokio::sync::watch::channel(0usize);
    let arrived_tx = Arc::new(arrived_tx);
    // The fewest later pages any of them saw arrived when it was answered.
    let fewest_together = Arc::new(AtomicUsize::new(usize::MAX));
    let server = {
        let fewest_together = fewest_together.clone();
        TestServer::start_async(
            |request, _| offset_page(request, ROWS, true),
            move |index| {
                let arrived_tx = arrived_tx.clone();
                let mut arrived_rx = arrived_rx.clone();
                let fewest_together = fewest_together.clone();
                async move {
                    if index == 0 {
                        return;
                    }
                    arrived_tx.send_modify(|arrived| *arrived += 1);
                    // Hold the later pages until all four have arrived; a client reading
                    // them one by one would wait here until the deadline.
                    let all_arrived = arrived_rx.wait_for(|arrived| *arrived >= 4);
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), all_arrived).await;
                    fewest_together.fetch_min(*arrived_rx.borrow(), Ordering::SeqCst);
                }
            },
        )
        .await
    };
    let client = tba_client(
        &server,
        ClientSettings {
            page_size: 5,
            max_concurrency: 4,
            ..fast_settings()
        },
    );
    let rows = client
        .suiteql_all_rows(&SuiteQl::new("SELECT id FROM customer ORDER BY id"))
        .await
        .unwrap();
    let ids: Vec<i64> = rows.iter().map(|row| row.i64("id").unwrap()).collect();
    assert_eq!(ids, (1..=ROWS).collect::<Vec<_>>());
    assert_eq!(fewest_together.load(Ordering::SeqCst), 4);
    let mut offsets: Vec<String> = server.requests().iter().map(|request| request.query.clone()).collect();
    assert_eq!(offsets.remove(0), "limit=5&offset=0");
    offsets.sort();
    assert_eq!(
        offsets,
        [
            "limit=5&offset=10",
            "limit=5&offset=15",
            "limit=5&offset=20",
            "limit=5&offset=5"
        ]
    );
}

#[tokio::test]
async fn all_rows_without_total_goes_page_by_page_and_past_the_cap_stops_after_one_page() {
    let server = TestServer::start(|request, _| offset_page(request, 12, false)).await;
    let settings = ClientSettings {
        page_size: 5,
        ..fast_settings()
    };
    let client = tba_client(&server, settings.clone());
    let rows = client
        .suiteql_all_rows(&SuiteQl::new("SELECT id FROM customer"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 12);
    assert_eq!(server.requests().len(), 3);

    let big = TestServer::start(|request, _| offset_page(request, 150_000, true)).await;
    let client = tba_client(&big, settings);
    let error = client
        .suiteql_all_rows(&SuiteQl::new("SELECT id FROM customer"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::OffsetCapReached { .. }), "{error}");
    assert_eq!(big.requests().len(), 1);
}

#[tokio::test]
async fn paging_requests_netsuite_would_refuse_are_rejected_before_sending() {
    let server = TestServer::start(|_, _| Reply::Json(200, page_json(&[], false, 0, 0))).await;
    let client = tba_client(&server, fast_settings());
    let query = SuiteQl::new("SELECT id FROM term");
    assert!(matches!(
        client.suiteql_page(&query, 1000, 500).await,
        Err(Error::InvalidPaging(_))
    ));
    assert!(matches!(
        client.suiteql_page(&query, 1001, 0).await,
        Err(Error::InvalidPaging(_))
    ));
    assert!(matches!(
        client.suiteql_page(&query, 0, 0).await,
        Err(Error::InvalidPaging(_))
    ));
    assert!(matches!(
        client.suiteql_page(&query, 1000, 100_000).await,
        Err(Error::OffsetCapReached { .. })
    ));
    assert!(server.requests().is_empty());
}

/// A table of more than 100,000 customers behind a server that, like NetSuite, refuses
/// offsets at or past 100,000 and requires offset to be a multiple of limit.
struct BigTable {
    ids: Vec<i64>,
}

impl BigTable {
    fn new(rows: i64) -> Self {
        // Gaps in the ids, as deleted records leave them.
        BigTable {
            ids: (1..=rows).map(|n| n * 10 + n % 7).collect(),
        }
    }

    fn answer(&self, request: &support::Recorded) -> Reply {
        let limit: usize = query_param(&request.query, "limit").unwrap().parse().unwrap();
        let offset: usize = query_param(&request.query, "offset").unwrap().parse().unwrap();
        if offset >= OFFSET_ROW_CAP as usize || !offset.is_multiple_of(limit) {
            return Reply::Json(400, error_body(400, "INVALID_PARAMETER", "Invalid offset."));
        }
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        let q = body["q"].as_str().unwrap();
        let after: i64 = match q.split_once("c.id > ") {
            Some((_, rest)) => rest.split_whitespace().next().unwrap().parse().unwrap(),
            None => i64::MIN,
        };
        let start = self.ids.partition_point(|id| *id <= after);
        let matching = &self.ids[start..];
        let end = (offset + limit).min(matching.len());
        let served = if offset < matching.len() {
            &matching[offset..end]
        } else {
            &[][..]
        };
        Reply::Json(
            200,
            page_json(served, end < matching.len(), offset as u64, matching.len() as u64),
        )
    }
}

#[tokio::test]
async fn keyset_paging_streams_a_table_past_100000_rows_without_large_offsets() {
    let table = Arc::new(BigTable::new(100_500));
    let expected = table.ids.clone();
    let server = {
        let table = table.clone();
        TestServer::start(move |request, _| table.answer(request)).await
    };
    let client = tba_client(&server, fast_settings());
    let query = KeysetQuery::by_id("SELECT c.id, c.entityid FROM customer c", "c.id")
        .filter("c.isinactive = ?")
        .bind("F");
    let mut seen = Vec::with_capacity(expected.len());
    let mut rows = Box::pin(client.suiteql_keyset_rows(query));
    while let Some(row) = rows.try_next().await.unwrap() {
        seen.push(row.i64("id").unwrap());
    }
    assert_eq!(seen, expected);
    let requests = server.requests();
    assert_eq!(requests.len(), 101);
    for request in &requests {
        assert_eq!(query_param(&request.query, "offset").as_deref(), Some("0"));
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        let q = body["q"].as_str().unwrap();
        assert!(q.ends_with("ORDER BY c.id"), "{q}");
        assert!(q.contains("(c.isinactive = ?)"), "{q}");
        assert_eq!(body["params"], serde_json::json!(["F"]));
    }

    // Offset paging of the same table refuses to go past the cap instead of truncating.
    let before = server.requests().len();
    let mut pages = Box::pin(client.suiteql_pages(SuiteQl::new("SELECT c.id FROM customer c ORDER BY c.id")));
    let mut rows_by_offset = 0;
    let error = loop {
        match pages.try_next().await {
            Ok(Some(page)) => rows_by_offset += page.items.len(),
            Ok(None) => panic!("offset paging ended without reporting the cap"),
            Err(error) => break error,
        }
    };
    assert!(matches!(error, Error::OffsetCapReached { .. }), "{error}");
    assert_eq!(rows_by_offset, 100_000);
    let max_offset = server.requests()[before..]
        .iter()
        .map(|request| query_param(&request.query, "offset").unwrap().parse::<u64>().unwrap())
        .max()
        .unwrap();
    assert!(max_offset < OFFSET_ROW_CAP, "{max_offset}");
}

#[tokio::test]
async fn keyset_paging_resumes_after_a_checkpoint_and_rejects_unordered_keys() {
    let table = Arc::new(BigTable::new(2_500));
    let server = {
        let table = table.clone();
        TestServer::start(move |request, _| table.answer(request)).await
    };
    let client = tba_client(&server, fast_settings());
    let resume_after = table.ids[1_999];
    let query = KeysetQuery {
        start_after: Some(resume_after),
        ..KeysetQuery::by_id("SELECT c.id FROM customer c", "c.id")
    };
    let ids: Vec<i64> = client
        .suiteql_keyset_rows(query)
        .map_ok(|row| row.i64("id").unwrap())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids, table.ids[2_000..]);

    let unordered = TestServer::start(|_, _| Reply::Json(200, page_json(&[5, 4], true, 0, 10))).await;
    let client = tba_client(&unordered, fast_settings());
    let error = client
        .suiteql_keyset_rows(KeysetQuery::by_id("SELECT c.id FROM customer c", "c.id"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Keyset { .. }), "{error}");
    assert_eq!(unordered.requests().len(), 1);
}

#[tokio::test]
async fn no_more_requests_are_in_flight_than_the_concurrency_limit() {
    const REQUESTS: usize = 6;
    let (state_tx, state_rx) = tokio::sync::watch::channel((0usize, 0usize)); // (in flight, arrived)
    let state_tx = Arc::new(state_tx);
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let server = {
        let state_tx = state_tx.clone();
        let max_in_flight = max_in_flight.clone();
        TestServer::start_async(
            {
                let state_tx = state_tx.clone();
                move |_, _| {
                    state_tx.send_modify(|(in_flight, _)| *in_flight -= 1);
                    Reply::Json(200, page_json(&[1], false, 0, 1))
                }
            },
            move |_| {
                let state_tx = state_tx.clone();
                let mut state_rx = state_rx.clone();
                let max_in_flight = max_in_flight.clone();
                async move {
                    state_tx.send_modify(|(in_flight, arrived)| {
                        *in_flight += 1;
                        *arrived += 1;
                        max_in_flight.fetch_max(*in_flight, Ordering::SeqCst);
                    });
                    // Hold each request until a second one is in flight, so an unlimited
                    // client would pile all six up here.
                    state_rx
                        .wait_for(|(in_flight, arrived)| *in_flight >= 2 || *arrived == REQUESTS)
                        .await
                        .unwrap();
                }
            },
        )
        .await
    };
    let client = tba_client(
        &server,
        ClientSettings {
            max_concurrency: 2,
            ..fast_settings()
        },
    );
    let mut tasks = Vec::new();
    for _ in 0..REQUESTS {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client.suiteql_page(&SuiteQl::new("SELECT id FROM term"), 1000, 0).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(max_in_flight.load(Ordering::SeqCst), 2);
    assert_eq!(client.stats().requests, REQUESTS as u64);
}

#[tokio::test]
async fn record_api_get_goes_through_the_same_signing_and_returns_json() {
    let server = TestServer::start(|request, _| {
        assert_eq!(request.path, "/services/rest/record/v1/customer/42");
        Reply::Json(200, r#"{"id":"42","balance":12.5}"#.to_owned())
    })
    .await;
    let client = tba_client(&server, fast_settings());
    let value = client
        .request_json(
            reqwest::Method::GET,
            "/services/rest/record/v1/customer/42",
            &[("fields", "id,balance")],
            None,
        )
        .await
        .unwrap();
    assert_eq!(value["id"], "42");
    let request = &server.requests()[0];
    assert_eq!(request.query, "fields=id%2Cbalance");
    assert!(request.prefer.is_none());
    let header = OAuthHeader::parse(request.authorization.as_deref().unwrap()).unwrap();
    assert!(header.get("fields").is_none());
}

#[tokio::test]
async fn builder_rejects_bad_base_urls_and_settings() {
    let account = AccountId::parse("123456").unwrap();
    let build = |url: &str, settings: ClientSettings| {
        NetSuiteClient::builder(account.clone(), Auth::Tba(tba_credentials()))
            .base_url(url)
            .settings(settings)
            .build()
    };
    assert!(matches!(
        build("ftp://x", ClientSettings::default()),
        Err(Error::InvalidBaseUrl { .. })
    ));
    assert!(matches!(
        build("not a url", ClientSettings::default()),
        Err(Error::InvalidBaseUrl { .. })
    ));
    assert!(matches!(
        build("http://x?y=1", ClientSettings::default()),
        Err(Error::InvalidBaseUrl { .. })
    ));
    assert!(matches!(
        build(
            "http://x",
            ClientSettings {
                max_concurrency: 0,
                ..Default::default()
            }
        ),
        Err(Error::Settings(_))
    ));
    let client = NetSuiteClient::builder(account, Auth::Tba(tba_credentials()))
        .build()
        .unwrap();
    assert_eq!(client.base_url(), "https://123456.suitetalk.api.netsuite.com");
}

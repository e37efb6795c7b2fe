//! The simulator over real HTTP on 127.0.0.1:0, driven by `ledgerlink-netsuite-client`
//! and by raw reqwest where the client would be too polite.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use chrono::{NaiveDate, TimeDelta};
use ledgerlink_netsuite_client::clock::ManualClock;
use ledgerlink_netsuite_client::{
    AccountId, Auth, ClientSettings, JwtAlgorithm, M2mCredentials, NetSuiteClient, SuiteQl, tba,
};
use ledgerlink_netsuite_sim::{
    CapBehaviour, FaultKind, INVALID_LOGIN_DETAIL, M2mClient, NetSuiteSim, SimConfig, SimHandle, TbaCredentials,
};
use ledgerlink_synthdata::{Generator, GeneratorConfig};
use reqwest::Url;
use serde_json::{Value, json};

const ACCOUNT: &str = "123456_SB1";

fn credentials() -> TbaCredentials {
    TbaCredentials {
        consumer_key: "ck-test".to_owned(),
        consumer_secret: "cs-test".to_owned(),
        token_id: "tk-test".to_owned(),
        token_secret: "ts-test".to_owned(),
    }
}

fn client_credentials() -> tba::TbaCredentials {
    let c = credentials();
    tba::TbaCredentials {
        consumer_key: c.consumer_key.into(),
        consumer_secret: c.consumer_secret.into(),
        token_id: c.token_id.into(),
        token_secret: c.token_secret.into(),
    }
}

fn generator(customers: u64) -> Generator {
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    Generator::new(GeneratorConfig::new(1, customers, as_of)).unwrap()
}

async fn start(customers: u64, tweak: impl FnOnce(&mut SimConfig)) -> (SimHandle, Generator) {
    let mut config = SimConfig::new(ACCOUNT);
    config.tba = vec![credentials()];
    tweak(&mut config);
    let generator = generator(customers);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = NetSuiteSim::start(config, Some(generator.clone()), listener)
        .await
        .unwrap();
    handle.clock().freeze_at(generator.cutoff());
    (handle, generator)
}

fn now(handle: &SimHandle) -> u64 {
    handle.clock().now().timestamp() as u64
}

struct Signed {
    url: Url,
    authorization: String,
}

fn sign(handle: &SimHandle, path_and_query: &str, realm: &str, nonce: &str, timestamp: u64) -> Signed {
    let url = Url::parse(&format!("{}{path_and_query}", handle.base_url())).unwrap();
    let signed = tba::sign("POST", &url, realm, &client_credentials(), nonce, timestamp);
    Signed {
        url,
        authorization: signed.authorization,
    }
}

async fn send(signed: &Signed, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(signed.url.clone())
        .header("authorization", &signed.authorization)
        .header("prefer", "transient")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A fresh signature for every call, like a correct client.
async fn query(handle: &SimHandle, path_and_query: &str, body: Value) -> (u16, Value) {
    let nonce = tba::random_nonce();
    let signed = sign(handle, path_and_query, ACCOUNT, &nonce, now(handle));
    let response = send(&signed, &body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn error_code(body: &Value) -> &str {
    body["o:errorDetails"][0]["o:errorCode"].as_str().unwrap_or_default()
}

fn detail(body: &Value) -> &str {
    body["o:errorDetails"][0]["detail"].as_str().unwrap_or_default()
}

fn tba_client(handle: &SimHandle) -> NetSuiteClient {
    let clock = Arc::new(ManualClock::at_unix(handle.clock().now().timestamp()));
    NetSuiteClient::builder(AccountId::parse(ACCOUNT).unwrap(), Auth::Tba(client_credentials()))
        .base_url(handle.base_url())
        .clock(clock)
        .settings(ClientSettings {
            max_retries: 0,
            ..ClientSettings::default()
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn client_signed_suiteql_page_comes_back_in_netsuite_shape() {
    let (handle, _) = start(30, |_| {}).await;
    let client = tba_client(&handle);
    let page = client
        .suiteql_page(
            &SuiteQl::new("SELECT c.id, c.entityid FROM customer c WHERE c.id > ? ORDER BY c.id").bind("0"),
            10,
            0,
        )
        .await
        .unwrap();
    assert_eq!(page.count, 10);
    assert_eq!(page.total_results, Some(30));
    assert!(page.has_more);
    assert_eq!(page.items[0].string("id").unwrap(), "1");
    assert_eq!(page.items[0].string("entityid").unwrap(), "CUST-1");
    assert!(
        page.links
            .iter()
            .any(|link| link.rel == "next" && link.href.ends_with("limit=10&offset=10"))
    );
    assert_eq!(handle.counters().suiteql_pages, 1);
}

#[tokio::test]
async fn wrong_realm_case_is_refused_with_the_generic_invalid_login_body() {
    let (handle, _) = start(3, |_| {}).await;
    let path = "/services/rest/query/v1/suiteql?limit=5";
    let signed = sign(&handle, path, "123456_sb1", "abcdefghijklmnopqrst", now(&handle));
    let response = send(&signed, &json!({"q": "SELECT id FROM customer"})).await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(body["title"], "Unauthorized");
    assert_eq!(body["type"], "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html");
    assert_eq!(error_code(&body), "INVALID_LOGIN");
    assert_eq!(detail(&body), INVALID_LOGIN_DETAIL);
    assert_eq!(handle.login_audit().last().unwrap().reason, "InvalidAccount");
}

#[tokio::test]
async fn a_replayed_nonce_is_refused_the_second_time() {
    let (handle, _) = start(3, |_| {}).await;
    let signed = sign(
        &handle,
        "/services/rest/query/v1/suiteql?limit=5",
        ACCOUNT,
        "replayednonce123",
        now(&handle),
    );
    let body = json!({"q": "SELECT id FROM customer"});
    assert_eq!(send(&signed, &body).await.status(), 200);
    assert_eq!(send(&signed, &body).await.status(), 401);
    assert_eq!(handle.login_audit().last().unwrap().reason, "NonceUsed");
}

#[tokio::test]
async fn timestamps_outside_five_minutes_and_sha1_are_refused_but_the_edge_is_accepted() {
    let (handle, _) = start(3, |_| {}).await;
    let path = "/services/rest/query/v1/suiteql";
    let body = json!({"q": "SELECT id FROM customer"});
    let stale = sign(&handle, path, ACCOUNT, "stalenonce0001", now(&handle) - 301);
    assert_eq!(send(&stale, &body).await.status(), 401);
    assert_eq!(handle.login_audit().last().unwrap().reason, "InvalidTimestamp");
    let edge = sign(&handle, path, ACCOUNT, "edgenonce00001", now(&handle) - 300);
    assert_eq!(send(&edge, &body).await.status(), 200);

    let mut sha1 = sign(&handle, path, ACCOUNT, "sha1nonce00001", now(&handle));
    sha1.authorization = sha1.authorization.replace("HMAC-SHA256", "HMAC-SHA1");
    assert_eq!(send(&sha1, &body).await.status(), 401);
    assert_eq!(handle.login_audit().last().unwrap().reason, "UnknownAlgorithm");
}

#[tokio::test]
async fn query_parameters_are_part_of_the_signature() {
    let (handle, _) = start(3, |_| {}).await;
    let mut signed = sign(
        &handle,
        "/services/rest/query/v1/suiteql?limit=5&offset=0",
        ACCOUNT,
        "paramnonce0001",
        now(&handle),
    );
    signed.url = Url::parse(&format!(
        "{}/services/rest/query/v1/suiteql?limit=5&offset=5",
        handle.base_url()
    ))
    .unwrap();
    assert_eq!(
        send(&signed, &json!({"q": "SELECT id FROM customer"})).await.status(),
        401
    );
    assert_eq!(handle.login_audit().last().unwrap().reason, "InvalidSignature");
}

#[tokio::test]
async fn oauth2_client_credentials_flow_issues_a_bearer_token_the_api_accepts() {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let pkcs8 = key.to_pkcs8v1().unwrap();
    let private_pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
    );
    let public_der = key.public_key().as_der().unwrap();
    let public_pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(public_der.as_ref())
    );
    let client_entry = M2mClient::from_public_key_pem("client-1", "cert-1", &public_pem).unwrap();
    let (handle, _) = start(5, |config| config.m2m_clients = vec![client_entry]).await;
    let credentials = M2mCredentials {
        client_id: "client-1".to_owned(),
        certificate_id: "cert-1".to_owned(),
        private_key_pem: private_pem.clone().into(),
        algorithm: JwtAlgorithm::ES256,
        scopes: Vec::new(),
    };
    let clock = Arc::new(ManualClock::at_unix(handle.clock().now().timestamp()));
    let client = NetSuiteClient::builder(AccountId::parse(ACCOUNT).unwrap(), Auth::OAuth2(credentials))
        .base_url(handle.base_url())
        .clock(clock)
        .build()
        .unwrap();
    let page = client
        .suiteql_page(&SuiteQl::new("SELECT id FROM customer ORDER BY id"), 1000, 0)
        .await
        .unwrap();
    assert_eq!(page.count, 5);
    let paths: Vec<String> = handle.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/services/rest/auth/oauth2/v1/token", "/services/rest/query/v1/suiteql"]
    );

    let wrong_kid = M2mCredentials {
        client_id: "client-1".to_owned(),
        certificate_id: "cert-unknown".to_owned(),
        private_key_pem: private_pem.into(),
        algorithm: JwtAlgorithm::ES256,
        scopes: Vec::new(),
    };
    let refused = NetSuiteClient::builder(AccountId::parse(ACCOUNT).unwrap(), Auth::OAuth2(wrong_kid))
        .base_url(handle.base_url())
        .clock(Arc::new(ManualClock::at_unix(handle.clock().now().timestamp())))
        .settings(ClientSettings {
            max_retries: 0,
            ..ClientSettings::default()
        })
        .build()
        .unwrap();
    assert!(
        refused
            .suiteql_page(&SuiteQl::new("SELECT id FROM customer"), 10, 0)
            .await
            .is_err()
    );
    assert_eq!(handle.login_audit().last().unwrap().reason, "unknown kid");

    let response = reqwest::Client::new()
        .post(format!("{}/services/rest/query/v1/suiteql", handle.base_url()))
        .header("authorization", "Bearer not-a-token")
        .header("prefer", "transient")
        .json(&json!({"q": "SELECT id FROM customer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(challenge.contains(&format!("realm=\"{ACCOUNT}\"")), "{challenge}");

    // Tokens expire after an hour of server time: the client's cached token is refused.
    let refused_tokens = |handle: &SimHandle| {
        handle
            .login_audit()
            .iter()
            .filter(|a| a.reason == "invalid_token")
            .count()
    };
    let before = refused_tokens(&handle);
    handle.clock().advance(TimeDelta::seconds(3601));
    let _ = client
        .suiteql_page(&SuiteQl::new("SELECT id FROM customer"), 10, 0)
        .await;
    assert!(refused_tokens(&handle) > before);
}

#[tokio::test]
async fn paging_rules_and_the_row_cap_follow_netsuite() {
    let (handle, _) = start(30, |config| config.row_cap = 25).await;
    let q = json!({"q": "SELECT id FROM customer ORDER BY id"});
    let suiteql = "/services/rest/query/v1/suiteql";

    let (status, body) = query(&handle, &format!("{suiteql}?limit=10&offset=20"), q.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(body["count"], 5, "only rows below the cap are reachable");
    assert_eq!(body["totalResults"], 30);
    assert_eq!(body["offset"], 20);
    assert_eq!(body["items"][0]["id"], "21");
    assert_eq!(body["items"][0]["links"], json!([]));

    for (query_string, parameter) in [
        ("limit=10&offset=5", "offset"),
        ("limit=1001", "limit"),
        ("limit=0", "limit"),
        ("limit=5&offset=25", "offset"),
    ] {
        let (status, body) = query(&handle, &format!("{suiteql}?{query_string}"), q.clone()).await;
        assert_eq!(status, 400, "{query_string}");
        assert_eq!(error_code(&body), "INVALID_PARAMETER", "{query_string}");
        assert_eq!(
            body["o:errorDetails"][0]["o:errorQueryParam"], parameter,
            "{query_string}"
        );
    }

    let (truncating, _) = start(30, |config| {
        config.row_cap = 25;
        config.cap_behaviour = CapBehaviour::Truncate;
    })
    .await;
    let (_, body) = query(&truncating, &format!("{suiteql}?limit=5&offset=20"), q.clone()).await;
    assert_eq!(body["hasMore"], false);
    assert_eq!(body["totalResults"], 30);
    let (status, body) = query(&truncating, &format!("{suiteql}?limit=5&offset=25"), q).await;
    assert_eq!(status, 200);
    assert_eq!(body["count"], 0);
}

#[tokio::test]
async fn offset_pages_in_any_order_match_one_page_and_follow_data_changes() {
    let (handle, _) = start(30, |_| {}).await;
    let suiteql = "/services/rest/query/v1/suiteql";
    let page = |q: &'static str, limit: usize, offset: usize| {
        let handle = &handle;
        async move {
            let (status, body) = query(
                handle,
                &format!("{suiteql}?limit={limit}&offset={offset}"),
                json!({"q": q}),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["totalResults"], 30);
            body["items"].as_array().unwrap().clone()
        }
    };
    let whole = page("SELECT id, entityid FROM customer ORDER BY id", 30, 0).await;
    assert_eq!(whole.len(), 30);

    // The first page after the first reads the rest once; the others come from it.
    let q = "SELECT id, entityid FROM customer WHERE id > 0 ORDER BY id";
    let (second, third, first) = (page(q, 10, 10).await, page(q, 10, 20).await, page(q, 10, 0).await);
    assert_eq!([first, second, third].concat(), whole);

    // A change to the data between pages shows on the next page.
    let q = "SELECT id, entityid FROM customer WHERE entityid IS NOT NULL ORDER BY id";
    let second = page(q, 10, 10).await;
    assert_eq!(second[..], whole[10..20]);
    let changed = whole[25]["id"].as_str().unwrap();
    handle
        .execute_sql(&format!(
            "UPDATE customer SET entityid = 'CHANGED' WHERE id = {changed}"
        ))
        .await
        .unwrap();
    let third = page(q, 10, 20).await;
    assert_eq!(third[5]["entityid"], "CHANGED");
}

#[tokio::test]
async fn unknown_tables_and_columns_are_refused_with_netsuite_error_bodies() {
    let (handle, _) = start(3, |_| {}).await;
    let path = "/services/rest/query/v1/suiteql";
    let cases = [
        ("SELECT id FROM invoices", "Record 'invoices' was not found."),
        (
            "SELECT t.foreignamountremaining FROM transaction t",
            "Field 'foreignamountremaining' for record 'transaction'",
        ),
        ("SELECT nosuchcolumn FROM customer", "Unknown identifier 'nosuchcolumn'"),
        ("SELECT x.id FROM customer c", "Unknown identifier 'x.id'"),
        (
            "WITH a AS (SELECT id FROM customer) SELECT id FROM a",
            "Invalid or unsupported search.",
        ),
        ("DELETE FROM customer", "Invalid or unsupported search."),
    ];
    for (q, expected) in cases {
        let (status, body) = query(&handle, path, json!({ "q": q })).await;
        assert_eq!(status, 400, "{q}");
        assert_eq!(body["title"], "Bad Request");
        assert_eq!(error_code(&body), "INVALID_PARAMETER", "{q}");
        assert!(
            detail(&body).starts_with("Invalid search query."),
            "{q}: {}",
            detail(&body)
        );
        assert!(detail(&body).contains(expected), "{q}: {}", detail(&body));
    }
    let ids: Vec<String> = (0..1001).map(|i| i.to_string()).collect();
    let (status, _) = query(
        &handle,
        path,
        json!({ "q": format!("SELECT id FROM customer WHERE id IN ({})", ids.join(",")) }),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn values_are_strings_nulls_are_omitted_and_raw_dates_use_the_user_format() {
    let (handle, _) = start(2, |config| config.user_date_format = "M/D/YYYY".to_owned()).await;
    handle
        .execute_sql(
            "INSERT INTO customer (id, entityid, email, creditlimit, isinactive, datecreated) \
             VALUES (999, 'CUST-999', NULL, 1200.5, 'T', '2026-03-05T14:07:09')",
        )
        .await
        .unwrap();
    let (status, body) = query(
        &handle,
        "/services/rest/query/v1/suiteql",
        json!({"q": "SELECT c.id, c.email, c.creditlimit, c.isinactive, c.datecreated, \
                     TO_CHAR(c.datecreated, 'YYYY-MM-DD HH24:MI:SS') AS created, NVL(c.email, 'none') AS mail, \
                     COUNT(*) FROM customer c WHERE c.id = ? GROUP BY c.id, c.email, c.creditlimit, c.isinactive, c.datecreated",
               "params": ["999"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let item = &body["items"][0];
    assert_eq!(
        item,
        &json!({"links": [], "id": "999", "creditlimit": "1200.5", "isinactive": "T", "datecreated": "3/5/2026",
                "created": "2026-03-05 14:07:09", "mail": "none", "expr1": "1"})
    );
}

#[tokio::test]
async fn concurrency_beyond_the_limit_gets_429_with_the_documented_body() {
    let (handle, _) = start(3, |config| config.concurrency_limit = 2).await;
    handle.hold();
    let mut waiting = Vec::new();
    for _ in 0..2 {
        let handle = handle.clone();
        waiting.push(tokio::spawn(async move {
            query(
                &handle,
                "/services/rest/query/v1/suiteql",
                json!({"q": "SELECT id FROM customer"}),
            )
            .await
            .0
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while handle.in_flight() < 2 {
        assert!(Instant::now() < deadline, "requests never arrived");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (status, body) = query(
        &handle,
        "/services/rest/query/v1/suiteql",
        json!({"q": "SELECT id FROM customer"}),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(error_code(&body), "CONCURRENCY_LIMIT_EXCEEDED");
    assert_eq!(detail(&body), "Concurrent request limit exceeded. Request blocked.");
    handle.release();
    for task in waiting {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(handle.counters().concurrency_rejections, 1);
}

#[tokio::test]
async fn injected_faults_answer_500_json_503_html_or_drop_the_connection() {
    let (handle, _) = start(3, |_| {}).await;
    let path = "/services/rest/query/v1/suiteql";
    let q = json!({"q": "SELECT id FROM customer"});
    handle.inject(FaultKind::ServerError, 1);
    let (status, body) = query(&handle, path, q.clone()).await;
    assert_eq!(status, 500);
    assert_eq!(error_code(&body), "UNEXPECTED_ERROR");
    handle.inject(FaultKind::UnavailableHtml, 1);
    let (status, body) = query(&handle, path, q.clone()).await;
    assert_eq!(status, 503);
    assert!(body.as_str().unwrap().contains("<html>"));
    handle.inject(FaultKind::DropConnection, 1);
    let signed = sign(&handle, path, ACCOUNT, &tba::random_nonce(), now(&handle));
    let dropped = reqwest::Client::new()
        .post(signed.url.clone())
        .header("authorization", &signed.authorization)
        .header("prefer", "transient")
        .json(&q)
        .send()
        .await;
    assert!(dropped.is_err(), "{dropped:?}");
    let (status, _) = query(&handle, path, q).await;
    assert_eq!(status, 200);
    assert_eq!(handle.counters().faults, 3);
}

#[tokio::test]
async fn suiteql_over_the_data_set_reproduces_the_expected_snapshot_figures() {
    let (handle, generator) = start(8, |_| {}).await;
    let path = "/services/rest/query/v1/suiteql";
    for index in 0..8 {
        let records = generator.customer(index);
        let expected = records.expected_snapshot();
        let (status, body) = query(
            &handle,
            path,
            json!({"q": "SELECT t.id, t.status, t.foreigntotal, t.foreignamountunpaid, TO_CHAR(t.duedate, 'YYYY-MM-DD') AS duedate \
                         FROM transaction t WHERE t.type = 'CustInvc' AND t.entity = ? AND BUILTIN.CF(t.status) IN ('CustInvc:A', 'CustInvc:B', 'CustInvc:V') ORDER BY t.id",
                   "params": [records.customer.id.to_string()]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let items = body["items"].as_array().unwrap();
        assert_eq!(items.len(), expected.invoices.len());
        for (item, invoice) in items.iter().zip(&expected.invoices) {
            assert_eq!(item["id"], invoice.id.as_str());
            let unpaid: rust_decimal::Decimal = item["foreignamountunpaid"].as_str().unwrap().parse().unwrap();
            assert_eq!(unpaid, invoice.amount_remaining.amount());
            assert_eq!(item["duedate"], invoice.due_date.unwrap().to_string());
        }
        let (status, body) = query(
            &handle,
            path,
            json!({"q": "SELECT l.previousdoc AS invoice_id, MAX(TO_CHAR(p.trandate, 'YYYY-MM-DD')) AS paid \
                         FROM NextTransactionLineLink l JOIN transaction p ON p.id = l.nextdoc \
                         JOIN transaction i ON i.id = l.previousdoc \
                         WHERE l.linktype = 'Payment' AND i.status = 'B' AND i.entity = ? GROUP BY l.previousdoc ORDER BY l.previousdoc",
                   "params": [records.customer.id.to_string()]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let paid: Vec<(String, String)> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                (
                    item["invoice_id"].as_str().unwrap().to_owned(),
                    item["paid"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected_paid: Vec<(String, String)> = expected
            .invoices
            .iter()
            .filter_map(|invoice| invoice.paid_date.map(|date| (invoice.id.clone(), date.to_string())))
            .collect();
        assert_eq!(paid, expected_paid);
    }
}

#[tokio::test]
async fn advancing_time_bumps_lastmodifieddate_of_exactly_the_changed_customers() {
    let (handle, _) = start(40, |_| {}).await;
    let (_, body) = query(
        &handle,
        "/services/rest/query/v1/suiteql",
        json!({"q": "SELECT TO_CHAR(SYSDATE, 'YYYY-MM-DD HH24:MI:SS') AS now FROM DUAL"}),
    )
    .await;
    let watermark = body["items"][0]["now"].as_str().unwrap().to_owned();
    assert_eq!(watermark, "2026-11-20 23:59:59");
    let changed = handle.advance_days(5).await.unwrap();
    assert!(!changed.is_empty());
    let (status, body) = query(
        &handle,
        "/services/rest/query/v1/suiteql?limit=1000",
        json!({"q": "SELECT DISTINCT t.entity FROM transaction t WHERE t.lastmodifieddate > TO_DATE(?, 'YYYY-MM-DD HH24:MI:SS') \
                     UNION SELECT c.id FROM customer c WHERE c.lastmodifieddate > TO_DATE(?, 'YYYY-MM-DD HH24:MI:SS') ORDER BY 1",
               "params": [watermark, watermark]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let seen: Vec<i64> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            item.as_object()
                .unwrap()
                .values()
                .find_map(|v| v.as_str()?.parse().ok())
                .unwrap()
        })
        .collect();
    let mut changed = changed;
    changed.sort_unstable();
    assert_eq!(seen, changed);
    let (_, body) = query(
        &handle,
        "/services/rest/query/v1/suiteql",
        json!({"q": "SELECT TO_CHAR(SYSDATE - 1, 'YYYY-MM-DD') AS yesterday FROM DUAL"}),
    )
    .await;
    assert_eq!(body["items"][0]["yesterday"], "2026-11-24");
}

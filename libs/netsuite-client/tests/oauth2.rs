//! OAuth 2.0 client credentials against a token endpoint on 127.0.0.1:0.

mod support;

use std::sync::Arc;

use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ledgerlink_netsuite_client::clock::ManualClock;
use ledgerlink_netsuite_client::oauth2::{CLIENT_ASSERTION_TYPE, TOKEN_PATH};
use ledgerlink_netsuite_client::{
    AccountId, Auth, ClientSettings, Error, JwtAlgorithm, M2mCredentials, NetSuiteClient, SuiteQl,
};
use support::{Recorded, Reply, TestServer, page_json};

fn ec_key() -> (String, Vec<u8>) {
    let key_pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let der = key_pair.to_pkcs8v1().unwrap();
    let body = STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    (
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        ),
        key_pair.public_key().as_ref().to_vec(),
    )
}

fn form_value(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.replace("%3A", ":"))
    })
}

/// Checks a token request as NetSuite would and returns the assertion's claims.
fn verify_token_request(request: &Recorded, public_point: &[u8], token_url: &str) -> serde_json::Value {
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        form_value(&request.body, "grant_type").as_deref(),
        Some("client_credentials")
    );
    assert_eq!(
        form_value(&request.body, "client_assertion_type").as_deref(),
        Some(CLIENT_ASSERTION_TYPE)
    );
    let jwt = form_value(&request.body, "client_assertion").unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], "cert-1");
    assert_eq!(claims["aud"], token_url);
    assert_eq!(claims["iss"], "client-1");
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!((1..=3600).contains(&lifetime));
    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, public_point)
        .verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
        .expect("assertion signed by the configured key");
    claims
}

fn client(server: &TestServer, private_pem: String, clock: Arc<ManualClock>) -> NetSuiteClient {
    let credentials = M2mCredentials {
        client_id: "client-1".to_owned(),
        certificate_id: "cert-1".to_owned(),
        private_key_pem: private_pem.into(),
        algorithm: JwtAlgorithm::ES256,
        scopes: Vec::new(),
    };
    NetSuiteClient::builder(AccountId::parse("123456").unwrap(), Auth::OAuth2(credentials))
        .base_url(server.url())
        .clock(clock)
        .settings(ClientSettings {
            backoff_initial_ms: 2,
            backoff_max_ms: 10,
            ..ClientSettings::default()
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn token_is_bought_once_reused_and_renewed_before_expiry() {
    let (private_pem, public_point) = ec_key();
    let server = TestServer::start(|request, index| {
        if request.path == TOKEN_PATH {
            Reply::Json(
                200,
                format!(r#"{{"access_token":"tok-{index}","expires_in":3600,"token_type":"bearer"}}"#),
            )
        } else {
            Reply::Json(200, page_json(&[1], false, 0, 1))
        }
    })
    .await;
    let clock = Arc::new(ManualClock::at_unix(1_800_000_000));
    let client = client(&server, private_pem, clock.clone());
    let query = SuiteQl::new("SELECT id FROM term");
    client.suiteql_page(&query, 1000, 0).await.unwrap();
    client.suiteql_page(&query, 1000, 0).await.unwrap();
    // 3400 s later the token has 200 s left, under the 300 s renewal margin.
    clock.advance_secs(3_400);
    client.suiteql_page(&query, 1000, 0).await.unwrap();

    let requests = server.requests();
    let token_url = format!("{}{TOKEN_PATH}", server.url());
    let paths: Vec<&str> = requests.iter().map(|request| request.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            TOKEN_PATH,
            "/services/rest/query/v1/suiteql",
            "/services/rest/query/v1/suiteql",
            TOKEN_PATH,
            "/services/rest/query/v1/suiteql"
        ]
    );
    let first_claims = verify_token_request(&requests[0], &public_point, &token_url);
    let second_claims = verify_token_request(&requests[3], &public_point, &token_url);
    assert_eq!(first_claims["iat"], 1_800_000_000);
    assert_eq!(second_claims["iat"], 1_800_003_400);
    assert_ne!(first_claims["jti"], second_claims["jti"]);
    assert_eq!(requests[1].authorization.as_deref(), Some("Bearer tok-0"));
    assert_eq!(requests[2].authorization.as_deref(), Some("Bearer tok-0"));
    assert_eq!(requests[4].authorization.as_deref(), Some("Bearer tok-3"));
    assert_eq!(client.stats().token_requests, 2);
}

#[tokio::test]
async fn a_refused_bearer_token_is_replaced_once_before_failing() {
    let (private_pem, _) = ec_key();
    let server = TestServer::start(|request, index| {
        if request.path == TOKEN_PATH {
            Reply::Json(200, format!(r#"{{"access_token":"tok-{index}","expires_in":3600}}"#))
        } else {
            Reply::Json(401, String::new())
        }
    })
    .await;
    let client = client(&server, private_pem, Arc::new(ManualClock::at_unix(1_800_000_000)));
    let error = client
        .suiteql_page(&SuiteQl::new("SELECT id FROM term"), 1000, 0)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::BadCredentials(_)), "{error}");
    let paths: Vec<String> = server.requests().iter().map(|request| request.path.clone()).collect();
    assert_eq!(
        paths,
        [
            TOKEN_PATH,
            "/services/rest/query/v1/suiteql",
            TOKEN_PATH,
            "/services/rest/query/v1/suiteql"
        ]
    );
    let printed = format!("{error:?} {client:?}");
    assert!(!printed.contains("tok-"), "{printed}");
}

#[tokio::test]
async fn a_rejected_assertion_is_a_typed_error_without_retries() {
    let (private_pem, _) = ec_key();
    let server = TestServer::start(|_, _| {
        Reply::Json(
            400,
            r#"{"error":"invalid_request","error_description":"bad kid"}"#.to_owned(),
        )
    })
    .await;
    let client = client(&server, private_pem, Arc::new(ManualClock::at_unix(1_800_000_000)));
    let error = client
        .suiteql_page(&SuiteQl::new("SELECT id FROM term"), 1000, 0)
        .await
        .unwrap_err();
    let Error::TokenRejected(api) = &error else {
        panic!("expected a token rejection, got {error:?}");
    };
    assert_eq!(api.error_code.as_deref(), Some("invalid_request"));
    assert_eq!(server.requests().len(), 1);
}

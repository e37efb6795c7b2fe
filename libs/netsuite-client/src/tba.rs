//! Token-based authentication: OAuth 1.0a with HMAC-SHA256, as NetSuite's REST web
//! services expect it (reference §1a).

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::clock::Clock;
use crate::encode::percent_encode;

/// The only signature method NetSuite accepts since 2023.1.
pub const SIGNATURE_METHOD: &str = "HMAC-SHA256";
/// The only OAuth version NetSuite accepts.
pub const OAUTH_VERSION: &str = "1.0";
/// Length of the nonces drawn by [`TbaSigner`]; NetSuite wants at least 6, clients use 20–32.
pub const NONCE_LEN: usize = 32;

/// The four TBA secrets: the integration record's consumer key/secret and the access
/// token (user + role) id/secret. All four are kept as secrets: together they are a login.
#[derive(Clone, Debug, Deserialize)]
pub struct TbaCredentials {
    /// Consumer key of the integration record.
    pub consumer_key: SecretString,
    /// Consumer secret of the integration record.
    pub consumer_secret: SecretString,
    /// Token id of the access token.
    pub token_id: SecretString,
    /// Token secret of the access token.
    pub token_secret: SecretString,
}

/// The result of signing one request.
#[derive(Clone)]
pub struct TbaSignature {
    /// The RFC 5849 signature base string that was signed.
    pub base_string: String,
    /// The base64 HMAC-SHA256 signature (not percent-encoded).
    pub signature: String,
    /// The full `Authorization` header value (`OAuth realm="…", …`).
    pub authorization: String,
}

impl fmt::Debug for TbaSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The base string and header carry the consumer key and token id.
        f.debug_struct("TbaSignature")
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

/// Builds the RFC 5849 §3.4.1 signature base string of a request.
///
/// `oauth_params` are the `oauth_*` protocol parameters (never `realm` or
/// `oauth_signature`); every query parameter of `url` is added to them after URL-decoding.
/// The request body is never part of it: NetSuite's REST bodies are JSON.
pub fn signature_base_string(method: &str, url: &Url, oauth_params: &[(&str, &str)]) -> String {
    let mut base_uri = format!("{}://", url.scheme().to_ascii_lowercase());
    base_uri.push_str(&url.host_str().unwrap_or_default().to_ascii_lowercase());
    // `Url` already drops the scheme's default port, which RFC 5849 excludes too.
    if let Some(port) = url.port() {
        base_uri.push(':');
        base_uri.push_str(&port.to_string());
    }
    base_uri.push_str(url.path());

    let mut encoded: Vec<(String, String)> = oauth_params
        .iter()
        .map(|(name, value)| (percent_encode(name), percent_encode(value)))
        .collect();
    encoded.extend(
        url.query_pairs()
            .map(|(name, value)| (percent_encode(&name), percent_encode(&value))),
    );
    encoded.sort();
    let parameters = encoded
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&");

    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode(&base_uri),
        percent_encode(&parameters)
    )
}

/// Computes `base64(HMAC-SHA256(enc(consumer_secret) & enc(token_secret), base_string))`.
pub fn hmac_signature(base_string: &str, consumer_secret: &str, token_secret: &str) -> String {
    let signing_key = format!("{}&{}", percent_encode(consumer_secret), percent_encode(token_secret));
    let key = hmac::Key::new(hmac::HMAC_SHA256, signing_key.as_bytes());
    BASE64.encode(hmac::sign(&key, base_string.as_bytes()).as_ref())
}

/// Signs one request with an explicit nonce and timestamp; pure, so it can be checked
/// against published vectors.
///
/// `realm` is the account id exactly as NetSuite expects it (`123456_SB1`); it goes into
/// the header only. Query parameters are signed but never copied into the header.
pub fn sign(
    method: &str,
    url: &Url,
    realm: &str,
    credentials: &TbaCredentials,
    nonce: &str,
    timestamp: u64,
) -> TbaSignature {
    let timestamp = timestamp.to_string();
    let consumer_key = credentials.consumer_key.expose_secret();
    let token_id = credentials.token_id.expose_secret();
    let oauth_params = [
        ("oauth_consumer_key", consumer_key),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", SIGNATURE_METHOD),
        ("oauth_timestamp", timestamp.as_str()),
        ("oauth_token", token_id),
        ("oauth_version", OAUTH_VERSION),
    ];
    let base_string = signature_base_string(method, url, &oauth_params);
    let signature = hmac_signature(
        &base_string,
        credentials.consumer_secret.expose_secret(),
        credentials.token_secret.expose_secret(),
    );

    let mut authorization = format!("OAuth realm=\"{}\"", percent_encode(realm));
    let header_params = [
        ("oauth_token", token_id),
        ("oauth_consumer_key", consumer_key),
        ("oauth_nonce", nonce),
        ("oauth_timestamp", timestamp.as_str()),
        ("oauth_signature_method", SIGNATURE_METHOD),
        ("oauth_version", OAUTH_VERSION),
        ("oauth_signature", signature.as_str()),
    ];
    for (name, value) in header_params {
        authorization.push_str(&format!(", {name}=\"{}\"", percent_encode(value)));
    }

    TbaSignature {
        base_string,
        signature,
        authorization,
    }
}

/// Draws a nonce of [`NONCE_LEN`] random alphanumerics from the system's CSPRNG.
pub fn random_nonce() -> String {
    random_alphanumeric(NONCE_LEN)
}

pub(crate) fn random_alphanumeric(len: usize) -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    let mut buffer = [0u8; 64];
    while out.len() < len {
        aws_lc_rs::rand::fill(&mut buffer).expect("the system random generator failed");
        // Rejecting bytes >= 248 (4 × 62) keeps every character equally likely.
        for byte in buffer.iter().copied().filter(|byte| *byte < 248) {
            if out.len() == len {
                break;
            }
            out.push(char::from(ALPHABET[usize::from(byte % 62)]));
        }
    }
    out
}

/// A parsed `Authorization: OAuth …` header, for servers (the simulator) and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthHeader {
    /// The decoded `realm`.
    pub realm: Option<String>,
    /// Every other parameter, decoded, in header order.
    pub params: Vec<(String, String)>,
}

impl OAuthHeader {
    /// Parses `OAuth realm="…", name="value", …`; `None` when it is not an OAuth header.
    pub fn parse(header: &str) -> Option<OAuthHeader> {
        let rest = header.trim().strip_prefix("OAuth ")?;
        let mut realm = None;
        let mut params = Vec::new();
        for part in rest.split(',') {
            let (name, value) = part.trim().split_once('=')?;
            let value = value.trim().strip_prefix('"')?.strip_suffix('"')?;
            let value = percent_decode(value)?;
            if name == "realm" {
                realm = Some(value);
            } else {
                params.push((name.to_owned(), value));
            }
        }
        Some(OAuthHeader { realm, params })
    }

    /// The value of one parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = input.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// Signs requests with a fresh nonce and the clock's timestamp on every call, so each
/// attempt (and each retry) carries a new signature as NetSuite requires.
#[derive(Clone)]
pub struct TbaSigner {
    realm: String,
    credentials: TbaCredentials,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for TbaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TbaSigner")
            .field("realm", &self.realm)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl TbaSigner {
    /// A signer for `realm` (the account id as NetSuite expects it, `123456_SB1`).
    pub fn new(realm: impl Into<String>, credentials: TbaCredentials, clock: Arc<dyn Clock>) -> Self {
        TbaSigner {
            realm: realm.into(),
            credentials,
            clock,
        }
    }

    /// Signs `method url` with a new nonce and the current unix time.
    pub fn sign(&self, method: &str, url: &Url) -> TbaSignature {
        let timestamp = u64::try_from(self.clock.now().timestamp()).unwrap_or_default();
        sign(method, url, &self.realm, &self.credentials, &random_nonce(), timestamp)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::Value;

    use super::*;
    use crate::clock::ManualClock;

    fn vectors() -> Value {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/netsuite-tba-test-vectors.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        serde_json::from_str(&text).expect("the vector file is json")
    }

    fn text<'a>(value: &'a Value, key: &str) -> &'a str {
        value[key].as_str().unwrap_or_else(|| panic!("missing {key}"))
    }

    fn vector_credentials(vectors: &Value) -> TbaCredentials {
        let credentials = &vectors["credentials"];
        TbaCredentials {
            consumer_key: text(credentials, "consumer_key").into(),
            consumer_secret: text(credentials, "consumer_secret").into(),
            token_id: text(credentials, "token_id").into(),
            token_secret: text(credentials, "token_secret").into(),
        }
    }

    #[test]
    fn every_published_and_derived_vector_reproduces_base_string_signature_and_header_value() {
        let vectors = vectors();
        let credentials = vector_credentials(&vectors);
        let shared = &vectors["credentials"];
        assert_eq!(text(shared, "signature_method"), SIGNATURE_METHOD);
        assert_eq!(text(shared, "version"), OAUTH_VERSION);
        let nonce = text(shared, "nonce");
        let timestamp: u64 = text(shared, "timestamp").parse().unwrap();
        let realm = text(shared, "realm");

        let cases = vectors["cases"].as_array().expect("cases");
        assert!(cases.len() >= 4, "expected the four reference cases");
        for case in cases {
            let url = Url::parse(text(case, "url")).unwrap();
            let signed = sign(text(case, "method"), &url, realm, &credentials, nonce, timestamp);
            assert_eq!(signed.base_string, text(case, "base_string"), "{url}");
            assert_eq!(signed.signature, text(case, "signature_b64"), "{url}");
            let expected_in_header = format!("oauth_signature=\"{}\"", text(case, "signature_in_header"));
            assert!(
                signed.authorization.contains(&expected_in_header),
                "{url}: {}",
                signed.authorization
            );
        }
    }

    #[test]
    fn header_has_realm_and_oauth_params_but_no_query_params() {
        let vectors = vectors();
        let credentials = vector_credentials(&vectors);
        let url = Url::parse(
            "https://123456-sb1.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql?limit=1000&offset=2000",
        )
        .unwrap();
        let signed = sign("POST", &url, "123456_SB1", &credentials, "abcdefghij", 1_700_000_000);
        let header = OAuthHeader::parse(&signed.authorization).expect("an oauth header");
        assert_eq!(header.realm.as_deref(), Some("123456_SB1"));
        let mut names: Vec<&str> = header.params.iter().map(|(name, _)| name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "oauth_consumer_key",
                "oauth_nonce",
                "oauth_signature",
                "oauth_signature_method",
                "oauth_timestamp",
                "oauth_token",
                "oauth_version"
            ]
        );
        assert!(!signed.authorization.contains("limit"));
        assert!(!signed.authorization.contains("offset"));
        // The realm is not signed: the same request under another realm has the same signature.
        let other_realm = sign("POST", &url, "999", &credentials, "abcdefghij", 1_700_000_000);
        assert_eq!(other_realm.signature, signed.signature);
        assert!(signed.base_string.contains("offset%3D2000"));
    }

    #[test]
    fn query_values_are_url_decoded_before_being_re_encoded() {
        let params = [("oauth_nonce", "n")];
        let plain = signature_base_string(
            "get",
            &Url::parse("HTTPS://Example.COM:443/p?q=a%20b&x=%2A").unwrap(),
            &params,
        );
        assert_eq!(
            plain,
            "GET&https%3A%2F%2Fexample.com%2Fp&oauth_nonce%3Dn%26q%3Da%2520b%26x%3D%252A"
        );
        let with_port = signature_base_string("GET", &Url::parse("http://127.0.0.1:8080/p").unwrap(), &params);
        assert!(
            with_port.starts_with("GET&http%3A%2F%2F127.0.0.1%3A8080%2Fp&"),
            "{with_port}"
        );
    }

    #[test]
    fn parameters_sort_by_encoded_name_then_value() {
        let base = signature_base_string("GET", &Url::parse("https://h/p?b=2&a=3&a=1&A=9").unwrap(), &[]);
        assert_eq!(base, "GET&https%3A%2F%2Fh%2Fp&A%3D9%26a%3D1%26a%3D3%26b%3D2");
    }

    #[test]
    fn signer_draws_a_fresh_alphanumeric_nonce_and_the_clock_timestamp_each_time() {
        let vectors = vectors();
        let clock = Arc::new(ManualClock::at_unix(1_508_242_306));
        let signer = TbaSigner::new("123456", vector_credentials(&vectors), clock.clone());
        let url = Url::parse("https://123456.suitetalk.api.netsuite.com/x").unwrap();
        let first = OAuthHeader::parse(&signer.sign("GET", &url).authorization).unwrap();
        clock.advance_secs(7);
        let second = OAuthHeader::parse(&signer.sign("GET", &url).authorization).unwrap();
        let first_nonce = first.get("oauth_nonce").unwrap();
        let second_nonce = second.get("oauth_nonce").unwrap();
        assert_ne!(first_nonce, second_nonce);
        for nonce in [first_nonce, second_nonce] {
            assert!((20..=32).contains(&nonce.len()), "{nonce}");
            assert!(nonce.bytes().all(|byte| byte.is_ascii_alphanumeric()), "{nonce}");
        }
        assert_eq!(first.get("oauth_timestamp"), Some("1508242306"));
        assert_eq!(second.get("oauth_timestamp"), Some("1508242313"));
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let vectors = vectors();
        let credentials = vector_credentials(&vectors);
        let signer = TbaSigner::new("123456", credentials.clone(), Arc::new(ManualClock::at_unix(0)));
        let printed = format!("{signer:?} {credentials:?}");
        for secret in ["consumer_key", "consumer_secret", "token_id", "token_secret"] {
            assert!(
                !printed.contains(text(&vectors["credentials"], secret)),
                "{secret} leaked"
            );
        }
    }
}

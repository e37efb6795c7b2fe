//! Verification of TBA (OAuth 1.0a HMAC-SHA256) signatures and of OAuth 2.0
//! client-credentials assertions, independent of how any client builds them: the
//! header is parsed and the base string rebuilt from the request as received.

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as BASE64URL};
use chrono::{DateTime, Utc};
use ledgerlink_netsuite_client::tba::{OAuthHeader, hmac_signature, signature_base_string};
use reqwest::Url;
use serde_json::Value;

/// One integration record plus access token that may sign TBA requests.
#[derive(Clone)]
pub struct TbaCredentials {
    /// Consumer key of the integration record.
    pub consumer_key: String,
    /// Consumer secret of the integration record.
    pub consumer_secret: String,
    /// Token id of the access token.
    pub token_id: String,
    /// Token secret of the access token.
    pub token_secret: String,
}

impl fmt::Debug for TbaCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TbaCredentials").finish_non_exhaustive()
    }
}

/// A certificate mapped to an integration for OAuth 2.0 client credentials.
#[derive(Clone)]
pub struct M2mClient {
    /// The integration's client id (the assertion's `iss`).
    pub client_id: String,
    /// The certificate id (the assertion's `kid`).
    pub certificate_id: String,
    /// DER of the public key: SubjectPublicKeyInfo, or PKCS#1 for RSA.
    pub public_key_der: Vec<u8>,
}

impl fmt::Debug for M2mClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("M2mClient")
            .field("client_id", &self.client_id)
            .field("certificate_id", &self.certificate_id)
            .finish_non_exhaustive()
    }
}

/// A public key PEM that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid public key pem: {0}")]
pub struct KeyError(String);

impl M2mClient {
    /// Builds a client from a `-----BEGIN PUBLIC KEY-----` (or `RSA PUBLIC KEY`) PEM.
    pub fn from_public_key_pem(
        client_id: impl Into<String>,
        certificate_id: impl Into<String>,
        pem: &str,
    ) -> Result<Self, KeyError> {
        let mut body = String::new();
        let mut inside = false;
        for line in pem.lines().map(str::trim) {
            if line.starts_with("-----BEGIN ") {
                if line.contains("CERTIFICATE") {
                    return Err(KeyError("certificates are not read; pass the public key".to_owned()));
                }
                inside = true;
            } else if line.starts_with("-----END ") {
                break;
            } else if inside {
                body.push_str(line);
            }
        }
        if !inside {
            return Err(KeyError("no pem block found".to_owned()));
        }
        let der = BASE64
            .decode(body)
            .map_err(|_| KeyError("pem body is not base64".to_owned()))?;
        Ok(M2mClient {
            client_id: client_id.into(),
            certificate_id: certificate_id.into(),
            public_key_der: der,
        })
    }
}

/// Why a TBA request was refused; NetSuite shows it only in the Login Audit Trail.
pub(crate) fn verify_tba(
    header: &str,
    method: &str,
    url: &Url,
    account: &str,
    credentials: &[TbaCredentials],
    now: DateTime<Utc>,
    tolerance_secs: i64,
) -> Result<TbaAccepted, &'static str> {
    let parsed = OAuthHeader::parse(header).ok_or("MissingTokenPassportRequiredFields")?;
    if parsed.realm.as_deref() != Some(account) {
        return Err("InvalidAccount");
    }
    let field = |name: &str| parsed.get(name).ok_or("MissingTokenPassportRequiredFields");
    let method_name = field("oauth_signature_method")?;
    if method_name != "HMAC-SHA256" {
        return Err("UnknownAlgorithm");
    }
    if parsed.get("oauth_version").is_some_and(|version| version != "1.0") {
        return Err("VersionRejected");
    }
    let consumer_key = field("oauth_consumer_key")?;
    let token = field("oauth_token")?;
    let nonce = field("oauth_nonce")?;
    let timestamp = field("oauth_timestamp")?;
    let signature = field("oauth_signature")?;
    if nonce.len() < 6 {
        return Err("nonce_rejected");
    }
    let timestamp: i64 = timestamp.parse().map_err(|_| "InvalidTimestamp")?;
    if (now.timestamp() - timestamp).abs() > tolerance_secs {
        return Err("InvalidTimestamp");
    }
    let Some(credential) = credentials.iter().find(|c| c.consumer_key == consumer_key) else {
        return Err("consumer_key_unknown");
    };
    let credential = credentials
        .iter()
        .find(|c| c.consumer_key == consumer_key && c.token_id == token)
        .ok_or_else(|| {
            let _ = credential;
            "token_rejected"
        })?;
    let oauth_params: Vec<(&str, &str)> = parsed
        .params
        .iter()
        .filter(|(name, _)| name != "oauth_signature")
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let base_string = signature_base_string(method, url, &oauth_params);
    let expected = hmac_signature(&base_string, &credential.consumer_secret, &credential.token_secret);
    let matches = aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), signature.as_bytes());
    if matches.is_err() {
        return Err("InvalidSignature");
    }
    Ok(TbaAccepted {
        nonce_key: format!("{token}\u{0}{nonce}\u{0}{timestamp}"),
        timestamp,
    })
}

/// A request whose signature verified; the nonce still has to be checked for replay.
#[derive(Debug)]
pub(crate) struct TbaAccepted {
    pub(crate) nonce_key: String,
    pub(crate) timestamp: i64,
}

/// Nonces seen within the timestamp window.
#[derive(Debug, Default)]
pub(crate) struct NonceStore {
    seen: HashMap<String, i64>,
}

impl NonceStore {
    /// Records a nonce; false when it was used before.
    pub(crate) fn check_and_record(&mut self, accepted: &TbaAccepted, now: i64, tolerance_secs: i64) -> bool {
        if self.seen.len() > 10_000 {
            // Anything older than the window cannot come back: its timestamp is refused.
            self.seen.retain(|_, timestamp| now - *timestamp <= tolerance_secs * 2);
        }
        self.seen
            .insert(accepted.nonce_key.clone(), accepted.timestamp)
            .is_none()
    }
}

fn algorithm(name: &str) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match name {
        "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
        "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
        "PS512" => &signature::RSA_PSS_2048_8192_SHA512,
        "ES256" => &signature::ECDSA_P256_SHA256_FIXED,
        "ES384" => &signature::ECDSA_P384_SHA384_FIXED,
        "ES512" => &signature::ECDSA_P521_SHA512_FIXED,
        _ => return None,
    })
}

fn scope_has_rest(scope: Option<&Value>) -> bool {
    match scope {
        Some(Value::String(text)) => text.split([' ', ',']).any(|part| part.trim() == "rest_webservices"),
        Some(Value::Array(items)) => items.iter().any(|item| item.as_str() == Some("rest_webservices")),
        _ => false,
    }
}

/// Checks a client assertion JWT; returns the client id, or the reason it was refused.
pub(crate) fn verify_assertion(
    jwt: &str,
    clients: &[M2mClient],
    accepted_audiences: &[String],
    now: DateTime<Utc>,
) -> Result<String, &'static str> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature_part] = parts.as_slice() else {
        return Err("assertion is not a jws");
    };
    let decode = |part: &str| -> Result<Value, &'static str> {
        let bytes = BASE64URL.decode(part).map_err(|_| "assertion part is not base64url")?;
        serde_json::from_slice(&bytes).map_err(|_| "assertion part is not json")
    };
    let header_json = decode(header)?;
    let claims_json = decode(claims)?;
    let alg = header_json["alg"].as_str().ok_or("missing alg")?;
    let verification = algorithm(alg).ok_or("alg not allowed")?;
    let kid = header_json["kid"].as_str().ok_or("missing kid")?;
    let client = clients
        .iter()
        .find(|client| client.certificate_id == kid)
        .ok_or("unknown kid")?;
    let signature_bytes = BASE64URL
        .decode(signature_part)
        .map_err(|_| "signature is not base64url")?;
    UnparsedPublicKey::new(verification, &client.public_key_der)
        .verify(format!("{header}.{claims}").as_bytes(), &signature_bytes)
        .map_err(|_| "bad signature")?;
    if claims_json["iss"].as_str() != Some(client.client_id.as_str()) {
        return Err("iss does not match the certificate's integration");
    }
    let audience_ok = match &claims_json["aud"] {
        Value::String(aud) => accepted_audiences.iter().any(|a| a == aud),
        Value::Array(items) => items.iter().any(|item| {
            item.as_str()
                .is_some_and(|aud| accepted_audiences.iter().any(|a| a == aud))
        }),
        _ => false,
    };
    if !audience_ok {
        return Err("aud is not this account's token endpoint");
    }
    let iat = claims_json["iat"].as_i64().ok_or("missing iat")?;
    let exp = claims_json["exp"].as_i64().ok_or("missing exp")?;
    if exp <= iat || exp - iat > 3600 {
        return Err("exp - iat must be within 3600 seconds");
    }
    if exp <= now.timestamp() {
        return Err("assertion expired");
    }
    if iat > now.timestamp() + 300 {
        return Err("assertion issued in the future");
    }
    if !scope_has_rest(claims_json.get("scope")) {
        return Err("scope lacks rest_webservices");
    }
    Ok(client.client_id.clone())
}

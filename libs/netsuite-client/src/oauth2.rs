//! OAuth 2.0 client credentials (machine to machine): the signed client assertion and
//! the access token it buys (reference §1b).

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as BASE64URL};
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::encode::percent_encode;
use crate::error::Error;
use crate::tba::random_alphanumeric;

/// Path of the token endpoint, on the account's SuiteTalk host.
pub const TOKEN_PATH: &str = "/services/rest/auth/oauth2/v1/token";
/// `client_assertion_type` of a JWT bearer assertion (RFC 7523).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest assertion NetSuite accepts: `exp - iat <= 3600`.
pub const MAX_ASSERTION_LIFETIME_SECS: u64 = 3600;
/// The scope for REST web services (SuiteQL and the record API).
pub const SCOPE_REST_WEBSERVICES: &str = "rest_webservices";

/// The JWT signature algorithms NetSuite accepts that this client can produce
/// (NetSuite also lists ES512, which is not supported here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JwtAlgorithm {
    /// RSA-PSS with SHA-256 (RSA 3072 or 4096 certificates).
    PS256,
    /// RSA-PSS with SHA-384.
    PS384,
    /// RSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
}

impl JwtAlgorithm {
    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::PS256 => "PS256",
            JwtAlgorithm::PS384 => "PS384",
            JwtAlgorithm::PS512 => "PS512",
            JwtAlgorithm::ES256 => "ES256",
            JwtAlgorithm::ES384 => "ES384",
        }
    }
}

/// The credentials of an integration using the client credentials grant.
#[derive(Clone, Debug, Deserialize)]
pub struct M2mCredentials {
    /// The integration record's client id (the JWT `iss`).
    pub client_id: String,
    /// The certificate id NetSuite showed when the public certificate was mapped (the JWT `kid`).
    pub certificate_id: String,
    /// The private key matching the uploaded certificate, PEM (PKCS#8, or PKCS#1 / SEC1).
    pub private_key_pem: SecretString,
    /// How the assertion is signed; must match the key type.
    pub algorithm: JwtAlgorithm,
    /// Scopes to ask for; empty means `rest_webservices`.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// A parsed private key, ready to sign assertions.
pub struct AssertionSigner {
    algorithm: JwtAlgorithm,
    key: SigningKey,
    rng: SystemRandom,
}

enum SigningKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

impl fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionSigner")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl AssertionSigner {
    /// Loads the private key for `algorithm`.
    pub fn new(algorithm: JwtAlgorithm, private_key_pem: &SecretString) -> Result<Self, Error> {
        let (label, der) = decode_pem(private_key_pem.expose_secret())?;
        let key = match algorithm {
            JwtAlgorithm::PS256 | JwtAlgorithm::PS384 | JwtAlgorithm::PS512 => {
                let parsed = if label == "RSA PRIVATE KEY" {
                    RsaKeyPair::from_der(&der)
                } else {
                    RsaKeyPair::from_pkcs8(&der)
                };
                SigningKey::Rsa(
                    parsed.map_err(|rejected| Error::InvalidKey(format!("not an rsa private key: {rejected}")))?,
                )
            }
            JwtAlgorithm::ES256 | JwtAlgorithm::ES384 => {
                let curve = if algorithm == JwtAlgorithm::ES256 {
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING
                } else {
                    &signature::ECDSA_P384_SHA384_FIXED_SIGNING
                };
                SigningKey::Ec(EcdsaKeyPair::from_private_key_der(curve, &der).map_err(|rejected| {
                    Error::InvalidKey(format!(
                        "not an ec private key on the curve of {}: {rejected}",
                        algorithm.as_str()
                    ))
                })?)
            }
        };
        Ok(AssertionSigner {
            algorithm,
            key,
            rng: SystemRandom::new(),
        })
    }

    /// The algorithm this signer produces.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let failed = |_| Error::InvalidKey("signing failed".to_owned());
        match &self.key {
            SigningKey::Rsa(key_pair) => {
                let padding: &'static dyn signature::RsaEncoding = match self.algorithm {
                    JwtAlgorithm::PS384 => &signature::RSA_PSS_SHA384,
                    JwtAlgorithm::PS512 => &signature::RSA_PSS_SHA512,
                    _ => &signature::RSA_PSS_SHA256,
                };
                let mut out = vec![0; key_pair.public_modulus_len()];
                key_pair.sign(padding, &self.rng, message, &mut out).map_err(failed)?;
                Ok(out)
            }
            SigningKey::Ec(key_pair) => Ok(key_pair.sign(&self.rng, message).map_err(failed)?.as_ref().to_vec()),
        }
    }
}

/// Builds the signed client assertion (a compact JWS).
///
/// Header: `typ=JWT`, `alg`, `kid` = certificate id. Claims: `iss` = client id,
/// `scope` (a JSON array, as in Oracle's sample), `aud` = the token URL, `iat`, `exp`
/// (at most 3600 s after `iat`) and a random `jti`.
pub fn client_assertion(
    credentials: &M2mCredentials,
    signer: &AssertionSigner,
    token_url: &str,
    issued_at: DateTime<Utc>,
    lifetime_secs: u64,
) -> Result<SecretString, Error> {
    let lifetime = i64::try_from(lifetime_secs.clamp(1, MAX_ASSERTION_LIFETIME_SECS)).unwrap_or(60);
    let iat = issued_at.timestamp();
    let scopes: Vec<&str> = if credentials.scopes.is_empty() {
        vec![SCOPE_REST_WEBSERVICES]
    } else {
        credentials.scopes.iter().map(String::as_str).collect()
    };
    let header = json!({
        "typ": "JWT",
        "alg": signer.algorithm().as_str(),
        "kid": credentials.certificate_id,
    });
    let claims = json!({
        "iss": credentials.client_id,
        "scope": scopes,
        "aud": token_url,
        "iat": iat,
        "exp": iat + lifetime,
        "jti": random_alphanumeric(32),
    });
    let signing_input = format!(
        "{}.{}",
        BASE64URL.encode(header.to_string()),
        BASE64URL.encode(claims.to_string())
    );
    let signature = signer.sign(signing_input.as_bytes())?;
    Ok(SecretString::from(format!(
        "{signing_input}.{}",
        BASE64URL.encode(signature)
    )))
}

/// The form body of the token request.
pub fn token_request_body(assertion: &SecretString) -> SecretString {
    SecretString::from(format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={}",
        percent_encode(CLIENT_ASSERTION_TYPE),
        percent_encode(assertion.expose_secret())
    ))
}

/// An access token and when it stops being usable.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The bearer token.
    pub token: SecretString,
    /// When NetSuite stops accepting it.
    pub expires_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// NetSuite's documented access-token lifetime, used when the response omits `expires_in`.
const DEFAULT_TOKEN_LIFETIME_SECS: i64 = 3600;

/// Reads the token endpoint's success answer.
pub fn parse_token_response(body: &[u8], received_at: DateTime<Utc>) -> Result<AccessToken, Error> {
    let parsed: TokenResponse = serde_json::from_slice(body).map_err(|source| Error::Decode {
        context: "oauth 2.0 token response",
        source,
    })?;
    // Tolerate `"3600"` as well as `3600`: NetSuite stringifies numbers elsewhere.
    let lifetime = match parsed.expires_in {
        Some(serde_json::Value::Number(number)) => number.as_i64(),
        Some(serde_json::Value::String(text)) => text.trim().parse().ok(),
        _ => None,
    }
    .unwrap_or(DEFAULT_TOKEN_LIFETIME_SECS);
    Ok(AccessToken {
        token: SecretString::from(parsed.access_token),
        expires_at: received_at + TimeDelta::seconds(lifetime),
    })
}

fn decode_pem(pem: &str) -> Result<(String, Vec<u8>), Error> {
    let mut label = None;
    let mut body = String::new();
    for line in pem.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("-----BEGIN ") {
            label = Some(rest.trim_end_matches('-').to_owned());
        } else if line.starts_with("-----END ") {
            break;
        } else if label.is_some() && !line.contains(':') {
            body.push_str(line);
        }
    }
    let label = label.ok_or_else(|| Error::InvalidKey("no pem block found".to_owned()))?;
    if label.contains("ENCRYPTED") {
        return Err(Error::InvalidKey(
            "encrypted private keys are not supported; export it unencrypted".to_owned(),
        ));
    }
    let der = BASE64
        .decode(body)
        .map_err(|_| Error::InvalidKey("pem body is not base64".to_owned()))?;
    Ok((label, der))
}

#[cfg(test)]
pub(crate) mod tests {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{KeyPair, UnparsedPublicKey};
    use serde_json::Value;

    use super::*;

    pub(crate) fn pem(label: &str, der: &[u8]) -> String {
        let encoded = BASE64.encode(der);
        let mut out = format!("-----BEGIN {label}-----\n");
        for chunk in encoded.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap());
            out.push('\n');
        }
        out.push_str(&format!("-----END {label}-----\n"));
        out
    }

    /// An EC P-256 key pair: the PKCS#8 PEM and the uncompressed public point.
    pub(crate) fn ec_key() -> (SecretString, Vec<u8>) {
        let key_pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let pkcs8 = key_pair.to_pkcs8v1().unwrap();
        (
            SecretString::from(pem("PRIVATE KEY", pkcs8.as_ref())),
            key_pair.public_key().as_ref().to_vec(),
        )
    }

    pub(crate) fn credentials(algorithm: JwtAlgorithm, key: SecretString) -> M2mCredentials {
        M2mCredentials {
            client_id: "client-123".to_owned(),
            certificate_id: "cert-abc".to_owned(),
            private_key_pem: key,
            algorithm,
            scopes: Vec::new(),
        }
    }

    fn split(jwt: &str) -> (Value, Value, String, Vec<u8>) {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3, "{jwt}");
        let header = serde_json::from_slice(&BASE64URL.decode(parts[0]).unwrap()).unwrap();
        let claims = serde_json::from_slice(&BASE64URL.decode(parts[1]).unwrap()).unwrap();
        (
            header,
            claims,
            format!("{}.{}", parts[0], parts[1]),
            BASE64URL.decode(parts[2]).unwrap(),
        )
    }

    const TOKEN_URL: &str = "https://123456-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token";

    #[test]
    fn es256_assertion_verifies_with_the_public_key_and_carries_the_documented_claims() {
        let (private_pem, public_point) = ec_key();
        let credentials = credentials(JwtAlgorithm::ES256, private_pem);
        let signer = AssertionSigner::new(JwtAlgorithm::ES256, &credentials.private_key_pem).unwrap();
        let issued_at = DateTime::from_timestamp(1_760_000_000, 0).unwrap();
        let jwt = client_assertion(&credentials, &signer, TOKEN_URL, issued_at, 3600).unwrap();
        let (header, claims, signing_input, signature_bytes) = split(jwt.expose_secret());

        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "cert-abc");
        assert_eq!(claims["iss"], "client-123");
        assert_eq!(claims["aud"], TOKEN_URL);
        assert_eq!(claims["scope"], json!(["rest_webservices"]));
        assert_eq!(claims["iat"], 1_760_000_000);
        let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
        assert!((1..=3600).contains(&lifetime), "{lifetime}");
        assert!(claims["jti"].as_str().unwrap().len() >= 16);

        assert_eq!(signature_bytes.len(), 64, "es256 signatures are r || s");
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &public_point)
            .verify(signing_input.as_bytes(), &signature_bytes)
            .expect("the assertion verifies with the public key");
        let mut tampered = signing_input.into_bytes();
        tampered[0] ^= 1;
        assert!(
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &public_point)
                .verify(&tampered, &signature_bytes)
                .is_err()
        );
    }

    #[test]
    fn ps256_assertion_verifies_with_the_rsa_public_key() {
        let key_pair = RsaKeyPair::generate(KeySize::Rsa3072).unwrap();
        let pkcs8 = key_pair.as_der().unwrap();
        let private_pem = SecretString::from(pem("PRIVATE KEY", pkcs8.as_ref()));
        let credentials = M2mCredentials {
            scopes: vec!["restlets".to_owned(), "rest_webservices".to_owned()],
            ..credentials(JwtAlgorithm::PS256, private_pem)
        };
        let signer = AssertionSigner::new(JwtAlgorithm::PS256, &credentials.private_key_pem).unwrap();
        let issued_at = DateTime::from_timestamp(1_760_000_000, 0).unwrap();
        // A lifetime above NetSuite's maximum is clamped rather than rejected by NetSuite later.
        let jwt = client_assertion(&credentials, &signer, TOKEN_URL, issued_at, 7200).unwrap();
        let (header, claims, signing_input, signature_bytes) = split(jwt.expose_secret());
        assert_eq!(header["alg"], "PS256");
        assert_eq!(claims["scope"], json!(["restlets", "rest_webservices"]));
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
        UnparsedPublicKey::new(&signature::RSA_PSS_2048_8192_SHA256, key_pair.public_key().as_ref())
            .verify(signing_input.as_bytes(), &signature_bytes)
            .expect("the assertion verifies with the public key");
    }

    #[test]
    fn key_of_the_wrong_type_or_garbage_is_a_typed_error() {
        let (ec_pem, _) = ec_key();
        let error = AssertionSigner::new(JwtAlgorithm::PS256, &ec_pem).unwrap_err();
        assert!(matches!(error, Error::InvalidKey(_)), "{error}");
        let error = AssertionSigner::new(JwtAlgorithm::ES256, &SecretString::from("not a key")).unwrap_err();
        assert!(error.to_string().contains("no pem block"), "{error}");
        let encrypted = SecretString::from(pem("ENCRYPTED PRIVATE KEY", b"xx"));
        assert!(AssertionSigner::new(JwtAlgorithm::ES256, &encrypted).is_err());
    }

    #[test]
    fn token_body_is_form_encoded_with_the_jwt_bearer_assertion_type() {
        let body = token_request_body(&SecretString::from("a.b.c"));
        assert_eq!(
            body.expose_secret(),
            "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c"
        );
    }

    #[test]
    fn token_response_expiry_counts_from_receipt_and_tolerates_string_or_missing_lifetime() {
        let received = DateTime::from_timestamp(1_000, 0).unwrap();
        let token = parse_token_response(
            br#"{"access_token":"abc","expires_in":"1800","token_type":"Bearer"}"#,
            received,
        )
        .unwrap();
        assert_eq!(token.expires_at.timestamp(), 2_800);
        assert_eq!(token.token.expose_secret(), "abc");
        let token = parse_token_response(br#"{"access_token":"abc"}"#, received).unwrap();
        assert_eq!(token.expires_at.timestamp(), 4_600);
        assert!(parse_token_response(b"{}", received).is_err());
    }
}

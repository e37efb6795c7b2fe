//! The HTTP transport: JSON:API headers, authentication, rate limits, retries.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{self, HeaderValue};
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::time::Instant;
use tokio_retry::RetryIf;
use tracing::Instrument;

use crate::endpoint::Endpoint;
use crate::error::{ApiError, Error};
use crate::profiles::ProfileKey;
use crate::ratelimit::RateLimiter;
use crate::settings::{ClientSettings, DEFAULT_BASE_URL};
use crate::stats::{ClientStats, StatsCounters};
use crate::telemetry::{API, ApiInstruments, Tally, error_code};

/// The JSON:API media type Klaviyo speaks.
pub const JSON_API: &str = "application/vnd.api+json";

/// Builds a [`KlaviyoClient`].
#[derive(Debug)]
pub struct KlaviyoClientBuilder {
    api_key: SecretString,
    base_url: String,
    settings: ClientSettings,
    limiter: Option<Arc<RateLimiter>>,
}

impl KlaviyoClientBuilder {
    /// Overrides `https://a.klaviyo.com` (a simulator, or a proxy).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Replaces the default settings.
    pub fn settings(mut self, settings: ClientSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Overrides the `revision` header.
    pub fn revision(mut self, revision: impl Into<String>) -> Self {
        self.settings.revision = revision.into();
        self
    }

    /// Shares a rate limiter with other clients of the same Klaviyo account.
    pub fn rate_limiter(mut self, limiter: Arc<RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<KlaviyoClient, Error> {
        self.settings.validate()?;
        let invalid = |reason: &str| Error::InvalidBaseUrl {
            url: self.base_url.clone(),
            reason: reason.to_owned(),
        };
        let parsed = Url::parse(&self.base_url).map_err(|error| invalid(&error.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("scheme must be http or https"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid("must not have a query or fragment"));
        }
        let base_url = parsed.as_str().trim_end_matches('/').to_owned();
        if self.api_key.expose_secret().trim().is_empty() {
            return Err(Error::InvalidSettings {
                field: "api_key",
                reason: "is empty".to_owned(),
            });
        }
        let mut authorization = HeaderValue::from_str(&format!("Klaviyo-API-Key {}", self.api_key.expose_secret()))
            .map_err(|_| Error::InvalidSettings {
                field: "api_key",
                reason: "contains characters not allowed in a header".to_owned(),
            })?;
        authorization.set_sensitive(true);
        let revision = HeaderValue::from_str(&self.settings.revision).map_err(|_| Error::InvalidSettings {
            field: "revision",
            reason: "not a header value".to_owned(),
        })?;

        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(self.settings.connect_timeout_ms))
            .timeout(Duration::from_millis(self.settings.request_timeout_ms))
            .user_agent(self.settings.user_agent.clone())
            .build()
            .map_err(|error| Error::InvalidSettings {
                field: "http",
                reason: error.to_string(),
            })?;
        Ok(KlaviyoClient {
            inner: Arc::new(Inner {
                http,
                base_url,
                authorization,
                revision,
                limiter: self.limiter.unwrap_or_default(),
                stats: StatsCounters::default(),
                instruments: ApiInstruments::new(API),
                profile_ids: Mutex::new(HashMap::new()),
                settings: self.settings,
            }),
        })
    }
}

/// A Klaviyo API client. Cheap to clone: clones share the connection pool, the rate
/// limiter, the profile-id cache and the counters.
#[derive(Clone)]
pub struct KlaviyoClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    http: reqwest::Client,
    base_url: String,
    authorization: HeaderValue,
    revision: HeaderValue,
    limiter: Arc<RateLimiter>,
    stats: StatsCounters,
    instruments: ApiInstruments,
    /// Profile ids found by lookup or returned by upserts, keyed by identifier.
    pub(crate) profile_ids: Mutex<HashMap<ProfileKey, String>>,
    pub(crate) settings: ClientSettings,
}

impl fmt::Debug for KlaviyoClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KlaviyoClient")
            .field("base_url", &self.inner.base_url)
            .field("revision", &self.inner.settings.revision)
            .field("api_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`Null` when empty).
    pub(crate) fn json(&self, endpoint: Endpoint) -> Result<Value, Error> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|error| Error::Decode {
            endpoint,
            reason: error.to_string(),
        })
    }
}

/// How one attempt failed, which decides whether another is made.
#[derive(Debug)]
enum AttemptError {
    Transient(Error),
    Fatal(Error),
}

impl KlaviyoClient {
    /// Starts building a client that authenticates with the private `api_key`.
    pub fn builder(api_key: SecretString) -> KlaviyoClientBuilder {
        KlaviyoClientBuilder {
            api_key,
            base_url: DEFAULT_BASE_URL.to_owned(),
            settings: ClientSettings::default(),
            limiter: None,
        }
    }

    /// The base URL requests go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The settings the client was built with.
    pub fn settings(&self) -> &ClientSettings {
        &self.inner.settings
    }

    /// The rate limiter (to share it with another client).
    pub fn rate_limiter(&self) -> Arc<RateLimiter> {
        self.inner.limiter.clone()
    }

    /// The counters so far.
    pub fn stats(&self) -> ClientStats {
        self.inner.stats.snapshot()
    }

    /// Every `data` item of a cursor-paged collection (all pages, 100 a page).
    pub(crate) async fn all_pages(&self, endpoint: Endpoint, path: &str) -> Result<Vec<Value>, Error> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("page[size]", "100".to_owned())];
            if let Some(cursor) = &cursor {
                query.push(("page[cursor]", cursor.clone()));
            }
            let mut document = self.send(endpoint, path, &query, None).await?.json(endpoint)?;
            let next = next_cursor(&document);
            let Some(Value::Array(data)) = document.get_mut("data").map(Value::take) else {
                return Err(Error::Decode {
                    endpoint,
                    reason: "no data array".to_owned(),
                });
            };
            let empty = data.is_empty();
            items.extend(data);
            // An empty page or a cursor that does not move would loop forever.
            match next {
                Some(next) if !empty && cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => return Ok(items),
            }
        }
    }

    /// Sends one request with rate limiting and retries and returns the successful answer.
    pub(crate) async fn send(
        &self,
        endpoint: Endpoint,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, Error> {
        let method = Method::from_bytes(endpoint.method().as_bytes()).expect("table methods are valid");
        let mut url = Url::parse(&format!("{}{}", self.inner.base_url, path)).map_err(|error| Error::InvalidInput {
            what: "request path",
            reason: error.to_string(),
        })?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(name, value)| (*name, value.as_str())));
        }
        let body = body.map(|value| serde_json::to_vec(value).expect("a json value always serializes"));
        let attempts = AtomicU32::new(0);
        let tally = Tally::default();
        // One span per logical request, not per attempt: attempts and waits are its
        // fields. The path template, not the path: no ids, and never the query, whose
        // lookup filters hold email addresses.
        let span = tracing::info_span!(
            "klaviyo.request",
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            http.request.method = endpoint.method(),
            url.template = endpoint.path_template(),
            klaviyo.endpoint = endpoint.operation_id(),
            http.response.status_code = tracing::field::Empty,
            klaviyo.error_code = tracing::field::Empty,
            retries = tracing::field::Empty,
            wait_ms = tracing::field::Empty,
            backoff_ms = tracing::field::Empty,
        );
        // The strategy is asked for a delay only when a retry follows, so what it hands
        // out is exactly the time spent backing off.
        let backoff = self.inner.settings.backoff().inspect(|delay| tally.add_backoff(*delay));
        let outcome = RetryIf::start(
            backoff,
            || {
                let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                if attempt > 1 {
                    self.inner.stats.retry(endpoint);
                    self.inner.instruments.retry(endpoint.operation_id());
                }
                self.attempt(endpoint, &method, &url, body.as_deref(), attempt, &tally)
            },
            |error: &AttemptError| matches!(error, AttemptError::Transient(_)),
        )
        .instrument(span.clone())
        .await;
        let attempts = attempts.load(Ordering::SeqCst);
        let outcome = outcome.map_err(|error| match error {
            AttemptError::Fatal(error) => error,
            AttemptError::Transient(error) if attempts > 1 => Error::RetriesExhausted {
                attempts,
                last: Box::new(error),
            },
            AttemptError::Transient(error) => error,
        });
        span.record("retries", attempts.saturating_sub(1));
        span.record("wait_ms", tally.wait_ms());
        span.record("backoff_ms", tally.backoff_ms());
        if let Some(status) = tally.status() {
            span.record("http.response.status_code", status);
        }
        if let Err(error) = &outcome {
            span.record("otel.status_code", "ERROR");
            if let Some(code) = error_code(error) {
                span.record("klaviyo.error_code", code);
            }
        }
        outcome
    }

    async fn attempt(
        &self,
        endpoint: Endpoint,
        method: &Method,
        url: &Url,
        body: Option<&[u8]>,
        attempt: u32,
        tally: &Tally,
    ) -> Result<Answer, AttemptError> {
        tally.set_status(0);
        let waited = self
            .inner
            .limiter
            .acquire(endpoint)
            .await
            .map_err(AttemptError::Fatal)?;
        tally.add_wait(waited);
        self.inner.instruments.waited(endpoint.operation_id(), waited);
        self.inner.stats.request(endpoint, waited);
        let mut builder = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .header(header::AUTHORIZATION, self.inner.authorization.clone())
            .header("revision", self.inner.revision.clone())
            .header(header::ACCEPT, JSON_API);
        if let Some(body) = body {
            builder = builder.header(header::CONTENT_TYPE, JSON_API).body(body.to_vec());
        }
        let transport = |source: reqwest::Error| {
            // The URL can carry a lookup filter with an email address; errors get logged.
            let source = source.without_url();
            tracing::debug!(%endpoint, attempt, timeout = source.is_timeout(), "klaviyo transport error");
            if source.is_builder() {
                AttemptError::Fatal(Error::Transport { endpoint, source })
            } else {
                AttemptError::Transient(Error::Transport { endpoint, source })
            }
        };
        let sent = Instant::now();
        let exchange = async {
            let response = builder.send().await?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(parse_retry_after);
            let bytes = response.bytes().await?;
            Ok((status, retry_after, bytes))
        }
        .await;
        let status = exchange.as_ref().ok().map(|(status, _, _)| *status);
        self.inner
            .instruments
            .exchange(endpoint.operation_id(), status, sent.elapsed());
        let (status, retry_after, bytes) = exchange.map_err(transport)?;
        tally.set_status(status);
        tracing::debug!(%endpoint, attempt, status, "klaviyo answered");
        if (200..300).contains(&status) {
            return Ok(Answer {
                status,
                body: bytes.to_vec(),
            });
        }
        let error = ApiError::from_response(status, retry_after, &bytes);
        if status == 429 {
            self.inner.stats.throttled(endpoint);
            let wait = retry_after
                .or_else(|| error.detail_wait())
                .unwrap_or_default()
                .max(Duration::from_millis(self.inner.settings.min_throttle_wait_ms));
            tracing::info!(%endpoint, attempt, wait_ms = wait.as_millis() as u64, "klaviyo throttled the request");
            // Every task calling this endpoint waits, not only this one.
            self.inner.limiter.pause_until(endpoint, Instant::now() + wait);
        }
        let error = Error::Api { endpoint, error };
        if error.is_transient() {
            Err(AttemptError::Transient(error))
        } else {
            Err(AttemptError::Fatal(error))
        }
    }
}

/// `Retry-After` as Klaviyo sends it: seconds, possibly fractional.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
}

/// Quotes a value for a Klaviyo `filter` expression.
pub(crate) fn filter_string(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// The `page[cursor]` of a JSON:API `links.next`, if there is a next page.
pub(crate) fn next_cursor(document: &Value) -> Option<String> {
    let next = document.pointer("/links/next")?.as_str()?;
    let url = Url::parse(next).ok()?;
    url.query_pairs()
        .find(|(name, _)| name == "page[cursor]")
        .map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let client = KlaviyoClient::builder(SecretString::from("pk_live_secret_value"))
            .build()
            .expect("client");
        let debug = format!("{client:?}");
        assert!(!debug.contains("pk_live_secret_value"), "{debug}");
        assert!(debug.contains("a.klaviyo.com"));
    }

    #[test]
    fn rejects_unusable_base_urls_and_empty_keys() {
        for url in ["ftp://x", "not a url", "http://x/?a=1"] {
            let result = KlaviyoClient::builder(SecretString::from("pk")).base_url(url).build();
            assert!(matches!(result, Err(Error::InvalidBaseUrl { .. })), "{url}");
        }
        let result = KlaviyoClient::builder(SecretString::from(" ")).build();
        assert!(matches!(result, Err(Error::InvalidSettings { field: "api_key", .. })));
    }

    #[test]
    fn retry_after_is_read_as_seconds() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn filter_values_are_quoted_and_escaped() {
        assert_eq!(filter_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn next_cursor_comes_from_links_next() {
        let document = serde_json::json!({"links": {"next": "https://a.klaviyo.com/api/x?page%5Bcursor%5D=abc&page%5Bsize%5D=100"}});
        assert_eq!(next_cursor(&document).as_deref(), Some("abc"));
        assert_eq!(next_cursor(&serde_json::json!({"links": {"next": null}})), None);
    }
}

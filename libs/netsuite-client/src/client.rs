//! The HTTP client: authentication per attempt, bounded concurrency, retries.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use chrono::TimeDelta;
use reqwest::header::{self, HeaderValue};
use reqwest::{Method, Url};
use secrecy::ExposeSecret;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;
use tokio_retry::RetryIf;
use tracing::Instrument;

use crate::account::AccountId;
use crate::clock::{Clock, SystemClock};
use crate::encode::percent_encode;
use crate::error::{ApiError, Error};
use crate::oauth2::{
    AccessToken, AssertionSigner, M2mCredentials, TOKEN_PATH, client_assertion, parse_token_response,
    token_request_body,
};
use crate::settings::ClientSettings;
use crate::stats::{ClientStats, StatsCounters};
use crate::tba::{TbaCredentials, TbaSigner};
use crate::telemetry::{API, ApiInstruments, Tally, api_error, endpoint_of};

/// How the client authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Token-based authentication (OAuth 1.0a, HMAC-SHA256); legacy from 2027.1 on.
    Tba(TbaCredentials),
    /// OAuth 2.0 client credentials (machine to machine); Oracle's preferred method.
    OAuth2(M2mCredentials),
}

/// Builds a [`NetSuiteClient`].
#[derive(Debug)]
pub struct NetSuiteClientBuilder {
    account: AccountId,
    auth: Auth,
    settings: ClientSettings,
    base_url: Option<String>,
    clock: Arc<dyn Clock>,
}

impl NetSuiteClientBuilder {
    /// Replaces the default settings.
    pub fn settings(mut self, settings: ClientSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Overrides `https://<host>.suitetalk.api.netsuite.com` (a company-specific service
    /// URL, or a simulator). Signatures and the OAuth 2.0 `aud` follow the override.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// Replaces the system clock (for signing timestamps and token expiry).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<NetSuiteClient, Error> {
        self.settings.validate()?;
        let raw_base = self.base_url.unwrap_or_else(|| self.account.default_base_url());
        let invalid = |reason: &str| Error::InvalidBaseUrl {
            url: raw_base.clone(),
            reason: reason.to_owned(),
        };
        let parsed = Url::parse(&raw_base).map_err(|error| invalid(&error.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("scheme must be http or https"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid("must not have a query or fragment"));
        }
        let base_url = parsed.as_str().trim_end_matches('/').to_owned();

        let http = reqwest::Client::builder()
            .connect_timeout(self.settings.connect_timeout())
            .timeout(self.settings.request_timeout())
            .user_agent(self.settings.user_agent.clone())
            .build()
            .map_err(Error::Transport)?;

        let auth = match self.auth {
            Auth::Tba(credentials) => {
                AuthState::Tba(TbaSigner::new(self.account.as_str(), credentials, self.clock.clone()))
            }
            Auth::OAuth2(credentials) => {
                let signer = AssertionSigner::new(credentials.algorithm, &credentials.private_key_pem)?;
                AuthState::OAuth2(Box::new(OAuth2State {
                    token_url: format!("{base_url}{TOKEN_PATH}"),
                    credentials,
                    signer,
                    cache: Mutex::new(None),
                }))
            }
        };

        Ok(NetSuiteClient {
            inner: Arc::new(Inner {
                http,
                account: self.account,
                base_url,
                semaphore: Semaphore::new(self.settings.max_concurrency),
                settings: self.settings,
                auth,
                stats: StatsCounters::default(),
                instruments: ApiInstruments::new(API),
                clock: self.clock,
            }),
        })
    }
}

/// A NetSuite SuiteTalk REST client. Cheap to clone: clones share the connection pool,
/// the concurrency limit, the token cache and the counters.
#[derive(Clone)]
pub struct NetSuiteClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    account: AccountId,
    base_url: String,
    settings: ClientSettings,
    auth: AuthState,
    semaphore: Semaphore,
    stats: StatsCounters,
    instruments: ApiInstruments,
    clock: Arc<dyn Clock>,
}

enum AuthState {
    Tba(TbaSigner),
    OAuth2(Box<OAuth2State>),
}

struct OAuth2State {
    token_url: String,
    credentials: M2mCredentials,
    signer: AssertionSigner,
    // An async mutex held across the token request, so concurrent callers wait for one
    // token instead of each buying their own.
    cache: Mutex<Option<AccessToken>>,
}

impl fmt::Debug for NetSuiteClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.inner.auth {
            AuthState::Tba(_) => "tba",
            AuthState::OAuth2(_) => "oauth2",
        };
        f.debug_struct("NetSuiteClient")
            .field("account", &self.inner.account)
            .field("base_url", &self.inner.base_url)
            .field("auth", &auth)
            .finish_non_exhaustive()
    }
}

/// One HTTP request as the retry loop replays it.
#[derive(Debug)]
pub(crate) struct PreparedRequest {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) prefer_transient: bool,
}

/// How one attempt failed, which decides whether another is made.
#[derive(Debug)]
enum AttemptError {
    /// Worth retrying after a backoff; `throttled` when NetSuite said "too many".
    Transient { error: Error, throttled: bool },
    /// A 401: retried once with a fresh signature or token.
    Unauthorized(ApiError),
    /// Retrying cannot help.
    Fatal(Error),
}

impl NetSuiteClient {
    /// Starts building a client for `account`.
    pub fn builder(account: AccountId, auth: Auth) -> NetSuiteClientBuilder {
        NetSuiteClientBuilder {
            account,
            auth,
            settings: ClientSettings::default(),
            base_url: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The account this client talks to.
    pub fn account(&self) -> &AccountId {
        &self.inner.account
    }

    /// The base URL requests go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The settings the client was built with.
    pub fn settings(&self) -> &ClientSettings {
        &self.inner.settings
    }

    /// The counters so far.
    pub fn stats(&self) -> ClientStats {
        self.inner.stats.snapshot()
    }

    /// Sends a request to a REST path (`/services/rest/record/v1/customer/42`) with the
    /// given query parameters and optional JSON body, with authentication and retries, and
    /// returns the parsed JSON answer (`Null` for an empty body).
    pub async fn request_json(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, Error> {
        let request = PreparedRequest {
            method,
            url: self.url(path, query)?,
            body: body.map(|value| value.to_string().into_bytes()),
            prefer_transient: false,
        };
        let bytes = self.execute(&request).await?;
        if bytes.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|source| Error::Decode {
            context: "json response",
            source,
        })
    }

    /// Builds the URL of `path` with `query` encoded exactly as it will be signed.
    pub(crate) fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, Error> {
        let mut text = format!("{}{}", self.inner.base_url, path);
        for (index, (name, value)) in query.iter().enumerate() {
            text.push(if index == 0 { '?' } else { '&' });
            text.push_str(&percent_encode(name));
            text.push('=');
            text.push_str(&percent_encode(value));
        }
        Url::parse(&text).map_err(|error| Error::InvalidBaseUrl {
            url: text,
            reason: error.to_string(),
        })
    }

    /// Runs `request` until it succeeds, fails for good, or retries run out.
    pub(crate) async fn execute(&self, request: &PreparedRequest) -> Result<Vec<u8>, Error> {
        let attempts = AtomicU32::new(0);
        let unauthorized_seen = AtomicBool::new(false);
        let last_throttled = AtomicBool::new(false);
        let endpoint = endpoint_of(request.url.path());
        let tally = Tally::default();
        // One span per logical request, not per attempt: attempts and waits are its
        // fields. The path has no query string, so no SuiteQL paging state or secret.
        let span = tracing::info_span!(
            "netsuite.request",
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            http.request.method = %request.method,
            url.path = %request.url.path(),
            netsuite.endpoint = endpoint,
            http.response.status_code = tracing::field::Empty,
            netsuite.error_code = tracing::field::Empty,
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
                    self.inner.stats.retry(last_throttled.load(Ordering::SeqCst));
                    self.inner.instruments.retry(endpoint);
                }
                let renew_token = unauthorized_seen.load(Ordering::SeqCst);
                self.attempt(request, endpoint, attempt, renew_token, &tally)
            },
            |error: &AttemptError| {
                match error {
                    AttemptError::Transient { throttled, .. } => {
                        last_throttled.store(*throttled, Ordering::SeqCst);
                        true
                    }
                    // Exactly one retry: a 401 under load can be a nonce or timestamp
                    // collision; a second one means the credentials are wrong.
                    AttemptError::Unauthorized(_) => {
                        last_throttled.store(false, Ordering::SeqCst);
                        !unauthorized_seen.swap(true, Ordering::SeqCst)
                    }
                    AttemptError::Fatal(_) => false,
                }
            },
        )
        .instrument(span.clone())
        .await;

        let attempts = attempts.load(Ordering::SeqCst);
        let outcome = outcome.map_err(|error| match error {
            AttemptError::Unauthorized(api) => Error::BadCredentials(api),
            AttemptError::Fatal(error) => error,
            AttemptError::Transient { error, .. } if attempts > 1 => Error::RetriesExhausted {
                attempts,
                last: Box::new(error),
            },
            AttemptError::Transient { error, .. } => error,
        });
        span.record("retries", attempts.saturating_sub(1));
        span.record("wait_ms", tally.wait_ms());
        span.record("backoff_ms", tally.backoff_ms());
        if let Some(status) = tally.status() {
            span.record("http.response.status_code", status);
        }
        if let Err(error) = &outcome {
            span.record("otel.status_code", "ERROR");
            if let Some(code) = api_error(error).and_then(|api| api.error_code.as_deref()) {
                span.record("netsuite.error_code", code);
            }
        }
        outcome
    }

    async fn attempt(
        &self,
        request: &PreparedRequest,
        endpoint: &'static str,
        attempt: u32,
        renew_token: bool,
        tally: &Tally,
    ) -> Result<Vec<u8>, AttemptError> {
        tally.set_status(0);
        let authorization = match &self.inner.auth {
            AuthState::Tba(signer) => signer.sign(request.method.as_str(), &request.url).authorization,
            AuthState::OAuth2(state) => {
                let token = self.access_token(state, renew_token, tally).await?;
                format!("Bearer {}", token.token.expose_secret())
            }
        };
        let mut authorization = HeaderValue::from_str(&authorization).map_err(|_| {
            AttemptError::Fatal(Error::InvalidKey(
                "credentials contain characters not allowed in a header".to_owned(),
            ))
        })?;
        authorization.set_sensitive(true);

        let mut builder = self
            .inner
            .http
            .request(request.method.clone(), request.url.clone())
            .header(header::AUTHORIZATION, authorization)
            .header(header::ACCEPT, "application/json");
        if request.prefer_transient {
            builder = builder.header("Prefer", "transient");
        }
        if let Some(body) = &request.body {
            builder = builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }

        let (status, www_authenticate, body) = self.send(endpoint, builder, tally).await?;
        tally.set_status(status);
        tracing::debug!(attempt, status, "netsuite answered");
        classify(status, www_authenticate.as_deref(), body, attempt)
    }

    /// Sends under the concurrency limit and reads the whole body.
    async fn send(
        &self,
        endpoint: &'static str,
        builder: reqwest::RequestBuilder,
        tally: &Tally,
    ) -> Result<(u16, Option<String>, Vec<u8>), AttemptError> {
        let asked = Instant::now();
        // The semaphore is never closed, so acquiring only waits.
        let _permit = self
            .inner
            .semaphore
            .acquire()
            .await
            .expect("the concurrency semaphore is never closed");
        let waited = asked.elapsed();
        tally.add_wait(waited);
        self.inner.instruments.waited(endpoint, waited);
        self.inner.stats.request();
        let transport = |error: reqwest::Error| {
            tracing::debug!(timeout = error.is_timeout(), "netsuite transport error");
            if error.is_builder() {
                AttemptError::Fatal(Error::Transport(error))
            } else {
                AttemptError::Transient {
                    error: Error::Transport(error),
                    throttled: false,
                }
            }
        };
        let sent = Instant::now();
        let exchange = async {
            let response = builder.send().await?;
            let status = response.status().as_u16();
            let www_authenticate = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            let body = response.bytes().await?;
            Ok((status, www_authenticate, body.to_vec()))
        }
        .await;
        let status = exchange.as_ref().ok().map(|(status, _, _)| *status);
        self.inner.instruments.exchange(endpoint, status, sent.elapsed());
        exchange.map_err(transport)
    }

    /// The cached access token, or a new one when it is missing, near expiry, or was
    /// just refused.
    async fn access_token(&self, state: &OAuth2State, renew: bool, tally: &Tally) -> Result<AccessToken, AttemptError> {
        let mut cache = state.cache.lock().await;
        let renew_before = TimeDelta::seconds(i64::try_from(self.inner.settings.token_renew_before_secs).unwrap_or(0));
        if let Some(token) = cache.as_ref()
            && !renew
            && self.inner.clock.now() + renew_before < token.expires_at
        {
            return Ok(token.clone());
        }

        let assertion = client_assertion(
            &state.credentials,
            &state.signer,
            &state.token_url,
            self.inner.clock.now(),
            self.inner.settings.assertion_lifetime_secs,
        )
        .map_err(AttemptError::Fatal)?;
        let body = token_request_body(&assertion);
        let builder = self
            .inner
            .http
            .post(&state.token_url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(body.expose_secret().to_owned());
        self.inner.stats.token_request();
        let (status, www_authenticate, body) = self.send("token", builder, tally).await?;
        tracing::debug!(status, "netsuite token endpoint answered");
        if (200..300).contains(&status) {
            let token = parse_token_response(&body, self.inner.clock.now()).map_err(AttemptError::Fatal)?;
            *cache = Some(token.clone());
            return Ok(token);
        }
        let api = ApiError::from_response(status, www_authenticate.as_deref(), &body);
        if status == 429 || status >= 500 {
            return Err(AttemptError::Transient {
                throttled: status == 429,
                error: Error::Api(api),
            });
        }
        Err(AttemptError::Fatal(Error::TokenRejected(api)))
    }
}

fn classify(status: u16, www_authenticate: Option<&str>, body: Vec<u8>, attempt: u32) -> Result<Vec<u8>, AttemptError> {
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let api = ApiError::from_response(status, www_authenticate, &body);
    let code = api.error_code.as_deref().unwrap_or("");
    if status == 401 {
        tracing::warn!(attempt, status, code, "netsuite refused the credentials");
        return Err(AttemptError::Unauthorized(api));
    }
    if status == 429 || api.is_concurrency_limit() {
        tracing::warn!(attempt, status, code, "netsuite throttled the request");
        return Err(AttemptError::Transient {
            error: Error::Api(api),
            throttled: true,
        });
    }
    if status >= 500 {
        tracing::warn!(attempt, status, code, "netsuite server error");
        return Err(AttemptError::Transient {
            error: Error::Api(api),
            throttled: false,
        });
    }
    tracing::warn!(attempt, status, code, "netsuite rejected the request");
    Err(AttemptError::Fatal(Error::Api(api)))
}

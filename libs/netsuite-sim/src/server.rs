//! The HTTP side: connection handling (so a fault can drop a connection unanswered),
//! authentication, limits, faults and the SuiteQL endpoint.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use chrono::{DateTime, TimeDelta, Utc};
use hyper_util::rt::TokioIo;
use ledgerlink_synthdata::Generator;
use reqwest::Url;
use rusqlite::Connection;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::auth::{NonceStore, verify_assertion, verify_tba};
use crate::clock::ServerClock;
use crate::dates::DateFormat;
use crate::db::{self, Schema};
use crate::errors::{self, error_response};
use crate::faults::{FaultConfig, FaultKind, FaultState};
use crate::functions::{self, USER_ERROR_PREFIX};
use crate::results::ResultCache;
use crate::sql::{self, CompiledQuery};
use crate::{CapBehaviour, SimConfig, render};

const SUITEQL_PATH: &str = "/services/rest/query/v1/suiteql";
const TOKEN_PATH: &str = "/services/rest/auth/oauth2/v1/token";
const GOVERNANCE_PATH: &str = "/services/rest/system/v1/governanceLimits";
const MAX_BODY_BYTES: usize = 1 << 20;

/// The simulator could not start or a data operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The configuration is unusable.
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    /// SQLite failed.
    #[error("simulator database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// The listener failed.
    #[error("simulator listener error: {0}")]
    Io(#[from] std::io::Error),
}

/// One request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// Server-clock time of arrival.
    pub at: DateTime<Utc>,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string, if any.
    pub query: Option<String>,
    /// Status answered; 0 when the connection was dropped.
    pub status: u16,
    /// The injected fault, if any.
    pub fault: Option<String>,
}

/// A refused login with the reason NetSuite would write in its Login Audit Trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAudit {
    /// Server-clock time.
    pub at: DateTime<Utc>,
    /// `InvalidSignature`, `NonceUsed`, `InvalidTimestamp`, `invalid_token`, …
    pub reason: String,
}

/// Request counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Every request received.
    pub requests: u64,
    /// SuiteQL pages answered with 200.
    pub suiteql_pages: u64,
    /// Rows in those pages (`suiteql_rows / suiteql_pages` tells how full pages are).
    pub suiteql_rows: u64,
    /// Requests refused with 429 for the concurrency limit (injected 429s excluded).
    pub concurrency_rejections: u64,
    /// Requests refused with 401.
    pub auth_failures: u64,
    /// Faults injected.
    pub faults: u64,
    /// Most requests in flight at once.
    pub max_in_flight: u64,
}

struct Shared {
    config: SimConfig,
    user_format: DateFormat,
    host_label: String,
    clock: Arc<ServerClock>,
    db: Mutex<Connection>,
    schema: Schema,
    generator: Mutex<Option<Generator>>,
    nonces: Mutex<NonceStore>,
    tokens: Mutex<HashMap<String, DateTime<Utc>>>,
    in_flight: AtomicUsize,
    concurrency_limit: AtomicUsize,
    latency_ms: AtomicU64,
    faults: Mutex<FaultState>,
    log: Mutex<Vec<RequestRecord>>,
    audit: Mutex<Vec<LoginAudit>>,
    counters: Mutex<Counters>,
    results: Mutex<ResultCache>,
    shapes: Mutex<BTreeMap<String, (u64, u64)>>,
    hold: watch::Sender<bool>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts simulators.
#[derive(Debug)]
pub struct NetSuiteSim;

impl NetSuiteSim {
    /// Loads `data` (if any) and serves on `listener` until the handle shuts it down.
    pub async fn start(
        config: SimConfig,
        data: Option<Generator>,
        listener: TcpListener,
    ) -> Result<SimHandle, SimError> {
        let user_format = DateFormat::parse(&config.user_date_format)
            .map_err(|error| SimError::Config(format!("user_date_format: {error}")))?;
        if config.concurrency_limit == 0 {
            return Err(SimError::Config("concurrency_limit must be at least 1".to_owned()));
        }
        if config.row_cap == 0 {
            return Err(SimError::Config("row_cap must be at least 1".to_owned()));
        }
        let clock = Arc::new(ServerClock::default());
        let (connection, schema) = {
            let config = config.clone();
            let clock = clock.clone();
            let format = user_format.clone();
            let data = data.clone();
            tokio::task::spawn_blocking(move || open_database(&config, clock, format, data.as_ref()))
                .await
                .map_err(|error| SimError::Config(format!("loader failed: {error}")))??
        };
        let (hold, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            host_label: config.account_id.replace('_', "-").to_ascii_lowercase(),
            concurrency_limit: AtomicUsize::new(config.concurrency_limit),
            latency_ms: AtomicU64::new(config.page_latency.as_millis() as u64),
            faults: Mutex::new(FaultState::new(config.faults.clone())),
            config,
            user_format,
            clock,
            db: Mutex::new(connection),
            schema,
            generator: Mutex::new(data),
            nonces: Mutex::new(NonceStore::default()),
            tokens: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            audit: Mutex::new(Vec::new()),
            counters: Mutex::new(Counters::default()),
            results: Mutex::new(ResultCache::default()),
            shapes: Mutex::new(BTreeMap::new()),
            hold,
        });
        let address = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        tokio::spawn(accept_loop(listener, shared.clone(), shutdown.clone()));
        Ok(SimHandle {
            shared,
            address,
            shutdown,
        })
    }
}

fn open_database(
    config: &SimConfig,
    clock: Arc<ServerClock>,
    format: DateFormat,
    data: Option<&Generator>,
) -> Result<(Connection, Schema), SimError> {
    let mut connection = match &config.database_path {
        Some(path) => {
            if path.exists() {
                std::fs::remove_file(path)?;
            }
            Connection::open(path)?
        }
        None => Connection::open_in_memory()?,
    };
    db::create_schema(&connection)?;
    functions::register(&connection, clock, config.time_zone, format)?;
    if let Some(generator) = data {
        db::load(&mut connection, generator, config.time_zone)?;
    }
    db::create_indexes(&connection)?;
    let schema = Schema::read(&connection)?;
    Ok((connection, schema))
}

/// Controls a running simulator. Cloning shares the same simulator.
#[derive(Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
    address: SocketAddr,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl SimHandle {
    /// The address served.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://ADDRESS`, the base URL a client should use.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops accepting connections and closes open ones.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// The server clock (move it to test timestamp windows and watermarks).
    pub fn clock(&self) -> &ServerClock {
        &self.shared.clock
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).clone()
    }

    /// Refused logins with their reasons.
    pub fn login_audit(&self) -> Vec<LoginAudit> {
        lock(&self.shared.audit).clone()
    }

    /// The counters.
    pub fn counters(&self) -> Counters {
        lock(&self.shared.counters).clone()
    }

    /// SuiteQL pages and rows answered per query shape: the statement with its numbers
    /// and `IN` lists blanked (see [`query_shape`]), so every page of one kind of query
    /// adds up under one key. Tells which queries the pages went to.
    pub fn suiteql_by_shape(&self) -> BTreeMap<String, (u64, u64)> {
        lock(&self.shared.shapes).clone()
    }

    /// Requests being handled right now (those counted by the concurrency limit).
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// Replaces the random fault configuration.
    pub fn set_faults(&self, faults: FaultConfig) {
        lock(&self.shared.faults).configure(faults);
    }

    /// Makes the next `count` API requests fail with `kind`.
    pub fn inject(&self, kind: FaultKind, count: usize) {
        lock(&self.shared.faults).queue(kind, count);
    }

    /// Changes the concurrency limit.
    pub fn set_concurrency_limit(&self, limit: usize) {
        self.shared.concurrency_limit.store(limit.max(1), Ordering::SeqCst);
    }

    /// Changes the per-page latency.
    pub fn set_page_latency(&self, latency: Duration) {
        self.shared
            .latency_ms
            .store(latency.as_millis() as u64, Ordering::SeqCst);
    }

    /// Holds admitted API requests (they count against the limit) until [`release`].
    ///
    /// [`release`]: SimHandle::release
    pub fn hold(&self) {
        self.shared.hold.send_replace(true);
    }

    /// Lets held requests go on.
    pub fn release(&self) {
        self.shared.hold.send_replace(false);
    }

    /// Runs SQL statements directly on the simulated database (for tests that need a
    /// particular record); cached result counts are dropped.
    pub async fn execute_sql(&self, statements: &str) -> Result<(), SimError> {
        let shared = self.shared.clone();
        let statements = statements.to_owned();
        tokio::task::spawn_blocking(move || {
            lock(&shared.db).execute_batch(&statements)?;
            lock(&shared.results).clear();
            Ok(())
        })
        .await
        .map_err(|error| SimError::Config(format!("sql task failed: {error}")))?
    }

    /// Moves the data set and the data clock (SYSDATE, `Date` headers; not the clock
    /// signatures are checked against) `days` forward: every customer whose
    /// records changed is rewritten with its new `lastmodifieddate` values. Returns the
    /// ids of the changed customers.
    pub async fn advance_days(&self, days: u32) -> Result<Vec<i64>, SimError> {
        let shared = self.shared.clone();
        let changed = tokio::task::spawn_blocking(move || -> Result<Vec<i64>, SimError> {
            let mut generator_slot = lock(&shared.generator);
            let Some(current) = generator_slot.clone() else {
                return Err(SimError::Config("no synthetic data set is loaded".to_owned()));
            };
            let before = current.cutoff();
            let next = current.advanced(days);
            let mut changed = Vec::new();
            let mut connection = lock(&shared.db);
            for records in next.customers() {
                if records.changed_since(before) {
                    db::replace_customer(&mut connection, &records, shared.config.time_zone)?;
                    changed.push(records.customer.id);
                }
            }
            *generator_slot = Some(next);
            lock(&shared.results).clear();
            Ok(changed)
        })
        .await
        .map_err(|error| SimError::Config(format!("advance task failed: {error}")))??;
        self.shared.clock.advance_data(TimeDelta::days(i64::from(days)));
        Ok(changed)
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let drop_connection = CancellationToken::new();
            let service = {
                let drop_connection = drop_connection.clone();
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let shared = shared.clone();
                    let drop_connection = drop_connection.clone();
                    async move { Ok::<_, Infallible>(handle(shared, request.map(Body::new), drop_connection).await) }
                })
            };
            let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                // Dropping the connection future closes the socket without an answer.
                _ = drop_connection.cancelled() => {}
                _ = shutdown.cancelled() => {}
            }
        });
    }
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn http_date(instant: DateTime<Utc>) -> String {
    instant.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

async fn handle(shared: Arc<Shared>, request: Request<Body>, drop_connection: CancellationToken) -> Response {
    let now = shared.clock.now();
    let mut record = RequestRecord {
        at: now,
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        status: 0,
        fault: None,
    };
    lock(&shared.counters).requests += 1;
    let response = route(&shared, request, &mut record, &drop_connection).await;
    let mut response = match response {
        Some(response) => response,
        None => {
            // The connection is being dropped; this answer is never sent.
            lock(&shared.log).push(record);
            std::future::pending::<()>().await;
            unreachable!("a pending future never completes");
        }
    };
    if let Ok(value) = HeaderValue::from_str(&http_date(shared.clock.data_now())) {
        response.headers_mut().insert(header::DATE, value);
    }
    record.status = response.status().as_u16();
    if record.status == 401 {
        lock(&shared.counters).auth_failures += 1;
    }
    tracing::debug!(method = %record.method, path = %record.path, status = record.status, "netsuite sim request");
    lock(&shared.log).push(record);
    response
}

async fn route(
    shared: &Arc<Shared>,
    request: Request<Body>,
    record: &mut RequestRecord,
    drop_connection: &CancellationToken,
) -> Option<Response> {
    let path = request.uri().path().to_owned();
    if let Some(host) = request.headers().get(header::HOST).and_then(|h| h.to_str().ok())
        && let Some(label) = host
            .split(':')
            .next()
            .and_then(|h| h.strip_suffix(".suitetalk.api.netsuite.com"))
        && label != shared.host_label
    {
        return Some(error_response(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "The host does not belong to this account.",
            None,
        ));
    }
    if path == TOKEN_PATH {
        return Some(token_endpoint(shared, request).await);
    }
    if !path.starts_with("/services/rest/") {
        return Some(error_response(
            StatusCode::NOT_FOUND,
            "INVALID_REQUEST",
            "Unknown resource.",
            None,
        ));
    }

    let fault = lock(&shared.faults).next();
    if let Some(kind) = fault {
        record.fault = Some(format!("{kind:?}"));
        lock(&shared.counters).faults += 1;
        match kind {
            FaultKind::ServerError => {
                let id = BASE64URL.encode(shared.clock.now().timestamp_millis().to_be_bytes());
                return Some(errors::unexpected_error(&id));
            }
            FaultKind::UnavailableHtml => {
                let html = "<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1><p>The server is temporarily unable to service your request.</p></body></html>";
                let mut response = (StatusCode::SERVICE_UNAVAILABLE, html).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=UTF-8"),
                );
                return Some(response);
            }
            FaultKind::TooManyRequests => return Some(errors::concurrency_exceeded()),
            FaultKind::Latency(delay) => tokio::time::sleep(delay).await,
            FaultKind::DropConnection => {
                drop_connection.cancel();
                return None;
            }
        }
    }

    if let Err(response) = authenticate(shared, &request) {
        return Some(*response);
    }

    let limit = shared.concurrency_limit.load(Ordering::SeqCst);
    let running = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(&shared.in_flight);
    {
        let mut counters = lock(&shared.counters);
        counters.max_in_flight = counters.max_in_flight.max(running as u64);
        if running > limit {
            counters.concurrency_rejections += 1;
            return Some(errors::concurrency_exceeded());
        }
    }
    let mut held = shared.hold.subscribe();
    let _ = held.wait_for(|held| !*held).await;

    Some(match (request.method(), path.as_str()) {
        (&Method::POST, SUITEQL_PATH) => {
            // The latency is the whole time a page takes, as NetSuite's page times are
            // measured: the simulator's own query time is part of it, not added to it.
            let latency = Duration::from_millis(shared.latency_ms.load(Ordering::SeqCst));
            let started = tokio::time::Instant::now();
            let response = suiteql(shared, request).await;
            tokio::time::sleep_until(started + latency).await;
            response
        }
        (&Method::GET, GOVERNANCE_PATH) => axum::Json(json!({
            "accountConcurrencyLimit": limit,
            "accountUnallocatedConcurrencyLimit": limit,
            "integrationConcurrencyLimit": limit,
            "integrationLimitType": "accountLimit",
        }))
        .into_response(),
        (_, p) if p.starts_with("/services/rest/record/v1/") => {
            error_response(StatusCode::NOT_FOUND, "NONEXISTENT_ID", "Record does not exist.", None)
        }
        _ => error_response(StatusCode::NOT_FOUND, "INVALID_REQUEST", "Unknown resource.", None),
    })
}

fn received_url(request: &Request<Body>) -> Option<Url> {
    let host = request.headers().get(header::HOST)?.to_str().ok()?;
    let path_and_query = request.uri().path_and_query()?.as_str();
    Url::parse(&format!("http://{host}{path_and_query}")).ok()
}

fn refuse(shared: &Shared, reason: &str) -> Box<Response> {
    lock(&shared.audit).push(LoginAudit {
        at: shared.clock.now(),
        reason: reason.to_owned(),
    });
    Box::new(errors::invalid_login())
}

fn authenticate(shared: &Shared, request: &Request<Body>) -> Result<(), Box<Response>> {
    let Some(authorization) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
    else {
        return Err(refuse(shared, "MissingTokenPassportRequiredFields"));
    };
    let now = shared.clock.now();
    if let Some(token) = authorization.strip_prefix("Bearer ") {
        let valid = lock(&shared.tokens)
            .get(token.trim())
            .is_some_and(|expiry| *expiry > now);
        if valid {
            return Ok(());
        }
        lock(&shared.audit).push(LoginAudit {
            at: now,
            reason: "invalid_token".to_owned(),
        });
        let mut response = errors::invalid_login();
        let challenge = format!(
            "Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"Invalid login attempt.\"",
            shared.config.account_id
        );
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        return Err(Box::new(response));
    }
    let Some(url) = received_url(request) else {
        return Err(refuse(shared, "parameter_rejected"));
    };
    let tolerance = shared.config.timestamp_tolerance_secs;
    let accepted = verify_tba(
        authorization,
        request.method().as_str(),
        &url,
        &shared.config.account_id,
        &shared.config.tba,
        now,
        tolerance,
    )
    .map_err(|reason| refuse(shared, reason))?;
    if !lock(&shared.nonces).check_and_record(&accepted, now.timestamp(), tolerance) {
        return Err(refuse(shared, "NonceUsed"));
    }
    Ok(())
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "error": error }))).into_response()
}

async fn token_endpoint(shared: &Arc<Shared>, request: Request<Body>) -> Response {
    if request.method() != Method::POST {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Ok(body) = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let form: HashMap<String, String> = Url::parse(&format!("http://form/?{}", String::from_utf8_lossy(&body)))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let now = shared.clock.now();
    let reject = |reason: &str, error: &str| {
        lock(&shared.audit).push(LoginAudit {
            at: now,
            reason: reason.to_owned(),
        });
        oauth_error(StatusCode::BAD_REQUEST, error)
    };
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => return reject("unsupported grant_type", "unsupported_grant_type"),
        None => return reject("missing grant_type", "invalid_request"),
    }
    if form.get("client_assertion_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return reject("wrong client_assertion_type", "invalid_request");
    }
    let Some(assertion) = form.get("client_assertion") else {
        return reject("missing client_assertion", "invalid_request");
    };
    let audiences = [
        format!("http://{host}{TOKEN_PATH}"),
        format!("https://{host}{TOKEN_PATH}"),
        format!("https://{}.suitetalk.api.netsuite.com{TOKEN_PATH}", shared.host_label),
    ];
    let client_id = match verify_assertion(assertion, &shared.config.m2m_clients, &audiences, now) {
        Ok(client_id) => client_id,
        Err(reason) => return reject(reason, "invalid_grant"),
    };
    let lifetime = shared.config.token_lifetime_secs;
    let mut secret = [0u8; 32];
    if aws_lc_rs::rand::fill(&mut secret).is_err() {
        return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    }
    // Shaped like NetSuite's JWT access token; only the simulator reads it.
    let header = BASE64URL.encode(json!({"alg": "PS256", "typ": "JWT", "kid": "sim"}).to_string());
    let claims = BASE64URL.encode(
        json!({
            "sub": format!("{};3", client_id),
            "aud": [client_id],
            "scope": ["rest_webservices"],
            "iss": "https://system.netsuite.com",
            "iat": now.timestamp(),
            "exp": now.timestamp() + lifetime,
        })
        .to_string(),
    );
    let token = format!("{header}.{claims}.{}", BASE64URL.encode(secret));
    lock(&shared.tokens).insert(token.clone(), now + TimeDelta::seconds(lifetime));
    axum::Json(json!({"access_token": token, "expires_in": lifetime, "token_type": "bearer"})).into_response()
}

fn query_param(request: &Request<Body>, name: &str) -> Option<String> {
    let query = request.uri().query()?;
    Url::parse(&format!("http://q/?{query}"))
        .ok()?
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn bad_param(name: &str, detail: &str) -> Response {
    error_response(StatusCode::BAD_REQUEST, "INVALID_PARAMETER", detail, Some(name))
}

async fn suiteql(shared: &Arc<Shared>, request: Request<Body>) -> Response {
    let transient = request
        .headers()
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.to_ascii_lowercase().contains("transient"));
    if !transient {
        let mut response = error_response(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "The request is missing the required header Prefer: transient.",
            None,
        );
        response
            .headers_mut()
            .insert("x-sim-missing-header", HeaderValue::from_static("Prefer"));
        return response;
    }
    let limit = match query_param(&request, "limit") {
        None => 1000,
        Some(text) => match text.parse::<usize>() {
            Ok(value) if (1..=1000).contains(&value) => value,
            _ => {
                return bad_param(
                    "limit",
                    "Invalid value for query parameter 'limit'. The value must be between 1 and 1000.",
                );
            }
        },
    };
    let offset = match query_param(&request, "offset") {
        None => 0,
        Some(text) => match text.parse::<usize>() {
            Ok(value) => value,
            _ => {
                return bad_param(
                    "offset",
                    "Invalid value for query parameter 'offset'. The value must be a non-negative integer.",
                );
            }
        },
    };
    if offset % limit != 0 {
        return bad_param(
            "offset",
            "Invalid value for query parameter 'offset'. The offset must be a multiple of the limit.",
        );
    }
    let cap = shared.config.row_cap;
    if offset >= cap && shared.config.cap_behaviour == CapBehaviour::Error {
        return bad_param(
            "offset",
            &format!(
                "Invalid value for query parameter 'offset'. A query can return at most {cap} results; the offset must be less than {cap}."
            ),
        );
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let body: Bytes = match axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "INVALID_CONTENT",
                "The request body is too large.",
                None,
            );
        }
    };
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "INVALID_CONTENT",
                "Invalid content in the request body. The body must be a JSON object with the query in \"q\".",
                None,
            );
        }
    };
    let Some(q) = parsed.get("q").and_then(Value::as_str) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "INVALID_CONTENT",
            "Invalid content in the request body. The body must be a JSON object with the query in \"q\".",
            None,
        );
    };
    let params: Vec<Value> = match parsed.get("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "INVALID_CONTENT",
                "\"params\" must be an array.",
                None,
            );
        }
    };
    let compiled = match sql::compile(q, &shared.schema) {
        Ok(compiled) => compiled,
        Err(error) => return errors::invalid_query(&error.to_string()),
    };
    if compiled.placeholders != params.len() {
        return errors::invalid_query(&format!(
            "The query has {} parameter markers but {} parameters were given.",
            compiled.placeholders,
            params.len()
        ));
    }
    let task_shared = shared.clone();
    let page = tokio::task::spawn_blocking(move || run_page(&task_shared, &compiled, &params, limit, offset)).await;
    let (total, items) = match page {
        Ok(Ok(page)) => page,
        Ok(Err(error)) => {
            let message = error.to_string();
            return match message.find(USER_ERROR_PREFIX) {
                Some(start) => bad_param("q", &message[start + USER_ERROR_PREFIX.len()..]),
                None => errors::invalid_query("Invalid or unsupported search."),
            };
        }
        Err(_) => return errors::unexpected_error("sim-task"),
    };
    let reachable = total.min(cap);
    let count = items.len();
    let has_more = match shared.config.cap_behaviour {
        CapBehaviour::Truncate => offset + count < reachable,
        CapBehaviour::Error => offset + count < total,
    };
    let href = |page_offset: usize| format!("http://{host}{SUITEQL_PATH}?limit={limit}&offset={page_offset}");
    let mut links = Vec::new();
    if offset > 0 {
        links.push(json!({"rel": "previous", "href": href(offset.saturating_sub(limit))}));
        links.push(json!({"rel": "first", "href": href(0)}));
    }
    if has_more {
        links.push(json!({"rel": "next", "href": href(offset + limit)}));
        let last = reachable.saturating_sub(1) / limit * limit;
        links.push(json!({"rel": "last", "href": href(last)}));
    }
    links.push(json!({"rel": "self", "href": href(offset)}));
    {
        let mut counters = lock(&shared.counters);
        counters.suiteql_pages += 1;
        counters.suiteql_rows += count as u64;
    }
    {
        let mut shapes = lock(&shared.shapes);
        let entry = shapes.entry(query_shape(q)).or_default();
        entry.0 += 1;
        entry.1 += count as u64;
    }
    axum::Json(json!({
        "links": links,
        "count": count,
        "hasMore": has_more,
        "items": items,
        "offset": offset,
        "totalResults": total,
    }))
    .into_response()
}

/// A SuiteQL statement with every number written as `#` and lists of numbers (`IN`
/// lists, `BETWEEN` bounds' neighbours) collapsed to one `#`: the key under which
/// [`SimHandle::suiteql_by_shape`] counts pages.
pub fn query_shape(query: &str) -> String {
    let mut shape = String::with_capacity(query.len().min(512));
    let mut chars = query.chars().peekable();
    let mut in_number = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            if !in_number {
                shape.push('#');
            }
            in_number = true;
            continue;
        }
        let list_goes_on = c == ',' && chars.peek().is_some_and(|next| next.is_ascii_digit() || *next == ' ');
        if in_number && list_goes_on {
            // `1,2, 3` → `#`: skip the separator (and a space after it).
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            if chars.peek().is_some_and(char::is_ascii_digit) {
                continue;
            }
            shape.push(c);
            shape.push(' ');
            in_number = false;
            continue;
        }
        in_number = false;
        shape.push(c);
    }
    shape
}

fn bind_value(value: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as Sql;
    match value {
        Value::Null => Sql::Null,
        Value::Bool(flag) => Sql::Text(if *flag { "T" } else { "F" }.to_owned()),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => Sql::Integer(integer),
            None => Sql::Real(number.as_f64().unwrap_or_default()),
        },
        Value::String(text) => Sql::Text(text.clone()),
        other => Sql::Text(other.to_string()),
    }
}

fn run_page(
    shared: &Shared,
    compiled: &CompiledQuery,
    params: &[Value],
    limit: usize,
    offset: usize,
) -> rusqlite::Result<(usize, Vec<Value>)> {
    let cache_key = format!("{}\u{0}{}", compiled.sql, Value::Array(params.to_vec()));
    let kept_page = || {
        let mut results = lock(&shared.results);
        let total = results.total(&cache_key)?;
        Some((total, results.page(&cache_key, offset, limit)?))
    };
    // Pages of one result come at once: the first to get the database reads the rest
    // for all of them, and those waiting find it kept.
    if offset > 0
        && let Some(page) = kept_page()
    {
        return Ok(page);
    }
    let connection = lock(&shared.db);
    if offset > 0
        && let Some(page) = kept_page()
    {
        return Ok(page);
    }
    let bound: Vec<rusqlite::types::Value> = params.iter().map(bind_value).collect();
    let cached = lock(&shared.results).total(&cache_key);
    let total = match cached {
        Some(total) => total,
        None => {
            let mut statement = connection.prepare(&format!("SELECT COUNT(*) FROM ({})", compiled.sql))?;
            let total: i64 = statement.query_row(rusqlite::params_from_iter(bound.iter()), |row| row.get(0))?;
            let total = total as usize;
            lock(&shared.results).keep_total(cache_key.clone(), total);
            total
        }
    };
    let cap = shared.config.row_cap;
    if offset >= cap {
        return Ok((total, Vec::new()));
    }
    // A first page is often the only one (keyset paging); past it, the rest of the
    // result is read once and kept for the pages that follow.
    let read_limit = if offset == 0 { limit.min(cap) } else { cap - offset };
    let mut statement = connection.prepare(&format!("{} LIMIT {read_limit} OFFSET {offset}", compiled.sql))?;
    let names: Vec<String> = statement
        .column_names()
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    let mut rows = statement.query(rusqlite::params_from_iter(bound.iter()))?;
    let mut items = Vec::new();
    while let Some(row) = rows.next()? {
        let mut item = Map::new();
        item.insert("links".to_owned(), Value::Array(Vec::new()));
        for (index, name) in names.iter().enumerate() {
            if let Some(value) = render::value(row.get_ref(index)?, &shared.user_format) {
                item.insert(name.clone(), value);
            }
        }
        items.push(Value::Object(item));
    }
    if items.len() > limit {
        let mut results = lock(&shared.results);
        results.keep_rows(cache_key.clone(), offset, items);
        items = results.page(&cache_key, offset, limit).unwrap_or_default();
    }
    Ok((total, items))
}

#[cfg(test)]
mod shape_tests {
    use super::query_shape;

    #[test]
    fn shapes_blank_numbers_and_lists() {
        assert_eq!(
            query_shape("SELECT t.id FROM transaction t WHERE t.entity IN (12,13, 14) AND t.id > 120001 ORDER BY t.id"),
            "SELECT t.id FROM transaction t WHERE t.entity IN (#) AND t.id > # ORDER BY t.id"
        );
        assert_eq!(
            query_shape("SELECT a, b FROM x WHERE c BETWEEN 1 AND 200"),
            "SELECT a, b FROM x WHERE c BETWEEN # AND #"
        );
        assert_eq!(query_shape("SELECT 1, name FROM y"), "SELECT #, name FROM y");
    }
}

//! Transport: the accept loop (owned here so a fault can close a connection without an
//! answer), routing to operations, and the checks every request goes through in
//! Klaviyo's order: auth, scopes, rate limit, revision, media type, body schema.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use chrono::{DateTime, NaiveDate, Utc};
use hyper_util::rt::TokioIo;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::api::{self, Ctx, Reply};
use crate::clock::Clock;
use crate::config::{BulkValidation, SimConfig};
use crate::error::{ApiError, Source};
use crate::faults::{Fault, FaultPlan};
use crate::ids::Rng;
use crate::model::RequestRecord;
use crate::ratelimit::{self, Allowance, Limiter, RateLimitMode};
use crate::schema::Schemas;
use crate::store::Store;

pub(crate) const JSON_API: &str = "application/vnd.api+json";
/// Oldest GA revision of the current API.
const FIRST_REVISION: (i32, u32, u32) = (2022, 10, 17);

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) limiter: Limiter,
    pub(crate) faults: FaultPlan,
    pub(crate) fault_rng: Rng,
    pub(crate) rate_mode: RateLimitMode,
    pub(crate) latency: Duration,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) records: Vec<RequestRecord>,
    pub(crate) counts: BTreeMap<String, u64>,
}

pub(crate) struct Shared {
    pub(crate) inner: Mutex<Inner>,
    pub(crate) clock: Clock,
    api_key: SecretString,
    pub(crate) bulk_validation: BulkValidation,
    pub(crate) job_delay: Duration,
    pub(crate) jobs_done: watch::Sender<u64>,
}

impl Shared {
    pub(crate) fn new(config: SimConfig) -> Self {
        let mut faults = FaultPlan::default();
        faults.random = config.random_faults;
        Shared {
            inner: Mutex::new(Inner {
                store: Store::new(config.seed),
                limiter: Limiter::default(),
                faults,
                fault_rng: Rng::new(config.seed ^ 0xFA17),
                rate_mode: config.rate_limits,
                latency: config.latency,
                scopes: config.scopes,
                records: Vec::new(),
                counts: BTreeMap::new(),
            }),
            clock: config.clock,
            api_key: config.api_key,
            bulk_validation: config.bulk_validation,
            job_delay: config.job_delay,
            jobs_done: watch::channel(0).0,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent-enough state for a simulator.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Lets a handler close its own connection without answering.
#[derive(Clone)]
struct ConnKill(Arc<Notify>);

/// Accepts connections until `shutdown` is cancelled.
pub(crate) async fn serve(shared: Arc<Shared>, listener: TcpListener, shutdown: CancellationToken) {
    let router = Router::new().fallback(dispatch).with_state(shared);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "klaviyo simulator accept failed");
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let router = router.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let tag = ConnKill(kill.clone());
            let service = hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(tag.clone());
                router.clone().oneshot(request)
            });
            let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            // Dropping the connection future closes the socket mid-request.
            tokio::select! {
                _ = connection => {}
                () = kill.notified() => {}
                () = shutdown.cancelled() => {}
            }
        });
    }
}

struct Route {
    operation: &'static str,
    params: HashMap<String, String>,
}

fn route(method: &Method, path: &str) -> Option<Route> {
    let path = path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').collect();
    for (operation, spec) in &Schemas::embedded().operations {
        if spec.method != method.as_str() {
            continue;
        }
        let template: Vec<&str> = spec.path.split('/').collect();
        if template.len() != segments.len() {
            continue;
        }
        let mut params = HashMap::new();
        let matched = template.iter().zip(&segments).all(|(t, s)| {
            if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                params.insert(name.to_owned(), (*s).to_owned());
                !s.is_empty()
            } else {
                t == s
            }
        });
        if matched {
            return Some(Route {
                operation: operation.as_str(),
                params,
            });
        }
    }
    None
}

fn body_limit(operation: &str) -> usize {
    match operation {
        "create_or_update_profile" | "create_profile" | "update_profile" => 100 * 1024,
        "bulk_import_profiles" | "create_event" | "bulk_create_events" => 5 * 1024 * 1024,
        _ => 1024 * 1024,
    }
}

async fn dispatch(State(shared): State<Arc<Shared>>, request: Request<Body>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let kill = parts.extensions.get::<ConnKill>().cloned();
    let uri = parts.uri.to_string();
    let path = parts.uri.path().to_owned();
    let base = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("http://{h}"))
        .unwrap_or_default();

    if let Some(admin) = path.strip_prefix("/__sim/") {
        return admin_endpoint(&shared, &parts.headers, admin.trim_end_matches('/'));
    }

    let Some(route) = route(&parts.method, &path) else {
        let id = shared.lock().store.rng.uuid();
        record(&shared, "unknown", &parts.method, &uri, Some(404));
        return error_response(&ApiError::not_found(format!("The path {path} was not found.")), id);
    };
    let operation = route.operation;
    let (fault, latency) = {
        let mut inner = shared.lock();
        *inner.counts.entry(operation.to_owned()).or_default() += 1;
        let inner = &mut *inner;
        (inner.faults.pick(operation, &mut inner.fault_rng), inner.latency)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match &fault {
        Some(Fault::Latency(delay)) => tokio::time::sleep(*delay).await,
        Some(Fault::DropConnection) => {
            return close_without_answer(&shared, kill, operation, &parts.method, &uri).await;
        }
        Some(
            other @ (Fault::ServerError { .. }
            | Fault::HtmlServerError { .. }
            | Fault::CloudflareChallenge
            | Fault::Throttle { .. }),
        ) => {
            let response = fault_response(&shared, other);
            record(
                &shared,
                operation,
                &parts.method,
                &uri,
                Some(response.status().as_u16()),
            );
            return response;
        }
        _ => {}
    }

    let outcome = handle(
        &shared,
        operation,
        route.params,
        &parts.headers,
        parts.uri.query(),
        body,
        &base,
    )
    .await;
    if matches!(fault, Some(Fault::ResponseLost)) {
        return close_without_answer(&shared, kill, operation, &parts.method, &uri).await;
    }
    let response = match outcome {
        Ok((reply, allowance)) => success_response(reply, allowance),
        Err(Failure::Api(error)) => {
            let id = shared.lock().store.rng.uuid();
            error_response(&error, id)
        }
        Err(Failure::Throttled(throttled)) => {
            let id = shared.lock().store.rng.uuid();
            let mut response = error_response(&ApiError::throttled(throttled.detail_secs), id);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(throttled.retry_after_secs));
            response
        }
    };
    record(
        &shared,
        operation,
        &parts.method,
        &uri,
        Some(response.status().as_u16()),
    );
    response
}

enum Failure {
    Api(ApiError),
    Throttled(ratelimit::Throttled),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

async fn handle(
    shared: &Arc<Shared>,
    operation: &'static str,
    params: HashMap<String, String>,
    headers: &HeaderMap,
    query: Option<&str>,
    body: Body,
    base: &str,
) -> Result<(Reply, Option<Allowance>), Failure> {
    authenticate(headers, &shared.api_key)?;
    let now = shared.clock.now();
    let allowance = {
        let mut inner = shared.lock();
        authorize(inner.scopes.as_deref(), operation)?;
        let mode = inner.rate_mode;
        inner.limiter.check(operation, mode, now).map_err(Failure::Throttled)?
    };
    check_revision(headers, now)?;

    let spec = &Schemas::embedded().operations[operation];
    let limit = body_limit(operation);
    let bytes = axum::body::to_bytes(body, limit + 1)
        .await
        .map_err(|_| payload_too_large(limit))?;
    if bytes.len() > limit {
        return Err(payload_too_large(limit).into());
    }
    let body = if spec.request.is_some() {
        check_media_type(headers)?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError {
            status: 400,
            code: "parse_error",
            title: "Malformed request.",
            detail: format!("JSON parse error - {e}"),
            source: Some(Source::Pointer("/data/".into())),
            meta: Default::default(),
        })?;
        Schemas::embedded()
            .validate(operation, &value)
            .map_err(ApiError::from)?;
        value
    } else {
        Value::Null
    };

    let query_pairs: Vec<(String, String)> = query
        .map(|q| {
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&format!("/?{q}").parse().unwrap_or_default())
        })
        .transpose()
        .map_err(|_| ApiError::invalid_parameter("query", "Malformed query string."))?
        .map(|q| q.0)
        .unwrap_or_default();
    let mut ctx = Ctx {
        operation,
        params,
        query: query_pairs,
        raw_query: query.unwrap_or_default().to_owned(),
        body,
        base: base.to_owned(),
        now,
        bulk_validation: shared.bulk_validation,
    };
    let reply = {
        let mut inner = shared.lock();
        api::handle(&mut inner.store, &mut ctx)?
    };
    if let Some(job_id) = reply.spawn_job.clone() {
        spawn_job(shared.clone(), job_id);
    }
    Ok((reply, allowance))
}

fn spawn_job(shared: Arc<Shared>, job_id: String) {
    tokio::spawn(async move {
        // Yield even without a delay, so the 202 always reports `queued`.
        if shared.job_delay.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(shared.job_delay).await;
        }
        let now = shared.clock.now();
        shared.lock().store.process_job(&job_id, now);
        shared.jobs_done.send_modify(|n| *n += 1);
    });
}

fn authenticate(headers: &HeaderMap, key: &SecretString) -> Result<(), ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some((scheme, given)) = value.split_once(' ') else {
        return Err(not_authenticated());
    };
    if !scheme.eq_ignore_ascii_case("Klaviyo-API-Key") {
        return Err(not_authenticated());
    }
    if given.trim() != key.expose_secret() {
        return Err(ApiError {
            status: 401,
            code: "authentication_failed",
            title: "Incorrect authentication credentials.",
            detail: "Missing or invalid private key.".into(),
            source: Some(Source::Pointer("/data/".into())),
            meta: Default::default(),
        });
    }
    Ok(())
}

fn not_authenticated() -> ApiError {
    ApiError {
        status: 401,
        code: "not_authenticated",
        title: "Authentication credentials were not provided.",
        detail: "Missing or invalid authorization scheme. Please use Klaviyo-API-Key.".into(),
        source: Some(Source::Pointer("/data/".into())),
        meta: Default::default(),
    }
}

fn authorize(scopes: Option<&[String]>, operation: &str) -> Result<(), ApiError> {
    let (Some(granted), Some(limits)) = (scopes, ratelimit::table().get(operation)) else {
        return Ok(());
    };
    for needed in &limits.scopes {
        // Klaviyo's "full access" to a resource includes reading it.
        let write = needed.strip_suffix(":read").map(|r| format!("{r}:write"));
        let ok = granted.iter().any(|g| g == needed || Some(g) == write.as_ref());
        if !ok {
            return Err(ApiError {
                status: 403,
                code: "permission_denied",
                title: "You do not have permission to perform this action.",
                detail: format!("This API key is missing required scopes: {needed}."),
                source: Some(Source::Pointer("/data/".into())),
                meta: Default::default(),
            });
        }
    }
    Ok(())
}

fn check_revision(headers: &HeaderMap, now: DateTime<Utc>) -> Result<(), ApiError> {
    let Some(value) = headers.get("revision") else {
        return Err(ApiError::invalid_parameter(
            "revision",
            "The 'revision' header is required.",
        ));
    };
    let text = value.to_str().unwrap_or_default();
    let (date, suffix) = text.split_once('.').map_or((text, None), |(d, s)| (d, Some(s)));
    let parsed = NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .filter(|_| date.len() == 10);
    let suffix_ok = suffix.is_none_or(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    let (y, m, d) = FIRST_REVISION;
    let first = NaiveDate::from_ymd_opt(y, m, d).expect("valid date");
    // A revision dated after today cannot exist yet; the embedded one is always valid,
    // even when the machine's clock (or a test's manual clock) lags behind it.
    let embedded = NaiveDate::parse_from_str(&Schemas::embedded().revision, "%Y-%m-%d").unwrap_or(first);
    let latest = now.date_naive().max(embedded);
    match parsed {
        Some(day) if suffix_ok && day >= first && day <= latest => Ok(()),
        Some(_) if suffix_ok => Err(ApiError::invalid_parameter(
            "revision",
            format!("'{text}' is not a valid revision. Use a dated revision such as '2026-07-15'."),
        )),
        _ => Err(ApiError::invalid_parameter(
            "revision",
            format!(
                "Invalid revision format '{text}'. Expected YYYY-MM-DD, optionally followed by a suffix such as '.pre'."
            ),
        )),
    }
}

fn check_media_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence == JSON_API || essence == "application/json" {
        return Ok(());
    }
    Err(ApiError {
        status: 415,
        code: "unsupported_media_type",
        title: "Unsupported media type.",
        detail: format!("Unsupported media type \"{value}\" in request."),
        source: Some(Source::Pointer("/data/".into())),
        meta: Default::default(),
    })
}

fn payload_too_large(limit: usize) -> ApiError {
    ApiError {
        status: 413,
        code: "payload_too_large",
        title: "Payload too large.",
        detail: format!(
            "The request payload exceeds the limit of {} KB for this endpoint.",
            limit / 1024
        ),
        source: Some(Source::Pointer("/data/".into())),
        meta: Default::default(),
    }
}

fn record(shared: &Shared, operation: &str, method: &Method, uri: &str, status: Option<u16>) {
    shared.lock().records.push(RequestRecord {
        operation: operation.to_owned(),
        method: method.to_string(),
        uri: uri.to_owned(),
        status,
    });
}

async fn close_without_answer(
    shared: &Shared,
    kill: Option<ConnKill>,
    operation: &str,
    method: &Method,
    uri: &str,
) -> Response<Body> {
    record(shared, operation, method, uri, None);
    if let Some(ConnKill(kill)) = kill {
        kill.notify_one();
        // The connection task drops this future together with the socket.
        std::future::pending::<()>().await;
    }
    Response::builder()
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .body(Body::empty())
        .expect("valid response")
}

fn fault_response(shared: &Shared, fault: &Fault) -> Response<Body> {
    match fault {
        Fault::ServerError { status } => {
            let status = *status;
            let error = ApiError {
                status,
                code: "error",
                title: "A server error occurred.",
                detail: "A server error occurred.".into(),
                source: Some(Source::Pointer("/data/".into())),
                meta: Default::default(),
            };
            error_response(&error, shared.lock().fault_rng.uuid())
        }
        Fault::HtmlServerError { status } => {
            let code = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
            let reason = code.canonical_reason().unwrap_or("Error");
            let page = format!(
                "<html>\r\n<head><title>{} {reason}</title></head>\r\n<body>\r\n<center><h1>{} {reason}</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n",
                code.as_u16(),
                code.as_u16()
            );
            html(code, page)
        }
        Fault::CloudflareChallenge => {
            let mut response = html(
                StatusCode::FORBIDDEN,
                "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser.</body></html>".into(),
            );
            response
                .headers_mut()
                .insert("cf-mitigated", HeaderValue::from_static("challenge"));
            response
        }
        Fault::Throttle { retry_after_secs } => {
            let mut response = error_response(&ApiError::throttled(*retry_after_secs), shared.lock().fault_rng.uuid());
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            response
        }
        Fault::Latency(_) | Fault::DropConnection | Fault::ResponseLost => Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Body::empty())
            .expect("valid response"),
    }
}

fn html(status: StatusCode, page: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html")
        .body(Body::from(page))
        .expect("valid response")
}

pub(crate) fn error_response(error: &ApiError, id: String) -> Response<Body> {
    let body = serde_json::to_vec(&error.to_body(id)).expect("serializable");
    Response::builder()
        .status(StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST))
        .header(header::CONTENT_TYPE, JSON_API)
        .body(Body::from(body))
        .expect("valid response")
}

fn success_response(reply: Reply, allowance: Option<Allowance>) -> Response<Body> {
    let mut builder = Response::builder().status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK));
    if let Some(a) = allowance {
        builder = builder
            .header("RateLimit-Limit", a.limit)
            .header("RateLimit-Remaining", a.remaining)
            .header("RateLimit-Reset", a.reset_secs);
    }
    match reply.body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, JSON_API)
            .body(Body::from(serde_json::to_vec(&body).expect("serializable")))
            .expect("valid response"),
        None => builder.body(Body::empty()).expect("valid response"),
    }
}

fn admin_endpoint(shared: &Shared, headers: &HeaderMap, what: &str) -> Response<Body> {
    if let Err(error) = authenticate(headers, &shared.api_key) {
        return error_response(&error, shared.lock().fault_rng.uuid());
    }
    let body = match what {
        "state" => crate::handle::dump(&shared.lock()),
        "requests" => {
            let inner = shared.lock();
            serde_json::json!({ "counts": inner.counts, "requests": inner.records })
        }
        _ => {
            return error_response(
                &ApiError::not_found(format!("no simulator endpoint {what}")),
                shared.lock().store.rng.uuid(),
            );
        }
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec_pretty(&body).expect("serializable")))
        .expect("valid response")
}

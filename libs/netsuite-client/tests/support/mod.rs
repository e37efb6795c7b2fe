//! A tiny programmable HTTP server on 127.0.0.1:0 that records every request.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;

/// What the server saw.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub prefer: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

/// How the server answers one request.
pub enum Reply {
    Json(u16, String),
    /// Never answers; the client's timeout must fire.
    Hang,
}

type Responder = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

struct Shared {
    responder: Box<Responder>,
    requests: Mutex<Vec<Recorded>>,
}

pub struct TestServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    _shutdown: oneshot::Sender<()>,
}

impl TestServer {
    /// Starts a server answering with `responder(request, index_of_request)`.
    pub async fn start(responder: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_async(responder, |_| async {}).await
    }

    /// Like [`TestServer::start`], awaiting `before_reply(index)` before answering.
    pub async fn start_async<F, Fut>(
        responder: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
        before_reply: F,
    ) -> Self
    where
        F: Fn(usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let shared = Arc::new(Shared {
            responder: Box::new(responder),
            requests: Mutex::new(Vec::new()),
        });
        let before_reply = Arc::new(before_reply);
        let app = Router::new()
            .fallback(
                move |State(shared): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                    let before_reply = before_reply.clone();
                    async move {
                        let header = |name: &str| {
                            headers
                                .get(name)
                                .and_then(|value| value.to_str().ok())
                                .map(str::to_owned)
                        };
                        let recorded = Recorded {
                            method: method.to_string(),
                            path: uri.path().to_owned(),
                            query: uri.query().unwrap_or_default().to_owned(),
                            authorization: header("authorization"),
                            prefer: header("prefer"),
                            content_type: header("content-type"),
                            body: String::from_utf8_lossy(&body).into_owned(),
                        };
                        let index = {
                            let mut requests = shared.requests.lock().unwrap();
                            requests.push(recorded.clone());
                            requests.len() - 1
                        };
                        before_reply(index).await;
                        match (shared.responder)(&recorded, index) {
                            Reply::Json(status, body) => (
                                StatusCode::from_u16(status).unwrap(),
                                [("content-type", "application/json")],
                                body,
                            )
                                .into_response(),
                            Reply::Hang => {
                                std::future::pending::<()>().await;
                                Response::new(axum::body::Body::empty())
                            }
                        }
                    }
                },
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, shutdown_signal) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = shutdown_signal.await;
                })
                .await
                .unwrap();
        });
        TestServer {
            addr,
            shared,
            _shutdown: shutdown,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }
}

/// A SuiteQL page body.
pub fn page_json(ids: &[i64], has_more: bool, offset: u64, total: u64) -> String {
    let items: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| serde_json::json!({"links": [], "id": id.to_string(), "entityid": format!("C{id}")}))
        .collect();
    serde_json::json!({
        "links": [{"rel": "self", "href": "http://x"}],
        "count": ids.len(),
        "hasMore": has_more,
        "offset": offset,
        "totalResults": total,
        "items": items,
    })
    .to_string()
}

/// Reads `name=value` from a query string.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}

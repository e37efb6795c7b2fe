//! A simulator on an ephemeral port and a hand-built HTTP client that speaks Klaviyo's
//! wire format the way the reference describes it.

#![allow(dead_code)]

use chrono::{TimeZone, Utc};
use ledgerlink_klaviyo_sim::{Clock, SimConfig, SimHandle, start};
use reqwest::{Method, Response};
use serde_json::Value;

pub const KEY: &str = "pk_test_0123456789abcdef";
pub const REVISION: &str = "2026-07-15";

pub struct Sim {
    pub handle: SimHandle,
    pub http: reqwest::Client,
}

/// A realistic configuration on a manual clock at 2026-11-23T10:00:00.250Z.
pub fn config() -> SimConfig {
    let mut config = SimConfig::new(KEY);
    config.clock =
        Clock::manual(Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap() + chrono::Duration::milliseconds(250));
    config
}

pub async fn spawn(config: SimConfig) -> Sim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let handle = start(config, listener).expect("start");
    Sim {
        handle,
        http: reqwest::Client::new(),
    }
}

impl Sim {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.handle.base_url())
        }
    }

    /// A request with the key, the revision and JSON:API media types.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("Authorization", format!("Klaviyo-API-Key {KEY}"))
            .header("revision", REVISION)
            .header("accept", "application/vnd.api+json")
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/vnd.api+json")
                .body(body.to_string());
        }
        request.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        read(self.send(Method::GET, path, None).await).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        read(self.send(Method::POST, path, Some(body)).await).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> (u16, Value) {
        read(self.send(Method::PATCH, path, Some(body)).await).await
    }

    pub async fn delete(&self, path: &str, body: &Value) -> (u16, Value) {
        read(self.send(Method::DELETE, path, Some(body)).await).await
    }
}

/// Status and JSON body (`Null` when the body is empty).
pub async fn read(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

pub fn profile(attributes: Value) -> Value {
    serde_json::json!({ "data": { "type": "profile", "attributes": attributes } })
}

pub fn event(email: &str, metric: &str, unique_id: Option<&str>, time: &str) -> Value {
    let mut attributes = serde_json::json!({
        "properties": { "invoice_id": "INV-1" },
        "time": time,
        "value": 120.5,
        "value_currency": "USD",
        "metric": { "data": { "type": "metric", "attributes": { "name": metric } } },
        "profile": { "data": { "type": "profile", "attributes": { "email": email } } },
    });
    if let Some(unique_id) = unique_id {
        attributes["unique_id"] = Value::String(unique_id.to_owned());
    }
    serde_json::json!({ "data": { "type": "event", "attributes": attributes } })
}

pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["code"].as_str().unwrap_or_default()
}

pub fn error_pointer(body: &Value) -> &str {
    body["errors"][0]["source"]["pointer"].as_str().unwrap_or_default()
}

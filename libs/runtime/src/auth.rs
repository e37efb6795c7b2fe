//! The bearer token every ledgerlink RPC carries, except health checks.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Checks `authorization: Bearer <token>` on every request it sees.
///
/// It is applied to each service except `grpc.health.v1`, so Kubernetes probes need
/// no secret while everything else, reflection included, does.
#[derive(Clone)]
pub struct AuthInterceptor {
    token: Arc<SecretString>,
}

impl std::fmt::Debug for AuthInterceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthInterceptor").finish_non_exhaustive()
    }
}

impl AuthInterceptor {
    /// Builds an interceptor that accepts only `token`.
    pub fn new(token: SecretString) -> Self {
        AuthInterceptor { token: Arc::new(token) }
    }

    fn accepts(&self, header: &str) -> bool {
        let Some(presented) = header.strip_prefix("Bearer ") else {
            return false;
        };
        constant_time_eq(presented.as_bytes(), self.token.expose_secret().as_bytes())
    }
}

impl Interceptor for AuthInterceptor {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok());
        match header {
            Some(header) if self.accepts(header) => Ok(request),
            Some(_) => Err(Status::unauthenticated("invalid bearer token")),
            None => Err(Status::unauthenticated("missing bearer token")),
        }
    }
}

/// Adds the bearer token to outgoing requests: the client side of [`AuthInterceptor`].
///
/// Every internal client goes through it, so it also carries the caller's trace context
/// (`traceparent`, `tracestate`), which makes a run one trace across the services.
#[derive(Clone)]
pub struct BearerToken {
    header: MetadataValue<tonic::metadata::Ascii>,
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerToken").finish_non_exhaustive()
    }
}

impl BearerToken {
    /// Builds the header value; fails when the token is not valid header text.
    pub fn new(token: &SecretString) -> Result<Self, Status> {
        let mut header: MetadataValue<_> = format!("Bearer {}", token.expose_secret())
            .parse()
            .map_err(|_| Status::invalid_argument("auth token is not valid header text"))?;
        header.set_sensitive(true);
        Ok(BearerToken { header })
    }
}

impl Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request.metadata_mut().insert("authorization", self.header.clone());
        crate::telemetry::inject_current_context(request.metadata_mut());
        Ok(request)
    }
}

/// Compares without an early exit, so response time does not leak how much of a
/// guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with(header: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(header) = header {
            request.metadata_mut().insert("authorization", header.parse().unwrap());
        }
        request
    }

    #[test]
    fn accepts_only_the_exact_bearer_token() {
        let mut auth = AuthInterceptor::new(SecretString::from("tok-123"));
        assert!(auth.call(request_with(Some("Bearer tok-123"))).is_ok());
        for bad in [
            None,
            Some("Bearer tok-12"),
            Some("Bearer tok-1234"),
            Some("tok-123"),
            Some("Basic tok-123"),
        ] {
            let status = auth.call(request_with(bad)).unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{bad:?}");
        }
    }

    #[test]
    fn client_side_sets_what_server_side_accepts() {
        let token = SecretString::from("tok-abc");
        let mut client = BearerToken::new(&token).unwrap();
        let request = client.call(Request::new(())).unwrap();
        assert!(AuthInterceptor::new(token).call(request).is_ok());
        assert!(!format!("{client:?}").contains("tok-abc"));
    }
}

//! gRPC clients of the four services a run goes through.

use ledgerlink_proto::extractor::v1::extractor_service_client::ExtractorServiceClient;
use ledgerlink_proto::klaviyo::v1::klaviyo_gateway_service_client::KlaviyoGatewayServiceClient;
use ledgerlink_proto::reminder::v1::reminder_service_client::ReminderServiceClient;
use ledgerlink_proto::scoring::v1::scoring_service_client::ScoringServiceClient;
use ledgerlink_runtime::{BearerToken, TlsSettings};
use secrecy::SecretString;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// A channel that carries the inter-service bearer token.
pub type AuthChannel = InterceptedService<Channel, BearerToken>;

/// Where the other services listen.
#[derive(Debug, Clone)]
pub struct ServiceUrls {
    /// The extractor.
    pub extractor_url: String,
    /// The scoring service.
    pub scoring_url: String,
    /// The reminder service.
    pub reminder_url: String,
    /// The Klaviyo gateway.
    pub klaviyo_gateway_url: String,
}

impl Default for ServiceUrls {
    fn default() -> Self {
        ServiceUrls {
            extractor_url: "http://127.0.0.1:50051".to_owned(),
            scoring_url: "http://127.0.0.1:50052".to_owned(),
            reminder_url: "http://127.0.0.1:50053".to_owned(),
            klaviyo_gateway_url: "http://127.0.0.1:50054".to_owned(),
        }
    }
}

/// A URL that is not a usable endpoint.
#[derive(Debug, thiserror::Error)]
#[error("invalid service url {url:?}: {reason}")]
pub struct UrlError {
    /// The URL.
    pub url: String,
    /// Why.
    pub reason: String,
}

/// The four clients, cheap to clone (they share HTTP/2 connections).
#[derive(Debug, Clone)]
pub struct Clients {
    /// The extractor.
    pub extractor: ExtractorServiceClient<AuthChannel>,
    /// The scoring service.
    pub scoring: ScoringServiceClient<AuthChannel>,
    /// The reminder service.
    pub reminder: ReminderServiceClient<AuthChannel>,
    /// The Klaviyo gateway.
    pub gateway: KlaviyoGatewayServiceClient<AuthChannel>,
}

/// Messages of a batch can be large (a thousand customers' histories).
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

impl Clients {
    /// Builds clients that connect on first use, so the coordinator starts even while
    /// the others are still starting.
    /// `https://` URLs use `tls` (required for them).
    pub fn connect_lazy(
        urls: &ServiceUrls,
        token: &SecretString,
        tls: Option<&TlsSettings>,
    ) -> Result<Clients, UrlError> {
        let bearer = BearerToken::new(token).map_err(|status| UrlError {
            url: String::new(),
            reason: status.message().to_owned(),
        })?;
        let channel = |url: &str| -> Result<AuthChannel, UrlError> {
            let endpoint = ledgerlink_runtime::tls::endpoint(url, tls).map_err(|e| UrlError {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
            Ok(InterceptedService::new(endpoint.connect_lazy(), bearer.clone()))
        };
        Ok(Clients {
            extractor: ExtractorServiceClient::new(channel(&urls.extractor_url)?)
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            scoring: ScoringServiceClient::new(channel(&urls.scoring_url)?)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            reminder: ReminderServiceClient::new(channel(&urls.reminder_url)?)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            gateway: KlaviyoGatewayServiceClient::new(channel(&urls.klaviyo_gateway_url)?)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        })
    }
}

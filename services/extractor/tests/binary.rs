//! The extractor binary as a gRPC client and Kubernetes see it.

use ledgerlink_proto::extractor::v1::extractor_service_client::ExtractorServiceClient;
use ledgerlink_proto::extractor::v1::{ExtractRequest, FullScope, extract_request};
use ledgerlink_test_support::{assert_service_conformance, with_token};

#[tokio::test]
async fn serves_health_reflection_auth_and_stops_on_sigterm() -> anyhow::Result<()> {
    assert_service_conformance(
        env!("CARGO_BIN_EXE_ledgerlink-extractor").as_ref(),
        ledgerlink_proto::service_names::EXTRACTOR,
        |channel, token| async move {
            let request = ExtractRequest {
                scope: Some(extract_request::Scope::Full(FullScope::default())),
                ..Default::default()
            };
            let request = match token {
                Some(token) => with_token(request, token),
                None => tonic::Request::new(request),
            };
            ExtractorServiceClient::new(channel).extract(request).await.map(drop)
        },
    )
    .await
}

//! Mutual TLS between services: a service with a certificate and a client CA serves
//! only TLS clients presenting a certificate of that CA, and the client side the
//! coordinator uses (`ledgerlink_runtime::tls::endpoint`) passes.

use std::path::Path;
use std::time::Duration;

use ledgerlink_proto::scoring::v1::GetRulesRequest;
use ledgerlink_proto::scoring::v1::scoring_service_client::ScoringServiceClient;
use ledgerlink_runtime::tls::{ENV_TLS_CA_FILE, ENV_TLS_CERT_FILE, ENV_TLS_CLIENT_CA_FILE, ENV_TLS_KEY_FILE};
use ledgerlink_runtime::{MapEnv, TlsSettings};
use ledgerlink_test_support::{TEST_TOKEN, health_status, in_process_config_with_env, with_token};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// A CA, a server certificate for `localhost`, a client certificate of the same CA,
    /// and a client certificate of a CA nobody trusts.
    fn new() -> anyhow::Result<Pki> {
        let dir = tempfile::tempdir()?;
        let ca = authority("ledgerlink test CA")?;
        let rogue = authority("someone else's CA")?;
        write_leaf(dir.path(), "server", &["localhost"], &ca)?;
        write_leaf(dir.path(), "client", &["coordinator"], &ca)?;
        write_leaf(dir.path(), "rogue", &["coordinator"], &rogue)?;
        std::fs::write(dir.path().join("ca.pem"), ca.pem())?;
        Ok(Pki { dir })
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

fn authority(name: &str) -> anyhow::Result<CertifiedIssuer<'static, KeyPair>> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name.to_owned());
    Ok(CertifiedIssuer::self_signed(params, KeyPair::generate()?)?)
}

fn write_leaf(dir: &Path, name: &str, names: &[&str], ca: &CertifiedIssuer<'_, KeyPair>) -> anyhow::Result<()> {
    let key = KeyPair::generate()?;
    let params = CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())?;
    let cert = params.signed_by(&key, ca)?;
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem())?;
    std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem())?;
    Ok(())
}

async fn get_rules(channel: Channel) -> Result<(), tonic::Status> {
    ScoringServiceClient::new(channel)
        .get_rules(with_token(GetRulesRequest {}, TEST_TOKEN))
        .await
        .map(drop)
}

/// A TLS channel that checks the server against the test CA and presents `identity`.
async fn tls_channel(pki: &Pki, port: u16, identity: Option<&str>) -> Result<Channel, tonic::transport::Error> {
    let ca = Certificate::from_pem(std::fs::read(pki.path("ca.pem")).expect("ca"));
    let mut tls = ClientTlsConfig::new().ca_certificate(ca).domain_name("localhost");
    if let Some(name) = identity {
        let cert = std::fs::read(pki.path(&format!("{name}.pem"))).expect("cert");
        let key = std::fs::read(pki.path(&format!("{name}-key.pem"))).expect("key");
        tls = tls.identity(tonic::transport::Identity::from_pem(cert, key));
    }
    Endpoint::from_shared(format!("https://localhost:{port}"))?
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
}

/// Whether an RPC over `channel` fails (a refused handshake may surface at connect or at
/// the first call, depending on when the server checks the client certificate).
async fn refused(channel: Result<Channel, tonic::transport::Error>) -> bool {
    match channel {
        Err(_) => true,
        Ok(channel) => health_status(channel, "").await.is_err(),
    }
}

#[tokio::test]
async fn mutual_tls_admits_only_clients_with_a_certificate_of_the_configured_ca() -> anyhow::Result<()> {
    let pki = Pki::new()?;
    let data_dir = tempfile::tempdir()?;
    let (cert, key, ca) = (pki.path("server.pem"), pki.path("server-key.pem"), pki.path("ca.pem"));
    let config = in_process_config_with_env(
        "scoring",
        data_dir.path(),
        "",
        &[
            (ENV_TLS_CERT_FILE, &cert),
            (ENV_TLS_KEY_FILE, &key),
            (ENV_TLS_CLIENT_CA_FILE, &ca),
        ],
    )?;
    assert!(
        config
            .tls
            .as_ref()
            .is_some_and(TlsSettings::requires_client_certificates)
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(ledgerlink_scoring::run(config, listener, shutdown.clone()));

    // The way the coordinator connects: TLS settings from the environment, an https URL.
    let client_env = MapEnv::from_pairs([
        (ENV_TLS_CERT_FILE, pki.path("client.pem").as_str()),
        (ENV_TLS_KEY_FILE, pki.path("client-key.pem").as_str()),
        (ENV_TLS_CA_FILE, ca.as_str()),
    ]);
    let client_tls = TlsSettings::from_env(&client_env)?.expect("tls configured");
    let endpoint = ledgerlink_runtime::tls::endpoint(&format!("https://localhost:{port}"), Some(&client_tls))?;
    let channel = endpoint.connect().await?;
    get_rules(channel.clone()).await?;
    assert_eq!(
        health_status(channel, "").await?,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    assert!(
        refused(tls_channel(&pki, port, None).await).await,
        "a client without a certificate got in"
    );
    assert!(
        refused(tls_channel(&pki, port, Some("rogue")).await).await,
        "a certificate of an untrusted CA got in"
    );
    let plain = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await;
    assert!(refused(plain).await, "a plain-text client got in");

    shutdown.cancel();
    server.await??;
    Ok(())
}

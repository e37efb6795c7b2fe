//! Optional mutual TLS between services, configured by PEM files.
//!
//! A service with a certificate and key serves TLS; with a client CA as well it also
//! demands a client certificate signed by that CA (mutual TLS). The same certificate
//! is the service's identity when it calls other services over `https://` URLs, whose
//! certificates it checks against the CA file. Files are read once at start, so a
//! wrong path stops the service with a clear message rather than failing the first
//! call.

use std::path::Path;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

use crate::config::{ConfigError, EnvSource};

/// Environment variable: PEM certificate (chain) of this service.
pub const ENV_TLS_CERT_FILE: &str = "LEDGERLINK_TLS_CERT_FILE";
/// Environment variable: PEM private key of that certificate.
pub const ENV_TLS_KEY_FILE: &str = "LEDGERLINK_TLS_KEY_FILE";
/// Environment variable: PEM CA whose signature a client certificate must carry; set
/// it to require mutual TLS.
pub const ENV_TLS_CLIENT_CA_FILE: &str = "LEDGERLINK_TLS_CLIENT_CA_FILE";
/// Environment variable: PEM CA that signs the certificates of the services this one
/// calls over `https://`.
pub const ENV_TLS_CA_FILE: &str = "LEDGERLINK_TLS_CA_FILE";

/// Makes aws-lc-rs the process's TLS provider. The dependency tree also carries ring
/// (through other crates' rustls features), and rustls then refuses to pick one by
/// itself; the NetSuite and Klaviyo clients already use aws-lc-rs.
fn install_crypto_provider() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // An error means another part of the process installed one first; keep it.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// TLS material of one process, read from the files the environment names.
#[derive(Clone)]
pub struct TlsSettings {
    identity: Option<Identity>,
    client_ca: Option<Certificate>,
    server_ca: Option<Certificate>,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret; say only what is configured.
        f.debug_struct("TlsSettings")
            .field("identity", &self.identity.is_some())
            .field("client_ca", &self.client_ca.is_some())
            .field("server_ca", &self.server_ca.is_some())
            .finish()
    }
}

/// A gRPC endpoint that could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The URL is not a valid endpoint URL.
    #[error("invalid service url {url:?}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// An `https://` URL without a CA to check the server against.
    #[error("service url {0:?} is https but no CA is configured: set {ENV_TLS_CA_FILE}")]
    NoCa(String),
    /// The TLS configuration was refused.
    #[error("tls for {url:?}: {reason}")]
    Tls {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

fn read_pem(env: &dyn EnvSource, name: &str) -> Result<Option<Vec<u8>>, ConfigError> {
    let Some(path) = env.get(name).filter(|p| !p.trim().is_empty()) else {
        return Ok(None);
    };
    let bytes = std::fs::read(Path::new(&path)).map_err(|source| ConfigError::ReadSecret {
        name: name.to_owned(),
        path: path.clone().into(),
        source,
    })?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN ") {
        return Err(ConfigError::InvalidValue {
            name: name.to_owned(),
            reason: format!("{path} is not a PEM file"),
        });
    }
    Ok(Some(bytes))
}

impl TlsSettings {
    /// Reads the files the `LEDGERLINK_TLS_*` variables name; `None` when none is set.
    pub fn from_env(env: &dyn EnvSource) -> Result<Option<TlsSettings>, ConfigError> {
        let cert = read_pem(env, ENV_TLS_CERT_FILE)?;
        let key = read_pem(env, ENV_TLS_KEY_FILE)?;
        let client_ca = read_pem(env, ENV_TLS_CLIENT_CA_FILE)?;
        let server_ca = read_pem(env, ENV_TLS_CA_FILE)?;
        let identity = match (cert, key) {
            (Some(cert), Some(key)) => Some(Identity::from_pem(cert, key)),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError::InvalidValue {
                    name: format!("{ENV_TLS_CERT_FILE}/{ENV_TLS_KEY_FILE}"),
                    reason: "a certificate needs its key and a key its certificate: set both".to_owned(),
                });
            }
        };
        if identity.is_none() && client_ca.is_some() {
            return Err(ConfigError::InvalidValue {
                name: ENV_TLS_CLIENT_CA_FILE.to_owned(),
                reason: format!(
                    "requiring client certificates needs TLS: set {ENV_TLS_CERT_FILE} and {ENV_TLS_KEY_FILE}"
                ),
            });
        }
        if identity.is_none() && client_ca.is_none() && server_ca.is_none() {
            return Ok(None);
        }
        install_crypto_provider();
        Ok(Some(TlsSettings {
            identity,
            client_ca: client_ca.map(Certificate::from_pem),
            server_ca: server_ca.map(Certificate::from_pem),
        }))
    }

    /// The server side: `None` when this process has no certificate of its own.
    pub fn server_config(&self) -> Option<ServerTlsConfig> {
        let identity = self.identity.clone()?;
        let config = ServerTlsConfig::new().identity(identity);
        Some(match &self.client_ca {
            Some(ca) => config.client_ca_root(ca.clone()),
            None => config,
        })
    }

    /// True when the server demands client certificates.
    pub fn requires_client_certificates(&self) -> bool {
        self.identity.is_some() && self.client_ca.is_some()
    }

    fn client_config(&self, url: &str) -> Result<ClientTlsConfig, EndpointError> {
        let ca = self
            .server_ca
            .clone()
            .ok_or_else(|| EndpointError::NoCa(url.to_owned()))?;
        let config = ClientTlsConfig::new().ca_certificate(ca);
        Ok(match &self.identity {
            Some(identity) => config.identity(identity.clone()),
            None => config,
        })
    }
}

/// The endpoint of a service URL: `http://` is plain text, `https://` is TLS checked
/// against the configured CA and presenting this process's certificate, if it has one.
pub fn endpoint(url: &str, tls: Option<&TlsSettings>) -> Result<Endpoint, EndpointError> {
    let endpoint = Endpoint::from_shared(url.to_owned()).map_err(|e| EndpointError::Url {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    if !url.starts_with("https://") {
        return Ok(endpoint);
    }
    let config = tls
        .ok_or_else(|| EndpointError::NoCa(url.to_owned()))?
        .client_config(url)?;
    endpoint.tls_config(config).map_err(|e| EndpointError::Tls {
        url: url.to_owned(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MapEnv;

    #[test]
    fn nothing_set_means_no_tls() {
        assert!(TlsSettings::from_env(&MapEnv::default()).unwrap().is_none());
    }

    #[test]
    fn a_certificate_without_its_key_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n").unwrap();
        let env = MapEnv::from_pairs([(ENV_TLS_CERT_FILE, cert.to_str().unwrap())]);
        let error = TlsSettings::from_env(&env).unwrap_err().to_string();
        assert!(error.contains(ENV_TLS_KEY_FILE), "{error}");
    }

    #[test]
    fn a_missing_or_non_pem_file_names_the_variable() {
        let env = MapEnv::from_pairs([(ENV_TLS_CA_FILE, "/nonexistent/ca.pem")]);
        let error = TlsSettings::from_env(&env).unwrap_err().to_string();
        assert!(error.contains(ENV_TLS_CA_FILE), "{error}");

        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("ca.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let env = MapEnv::from_pairs([(ENV_TLS_CA_FILE, junk.to_str().unwrap())]);
        let error = TlsSettings::from_env(&env).unwrap_err().to_string();
        assert!(error.contains("not a PEM file"), "{error}");
    }

    #[test]
    fn https_urls_need_a_ca_and_http_urls_stay_plain() {
        assert!(endpoint("http://127.0.0.1:50052", None).is_ok());
        let error = endpoint("https://scoring:50052", None).unwrap_err();
        assert!(matches!(error, EndpointError::NoCa(_)), "{error}");
        assert!(matches!(endpoint("not a url", None), Err(EndpointError::Url { .. })));
    }
}

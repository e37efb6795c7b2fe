//! NetSuite connection and extraction settings, from an [`EnvSource`] (never the
//! process environment directly) and the service's `[extractor]` table.

use std::time::Duration;

use chrono_tz::Tz;
use ledgerlink_netsuite_client::{
    AccountId, Auth, ClientSettings, JwtAlgorithm, M2mCredentials, NetSuiteClient, TbaCredentials,
};
use ledgerlink_runtime::config::{ConfigError, EnvSource, secret};
use serde::Deserialize;

/// `NETSUITE_ACCOUNT_ID`: the realm (`1234567` or `1234567_SB1`).
pub const ENV_ACCOUNT_ID: &str = "NETSUITE_ACCOUNT_ID";
/// `NETSUITE_BASE_URL`: optional override of the SuiteTalk host.
pub const ENV_BASE_URL: &str = "NETSUITE_BASE_URL";
/// TBA consumer key.
pub const ENV_CONSUMER_KEY: &str = "NETSUITE_CONSUMER_KEY";
/// TBA consumer secret.
pub const ENV_CONSUMER_SECRET: &str = "NETSUITE_CONSUMER_SECRET";
/// TBA token id.
pub const ENV_TOKEN_ID: &str = "NETSUITE_TOKEN_ID";
/// TBA token secret.
pub const ENV_TOKEN_SECRET: &str = "NETSUITE_TOKEN_SECRET";
/// OAuth 2.0 client id; when set, OAuth 2.0 is used instead of TBA.
pub const ENV_CLIENT_ID: &str = "NETSUITE_CLIENT_ID";
/// OAuth 2.0 certificate id.
pub const ENV_CERTIFICATE_ID: &str = "NETSUITE_CERTIFICATE_ID";
/// OAuth 2.0 private key (PEM); usually given as `NETSUITE_PRIVATE_KEY_FILE`.
pub const ENV_PRIVATE_KEY: &str = "NETSUITE_PRIVATE_KEY";
/// OAuth 2.0 assertion algorithm (`PS256` by default, or `PS384`, `PS512`, `ES256`, `ES384`).
pub const ENV_JWT_ALGORITHM: &str = "NETSUITE_JWT_ALGORITHM";
/// The account's IANA time zone, in which SuiteQL prints and compares datetimes.
pub const ENV_TIME_ZONE: &str = "NETSUITE_TIME_ZONE";

/// How to reach NetSuite.
#[derive(Debug, Clone)]
pub struct NetSuiteConfig {
    /// The account.
    pub account: AccountId,
    /// Override of `https://<host>.suitetalk.api.netsuite.com`.
    pub base_url: Option<String>,
    /// Credentials.
    pub auth: Auth,
}

/// Why NetSuite cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NetSuiteConfigError {
    /// Variables are missing.
    #[error("netsuite is not configured: {0}")]
    Missing(String),
    /// A value is present but unusable.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

impl NetSuiteConfig {
    /// Reads `NETSUITE_*` (secrets also as `*_FILE`). OAuth 2.0 is used when
    /// `NETSUITE_CLIENT_ID` is set, TBA otherwise; the error names every missing variable.
    pub fn from_env(env: &dyn EnvSource) -> Result<NetSuiteConfig, NetSuiteConfigError> {
        let present = |name: &str| env.get(name).is_some_and(|v| !v.is_empty());
        let account_text = env.get(ENV_ACCOUNT_ID).filter(|v| !v.is_empty());
        let mut missing = Vec::new();
        if account_text.is_none() {
            missing.push(ENV_ACCOUNT_ID.to_owned());
        }
        let auth = if present(ENV_CLIENT_ID) {
            let certificate_id = env.get(ENV_CERTIFICATE_ID).filter(|v| !v.is_empty());
            let private_key = secret(env, ENV_PRIVATE_KEY)?;
            if certificate_id.is_none() {
                missing.push(ENV_CERTIFICATE_ID.to_owned());
            }
            if private_key.is_none() {
                missing.push(format!("{ENV_PRIVATE_KEY}_FILE"));
            }
            let algorithm = match env.get(ENV_JWT_ALGORITHM).as_deref() {
                None | Some("") | Some("PS256") => JwtAlgorithm::PS256,
                Some("PS384") => JwtAlgorithm::PS384,
                Some("PS512") => JwtAlgorithm::PS512,
                Some("ES256") => JwtAlgorithm::ES256,
                Some("ES384") => JwtAlgorithm::ES384,
                Some(other) => {
                    return Err(ConfigError::InvalidValue {
                        name: ENV_JWT_ALGORITHM.to_owned(),
                        reason: format!("{other:?} is not one of PS256, PS384, PS512, ES256, ES384"),
                    }
                    .into());
                }
            };
            match (certificate_id, private_key) {
                (Some(certificate_id), Some(private_key_pem)) => Some(Auth::OAuth2(M2mCredentials {
                    client_id: env.get(ENV_CLIENT_ID).unwrap_or_default(),
                    certificate_id,
                    private_key_pem,
                    algorithm,
                    scopes: Vec::new(),
                })),
                _ => None,
            }
        } else {
            let mut read = |name: &str| -> Result<_, ConfigError> {
                let value = secret(env, name)?;
                if value.is_none() {
                    missing.push(name.to_owned());
                }
                Ok(value)
            };
            let consumer_key = read(ENV_CONSUMER_KEY)?;
            let consumer_secret = read(ENV_CONSUMER_SECRET)?;
            let token_id = read(ENV_TOKEN_ID)?;
            let token_secret = read(ENV_TOKEN_SECRET)?;
            match (consumer_key, consumer_secret, token_id, token_secret) {
                (Some(consumer_key), Some(consumer_secret), Some(token_id), Some(token_secret)) => {
                    Some(Auth::Tba(TbaCredentials {
                        consumer_key,
                        consumer_secret,
                        token_id,
                        token_secret,
                    }))
                }
                _ => None,
            }
        };
        if !missing.is_empty() {
            let hint = if present(ENV_CLIENT_ID) {
                ""
            } else {
                " (or NETSUITE_CLIENT_ID, NETSUITE_CERTIFICATE_ID and NETSUITE_PRIVATE_KEY_FILE for oauth 2.0)"
            };
            return Err(NetSuiteConfigError::Missing(format!(
                "set {}{hint}",
                missing.join(", ")
            )));
        }
        let account_text = account_text.unwrap_or_default();
        let account = AccountId::parse(&account_text).map_err(|error| ConfigError::InvalidValue {
            name: ENV_ACCOUNT_ID.to_owned(),
            reason: error.to_string(),
        })?;
        Ok(NetSuiteConfig {
            account,
            base_url: env.get(ENV_BASE_URL).filter(|v| !v.is_empty()),
            auth: auth.ok_or_else(|| NetSuiteConfigError::Missing("credentials".to_owned()))?,
        })
    }

    /// Builds the client.
    pub fn client(&self, settings: ClientSettings) -> Result<NetSuiteClient, ledgerlink_netsuite_client::Error> {
        let mut builder = NetSuiteClient::builder(self.account.clone(), self.auth.clone()).settings(settings);
        if let Some(base_url) = &self.base_url {
            builder = builder.base_url(base_url.clone());
        }
        builder.build()
    }
}

/// Tunables of an extraction (the `[extractor]` table of the configuration file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExtractSettings {
    /// Customers read and assembled together (1..=1000); memory is bounded by one chunk.
    pub customers_per_chunk: u32,
    /// Snapshots per emitted batch, unless the request says otherwise.
    pub batch_size: u32,
    /// How far before `since` an incremental extract re-reads, minutes; covers clock skew
    /// and transactions committed late with an earlier `lastmodifieddate`.
    pub overlap_minutes: u32,
    /// The account's IANA time zone (`NETSUITE_TIME_ZONE` overrides it).
    pub time_zone: String,
    /// Batches buffered ahead of the consumer.
    pub buffered_batches: usize,
    /// Chunks read at once beside the read of the next chunk's customers (1..=16).
    /// A chunk waits for its first pages before asking for the rest, so more than one
    /// keeps the client's `max_concurrency` in use across that wait.
    pub chunks_in_flight: usize,
    /// Names of the payment terms that mark a sales order as paid before it ships
    /// (compared without regard to case). An order on one of them, or with a customer
    /// deposit linked, carries `balance_due` while it waits for fulfilment.
    pub prepayment_terms: Vec<String>,
    /// The NetSuite client's own settings.
    pub client: ClientSettings,
}

/// Term names NetSuite accounts commonly give prepayment terms.
pub const DEFAULT_PREPAYMENT_TERMS: [&str; 5] = [
    "Cash in Advance",
    "Payment in Advance",
    "Prepayment",
    "Prepaid",
    "Cash before Delivery",
];

impl Default for ExtractSettings {
    fn default() -> Self {
        ExtractSettings {
            customers_per_chunk: 1000,
            batch_size: 100,
            overlap_minutes: 10,
            time_zone: "UTC".to_owned(),
            buffered_batches: 2,
            chunks_in_flight: 3,
            prepayment_terms: DEFAULT_PREPAYMENT_TERMS.map(str::to_owned).to_vec(),
            client: ClientSettings::default(),
        }
    }
}

impl ExtractSettings {
    /// Applies `NETSUITE_TIME_ZONE` and checks the values.
    pub fn with_env(mut self, env: &dyn EnvSource) -> Result<ExtractSettings, ConfigError> {
        if let Some(zone) = env.get(ENV_TIME_ZONE).filter(|v| !v.is_empty()) {
            self.time_zone = zone;
        }
        self.validate()?;
        Ok(self)
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |name: &str, reason: String| {
            Err(ConfigError::InvalidValue {
                name: name.to_owned(),
                reason,
            })
        };
        if !(1..=1000).contains(&self.customers_per_chunk) {
            return invalid("extractor.customers_per_chunk", "must be between 1 and 1000".to_owned());
        }
        if self.overlap_minutes == 0 {
            // The watermark is read beside the change queries, and transactions commit
            // late with an earlier lastmodifieddate: both need a margin.
            return invalid("extractor.overlap_minutes", "must be at least 1".to_owned());
        }
        if self.batch_size == 0 {
            return invalid("extractor.batch_size", "must be at least 1".to_owned());
        }
        if self.buffered_batches == 0 {
            return invalid("extractor.buffered_batches", "must be at least 1".to_owned());
        }
        if !(1..=16).contains(&self.chunks_in_flight) {
            return invalid("extractor.chunks_in_flight", "must be between 1 and 16".to_owned());
        }
        self.zone()?;
        self.client.validate().map_err(|error| ConfigError::InvalidValue {
            name: format!("extractor.client.{}", error.field),
            reason: error.reason.to_owned(),
        })
    }

    /// The account time zone.
    pub fn zone(&self) -> Result<Tz, ConfigError> {
        self.time_zone.parse().map_err(|_| ConfigError::InvalidValue {
            name: ENV_TIME_ZONE.to_owned(),
            reason: format!("{:?} is not an IANA time zone such as America/New_York", self.time_zone),
        })
    }

    /// The overlap window.
    pub fn overlap(&self) -> Duration {
        Duration::from_secs(u64::from(self.overlap_minutes) * 60)
    }
}

#[cfg(test)]
mod tests {
    use ledgerlink_runtime::MapEnv;

    use super::*;

    #[test]
    fn nothing_set_names_every_missing_variable() {
        let error = NetSuiteConfig::from_env(&MapEnv::default()).unwrap_err().to_string();
        for name in [
            ENV_ACCOUNT_ID,
            ENV_CONSUMER_KEY,
            ENV_CONSUMER_SECRET,
            ENV_TOKEN_ID,
            ENV_TOKEN_SECRET,
            ENV_CLIENT_ID,
        ] {
            assert!(error.contains(name), "{name} in {error}");
        }
    }

    #[test]
    fn tba_variables_make_a_tba_config_and_oauth2_wins_when_client_id_is_set() {
        let env = MapEnv::from_pairs([
            (ENV_ACCOUNT_ID, "1234567-sb1"),
            (ENV_CONSUMER_KEY, "ck"),
            (ENV_CONSUMER_SECRET, "cs"),
            (ENV_TOKEN_ID, "ti"),
            (ENV_TOKEN_SECRET, "ts"),
        ]);
        let config = NetSuiteConfig::from_env(&env).unwrap();
        assert_eq!(config.account.as_str(), "1234567_SB1");
        assert!(matches!(config.auth, Auth::Tba(_)));

        let env = MapEnv::from_pairs([(ENV_ACCOUNT_ID, "1234567"), (ENV_CLIENT_ID, "client")]);
        let error = NetSuiteConfig::from_env(&env).unwrap_err().to_string();
        assert!(error.contains(ENV_CERTIFICATE_ID), "{error}");
        assert!(error.contains("NETSUITE_PRIVATE_KEY_FILE"), "{error}");
        assert!(!error.contains(ENV_CONSUMER_KEY), "{error}");
    }

    #[test]
    fn private_key_comes_from_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, "-----BEGIN PRIVATE KEY-----\n").unwrap();
        let env = MapEnv::from_pairs([
            (ENV_ACCOUNT_ID, "1234567"),
            (ENV_CLIENT_ID, "client"),
            (ENV_CERTIFICATE_ID, "cert"),
            ("NETSUITE_PRIVATE_KEY_FILE", path.to_str().unwrap()),
            (ENV_JWT_ALGORITHM, "ES256"),
        ]);
        let config = NetSuiteConfig::from_env(&env).unwrap();
        let Auth::OAuth2(credentials) = config.auth else {
            panic!("expected oauth 2.0");
        };
        assert_eq!(credentials.algorithm, JwtAlgorithm::ES256);
        assert_eq!(credentials.certificate_id, "cert");
    }

    #[test]
    fn settings_reject_unknown_zones_and_impossible_chunks() {
        let env = MapEnv::from_pairs([(ENV_TIME_ZONE, "Mars/Olympus")]);
        assert!(ExtractSettings::default().with_env(&env).is_err());
        let env = MapEnv::from_pairs([(ENV_TIME_ZONE, "Europe/Berlin")]);
        let settings = ExtractSettings::default().with_env(&env).unwrap();
        assert_eq!(settings.zone().unwrap(), chrono_tz::Europe::Berlin);
        let settings = ExtractSettings {
            customers_per_chunk: 1001,
            ..Default::default()
        };
        assert!(settings.validate().is_err());
    }
}

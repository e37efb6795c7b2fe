//! Configuration: defaults, then the TOML file, then the environment, then flags.
//!
//! Variable names are those of `spec/interfaces.md`. Every secret may also come from a
//! file named by `<NAME>_FILE`, so Kubernetes Secrets mount cleanly; secrets are held in
//! [`SecretString`], whose `Debug` prints `[REDACTED]`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

/// Environment variable: the listen address of a service.
pub const ENV_LISTEN: &str = "LEDGERLINK_LISTEN";
/// Environment variable: the data directory of the embedded default.
pub const ENV_DATA_DIR: &str = "LEDGERLINK_DATA_DIR";
/// Environment variable: the database URL of the service that reads it.
pub const ENV_DATABASE_URL: &str = "LEDGERLINK_DATABASE_URL";
/// Environment variable: path of the TOML configuration.
pub const ENV_CONFIG: &str = "LEDGERLINK_CONFIG";
/// Environment variable: the token services present to one another.
pub const ENV_AUTH_TOKEN: &str = "LEDGERLINK_AUTH_TOKEN";
/// Environment variable: where OpenTelemetry data goes.
pub const ENV_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = ".ledgerlink";

/// Where configuration values come from; the process environment in binaries, a map
/// in tests, so no test ever mutates the real environment.
pub trait EnvSource: Send + Sync {
    /// Returns the value of `key`, if set and valid Unicode.
    fn get(&self, key: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

/// An environment made of a map, for tests and embedding.
#[derive(Debug, Clone, Default)]
pub struct MapEnv(pub HashMap<String, String>);

impl MapEnv {
    /// Builds an environment from `(name, value)` pairs.
    pub fn from_pairs<const N: usize>(pairs: [(&str, &str); N]) -> Self {
        MapEnv(pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
    }
}

impl EnvSource for MapEnv {
    fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
}

/// Configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or has wrong types.
    #[error("invalid configuration file {path}: {reason}")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// What the parser said, with line and column.
        reason: String,
    },
    /// A variable holds a value of the wrong form.
    #[error("invalid {name}: {reason}")]
    InvalidValue {
        /// The variable or key.
        name: String,
        /// Why the value was refused.
        reason: String,
    },
    /// A secret's file could not be read.
    #[error("cannot read {name} from {path}: {source}")]
    ReadSecret {
        /// The `*_FILE` variable.
        name: String,
        /// The file it names.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Both a secret and its `*_FILE` variant are set.
    #[error("both {name} and {name}_FILE are set; set one")]
    AmbiguousSecret {
        /// The secret's variable.
        name: String,
    },
    /// A required setting is missing.
    #[error("{0}")]
    Missing(String),
}

/// Reads a secret from `name` or from the file named by `name_FILE` (trailing line
/// breaks trimmed, as `kubectl create secret --from-file` leaves them).
pub fn secret(env: &dyn EnvSource, name: &str) -> Result<Option<SecretString>, ConfigError> {
    let file_var = format!("{name}_FILE");
    match (env.get(name), env.get(&file_var)) {
        (Some(_), Some(_)) => Err(ConfigError::AmbiguousSecret { name: name.to_owned() }),
        (Some(value), None) => Ok(non_empty(value).map(SecretString::from)),
        (None, Some(path)) => {
            let path = PathBuf::from(path);
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::ReadSecret {
                name: file_var,
                path,
                source,
            })?;
            Ok(non_empty(text.trim_end_matches(['\r', '\n']).to_owned()).map(SecretString::from))
        }
        (None, None) => Ok(None),
    }
}

fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

/// Flags every service binary takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServiceArgs {
    /// Address to serve gRPC on, HOST:PORT (env LEDGERLINK_LISTEN).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<SocketAddr>,
    /// TOML configuration file (env LEDGERLINK_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Apply this service's database migrations, then exit without serving (a
    /// deployment runs this once before new pods start).
    #[arg(long)]
    pub migrate_only: bool,
}

/// The settings every service shares, resolved from all sources.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Address to serve on.
    pub listen: SocketAddr,
    /// Where embedded state lives.
    pub data_dir: PathBuf,
    /// The service's database, when one is configured explicitly.
    pub database_url: Option<String>,
    /// The bearer token every RPC but health must carry.
    pub auth_token: SecretString,
    /// Where to export OpenTelemetry data, when set.
    pub otlp_endpoint: Option<String>,
    /// TLS for serving and for calling other services, when configured.
    pub tls: Option<crate::tls::TlsSettings>,
    /// Migrate the database and exit instead of serving.
    pub migrate_only: bool,
    /// The service's own table from the configuration file (empty when none).
    pub section: toml::Table,
    /// The environment the configuration was read from, for the service's own
    /// variables and secrets (`NETSUITE_*`, `KLAVIYO_API_KEY`, …).
    pub env: SharedEnv,
}

/// An environment shared by the pieces of one service.
#[derive(Clone)]
pub struct SharedEnv(pub Arc<dyn EnvSource>);

impl std::fmt::Debug for SharedEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be secrets: never printed.
        f.write_str("SharedEnv")
    }
}

impl EnvSource for SharedEnv {
    fn get(&self, key: &str) -> Option<String> {
        self.0.get(key)
    }
}

/// Common keys a service's table in the configuration file may hold.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct CommonSection {
    listen: Option<String>,
    database_url: Option<String>,
}

impl RuntimeConfig {
    /// Resolves the configuration of `service` (its table name in the file, e.g.
    /// `scoring`), with precedence flags > environment > file > defaults.
    pub fn load<E: EnvSource + Clone + 'static>(
        service: &str,
        default_listen: SocketAddr,
        args: &ServiceArgs,
        env: &E,
    ) -> Result<RuntimeConfig, ConfigError> {
        let config_path = args.config.clone().or_else(|| env.get(ENV_CONFIG).map(PathBuf::from));
        let file = match &config_path {
            Some(path) => read_toml(path)?,
            None => toml::Table::new(),
        };
        let mut section = table_of(&file, service)?;
        let common: CommonSection = section_as(&section, service)?;
        strip_runtime_keys(&mut section);

        let listen = match (args.listen, env.get(ENV_LISTEN), common.listen) {
            (Some(addr), _, _) => addr,
            (None, Some(text), _) => parse_addr(ENV_LISTEN, &text)?,
            (None, None, Some(text)) => parse_addr(&format!("{service}.listen"), &text)?,
            (None, None, None) => default_listen,
        };
        let data_dir = env
            .get(ENV_DATA_DIR)
            .or_else(|| file.get("data_dir").and_then(|v| v.as_str()).map(str::to_owned))
            .map_or_else(|| PathBuf::from(DEFAULT_DATA_DIR), PathBuf::from);
        // A PostgreSQL URL carries a password, so it may come from a mounted file too.
        let database_url = secret(env, ENV_DATABASE_URL)?
            .map(|url| url.expose_secret().to_owned())
            .or(common.database_url);
        let auth_token = secret(env, ENV_AUTH_TOKEN)?.ok_or_else(|| {
            ConfigError::Missing(format!("no auth token: set {ENV_AUTH_TOKEN} or {ENV_AUTH_TOKEN}_FILE"))
        })?;
        Ok(RuntimeConfig {
            listen,
            data_dir,
            database_url,
            auth_token,
            otlp_endpoint: env.get(ENV_OTLP_ENDPOINT).and_then(non_empty),
            tls: crate::tls::TlsSettings::from_env(env)?,
            migrate_only: args.migrate_only,
            section,
            env: SharedEnv(Arc::new(env.clone())),
        })
    }

    /// How the service serves: the bearer-token check, and TLS when configured.
    pub fn server_security(&self) -> crate::grpc::ServerSecurity {
        crate::grpc::ServerSecurity {
            auth: crate::AuthInterceptor::new(self.auth_token.clone()),
            tls: self.tls.as_ref().and_then(crate::tls::TlsSettings::server_config),
        }
    }

    /// Deserializes the service's table of the configuration file into `T`, whose
    /// `#[serde(default)]` supplies what the file leaves out.
    pub fn section<T: DeserializeOwned>(&self, service: &str) -> Result<T, ConfigError> {
        section_as(&self.section, service)
    }
}

/// Returns `service`'s table of the configuration file named by `LEDGERLINK_CONFIG`,
/// without the keys the runtime reads (`listen`, `database_url`); empty when there is
/// no file or no table. For commands that run a service's logic in process.
pub fn service_table(env: &dyn EnvSource, service: &str) -> Result<toml::Table, ConfigError> {
    match env.get(ENV_CONFIG) {
        None => Ok(toml::Table::new()),
        Some(path) => {
            let mut table = table_of(&read_toml(Path::new(&path))?, service)?;
            strip_runtime_keys(&mut table);
            Ok(table)
        }
    }
}

fn table_of(file: &toml::Table, service: &str) -> Result<toml::Table, ConfigError> {
    match file.get(service) {
        Some(toml::Value::Table(table)) => Ok(table.clone()),
        Some(_) => Err(ConfigError::InvalidValue {
            name: format!("[{service}]"),
            reason: "must be a table".to_owned(),
        }),
        None => Ok(toml::Table::new()),
    }
}

/// The runtime's keys are not the service's: a service's settings refuse unknown keys.
fn strip_runtime_keys(table: &mut toml::Table) {
    table.remove("listen");
    table.remove("database_url");
}

fn read_toml(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    text.parse::<toml::Table>().map_err(|e| ConfigError::ParseFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn section_as<T: DeserializeOwned>(section: &toml::Table, service: &str) -> Result<T, ConfigError> {
    toml::Value::Table(section.clone())
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::InvalidValue {
            name: format!("[{service}]"),
            reason: e.message().to_owned(),
        })
}

fn parse_addr(name: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| ConfigError::InvalidValue {
        name: name.to_owned(),
        reason: format!("{text:?} is not HOST:PORT"),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use secrecy::ExposeSecret;

    use super::*;

    const DEFAULT: &str = "127.0.0.1:50052";

    fn load(args: &ServiceArgs, env: &MapEnv) -> Result<RuntimeConfig, ConfigError> {
        RuntimeConfig::load("scoring", DEFAULT.parse().unwrap(), args, env)
    }

    #[test]
    fn flags_beat_environment_beat_file_beat_defaults() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "data_dir = \"/srv/ll\"\n[scoring]\nlisten = \"127.0.0.1:7001\"\nrules_file = \"r.toml\""
        )
        .unwrap();
        let path = file.path().to_str().unwrap();

        let env = MapEnv::from_pairs([(ENV_AUTH_TOKEN, "t"), (ENV_CONFIG, path)]);
        let config = load(&ServiceArgs::default(), &env).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:7001");
        assert_eq!(config.data_dir, PathBuf::from("/srv/ll"));
        assert_eq!(config.section.get("rules_file").unwrap().as_str(), Some("r.toml"));
        assert!(
            config.section.get("listen").is_none(),
            "runtime keys are not the service's"
        );

        let env = MapEnv::from_pairs([
            (ENV_AUTH_TOKEN, "t"),
            (ENV_CONFIG, path),
            (ENV_LISTEN, "127.0.0.1:7002"),
        ]);
        assert_eq!(
            load(&ServiceArgs::default(), &env).unwrap().listen.to_string(),
            "127.0.0.1:7002"
        );

        let args = ServiceArgs {
            listen: Some("127.0.0.1:7003".parse().unwrap()),
            ..ServiceArgs::default()
        };
        assert_eq!(load(&args, &env).unwrap().listen.to_string(), "127.0.0.1:7003");

        let env = MapEnv::from_pairs([(ENV_AUTH_TOKEN, "t")]);
        let config = load(&ServiceArgs::default(), &env).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT);
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    }

    #[test]
    fn token_is_required() {
        let error = load(&ServiceArgs::default(), &MapEnv::default()).unwrap_err();
        assert!(error.to_string().contains(ENV_AUTH_TOKEN), "{error}");
    }

    #[test]
    fn secret_from_file_is_trimmed_and_never_in_debug() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "s3cr3t-from-file").unwrap();
        let env = MapEnv::from_pairs([("LEDGERLINK_AUTH_TOKEN_FILE", file.path().to_str().unwrap())]);
        let config = load(&ServiceArgs::default(), &env).unwrap();
        assert_eq!(config.auth_token.expose_secret(), "s3cr3t-from-file");
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");

        let env = MapEnv::from_pairs([(ENV_AUTH_TOKEN, "s3cr3t-from-env")]);
        let config = load(&ServiceArgs::default(), &env).unwrap();
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }

    #[test]
    fn both_secret_sources_are_refused() {
        let env = MapEnv::from_pairs([(ENV_AUTH_TOKEN, "a"), ("LEDGERLINK_AUTH_TOKEN_FILE", "/x")]);
        let error = load(&ServiceArgs::default(), &env).unwrap_err();
        assert!(matches!(error, ConfigError::AmbiguousSecret { .. }));
    }

    #[test]
    fn bad_values_name_what_was_wrong() {
        let env = MapEnv::from_pairs([(ENV_AUTH_TOKEN, "t"), (ENV_LISTEN, "nowhere")]);
        let error = load(&ServiceArgs::default(), &env).unwrap_err();
        assert!(error.to_string().contains(ENV_LISTEN), "{error}");

        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "[scoring\nlisten = 1").unwrap();
        let env = MapEnv::from_pairs([(ENV_AUTH_TOKEN, "t"), (ENV_CONFIG, file.path().to_str().unwrap())]);
        let error = load(&ServiceArgs::default(), &env).unwrap_err();
        assert!(matches!(error, ConfigError::ParseFile { .. }), "{error}");
    }
}

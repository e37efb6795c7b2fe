//! The `[scoring]` configuration section and loading the rules it names.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ledgerlink_scoring_engine::{
    DEFAULT_RULES_TOML, Engine, ParamsError, Rules, RulesError, RulesFormat, ScoringParams,
};
use serde::Deserialize;

/// What `source` says for the built-in rules.
pub const BUILT_IN: &str = "built-in";

/// The scoring service's table of the configuration file:
///
/// ```toml
/// [scoring]
/// rules_file = "/etc/ledgerlink/rules.yaml"   # default: the built-in rules
/// lookback_days = 365
/// recent_days = 90
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringSettings {
    /// The rules file (TOML or YAML by extension); the built-in rules when absent.
    pub rules_file: Option<PathBuf>,
    /// The lookback window in days (365 when absent).
    pub lookback_days: Option<u32>,
    /// The recent window in days (90 when absent).
    pub recent_days: Option<u32>,
}

/// Rules that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The rules file could not be read.
    #[error("cannot read rules file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The rules file's extension names no known format.
    #[error("rules file {path} must end in .toml, .yaml or .yml")]
    Format {
        /// The file.
        path: PathBuf,
    },
    /// The rules file is invalid; the error names the line and the reason.
    #[error("{path}: {error}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line and reason.
        error: RulesError,
    },
    /// A window parameter is unusable.
    #[error("[scoring] {0}")]
    Params(#[from] ParamsError),
}

impl ScoringSettings {
    /// Reads the section from a configuration file's `[scoring]` table.
    pub fn from_table(table: &toml::Table) -> Result<ScoringSettings, toml::de::Error> {
        toml::Value::Table(table.clone()).try_into()
    }

    /// The window parameters.
    pub fn params(&self) -> Result<ScoringParams, ParamsError> {
        let defaults = ScoringParams::DEFAULT;
        ScoringParams::new(
            self.lookback_days.unwrap_or(defaults.lookback_days()),
            self.recent_days.unwrap_or(defaults.recent_days()),
        )
    }

    /// Loads the configured rules (re-reading the file each time) with the windows.
    pub fn load(&self) -> Result<ActiveRules, SettingsError> {
        let params = self.params()?;
        match &self.rules_file {
            None => Ok(ActiveRules::built_in(params)),
            Some(path) => ActiveRules::from_file(path, params),
        }
    }
}

/// The rules in force: the engine built from them, and their text and origin.
#[derive(Debug, Clone)]
pub struct ActiveRules {
    /// The engine scoring with these rules.
    pub engine: Arc<Engine>,
    /// `built-in`, or the path of the rules file.
    pub source: String,
    /// The rules file's text.
    pub text: String,
}

impl ActiveRules {
    /// The built-in rules of `spec/scoring.md` §4.
    pub fn built_in(params: ScoringParams) -> ActiveRules {
        ActiveRules {
            engine: Arc::new(Engine::new(Rules::default(), params)),
            source: BUILT_IN.to_owned(),
            text: DEFAULT_RULES_TOML.to_owned(),
        }
    }

    /// Reads and checks a rules file, TOML or YAML by its extension.
    pub fn from_file(path: &Path, params: ScoringParams) -> Result<ActiveRules, SettingsError> {
        let format = rules_format(path)?;
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_owned(),
            source,
        })?;
        let rules = Rules::parse(&text, format).map_err(|error| SettingsError::Invalid {
            path: path.to_owned(),
            error,
        })?;
        Ok(ActiveRules {
            engine: Arc::new(Engine::new(rules, params)),
            source: path.display().to_string(),
            text,
        })
    }
}

/// Returns the format of a rules file from its extension.
pub fn rules_format(path: &Path) -> Result<RulesFormat, SettingsError> {
    path.extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase)
        .and_then(|extension| RulesFormat::from_extension(&extension))
        .ok_or_else(|| SettingsError::Format { path: path.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_keys_take_the_spec_defaults() {
        let settings = ScoringSettings::from_table(&toml::Table::new()).unwrap();
        let active = settings.load().unwrap();
        assert_eq!(active.source, BUILT_IN);
        assert_eq!(*active.engine.params(), ScoringParams::DEFAULT);
    }

    #[test]
    fn windows_come_from_the_section_and_zero_is_refused() {
        let table: toml::Table = "lookback_days = 180\nrecent_days = 30".parse().unwrap();
        let params = ScoringSettings::from_table(&table).unwrap().params().unwrap();
        assert_eq!((params.lookback_days(), params.recent_days()), (180, 30));
        let table: toml::Table = "recent_days = 0".parse().unwrap();
        let error = ScoringSettings::from_table(&table).unwrap().load().unwrap_err();
        assert!(error.to_string().contains("recent_days"), "{error}");
        let table: toml::Table = "lookback_dayz = 180".parse().unwrap();
        assert!(ScoringSettings::from_table(&table).is_err(), "a typo is refused");
    }

    #[test]
    fn a_rules_file_with_an_unknown_extension_is_refused_by_name() {
        let error = rules_format(Path::new("rules.json")).unwrap_err();
        assert!(error.to_string().contains("rules.json"), "{error}");
        assert_eq!(rules_format(Path::new("r.YML")).unwrap(), RulesFormat::Yaml);
    }
}

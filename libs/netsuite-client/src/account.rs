//! NetSuite account ids and the hosts derived from them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A NetSuite account id in its canonical realm form: `1234567` for production,
/// `1234567_SB1` for a sandbox (underscore, uppercase `SB`).
///
/// The realm is case-sensitive on NetSuite's side (`1234567_sb1` fails with
/// `INVALID_LOGIN`), so inputs such as `1234567_sb1` or `1234567-sb1` are normalised to
/// the canonical form on parsing; the host form (`1234567-sb1`) is derived from it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AccountId(String);

/// An account id that cannot be a NetSuite account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid netsuite account id {input:?}: {reason}")]
pub struct AccountIdError {
    /// The text that failed to parse.
    pub input: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

impl AccountId {
    /// Parses and normalises an account id as configured by a user.
    pub fn parse(input: &str) -> Result<Self, AccountIdError> {
        let error = |reason| AccountIdError {
            input: input.to_owned(),
            reason,
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(error("empty"));
        }
        let canonical = trimmed.replace('-', "_").to_ascii_uppercase();
        let mut parts = canonical.split('_');
        let company = parts.next().unwrap_or_default();
        if company.is_empty() || !company.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
            return Err(error("the company part must be letters and digits"));
        }
        for suffix in parts {
            // Sandboxes (`SB1`), release previews (`RP`) and test drives (`TD…`) all add
            // one alphanumeric suffix; anything else is a typo.
            if suffix.is_empty() || !suffix.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
                return Err(error("the suffix after '_' must be letters and digits"));
            }
        }
        Ok(AccountId(canonical))
    }

    /// The realm / account id as NetSuite expects it in the OAuth header (`1234567_SB1`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host label (`1234567-sb1`): lowercase, hyphenated.
    pub fn host_label(&self) -> String {
        self.0.replace('_', "-").to_ascii_lowercase()
    }

    /// The SuiteTalk REST host, `1234567-sb1.suitetalk.api.netsuite.com`.
    pub fn suitetalk_host(&self) -> String {
        format!("{}.suitetalk.api.netsuite.com", self.host_label())
    }

    /// The default base URL of the account's REST services, without a trailing slash.
    pub fn default_base_url(&self) -> String {
        format!("https://{}", self.suitetalk_host())
    }

    /// True for a sandbox account (`_SB…` suffix).
    pub fn is_sandbox(&self) -> bool {
        self.0.contains("_SB")
    }
}

impl FromStr for AccountId {
    type Err = AccountIdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        AccountId::parse(input)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.0)
    }
}

impl Serialize for AccountId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AccountId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        AccountId::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_id_is_kept_and_used_as_host() {
        let account = AccountId::parse("1234567").unwrap();
        assert_eq!(account.as_str(), "1234567");
        assert_eq!(account.host_label(), "1234567");
        assert_eq!(account.default_base_url(), "https://1234567.suitetalk.api.netsuite.com");
        assert!(!account.is_sandbox());
    }

    #[test]
    fn sandbox_inputs_normalise_to_uppercase_underscore_realm_and_lowercase_hyphen_host() {
        for input in [
            "1234567_SB1",
            "1234567_sb1",
            "1234567-sb1",
            "1234567-SB1",
            " 1234567_Sb1 ",
        ] {
            let account = AccountId::parse(input).unwrap();
            assert_eq!(account.as_str(), "1234567_SB1", "input {input:?}");
            assert_eq!(account.host_label(), "1234567-sb1", "input {input:?}");
            assert_eq!(account.suitetalk_host(), "1234567-sb1.suitetalk.api.netsuite.com");
            assert!(account.is_sandbox());
        }
    }

    #[test]
    fn rejects_ids_that_cannot_be_accounts() {
        for input in ["", "  ", "1234567_", "_SB1", "1234 567", "1234567.sb1", "123/4"] {
            assert!(AccountId::parse(input).is_err(), "input {input:?}");
        }
    }

    #[test]
    fn deserialises_through_the_same_normalisation() {
        let account: AccountId = serde_json::from_str("\"123456-sb2\"").unwrap();
        assert_eq!(account.as_str(), "123456_SB2");
        assert_eq!(serde_json::to_string(&account).unwrap(), "\"123456_SB2\"");
    }
}

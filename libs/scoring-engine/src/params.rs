//! The window parameters of `spec/scoring.md` §3.

use serde::{Deserialize, Serialize};

/// Window lengths in days. Construct with [`ScoringParams::new`] or take the
/// defaults (365 and 90); both are at least one day so no window is empty by
/// construction and no division by zero can occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawParams", into = "RawParams")]
pub struct ScoringParams {
    lookback_days: u32,
    recent_days: u32,
}

/// Parameters that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// A window of zero days.
    #[error("{name} must be at least 1 day")]
    ZeroWindow {
        /// The parameter's name.
        name: &'static str,
    },
}

impl ScoringParams {
    /// The spec's defaults: one year of history, one quarter as the recent window.
    pub const DEFAULT: ScoringParams = ScoringParams {
        lookback_days: 365,
        recent_days: 90,
    };

    /// Returns validated parameters.
    pub fn new(lookback_days: u32, recent_days: u32) -> Result<Self, ParamsError> {
        if lookback_days == 0 {
            return Err(ParamsError::ZeroWindow { name: "lookback_days" });
        }
        if recent_days == 0 {
            return Err(ParamsError::ZeroWindow { name: "recent_days" });
        }
        Ok(ScoringParams {
            lookback_days,
            recent_days,
        })
    }

    /// Days of history for payment behaviour and order volume.
    pub fn lookback_days(&self) -> u32 {
        self.lookback_days
    }

    /// Days counted as "recent".
    pub fn recent_days(&self) -> u32 {
        self.recent_days
    }
}

impl Default for ScoringParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The serialized form, validated on the way in.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParams {
    #[serde(default = "default_lookback")]
    lookback_days: u32,
    #[serde(default = "default_recent")]
    recent_days: u32,
}

fn default_lookback() -> u32 {
    ScoringParams::DEFAULT.lookback_days
}

fn default_recent() -> u32 {
    ScoringParams::DEFAULT.recent_days
}

impl TryFrom<RawParams> for ScoringParams {
    type Error = ParamsError;

    fn try_from(raw: RawParams) -> Result<Self, Self::Error> {
        ScoringParams::new(raw.lookback_days, raw.recent_days)
    }
}

impl From<ScoringParams> for RawParams {
    fn from(params: ScoringParams) -> Self {
        RawParams {
            lookback_days: params.lookback_days,
            recent_days: params.recent_days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_windows_are_refused() {
        assert_eq!(
            ScoringParams::new(0, 90),
            Err(ParamsError::ZeroWindow { name: "lookback_days" })
        );
        assert!(ScoringParams::new(365, 0).is_err());
        assert!(toml::from_str::<ScoringParams>("recent_days = 0").is_err());
    }

    #[test]
    fn missing_fields_take_the_defaults() {
        let params: ScoringParams = toml::from_str("recent_days = 30").unwrap();
        assert_eq!(params.lookback_days(), 365);
        assert_eq!(params.recent_days(), 30);
    }
}

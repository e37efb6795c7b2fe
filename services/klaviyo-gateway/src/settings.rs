//! The `[klaviyo-gateway]` table of the configuration file.

use std::collections::BTreeMap;

use ledgerlink_klaviyo_client::{
    ClientSettings, NumericOperator, SegmentDefinition, SegmentSpec, property_equals, property_is, property_number,
};
use serde::Deserialize;
use serde_json::Value;

use crate::mapping::PROPERTIES;

/// The variable naming the Klaviyo private key (or `KLAVIYO_API_KEY_FILE`).
pub const ENV_API_KEY: &str = "KLAVIYO_API_KEY";
/// The variable overriding Klaviyo's base URL.
pub const ENV_BASE_URL: &str = "KLAVIYO_BASE_URL";

/// How a customer maps to Klaviyo profiles (`spec/klaviyo-sync.md` "Identity").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityMode {
    /// The customer's email identifies the profile; `external_id` is set as well.
    #[default]
    Email,
    /// `external_id = netsuite:{customer id}` alone identifies the profile.
    ExternalId,
    /// One profile per contact whose role is in `contact_roles`, identified by its email.
    Contacts,
}

/// One band of the `credit_limit_tier` property: limits below `below` (or any limit,
/// for the last band without `below`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierBand {
    /// The tier's name.
    pub name: String,
    /// Exclusive upper bound; absent on the last band.
    #[serde(default)]
    pub below: Option<f64>,
}

/// A comparison of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `=`
    Eq,
    /// `≠`
    Ne,
    /// `>`
    Gt,
    /// `≥`
    Gte,
    /// `<`
    Lt,
    /// `≤`
    Lte,
}

/// One condition on a profile property, by its default (logical) name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The property's default name (`credit_limit`, `promotions_eligible`, …).
    pub property: String,
    /// The comparison.
    pub op: Op,
    /// A boolean, a number or a string.
    pub value: Value,
}

impl Condition {
    /// Whether a profile's properties (as written, keyed by written names) satisfy it.
    pub fn holds(&self, properties: &serde_json::Map<String, Value>, names: &PropertyNames) -> bool {
        let Some(actual) = properties.get(names.name(&self.property)) else {
            return false;
        };
        match (&self.value, actual) {
            (Value::Number(want), Value::Number(have)) => {
                let (Some(want), Some(have)) = (want.as_f64(), have.as_f64()) else {
                    return false;
                };
                match self.op {
                    Op::Eq => have == want,
                    Op::Ne => have != want,
                    Op::Gt => have > want,
                    Op::Gte => have >= want,
                    Op::Lt => have < want,
                    Op::Lte => have <= want,
                }
            }
            (want, have) => match self.op {
                Op::Eq => want == have,
                Op::Ne => want != have,
                _ => false,
            },
        }
    }
}

/// A segment the gateway keeps as configured: every condition must hold.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentConfig {
    /// The segment's name in Klaviyo (its key).
    pub name: String,
    /// Conditions, all of which must hold.
    pub all: Vec<Condition>,
}

/// A list the gateway keeps in step with a condition.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    /// The list's name in Klaviyo (its key).
    pub name: String,
    /// Conditions, all of which must hold for a profile to be a member.
    pub when: Vec<Condition>,
}

/// Everything the gateway reads from its table; every key is optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySettings {
    /// Klaviyo's base URL (env `KLAVIYO_BASE_URL` wins).
    pub base_url: Option<String>,
    /// The `revision` header (default: the client's).
    pub revision: Option<String>,
    /// How customers map to profiles.
    pub identity: IdentityMode,
    /// Roles whose contacts get profiles in `contacts` mode.
    pub contact_roles: Vec<String>,
    /// Put in front of every property name.
    pub property_prefix: String,
    /// Renames: default name → name written (before the prefix).
    pub property_names: BTreeMap<String, String>,
    /// Bands of `credit_limit_tier`, ascending.
    pub credit_limit_tiers: Vec<TierBand>,
    /// The tier of a customer without a credit limit.
    pub no_limit_tier: String,
    /// Whether `payment_watch` also makes `promotions_eligible` false.
    pub payment_watch_blocks_promotions: bool,
    /// Requests with at most this many profiles (or events) use the single-record
    /// endpoints, which answer at once, instead of bulk jobs.
    pub single_write_threshold: usize,
    /// Segments to manage.
    pub segments: Vec<SegmentConfig>,
    /// Lists to keep in step.
    pub lists: Vec<ListConfig>,
    /// The Klaviyo client's timeouts, retries, polling and batch limits.
    pub client: ClientSettings,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        let condition = |property: &str, op: Op, value: Value| Condition {
            property: property.to_owned(),
            op,
            value,
        };
        GatewaySettings {
            base_url: None,
            revision: None,
            identity: IdentityMode::Email,
            contact_roles: vec!["Primary".to_owned()],
            property_prefix: String::new(),
            property_names: BTreeMap::new(),
            credit_limit_tiers: vec![
                TierBand {
                    name: "under_10k".to_owned(),
                    below: Some(10_000.0),
                },
                TierBand {
                    name: "10k_50k".to_owned(),
                    below: Some(50_000.0),
                },
                TierBand {
                    name: "50k_plus".to_owned(),
                    below: None,
                },
            ],
            no_limit_tier: "none".to_owned(),
            payment_watch_blocks_promotions: false,
            single_write_threshold: 5,
            segments: vec![
                SegmentConfig {
                    name: "Credit Hold — exclude from promotions".to_owned(),
                    all: vec![condition("credit_hold", Op::Eq, Value::Bool(true))],
                },
                SegmentConfig {
                    name: "VIP bulk buyers".to_owned(),
                    all: vec![
                        condition("credit_limit", Op::Gte, Value::from(50_000)),
                        condition("on_time_rate_pct", Op::Gte, Value::from(90)),
                    ],
                },
                SegmentConfig {
                    name: "Loyalty platinum".to_owned(),
                    all: vec![condition("loyalty_tier", Op::Eq, Value::from("platinum"))],
                },
            ],
            lists: Vec::new(),
            client: ClientSettings::default(),
        }
    }
}

/// The `[klaviyo-gateway]` table is invalid.
#[derive(Debug, thiserror::Error)]
#[error("invalid [klaviyo-gateway] configuration: {0}")]
pub struct SettingsError(pub String);

/// Property names as written: renames and prefix applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyNames {
    names: BTreeMap<&'static str, String>,
}

impl PropertyNames {
    /// The written name of a default name (the default name itself if unknown).
    pub fn name<'a>(&'a self, property: &'a str) -> &'a str {
        self.names.get(property).map_or(property, String::as_str)
    }
}

impl GatewaySettings {
    /// Reads and checks the table.
    pub fn from_table(table: &toml::Table) -> Result<GatewaySettings, SettingsError> {
        let settings: GatewaySettings = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| SettingsError(e.message().to_owned()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let fail = |reason: String| Err(SettingsError(reason));
        for (property, name) in &self.property_names {
            if !PROPERTIES.contains(&property.as_str()) {
                return fail(format!("property_names: unknown property {property:?}"));
            }
            if name.trim().is_empty() {
                return fail(format!("property_names: the name of {property} is empty"));
            }
        }
        let names = self.property_names();
        let mut written: Vec<&str> = PROPERTIES.iter().map(|p| names.name(p)).collect();
        written.sort_unstable();
        if written.windows(2).any(|pair| pair[0] == pair[1]) {
            return fail("property_names: two properties would be written under one name".to_owned());
        }
        let Some((last, rest)) = self.credit_limit_tiers.split_last() else {
            return fail("credit_limit_tiers is empty".to_owned());
        };
        if last.below.is_some() || rest.iter().any(|band| band.below.is_none()) {
            return fail("credit_limit_tiers: every band but the last needs `below`, the last none".to_owned());
        }
        if rest.windows(2).any(|pair| pair[0].below >= pair[1].below) {
            return fail("credit_limit_tiers: `below` must ascend".to_owned());
        }
        if self.single_write_threshold > 100 {
            return fail("single_write_threshold must be at most 100".to_owned());
        }
        if self.identity == IdentityMode::Contacts && self.contact_roles.is_empty() {
            return fail("identity = \"contacts\" needs contact_roles".to_owned());
        }
        let conditions = self
            .segments
            .iter()
            .map(|segment| (&segment.name, &segment.all))
            .chain(self.lists.iter().map(|list| (&list.name, &list.when)));
        for (name, conditions) in conditions {
            if name.trim().is_empty() || conditions.is_empty() {
                return fail(format!("segment or list {name:?} needs a name and conditions"));
            }
            for condition in conditions {
                if !PROPERTIES.contains(&condition.property.as_str()) {
                    return fail(format!("{name:?}: unknown property {:?}", condition.property));
                }
                let numeric = condition.value.is_number();
                if !numeric && !matches!(condition.op, Op::Eq | Op::Ne) {
                    return fail(format!("{name:?}: {} compares a non-number", condition.property));
                }
                if !(numeric || condition.value.is_boolean() || condition.value.is_string()) {
                    return fail(format!("{name:?}: value must be a boolean, number or string"));
                }
            }
        }
        self.client.validate().map_err(|e| SettingsError(e.to_string()))?;
        Ok(())
    }

    /// The names properties are written under.
    pub fn property_names(&self) -> PropertyNames {
        PropertyNames {
            names: PROPERTIES
                .iter()
                .map(|property| {
                    let base = self.property_names.get(*property).map_or(*property, String::as_str);
                    (*property, format!("{}{base}", self.property_prefix))
                })
                .collect(),
        }
    }

    /// The Klaviyo segment specs of the configured segments.
    pub fn segment_specs(&self) -> Vec<SegmentSpec> {
        let names = self.property_names();
        self.segments
            .iter()
            .map(|segment| SegmentSpec {
                name: segment.name.clone(),
                definition: SegmentDefinition::all_of(
                    segment.all.iter().map(|c| klaviyo_condition(c, &names)).collect(),
                ),
                is_starred: None,
            })
            .collect()
    }
}

fn klaviyo_condition(condition: &Condition, names: &PropertyNames) -> Value {
    let name = names.name(&condition.property);
    match &condition.value {
        Value::Bool(value) if condition.op == Op::Eq => property_is(name, *value),
        Value::Bool(value) => property_is(name, !*value),
        Value::Number(number) => {
            let op = match condition.op {
                Op::Eq => NumericOperator::Equals,
                Op::Ne => NumericOperator::NotEquals,
                Op::Gt => NumericOperator::GreaterThan,
                Op::Gte => NumericOperator::GreaterThanOrEqual,
                Op::Lt => NumericOperator::LessThan,
                Op::Lte => NumericOperator::LessThanOrEqual,
            };
            property_number(name, op, number.clone())
        }
        Value::String(text) => property_equals(name, text),
        // validate() admits nothing else.
        other => property_equals(name, &other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<GatewaySettings, SettingsError> {
        GatewaySettings::from_table(&toml::from_str(text).expect("toml"))
    }

    #[test]
    fn defaults_follow_the_spec() {
        let settings = parse("").expect("defaults");
        assert_eq!(settings.identity, IdentityMode::Email);
        let names: Vec<String> = settings.segment_specs().into_iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "Credit Hold — exclude from promotions",
                "VIP bulk buyers",
                "Loyalty platinum"
            ]
        );
        let tiers: Vec<&str> = settings.credit_limit_tiers.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(tiers, ["under_10k", "10k_50k", "50k_plus"]);
    }

    #[test]
    fn reads_names_prefix_modes_and_lists() {
        let settings = parse(
            r#"
identity = "external_id"
property_prefix = "ar_"
payment_watch_blocks_promotions = true
[property_names]
credit_limit = "limit"
[[lists]]
name = "Promotion exclusions"
when = [{ property = "promotions_eligible", op = "eq", value = false }]
"#,
        )
        .expect("settings");
        let names = settings.property_names();
        assert_eq!(names.name("credit_limit"), "ar_limit");
        assert_eq!(names.name("risk_score"), "ar_risk_score");
        assert_eq!(settings.identity, IdentityMode::ExternalId);
        assert_eq!(settings.lists[0].name, "Promotion exclusions");
        let vip = &settings.segment_specs()[1];
        assert!(
            serde_json::to_string(&vip.definition)
                .unwrap()
                .contains("properties['ar_limit']")
        );
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values() {
        for text in [
            "identiy = \"email\"",
            "identity = \"phone\"",
            "[property_names]\nnope = \"x\"",
            "[property_names]\ncredit_limit = \"risk_score\"",
            "credit_limit_tiers = [{ name = \"all\", below = 5 }]",
            "credit_limit_tiers = [{ name = \"a\", below = 50 }, { name = \"b\", below = 10 }, { name = \"c\" }]",
            "[[segments]]\nname = \"x\"\nall = [{ property = \"loyalty_tier\", op = \"gte\", value = \"gold\" }]",
            "[[segments]]\nname = \"x\"\nall = [{ property = \"nope\", op = \"eq\", value = 1 }]",
            "single_write_threshold = 1000",
            "[client]\nmax_profiles_per_job = 20000",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn conditions_compare_written_values() {
        let settings = GatewaySettings::default();
        let names = settings.property_names();
        let vip = &settings.segments[1].all;
        let mut properties = serde_json::Map::new();
        properties.insert("credit_limit".into(), Value::from(60_000.0));
        properties.insert("on_time_rate_pct".into(), Value::from(90.0));
        assert!(vip.iter().all(|c| c.holds(&properties, &names)));
        properties.insert("on_time_rate_pct".into(), Value::from(89.9));
        assert!(!vip.iter().all(|c| c.holds(&properties, &names)));
        properties.remove("on_time_rate_pct");
        assert!(!vip.iter().all(|c| c.holds(&properties, &names)));
    }
}

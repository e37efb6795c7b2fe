//! Pure mapping of a score to the Klaviyo profiles it writes (`spec/klaviyo-sync.md`
//! "Identity" and "Profile properties"), and the digest that decides whether a profile
//! changed. No I/O.

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use ledgerlink_domain::{Contact, CustomerScore};
use ledgerlink_reminder_planner::is_usable_email;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Number, Value};

use crate::settings::{GatewaySettings, IdentityMode};

/// Every profile property the gateway writes, by default name, in the spec's order.
pub const PROPERTIES: [&str; 19] = [
    "netsuite_customer_id",
    "payment_terms",
    "payment_terms_days",
    "credit_limit",
    "credit_limit_tier",
    "outstanding_balance",
    "overdue_balance",
    "credit_utilization_pct",
    "days_past_due",
    "aging_bucket",
    "credit_hold",
    "account_standing",
    "behavior_segment",
    "loyalty_tier",
    "risk_score",
    "on_time_rate_pct",
    "avg_days_to_pay",
    "promotions_eligible",
    "ar_synced_at",
];

/// Left out of the digest: it changes on every run, and a profile whose receivables did
/// not move is not worth a write just to refresh it.
pub const SYNCED_AT: &str = "ar_synced_at";

/// Who a profile is in Klaviyo.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// The email address, when it identifies the profile.
    pub email: Option<String>,
    /// `netsuite:{customer id}`, when set.
    pub external_id: Option<String>,
}

/// One profile a score writes.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileTarget {
    /// The NetSuite customer.
    pub customer_id: String,
    /// The gateway's key of this profile: the customer id, or
    /// `{customer id}#contact:{contact id}` in `contacts` mode.
    pub key: String,
    /// Its identifiers.
    pub identity: Identity,
    /// Properties to set, by written name.
    pub set: Map<String, Value>,
    /// Properties that are undefined now, by written name.
    pub undefined: Vec<String>,
}

impl ProfileTarget {
    /// The digest of what this profile receives, `ar_synced_at` left out: a SHA-256 of
    /// the identity and the canonical (key-sorted) properties.
    pub fn digest(&self, synced_at_name: &str) -> String {
        let mut canonical: Map<String, Value> = Map::new();
        let mut keys: Vec<&String> = self.set.keys().filter(|k| k.as_str() != synced_at_name).collect();
        keys.sort();
        for key in keys {
            canonical.insert(key.clone(), self.set[key].clone());
        }
        let text = serde_json::json!({
            "email": self.identity.email,
            "external_id": self.identity.external_id,
            "properties": canonical,
        })
        .to_string();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
        digest.as_ref().iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// What to unset: the properties undefined now plus those written last time under
    /// names no longer set (a rename or a prefix change), sorted.
    pub fn unset(&self, previous_names: &[String]) -> Vec<String> {
        let mut unset: BTreeSet<String> = self.undefined.iter().cloned().collect();
        unset.extend(
            previous_names
                .iter()
                .filter(|name| !self.set.contains_key(name.as_str()))
                .cloned(),
        );
        unset.into_iter().collect()
    }
}

/// Why a customer gets no profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// No email on the customer.
    #[error("customer has no email")]
    NoEmail,
    /// An email that cannot be an address.
    #[error("customer email is malformed")]
    MalformedEmail,
    /// In `contacts` mode, no contact with a configured role and a usable email.
    #[error("no contact with a usable email in roles {0}")]
    NoContact(String),
}

/// The profiles a score writes, or why it writes none.
pub fn profiles_for(
    score: &CustomerScore,
    contacts: &[Contact],
    settings: &GatewaySettings,
    synced_at: DateTime<Utc>,
) -> Result<Vec<ProfileTarget>, SkipReason> {
    let (set, undefined) = properties(score, settings, synced_at);
    let customer_id = score.customer_id.clone();
    let external_id = format!("netsuite:{customer_id}");
    let target = |key: String, identity: Identity| ProfileTarget {
        customer_id: customer_id.clone(),
        key,
        identity,
        set: set.clone(),
        undefined: undefined.clone(),
    };
    match settings.identity {
        IdentityMode::Email => {
            let email = usable_email(score.customer.email.as_deref())?;
            Ok(vec![target(
                customer_id.clone(),
                Identity {
                    email: Some(email),
                    external_id: Some(external_id),
                },
            )])
        }
        IdentityMode::ExternalId => Ok(vec![target(
            customer_id.clone(),
            Identity {
                email: None,
                external_id: Some(external_id),
            },
        )]),
        IdentityMode::Contacts => {
            let targets: Vec<ProfileTarget> = contacts
                .iter()
                .filter(|contact| {
                    contact
                        .role
                        .as_deref()
                        .is_some_and(|role| settings.contact_roles.iter().any(|r| r.eq_ignore_ascii_case(role)))
                })
                .filter_map(|contact| {
                    let email = usable_email(Some(&contact.email)).ok()?;
                    Some(target(
                        format!("{customer_id}#contact:{}", contact.id),
                        Identity {
                            email: Some(email),
                            external_id: None,
                        },
                    ))
                })
                .collect();
            if targets.is_empty() {
                return Err(SkipReason::NoContact(settings.contact_roles.join(", ")));
            }
            Ok(targets)
        }
    }
}

fn usable_email(email: Option<&str>) -> Result<String, SkipReason> {
    let email = email
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .ok_or(SkipReason::NoEmail)?;
    if is_usable_email(email) {
        Ok(email.to_owned())
    } else {
        Err(SkipReason::MalformedEmail)
    }
}

/// The properties of a score by written name, and the written names of the properties
/// that are undefined for it.
pub fn properties(
    score: &CustomerScore,
    settings: &GatewaySettings,
    synced_at: DateTime<Utc>,
) -> (Map<String, Value>, Vec<String>) {
    let names = settings.property_names();
    let mut set = Map::new();
    let mut undefined = Vec::new();
    let mut put = |property: &str, value: Option<Value>| match value {
        Some(value) => {
            set.insert(names.name(property).to_owned(), value);
        }
        None => undefined.push(names.name(property).to_owned()),
    };
    let customer = &score.customer;
    let terms = customer.terms.as_ref();
    let standing = score.account_standing.as_str();
    let promotions_blocked =
        standing == "credit_hold" || (settings.payment_watch_blocks_promotions && standing == "payment_watch");

    put("netsuite_customer_id", Some(Value::from(score.customer_id.clone())));
    put("payment_terms", terms.map(|t| Value::from(t.name.clone())));
    put(
        "payment_terms_days",
        terms.and_then(|t| t.days_until_net_due).map(Value::from),
    );
    put("credit_limit", customer.credit_limit.map(|m| money(m.amount())));
    put(
        "credit_limit_tier",
        Some(Value::from(credit_tier(
            customer.credit_limit.map(|m| m.amount()),
            settings,
        ))),
    );
    put("outstanding_balance", Some(money(score.open_balance.amount())));
    put("overdue_balance", Some(money(score.overdue_balance.amount())));
    put(
        "credit_utilization_pct",
        score.credit_utilization.and_then(|u| one_decimal(u * 100.0)),
    );
    put("days_past_due", Some(Value::from(score.max_days_past_due)));
    put("aging_bucket", Some(Value::from(score.aging.worst_bucket())));
    put("credit_hold", Some(Value::Bool(score.effective_credit_hold)));
    put("account_standing", Some(Value::from(standing)));
    put("behavior_segment", Some(Value::from(score.behavior_segment.clone())));
    put("loyalty_tier", Some(Value::from(score.loyalty_tier.clone())));
    put("risk_score", Some(Value::from(score.risk_score)));
    put(
        "on_time_rate_pct",
        score.on_time_rate.and_then(|r| one_decimal(r * 100.0)),
    );
    put("avg_days_to_pay", score.avg_days_to_pay.and_then(one_decimal));
    put("promotions_eligible", Some(Value::Bool(!promotions_blocked)));
    put(
        SYNCED_AT,
        Some(Value::from(synced_at.to_rfc3339_opts(SecondsFormat::Secs, true))),
    );
    (set, undefined)
}

/// The band of a credit limit.
pub fn credit_tier(limit: Option<Decimal>, settings: &GatewaySettings) -> String {
    let Some(limit) = limit else {
        return settings.no_limit_tier.clone();
    };
    let limit = limit.to_f64().unwrap_or(f64::MAX);
    settings
        .credit_limit_tiers
        .iter()
        .find(|band| band.below.is_none_or(|below| limit < below))
        .map_or_else(|| settings.no_limit_tier.clone(), |band| band.name.clone())
}

/// Money as a JSON number with two decimals: Klaviyo segments compare numbers, not text.
fn money(amount: Decimal) -> Value {
    amount
        .round_dp(2)
        .to_f64()
        .and_then(Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// A ratio or mean as a JSON number with one decimal; `None` when not finite.
fn one_decimal(value: f64) -> Option<Value> {
    let rounded = (value * 10.0).round() / 10.0;
    Number::from_f64(rounded).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::testing::sample_score;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).single().expect("time")
    }

    #[test]
    fn every_property_of_the_spec_table_is_written() {
        let score = sample_score(
            "42",
            Some("ap@acme.example"),
            Some("30000"),
            Some(0.9166),
            "good_standing",
        );
        let (set, undefined) = properties(&score, &GatewaySettings::default(), at());
        let expected = json!({
            "netsuite_customer_id": "42",
            "payment_terms": "Net 30",
            "payment_terms_days": 30,
            "credit_limit": 30000.0,
            "credit_limit_tier": "10k_50k",
            "outstanding_balance": 12500.5,
            "overdue_balance": 2500.25,
            "credit_utilization_pct": 41.7,
            "days_past_due": 41,
            "aging_bucket": "d31_60",
            "credit_hold": false,
            "account_standing": "good_standing",
            "behavior_segment": "reliable_frequent",
            "loyalty_tier": "gold",
            "risk_score": 37,
            "on_time_rate_pct": 91.7,
            "avg_days_to_pay": 33.3,
            "promotions_eligible": true,
            "ar_synced_at": "2026-11-23T06:00:00Z",
        });
        assert_eq!(Value::Object(set.clone()), expected);
        assert!(undefined.is_empty(), "{undefined:?}");
        let mut names: Vec<&str> = set.keys().map(String::as_str).collect();
        let mut all = PROPERTIES.to_vec();
        names.sort_unstable();
        all.sort_unstable();
        assert_eq!(names, all);
    }

    #[test]
    fn undefined_metrics_are_absent_and_listed_to_unset() {
        let score = sample_score("7", Some("a@b.example"), None, None, "good_standing");
        let (set, undefined) = properties(&score, &GatewaySettings::default(), at());
        for name in [
            "credit_limit",
            "credit_utilization_pct",
            "on_time_rate_pct",
            "avg_days_to_pay",
        ] {
            assert!(!set.contains_key(name), "{name}");
            assert!(undefined.iter().any(|u| u == name), "{name}");
        }
        assert_eq!(set["credit_limit_tier"], json!("none"));
    }

    #[test]
    fn credit_tiers_follow_the_bands() {
        let settings = GatewaySettings::default();
        for (limit, tier) in [
            (None, "none"),
            (Some("0"), "under_10k"),
            (Some("9999.99"), "under_10k"),
            (Some("10000"), "10k_50k"),
            (Some("49999.99"), "10k_50k"),
            (Some("50000"), "50k_plus"),
            (Some("1000000"), "50k_plus"),
        ] {
            let limit = limit.map(|l| l.parse::<Decimal>().expect("decimal"));
            assert_eq!(credit_tier(limit, &settings), tier, "{limit:?}");
        }
    }

    #[test]
    fn promotions_follow_the_standing_and_the_payment_watch_switch() {
        let mut settings = GatewaySettings::default();
        for (standing, watch_blocks, eligible) in [
            ("good_standing", false, true),
            ("credit_hold", false, false),
            ("payment_watch", false, true),
            ("payment_watch", true, false),
            ("credit_hold", true, false),
        ] {
            settings.payment_watch_blocks_promotions = watch_blocks;
            let score = sample_score("1", Some("a@b.example"), None, None, standing);
            let (set, _) = properties(&score, &settings, at());
            assert_eq!(set["promotions_eligible"], json!(eligible), "{standing} {watch_blocks}");
            assert_eq!(set["credit_hold"], json!(standing == "credit_hold"));
        }
    }

    #[test]
    fn identity_depends_on_the_mode_and_unusable_emails_skip() {
        let mut settings = GatewaySettings::default();
        type Case<'a> = (Option<&'a str>, Result<Option<&'a str>, SkipReason>);
        let cases: [Case<'_>; 4] = [
            (Some(" ap@acme.example "), Ok(Some("ap@acme.example"))),
            (None, Err(SkipReason::NoEmail)),
            (Some("  "), Err(SkipReason::NoEmail)),
            (Some("n/a"), Err(SkipReason::MalformedEmail)),
        ];
        for (email, expected) in cases {
            let score = sample_score("9", email, None, None, "good_standing");
            let got = profiles_for(&score, &[], &settings, at()).map(|t| t[0].identity.email.clone());
            assert_eq!(got, expected.map(|e| e.map(str::to_owned)), "{email:?}");
        }
        settings.identity = IdentityMode::ExternalId;
        let score = sample_score("9", None, None, None, "good_standing");
        let targets = profiles_for(&score, &[], &settings, at()).expect("external id mode never skips");
        assert_eq!(
            targets[0].identity,
            Identity {
                email: None,
                external_id: Some("netsuite:9".to_owned())
            }
        );
    }

    #[test]
    fn contacts_mode_writes_one_profile_per_contact_in_a_configured_role() {
        let settings = GatewaySettings {
            identity: IdentityMode::Contacts,
            contact_roles: vec!["Primary".to_owned(), "Accounts Payable".to_owned()],
            ..GatewaySettings::default()
        };
        let contact = |id: &str, email: &str, role: Option<&str>| Contact {
            id: id.to_owned(),
            email: email.to_owned(),
            role: role.map(str::to_owned),
        };
        let contacts = [
            contact("1", "ap@acme.example", Some("accounts payable")),
            contact("2", "ceo@acme.example", Some("Executive")),
            contact("3", "bad", Some("Primary")),
            contact("4", "buyer@acme.example", Some("Primary")),
        ];
        let score = sample_score("5", None, None, None, "good_standing");
        let targets = profiles_for(&score, &contacts, &settings, at()).expect("two contacts");
        let keys: Vec<&str> = targets.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["5#contact:1", "5#contact:4"]);
        assert!(matches!(
            profiles_for(&score, &contacts[1..3], &settings, at()),
            Err(SkipReason::NoContact(_))
        ));
    }

    #[test]
    fn the_digest_ignores_the_sync_time_but_not_values_or_identity() {
        let settings = GatewaySettings::default();
        let score = sample_score("3", Some("a@b.example"), Some("5000"), Some(0.5), "good_standing");
        let first = &profiles_for(&score, &[], &settings, at()).expect("profile")[0];
        let later = &profiles_for(&score, &[], &settings, at() + chrono::Duration::days(1)).expect("profile")[0];
        assert_eq!(first.digest(SYNCED_AT), later.digest(SYNCED_AT));
        let changed = sample_score("3", Some("a@b.example"), Some("5001"), Some(0.5), "good_standing");
        let changed = &profiles_for(&changed, &[], &settings, at()).expect("profile")[0];
        assert_ne!(first.digest(SYNCED_AT), changed.digest(SYNCED_AT));
        let moved = sample_score("3", Some("c@b.example"), Some("5000"), Some(0.5), "good_standing");
        let moved = &profiles_for(&moved, &[], &settings, at()).expect("profile")[0];
        assert_ne!(first.digest(SYNCED_AT), moved.digest(SYNCED_AT));
    }

    #[test]
    fn names_are_renamed_prefixed_and_stale_names_unset() {
        let settings = GatewaySettings {
            property_prefix: "ar_".to_owned(),
            property_names: [("credit_limit".to_owned(), "limit".to_owned())].into(),
            ..GatewaySettings::default()
        };
        let score = sample_score("3", Some("a@b.example"), Some("5000"), None, "good_standing");
        let target = &profiles_for(&score, &[], &settings, at()).expect("profile")[0];
        assert_eq!(target.set["ar_limit"], json!(5000.0));
        assert!(target.set.contains_key("ar_ar_synced_at"));
        let unset = target.unset(&["credit_limit".to_owned(), "ar_limit".to_owned()]);
        assert_eq!(unset, ["ar_avg_days_to_pay", "ar_on_time_rate_pct", "credit_limit"]);
    }
}

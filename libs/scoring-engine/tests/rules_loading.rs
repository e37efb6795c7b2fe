//! Loading rules files: both formats, and refusals with line numbers.

use ledgerlink_scoring_engine::{DEFAULT_RULES_TOML, Dimension, Rules, RulesErrorKind, RulesFormat};

const YAML_DEFAULTS: &str = r#"
account_standing:
  - segment: credit_hold
    when: effective_credit_hold
  - segment: payment_watch
    when: "max_days_past_due > 30 || credit_utilization > 0.9 || (paid_count >= 3 && on_time_rate < 0.7)"
  - segment: high_credit_vip
    when: "credit_limit >= 50000 && max_days_past_due == 0 && paid_count >= 3 && on_time_rate >= 0.9"
  - segment: standard
    when: true
behavior_segment:
  - segment: at_risk
    when: "orders_declining && (payment_trend > 5 || max_days_past_due > 30)"
  - segment: declining_engagement
    when: "orders_declining && (avg_days_late > 0 || max_days_past_due > 0)"
  - segment: high_value_slow_pay
    when: "avg_order_value >= 10000 && avg_days_late > 10"
  - segment: reliable_frequent
    when: "orders_per_month >= 2 && on_time_rate >= 0.9 && payment_consistency <= 5"
  - segment: unclassified
    when: true
loyalty_tier:
  - segment: none
    when: "credit_limit == null || credit_limit == 0"
  - segment: platinum
    when: "credit_utilization < 0.30 && (avg_days_late == null || avg_days_late <= 0)"
  - segment: standard
    when: "credit_utilization > 0.70"
  - segment: gold
    when: true
"#;

fn segments_and_conditions(rules: &Rules) -> Vec<(String, String)> {
    Dimension::ALL
        .iter()
        .flat_map(|&d| {
            rules
                .rules(d)
                .iter()
                .map(|r| (r.segment().to_owned(), r.condition().to_owned()))
        })
        .collect()
}

#[test]
fn defaults_load_and_follow_the_spec_order() {
    let rules = Rules::default();
    assert_eq!(
        rules.segments(Dimension::AccountStanding),
        ["credit_hold", "payment_watch", "high_credit_vip", "standard"]
    );
    assert_eq!(
        rules.segments(Dimension::BehaviorSegment),
        [
            "at_risk",
            "declining_engagement",
            "high_value_slow_pay",
            "reliable_frequent",
            "unclassified"
        ]
    );
    assert_eq!(
        rules.segments(Dimension::LoyaltyTier),
        ["none", "platinum", "standard", "gold"]
    );
    for dimension in Dimension::ALL {
        assert_eq!(rules.rules(dimension).last().unwrap().condition(), "true");
    }
}

#[test]
fn yaml_and_toml_describe_the_same_rules() {
    let from_yaml = Rules::from_yaml_str(YAML_DEFAULTS).unwrap();
    let from_toml = Rules::parse(DEFAULT_RULES_TOML, RulesFormat::Toml).unwrap();
    assert_eq!(segments_and_conditions(&from_yaml), segments_and_conditions(&from_toml));
    assert_eq!(from_yaml.rules(Dimension::AccountStanding)[1].line(), 6);
}

#[test]
fn format_follows_the_extension() {
    assert_eq!(RulesFormat::from_extension("YML"), Some(RulesFormat::Yaml));
    assert_eq!(RulesFormat::from_extension("toml"), Some(RulesFormat::Toml));
    assert_eq!(RulesFormat::from_extension("json"), None);
}

const TAIL: &str =
    "[[behavior_segment]]\nsegment = \"b\"\nwhen = true\n[[loyalty_tier]]\nsegment = \"l\"\nwhen = true\n";

fn toml_with_standing(rules: &str) -> String {
    format!("{rules}{TAIL}")
}

#[test]
fn bad_toml_syntax_names_the_line() {
    let error = Rules::from_toml_str("# comment\n\n[[account_standing]\nsegment = 1\n").unwrap_err();
    assert_eq!(error.line, 3);
    assert!(matches!(error.kind, RulesErrorKind::Syntax(_)), "{error}");
}

#[test]
fn bad_condition_syntax_names_the_line() {
    let text = toml_with_standing(
        "[[account_standing]]\nsegment = \"a\"\nwhen = \"paid_count >\"\n[[account_standing]]\nsegment = \"b\"\nwhen = true\n",
    );
    let error = Rules::from_toml_str(&text).unwrap_err();
    assert_eq!(error.line, 3);
    assert!(matches!(error.kind, RulesErrorKind::ConditionSyntax { .. }), "{error}");
    assert!(
        error
            .to_string()
            .starts_with("rules file line 3: condition does not parse"),
        "{error}"
    );
}

#[test]
fn unknown_metric_names_line_and_name() {
    let text = toml_with_standing(
        "[[account_standing]]\nsegment = \"a\"\nwhen = true\n",
    )
    .replace(
        "[[loyalty_tier]]\nsegment = \"l\"\nwhen = true\n",
        "[[loyalty_tier]]\nsegment = \"l\"\nwhen = \"credit_score > 3\"\n[[loyalty_tier]]\nsegment = \"m\"\nwhen = true\n",
    );
    let error = Rules::from_toml_str(&text).unwrap_err();
    assert_eq!(error.line, 9);
    assert_eq!(
        error.kind,
        RulesErrorKind::UnknownVariable {
            name: "credit_score".into()
        }
    );
    assert!(error.reason().contains("credit_score"));

    let yaml = YAML_DEFAULTS.replace("avg_order_value >= 10000", "avg_ordr_value >= 10000");
    let error = Rules::from_yaml_str(&yaml).unwrap_err();
    assert_eq!(error.line, 17);
    assert_eq!(
        error.kind,
        RulesErrorKind::UnknownVariable {
            name: "avg_ordr_value".into()
        }
    );
}

#[test]
fn unknown_metric_inside_a_multi_line_condition_names_its_own_line() {
    let text = toml_with_standing(
        "[[account_standing]]\nsegment = \"a\"\nwhen = \"\"\"\npaid_count > 1 &&\n  aging.d100_plus > 0\"\"\"\n[[account_standing]]\nsegment = \"b\"\nwhen = true\n",
    );
    let error = Rules::from_toml_str(&text).unwrap_err();
    assert_eq!(error.line, 5);
    assert_eq!(
        error.kind,
        RulesErrorKind::UnknownVariable {
            name: "aging.d100_plus".into()
        }
    );
}

#[test]
fn unknown_dimension_names_the_line() {
    let text = format!("{DEFAULT_RULES_TOML}\n[[tier]]\nsegment = \"x\"\nwhen = true\n");
    let line = text.lines().position(|l| l == "[[tier]]").unwrap() + 1;
    let error = Rules::from_toml_str(&text).unwrap_err();
    assert_eq!(error.line, line);
    assert_eq!(error.kind, RulesErrorKind::UnknownDimension { name: "tier".into() });

    let yaml = format!("{YAML_DEFAULTS}tier:\n  - segment: x\n    when: true\n");
    let error = Rules::from_yaml_str(&yaml).unwrap_err();
    assert_eq!(error.line, 31);
    assert_eq!(error.kind, RulesErrorKind::UnknownDimension { name: "tier".into() });
}

#[test]
fn bad_yaml_names_the_line() {
    let error = Rules::from_yaml_str("account_standing:\n  - segment: a\n    wen: true\n").unwrap_err();
    assert_eq!(error.line, 3);
    assert!(error.reason().contains("wen"), "{error}");
    let error = Rules::from_yaml_str("account_standing:\n  - segment: [a\n").unwrap_err();
    assert!(error.line >= 2, "{error}");
}

#[test]
fn unsupported_and_ill_typed_conditions_are_refused() {
    let cases = [
        ("size(currency) > 3", "unsupported function `size`"),
        ("currency.startsWith('U')", "method calls are not supported"),
        ("[1, 2].all(x, x > 0)", "macros"),
        ("has(aging.current)", "has() is not supported"),
        ("open_balance", "must be true or false"),
        ("currency > 3", "cannot compare text with number"),
        ("paid_count && true", "`&&` needs true/false operands"),
        ("aging > 3", "aging is an object"),
        (
            "effective_credit_hold < true",
            "cannot compare true/false with true/false using `<`",
        ),
        ("currency in [1]", "`in` list holds a number where a text was expected"),
    ];
    for (condition, reason) in cases {
        let text = toml_with_standing(&format!(
            "[[account_standing]]\nsegment = \"a\"\nwhen = \"{}\"\n[[account_standing]]\nsegment = \"b\"\nwhen = true\n",
            condition.replace('"', "\\\"")
        ));
        let error = Rules::from_toml_str(&text).unwrap_err();
        assert_eq!(error.line, 3, "{condition}: {error}");
        assert!(error.reason().contains(reason), "{condition}: {error}");
    }
}

#[test]
fn each_dimension_needs_a_final_true_rule_and_nothing_after_it() {
    let no_fallback = toml_with_standing("[[account_standing]]\nsegment = \"a\"\nwhen = \"paid_count > 1\"\n");
    let error = Rules::from_toml_str(&no_fallback).unwrap_err();
    assert_eq!(
        (error.line, error.kind),
        (
            3,
            RulesErrorKind::NoFallback {
                dimension: Dimension::AccountStanding
            }
        )
    );

    let unreachable = toml_with_standing(
        "[[account_standing]]\nsegment = \"a\"\nwhen = true\n[[account_standing]]\nsegment = \"b\"\nwhen = true\n",
    );
    let error = Rules::from_toml_str(&unreachable).unwrap_err();
    assert_eq!(
        (error.line, error.kind),
        (
            6,
            RulesErrorKind::Unreachable {
                dimension: Dimension::AccountStanding
            }
        )
    );
}

#[test]
fn all_three_dimensions_are_required() {
    let error = Rules::from_toml_str("[[account_standing]]\nsegment = \"a\"\nwhen = true\n").unwrap_err();
    assert_eq!(
        error.kind,
        RulesErrorKind::MissingDimension {
            dimension: Dimension::BehaviorSegment
        }
    );
    let error = Rules::from_toml_str(&toml_with_standing("account_standing = []\n")).unwrap_err();
    assert_eq!(
        (error.line, error.kind),
        (
            1,
            RulesErrorKind::EmptyDimension {
                dimension: Dimension::AccountStanding
            }
        )
    );
}

#[test]
fn segment_names_are_checked() {
    let text = toml_with_standing("[[account_standing]]\nsegment = \"on hold\"\nwhen = true\n");
    let error = Rules::from_toml_str(&text).unwrap_err();
    assert_eq!(
        (error.line, error.kind),
        (2, RulesErrorKind::InvalidSegment { name: "on hold".into() })
    );
}

#[test]
fn short_dimension_names_are_accepted() {
    let text = "[[standing]]\nsegment = \"a\"\nwhen = true\n[[behavior]]\nsegment = \"b\"\nwhen = true\n[[loyalty]]\nsegment = \"c\"\nwhen = true\n";
    let rules = Rules::from_toml_str(text).unwrap();
    assert_eq!(rules.segments(Dimension::LoyaltyTier), ["c"]);
}

#[test]
fn every_problem_of_a_file_is_reported_in_line_order() {
    let text = r#"
account_standing:
  - segment: "bad name!"
    when: max_days_past_due > 30
  - segment: watch
    when: "max_days_past_due >"
  - segment: standard
    when: true
  - segment: after_the_fallback
    when: true
behavior_segment:
  - segment: slow
    when: days_late_forever > 3
"#;
    let problems = Rules::problems(text, RulesFormat::Yaml);
    let kinds: Vec<(usize, &RulesErrorKind)> = problems.iter().map(|p| (p.line, &p.kind)).collect();
    assert!(
        matches!(
            kinds.as_slice(),
            [
                (3, RulesErrorKind::InvalidSegment { .. }),
                (6, RulesErrorKind::ConditionSyntax { .. }),
                (10, RulesErrorKind::Unreachable { .. }),
                (13, RulesErrorKind::UnknownVariable { .. }),
                (
                    1,
                    RulesErrorKind::MissingDimension {
                        dimension: Dimension::LoyaltyTier
                    }
                ),
            ]
        ),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| matches!(&p.kind, RulesErrorKind::UnknownVariable { name } if name == "days_late_forever"))
    );
    // The single-error API reports the first of them.
    let first = Rules::parse(text, RulesFormat::Yaml).unwrap_err();
    assert_eq!(first.line, problems[0].line);
    assert!(Rules::problems(DEFAULT_RULES_TOML, RulesFormat::Toml).is_empty());
}

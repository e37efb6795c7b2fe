//! Segment rules as data: loading, validation and evaluation (§4).
//!
//! A rules file has one array of rules per dimension; each rule names a segment and a
//! CEL condition (`when`). Rules are tried in order and the first match wins:
//!
//! ```toml
//! [[account_standing]]
//! segment = "credit_hold"
//! when = "effective_credit_hold"
//! ```
//!
//! Everything is checked at load: syntax, variable names, types, and that the last
//! rule of each dimension is `true`. Errors carry the line in the rules file.

mod expr;

use std::fmt;

use cel::common::ast::SourceInfo;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::vars::{Facts, Var};
use expr::{BoolExpr, CompileReason};

/// The default rules of `spec/scoring.md` §4.
pub const DEFAULT_RULES_TOML: &str = include_str!("../../rules/default.toml");

/// One of the three independent segment dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// `account_standing`: credit hold, payment watch, VIP, standard.
    AccountStanding,
    /// `behavior_segment`: ordering and paying behaviour.
    BehaviorSegment,
    /// `loyalty_tier`: platinum, gold, standard, none.
    LoyaltyTier,
}

impl Dimension {
    /// All dimensions, in output order.
    pub const ALL: [Dimension; 3] = [
        Dimension::AccountStanding,
        Dimension::BehaviorSegment,
        Dimension::LoyaltyTier,
    ];

    /// Returns the name used in rules files and in the score output.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::AccountStanding => "account_standing",
            Dimension::BehaviorSegment => "behavior_segment",
            Dimension::LoyaltyTier => "loyalty_tier",
        }
    }

    /// Finds a dimension by its name; the spec's short names (`standing`, `behavior`,
    /// `loyalty`) are accepted too.
    pub fn from_name(name: &str) -> Option<Dimension> {
        match name {
            "account_standing" | "standing" => Some(Dimension::AccountStanding),
            "behavior_segment" | "behavior" | "behaviour" => Some(Dimension::BehaviorSegment),
            "loyalty_tier" | "loyalty" => Some(Dimension::LoyaltyTier),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The syntax of a rules file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesFormat {
    /// TOML (`.toml`).
    Toml,
    /// YAML (`.yaml`, `.yml`).
    Yaml,
}

impl RulesFormat {
    /// Returns the format for a file extension (without the dot), if known.
    pub fn from_extension(extension: &str) -> Option<RulesFormat> {
        match extension.to_ascii_lowercase().as_str() {
            "toml" => Some(RulesFormat::Toml),
            "yaml" | "yml" => Some(RulesFormat::Yaml),
            _ => None,
        }
    }
}

/// A rules file that cannot be used, with the line (1-based) where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rules file line {line}: {kind}")]
pub struct RulesError {
    /// The line in the rules file.
    pub line: usize,
    /// What is wrong.
    pub kind: RulesErrorKind,
}

impl RulesError {
    /// Returns the reason alone, without the line.
    pub fn reason(&self) -> String {
        self.kind.to_string()
    }
}

/// What is wrong with a rules file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesErrorKind {
    /// The file is not valid TOML/YAML, or not shaped like a rules file.
    #[error("{0}")]
    Syntax(String),
    /// A top-level key that is not a dimension.
    #[error("unknown dimension `{name}` (expected account_standing, behavior_segment or loyalty_tier)")]
    UnknownDimension {
        /// The key as written.
        name: String,
    },
    /// A dimension given twice.
    #[error("dimension `{dimension}` is given twice")]
    DuplicateDimension {
        /// The repeated dimension.
        dimension: Dimension,
    },
    /// A dimension without rules.
    #[error("dimension `{dimension}` is missing: a rules file must define all three dimensions")]
    MissingDimension {
        /// The missing dimension.
        dimension: Dimension,
    },
    /// A dimension with an empty list of rules.
    #[error("dimension `{dimension}` has no rules")]
    EmptyDimension {
        /// The empty dimension.
        dimension: Dimension,
    },
    /// A segment name that is empty or holds characters other than letters, digits, `_`, `-`.
    #[error("invalid segment name {name:?}: use letters, digits, `_` and `-`")]
    InvalidSegment {
        /// The name as written.
        name: String,
    },
    /// A condition that is not valid CEL.
    #[error("condition does not parse: {reason}")]
    ConditionSyntax {
        /// The parser's message.
        reason: String,
    },
    /// A condition naming a variable that does not exist.
    #[error("unknown metric or variable `{name}`")]
    UnknownVariable {
        /// The name as written.
        name: String,
    },
    /// A condition that parses but is not supported or does not type-check.
    #[error("invalid condition: {reason}")]
    InvalidCondition {
        /// Why.
        reason: String,
    },
    /// The last rule of a dimension is not the literal `true`.
    #[error("the last rule of `{dimension}` must be `true` so that every customer gets a segment")]
    NoFallback {
        /// The dimension.
        dimension: Dimension,
    },
    /// A rule after an always-true rule.
    #[error("this rule can never match: an earlier rule of `{dimension}` is always true")]
    Unreachable {
        /// The dimension.
        dimension: Dimension,
    },
}

/// One rule: a segment and the condition that assigns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    segment: String,
    condition: String,
    line: usize,
    expr: BoolExpr,
    reads: Vec<Var>,
}

impl Rule {
    /// The segment this rule assigns.
    pub fn segment(&self) -> &str {
        &self.segment
    }

    /// The condition as written in the rules file.
    pub fn condition(&self) -> &str {
        &self.condition
    }

    /// The line of the condition in the rules file.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The names of the variables the condition reads (helpers with their inputs).
    pub fn reads(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.reads.iter().map(|var| var.name())
    }
}

#[derive(Debug, Clone, PartialEq)]
struct DimensionRules {
    rules: Vec<Rule>,
    /// For rule `i`, the variables read by rules `0..=i`, sorted: what an
    /// explanation shows when rule `i` matches.
    reads_through: Vec<Vec<Var>>,
}

/// A validated set of segment rules for all three dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    dimensions: [DimensionRules; 3],
}

impl Default for Rules {
    /// The spec's default rules.
    fn default() -> Self {
        Rules::from_toml_str(DEFAULT_RULES_TOML)
            .unwrap_or_else(|error| panic!("the embedded default rules are invalid: {error}"))
    }
}

impl Rules {
    /// Loads rules from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Rules, RulesError> {
        Rules::parse(text, RulesFormat::Toml)
    }

    /// Loads rules from YAML text.
    pub fn from_yaml_str(text: &str) -> Result<Rules, RulesError> {
        Rules::parse(text, RulesFormat::Yaml)
    }

    /// Loads rules from text in the given format; the error is the first problem.
    pub fn parse(text: &str, format: RulesFormat) -> Result<Rules, RulesError> {
        Rules::parse_all(text, format).map_err(|mut problems| problems.swap_remove(0))
    }

    /// Every problem of a rules text, in line order, then the dimensions it leaves out;
    /// empty when the rules load. A file that is not valid TOML or YAML at all has one
    /// problem, where the parser stopped.
    pub fn problems(text: &str, format: RulesFormat) -> Vec<RulesError> {
        Rules::parse_all(text, format).err().unwrap_or_default()
    }

    fn parse_all(text: &str, format: RulesFormat) -> Result<Rules, Vec<RulesError>> {
        let raw = match format {
            RulesFormat::Toml => read_toml(text),
            RulesFormat::Yaml => read_yaml(text),
        }
        .map_err(|problem| vec![problem])?;
        build(raw).map_err(|mut problems| {
            // A missing dimension has no line of its own; what is wrong in the text
            // comes first.
            problems.sort_by_key(|problem| {
                (
                    matches!(problem.kind, RulesErrorKind::MissingDimension { .. }),
                    problem.line,
                )
            });
            problems
        })
    }

    /// The rules of one dimension, in evaluation order.
    pub fn rules(&self, dimension: Dimension) -> &[Rule] {
        &self.dimensions[dimension.index()].rules
    }

    /// The distinct segments of one dimension, in rule order.
    pub fn segments(&self, dimension: Dimension) -> Vec<&str> {
        let mut segments: Vec<&str> = Vec::new();
        for rule in self.rules(dimension) {
            if !segments.contains(&rule.segment()) {
                segments.push(rule.segment());
            }
        }
        segments
    }

    /// Returns the index of the first matching rule; the last rule always matches.
    pub(crate) fn first_match(&self, dimension: Dimension, facts: &Facts<'_>) -> usize {
        let rules = &self.dimensions[dimension.index()].rules;
        rules
            .iter()
            .position(|rule| rule.expr.eval(facts))
            .unwrap_or(rules.len() - 1)
    }

    /// The variables an explanation shows when rule `index` matched.
    pub(crate) fn reads_through(&self, dimension: Dimension, index: usize) -> &[Var] {
        &self.dimensions[dimension.index()].reads_through[index]
    }
}

/// A rules file before validation, with lines resolved.
struct RawFile {
    dimensions: Vec<RawDimension>,
}

struct RawDimension {
    name: String,
    line: usize,
    rules: Vec<RawRule>,
}

struct RawRule {
    segment: String,
    segment_line: usize,
    condition: String,
    /// The line on which the condition text itself starts.
    condition_line: usize,
}

/// Validates the whole file, collecting every problem rather than stopping at the first,
/// so one validation shows an editor all that is wrong.
fn build(raw: RawFile) -> Result<Rules, Vec<RulesError>> {
    let mut problems = Vec::new();
    let mut slots: [Option<DimensionRules>; 3] = [None, None, None];
    let mut seen = [false; 3];
    for raw_dimension in raw.dimensions {
        let Some(dimension) = Dimension::from_name(&raw_dimension.name) else {
            problems.push(RulesError {
                line: raw_dimension.line,
                kind: RulesErrorKind::UnknownDimension {
                    name: raw_dimension.name,
                },
            });
            continue;
        };
        if std::mem::replace(&mut seen[dimension.index()], true) {
            problems.push(RulesError {
                line: raw_dimension.line,
                kind: RulesErrorKind::DuplicateDimension { dimension },
            });
            continue;
        }
        slots[dimension.index()] = build_dimension(dimension, raw_dimension, &mut problems);
    }
    for dimension in [
        Dimension::AccountStanding,
        Dimension::BehaviorSegment,
        Dimension::LoyaltyTier,
    ] {
        if !seen[dimension.index()] {
            problems.push(RulesError {
                line: 1,
                kind: RulesErrorKind::MissingDimension { dimension },
            });
        }
    }
    match slots {
        [Some(standing), Some(behavior), Some(loyalty)] if problems.is_empty() => Ok(Rules {
            dimensions: [standing, behavior, loyalty],
        }),
        _ => Err(problems),
    }
}

/// The dimension's rules, or `None` with its problems added to `problems`.
fn build_dimension(dimension: Dimension, raw: RawDimension, problems: &mut Vec<RulesError>) -> Option<DimensionRules> {
    if raw.rules.is_empty() {
        problems.push(RulesError {
            line: raw.line,
            kind: RulesErrorKind::EmptyDimension { dimension },
        });
        return None;
    }
    let found_before = problems.len();
    let count = raw.rules.len();
    let mut rules: Vec<Rule> = Vec::with_capacity(count);
    let mut reads_through = Vec::with_capacity(count);
    let mut reads_so_far: Vec<Var> = Vec::new();
    let mut fallback_seen = false;
    let mut last_compiled = false;
    for raw_rule in raw.rules {
        if !valid_segment_name(&raw_rule.segment) {
            problems.push(RulesError {
                line: raw_rule.segment_line,
                kind: RulesErrorKind::InvalidSegment {
                    name: raw_rule.segment.clone(),
                },
            });
        }
        if fallback_seen {
            problems.push(RulesError {
                line: raw_rule.condition_line,
                kind: RulesErrorKind::Unreachable { dimension },
            });
        }
        last_compiled = false;
        match compile_rule(raw_rule) {
            Ok(rule) => {
                fallback_seen |= rule.expr == BoolExpr::Const(true);
                reads_so_far.extend_from_slice(&rule.reads);
                reads_so_far.sort();
                reads_so_far.dedup();
                reads_through.push(reads_so_far.clone());
                rules.push(rule);
                last_compiled = true;
            }
            Err(problem) => problems.push(problem),
        }
    }
    // Only a last rule that compiled can be judged; a broken one is reported already.
    if last_compiled
        && let Some(last) = rules.last()
        && last.expr != BoolExpr::Const(true)
    {
        problems.push(RulesError {
            line: last.line,
            kind: RulesErrorKind::NoFallback { dimension },
        });
    }
    (problems.len() == found_before).then_some(DimensionRules { rules, reads_through })
}

fn valid_segment_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn compile_rule(raw: RawRule) -> Result<Rule, RulesError> {
    let line_at_offset = |offset: Option<usize>| {
        let within = offset.map_or(0, |offset| {
            raw.condition[..offset.min(raw.condition.len())].matches('\n').count()
        });
        raw.condition_line + within
    };
    let (ast, source): (_, SourceInfo) = cel::parser::Parser::new()
        .parse_with_source_info(&raw.condition)
        .map_err(|errors| {
            let first = errors.errors.first();
            let line_within = first
                .map(|error| usize::try_from(error.pos.0).unwrap_or(1).max(1) - 1)
                .unwrap_or(0);
            let reason = first.map_or_else(
                || "unknown parse error".to_owned(),
                |error| format!("{} at column {}", error.msg, error.pos.1.max(1)),
            );
            RulesError {
                line: raw.condition_line + line_within,
                kind: RulesErrorKind::ConditionSyntax { reason },
            }
        })?;
    let compiled = expr::compile(&ast, &source).map_err(|error| RulesError {
        line: line_at_offset(error.offset),
        kind: match error.reason {
            CompileReason::UnknownVariable(name) => RulesErrorKind::UnknownVariable { name },
            CompileReason::Invalid(reason) => RulesErrorKind::InvalidCondition { reason },
        },
    })?;
    Ok(Rule {
        segment: raw.segment,
        condition: raw.condition,
        line: raw.condition_line,
        expr: compiled.expr,
        reads: compiled.reads,
    })
}

/// A condition, written as a string or (for `true`/`false`) as a bare boolean.
struct ConditionText(String);

impl<'de> Deserialize<'de> for ConditionText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl Visitor<'_> for TextVisitor {
            type Value = ConditionText;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a condition as a string, or true")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<ConditionText, E> {
                Ok(ConditionText(value.to_owned()))
            }

            fn visit_bool<E: de::Error>(self, value: bool) -> Result<ConditionText, E> {
                Ok(ConditionText(value.to_string()))
            }
        }

        deserializer.deserialize_any(TextVisitor)
    }
}

/// The top-level map, keeping duplicate and unknown keys for our own checks.
struct Entries<K, V>(Vec<(K, V)>);

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Entries<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<K, V>(std::marker::PhantomData<(K, V)>);

        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<K, V> {
            type Value = Entries<K, V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from dimension to a list of rules")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlRule {
    segment: toml::Spanned<String>,
    when: toml::Spanned<ConditionText>,
}

fn read_toml(text: &str) -> Result<RawFile, RulesError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let entries: Entries<toml::Spanned<String>, Vec<TomlRule>> = toml::from_str(text).map_err(|error| RulesError {
        line: error.span().map_or(1, |span| line_of(span.start)),
        kind: RulesErrorKind::Syntax(error.message().trim().to_owned()),
    })?;
    let dimensions = entries
        .0
        .into_iter()
        .map(|(name, rules)| RawDimension {
            line: line_of(name.span().start),
            name: name.into_inner(),
            rules: rules
                .into_iter()
                .map(|rule| {
                    let when_span = rule.when.span();
                    // A multi-line string drops the newline right after its opening quotes.
                    let raw = &text[when_span.start.min(text.len())..];
                    let skipped_newline = ["\"\"\"\n", "'''\n", "\"\"\"\r\n", "'''\r\n"]
                        .iter()
                        .any(|opening| raw.starts_with(opening));
                    RawRule {
                        segment_line: line_of(rule.segment.span().start),
                        segment: rule.segment.into_inner(),
                        condition_line: line_of(when_span.start) + usize::from(skipped_newline),
                        condition: rule.when.into_inner().0,
                    }
                })
                .collect(),
        })
        .collect();
    Ok(RawFile { dimensions })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlRule {
    segment: serde_saphyr::Spanned<String>,
    when: serde_saphyr::Spanned<ConditionText>,
}

fn read_yaml(text: &str) -> Result<RawFile, RulesError> {
    let entries: Entries<serde_saphyr::Spanned<String>, Vec<YamlRule>> =
        serde_saphyr::from_str(text).map_err(|error| RulesError {
            line: error
                .location()
                .map_or(1, |location| usize::try_from(location.line()).unwrap_or(1).max(1)),
            kind: RulesErrorKind::Syntax(yaml_reason(&error)),
        })?;
    let line = |location: &serde_saphyr::Location| usize::try_from(location.line()).unwrap_or(1).max(1);
    let dimensions = entries
        .0
        .into_iter()
        .map(|(name, rules)| RawDimension {
            line: line(&name.referenced),
            name: name.value,
            rules: rules
                .into_iter()
                .map(|rule| RawRule {
                    segment_line: line(&rule.segment.referenced),
                    segment: rule.segment.value,
                    condition_line: line(&rule.when.referenced),
                    condition: rule.when.value.0,
                })
                .collect(),
        })
        .collect();
    Ok(RawFile { dimensions })
}

/// The first line of the YAML error, without the location the error already carries.
fn yaml_reason(error: &serde_saphyr::Error) -> String {
    let text = error.to_string();
    let first_line = text.lines().next().unwrap_or_default().trim();
    let without_label = first_line.strip_prefix("error: ").unwrap_or(first_line);
    match without_label.split_once(": ") {
        Some((location, reason)) if location.starts_with("line ") => reason.to_owned(),
        _ => without_label.to_owned(),
    }
}

//! Klaviyo's `filter` query parameter: `equals(email,"a@b.com")`,
//! `any(external_id,["1","2"])`, `greater-than(created,2024-01-01T00:00:00Z)`,
//! combined with `and(...)` or top-level commas.

use serde_json::Value;

/// One `operator(field,value)` term; terms of a filter are combined with AND.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// `equals`, `any`, `greater-than`, ...
    pub operator: String,
    /// The field, for example `email` or `integration.name`.
    pub field: String,
    /// A string, number, boolean, or an array of those for `any`; unquoted datetimes stay strings.
    pub value: Value,
}

/// Parses a filter expression into AND-ed terms.
pub fn parse(input: &str) -> Result<Vec<Term>, String> {
    let mut p = Parser {
        s: input.as_bytes(),
        i: 0,
    };
    let terms = p.terms()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected input at position {}", p.i));
    }
    Ok(terms)
}

/// Checks each term against the `(field, operators)` pairs an endpoint documents.
pub fn check_allowed(terms: &[Term], allowed: &[(&str, &[&str])]) -> Result<(), String> {
    for term in terms {
        let Some((_, ops)) = allowed.iter().find(|(f, _)| *f == term.field) else {
            return Err(format!("'{}' is not a valid field for filtering.", term.field));
        };
        if !ops.contains(&term.operator.as_str()) {
            return Err(format!(
                "'{}' is not a valid operator for '{}'.",
                term.operator, term.field
            ));
        }
    }
    Ok(())
}

impl Term {
    /// Whether `actual` satisfies this term; comparisons of strings are exact, of
    /// datetimes chronological.
    pub fn matches(&self, actual: &Value) -> bool {
        match self.operator.as_str() {
            "equals" => loose_eq(actual, &self.value),
            "any" => self
                .value
                .as_array()
                .is_some_and(|vs| vs.iter().any(|v| loose_eq(actual, v))),
            "greater-than" | "greater-or-equal" | "less-than" | "less-or-equal" => {
                let Some(ordering) = compare(actual, &self.value) else {
                    return false;
                };
                match self.operator.as_str() {
                    "greater-than" => ordering.is_gt(),
                    "greater-or-equal" => ordering.is_ge(),
                    "less-than" => ordering.is_lt(),
                    _ => ordering.is_le(),
                }
            }
            _ => false,
        }
    }
}

fn loose_eq(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        // `equals(email,['a@b.com'])` is accepted with a one-element list.
        (_, Value::Array(items)) if items.len() == 1 => loose_eq(actual, &items[0]),
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

fn compare(actual: &Value, expected: &Value) -> Option<std::cmp::Ordering> {
    if let (Some(a), Some(b)) = (actual.as_f64(), expected.as_f64()) {
        return a.partial_cmp(&b);
    }
    let a = crate::time::parse_datetime(actual.as_str()?)?;
    let b = crate::time::parse_datetime(expected.as_str()?)?;
    Some(a.cmp(&b))
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected '{}' at position {}", c as char, self.i))
        }
    }

    fn word(&mut self) -> String {
        self.ws();
        let start = self.i;
        while self.i < self.s.len() && !matches!(self.s[self.i], b'(' | b')' | b',' | b'[' | b']') {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).trim().to_owned()
    }

    fn terms(&mut self) -> Result<Vec<Term>, String> {
        let mut out = Vec::new();
        loop {
            let operator = self.word();
            if operator.is_empty() {
                return Err(format!("expected an operator at position {}", self.i));
            }
            self.expect(b'(')?;
            if operator == "and" {
                out.extend(self.terms()?);
            } else if matches!(operator.as_str(), "or" | "not") {
                return Err(format!("'{operator}' is not supported here"));
            } else {
                let field = self.word();
                self.expect(b',')?;
                let value = self.value()?;
                out.push(Term { operator, field, value });
            }
            self.expect(b')')?;
            if !self.eat(b',') {
                return Ok(out);
            }
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                if self.eat(b']') {
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    if self.eat(b']') {
                        return Ok(Value::Array(items));
                    }
                    self.expect(b',')?;
                }
            }
            Some(&q @ (b'"' | b'\'')) => {
                self.i += 1;
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i] != q {
                    self.i += 1;
                }
                if self.i == self.s.len() {
                    return Err("unterminated string".into());
                }
                let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                Ok(Value::String(text))
            }
            _ => {
                let word = self.word();
                Ok(match word.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => word
                        .parse::<serde_json::Number>()
                        .map(Value::Number)
                        .unwrap_or(Value::String(word)),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_quoted_lists_and_bare_values() {
        let terms =
            parse(r#"equals(email,"a@b.com"),any(external_id,['x','y']),greater-than(created,2024-01-01T00:00:00Z)"#)
                .unwrap();
        assert_eq!(terms.len(), 3);
        assert_eq!(terms[0].value, json!("a@b.com"));
        assert_eq!(terms[1].value, json!(["x", "y"]));
        assert_eq!(terms[2].value, json!("2024-01-01T00:00:00Z"));
    }

    #[test]
    fn and_flattens() {
        let terms = parse("and(equals(status,'queued'),equals(id,'1'))").unwrap();
        assert_eq!(terms.len(), 2);
    }

    #[test]
    fn malformed_filters_are_refused() {
        assert!(parse("equals(email").is_err());
        assert!(parse("or(equals(a,1),equals(b,2))").is_err());
        assert!(parse(r#"equals(email,"x)"#).is_err());
    }

    #[test]
    fn terms_match_values() {
        let t = parse("greater-than(created,2024-01-01T00:00:00Z)").unwrap().remove(0);
        assert!(t.matches(&json!("2024-06-01T00:00:00+00:00")));
        assert!(!t.matches(&json!("2023-06-01T00:00:00+00:00")));
        let t = parse("equals(email,['a@b.com'])").unwrap().remove(0);
        assert!(t.matches(&json!("a@b.com")));
    }

    #[test]
    fn disallowed_fields_and_operators_are_named() {
        let terms = parse("equals(first_name,'x')").unwrap();
        let err = check_allowed(&terms, &[("email", &["equals", "any"])]).unwrap_err();
        assert!(err.contains("first_name"));
    }
}

//! Money as an exact decimal, written to JSON as a string.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An exact decimal amount of money.
///
/// JSON carries it as a string (`"1250.00"`) so no float ever touches it. A bare JSON
/// number is accepted on input too, since hand-written files often have them, but it is
/// parsed from its text, never through `f64`.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub Decimal);

/// A string that is not a decimal amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a decimal amount: {input:?}")]
pub struct MoneyError {
    /// The text that failed to parse.
    pub input: String,
}

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Returns the amount as a decimal.
    pub fn amount(self) -> Decimal {
        self.0
    }

    /// Returns true when the amount is strictly above zero.
    pub fn is_positive(self) -> bool {
        self.0 > Decimal::ZERO
    }

    /// Returns true when the amount is strictly below zero.
    pub fn is_negative(self) -> bool {
        self.0 < Decimal::ZERO
    }

    /// Returns the amount rounded half away from zero to two places, with exactly two
    /// places, the form every ledgerlink output uses.
    pub fn to_cents(self) -> Money {
        let mut rounded = self
            .0
            .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        rounded.rescale(2);
        Money(rounded)
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let trimmed = input.trim();
        Decimal::from_str_exact(trimmed)
            .or_else(|_| Decimal::from_scientific(trimmed))
            .map(Money)
            .map_err(|_| MoneyError {
                input: input.to_owned(),
            })
    }
}

impl From<Decimal> for Money {
    fn from(value: Decimal) -> Self {
        Money(value)
    }
}

impl From<i64> for Money {
    fn from(value: i64) -> Self {
        Money(Decimal::from(value))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({})", self.0)
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        self.0 += rhs.0;
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}

impl SubAssign for Money {
    fn sub_assign(&mut self, rhs: Money) {
        self.0 -= rhs.0;
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = Money;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal amount as a string")
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Money, E> {
                value.parse().map_err(E::custom)
            }

            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Money, E> {
                Ok(Money::from(value))
            }

            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Money, E> {
                Ok(Money(Decimal::from(value)))
            }

            fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Money, E> {
                // Shortest round-trip text of the float, so 0.1 stays 0.1.
                value.to_string().parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

/// Serializes money with exactly two decimal places (rounded half away from zero).
pub(crate) fn serialize_cents<S: Serializer>(money: &Money, serializer: S) -> Result<S::Ok, S::Error> {
    money.to_cents().serialize(serializer)
}

/// Like [`serialize_cents`], for optional amounts (`null` when absent).
pub(crate) fn serialize_opt_cents<S: Serializer>(money: &Option<Money>, serializer: S) -> Result<S::Ok, S::Error> {
    match money {
        Some(money) => serialize_cents(money, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_scale_it_was_given() {
        let money: Money = serde_json::from_str("\"50000.00\"").unwrap();
        assert_eq!(serde_json::to_string(&money).unwrap(), "\"50000.00\"");
        let money: Money = serde_json::from_str("\"2.0\"").unwrap();
        assert_eq!(serde_json::to_string(&money).unwrap(), "\"2.0\"");
    }

    #[test]
    fn accepts_numbers_without_float_error() {
        let money: Money = serde_json::from_str("0.1").unwrap();
        assert_eq!(money, "0.1".parse().unwrap());
        let money: Money = serde_json::from_str("1200").unwrap();
        assert_eq!(money.to_cents().to_string(), "1200.00");
    }

    #[test]
    fn rejects_text_that_is_not_an_amount() {
        let error = serde_json::from_str::<Money>("\"12,00\"").unwrap_err();
        assert!(error.to_string().contains("not a decimal amount"), "{error}");
        assert!("".parse::<Money>().is_err());
        assert!("abc".parse::<Money>().is_err());
    }

    #[test]
    fn rounds_half_away_from_zero_to_cents() {
        assert_eq!("1.005".parse::<Money>().unwrap().to_cents().to_string(), "1.01");
        assert_eq!("-1.005".parse::<Money>().unwrap().to_cents().to_string(), "-1.01");
        assert_eq!("7".parse::<Money>().unwrap().to_cents().to_string(), "7.00");
    }
}

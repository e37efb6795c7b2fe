//! Correctly rounded conversions from exact decimals to `f64`.
//!
//! Rule thresholds such as `credit_utilization > 0.9` must not flip on a rounding
//! artefact: `45000 / 50000` has to become exactly the double nearest 0.9, the same
//! double the literal `0.9` becomes. A single IEEE operation on exactly representable
//! operands is correctly rounded, which is what the fast paths rely on.

use rust_decimal::Decimal;

/// Integers up to 2^53 convert to `f64` exactly.
const EXACT_INTEGER_LIMIT: i128 = 1 << 53;

/// Powers of ten that are exact in `f64`.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// Returns the `f64` nearest to `value`.
pub(crate) fn decimal_to_f64(value: Decimal) -> f64 {
    let mantissa = value.mantissa();
    let scale = value.scale() as usize;
    if mantissa.abs() < EXACT_INTEGER_LIMIT && scale < POWERS_OF_TEN.len() {
        return mantissa as f64 / POWERS_OF_TEN[scale];
    }
    // Rare: parsing the decimal text is correctly rounded too, only slower.
    value.to_string().parse().unwrap_or(f64::NAN)
}

/// Returns the `f64` nearest to `numerator / denominator`; the caller rules out a
/// zero denominator.
pub(crate) fn ratio(numerator: Decimal, denominator: Decimal) -> f64 {
    let scale = numerator.scale().max(denominator.scale());
    if let (Some(top), Some(bottom)) = (rescaled(numerator, scale), rescaled(denominator, scale))
        && top.abs() < EXACT_INTEGER_LIMIT
        && bottom.abs() < EXACT_INTEGER_LIMIT
    {
        return top as f64 / bottom as f64;
    }
    match numerator.checked_div(denominator) {
        Some(quotient) => decimal_to_f64(quotient),
        None => decimal_to_f64(numerator) / decimal_to_f64(denominator),
    }
}

/// Returns the mantissa of `value` at a scale at least its own.
fn rescaled(value: Decimal, scale: u32) -> Option<i128> {
    let extra = scale.checked_sub(value.scale())?;
    10i128.checked_pow(extra)?.checked_mul(value.mantissa())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn quotients_round_like_the_literal() {
        assert_eq!(ratio(dec("45000.00"), dec("50000")), 0.9);
        assert_eq!(ratio(dec("35000"), dec("50000.00")), 0.7);
        assert_eq!(ratio(dec("1"), dec("3")), 1.0 / 3.0);
        assert_eq!(decimal_to_f64(dec("0.1")), 0.1);
        assert_eq!(decimal_to_f64(dec("-1234.56")), -1234.56);
    }

    #[test]
    fn huge_values_still_convert() {
        let big = dec("79228162514264337593543950335");
        assert!((decimal_to_f64(big) - 7.922816251426434e28).abs() < 1e13);
        assert!((ratio(big, dec("0.5")) - 1.5845632502852868e29).abs() < 1e14);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn conversion_matches_parsing_the_text(cents in -10_000_000_000i64..10_000_000_000i64, scale in 0u32..6) {
            let value = Decimal::new(cents, scale);
            let parsed: f64 = value.to_string().parse().unwrap();
            prop_assert_eq!(decimal_to_f64(value), parsed);
        }
    }
}

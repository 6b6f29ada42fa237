//! Exact money: integer minor units plus an ISO 4217 currency.
//!
//! Amounts never pass through floating point. Parsing goes through `rust_decimal` and rejects more decimals
//! than the currency allows (`"10.005"` is not a GBP amount). JSON carries `{"amount": "1234.50", "currency":
//! "GBP"}`: a decimal string and a code.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// ISO 4217 currencies the portal accepts, with their minor-unit exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Currency {
    Aud,
    Bhd,
    Cad,
    Chf,
    Czk,
    Dkk,
    Eur,
    Gbp,
    Hkd,
    Isk,
    Jod,
    Jpy,
    Krw,
    Kwd,
    Nok,
    Nzd,
    Omr,
    Pln,
    Sek,
    Sgd,
    Tnd,
    Usd,
    Zar,
}

impl Currency {
    pub const ALL: [Currency; 23] = [
        Currency::Aud,
        Currency::Bhd,
        Currency::Cad,
        Currency::Chf,
        Currency::Czk,
        Currency::Dkk,
        Currency::Eur,
        Currency::Gbp,
        Currency::Hkd,
        Currency::Isk,
        Currency::Jod,
        Currency::Jpy,
        Currency::Krw,
        Currency::Kwd,
        Currency::Nok,
        Currency::Nzd,
        Currency::Omr,
        Currency::Pln,
        Currency::Sek,
        Currency::Sgd,
        Currency::Tnd,
        Currency::Usd,
        Currency::Zar,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Currency::Aud => "AUD",
            Currency::Bhd => "BHD",
            Currency::Cad => "CAD",
            Currency::Chf => "CHF",
            Currency::Czk => "CZK",
            Currency::Dkk => "DKK",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Hkd => "HKD",
            Currency::Isk => "ISK",
            Currency::Jod => "JOD",
            Currency::Jpy => "JPY",
            Currency::Krw => "KRW",
            Currency::Kwd => "KWD",
            Currency::Nok => "NOK",
            Currency::Nzd => "NZD",
            Currency::Omr => "OMR",
            Currency::Pln => "PLN",
            Currency::Sek => "SEK",
            Currency::Sgd => "SGD",
            Currency::Tnd => "TND",
            Currency::Usd => "USD",
            Currency::Zar => "ZAR",
        }
    }

    /// Number of digits after the decimal point (ISO 4217 minor unit).
    pub fn exponent(self) -> u32 {
        match self {
            Currency::Isk | Currency::Jpy | Currency::Krw => 0,
            Currency::Bhd | Currency::Jod | Currency::Kwd | Currency::Omr | Currency::Tnd => 3,
            _ => 2,
        }
    }

    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .ok_or_else(|| MoneyError::UnknownCurrency(code.chars().take(8).collect()))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown or unsupported currency `{0}`")]
    UnknownCurrency(String),
    #[error("`{amount}` is not a decimal amount")]
    NotADecimal { amount: String },
    #[error("`{amount}` has more decimals than {currency} allows ({exponent})")]
    TooManyDecimals { amount: String, currency: Currency, exponent: u32 },
    #[error("amount is too large")]
    Overflow,
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
}

/// The largest absolute amount in minor units we accept from outside: 10^15 minor units (ten trillion pounds)
/// keeps every sum of thousands of movements far from `i64` overflow.
pub const MAX_ABS_MINOR: i64 = 1_000_000_000_000_000;

/// An exact amount of one currency, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Money, MoneyError> {
        if minor.checked_abs().is_none_or(|a| a > MAX_ABS_MINOR) {
            return Err(MoneyError::Overflow);
        }
        Ok(Money { minor, currency })
    }

    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// Parse a decimal string such as `"1234.50"` in `currency`. Rejects exponents, thousands separators,
    /// and more fractional digits than the currency has (trailing zeros included: `"10.500"` is not GBP).
    pub fn parse(amount: &str, currency: Currency) -> Result<Money, MoneyError> {
        let not_decimal = || MoneyError::NotADecimal { amount: amount.chars().take(32).collect() };
        let body = amount.strip_prefix('-').unwrap_or(amount);
        let mut parts = body.splitn(2, '.');
        let int = parts.next().unwrap_or("");
        let frac = parts.next();
        if int.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(not_decimal());
        }
        let scale = frac.map_or(0, |f| f.len() as u32);
        if scale > currency.exponent() {
            return Err(MoneyError::TooManyDecimals {
                amount: amount.chars().take(32).collect(),
                currency,
                exponent: currency.exponent(),
            });
        }
        let dec = Decimal::from_str_exact(amount).map_err(|_| MoneyError::Overflow)?;
        let minor = dec.checked_mul(Decimal::from(10i64.pow(currency.exponent()))).ok_or(MoneyError::Overflow)?;
        let minor: i64 = minor.trunc().try_into().map_err(|_| MoneyError::Overflow)?;
        Money::from_minor(minor, currency)
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn is_zero(self) -> bool {
        self.minor == 0
    }

    pub fn is_negative(self) -> bool {
        self.minor < 0
    }

    pub fn is_positive(self) -> bool {
        self.minor > 0
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let sum = self.minor.checked_add(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Money { minor: sum, currency: self.currency })
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let diff = self.minor.checked_sub(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Money { minor: diff, currency: self.currency })
    }

    pub fn checked_neg(self) -> Result<Money, MoneyError> {
        Ok(Money { minor: self.minor.checked_neg().ok_or(MoneyError::Overflow)?, currency: self.currency })
    }

    /// The larger of `self` and zero.
    pub fn clamp_zero(self) -> Money {
        Money { minor: self.minor.max(0), currency: self.currency }
    }

    pub fn min(self, other: Money) -> Money {
        debug_assert_eq!(self.currency, other.currency);
        if other.minor < self.minor { other } else { self }
    }

    /// Split into `n` parts that differ by at most one minor unit and sum exactly to `self`; earlier parts
    /// take the remainder.
    pub fn split(self, n: usize) -> Vec<Money> {
        if n == 0 {
            return Vec::new();
        }
        let n_i = n as i64;
        let base = self.minor.div_euclid(n_i);
        let rem = self.minor.rem_euclid(n_i);
        (0..n_i).map(|i| Money { minor: base + i64::from(i < rem), currency: self.currency }).collect()
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch { left: self.currency, right: other.currency })
        }
    }

    /// The plain decimal string (`"1234.50"`, `"-3.000"`, `"1500"`), always with exactly the currency's
    /// exponent of fraction digits.
    pub fn to_decimal_string(self) -> String {
        let exp = self.currency.exponent();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if exp == 0 {
            return format!("{sign}{abs}");
        }
        let div = 10u64.pow(exp);
        format!("{sign}{}.{:0width$}", abs / div, abs % div, width = exp as usize)
    }

    pub fn sum<I: IntoIterator<Item = Money>>(currency: Currency, items: I) -> Result<Money, MoneyError> {
        items.into_iter().try_fold(Money::zero(currency), Money::checked_add)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

/// Wire form of money: `{"amount": "1234.50", "currency": "GBP"}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MoneyWire {
    amount: String,
    currency: String,
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MoneyWire { amount: self.to_decimal_string(), currency: self.currency.code().to_string() }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = MoneyWire::deserialize(d)?;
        let currency = Currency::parse(&w.currency).map_err(serde::de::Error::custom)?;
        Money::parse(&w.amount, currency).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbp(s: &str) -> Money {
        Money::parse(s, Currency::Gbp).unwrap()
    }

    #[test]
    fn parses_within_exponent() {
        assert_eq!(gbp("1234.50").minor(), 123_450);
        assert_eq!(gbp("10").minor(), 1000);
        assert_eq!(gbp("0.01").minor(), 1);
        assert_eq!(gbp("-3.5").minor(), -350);
        assert_eq!(Money::parse("1500", Currency::Jpy).unwrap().minor(), 1500);
        assert_eq!(Money::parse("12.345", Currency::Bhd).unwrap().minor(), 12_345);
    }

    #[test]
    fn rejects_too_many_decimals_and_junk() {
        assert!(matches!(Money::parse("10.005", Currency::Gbp), Err(MoneyError::TooManyDecimals { .. })));
        assert!(matches!(Money::parse("10.500", Currency::Gbp), Err(MoneyError::TooManyDecimals { .. })));
        assert!(matches!(Money::parse("1.5", Currency::Jpy), Err(MoneyError::TooManyDecimals { .. })));
        for junk in ["", "-", "1e3", "1,000.00", " 1", "1.", ".5", "+1", "NaN", "1.2.3", "--1", "١٢"] {
            assert!(Money::parse(junk, Currency::Gbp).is_err(), "{junk:?} accepted");
        }
        assert_eq!(Money::parse("99999999999999999999", Currency::Gbp), Err(MoneyError::Overflow));
    }

    #[test]
    fn formats_decimal_strings() {
        assert_eq!(gbp("1234.5").to_decimal_string(), "1234.50");
        assert_eq!(gbp("-0.05").to_decimal_string(), "-0.05");
        assert_eq!(Money::from_minor(1500, Currency::Jpy).unwrap().to_decimal_string(), "1500");
        assert_eq!(Money::from_minor(-3000, Currency::Kwd).unwrap().to_decimal_string(), "-3.000");
    }

    #[test]
    fn arithmetic_is_checked_and_currency_safe() {
        let a = gbp("1.00");
        let e = Money::parse("1.00", Currency::Eur).unwrap();
        assert!(matches!(a.checked_add(e), Err(MoneyError::CurrencyMismatch { .. })));
        let big = Money { minor: i64::MAX, currency: Currency::Gbp };
        assert_eq!(big.checked_add(a), Err(MoneyError::Overflow));
    }

    #[test]
    fn split_sums_exactly() {
        let parts = gbp("100.00").split(3);
        assert_eq!(parts.iter().map(|m| m.minor()).collect::<Vec<_>>(), vec![3334, 3333, 3333]);
        assert_eq!(Money::sum(Currency::Gbp, parts).unwrap(), gbp("100.00"));
    }

    #[test]
    fn json_round_trip() {
        let m = gbp("1234.50");
        let j = serde_json::to_string(&m).unwrap();
        assert_eq!(j, r#"{"amount":"1234.50","currency":"GBP"}"#);
        assert_eq!(serde_json::from_str::<Money>(&j).unwrap(), m);
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1.001","currency":"GBP"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1.00","currency":"XXX"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":1.0,"currency":"GBP"}"#).is_err());
    }
}

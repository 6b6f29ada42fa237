//! Validated identifiers. Parse, don't validate: a value of these types is well-formed by construction.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::DomainError;

/// A booking reference as the operator issues it: 4–20 characters of `A-Z`, `0-9` and `-`, starting with a
/// letter or digit. Customers may type it in lower case; it is normalised to upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct BookingReference(String);

impl BookingReference {
    pub fn parse(raw: &str) -> Result<BookingReference, DomainError> {
        let upper = raw.trim().to_ascii_uppercase();
        let ok = (4..=20).contains(&upper.len())
            && upper.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
            && upper.as_bytes()[0] != b'-';
        if ok { Ok(BookingReference(upper)) } else { Err(DomainError::MalformedReference) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BookingReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for BookingReference {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        BookingReference::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Checks an operator-assigned id (traveller, instalment, price line, service): 1–40 characters of
/// `A-Za-z0-9_-`. These ids end up inside DynamoDB sort keys and S3 keys, so nothing else is allowed.
pub fn check_local_id(field: &str, id: &str) -> Result<(), DomainError> {
    if (1..=40).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        Ok(())
    } else {
        Err(DomainError::invalid(field, "must be 1-40 characters of A-Z, a-z, 0-9, '_' or '-'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(BookingReference::parse("ab-1234").unwrap().as_str(), "AB-1234");
        for bad in ["", "abc", "-ABCD", "AB/../CD", "AB 12", "ÄBCD1", "A".repeat(21).as_str(), "AB#1234"] {
            assert!(BookingReference::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn local_ids() {
        assert!(check_local_id("id", "T-1_a").is_ok());
        for bad in ["", "a/b", "a#b", "a b", "..", &"x".repeat(41)] {
            assert!(check_local_id("id", bad).is_err(), "{bad:?}");
        }
    }
}

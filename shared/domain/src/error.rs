//! Domain errors: each variant is a caller mistake with a stable kind, mapped to problem+json at the edge.

use crate::money::MoneyError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("booking reference is malformed")]
    MalformedReference,
    #[error("{field}: {detail}")]
    Invalid { field: String, detail: String },
    #[error("{field}: {source}")]
    Money { field: String, source: MoneyError },
    #[error("the payment schedule sums to {schedule} but the price is {price}")]
    ScheduleMismatch { schedule: String, price: String },
    #[error("{0}")]
    Conflict(String),
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> DomainError {
        DomainError::Invalid { field: field.into(), detail: detail.into() }
    }

    pub fn money(field: impl Into<String>, source: MoneyError) -> DomainError {
        DomainError::Money { field: field.into(), source }
    }
}

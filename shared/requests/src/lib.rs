//! Amendment requests and messages to the operator's team (issue 20; the contract is `docs/requests.md`).
//!
//! - [`kind`]: the request types and statuses, and the status machine (who may move a request where);
//! - [`fields`]: each type's fields, checked against the booking, and who may ask for what;
//! - [`text`]: message text (length, control characters);
//! - [`roles`]: the brands' team roles (names per locale, addresses, a deputy while away) and routing;
//! - [`caps`]: the daily caps per booking and per customer.
//!
//! Pure: the caller supplies the booking, the session's traveller and "today".

pub mod caps;
pub mod fields;
pub mod kind;
pub mod roles;
pub mod text;

pub use kind::{By, RequestStatus, RequestType};

/// One bad input, named by its JSON path (`fields.new_start`, `message`), so a page can put the message next
/// to its input.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub detail: String,
}

pub(crate) fn err(field: impl Into<String>, detail: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), detail: detail.into() }
}

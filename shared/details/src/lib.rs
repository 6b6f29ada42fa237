//! Traveller details: the passenger information a tour operator needs before travel, as the customer enters
//! it in the portal.
//!
//! - [`model`]: what is collected per traveller, split into the part kept in plain text and the
//!   [`model::Sensitive`] part (travel document number, date of birth, medical notes) that the store keeps
//!   encrypted under its own KMS key.
//! - [`requirements`] (from `portal_domain::details_policy`): which fields the operator requires for a booking (per booking or per brand) and the
//!   passport-validity rule.
//! - [`validate`]: turns a customer's form into details, or into field errors that each name the field.
//! - [`progress`]: what is complete and what is missing, per traveller and per booking.
//! - [`mask`]: how a travel document number is shown back after it is saved.
//! - [`history`]: what changed between two versions, named by field, sensitive values never shown.
//! - [`consent`]: the wording a marketing opt-in was given against, per locale.
//!
//! Pure: no AWS types, no I/O, no clocks (time is passed in).

pub mod consent;
pub mod events;
pub mod history;
pub mod mask;
pub mod model;
pub mod policy;
pub mod progress;
/// The operator's requirements live in the domain (a booking carries them); re-exported here.
pub use portal_domain::details_policy as requirements;
pub mod validate;
pub mod view;

pub use model::{DetailsInput, TravellerDetails};
pub use requirements::{Field, Requirements};
pub use validate::{FieldError, validate};

//! The portal's domain: money, bookings, the booking ledger and the payment schedule.
//!
//! Everything here is pure: no AWS types, no I/O, no clocks (time is passed in). The AWS adapters live in
//! `portal-store`; HTTP mapping lives in `portal-http`.

pub mod booking;
pub mod details_policy;
pub mod error;
pub mod events;
pub mod ids;
pub mod ledger;
pub mod locale;
pub mod money;
pub mod overview;
pub mod payment;
pub mod schedule;
pub mod upsert;

pub use error::DomainError;

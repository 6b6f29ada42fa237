//! AWS adapters for the portal: the DynamoDB single-table store, its table definitions (shared with
//! Terraform), SDK configuration, and an interceptor that counts AWS calls.
//!
//! The domain crate (`portal-domain`) knows nothing of this crate; this crate maps domain types to items.

pub mod auth;
pub mod aws;
pub mod details;
pub mod documents;
pub mod instalments;
pub mod items;
pub mod keys;
pub mod lookup;
pub mod notices;
pub mod payments;
pub mod requests;
pub mod store;
pub mod tables;

pub use store::{BookingCollection, Store, StoreError};

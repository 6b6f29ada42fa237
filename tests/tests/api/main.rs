//! One integration-test binary (fast to link, one moto per run). Each module drives one area end to end
//! against the emulator.

mod auth;
mod bookings;
mod checkout;
mod details;
mod documents;
mod finance;
mod instalments;
mod notifications;
mod operator_bookings;
mod reconciler;
mod requests;
mod sealing;
mod secrets;

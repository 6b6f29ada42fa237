//! Every DynamoDB key the portal writes, built in one place. See `docs/data-model.md`.

use chrono::{DateTime, Utc};

pub const SK_BOOKING: &str = "BOOKING";
pub const PREFIX_EMAIL: &str = "EMAIL#";
pub const PREFIX_INSTALMENT: &str = "INST#";
pub const PREFIX_MOVEMENT: &str = "MOV#";
pub const PREFIX_DOCUMENT: &str = "DOC#";
pub const PREFIX_SESSION: &str = "SESSION#";

pub const PREFIX_BOOKING_PK: &str = "B#";

/// Partition key of a booking's item collection.
pub fn booking_pk(reference: &str) -> String {
    format!("{PREFIX_BOOKING_PK}{reference}")
}

/// `open_payments` index (sparse): checkout intents that can still take money, oldest first.
pub const OPEN_GSI4PK: &str = "OPEN";

pub fn open_gsi4sk(created_at: DateTime<Utc>, reference: &str, checkout_id: &str) -> String {
    format!("{}#{reference}#{checkout_id}", created_at.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// The per-booking lock that serialises checkout creation (one open payment per debt).
pub fn payment_lock_pk(reference: &str) -> String {
    format!("PAYLOCK#{reference}")
}

pub fn email_sk(email: &str) -> String {
    format!("{PREFIX_EMAIL}{}", email.to_ascii_lowercase())
}

/// `by_email` index: all bookings a customer email appears on, newest travel last.
pub fn email_gsi1pk(email: &str) -> String {
    format!("EMAIL#{}", email.to_ascii_lowercase())
}

pub fn email_gsi1sk(travel_start: chrono::NaiveDate, reference: &str) -> String {
    format!("{travel_start}#{reference}")
}

pub fn instalment_sk(id: &str) -> String {
    format!("{PREFIX_INSTALMENT}{id}")
}

/// `due_instalments` index (sparse): only instalments waiting for an off-session charge carry it.
pub const DUE_GSI2PK: &str = "DUE";
/// `due_instalments` index, second partition: scheduled instalments the customer has not approved (the
/// notification planner's reminders), at their due date.
pub const OWED_GSI2PK: &str = "OWED";

pub fn due_gsi2sk(at: DateTime<Utc>, reference: &str, instalment_id: &str) -> String {
    format!("{}#{reference}#{instalment_id}", at.format("%Y-%m-%dT%H:%M:%SZ"))
}

pub fn movement_sk(id: &str) -> String {
    format!("{PREFIX_MOVEMENT}{id}")
}

/// Outbox events live beside, not inside, the booking collection: the overview query never reads them.
pub fn outbox_pk(reference: &str) -> String {
    format!("OUTBOX#{reference}")
}

pub fn outbox_sk(event_id: &str) -> String {
    format!("EVT#{event_id}")
}

/// `unexported_events` index (sparse): removed from the item once the exporter has written it to S3.
pub const UNEXPORTED_GSI3PK: &str = "UNEXPORTED";

pub fn unexported_gsi3sk(recorded_at: DateTime<Utc>, event_id: &str) -> String {
    format!("{}#{event_id}", recorded_at.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
}

/// Idempotency records for money requests: `IDEM#<scope>#<key>`.
pub fn idempotency_pk(scope: &str, key: &str) -> String {
    format!("IDEM#{scope}#{key}")
}

/// A live customer session of the booking (deleted on logout or revocation). Lives in the booking collection
/// so the overview `Query` also proves the session is still valid.
pub fn session_sk(sid: &str) -> String {
    format!("{PREFIX_SESSION}{sid}")
}

//! DynamoDB item shapes. Kept apart from the domain types: an item is a domain value plus its keys, its
//! entity type and the attributes an index needs. `serde_dynamo` maps them to attribute values.

use chrono::{DateTime, Utc};
use portal_domain::booking::Booking;
use portal_domain::events::LedgerEvent;
use portal_domain::ledger::Movement;
use portal_domain::money::Money;
use portal_domain::schedule::Instalment;
use serde::{Deserialize, Serialize};

use crate::keys;

pub const ENTITY_BOOKING: &str = "booking";
pub const ENTITY_BOOKING_EMAIL: &str = "booking_email";
pub const ENTITY_INSTALMENT: &str = "instalment";
pub const ENTITY_MOVEMENT: &str = "movement";
pub const ENTITY_OUTBOX_EVENT: &str = "outbox_event";
/// A live customer session (`SESSION#<sid>` in the booking collection).
pub const ENTITY_SESSION: &str = "session";

/// Money aggregates kept on the booking item, rewritten by every ledger transaction. A cache for listings
/// (`GET /bookings`); the overview derives its figures from the movements themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    pub total_price: Money,
    pub paid: Money,
    pub outstanding: Money,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BookingItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub version: u64,
    /// SHA-256 of the operator's validated push; an identical push changes nothing.
    pub fingerprint: String,
    /// The operator's booking as one JSON string attribute, not a nested map: every read of a booking (the
    /// overview's one `Query`, each money path) parsed ~100 nested attribute values through the SDK's
    /// generic `AttributeValue` maps and then serde_dynamo, about a quarter of an overview request's
    /// instructions (docs/performance.md); one string parsed by serde_json is a fraction of that. Nothing
    /// queries or updates inside it (listings read the whole attribute).
    #[serde(with = "json_string")]
    pub booking: Booking,
    pub aggregate: Aggregate,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl BookingItem {
    pub fn new(
        booking: Booking,
        version: u64,
        fingerprint: String,
        aggregate: Aggregate,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        BookingItem {
            pk: keys::booking_pk(booking.reference.as_str()),
            sk: keys::SK_BOOKING.into(),
            entity: ENTITY_BOOKING.into(),
            version,
            fingerprint,
            booking,
            aggregate,
            created_at,
            updated_at: now,
        }
    }
}

/// One per (booking, traveller email): feeds the `by_email` index.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BookingEmailItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub reference: String,
}

impl BookingEmailItem {
    pub fn new(booking: &Booking, email: &str) -> Self {
        let r = booking.reference.as_str();
        BookingEmailItem {
            pk: keys::booking_pk(r),
            sk: keys::email_sk(email),
            entity: ENTITY_BOOKING_EMAIL.into(),
            gsi1pk: keys::email_gsi1pk(email),
            gsi1sk: keys::email_gsi1sk(booking.travel_start, r),
            reference: r.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstalmentItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub instalment: Instalment,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
}

impl InstalmentItem {
    pub fn new(reference: &str, instalment: Instalment) -> Self {
        // Only instalments the runner has to look at wait in the due index: approved (at the due date or a
        // retry), declined with a retry planned, and processing ones (at their lease's end: a crashed runner).
        // Scheduled ones (not approved: the customer pays by hand) wait under `OWED` at their due date, for the
        // notification planner's reminders.
        let due_at = instalment.due_at();
        let index = match due_at {
            Some(at) => Some((keys::DUE_GSI2PK, at)),
            None if instalment.status == portal_domain::schedule::InstalmentStatus::Scheduled => {
                Some((keys::OWED_GSI2PK, instalment.due_date.and_time(chrono::NaiveTime::MIN).and_utc()))
            }
            None => None,
        };
        InstalmentItem {
            pk: keys::booking_pk(reference),
            sk: keys::instalment_sk(&instalment.id),
            entity: ENTITY_INSTALMENT.into(),
            gsi2pk: index.map(|(pk, _)| pk.to_string()),
            gsi2sk: index.map(|(_, at)| keys::due_gsi2sk(at, reference, &instalment.id)),
            instalment,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MovementItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub movement: Movement,
}

impl MovementItem {
    pub fn new(reference: &str, movement: Movement) -> Self {
        MovementItem {
            pk: keys::booking_pk(reference),
            sk: keys::movement_sk(&movement.id),
            entity: ENTITY_MOVEMENT.into(),
            movement,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub schema_version: u32,
    pub event: LedgerEvent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi3pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi3sk: Option<String>,
}

impl OutboxItem {
    pub fn new(event: LedgerEvent) -> Self {
        OutboxItem {
            pk: keys::outbox_pk(&event.booking_reference),
            sk: keys::outbox_sk(&event.event_id),
            entity: ENTITY_OUTBOX_EVENT.into(),
            schema_version: event.schema_version,
            gsi3pk: Some(keys::UNEXPORTED_GSI3PK.into()),
            gsi3sk: Some(keys::unexported_gsi3sk(event.recorded_at, &event.event_id)),
            event,
        }
    }
}

impl Aggregate {
    /// The listing figures from a booking's movements.
    pub fn from_movements(
        currency: portal_domain::money::Currency,
        movements: &[Movement],
    ) -> Result<Aggregate, portal_domain::money::MoneyError> {
        let t = portal_domain::ledger::Totals::of(currency, movements)?;
        Ok(Aggregate { total_price: t.total_price()?, paid: t.paid()?, outstanding: t.balance()?.clamp_zero() })
    }
}

/// `#[serde(with = "json_string")]`: a value stored as one string attribute holding its JSON.
pub mod json_string {
    use serde::de::{DeserializeOwned, Error as _};
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&serde_json::to_string(value).map_err(S::Error::custom)?)
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let raw = String::deserialize(d)?;
        serde_json::from_str(&raw).map_err(D::Error::custom)
    }
}

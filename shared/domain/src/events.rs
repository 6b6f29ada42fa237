//! Finance events: what every ledger write puts in the outbox, in the same transaction.
//!
//! The schema is versioned (`schema_version`); `docs/finance-events.schema.json` is its JSON Schema. Event
//! ids are deterministic (derived from the movement or booking version they describe), so the outbox item is
//! itself protected by a conditional put: a retried write cannot create a second event.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::booking::{Booking, PaymentChannel};
use crate::ledger::{Actor, Movement, MovementKind};
use crate::money::Money;

pub const EVENT_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "booking.created")]
    BookingCreated,
    #[serde(rename = "booking.changed")]
    BookingChanged,
    #[serde(rename = "charge")]
    Charge,
    #[serde(rename = "adjustment")]
    Adjustment,
    #[serde(rename = "fee")]
    Fee,
    #[serde(rename = "payment.succeeded")]
    PaymentSucceeded,
    #[serde(rename = "payment.failed")]
    PaymentFailed,
    #[serde(rename = "refund")]
    Refund,
    #[serde(rename = "refund.pending")]
    RefundPending,
    #[serde(rename = "refund.failed")]
    RefundFailed,
    #[serde(rename = "refund.reversed")]
    RefundReversed,
    #[serde(rename = "dispute")]
    Dispute,
    #[serde(rename = "dispute.funds_withdrawn")]
    Chargeback,
    #[serde(rename = "dispute.funds_reinstated")]
    ChargebackReversed,
    #[serde(rename = "dispute.closed")]
    DisputeClosed,
    #[serde(rename = "instalment.approved")]
    InstalmentApproved,
    #[serde(rename = "instalment.withdrawn")]
    InstalmentWithdrawn,
    #[serde(rename = "instalment.charged")]
    InstalmentCharged,
    #[serde(rename = "instalment.failed")]
    InstalmentFailed,
    #[serde(rename = "document.issued")]
    DocumentIssued,
}

/// References the payment gateway gave us, when it gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayRefs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEvent {
    pub schema_version: u32,
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub booking_reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub movement_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<PaymentChannel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayRefs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquirer_fee: Option<Money>,
    /// Customer money held (trust / bonding) until `protected_until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_until: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instalment_ids: Vec<String>,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor: Actor,
}

/// A short, stable id from a seed string: `prefix_` + 24 hex digits of SHA-256.
pub fn derived_id(prefix: &str, seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    format!("{prefix}_{}", &hex::encode(digest)[..24])
}

impl LedgerEvent {
    pub fn for_movement(m: &Movement, booking: &Booking) -> LedgerEvent {
        let event_type = match m.kind {
            MovementKind::Charge => EventType::Charge,
            MovementKind::Adjustment => EventType::Adjustment,
            MovementKind::Fee => EventType::Fee,
            MovementKind::Payment
                if !m.instalment_ids.is_empty() && m.actor.kind == crate::ledger::ActorKind::System =>
            {
                EventType::InstalmentCharged
            }
            MovementKind::Payment => EventType::PaymentSucceeded,
            MovementKind::Refund => EventType::Refund,
            MovementKind::InstalmentApproved => EventType::InstalmentApproved,
            MovementKind::ApprovalWithdrawn => EventType::InstalmentWithdrawn,
            MovementKind::PaymentFailed if !m.instalment_ids.is_empty() => EventType::InstalmentFailed,
            MovementKind::PaymentFailed => EventType::PaymentFailed,
            MovementKind::RefundPending => EventType::RefundPending,
            MovementKind::RefundFailed => EventType::RefundFailed,
            MovementKind::RefundReversed => EventType::RefundReversed,
            MovementKind::DisputeOpened => EventType::Dispute,
            MovementKind::Chargeback => EventType::Chargeback,
            MovementKind::ChargebackReversed => EventType::ChargebackReversed,
            MovementKind::DisputeClosed => EventType::DisputeClosed,
        };
        let protected = matches!(m.kind, MovementKind::Payment).then_some(m.amount);
        LedgerEvent {
            schema_version: EVENT_SCHEMA_VERSION,
            event_id: derived_id("evt", &format!("movement:{}", m.id)),
            event_type,
            booking_reference: booking.reference.to_string(),
            booking_version: None,
            movement_id: Some(m.id.clone()),
            amount: Some(m.amount),
            channel: m.channel,
            gateway: m
                .external_reference
                .as_ref()
                .map(|r| GatewayRefs { payment_id: Some(r.clone()), ..GatewayRefs::default() }),
            acquirer_fee: m.acquirer_fee,
            protected_amount: protected,
            protected_until: protected.map(|_| booking.travel_start),
            instalment_ids: m.instalment_ids.clone(),
            occurred_at: m.occurred_at,
            recorded_at: m.recorded_at,
            actor: m.actor.clone(),
        }
    }

    pub fn for_booking(
        booking: &Booking,
        version: u64,
        created: bool,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> LedgerEvent {
        LedgerEvent {
            schema_version: EVENT_SCHEMA_VERSION,
            event_id: derived_id("evt", &format!("booking:{}:v{version}", booking.reference)),
            event_type: if created { EventType::BookingCreated } else { EventType::BookingChanged },
            booking_reference: booking.reference.to_string(),
            booking_version: Some(version),
            movement_id: None,
            amount: Some(booking.total_price()),
            channel: None,
            gateway: None,
            acquirer_fee: None,
            protected_amount: None,
            protected_until: None,
            instalment_ids: Vec::new(),
            occurred_at: now,
            recorded_at: now,
            actor,
        }
    }
}

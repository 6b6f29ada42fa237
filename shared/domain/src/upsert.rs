//! Planning an operator push: what a validated booking changes in the stored booking, schedule and ledger.
//!
//! Pure: the caller loads the current state, calls [`plan_upsert`], and writes the plan in one conditional
//! transaction. History is never edited: a price change becomes an adjustment movement, a removed instalment
//! becomes a cancelled one, a payment received elsewhere becomes a payment movement keyed by its external
//! reference.

use chrono::{DateTime, Utc};

use crate::booking::{Booking, BookingStatus, ValidatedBooking};
use crate::error::DomainError;
use crate::events::{LedgerEvent, derived_id};
use crate::ledger::{Actor, Movement, MovementKind, Totals};
use crate::money::Money;
use crate::schedule::{Instalment, cancel_open, merge_schedule};

/// The stored state an upsert is planned against.
pub struct Existing<'a> {
    pub booking: &'a Booking,
    pub version: u64,
    pub instalments: &'a [Instalment],
    pub movements: &'a [Movement],
}

#[derive(Debug, Clone)]
pub struct UpsertPlan {
    pub booking: Booking,
    pub created: bool,
    /// The version the booking will have after the write.
    pub version: u64,
    pub instalments: Vec<Instalment>,
    pub movements: Vec<Movement>,
    pub events: Vec<LedgerEvent>,
}

/// A movement whose id is derived from its idempotency key, so two writes of "the same" movement collide on
/// the same item and the second is refused by its condition.
pub fn movement_id(idempotency_key: &str) -> String {
    derived_id("mov", idempotency_key)
}

pub fn plan_upsert(
    existing: Option<Existing<'_>>,
    input: ValidatedBooking,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<UpsertPlan, DomainError> {
    let ValidatedBooking { booking, schedule, payments_received } = input;
    let reference = booking.reference.to_string();
    let new_total = booking.total_price();
    let mut movements = Vec::new();

    let (created, version, instalments, known_movements) = match &existing {
        None => {
            let key = format!("booking:{reference}:charge");
            movements.push(Movement {
                id: movement_id(&key),
                kind: MovementKind::Charge,
                amount: new_total,
                channel: None,
                external_reference: None,
                occurred_at: now,
                recorded_at: now,
                actor: actor.clone(),
                idempotency_key: key,
                traveller_id: None,
                instalment_ids: Vec::new(),
                description: Some("Booking price".into()),
                acquirer_fee: None,
            });
            (true, 1, schedule.iter().map(Instalment::new).collect(), &[][..])
        }
        Some(e) => {
            if e.booking.currency != booking.currency {
                return Err(DomainError::Conflict(format!(
                    "the booking is in {}; its currency cannot change",
                    e.booking.currency
                )));
            }
            let version = e.version + 1;
            let totals =
                Totals::of(e.booking.currency, e.movements).map_err(|m| DomainError::money("price_lines", m))?;
            let priced =
                totals.charges.checked_add(totals.adjustments).map_err(|m| DomainError::money("price_lines", m))?;
            let delta = new_total.checked_sub(priced).map_err(|m| DomainError::money("price_lines", m))?;
            if !delta.is_zero() {
                let key = format!("booking:{reference}:adjustment:v{version}");
                movements.push(Movement {
                    id: movement_id(&key),
                    kind: MovementKind::Adjustment,
                    amount: delta,
                    channel: None,
                    external_reference: None,
                    occurred_at: now,
                    recorded_at: now,
                    actor: actor.clone(),
                    idempotency_key: key,
                    traveller_id: None,
                    instalment_ids: Vec::new(),
                    description: Some(format!(
                        "Price changed from {} to {}",
                        priced.to_decimal_string(),
                        new_total.to_decimal_string()
                    )),
                    acquirer_fee: None,
                });
            }
            let change = merge_schedule(e.instalments, &schedule)?;
            (false, version, change.put, e.movements)
        }
    };

    // A cancelled booking collects nothing more: its open instalments are cancelled with their approvals (and
    // so leave the runner's due index); one being collected right now is settled by its webhook.
    let instalments = if booking.status == BookingStatus::Cancelled {
        cancel_open(existing.as_ref().map_or(&[][..], |e| e.instalments), instalments)
    } else {
        instalments
    };

    for p in payments_received {
        let key = format!("operator-payment:{reference}:{}", p.external_reference);
        if known_movements.iter().any(|m| m.idempotency_key == key) {
            continue;
        }
        movements.push(Movement {
            id: movement_id(&key),
            kind: MovementKind::Payment,
            amount: p.amount,
            channel: Some(p.channel),
            external_reference: Some(p.external_reference),
            occurred_at: p.received_at,
            recorded_at: now,
            actor: actor.clone(),
            idempotency_key: key,
            traveller_id: p.traveller_id,
            instalment_ids: Vec::new(),
            description: None,
            acquirer_fee: None,
        });
    }

    let mut events = vec![LedgerEvent::for_booking(&booking, version, created, actor, now)];
    events.extend(movements.iter().map(|m| LedgerEvent::for_movement(m, &booking)));
    Ok(UpsertPlan { booking, created, version, instalments, movements, events })
}

/// The price the ledger currently holds for a booking (charges and adjustments, fees excluded).
pub fn ledger_price(booking: &Booking, movements: &[Movement]) -> Result<Money, DomainError> {
    let t = Totals::of(booking.currency, movements).map_err(|m| DomainError::money("ledger", m))?;
    t.charges.checked_add(t.adjustments).map_err(|m| DomainError::money("ledger", m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::BookingInput;
    use crate::booking::tests::sample_input;
    use crate::ids::BookingReference;

    fn validated(v: serde_json::Value) -> ValidatedBooking {
        let input: BookingInput = serde_json::from_value(v).unwrap();
        Booking::from_input(BookingReference::parse("AB-1234").unwrap(), input).unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn create_charges_the_price() {
        let plan = plan_upsert(None, validated(sample_input()), Actor::operator("op"), now()).unwrap();
        assert!(plan.created);
        assert_eq!(plan.version, 1);
        assert_eq!(plan.movements.len(), 1);
        assert_eq!(plan.movements[0].kind, MovementKind::Charge);
        assert_eq!(plan.movements[0].amount.minor(), 225_050);
        assert_eq!(plan.instalments.len(), 3);
        assert_eq!(plan.events.len(), 2);
    }

    #[test]
    fn price_change_is_an_adjustment_and_payments_are_recorded_once() {
        let first = plan_upsert(None, validated(sample_input()), Actor::operator("op"), now()).unwrap();
        let mut v = sample_input();
        v["price_lines"][0]["amount"] = "2100.00".into();
        v["schedule"][2]["amount"] = "1000.00".into();
        v["payments_received"] = serde_json::json!([
            {"external_reference": "BT-1", "amount": "450.50", "channel": "bank_transfer", "received_at": "2026-11-02T09:00:00Z"}
        ]);
        let existing = Existing {
            booking: &first.booking,
            version: 1,
            instalments: &first.instalments,
            movements: &first.movements,
        };
        let second = plan_upsert(Some(existing), validated(v.clone()), Actor::operator("op"), now()).unwrap();
        assert_eq!(second.version, 2);
        let kinds: Vec<_> = second.movements.iter().map(|m| (m.kind, m.amount.minor())).collect();
        assert_eq!(kinds, vec![(MovementKind::Adjustment, 10_000), (MovementKind::Payment, 45_050)]);
        assert_eq!(second.instalments.len(), 1, "only the changed balance instalment is rewritten");

        let mut all = first.movements.clone();
        all.extend(second.movements.clone());
        let existing =
            Existing { booking: &second.booking, version: 2, instalments: &first.instalments, movements: &all };
        let third = plan_upsert(Some(existing), validated(v), Actor::operator("op"), now()).unwrap();
        assert!(third.movements.is_empty(), "same price and same payment: nothing new");
    }

    #[test]
    fn cancelling_the_booking_cancels_its_open_instalments_and_their_approvals() {
        use crate::schedule::{Approval, InstalmentStatus};
        let first = plan_upsert(None, validated(sample_input()), Actor::operator("op"), now()).unwrap();
        let mut stored = first.instalments.clone();
        stored[0].status = InstalmentStatus::Paid;
        stored[1].status = InstalmentStatus::Approved;
        stored[1].approval = Some(Approval {
            approved_at: now(),
            approved_by: "T1".into(),
            payment_method_id: "pm_1".into(),
            client_ip: None,
        });
        let mut v = sample_input();
        v["status"] = "cancelled".into();
        let existing =
            Existing { booking: &first.booking, version: 1, instalments: &stored, movements: &first.movements };
        let plan = plan_upsert(Some(existing), validated(v), Actor::operator("op"), now()).unwrap();
        let ids: Vec<(&str, InstalmentStatus)> = plan.instalments.iter().map(|i| (i.id.as_str(), i.status)).collect();
        assert_eq!(ids.len(), stored.len() - 1, "the paid one is not rewritten: {ids:?}");
        assert!(plan.instalments.iter().all(|i| i.status == InstalmentStatus::Cancelled && i.approval.is_none()));
        assert!(plan.instalments.iter().all(|i| i.due_at().is_none()), "nothing left in the runner's index");
    }

    #[test]
    fn currency_cannot_change() {
        let first = plan_upsert(None, validated(sample_input()), Actor::operator("op"), now()).unwrap();
        let mut v = sample_input();
        v["currency"] = "EUR".into();
        let existing = Existing {
            booking: &first.booking,
            version: 1,
            instalments: &first.instalments,
            movements: &first.movements,
        };
        assert!(matches!(
            plan_upsert(Some(existing), validated(v), Actor::operator("op"), now()),
            Err(DomainError::Conflict(_))
        ));
    }
}

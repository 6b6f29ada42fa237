//! The Stripe webhook events the portal acts on, parsed from the raw (already verified) body.
//!
//! Stripe sends `latest_charge`, `balance_transaction` and `payment_method` as ids unless expanded; the
//! sandbox sends them expanded. Both forms parse: card brand/last four, the fee and the settlement reference
//! are recorded when the event carries them, else fetched by id through the port (`charge_details`,
//! `card_details`) before the event is recorded.

use serde_json::Value;

use crate::{Method, PaymentMetadata};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub id: String,
    pub event_type: String,
    pub created: i64,
    pub event: GatewayEvent,
    /// For `charge.refunded`: the payment's refunds as read through the API (`refunds_of`) before recording.
    pub listed_refunds: Option<Vec<RefundInfo>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInfo {
    pub brand: String,
    pub last4: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentInfo {
    pub payment_id: String,
    /// Gateway minor units (see `gateway_minor`): `amount_received` once paid, else `amount`.
    pub amount_minor: i64,
    /// ISO code, upper case.
    pub currency: String,
    pub metadata: Option<PaymentMetadata>,
    pub method: Option<Method>,
    pub customer_id: Option<String>,
    pub payment_method_id: Option<String>,
    pub setup_future_usage: Option<String>,
    pub card: Option<CardInfo>,
    pub charge_id: Option<String>,
    pub fee_minor: Option<i64>,
    pub settlement_reference: Option<String>,
    pub failure: Option<String>,
}

/// The settled details of a charge (see [`charge_details`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChargeDetails {
    pub method: Option<Method>,
    pub card: Option<CardInfo>,
    pub fee_minor: Option<i64>,
    pub settlement_reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupInfo {
    pub setup_intent_id: String,
    pub booking_reference: String,
    pub setup_id: String,
    pub traveller_id: Option<String>,
    pub customer_id: String,
    pub payment_method_id: String,
    /// Brand and last four when the event carries the payment method expanded (the sandbox does).
    pub card: Option<CardInfo>,
}

/// A Stripe Refund object (`refund.*` events, `GET /v1/refunds`): `pending`, `requires_action`, `succeeded`,
/// `failed` or `canceled`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundInfo {
    pub id: String,
    pub amount_minor: i64,
    pub status: String,
    /// Lower-case ISO code as Stripe sends it, upper-cased.
    pub currency: String,
    pub payment_id: Option<String>,
    pub charge_id: Option<String>,
    /// Our checkout id and booking when we created the refund (excess refunds), else none.
    pub booking_reference: Option<String>,
    pub failure_reason: Option<String>,
}

impl RefundInfo {
    /// Money back with the customer for good.
    pub fn is_succeeded(&self) -> bool {
        self.status == "succeeded"
    }
    /// On its way (`pending`, `requires_action`).
    pub fn is_pending(&self) -> bool {
        matches!(self.status.as_str(), "pending" | "requires_action")
    }
    /// Did not happen (`failed`, `canceled`): the money stays with the operator.
    pub fn is_failed(&self) -> bool {
        matches!(self.status.as_str(), "failed" | "canceled")
    }
}

/// A Refund object, from an event's `data.object` or a list page.
pub fn refund_of(r: &Value) -> Option<RefundInfo> {
    if r.get("object").and_then(Value::as_str) != Some("refund") {
        return None;
    }
    Some(RefundInfo {
        id: s(r, "id")?,
        amount_minor: r.get("amount").and_then(Value::as_i64).filter(|a| *a > 0)?,
        status: s(r, "status").unwrap_or_else(|| "pending".into()),
        currency: s(r, "currency")?.to_ascii_uppercase(),
        payment_id: id_or_object(r, "payment_intent"),
        charge_id: id_or_object(r, "charge"),
        booking_reference: r.get("metadata").and_then(|m| s(m, "booking_reference")),
        failure_reason: s(r, "failure_reason"),
    })
}

/// Where a dispute is in its lifecycle (the event that reported it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeStage {
    /// `charge.dispute.created`: opened; no money has moved yet.
    Opened,
    /// `charge.dispute.funds_withdrawn`: the disputed amount left the operator's balance.
    FundsWithdrawn,
    /// `charge.dispute.funds_reinstated`: it came back (won, or an inquiry closed).
    FundsReinstated,
    /// `charge.dispute.closed`: `won`, `lost` or `warning_closed` (in `status`).
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeInfo {
    pub stage: DisputeStage,
    pub dispute_id: String,
    pub payment_id: Option<String>,
    pub charge_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    /// Stripe's dispute status: `warning_needs_response`, `needs_response`, `under_review`, `won`, `lost`...
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayEvent {
    PaymentSucceeded(PaymentInfo),
    PaymentProcessing(PaymentInfo),
    PaymentFailed(PaymentInfo),
    /// `refund.created`, `refund.updated`, `refund.failed`: one refund in its current state.
    Refund(RefundInfo),
    /// `charge.refunded`: since API version 2022-11-15 it carries `amount_refunded` but not the refunds, which
    /// are read through the API (`refunds_of`) when that total exceeds what is recorded.
    ChargeRefunded {
        payment_id: String,
        charge_id: String,
        currency: String,
        metadata: Option<PaymentMetadata>,
        amount_refunded_minor: i64,
    },
    Dispute(DisputeInfo),
    /// A card saved for off-session charges (`setup_intent.succeeded`).
    SetupSucceeded(SetupInfo),
    /// Acknowledged and ignored.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook event: {0}")]
pub struct EventError(pub String);

fn s(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).filter(|x| !x.is_empty() && x.len() <= 255).map(str::to_string)
}

fn req_s(v: &Value, field: &str) -> Result<String, EventError> {
    s(v, field).ok_or_else(|| EventError(format!("`{field}` is missing")))
}

fn req_i(v: &Value, field: &str) -> Result<i64, EventError> {
    v.get(field).and_then(Value::as_i64).filter(|n| *n >= 0).ok_or_else(|| EventError(format!("`{field}` is missing")))
}

/// An id, or the `id` of an expanded object.
fn id_or_object(v: &Value, field: &str) -> Option<String> {
    match v.get(field) {
        Some(Value::String(x)) if !x.is_empty() => Some(x.clone()),
        Some(o @ Value::Object(_)) => s(o, "id"),
        _ => None,
    }
}

fn metadata(v: &Value) -> Option<PaymentMetadata> {
    let m = v.get("metadata")?;
    Some(PaymentMetadata {
        booking_reference: s(m, "booking_reference")?,
        checkout_id: s(m, "checkout_id")?,
        movement_id: s(m, "movement_id")?,
        traveller_id: s(m, "traveller_id"),
    })
}

fn method_of(kind: &str) -> Option<Method> {
    match kind {
        "card" => Some(Method::Card),
        "pay_by_bank" => Some(Method::OpenBanking),
        _ => None,
    }
}

fn payment(pi: &Value) -> Result<PaymentInfo, EventError> {
    if pi.get("object").and_then(Value::as_str) != Some("payment_intent") {
        return Err(EventError("data.object is not a payment_intent".into()));
    }
    let amount_received = pi.get("amount_received").and_then(Value::as_i64).filter(|n| *n > 0);
    let amount_minor = match amount_received {
        Some(a) => a,
        None => req_i(pi, "amount")?,
    };
    let charge = pi.get("latest_charge").filter(|c| c.is_object()).map(charge_details).unwrap_or_default();
    let method = charge.method.or_else(|| {
        let types = pi.get("payment_method_types").and_then(Value::as_array)?;
        let only: Vec<_> = types.iter().filter_map(Value::as_str).collect();
        (only.len() == 1).then(|| method_of(only[0])).flatten()
    });
    let failure = pi
        .get("last_payment_error")
        .filter(|e| e.is_object())
        .map(|e| s(e, "decline_code").or_else(|| s(e, "code")).unwrap_or_else(|| "payment_failed".into()));
    Ok(PaymentInfo {
        payment_id: req_s(pi, "id")?,
        amount_minor,
        currency: req_s(pi, "currency")?.to_ascii_uppercase(),
        metadata: metadata(pi),
        method,
        customer_id: id_or_object(pi, "customer"),
        payment_method_id: id_or_object(pi, "payment_method"),
        setup_future_usage: s(pi, "setup_future_usage"),
        card: charge.card,
        charge_id: id_or_object(pi, "latest_charge"),
        fee_minor: charge.fee_minor,
        settlement_reference: charge.settlement_reference,
        failure,
    })
}

/// What a charge object says about the money: how it was paid, the card (brand and last four only), and once
/// its balance transaction is expanded, the fee and the settlement reference. Used for a `latest_charge` the
/// event carries expanded, and for a charge fetched by id (Stripe sends ids in webhooks).
pub fn charge_details(charge: &Value) -> ChargeDetails {
    let details = charge.get("payment_method_details");
    let bt = charge.get("balance_transaction").filter(|b| b.is_object());
    ChargeDetails {
        method: details.and_then(|d| d.get("type")).and_then(Value::as_str).and_then(method_of),
        card: details.and_then(|d| d.get("card")).and_then(card_of),
        fee_minor: bt.and_then(|b| b.get("fee")).and_then(Value::as_i64).filter(|f| *f >= 0),
        settlement_reference: bt.and_then(|b| s(b, "id")),
    }
}

/// Brand and last four of a `card` object (of a charge's payment method details or of a payment method).
pub fn card_of(card: &Value) -> Option<CardInfo> {
    let last4 = s(card, "last4").filter(|l| l.len() == 4 && l.bytes().all(|b| b.is_ascii_digit()))?;
    let brand = s(card, "brand").filter(|b| b.len() <= 32).unwrap_or_else(|| "card".into());
    Some(CardInfo { brand, last4 })
}

/// Parse a verified webhook body.
pub fn parse(body: &[u8]) -> Result<Envelope, EventError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| EventError("the body is not JSON".into()))?;
    if v.get("object").and_then(Value::as_str) != Some("event") {
        return Err(EventError("not an event object".into()));
    }
    let id = req_s(&v, "id")?;
    let event_type = req_s(&v, "type")?;
    let created = v.get("created").and_then(Value::as_i64).unwrap_or(0);
    let object = v.get("data").and_then(|d| d.get("object")).ok_or_else(|| EventError("no data.object".into()))?;
    let event = match event_type.as_str() {
        "payment_intent.succeeded" => GatewayEvent::PaymentSucceeded(payment(object)?),
        "payment_intent.processing" => GatewayEvent::PaymentProcessing(payment(object)?),
        "payment_intent.payment_failed" => GatewayEvent::PaymentFailed(payment(object)?),
        "refund.created" | "refund.updated" | "refund.failed" => GatewayEvent::Refund(
            refund_of(object)
                .ok_or_else(|| EventError("data.object is not a refund with id, amount and currency".into()))?,
        ),
        "charge.refunded" => GatewayEvent::ChargeRefunded {
            payment_id: req_s(object, "payment_intent")?,
            charge_id: req_s(object, "id")?,
            currency: req_s(object, "currency")?.to_ascii_uppercase(),
            metadata: metadata(object),
            amount_refunded_minor: req_i(object, "amount_refunded")?,
        },
        t @ ("charge.dispute.created"
        | "charge.dispute.funds_withdrawn"
        | "charge.dispute.funds_reinstated"
        | "charge.dispute.closed") => GatewayEvent::Dispute(DisputeInfo {
            stage: match t {
                "charge.dispute.created" => DisputeStage::Opened,
                "charge.dispute.funds_withdrawn" => DisputeStage::FundsWithdrawn,
                "charge.dispute.funds_reinstated" => DisputeStage::FundsReinstated,
                _ => DisputeStage::Closed,
            },
            dispute_id: req_s(object, "id")?,
            payment_id: id_or_object(object, "payment_intent"),
            charge_id: id_or_object(object, "charge").ok_or_else(|| EventError("`charge` is missing".into()))?,
            amount_minor: req_i(object, "amount")?,
            currency: req_s(object, "currency")?.to_ascii_uppercase(),
            reason: s(object, "reason").unwrap_or_else(|| "general".into()),
            status: s(object, "status").unwrap_or_else(|| "needs_response".into()),
        }),
        "setup_intent.succeeded" => {
            let m = object.get("metadata").ok_or_else(|| EventError("no metadata on the setup intent".into()))?;
            let card = object.get("payment_method").and_then(|pm| pm.get("card")).and_then(card_of);
            GatewayEvent::SetupSucceeded(SetupInfo {
                setup_intent_id: req_s(object, "id")?,
                booking_reference: req_s(m, "booking_reference")?,
                setup_id: req_s(m, "setup_id")?,
                traveller_id: s(m, "traveller_id"),
                customer_id: id_or_object(object, "customer")
                    .ok_or_else(|| EventError("`customer` is missing".into()))?,
                payment_method_id: id_or_object(object, "payment_method")
                    .ok_or_else(|| EventError("`payment_method` is missing".into()))?,
                card,
            })
        }
        _ => GatewayEvent::Other,
    };
    Ok(Envelope { id, event_type, created, event, listed_refunds: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_are_other_and_garbage_is_an_error() {
        let e = parse(br#"{"id":"evt_1","object":"event","type":"customer.created","data":{"object":{}}}"#).unwrap();
        assert_eq!(e.event, GatewayEvent::Other);
        assert!(parse(b"nope").is_err());
        assert!(parse(br#"{"id":"evt_1","object":"charge"}"#).is_err());
        assert!(
            parse(br#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded","data":{"object":{}}}"#)
                .is_err()
        );
    }

    #[test]
    fn stripe_shaped_payment_intent_with_ids_only() {
        let body = serde_json::json!({
            "id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "created": 1,
            "data": {"object": {"id": "pi_1", "object": "payment_intent", "amount": 5000, "amount_received": 5000,
                "currency": "gbp", "customer": "cus_1", "payment_method": "pm_1", "latest_charge": "ch_1",
                "payment_method_types": ["card"], "setup_future_usage": "off_session",
                "metadata": {"booking_reference": "AE-1", "checkout_id": "chk_1", "movement_id": "mov_1"}}}
        });
        let e = parse(body.to_string().as_bytes()).unwrap();
        let GatewayEvent::PaymentSucceeded(p) = e.event else { panic!() };
        assert_eq!((p.amount_minor, p.currency.as_str(), p.method), (5000, "GBP", Some(Method::Card)));
        assert_eq!(p.charge_id.as_deref(), Some("ch_1"));
        assert_eq!((p.card, p.fee_minor), (None, None));
        assert_eq!(p.metadata.unwrap().traveller_id, None);
    }
}

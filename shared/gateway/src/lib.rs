//! The payment-gateway port and its two implementations.
//!
//! - [`stripe::StripeGateway`]: Stripe's HTTPS API (PaymentIntents; card and Pay by Bank).
//! - [`sandbox::SandboxGateway`]: a local gateway for the local portal and tests. A person can pay, decline
//!   or leave an open-banking payment pending on its checkout page; it delivers webhooks in Stripe's exact
//!   event format and signature scheme, so the same verification and recording code runs.
//!
//! [`signature`] is the `Stripe-Signature` scheme (sign and verify); [`event`] parses the webhook events we
//! act on. Card data never passes through here: the customer enters it in the gateway's embedded checkout.

pub mod event;
pub mod fixtures;
pub mod sandbox;
pub mod signature;
pub mod stripe;

use std::future::Future;
use std::pin::Pin;

use portal_domain::money::Money;
use serde::{Deserialize, Serialize};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How the customer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Card,
    /// Pay by Bank (open banking); GBP and EUR.
    OpenBanking,
}

/// Our references, carried by the gateway as payment metadata and returned on every webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMetadata {
    pub booking_reference: String,
    pub checkout_id: String,
    pub movement_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traveller_id: Option<String>,
}

/// A card saved for later off-session charges (approved instalments, charged by the instalment runner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedCard {
    pub customer_id: String,
    pub payment_method_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePayment {
    pub amount: Money,
    pub method: Method,
    /// Passed as the gateway's idempotency key: a retry with the same key creates nothing new.
    pub idempotency_key: String,
    pub description: String,
    pub metadata: PaymentMetadata,
    /// Receipt/customer email at the gateway (not logged).
    pub customer_email: Option<String>,
    /// Cards: `setup_future_usage=off_session` so approved instalments can be charged later.
    pub save_card: bool,
    /// An existing gateway customer to attach the card to (else one is created when `save_card`).
    pub customer_id: Option<String>,
    /// Charge a saved card without the customer present (confirmed at creation).
    pub off_session: Option<SavedCard>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedPayment {
    pub payment_id: String,
    /// For the embedded checkout (Stripe Elements / the sandbox page). Not a secret of ours; never logged.
    pub client_secret: String,
    /// The sandbox's checkout page; `None` for Stripe (the front end mounts Elements with the client secret).
    pub checkout_url: Option<String>,
    pub customer_id: Option<String>,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("the payment gateway did not answer in time")]
    Timeout,
    #[error("the payment gateway failed: {0}")]
    Unavailable(String),
    #[error("the payment gateway refused the request ({status} {code}): {message}")]
    Rejected { status: u16, code: String, message: String },
    #[error("unexpected answer from the payment gateway: {0}")]
    Protocol(String),
}

/// Save a card for later off-session charges without taking a payment (Stripe: a SetupIntent with
/// `usage=off_session`). The `setup_intent.succeeded` webhook carries the saved payment method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateSetup {
    /// Passed as the gateway's idempotency key.
    pub idempotency_key: String,
    /// Carried as metadata and returned on the webhook: `booking_reference`, `setup_id`, `traveller_id`.
    pub booking_reference: String,
    pub setup_id: String,
    pub traveller_id: String,
    /// An existing gateway customer (else one is created).
    pub customer_id: Option<String>,
    /// At the gateway only (not logged).
    pub customer_email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedSetup {
    pub setup_intent_id: String,
    /// For the embedded card form (Stripe Elements `confirmCardSetup` / the sandbox page). Never logged.
    pub client_secret: String,
    pub setup_url: Option<String>,
    pub customer_id: String,
}

/// What cancelling a gateway payment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelled {
    /// Cancelled now (or it already was): it can never take money.
    Cancelled,
    /// Too late: the payment is `succeeded`, `processing` or otherwise past cancelling (its status); its
    /// webhook records it.
    TooLate(String),
}

/// The port every money flow talks to.
/// A refund we start ourselves (money received beyond what a booking costs, or after it was cancelled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRefund {
    pub payment_id: String,
    pub amount: Money,
    /// Derived from the payment refunded, so one payment's excess is refunded once however often it is asked.
    pub idempotency_key: String,
    pub booking_reference: String,
    /// Stripe's `reason`: `duplicate` (paid twice) or `requested_by_customer` (after a cancellation).
    pub reason: &'static str,
}

pub trait PaymentGateway: Send + Sync {
    /// `"stripe"` or `"sandbox"`.
    fn name(&self) -> &'static str;
    /// Create (or, with the same idempotency key, return again) a payment for embedded checkout.
    fn create_payment<'a>(&'a self, req: &'a CreatePayment) -> BoxFuture<'a, Result<CreatedPayment, GatewayError>>;
    /// Start saving a card for off-session charges (idempotent on the key).
    fn create_setup<'a>(&'a self, req: &'a CreateSetup) -> BoxFuture<'a, Result<CreatedSetup, GatewayError>>;
    /// Cancel an open payment (Stripe: `POST /v1/payment_intents/{id}/cancel`), so a superseded or expired
    /// checkout can never take money. Idempotent: an already cancelled payment answers `Cancelled`.
    fn cancel_payment<'a>(&'a self, payment_id: &'a str) -> BoxFuture<'a, Result<Cancelled, GatewayError>>;
    /// Every refund of a payment (Stripe: `GET /v1/refunds?payment_intent=...`): since API version 2022-11-15 a
    /// Charge no longer carries its refunds, so a `charge.refunded` whose `amount_refunded` exceeds what we
    /// recorded is resolved by reading them.
    fn refunds_of<'a>(&'a self, payment_id: &'a str) -> BoxFuture<'a, Result<Vec<event::RefundInfo>, GatewayError>>;
    /// Refund (part of) a succeeded payment (Stripe: `POST /v1/refunds`), idempotent on the key: the same key
    /// answers the same refund. The answer is usually `pending`; `refund.updated` settles it.
    fn create_refund<'a>(&'a self, req: &'a CreateRefund) -> BoxFuture<'a, Result<event::RefundInfo, GatewayError>>;
    /// A payment as the gateway holds it now (Stripe: `GET /v1/payment_intents/{id}` with its latest charge
    /// and balance transaction expanded): the reconciler reads the ones whose webhook never came.
    fn read_payment<'a>(&'a self, payment_id: &'a str) -> BoxFuture<'a, Result<serde_json::Value, GatewayError>>;
    /// A charge's fee, settlement reference and card, for a webhook that named the charge only by id (Stripe
    /// does). `Ok(None)`: this gateway always sends them expanded (the sandbox).
    fn charge_details<'a>(
        &'a self,
        _charge_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<event::ChargeDetails>, GatewayError>> {
        Box::pin(async { Ok(None) })
    }
    /// A saved payment method's card (brand and last four), for a webhook that named it only by id.
    fn card_details<'a>(
        &'a self,
        _payment_method_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<event::CardInfo>, GatewayError>> {
        Box::pin(async { Ok(None) })
    }
}

/// Stripe's card-decline codes (`error.code`, or `decline_code` under `card_declined`): the bank said no. Only
/// these count as a failed instalment and email the customer; anything else (a bad key, an invalid request, a
/// 5xx) is our problem, retried or alarmed, never told to the customer as "your payment failed".
pub const DECLINE_CODES: &[&str] = &[
    "card_declined",
    "insufficient_funds",
    "expired_card",
    "incorrect_cvc",
    "incorrect_number",
    "invalid_cvc",
    "invalid_expiry_month",
    "invalid_expiry_year",
    "lost_card",
    "stolen_card",
    "processing_error",
    "do_not_honor",
    "generic_decline",
    "card_velocity_exceeded",
    "withdrawal_count_limit_exceeded",
    "payment_method_not_available",
];

/// The card needs its holder: 3-D Secure on an off-session charge (`authentication_required`).
pub const AUTHENTICATION_REQUIRED: &str = "authentication_required";

impl GatewayError {
    /// The bank declined the card: a definitive answer, not worth retrying with the same key, and worth telling
    /// the customer. A 401 (bad key), 400 (invalid request) or 404 is not a decline.
    pub fn is_decline(&self) -> bool {
        match self {
            GatewayError::Rejected { status, code, .. } => {
                (*status == 402 || *status == 400) && DECLINE_CODES.contains(&code.as_str())
            }
            _ => false,
        }
    }

    /// An off-session charge that needs the customer to authenticate (Stripe's recovery: bring them back
    /// on-session to confirm that payment).
    pub fn needs_authentication(&self) -> bool {
        matches!(self, GatewayError::Rejected { code, .. } if code == AUTHENTICATION_REQUIRED)
    }
}

/// Amount in the gateway's minor units. Stripe keeps ISK as a two-decimal currency for backwards
/// compatibility (amounts are whole krónur ×100) and wants three-decimal currencies rounded to 10.
pub fn gateway_minor(amount: Money) -> Result<i64, GatewayError> {
    use portal_domain::money::Currency;
    match amount.currency() {
        Currency::Isk => {
            amount.minor().checked_mul(100).ok_or_else(|| GatewayError::Protocol("amount too large".into()))
        }
        c if c.exponent() == 3 && amount.minor() % 10 != 0 => Err(GatewayError::Rejected {
            status: 400,
            code: "amount_precision".into(),
            message: format!("{c} amounts must be a multiple of 0.010 at the gateway"),
        }),
        _ => Ok(amount.minor()),
    }
}

/// The inverse of [`gateway_minor`].
pub fn from_gateway_minor(minor: i64, currency: portal_domain::money::Currency) -> Option<Money> {
    let ours = if currency == portal_domain::money::Currency::Isk { minor / 100 } else { minor };
    Money::from_minor(ours, currency).ok()
}

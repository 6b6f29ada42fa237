//! `POST /webhooks/payments`: the payment gateway's signed webhook, the only thing that records money.
//!
//! 1. Verify `Stripe-Signature` over the raw body (HMAC-SHA256, constant time, 300 s tolerance).
//! 2. Parse the event; types we do not act on are acknowledged and ignored.
//! 3. Claim the event id (conditional `PutItem`, with a lease so a crashed delivery can be taken over).
//! 4. Record it: movement(s), outbox event, booking version/aggregate, checkout intent, saved card and the
//!    event's `done` marker in one conditional `TransactWriteItems`; a concurrent change of the booking
//!    retries from a fresh read. Duplicates, concurrent deliveries and out-of-order events record once.
//! 5. On a new payment, send the receipt email; on a recorded payment or refund, queue the regeneration of
//!    the booking's documents (invoice, receipts), after the commit and best effort like the receipt.

pub mod receipt;
pub mod refund_email;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use portal_domain::booking::{Booking, PaymentChannel};
use portal_domain::events::{GatewayRefs, LedgerEvent};
use portal_domain::ledger::{Actor, ActorKind, LedgerSummary, Movement, MovementKind};
use portal_domain::locale::Locale;
use portal_domain::money::{Currency, Money};
use portal_domain::payment::{self, OverpaymentPolicy};
use portal_domain::schedule::{self, Instalment, RetryPolicy};
use portal_domain::upsert::movement_id;
use portal_gateway::event::{self, Envelope, GatewayEvent, PaymentInfo};
use portal_gateway::signature::{self, SignatureError};
use portal_gateway::{Method, PaymentGateway, from_gateway_minor};
use portal_http::config::{self, ConfigError};
use portal_http::request::body_bytes;
use portal_http::{ApiError, MAX_BODY_BYTES, header, json, respond};
use portal_store::items::Aggregate;
use portal_store::payments::{
    CheckoutIntentItem, Claim, ClaimItem, ENTITY_PAYMENT_METHOD, ExcessRefundItem, PaymentMethodItem, Recording,
    STATE_DONE,
};
use portal_store::{BookingCollection, Store, StoreError};
use serde::Serialize;

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// A delivery holding an event's claim longer than this is presumed crashed; a redelivery takes over.
pub const EVENT_LEASE_SECONDS: i64 = 60;
const MAX_ATTEMPTS: usize = 6;

pub struct State {
    pub store: Store,
    pub webhook_secret: String,
    pub tolerance_seconds: i64,
    pub brands: portal_mail::Brands,
    pub clock: Clock,
    /// Where document regeneration requests go (`DOCUMENTS_QUEUE_URL`); `None`: not queued.
    pub documents: Option<portal_store::documents::DocumentQueue>,
    /// Retries of declined off-session instalment charges (the runner's policy: `RETRY_MAX_ATTEMPTS`,
    /// `RETRY_BACKOFF`).
    pub retry_policy: RetryPolicy,
    /// Where the collection-failure email's pay-by-hand link points (`PORTAL_URL`); `None`: no such email from
    /// here (the runner sends it for the declines it sees, which with Stripe is every off-session decline).
    pub portal_url: Option<String>,
    /// Reads what an event names only by id (Stripe: the charge's fee and card, a set-up card's brand and last
    /// four) before recording; `None`: record what the event carries (the sandbox sends everything expanded).
    pub gateway: Option<Arc<dyn PaymentGateway>>,
}

impl State {
    pub fn new(store: Store, webhook_secret: &str, brands: portal_mail::Brands) -> State {
        State {
            store,
            webhook_secret: webhook_secret.into(),
            tolerance_seconds: signature::DEFAULT_TOLERANCE_SECONDS,
            brands,
            clock: Arc::new(Utc::now),
            documents: None,
            retry_policy: RetryPolicy::default(),
            portal_url: None,
            gateway: None,
        }
    }

    pub fn with_gateway(mut self, gateway: Arc<dyn PaymentGateway>) -> State {
        self.gateway = Some(gateway);
        self
    }

    pub fn with_documents(mut self, queue: portal_store::documents::DocumentQueue) -> State {
        self.documents = Some(queue);
        self
    }

    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> State {
        self.clock = Arc::new(clock);
        self
    }

    /// `TABLE_NAME`, `STRIPE_WEBHOOK_SECRET`, `EMAIL_SENDER`, optional `BRANDS_JSON`, `DOCUMENTS_QUEUE_URL`,
    /// `RETRY_MAX_ATTEMPTS` and `RETRY_BACKOFF` (the instalment runner's retry policy), `PORTAL_URL`, and
    /// `STRIPE_SECRET_KEY` (+ `STRIPE_API_BASE`, `GATEWAY_TIMEOUT_MS`) to read fees and cards Stripe sends as ids.
    pub async fn from_env() -> Result<State, ConfigError> {
        let table = config::required("TABLE_NAME")?;
        let secret = config::required("STRIPE_WEBHOOK_SECRET")?;
        let sender = config::required("EMAIL_SENDER")?;
        let brands = portal_mail::Brands::parse(config::optional("BRANDS_JSON").as_deref(), sender.trim())
            .map_err(|e| ConfigError { variable: portal_mail::BrandsError::VARIABLE, problem: e.problem })?;
        let sdk = portal_store::aws::sdk_config().await;
        let store = Store::new(portal_store::aws::dynamodb_client(&sdk, None), table);
        let documents = portal_store::documents::DocumentQueue::from_env(&sdk);
        let retry_policy = RetryPolicy::parse(
            &config::optional("RETRY_MAX_ATTEMPTS").unwrap_or_else(|| "3".into()),
            &config::optional("RETRY_BACKOFF").unwrap_or_else(|| "2d,3d".into()),
        )
        .map_err(|problem| ConfigError { variable: "RETRY_BACKOFF", problem })?;
        let state = State::new(store, &secret, brands);
        let portal_url = config::optional("PORTAL_URL").map(|u| u.trim().trim_end_matches('/').to_string());
        let gateway: Option<Arc<dyn PaymentGateway>> = match config::optional("STRIPE_SECRET_KEY") {
            None => None,
            Some(key) => Some(Arc::new(portal_gateway::stripe::StripeGateway::from_env(&key, 5000)?)),
        };
        Ok(State { documents, retry_policy, portal_url, gateway, ..state })
    }
}

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Infallible> {
    respond(route(state, req)).await
}

#[derive(Debug, Serialize)]
struct Ack {
    received: bool,
    event_id: String,
    outcome: &'static str,
}

fn ack(event_id: &str, outcome: &'static str) -> Result<Response<Body>, ApiError> {
    json(200, &Ack { received: true, event_id: event_id.into(), outcome })
}

fn bad_signature(e: SignatureError) -> ApiError {
    ApiError::client(400, "invalid-signature", "Invalid webhook signature", e.to_string())
}

async fn route(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    if req.method() != http::Method::POST {
        return Err(ApiError::method_not_allowed());
    }
    let now = (state.clock)();
    let raw = body_bytes(&req);
    if raw.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    signature::verify(
        header(&req, "stripe-signature"),
        raw,
        &state.webhook_secret,
        now.timestamp(),
        state.tolerance_seconds,
    )
    .map_err(|e| {
        tracing::warn!(reason = %e, "webhook signature refused");
        bad_signature(e)
    })?;
    let env = event::parse(raw).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let label = record_event(state, env.clone(), now).await?;
    ack(&env.id, label)
}

/// Record one gateway event exactly once, as the webhook does: find its booking, claim the event id, fill in
/// what it names only by id, record, then send what follows (receipt, refund of an excess, decline email,
/// document regeneration). The reconciler hands in events it built from the gateway's current state through
/// this same path. Returns the outcome label.
pub async fn record_event(state: &State, env: Envelope, now: DateTime<Utc>) -> Result<&'static str, ApiError> {
    let Some((reference, checkout_id)) = locate(state, &env).await? else {
        tracing::info!(event_id = %env.id, event_type = %env.event_type, "webhook acknowledged, not ours or not acted on");
        return Ok("ignored");
    };

    let claim =
        match state.store.claim(&ClaimItem::webhook_event(&env.id, &env.event_type, now), EVENT_LEASE_SECONDS).await? {
            Claim::Won(c) => c,
            Claim::Taken(existing) => return duplicate(state, &env.id, existing).await,
        };
    let env = with_details(state, env).await;
    match record_with_retries(state, &env, &reference, checkout_id.as_deref(), &claim, now).await {
        Ok(outcome) => {
            tracing::info!(event_id = %env.id, event_type = %env.event_type, reference = %reference, outcome = outcome.label, "webhook recorded");
            if let Some((x, booking)) = &outcome.excess {
                refund_excess(state, booking, x).await;
            }
            if matches!(outcome.label, "recorded" | "refund_recorded" | "dispute_recorded") {
                queue_documents(state, &reference).await;
            }
            Ok(outcome.label)
        }
        Err(e) => {
            let _ = state.store.release(&claim).await;
            Err(e)
        }
    }
}

/// Fill in what the event names only by id, from the gateway: a succeeded payment's fee, settlement reference
/// and card (`latest_charge` unexpanded), a set-up card's brand and last four (`payment_method` unexpanded).
/// Best effort: if the gateway cannot answer, the event is recorded with what it carries (logged), because
/// holding a payment back for its fee would be worse.
async fn with_details(state: &State, mut env: Envelope) -> Envelope {
    let Some(gateway) = &state.gateway else { return env };
    match &mut env.event {
        GatewayEvent::PaymentSucceeded(p) if p.fee_minor.is_none() || p.card.is_none() => {
            let Some(charge_id) = p.charge_id.clone() else { return env };
            match gateway.charge_details(&charge_id).await {
                Ok(Some(d)) => {
                    p.fee_minor = p.fee_minor.or(d.fee_minor);
                    p.settlement_reference = p.settlement_reference.take().or(d.settlement_reference);
                    p.card = p.card.take().or(d.card);
                    p.method = p.method.or(d.method);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(event_id = %env.id, error = %e, "charge details not read; recorded without fee")
                }
            }
        }
        // Stripe's Charge no longer lists its refunds (API 2022-11-15): read them, and record each like a
        // `refund.*` event. A read failure fails the delivery (503) so the gateway retries: a refund is never
        // dropped as "already recorded".
        GatewayEvent::ChargeRefunded { payment_id, .. } => match gateway.refunds_of(payment_id).await {
            Ok(list) => env.listed_refunds = Some(list),
            Err(e) => tracing::warn!(event_id = %env.id, error = %e, "refunds of a charge.refunded not read"),
        },
        GatewayEvent::SetupSucceeded(s) if s.card.is_none() => match gateway.card_details(&s.payment_method_id).await {
            Ok(card) => s.card = card,
            Err(e) => tracing::warn!(event_id = %env.id, error = %e, "card details not read; saved without brand"),
        },
        _ => {}
    }
    env
}

/// Ask the document worker to regenerate what a new money movement changes (invoice, receipts). Best effort
/// after the commit: the movement is recorded either way, and an operator's regenerate request recovers.
async fn queue_documents(state: &State, reference: &str) {
    let Some(q) = &state.documents else { return };
    let msg = portal_store::documents::RegenerateMessage {
        reference: reference.into(),
        types: Vec::new(),
        reason: "payment_recorded".into(),
    };
    if let Err(e) = q.send(&msg).await {
        tracing::error!(reference, error = %e, "document regeneration not queued after a payment");
    }
}

/// The booking (and checkout) an event belongs to: from the metadata we set at checkout, or from the
/// gateway-payment pointer for events without metadata.
async fn locate(state: &State, env: &Envelope) -> Result<Option<(String, Option<String>)>, ApiError> {
    let (metadata, payment_id) = match &env.event {
        GatewayEvent::PaymentSucceeded(p) | GatewayEvent::PaymentProcessing(p) | GatewayEvent::PaymentFailed(p) => {
            (p.metadata.clone(), Some(p.payment_id.clone()))
        }
        GatewayEvent::ChargeRefunded { metadata, payment_id, .. } => (metadata.clone(), Some(payment_id.clone())),
        GatewayEvent::Refund(r) => (None, r.payment_id.clone()),
        GatewayEvent::Dispute(d) => (None, d.payment_id.clone()),
        GatewayEvent::SetupSucceeded(setup) => {
            let ok = portal_domain::ids::BookingReference::parse(&setup.booking_reference).is_ok();
            return Ok(ok.then(|| (setup.booking_reference.clone(), None)));
        }
        GatewayEvent::Other => return Ok(None),
    };
    if let Some(m) = metadata
        && portal_domain::ids::BookingReference::parse(&m.booking_reference).is_ok()
    {
        return Ok(Some((m.booking_reference, Some(m.checkout_id))));
    }
    match payment_id {
        Some(id) => Ok(state.store.gateway_payment(&id).await?.map(|p| (p.reference, Some(p.checkout_id)))),
        None => Ok(None),
    }
}

async fn duplicate(state: &State, event_id: &str, mut existing: ClaimItem) -> Result<&'static str, ApiError> {
    for _ in 0..30 {
        if existing.is_done() {
            tracing::info!(event_id, "webhook duplicate acknowledged");
            return Ok("duplicate");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        match state.store.get_webhook_event(event_id).await? {
            Some(e) => existing = e,
            None => break,
        }
    }
    // Still being recorded by another delivery (or it failed): the gateway retries later.
    Err(ApiError::client(
        409,
        "event-in-progress",
        "Event in progress",
        "this event is being recorded by another delivery; retry later",
    )
    .with_retry_after(5))
}

struct Outcome {
    label: &'static str,
    receipt: Option<ReceiptJob>,
    /// Money beyond what is owed (a payment's, or a failed refund's): refund it now (it is recorded `due`
    /// already), with the booking whose payer is told.
    excess: Option<(ExcessRefundItem, Booking)>,
}

struct ReceiptJob {
    movement_id: String,
    booking: Booking,
    payer_traveller_id: Option<String>,
    amount: Money,
    card: Option<(String, String)>,
    paid_at: DateTime<Utc>,
    summary: LedgerSummary,
}

async fn record_with_retries(
    state: &State,
    env: &Envelope,
    reference: &str,
    checkout_id: Option<&str>,
    claim: &ClaimItem,
    now: DateTime<Utc>,
) -> Result<Outcome, ApiError> {
    for attempt in 0..MAX_ATTEMPTS {
        let Some(c) = state.store.load_booking(reference).await? else {
            tracing::warn!(event_id = %env.id, reference, "webhook for an unknown booking; acknowledged");
            finish_only(state, claim, reference, now).await?;
            return Ok(Outcome { label: "unknown_booking", receipt: None, excess: None });
        };
        let intent =
            checkout_id.and_then(|id| portal_store::payments::intents(&c).into_iter().find(|i| i.checkout_id == id));
        let overpayment = state.brands.overpayment(&c.booking.brand);
        let (mut recording, outcome) = plan(env, &c, intent, claim, now, &state.retry_policy, overpayment)?;
        // The customer's emails go into the mail outbox in the same transaction: no payment without its receipt.
        if let Some(job) = &outcome.receipt {
            recording.notices.extend(receipt_notice(state, job, now));
        }
        if outcome.label == "failure_recorded" {
            recording.notices.extend(decline_notice(state, env, &c, &recording, now));
        }
        match state.store.record(&recording).await {
            Ok(()) => return Ok(outcome),
            Err(StoreError::Conflict(_)) => {
                // Someone else changed the booking (or took our lapsed claim): read again and re-plan.
                if state.store.get_webhook_event(&env.id).await?.is_some_and(|e| e.is_done()) {
                    return Ok(Outcome { label: "duplicate", receipt: None, excess: None });
                }
                tokio::time::sleep(Duration::from_millis(20 * (attempt as u64 + 1))).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unavailable(format!("booking {reference} kept changing while recording {}", env.id)))
}

async fn finish_only(state: &State, claim: &ClaimItem, reference: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    let r = Recording {
        reference: reference.into(),
        done: done(claim, reference),
        booking: None,
        movements: vec![],
        events: vec![],
        intent: None,
        saved_method: None,
        instalments: vec![],
        excess: None,
        notices: vec![],
        now,
    };
    match state.store.record(&r).await {
        Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn done(claim: &ClaimItem, reference: &str) -> ClaimItem {
    let mut d = claim.clone();
    d.state = STATE_DONE.into();
    d.reference = Some(reference.into());
    d
}

fn occurred(env: &Envelope, now: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(env.created, 0).filter(|_| env.created > 0).unwrap_or(now)
}

fn money(minor: i64, currency_code: &str, booking_currency: Currency) -> Result<Money, String> {
    let c = Currency::parse(currency_code).map_err(|e| e.to_string())?;
    if c != booking_currency {
        return Err(format!("event in {c}, booking in {booking_currency}"));
    }
    from_gateway_minor(minor, c).ok_or_else(|| "amount out of range".into())
}

fn channel(m: Option<Method>) -> PaymentChannel {
    match m {
        Some(Method::OpenBanking) => PaymentChannel::OpenBanking,
        _ => PaymentChannel::Card,
    }
}

fn gateway_actor(intent: Option<&CheckoutIntentItem>) -> Actor {
    Actor { kind: ActorKind::Gateway, id: intent.map_or_else(|| "gateway".to_string(), |i| i.gateway.clone()) }
}

/// Work out what one event changes on the booking as read. Pure apart from the clock passed in.
fn plan(
    env: &Envelope,
    c: &BookingCollection,
    intent: Option<CheckoutIntentItem>,
    claim: &ClaimItem,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
    overpayment: OverpaymentPolicy,
) -> Result<(Recording, Outcome), ApiError> {
    let reference = c.booking.reference.as_str();
    let currency = c.booking.currency;
    let mut r = Recording {
        reference: reference.into(),
        done: done(claim, reference),
        booking: None,
        movements: vec![],
        events: vec![],
        intent: None,
        saved_method: None,
        instalments: vec![],
        excess: None,
        notices: vec![],
        now,
    };
    let has = |id: &str| c.movements.iter().any(|m| m.id == id);
    let mut label = "recorded";
    let mut receipt = None;
    let set_intent_status = |r: &mut Recording, status: &str, keep_if: &[&str]| {
        if let Some(i) = &intent
            && !keep_if.contains(&i.status.as_str())
        {
            r.intent = Some((i.with_status(status, now), i.status.clone()));
        }
    };
    match &env.event {
        GatewayEvent::PaymentSucceeded(p) => {
            let amount = match money(p.amount_minor, &p.currency, currency) {
                Ok(m) => m,
                Err(why) => {
                    tracing::error!(event_id = %env.id, reference, why = %why, "payment not recordable; needs a person");
                    return Ok((r, Outcome { label: "unrecordable", receipt: None, excess: None }));
                }
            };
            let checkout = intent
                .as_ref()
                .map(|i| i.checkout_id.clone())
                .or_else(|| p.metadata.as_ref().map(|m| m.checkout_id.clone()));
            let key = format!("checkout:{}", checkout.as_deref().unwrap_or(&p.payment_id));
            let id = movement_id(&key);
            set_intent_status(&mut r, "succeeded", &["succeeded"]);
            // An off-session instalment charge (the runner's charge id travels as `checkout_id`): paid.
            let charged = instalment_charged(c, checkout.as_deref());
            if has(&id) {
                label = "already_recorded";
            } else {
                let fee = p.fee_minor.and_then(|f| from_gateway_minor(f, currency));
                let m = Movement {
                    id,
                    kind: MovementKind::Payment,
                    amount,
                    channel: Some(channel(p.method)),
                    external_reference: Some(p.payment_id.clone()),
                    occurred_at: occurred(env, now),
                    recorded_at: now,
                    actor: if charged.is_some() {
                        Actor::system("instalment-runner")
                    } else {
                        gateway_actor(intent.as_ref())
                    },
                    idempotency_key: key,
                    traveller_id: intent
                        .as_ref()
                        .and_then(|i| i.traveller_id.clone())
                        .or_else(|| p.metadata.as_ref().and_then(|m| m.traveller_id.clone())),
                    instalment_ids: match charged {
                        Some(i) => vec![i.id.clone()],
                        None => intent.as_ref().map(|i| i.instalment_ids.clone()).unwrap_or_default(),
                    },
                    description: Some(describe(p)),
                    acquirer_fee: fee,
                };
                if let (Some(i), Some(charge)) = (charged, checkout.as_deref())
                    && let Some(paid) = schedule::attempt_succeeded(i, charge)
                {
                    r.instalments.push(paid);
                }
                r.saved_method = saved_card(p, intent.as_ref(), reference, now);
                receipt = Some(ReceiptJob {
                    movement_id: m.id.clone(),
                    booking: c.booking.clone(),
                    payer_traveller_id: intent
                        .as_ref()
                        .map(|i| i.payer_traveller_id.clone())
                        .or_else(|| charged.and_then(|i| i.approval.as_ref()).map(|a| a.approved_by.clone())),
                    amount,
                    card: p.card.as_ref().map(|k| (k.brand.clone(), k.last4.clone())),
                    paid_at: m.occurred_at,
                    summary: LedgerSummary::compute(
                        &c.booking,
                        &with(&c.movements, &m),
                        &c.instalments,
                        now.date_naive(),
                    )
                    .map_err(|e| ApiError::internal(format!("ledger: {e}")))?,
                });
                // Money beyond what is owed (two checkouts paid, the price cut meanwhile, the booking cancelled)
                // is recorded, then given back: the refund is due in this same transaction.
                if let Some(job) = &receipt {
                    let in_flight = excess_in_flight(c, &c.movements)?;
                    if let Some((give, reason)) =
                        payment::excess(c.booking.status, &job.summary, amount, in_flight, overpayment)
                    {
                        let payer = job.payer_traveller_id.clone();
                        r.excess = Some(ExcessRefundItem::due(
                            reference,
                            &p.payment_id,
                            &p.payment_id,
                            give,
                            reason,
                            payer,
                            now,
                        ));
                        tracing::info!(reference, payment_id = %p.payment_id, amount = %give, reason = ?reason, "payment beyond what is owed; refund due");
                    }
                }
                add_movement(&mut r, c, m, Some(p))?;
            }
        }
        GatewayEvent::PaymentProcessing(_) => {
            set_intent_status(&mut r, "processing", &["processing", "succeeded", "cancelled"]);
            label = "processing";
        }
        GatewayEvent::PaymentFailed(p)
            if instalment_charged(c, p.metadata.as_ref().map(|m| m.checkout_id.as_str())).is_some() =>
        {
            // A declined off-session instalment charge: the runner usually recorded it already from the
            // gateway's synchronous answer (same evidence id); otherwise record it here and plan the retry.
            label = "already_recorded";
            let charge = p.metadata.as_ref().map(|m| m.checkout_id.clone()).unwrap_or_default();
            if let Some(i) = instalment_charged(c, Some(&charge))
                && !has(&movement_id(&schedule::decline_key(&charge)))
            {
                let reason = p.failure.clone().unwrap_or_else(|| "payment_failed".into());
                if let Some(failed) = schedule::attempt_declined(i, &charge, &reason, now, policy) {
                    let m = schedule::decline_evidence(&failed, &charge, &reason, now);
                    r.instalments.push(failed);
                    add_movement(&mut r, c, m, Some(p))?;
                    label = "failure_recorded";
                }
            }
        }
        GatewayEvent::PaymentFailed(p) => {
            set_intent_status(&mut r, "failed", &["failed", "succeeded", "cancelled"]);
            let key = format!("gateway-failure:{}", env.id);
            let id = movement_id(&key);
            let amount = money(p.amount_minor, &p.currency, currency).unwrap_or(Money::zero(currency));
            label = "failure_recorded";
            if !has(&id) {
                let m = Movement {
                    id,
                    kind: MovementKind::PaymentFailed,
                    amount,
                    channel: Some(channel(p.method)),
                    external_reference: Some(p.payment_id.clone()),
                    occurred_at: occurred(env, now),
                    recorded_at: now,
                    actor: gateway_actor(intent.as_ref()),
                    idempotency_key: key,
                    traveller_id: intent.as_ref().and_then(|i| i.traveller_id.clone()),
                    instalment_ids: intent.as_ref().map(|i| i.instalment_ids.clone()).unwrap_or_default(),
                    description: p.failure.clone(),
                    acquirer_fee: None,
                };
                add_movement(&mut r, c, m, Some(p))?;
            }
        }
        GatewayEvent::Refund(refund) => {
            label = refund_movements(&mut r, c, env, std::slice::from_ref(refund), intent.as_ref(), now)?;
        }
        GatewayEvent::ChargeRefunded { payment_id, amount_refunded_minor, currency: code, .. } => {
            // Only the total: what it adds beyond what we recorded comes from the refunds read through the API.
            let recorded: i64 = c
                .movements
                .iter()
                .filter(|m| m.description.as_deref() == Some(&refund_description(payment_id)))
                .filter(|m| matches!(m.kind, MovementKind::Refund | MovementKind::RefundPending))
                .filter(|m| m.kind == MovementKind::Refund || !settled_refund(c, m))
                .map(|m| portal_gateway::gateway_minor(m.amount).unwrap_or(0))
                .sum();
            label = "already_recorded";
            if *amount_refunded_minor > recorded {
                match &env.listed_refunds {
                    Some(list) => {
                        let ours: Vec<_> = list.iter().filter(|x| x.currency == *code).cloned().collect();
                        label = refund_movements(&mut r, c, env, &ours, intent.as_ref(), now)?;
                    }
                    None => {
                        return Err(ApiError::Unavailable(format!(
                            "charge.refunded {} reports more refunded than recorded and its refunds could not be read",
                            env.id
                        )));
                    }
                }
            }
        }
        GatewayEvent::Dispute(d) => {
            label = dispute_movements(&mut r, c, env, d, now)?;
        }
        GatewayEvent::SetupSucceeded(setup) => {
            // A card saved for off-session instalments (`POST /bookings/{reference}/payment-methods`).
            label = "payment_method_saved";
            let started = portal_store::instalments::card_setups(c).into_iter().find(|x| x.setup_id == setup.setup_id);
            let card = setup.card.clone();
            r.saved_method = Some(PaymentMethodItem {
                pk: portal_store::keys::booking_pk(reference),
                sk: portal_store::payments::payment_method_sk(&setup.payment_method_id),
                entity: ENTITY_PAYMENT_METHOD.into(),
                gateway: started.as_ref().map_or_else(|| "stripe".to_string(), |x| x.gateway.clone()),
                customer_id: setup.customer_id.clone(),
                payment_method_id: setup.payment_method_id.clone(),
                brand: card.as_ref().map_or_else(|| "card".to_string(), |k| k.brand.clone()),
                last4: card.map_or_else(String::new, |k| k.last4),
                traveller_id: setup.traveller_id.clone().or_else(|| started.map(|x| x.traveller_id)),
                checkout_id: setup.setup_id.clone(),
                saved_at: now,
            });
        }
        GatewayEvent::Other => label = "ignored",
    }
    // A refund that failed put its money back on the booking: if that leaves the customer owed money with
    // nothing on its way back, it is refunded again from the same payment, once per failed refund. Not for a
    // refund the portal itself started (a card that refused one refund refuses the next): that credit is left
    // for the operator, with an alarm.
    if r.excess.is_none()
        && let Some(failed) = r.movements.iter().find(|m| m.kind == MovementKind::RefundFailed)
        && let Some(refund_id) = failed.external_reference.clone()
    {
        let ours = portal_store::payments::excess_refunds(c).iter().any(|x| x.refund_id.as_deref() == Some(&refund_id));
        let payment_id = match &env.event {
            GatewayEvent::Refund(x) => x.payment_id.clone(),
            GatewayEvent::ChargeRefunded { payment_id, .. } => Some(payment_id.clone()),
            _ => None,
        };
        let all: Vec<Movement> = c.movements.iter().chain(r.movements.iter()).cloned().collect();
        let after = LedgerSummary::compute(&c.booking, &all, &c.instalments, now.date_naive())
            .map_err(|e| ApiError::internal(format!("ledger: {e}")))?;
        let in_flight = excess_in_flight(c, &all)?;
        if let Some(pid) = payment_id
            && let Some((give, reason)) =
                payment::excess(c.booking.status, &after, failed.amount, in_flight, overpayment)
        {
            if ours {
                tracing::error!(reference, refund = %refund_id, amount = %give, alarm = "excess_refund_failed", "a refund the portal started failed; the credit is left for the operator");
            } else {
                r.excess = Some(ExcessRefundItem::due(reference, &refund_id, &pid, give, reason, None, now));
            }
        }
    }
    let excess = r.excess.clone().map(|x| (x, c.booking.clone()));
    Ok((r, Outcome { label, receipt, excess }))
}

fn refund_description(payment_id: &str) -> String {
    format!("Refund of {payment_id}")
}

/// A `RefundPending` that a `Refund` or `RefundFailed` with the same gateway refund id has settled.
fn settled_refund(c: &BookingCollection, pending: &Movement) -> bool {
    c.movements.iter().any(|m| {
        matches!(m.kind, MovementKind::Refund | MovementKind::RefundFailed)
            && m.external_reference == pending.external_reference
    })
}

/// The ledger movements refunds in their current state add, each at most once whatever the order and number
/// of deliveries: `pending` → `RefundPending`; `succeeded` → `Refund` (final); `failed`/`canceled` →
/// `RefundFailed` evidence, plus `RefundReversed` when a `Refund` had been booked. Returns the outcome label.
fn refund_movements(
    r: &mut Recording,
    c: &BookingCollection,
    env: &Envelope,
    refunds: &[event::RefundInfo],
    intent: Option<&CheckoutIntentItem>,
    now: DateTime<Utc>,
) -> Result<&'static str, ApiError> {
    let currency = c.booking.currency;
    let exists = |r: &Recording, key: &str| {
        let id = movement_id(key);
        c.movements.iter().chain(r.movements.iter()).any(|m| m.id == id)
    };
    let mut added = Vec::new();
    for refund in refunds {
        let Ok(amount) = money(refund.amount_minor, &refund.currency, currency) else {
            tracing::error!(event_id = %env.id, refund = %refund.id, "refund in another currency; needs a person");
            continue;
        };
        let key = |stage: &str| format!("gateway-refund{stage}:{}", refund.id);
        let (pending, done, failed, reversed) = (key("-pending"), key(""), key("-failed"), key("-reversed"));
        let mut kinds = Vec::new();
        if refund.is_pending() && ![&pending, &done, &failed].iter().any(|k| exists(r, k)) {
            kinds.push((MovementKind::RefundPending, pending));
        } else if refund.is_succeeded() && !exists(r, &done) && !exists(r, &failed) {
            kinds.push((MovementKind::Refund, done));
        } else if refund.is_failed() {
            if exists(r, &done) && !exists(r, &reversed) {
                kinds.push((MovementKind::RefundReversed, reversed));
            }
            if !exists(r, &failed) {
                kinds.push((MovementKind::RefundFailed, failed));
            }
        }
        for (kind, key) in kinds {
            let payment = refund.payment_id.clone().unwrap_or_default();
            let m = Movement {
                id: movement_id(&key),
                kind,
                amount,
                channel: intent.map(|i| {
                    if i.method == "open_banking" { PaymentChannel::OpenBanking } else { PaymentChannel::Card }
                }),
                external_reference: Some(refund.id.clone()),
                occurred_at: occurred(env, now),
                recorded_at: now,
                actor: gateway_actor(intent),
                idempotency_key: key,
                traveller_id: intent.and_then(|i| i.traveller_id.clone()),
                instalment_ids: vec![],
                description: Some(refund_description(&payment)),
                acquirer_fee: None,
            };
            let mut e = LedgerEvent::for_movement(&m, &c.booking);
            e.gateway = Some(GatewayRefs {
                payment_id: refund.payment_id.clone(),
                charge_id: refund.charge_id.clone(),
                settlement_id: None,
            });
            r.events.push(e);
            if m.kind == MovementKind::Refund {
                r.notices.extend(refunded_notice(c, refund, &m, now));
            }
            r.movements.push(m.clone());
            added.push(m);
        }
    }
    if added.is_empty() {
        return Ok("already_recorded");
    }
    let all: Vec<Movement> = c.movements.iter().cloned().chain(r.movements.iter().cloned()).collect();
    r.booking = Some((c.version, aggregate(currency, &all)?));
    Ok("refund_recorded")
}

/// A dispute's ledger movements, each at most once, robust to lost and reordered events: opened → evidence;
/// funds withdrawn → `Chargeback` (no longer paid); funds reinstated → `ChargebackReversed` (with the
/// `Chargeback` it reverses if that event never came); closed → evidence with the outcome, and a lost dispute
/// whose withdrawal we never saw books the `Chargeback`, a won one whose reinstatement we never saw reverses it.
fn dispute_movements(
    r: &mut Recording,
    c: &BookingCollection,
    env: &Envelope,
    d: &event::DisputeInfo,
    now: DateTime<Utc>,
) -> Result<&'static str, ApiError> {
    use event::DisputeStage;
    let currency = c.booking.currency;
    let Ok(amount) = money(d.amount_minor, &d.currency, currency) else {
        tracing::error!(event_id = %env.id, dispute = %d.dispute_id, "dispute in another currency; needs a person");
        return Ok("unrecordable");
    };
    let key = |stage: &str| format!("dispute-{stage}:{}", d.dispute_id);
    let (opened, withdrawn, reinstated, closed) = (key("opened"), key("withdrawn"), key("reinstated"), key("closed"));
    let exists = |r: &Recording, key: &str| {
        let id = movement_id(key);
        c.movements.iter().chain(r.movements.iter()).any(|m| m.id == id)
    };
    let mut wanted: Vec<(MovementKind, &String)> = Vec::new();
    if !exists(r, &opened) {
        wanted.push((MovementKind::DisputeOpened, &opened));
    }
    match d.stage {
        DisputeStage::Opened => {}
        DisputeStage::FundsWithdrawn => {
            if !exists(r, &withdrawn) {
                wanted.push((MovementKind::Chargeback, &withdrawn));
            }
        }
        DisputeStage::FundsReinstated => {
            if !exists(r, &reinstated) {
                if !exists(r, &withdrawn) {
                    wanted.push((MovementKind::Chargeback, &withdrawn));
                }
                wanted.push((MovementKind::ChargebackReversed, &reinstated));
            }
        }
        DisputeStage::Closed => {
            let won = d.status == "won";
            if d.status == "lost" && !exists(r, &withdrawn) {
                wanted.push((MovementKind::Chargeback, &withdrawn));
            }
            if won && exists(r, &withdrawn) && !exists(r, &reinstated) {
                wanted.push((MovementKind::ChargebackReversed, &reinstated));
            }
            if !exists(r, &closed) {
                wanted.push((MovementKind::DisputeClosed, &closed));
            }
        }
    }
    if wanted.is_empty() {
        return Ok("already_recorded");
    }
    for (kind, key) in wanted {
        let m = Movement {
            id: movement_id(key),
            kind,
            amount,
            channel: Some(PaymentChannel::Card),
            external_reference: Some(d.dispute_id.clone()),
            occurred_at: occurred(env, now),
            recorded_at: now,
            actor: Actor { kind: ActorKind::Gateway, id: "dispute".into() },
            idempotency_key: key.clone(),
            traveller_id: None,
            instalment_ids: vec![],
            description: Some(format!(
                "Dispute {} of {} ({}, {})",
                d.dispute_id,
                d.payment_id.as_deref().unwrap_or(&d.charge_id),
                d.reason.chars().take(40).collect::<String>(),
                d.status.chars().take(40).collect::<String>()
            )),
            acquirer_fee: None,
        };
        let mut e = LedgerEvent::for_movement(&m, &c.booking);
        e.gateway = Some(GatewayRefs {
            payment_id: d.payment_id.clone(),
            charge_id: Some(d.charge_id.clone()),
            settlement_id: None,
        });
        r.events.push(e);
        r.movements.push(m);
    }
    let all: Vec<Movement> = c.movements.iter().cloned().chain(r.movements.iter().cloned()).collect();
    r.booking = Some((c.version, aggregate(currency, &all)?));
    Ok("dispute_recorded")
}

/// A declined instalment charge this webhook records (the runner did not see it): the customer's email with
/// the pay-by-hand link, as a notice in the same transaction (the runner's id for the same charge).
fn decline_notice(
    state: &State,
    env: &Envelope,
    c: &BookingCollection,
    r: &Recording,
    now: DateTime<Utc>,
) -> Option<portal_notify::Notice> {
    let (GatewayEvent::PaymentFailed(p), Some(url)) = (&env.event, state.portal_url.as_deref()) else { return None };
    let charge = p.metadata.as_ref().map(|m| m.checkout_id.clone()).filter(|k| k.starts_with("ichg_"))?;
    let failed = r.instalments.iter().find(|i| i.charge_id.as_deref() == Some(charge.as_str()))?;
    let card = failed.approval.as_ref().and_then(|a| {
        portal_store::payments::saved_methods(c).into_iter().find(|m| m.payment_method_id == a.payment_method_id)
    });
    let amount = money(p.amount_minor, &p.currency, c.booking.currency).unwrap_or(failed.amount);
    instalment_runner::collection_failed_notice(&state.brands, url, c, failed, amount, card.as_ref(), &charge, now)
}

/// The instalment an off-session charge is for: the runner's charge id travels as the payment's `checkout_id`.
fn instalment_charged<'a>(c: &'a BookingCollection, checkout_id: Option<&str>) -> Option<&'a Instalment> {
    let id = checkout_id.filter(|k| k.starts_with("ichg_"))?;
    c.instalments.iter().find(|i| i.charge_id.as_deref() == Some(id))
}

fn with(movements: &[Movement], m: &Movement) -> Vec<Movement> {
    movements.iter().cloned().chain(std::iter::once(m.clone())).collect()
}

fn aggregate(currency: Currency, all: &[Movement]) -> Result<Aggregate, ApiError> {
    Aggregate::from_movements(currency, all).map_err(|e| ApiError::internal(format!("ledger: {e}")))
}

fn add_movement(
    r: &mut Recording,
    c: &BookingCollection,
    m: Movement,
    p: Option<&PaymentInfo>,
) -> Result<(), ApiError> {
    let mut e = LedgerEvent::for_movement(&m, &c.booking);
    if let Some(p) = p {
        e.gateway = Some(GatewayRefs {
            payment_id: Some(p.payment_id.clone()),
            charge_id: p.charge_id.clone(),
            settlement_id: p.settlement_reference.clone(),
        });
    }
    r.booking = Some((c.version, aggregate(c.booking.currency, &with(&c.movements, &m))?));
    r.events.push(e);
    r.movements.push(m);
    Ok(())
}

fn describe(p: &PaymentInfo) -> String {
    match (&p.method, &p.card) {
        (_, Some(card)) => format!("Card payment ({} •••• {})", card.brand, card.last4),
        (Some(Method::OpenBanking), _) => "Pay by Bank payment".into(),
        _ => "Card payment".into(),
    }
}

fn saved_card(
    p: &PaymentInfo,
    intent: Option<&CheckoutIntentItem>,
    reference: &str,
    now: DateTime<Utc>,
) -> Option<PaymentMethodItem> {
    let intent = intent?;
    if !intent.save_card || p.setup_future_usage.as_deref() != Some("off_session") {
        return None;
    }
    let (customer, pm, card) = (p.customer_id.clone()?, p.payment_method_id.clone()?, p.card.clone()?);
    Some(PaymentMethodItem {
        pk: portal_store::keys::booking_pk(reference),
        sk: portal_store::payments::payment_method_sk(&pm),
        entity: ENTITY_PAYMENT_METHOD.into(),
        gateway: intent.gateway.clone(),
        customer_id: customer,
        payment_method_id: pm,
        brand: card.brand,
        last4: card.last4,
        traveller_id: Some(intent.payer_traveller_id.clone()),
        checkout_id: intent.checkout_id.clone(),
        saved_at: now,
    })
}

/// Best effort: the payment is recorded whatever happens to the email (a failure is logged for a person).
/// Refunds already on their way that the ledger does not show yet: pending refunds, and excess refunds due or
/// requested whose refund has no movement yet.
fn excess_in_flight(c: &BookingCollection, movements: &[Movement]) -> Result<Money, ApiError> {
    let currency = c.booking.currency;
    let ledger = portal_domain::ledger::refunds_in_flight(currency, movements)
        .map_err(|e| ApiError::internal(format!("ledger: {e}")))?;
    let booked = |id: &Option<String>| movements.iter().any(|m| id.is_some() && m.external_reference == *id);
    let waiting = portal_store::payments::excess_refunds(c)
        .into_iter()
        .filter(|x| x.status == "due" || !booked(&x.refund_id))
        .map(|x| x.amount);
    Money::sum(currency, waiting)
        .and_then(|w| w.checked_add(ledger))
        .map_err(|e| ApiError::internal(format!("ledger: {e}")))
}

/// Start the refund of a payment's excess at the gateway (idempotent on a key derived from the payment), mark
/// it requested, and tell the payer, once. Best effort after the commit: an excess still `due` is retried by
/// the reconciler. The refund's ledger movements come from its `refund.*` webhooks, keyed by refund id.
pub async fn refund_excess(state: &State, booking: &Booking, item: &ExcessRefundItem) -> bool {
    let reference = booking.reference.as_str();
    let Some(gateway) = &state.gateway else {
        tracing::error!(reference, payment_id = %item.payment_id, alarm = "excess_refund_not_started", "no gateway client to refund an excess; left due for the reconciler");
        return false;
    };
    let req = portal_gateway::CreateRefund {
        payment_id: item.payment_id.clone(),
        amount: item.amount,
        idempotency_key: item.idempotency_key(),
        booking_reference: reference.to_string(),
        reason: match item.reason {
            payment::ExcessReason::Overpaid => "duplicate",
            payment::ExcessReason::Cancelled => "requested_by_customer",
        },
    };
    let refund = match gateway.create_refund(&req).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(reference, payment_id = %item.payment_id, error = %e, alarm = "excess_refund_not_started", "excess refund refused or unanswered; left due for the reconciler");
            return false;
        }
    };
    let now = (state.clock)();
    match state.store.excess_requested(&item.requested(&refund.id, now), refund_notice(state, booking, item, now)).await
    {
        Ok(true) => {
            tracing::info!(reference, payment_id = %item.payment_id, refund = %refund.id, amount = %item.amount, "excess refund started");
            true
        }
        // Someone else (a redelivery, the reconciler) got there first and told the customer.
        Ok(false) => true,
        Err(e) => {
            tracing::error!(reference, refund = %refund.id, error = %e, "excess refund started but not marked; the reconciler will find it done at the gateway");
            false
        }
    }
}

/// The "refund issued" email of a refund the gateway completed that the portal did not start (the operator's,
/// from the gateway's dashboard or its back office): to the payer, else the lead, in the same transaction as
/// the `Refund` movement. An excess refund the portal started already had its email when it was requested.
fn refunded_notice(
    c: &BookingCollection,
    refund: &event::RefundInfo,
    m: &Movement,
    now: DateTime<Utc>,
) -> Option<portal_notify::Notice> {
    if started_by_the_portal(c, refund, m.amount) {
        return None;
    }
    let refund_id = &refund.id;
    let b = &c.booking;
    let to = m.traveller_id.as_deref().and_then(|t| b.traveller(t)).and_then(portal_notify::Recipient::of);
    let to = to.or_else(|| b.lead().and_then(portal_notify::Recipient::of))?;
    portal_notify::Notice::new(
        &format!("refunded:{refund_id}"),
        portal_notify::NoticeKind::RefundIssued,
        b,
        vec![to],
        portal_notify::Content::Refunded { amount: m.amount },
        now,
    )
}

/// An excess refund the portal asked the gateway for: marked with the refund's id, or (when the refund's
/// webhook beats the `requested` mark that records the id) still `due` on the same payment, with the booking
/// reference the portal puts in every refund's metadata. The operator's own refunds carry neither.
fn started_by_the_portal(c: &BookingCollection, refund: &event::RefundInfo, amount: Money) -> bool {
    let excess = portal_store::payments::excess_refunds(c);
    if excess.iter().any(|x| x.refund_id.as_deref() == Some(refund.id.as_str())) {
        return true;
    }
    refund.booking_reference.as_deref() == Some(c.booking.reference.as_str())
        && excess.iter().any(|x| {
            x.refund_id.is_none() && Some(x.payment_id.as_str()) == refund.payment_id.as_deref() && x.amount == amount
        })
}

/// The refund email to the payer (else the lead), as a notice written with the refund's `requested` mark.
fn refund_notice(
    state: &State,
    b: &Booking,
    item: &ExcessRefundItem,
    now: DateTime<Utc>,
) -> Option<portal_notify::Notice> {
    let traveller = item
        .payer_traveller_id
        .as_deref()
        .and_then(|t| b.traveller(t))
        .filter(|t| t.email.is_some())
        .or_else(|| b.lead());
    let Some(t) = traveller.filter(|t| t.email.is_some()) else {
        tracing::warn!(reference = %b.reference, "no email for a refund notice");
        return None;
    };
    let brand = state.brands.get(&b.brand);
    let mail = refund_email::email(&refund_email::RefundNotice {
        brand,
        locale: Locale::parse(&b.locale).unwrap_or(Locale::EnGb),
        first_name: &t.first_name,
        reference: b.reference.as_str(),
        amount: item.amount,
        reason: item.reason,
    });
    portal_notify::Notice::prepared(
        &format!("refund:{}:{}", item.payment_id, item.idempotency_key()),
        portal_notify::NoticeKind::RefundIssued,
        b,
        t,
        &mail,
        now,
    )
}

fn receipt_notice(state: &State, job: &ReceiptJob, now: DateTime<Utc>) -> Option<portal_notify::Notice> {
    let b = &job.booking;
    let traveller = job
        .payer_traveller_id
        .as_deref()
        .and_then(|t| b.traveller(t))
        .filter(|t| t.email.is_some())
        .or_else(|| b.lead());
    let Some(t) = traveller.filter(|t| t.email.is_some()) else {
        tracing::warn!(reference = %b.reference, "no email for a receipt");
        return None;
    };
    let brand = state.brands.get(&b.brand);
    let mail = receipt::email(&receipt::Receipt {
        brand,
        locale: Locale::parse(&b.locale).unwrap_or(Locale::EnGb),
        first_name: &t.first_name,
        reference: b.reference.as_str(),
        amount: job.amount,
        card: job.card.as_ref().map(|(b, l)| (b.as_str(), l.as_str())),
        paid_at: job.paid_at,
        remaining: job.summary.outstanding,
        next_due: job.summary.next_due.as_ref().map(|n| (n.date, n.amount)),
    });
    portal_notify::Notice::prepared(
        &format!("receipt:{}", job.movement_id),
        portal_notify::NoticeKind::PaymentReceived,
        b,
        t,
        &mail,
        now,
    )
}

//! `POST /bookings/{reference}/payments` (customer session): pay the balance, what is due now, chosen
//! instalments, a traveller's share or a custom amount, by card or Pay by Bank, through the gateway's
//! embedded checkout. The server prices everything from the ledger; the webhook, not this call, records money.
//!
//! Idempotent on the `Idempotency-Key` header: same key and body → the same answer from one gateway call
//! (concurrent duplicates wait for the first); same key with another body → 422; no key → 400.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use portal_domain::events::derived_id;
use portal_domain::ids::BookingReference;
use portal_domain::ledger::LedgerSummary;
use portal_domain::money::{Currency, Money};
use portal_domain::payment::{self, PayTarget, Payer, PriceError};
use portal_domain::upsert::movement_id;
use portal_gateway::{CreatePayment, GatewayError, Method, PaymentGateway, PaymentMetadata};
use portal_http::config::{self, ConfigError};
use portal_http::customer::{authorised_booking, refreshed_cookie};
use portal_http::request::body_bytes;
use portal_http::session::SessionConfig;
use portal_http::{ApiError, MAX_BODY_BYTES, header, json_body, path_param, respond};
use portal_store::Store;
use portal_store::payments::{CheckoutIntentItem, Claim, ClaimItem, ENTITY_CHECKOUT_INTENT, GatewayPaymentItem};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How long a checkout's client secret is offered to the front end.
pub const CHECKOUT_TTL_SECONDS: i64 = 3600;
/// A caller holding an idempotency claim longer than this is presumed dead; its claim can be taken over.
pub const IDEMPOTENCY_LEASE_SECONDS: i64 = 30;

#[derive(Debug, Clone, Default)]
pub struct Minimums {
    overrides: HashMap<Currency, Money>,
}

impl Minimums {
    /// `MIN_PAYMENT_JSON`, e.g. `{"GBP": "1.00", "JPY": "100"}`. Unlisted currencies: one major unit (100 for
    /// zero-decimal currencies).
    pub fn parse(json: Option<&str>) -> Result<Minimums, ConfigError> {
        let err = |problem: String| ConfigError { variable: "MIN_PAYMENT_JSON", problem };
        let raw: HashMap<String, String> = match json {
            None => HashMap::new(),
            Some(j) => serde_json::from_str(j).map_err(|e| err(format!("not a map of amounts: {e}")))?,
        };
        let mut overrides = HashMap::new();
        for (code, amount) in raw {
            let c = Currency::parse(&code).map_err(|e| err(e.to_string()))?;
            let m = Money::parse(&amount, c).map_err(|e| err(e.to_string()))?;
            if !m.is_positive() {
                return Err(err(format!("{code}: the minimum must be positive")));
            }
            overrides.insert(c, m);
        }
        Ok(Minimums { overrides })
    }

    pub fn get(&self, c: Currency) -> Money {
        self.overrides.get(&c).copied().unwrap_or_else(|| {
            let minor = if c.exponent() == 0 { 100 } else { 10i64.pow(c.exponent()) };
            Money::from_minor(minor, c).unwrap_or(Money::zero(c))
        })
    }
}

pub struct State {
    pub store: Store,
    pub sessions: SessionConfig,
    pub gateway: Arc<dyn PaymentGateway>,
    pub minimums: Minimums,
    pub clock: Clock,
}

impl State {
    pub fn new(store: Store, sessions: SessionConfig, gateway: Arc<dyn PaymentGateway>) -> State {
        State { store, sessions, gateway, minimums: Minimums::default(), clock: Arc::new(Utc::now) }
    }

    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> State {
        self.clock = Arc::new(clock);
        self
    }

    /// `TABLE_NAME`, session keys, `STRIPE_SECRET_KEY` (+ optional `STRIPE_API_BASE`, `GATEWAY_TIMEOUT_MS`),
    /// optional `MIN_PAYMENT_JSON`.
    pub async fn from_env() -> Result<State, ConfigError> {
        let table = config::required("TABLE_NAME")?;
        let sessions = SessionConfig::from_env()?;
        let key = config::required("STRIPE_SECRET_KEY")?;
        let stripe = portal_gateway::stripe::StripeGateway::from_env(&key, 8000)?;
        let minimums = Minimums::parse(config::optional("MIN_PAYMENT_JSON").as_deref())?;
        let sdk = portal_store::aws::sdk_config().await;
        let store = Store::new(portal_store::aws::dynamodb_client(&sdk, None), table);
        let mut state = State::new(store, sessions, Arc::new(stripe));
        state.minimums = minimums;
        Ok(state)
    }
}

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Infallible> {
    respond(route(state, req)).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PayKind {
    Balance,
    DueNow,
    Instalments,
    TravellerShare,
    Custom,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AmountInput {
    amount: String,
    currency: String,
}

/// The request body. Serialised again (keys sorted) to fingerprint the request for idempotency.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckoutRequest {
    pay: PayKind,
    method: Method,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instalment_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    traveller_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    amount: Option<AmountInput>,
    /// Optional assertion of the booking's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    currency: Option<String>,
}

/// `{"amount": "1000.00", "currency": "GBP", "display": "£1,000.00"}`: the display in the booking's locale.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MoneyOut {
    amount: String,
    currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display: Option<String>,
}

impl MoneyOut {
    fn new(m: Money, locale: &str) -> MoneyOut {
        let locale = portal_domain::locale::Locale::parse(locale).unwrap_or(portal_domain::locale::Locale::EnGb);
        MoneyOut {
            amount: m.to_decimal_string(),
            currency: m.currency(),
            display: Some(portal_domain::locale::format_money(m, locale)),
        }
    }
}

/// What the front end needs to mount the embedded checkout.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckoutResponse {
    checkout_id: String,
    gateway: String,
    payment_id: String,
    client_secret: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    checkout_url: Option<String>,
    amount: MoneyOut,
    method: Method,
    instalment_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    traveller_id: Option<String>,
    expires_at: DateTime<Utc>,
}

fn card_data_refused() -> ApiError {
    ApiError::client(
        422,
        "card-data-refused",
        "Card data refused",
        "the request contains what looks like a card number; card details are entered only in the payment provider's checkout",
    )
}

fn idempotency_key(req: &Request) -> Result<String, ApiError> {
    let Some(k) = header(req, "idempotency-key") else {
        return Err(ApiError::bad_request("the Idempotency-Key header is required (a fresh UUID per payment attempt)"));
    };
    let k = k.trim();
    if k.is_empty() || k.len() > 200 || !k.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request("the Idempotency-Key header must be 1-200 visible ASCII characters"));
    }
    Ok(k.to_string())
}

fn map_price_error(e: PriceError) -> ApiError {
    match e {
        PriceError::Forbidden(d) => ApiError::forbidden(d),
        PriceError::Domain(d) => d.into(),
    }
}

fn gateway_error(e: &GatewayError) -> ApiError {
    match e {
        GatewayError::Timeout => ApiError::client(
            503,
            "gateway-unavailable",
            "Payment provider unavailable",
            "the payment provider did not answer in time; nothing was charged. Retry with the same Idempotency-Key",
        )
        .with_retry_after(2),
        _ => ApiError::client(
            502,
            "gateway-error",
            "Payment provider error",
            "the payment provider could not start this payment; nothing was charged. Retry with the same Idempotency-Key",
        ),
    }
}

fn target(input: &CheckoutRequest, currency: Currency, session_traveller: &str) -> Result<PayTarget, ApiError> {
    let unexpected = |field: &str| {
        ApiError::validation(
            field.to_string(),
            format!("{field}: not allowed with pay = {:?}", input.pay).to_lowercase(),
        )
    };
    if let Some(c) = &input.currency {
        let c = Currency::parse(c).map_err(|e| ApiError::from(portal_domain::DomainError::money("currency", e)))?;
        if c != currency {
            return Err(ApiError::from(portal_domain::DomainError::money(
                "currency",
                portal_domain::money::MoneyError::CurrencyMismatch { left: currency, right: c },
            )));
        }
    }
    if input.pay != PayKind::Instalments && input.instalment_ids.is_some() {
        return Err(unexpected("instalment_ids"));
    }
    if input.pay != PayKind::TravellerShare && input.traveller_id.is_some() {
        return Err(unexpected("traveller_id"));
    }
    if input.pay != PayKind::Custom && input.amount.is_some() {
        return Err(unexpected("amount"));
    }
    Ok(match input.pay {
        PayKind::Balance => PayTarget::Balance,
        PayKind::DueNow => PayTarget::DueNow,
        PayKind::Instalments => {
            let ids = input.instalment_ids.clone().unwrap_or_default();
            if ids.len() > portal_domain::booking::MAX_INSTALMENTS || ids.iter().any(|i| i.is_empty() || i.len() > 64) {
                return Err(ApiError::validation(
                    "instalment_ids",
                    "instalment_ids: at most 24 ids of 1-64 characters",
                ));
            }
            PayTarget::Instalments(ids)
        }
        PayKind::TravellerShare => {
            let t = input.traveller_id.clone().unwrap_or_else(|| session_traveller.to_string());
            if t.is_empty() || t.len() > 64 {
                return Err(ApiError::validation("traveller_id", "traveller_id: 1-64 characters"));
            }
            PayTarget::TravellerShare(t)
        }
        PayKind::Custom => {
            let a = input
                .amount
                .as_ref()
                .ok_or_else(|| ApiError::validation("amount", "amount: required with pay = custom"))?;
            let c = Currency::parse(&a.currency)
                .map_err(|e| ApiError::from(portal_domain::DomainError::money("amount.currency", e)))?;
            if c != currency {
                return Err(ApiError::from(portal_domain::DomainError::money(
                    "amount.currency",
                    portal_domain::money::MoneyError::CurrencyMismatch { left: currency, right: c },
                )));
            }
            let m = Money::parse(&a.amount, c)
                .map_err(|e| ApiError::from(portal_domain::DomainError::money("amount.amount", e)))?;
            PayTarget::Custom(m)
        }
    })
}

fn request_hash(reference: &str, traveller: &str, input: &CheckoutRequest) -> String {
    let canonical = serde_json::to_value(input).map(|v| v.to_string()).unwrap_or_default();
    hex::encode(Sha256::digest(format!("{reference}\n{traveller}\n{canonical}").as_bytes()))
}

fn stored_response(item: &ClaimItem) -> Result<Response<Body>, ApiError> {
    let body = item.response_body.clone().unwrap_or_default();
    Response::builder()
        .status(item.response_status.unwrap_or(201))
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .header("idempotent-replayed", "true")
        .body(Body::Binary(body.into_bytes()))
        .map_err(|e| ApiError::internal(format!("building response: {e}")))
}

/// Answer a request whose key is already claimed: the stored answer, after waiting briefly for a
/// concurrent first request to finish.
async fn replay(
    state: &State,
    scope: &str,
    key: &str,
    mut item: ClaimItem,
    hash: &str,
) -> Result<Response<Body>, ApiError> {
    for _ in 0..40 {
        if item.request_hash.as_deref() != Some(hash) {
            return Err(ApiError::client(
                422,
                "idempotency-key-reused",
                "Idempotency key reused",
                "this Idempotency-Key was used for a different payment request; use a new key for a new request",
            ));
        }
        if item.is_done() {
            return stored_response(&item);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        match state.store.get_idempotency(scope, key).await? {
            Some(i) => item = i,
            None => break, // the first request failed and gave the key back
        }
    }
    Err(ApiError::client(
        409,
        "request-in-progress",
        "Request in progress",
        "a request with this Idempotency-Key is still being processed; retry shortly with the same key",
    )
    .with_retry_after(1))
}

async fn route(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    if req.method() != http::Method::POST {
        return Err(ApiError::method_not_allowed());
    }
    let now = (state.clock)();
    let reference = BookingReference::parse(&path_param(&req, "reference")?)?;
    let key = idempotency_key(&req)?;
    let raw = body_bytes(&req);
    if raw.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    // Before parsing and before anything could log it: a body carrying a card number is refused unread.
    if payment::contains_card_number(raw) {
        tracing::warn!(reference = %reference, "checkout refused: card data in the request body (not logged)");
        return Err(card_data_refused());
    }
    let (session, c) = authorised_booking(&state.store, &state.sessions, &req, &reference, now.timestamp()).await?;
    let input: CheckoutRequest = json_body(&req)?;
    let target = target(&input, c.booking.currency, &session.traveller_id)?;
    let hash = request_hash(reference.as_str(), &session.traveller_id, &input);
    let scope = format!("checkout#{reference}");
    if let Some(existing) = state.store.get_idempotency(&scope, &key).await? {
        // A pending claim whose lease ran out belongs to a request that crashed mid-way: the same request takes
        // it over below (the gateway's idempotency key then returns the payment that request may have created).
        let lapsed = !existing.is_done()
            && existing.request_hash.as_deref() == Some(hash.as_str())
            && existing.claimed_epoch < now.timestamp() - IDEMPOTENCY_LEASE_SECONDS;
        if !lapsed {
            return replay(state, &scope, &key, existing, &hash).await;
        }
    }

    // Cheap checks before any claim: a request that cannot be priced now is refused without writing anything.
    price_now(state, &c, &target, &session.traveller_id, session.is_lead, now)?;
    if input.method == Method::OpenBanking && !matches!(c.booking.currency, Currency::Gbp | Currency::Eur) {
        return Err(ApiError::validation(
            "method",
            format!("method: Pay by Bank is available for GBP and EUR bookings, not {}", c.booking.currency),
        ));
    }

    let claim =
        match state.store.claim(&ClaimItem::idempotency(&scope, &key, &hash, now), IDEMPOTENCY_LEASE_SECONDS).await? {
            Claim::Won(c) => c,
            Claim::Taken(existing) => return replay(state, &scope, &key, existing, &hash).await,
        };
    // One checkout of a booking at a time looks for open payments and creates its own (the
    // one-open-payment rule, docs/payments.md): two tabs never both find none and both create one.
    let Some(lock) = lock_payments(state, reference.as_str()).await? else {
        state.store.release(&claim).await?;
        return Err(ApiError::client(
            409,
            "payment-in-progress",
            "Another payment is being started",
            "another checkout of this booking is being started right now; retry in a moment",
        )
        .with_retry_after(2));
    };
    let ctx = Ctx { state, reference: &reference, key: &key, input: &input, target: &target, claim: &claim, now };
    let result = create_or_reuse(&ctx, &session.traveller_id, session.is_lead).await;
    if let Err(e) = state.store.release(&lock).await {
        tracing::warn!(reference = %reference, error = %e, "payment lock not released; its lease frees it");
    }
    let (status, body) = match result {
        Ok(answer) => answer,
        Err(e) => {
            let _ = state.store.release(&claim).await;
            return Err(e);
        }
    };
    let mut resp = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store");
    if let Some(cookie) = refreshed_cookie(&state.sessions, &session, now.timestamp()) {
        resp = resp.header("set-cookie", cookie);
    }
    resp.body(Body::Binary(body.into_bytes())).map_err(|e| ApiError::internal(format!("building response: {e}")))
}

/// How long a checkout waits for another checkout of the same booking to finish, and how long a holder that
/// crashed keeps the lock.
const LOCK_WAIT_ATTEMPTS: u32 = 40;
const LOCK_LEASE_SECONDS: i64 = 30;

async fn lock_payments(state: &State, reference: &str) -> Result<Option<ClaimItem>, ApiError> {
    for _ in 0..LOCK_WAIT_ATTEMPTS {
        if let Some(lock) = state.store.lock_payments(reference, (state.clock)(), LOCK_LEASE_SECONDS).await? {
            return Ok(Some(lock));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(None)
}

fn price_now(
    state: &State,
    c: &portal_store::BookingCollection,
    target: &PayTarget,
    traveller_id: &str,
    is_lead: bool,
    now: DateTime<Utc>,
) -> Result<payment::Priced, ApiError> {
    let summary = LedgerSummary::compute(&c.booking, &c.movements, &c.instalments, now.date_naive())
        .map_err(|e| ApiError::internal(format!("ledger of {} does not add up: {e}", c.booking.reference)))?;
    let payer = Payer { traveller_id, is_lead };
    payment::price(c.booking.status, &summary, target, payer, state.minimums.get(c.booking.currency))
        .map_err(map_price_error)
}

struct Ctx<'a> {
    state: &'a State,
    reference: &'a BookingReference,
    key: &'a str,
    input: &'a CheckoutRequest,
    target: &'a PayTarget,
    claim: &'a ClaimItem,
    now: DateTime<Utc>,
}

fn method_name(m: Method) -> String {
    serde_json::to_value(m).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn payment_in_progress(status: &str) -> ApiError {
    ApiError::client(
        409,
        "payment-in-progress",
        "A payment is already on its way",
        format!(
            "a payment for this is already {status} at the payment provider; wait for its result before paying again"
        ),
    )
}

/// Under the booking's payment lock: read the booking afresh, price the request, and either give back the
/// identical open checkout or cancel the open ones it overlaps and create a new one. `(status, body)`.
async fn create_or_reuse(ctx: &Ctx<'_>, traveller_id: &str, is_lead: bool) -> Result<(u16, String), ApiError> {
    let (state, reference, now) = (ctx.state, ctx.reference, ctx.now);
    let c =
        state.store.load_booking(reference.as_str()).await?.ok_or_else(|| ApiError::not_found("no such booking"))?;
    let priced = price_now(state, &c, ctx.target, traveller_id, is_lead, now)?;
    let purpose = ctx.target.purpose();
    let debt = payment::Debt {
        purpose: Some(purpose),
        instalment_ids: &priced.instalment_ids,
        traveller_id: priced.traveller_id.as_deref(),
    };
    let method = method_name(ctx.input.method);
    let intents = portal_store::payments::intents(&c);
    let open: Vec<&CheckoutIntentItem> =
        intents.iter().filter(|i| i.is_open() && payment::overlaps(&debt, &i.debt())).collect();
    if let Some(moving) = open.iter().find(|i| !i.is_cancellable()) {
        return Err(payment_in_progress(&moving.status));
    }
    let mut done = ctx.claim.clone();
    done.state = portal_store::payments::STATE_DONE.into();
    done.reference = Some(reference.to_string());
    // The same payment, still open and good for a while: the same checkout again (same client secret), so
    // a second tab or a reload pays the one payment rather than a second one.
    let fresh = |i: &CheckoutIntentItem| i.expires_at.is_some_and(|e| e > now + chrono::Duration::minutes(5));
    if let [same] = open.as_slice()
        && same.amount == priced.amount
        && same.method == method
        && same.instalment_ids == priced.instalment_ids
        && same.traveller_id == priced.traveller_id
        && same.payer_traveller_id == traveller_id
        && same.purpose == Some(purpose)
        && fresh(same)
        && let (Some(secret), Some(expires_at)) = (&same.client_secret, same.expires_at)
    {
        let response = CheckoutResponse {
            checkout_id: same.checkout_id.clone(),
            gateway: same.gateway.clone(),
            payment_id: same.gateway_payment_id.clone(),
            client_secret: secret.clone(),
            checkout_url: same.checkout_url.clone(),
            amount: MoneyOut::new(same.amount, &c.booking.locale),
            method: ctx.input.method,
            instalment_ids: same.instalment_ids.clone(),
            traveller_id: same.traveller_id.clone(),
            expires_at,
        };
        let body = serde_json::to_string(&response).map_err(|e| ApiError::internal(format!("serialising: {e}")))?;
        done.response_status = Some(200);
        done.response_body = Some(body.clone());
        state.store.complete_checkout(&done, None, &[]).await?;
        tracing::info!(reference = %reference, checkout_id = %same.checkout_id, "open checkout given again");
        return Ok((200, body));
    }
    // Anything else it overlaps is superseded: cancelled at the gateway before the new one exists. If the
    // gateway says it is too late (it succeeded or is moving money), nothing new is created.
    let mut superseded = Vec::new();
    for old in &open {
        match state.gateway.cancel_payment(&old.gateway_payment_id).await {
            Ok(portal_gateway::Cancelled::Cancelled) => {
                tracing::info!(reference = %reference, checkout_id = %old.checkout_id, "superseded checkout cancelled at the gateway");
                superseded.push((old.with_status("cancelled", now), old.status.clone()));
            }
            Ok(portal_gateway::Cancelled::TooLate(status)) => return Err(payment_in_progress(&status)),
            Err(e) => {
                tracing::warn!(reference = %reference, checkout_id = %old.checkout_id, error = %e, "superseded checkout not cancelled");
                return Err(gateway_error(&e));
            }
        }
    }

    let checkout_id = derived_id("chk", &format!("{reference}:{}", ctx.key));
    let movement = movement_id(&format!("checkout:{checkout_id}"));
    let payer_email = c.booking.traveller(traveller_id).and_then(|t| t.email.clone());
    let save_card = ctx.input.method == Method::Card;
    // Each payer their own gateway customer: a traveller's card is never saved under the lead's customer.
    let customer_id = portal_store::payments::saved_methods(&c)
        .into_iter()
        .find(|m| m.traveller_id.as_deref() == Some(traveller_id))
        .map(|m| m.customer_id);
    let request = CreatePayment {
        amount: priced.amount,
        method: ctx.input.method,
        idempotency_key: checkout_id.clone(),
        description: format!("Booking {reference}"),
        metadata: PaymentMetadata {
            booking_reference: reference.to_string(),
            checkout_id: checkout_id.clone(),
            movement_id: movement.clone(),
            traveller_id: priced.traveller_id.clone(),
        },
        customer_email: payer_email,
        save_card,
        customer_id,
        off_session: None,
    };
    let created = state.gateway.create_payment(&request).await.map_err(|e| {
        tracing::warn!(reference = %reference, checkout_id = %checkout_id, gateway = state.gateway.name(), error = %e, "gateway refused checkout");
        gateway_error(&e)
    })?;
    let expires_at = now + chrono::Duration::seconds(CHECKOUT_TTL_SECONDS);
    let response = CheckoutResponse {
        checkout_id: checkout_id.clone(),
        gateway: state.gateway.name().into(),
        payment_id: created.payment_id.clone(),
        client_secret: created.client_secret.clone(),
        checkout_url: created.checkout_url.clone(),
        amount: MoneyOut::new(priced.amount, &c.booking.locale),
        method: ctx.input.method,
        instalment_ids: priced.instalment_ids.clone(),
        traveller_id: priced.traveller_id.clone(),
        expires_at,
    };
    let body = serde_json::to_string(&response).map_err(|e| ApiError::internal(format!("serialising: {e}")))?;
    done.response_status = Some(201);
    done.response_body = Some(body.clone());
    let mut intent = CheckoutIntentItem {
        pk: portal_store::keys::booking_pk(reference.as_str()),
        sk: portal_store::payments::checkout_sk(&checkout_id),
        entity: ENTITY_CHECKOUT_INTENT.into(),
        checkout_id: checkout_id.clone(),
        amount: priced.amount,
        method,
        instalment_ids: priced.instalment_ids.clone(),
        traveller_id: priced.traveller_id.clone(),
        payer_traveller_id: traveller_id.to_string(),
        gateway: state.gateway.name().into(),
        gateway_payment_id: created.payment_id.clone(),
        movement_id: movement,
        save_card,
        status: "created".into(),
        created_at: now,
        updated_at: now,
        purpose: Some(purpose),
        client_secret: Some(created.client_secret.clone()),
        checkout_url: created.checkout_url.clone(),
        expires_at: Some(expires_at),
        gsi4pk: None,
        gsi4sk: None,
    };
    intent.index_open();
    let pointer = GatewayPaymentItem::new(&created.payment_id, reference.as_str(), &checkout_id);
    // If this fails the gateway payment exists but nothing here records it, so the reconciler never sees it:
    // nobody holds its client secret, so it cannot take money, and a retry with the same key gets the same
    // PaymentIntent back (gateway idempotency) instead of a second one.
    state.store.complete_checkout(&done, Some((&intent, &pointer)), &superseded).await?;
    tracing::info!(
        reference = %reference, checkout_id = %checkout_id, amount = %priced.amount, method = ?ctx.input.method,
        gateway = state.gateway.name(), superseded = superseded.len(), "checkout created"
    );
    Ok((201, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimums() {
        let m = Minimums::parse(Some(r#"{"GBP": "5.00"}"#)).unwrap();
        assert_eq!(m.get(Currency::Gbp).minor(), 500);
        assert_eq!(m.get(Currency::Eur).minor(), 100);
        assert_eq!(m.get(Currency::Jpy).minor(), 100);
        assert_eq!(m.get(Currency::Bhd).minor(), 1000);
        assert!(Minimums::parse(Some(r#"{"GBP": "0"}"#)).is_err());
        assert!(Minimums::parse(Some(r#"{"XXX": "1"}"#)).is_err());
    }
}

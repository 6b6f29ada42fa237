//! Scheduled payments, the customer's side (customer session on every route):
//!
//! - `POST /bookings/{reference}/instalments/{id}/approval`: approve one instalment for off-session collection;
//! - `POST /bookings/{reference}/instalments/approval`: approve every instalment still scheduled (200, maybe empty);
//! - `DELETE /bookings/{reference}/instalments/{id}/approval`: withdraw an approval before collection starts;
//! - `POST /bookings/{reference}/payment-methods`: start saving a card (gateway SetupIntent); `GET` lists them.
//!
//! Approvals and withdrawals need an `Idempotency-Key`. Each is recorded on the ledger as evidence (who, when,
//! which payment method, client address) with its finance outbox event, the instalment's new state, the
//! booking's version and the request's stored answer, in one conditional `TransactWriteItems`
//! (`portal_store::instalments`). The rules are `portal_domain::schedule` (pure, unit-tested).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use portal_domain::booking::{BookingStatus, PaymentChannel};
use portal_domain::events::{LedgerEvent, derived_id};
use portal_domain::ids::BookingReference;
use portal_domain::ledger::{Actor, ActorKind, LedgerSummary, Movement, MovementKind};
use portal_domain::money::{Currency, Money};
use portal_domain::schedule::{self, Approval, CollectionState, Instalment, InstalmentKind, ScheduleError};
use portal_domain::upsert::movement_id;
use portal_gateway::{CreateSetup, GatewayError, Method, PaymentGateway};
use portal_http::config::{self, ConfigError};
use portal_http::customer::{authorised_booking, refreshed_cookie};
use portal_http::request::body_bytes;
use portal_http::session::{Session, SessionConfig};
use portal_http::{ApiError, MAX_BODY_BYTES, client_ip, header, json_body};
use portal_store::instalments::{CardSetupItem, ENTITY_CARD_SETUP, ScheduleWrite};
use portal_store::payments::{ClaimItem, PaymentMethodItem, STATE_DONE};
use portal_store::{BookingCollection, Store, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Said on every answer about approvals, and in the 409 when no card is saved.
pub const OPEN_BANKING_NOTE: &str =
    "Pay by Bank (open banking) payments cannot be reused for later instalments; approvals are charged to a saved card";
const MAX_ATTEMPTS: usize = 5;

pub struct State {
    pub store: Store,
    pub sessions: SessionConfig,
    pub gateway: Arc<dyn PaymentGateway>,
    pub clock: Clock,
}

impl State {
    pub fn new(store: Store, sessions: SessionConfig, gateway: Arc<dyn PaymentGateway>) -> State {
        State { store, sessions, gateway, clock: Arc::new(Utc::now) }
    }

    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> State {
        self.clock = Arc::new(clock);
        self
    }

    /// `TABLE_NAME`, session keys, `STRIPE_SECRET_KEY` (+ optional `STRIPE_API_BASE`, `GATEWAY_TIMEOUT_MS`).
    pub async fn from_env() -> Result<State, ConfigError> {
        let table = config::required("TABLE_NAME")?;
        let sessions = SessionConfig::from_env()?;
        let key = config::required("STRIPE_SECRET_KEY")?;
        let stripe = portal_gateway::stripe::StripeGateway::from_env(&key, 8000)?;
        let sdk = portal_store::aws::sdk_config().await;
        let store = Store::new(portal_store::aws::dynamodb_client(&sdk, None), table);
        Ok(State::new(store, sessions, Arc::new(stripe)))
    }
}

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Infallible> {
    portal_http::respond(dispatch(state, req)).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    ApproveOne,
    ApproveAll,
    Withdraw,
    SetupCard,
    ListCards,
}

fn route(req: &Request) -> Result<Route, ApiError> {
    let path = req.uri().path().to_string();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let m = req.method();
    match segs.as_slice() {
        ["bookings", _, "instalments", "approval"] if m == http::Method::POST => Ok(Route::ApproveAll),
        ["bookings", _, "instalments", _, "approval"] if m == http::Method::POST => Ok(Route::ApproveOne),
        ["bookings", _, "instalments", _, "approval"] if m == http::Method::DELETE => Ok(Route::Withdraw),
        ["bookings", _, "payment-methods"] if m == http::Method::POST => Ok(Route::SetupCard),
        ["bookings", _, "payment-methods"] if m == http::Method::GET => Ok(Route::ListCards),
        ["bookings", _, "instalments", ..] | ["bookings", _, "payment-methods"] => Err(ApiError::method_not_allowed()),
        _ => Err(ApiError::not_found("no such route")),
    }
}

async fn dispatch(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let route = route(&req)?;
    let now = (state.clock)();
    let reference = BookingReference::parse(&portal_http::path_param(&req, "reference")?)?;
    let instalment_id = match route {
        Route::ApproveOne | Route::Withdraw => Some(instalment_id(&req)?),
        _ => None,
    };
    if body_bytes(&req).len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    let key = match route {
        Route::ListCards => None,
        _ => Some(idempotency_key(&req)?),
    };
    let (session, c) = authorised_booking(&state.store, &state.sessions, &req, &reference, now.timestamp()).await?;
    let (status, body) = match route {
        Route::ListCards => (200, serde_json::to_string(&cards_out(&c, &session)).map_err(internal)?),
        Route::SetupCard => setup_card(state, &session, &c, key.as_deref().unwrap_or_default(), now).await?,
        _ => {
            let input = approval_input(&req, route)?;
            let change = Change {
                route,
                instalment_id: instalment_id.as_deref(),
                input: &input,
                key: key.as_deref().unwrap_or_default(),
                session: &session,
                client_ip: client_ip(&req),
            };
            return approval_route(state, &change, c, now).await.map(|r| with_cookie(state, &session, now, r));
        }
    };
    Ok(with_cookie(state, &session, now, response(status, body, false)?))
}

fn with_cookie(state: &State, session: &Session, now: DateTime<Utc>, mut resp: Response<Body>) -> Response<Body> {
    if let Some(cookie) = refreshed_cookie(&state.sessions, session, now.timestamp())
        && let Ok(v) = cookie.parse()
    {
        resp.headers_mut().insert("set-cookie", v);
    }
    resp
}

fn internal<E: std::fmt::Display>(e: E) -> ApiError {
    ApiError::internal(format!("serialising: {e}"))
}

fn response(status: u16, body: String, replayed: bool) -> Result<Response<Body>, ApiError> {
    let mut r = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store");
    if replayed {
        r = r.header("idempotent-replayed", "true");
    }
    r.body(Body::Binary(body.into_bytes())).map_err(|e| ApiError::internal(format!("building response: {e}")))
}

/// 1-64 characters of `A-Za-z0-9_-`; anything else can never name an instalment (404, like an unknown id).
fn instalment_id(req: &Request) -> Result<String, ApiError> {
    let id = portal_http::path_param(req, "id")?;
    if (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(id)
    } else {
        Err(unknown_instalment(&id.chars().take(64).collect::<String>()))
    }
}

fn unknown_instalment(id: &str) -> ApiError {
    ApiError::client(
        404,
        "instalment-not-found",
        "Instalment not found",
        format!("this booking has no instalment `{id}`"),
    )
}

fn idempotency_key(req: &Request) -> Result<String, ApiError> {
    let Some(k) = header(req, "idempotency-key") else {
        return Err(ApiError::bad_request("the Idempotency-Key header is required (a fresh UUID per request)"));
    };
    let k = k.trim();
    if k.is_empty() || k.len() > 200 || !k.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request("the Idempotency-Key header must be 1-200 visible ASCII characters"));
    }
    Ok(k.to_string())
}

/// `{"payment_method_id": "pm_..."}` (default: the card saved last) and/or `{"method": "card"}`; the body may be
/// empty. Withdrawals take no body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payment_method_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    method: Option<Method>,
}

fn approval_input(req: &Request, route: Route) -> Result<ApprovalInput, ApiError> {
    if body_bytes(req).iter().all(u8::is_ascii_whitespace) {
        return Ok(ApprovalInput::default());
    }
    if route == Route::Withdraw {
        return Err(ApiError::bad_request("a withdrawal takes no body"));
    }
    let input: ApprovalInput = json_body(req)?;
    if input.method == Some(Method::OpenBanking) {
        return Err(ApiError::client(422, "method-not-reusable", "Payment method not reusable", OPEN_BANKING_NOTE)
            .with_field("method"));
    }
    if let Some(pm) = &input.payment_method_id
        && (pm.is_empty() || pm.len() > 255)
    {
        return Err(ApiError::validation("payment_method_id", "payment_method_id: 1-255 characters"));
    }
    Ok(input)
}

struct Change<'a> {
    route: Route,
    instalment_id: Option<&'a str>,
    input: &'a ApprovalInput,
    key: &'a str,
    session: &'a Session,
    client_ip: Option<String>,
}

impl Change<'_> {
    fn hash(&self, reference: &str) -> String {
        let canonical = serde_json::to_value(self.input).map(|v| v.to_string()).unwrap_or_default();
        hex::encode(Sha256::digest(
            format!(
                "{reference}\n{}\n{:?}\n{}\n{canonical}",
                self.session.traveller_id,
                self.route,
                self.instalment_id.unwrap_or("*")
            )
            .as_bytes(),
        ))
    }
}

#[derive(Debug, Clone, Serialize)]
struct MoneyOut {
    amount: String,
    currency: Currency,
}

impl From<Money> for MoneyOut {
    fn from(m: Money) -> MoneyOut {
        MoneyOut { amount: m.to_decimal_string(), currency: m.currency() }
    }
}

#[derive(Debug, Clone, Serialize)]
struct CardOut {
    payment_method_id: String,
    brand: String,
    last4: String,
    saved_at: DateTime<Utc>,
}

impl From<&PaymentMethodItem> for CardOut {
    fn from(p: &PaymentMethodItem) -> CardOut {
        CardOut {
            payment_method_id: p.payment_method_id.clone(),
            brand: p.brand.clone(),
            last4: p.last4.clone(),
            saved_at: p.saved_at,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct ApprovalOut {
    approved_at: DateTime<Utc>,
    payment_method_id: String,
}

#[derive(Debug, Clone, Serialize)]
struct InstalmentOut {
    id: String,
    kind: InstalmentKind,
    due_date: chrono::NaiveDate,
    amount: MoneyOut,
    status: schedule::InstalmentStatus,
    collection: CollectionState,
    #[serde(skip_serializing_if = "Option::is_none")]
    approval: Option<ApprovalOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_attempt_at: Option<DateTime<Utc>>,
}

impl From<&Instalment> for InstalmentOut {
    fn from(i: &Instalment) -> InstalmentOut {
        InstalmentOut {
            id: i.id.clone(),
            kind: i.kind,
            due_date: i.due_date,
            amount: i.amount.into(),
            status: i.status,
            collection: i.collection_state(),
            approval: i
                .approval
                .as_ref()
                .map(|a| ApprovalOut { approved_at: a.approved_at, payment_method_id: a.payment_method_id.clone() }),
            next_attempt_at: i.next_attempt_at,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct ApprovalResponse {
    reference: String,
    /// Instalments this request approved (or withdrew).
    changed: Vec<InstalmentOut>,
    /// Instalments named by the request that needed no change (already approved with this card).
    unchanged: Vec<InstalmentOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_method: Option<CardOut>,
    note: &'static str,
}

#[derive(Debug, Clone, Serialize)]
struct CardsResponse {
    payment_methods: Vec<CardOut>,
    note: &'static str,
}

/// The caller's own saved cards (the only ones they can approve charges to).
fn cards_out(c: &BookingCollection, session: &Session) -> CardsResponse {
    CardsResponse {
        payment_methods: own_cards(c, &session.traveller_id).iter().map(CardOut::from).collect(),
        note: OPEN_BANKING_NOTE,
    }
}

fn schedule_error(e: ScheduleError) -> ApiError {
    let d = e.to_string();
    match e {
        ScheduleError::AlreadyPaid(_) => ApiError::client(409, "instalment-paid", "Instalment already paid", d),
        ScheduleError::Processing(_) => ApiError::client(409, "instalment-processing", "Instalment being collected", d),
        ScheduleError::Cancelled(_) => ApiError::client(409, "instalment-cancelled", "Instalment cancelled", d),
        ScheduleError::NotApproved(_) | ScheduleError::NotDue(_) => {
            ApiError::client(409, "instalment-not-approved", "Instalment not approved", d)
        }
    }
}

fn payment_method_required(reference: &str) -> ApiError {
    ApiError::client(
        409,
        "payment-method-required",
        "Payment method required",
        format!(
            "you have no reusable payment method saved on this booking: save a card with POST /bookings/{reference}/payment-methods \
             (or pay once by card), then approve. {OPEN_BANKING_NOTE}"
        ),
    )
}

/// The cards a traveller may approve charges to: the ones they saved themselves (a traveller never commits
/// another traveller's card, the lead's included).
fn own_cards(c: &BookingCollection, traveller_id: &str) -> Vec<PaymentMethodItem> {
    let mut saved: Vec<_> = portal_store::payments::saved_methods(c)
        .into_iter()
        .filter(|p| p.traveller_id.as_deref() == Some(traveller_id))
        .collect();
    saved.sort_by_key(|p| p.saved_at);
    saved
}

/// The saved card to charge: the one named, else the one saved last; only the caller's own cards.
fn choose_card(
    c: &BookingCollection,
    input: &ApprovalInput,
    traveller_id: &str,
) -> Result<PaymentMethodItem, ApiError> {
    let mut saved = own_cards(c, traveller_id);
    match &input.payment_method_id {
        Some(id) => saved.into_iter().find(|p| &p.payment_method_id == id).ok_or_else(|| {
            ApiError::validation("payment_method_id", "payment_method_id: not a card you saved on this booking")
        }),
        None => saved.pop().ok_or_else(|| payment_method_required(c.booking.reference.as_str())),
    }
}

/// Another traveller's approval (charged to their card) may be changed or withdrawn only by them or the lead.
fn refuse_others_approval(session: &Session, i: &Instalment) -> Result<(), ApiError> {
    match &i.approval {
        Some(a) if a.approved_by != session.traveller_id && !session.is_lead => Err(ApiError::forbidden(format!(
            "instalment `{}` was approved by another traveller; only they or the lead passenger can change that",
            i.id
        ))),
        _ => Ok(()),
    }
}

/// The planned write and the answer, from the booking as read. Pure.
fn plan(
    ch: &Change<'_>,
    c: &BookingCollection,
    now: DateTime<Utc>,
    done: ClaimItem,
) -> Result<(ScheduleWrite, u16, String), ApiError> {
    let reference = c.booking.reference.as_str();
    let target = match ch.instalment_id {
        Some(id) => Some(c.instalments.iter().find(|i| i.id == id).ok_or_else(|| unknown_instalment(id))?),
        None => None,
    };
    if c.booking.status == BookingStatus::Cancelled {
        return Err(ApiError::client(
            409,
            "booking-cancelled",
            "Booking cancelled",
            "this booking is cancelled: nothing can be approved or withdrawn",
        ));
    }
    let summary = LedgerSummary::compute(&c.booking, &c.movements, &c.instalments, now.date_naive())
        .map_err(|e| ApiError::internal(format!("ledger of {reference} does not add up: {e}")))?;
    let remaining = |id: &str| summary.instalments.iter().find(|v| v.instalment.id == id).map(|v| v.remaining);
    let mut changed: Vec<Instalment> = Vec::new();
    let mut unchanged: Vec<Instalment> = Vec::new();
    let mut card = None;
    let kind;
    match ch.route {
        Route::Withdraw => {
            kind = MovementKind::ApprovalWithdrawn;
            let i = target.ok_or_else(|| ApiError::internal("withdrawal without an instalment"))?;
            refuse_others_approval(ch.session, i)?;
            changed.push(schedule::withdraw(i).map_err(schedule_error)?);
        }
        _ => {
            kind = MovementKind::InstalmentApproved;
            let candidates: Vec<&Instalment> = match target {
                Some(i) => {
                    // Covered by payments already (e.g. paid by hand): nothing to approve.
                    if remaining(&i.id).is_some_and(|r| r.is_zero()) {
                        return Err(schedule_error(ScheduleError::AlreadyPaid(i.id.clone())));
                    }
                    refuse_others_approval(ch.session, i)?;
                    vec![i]
                }
                None => c
                    .instalments
                    .iter()
                    .filter(|i| i.status == schedule::InstalmentStatus::Scheduled)
                    .filter(|i| remaining(&i.id).is_some_and(|r| r.is_positive()))
                    .collect(),
            };
            if !candidates.is_empty() {
                let pm = choose_card(c, ch.input, &ch.session.traveller_id)?;
                for i in candidates {
                    let approval = Approval {
                        approved_at: now,
                        approved_by: ch.session.traveller_id.clone(),
                        payment_method_id: pm.payment_method_id.clone(),
                        client_ip: ch.client_ip.clone(),
                    };
                    match schedule::approve(i, approval).map_err(schedule_error)? {
                        Some(next) => changed.push(next),
                        None => unchanged.push(i.clone()),
                    }
                }
                card = Some(pm);
            }
        }
    }

    let actor = Actor { kind: ActorKind::Customer, id: ch.session.traveller_id.clone() };
    let mut w = ScheduleWrite { reference: reference.into(), version: c.version, ..ScheduleWrite::default() };
    for i in &changed {
        let verb = if kind == MovementKind::InstalmentApproved { "approval" } else { "withdrawal" };
        let idem = format!("{verb}:{reference}:{}:{}", ch.key, i.id);
        let method_id = card
            .as_ref()
            .map(|p| p.payment_method_id.clone())
            .or_else(|| target.and_then(|t| t.approval.as_ref()).map(|a| a.payment_method_id.clone()));
        let how = card.as_ref().map(|p| format!(" with {} •••• {}", p.brand, p.last4)).unwrap_or_default();
        let m = Movement {
            id: movement_id(&idem),
            kind,
            amount: remaining(&i.id).unwrap_or(i.amount),
            channel: Some(PaymentChannel::Card),
            external_reference: method_id,
            occurred_at: now,
            recorded_at: now,
            actor: actor.clone(),
            idempotency_key: idem,
            traveller_id: Some(ch.session.traveller_id.clone()),
            instalment_ids: vec![i.id.clone()],
            // No client address here: movements reach finance exports. The address stays in the approval
            // evidence on the instalment item only.
            description: Some(format!(
                "{} of instalment {} by traveller {}{how}",
                if kind == MovementKind::InstalmentApproved { "Approval" } else { "Withdrawal of the approval" },
                i.id,
                ch.session.traveller_id,
            )),
            acquirer_fee: None,
        };
        w.events.push(LedgerEvent::for_movement(&m, &c.booking));
        w.movements.push(m);
    }
    w.instalments = changed.clone();
    let answer = ApprovalResponse {
        reference: reference.into(),
        changed: changed.iter().map(InstalmentOut::from).collect(),
        unchanged: unchanged.iter().map(InstalmentOut::from).collect(),
        payment_method: card.as_ref().map(CardOut::from),
        note: OPEN_BANKING_NOTE,
    };
    let body = serde_json::to_string(&answer).map_err(internal)?;
    let mut done = done;
    done.state = STATE_DONE.into();
    done.reference = Some(reference.into());
    done.response_status = Some(200);
    done.response_body = Some(body.clone());
    w.idempotency = Some(done);
    Ok((w, 200, body))
}

async fn approval_route(
    state: &State,
    ch: &Change<'_>,
    mut c: BookingCollection,
    now: DateTime<Utc>,
) -> Result<Response<Body>, ApiError> {
    let reference = c.booking.reference.to_string();
    let scope = format!("instalments#{reference}");
    let hash = ch.hash(&reference);
    if let Some(existing) = state.store.get_idempotency(&scope, ch.key).await? {
        return replay(&existing, &hash);
    }
    for attempt in 0..MAX_ATTEMPTS {
        let (w, status, body) = plan(ch, &c, now, ClaimItem::idempotency(&scope, ch.key, &hash, now))?;
        match state.store.write_schedule(&w, now).await {
            Ok(()) => {
                tracing::info!(
                    reference = %reference, route = ?ch.route, instalments = w.instalments.len(),
                    traveller = %ch.session.traveller_id, "instalment approvals changed"
                );
                return response(status, body, false);
            }
            Err(StoreError::Conflict(_)) => {
                // A concurrent request won: the same key's answer, or a fresh read and a new plan.
                if let Some(existing) = state.store.get_idempotency(&scope, ch.key).await? {
                    return replay(&existing, &hash);
                }
                tokio::time::sleep(Duration::from_millis(15 * (attempt as u64 + 1))).await;
                c = state.store.load_booking(&reference).await?.ok_or_else(portal_http::session::not_found_booking)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict("the booking kept changing while this request was processed; retry with the same key"))
}

fn replay(existing: &ClaimItem, hash: &str) -> Result<Response<Body>, ApiError> {
    if existing.request_hash.as_deref() != Some(hash) || !existing.is_done() {
        return Err(ApiError::client(
            422,
            "idempotency-key-reused",
            "Idempotency key reused",
            "this Idempotency-Key was used for a different request; use a new key for a new request",
        ));
    }
    response(existing.response_status.unwrap_or(200), existing.response_body.clone().unwrap_or_default(), true)
}

#[derive(Debug, Clone, Serialize)]
struct SetupResponse {
    setup_id: String,
    gateway: &'static str,
    setup_intent_id: String,
    client_secret: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    setup_url: Option<String>,
    note: &'static str,
}

fn gateway_error(e: &GatewayError) -> ApiError {
    match e {
        GatewayError::Timeout => ApiError::client(
            503,
            "gateway-unavailable",
            "Payment provider unavailable",
            "the payment provider did not answer in time; retry with the same Idempotency-Key",
        )
        .with_retry_after(2),
        _ => ApiError::client(
            502,
            "gateway-error",
            "Payment provider error",
            "the payment provider could not start saving a card; retry with the same Idempotency-Key",
        ),
    }
}

/// Start saving a card: a gateway SetupIntent (idempotent on a key derived from booking + `Idempotency-Key`);
/// the `setup_intent.succeeded` webhook saves it on the booking.
async fn setup_card(
    state: &State,
    session: &Session,
    c: &BookingCollection,
    key: &str,
    now: DateTime<Utc>,
) -> Result<(u16, String), ApiError> {
    if c.booking.status == BookingStatus::Cancelled {
        return Err(ApiError::client(409, "booking-cancelled", "Booking cancelled", "this booking is cancelled"));
    }
    let reference = c.booking.reference.as_str();
    let setup_id = derived_id("set", &format!("{reference}:{key}"));
    let req = CreateSetup {
        idempotency_key: setup_id.clone(),
        booking_reference: reference.into(),
        setup_id: setup_id.clone(),
        traveller_id: session.traveller_id.clone(),
        // The traveller's own gateway customer when they saved a card before (never another traveller's).
        customer_id: own_cards(c, &session.traveller_id).pop().map(|m| m.customer_id.clone()),
        customer_email: c.booking.traveller(&session.traveller_id).and_then(|t| t.email.clone()),
    };
    let created = state.gateway.create_setup(&req).await.map_err(|e| {
        tracing::warn!(reference, setup_id = %setup_id, error = %e, "gateway refused a card set-up");
        gateway_error(&e)
    })?;
    let item = CardSetupItem {
        pk: portal_store::keys::booking_pk(reference),
        sk: portal_store::instalments::setup_sk(&setup_id),
        entity: ENTITY_CARD_SETUP.into(),
        setup_id: setup_id.clone(),
        gateway: state.gateway.name().into(),
        setup_intent_id: created.setup_intent_id.clone(),
        customer_id: created.customer_id.clone(),
        traveller_id: session.traveller_id.clone(),
        created_at: now,
    };
    let exists = portal_store::instalments::card_setups(c).iter().any(|s| s.setup_id == setup_id);
    if !exists {
        let w = ScheduleWrite {
            reference: reference.into(),
            version: c.version,
            card_setup: Some(item),
            ..ScheduleWrite::default()
        };
        match state.store.write_schedule(&w, now).await {
            // Written by a concurrent retry with the same key, or the booking changed: the set-up exists at the
            // gateway either way and the webhook needs no item of ours to save the card.
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    tracing::info!(reference, setup_id = %setup_id, gateway = state.gateway.name(), "card set-up started");
    let out = SetupResponse {
        setup_id,
        gateway: state.gateway.name(),
        setup_intent_id: created.setup_intent_id,
        client_secret: created.client_secret,
        setup_url: created.setup_url,
        note: OPEN_BANKING_NOTE,
    };
    Ok((201, serde_json::to_string(&out).map_err(internal)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = |m: &str, p: &str| {
            let req = http::Request::builder().method(m).uri(p).body(Body::Empty).unwrap();
            route(&req)
        };
        assert_eq!(r("POST", "/bookings/AE-1/instalments/approval").unwrap(), Route::ApproveAll);
        assert_eq!(r("POST", "/bookings/AE-1/instalments/I1/approval").unwrap(), Route::ApproveOne);
        assert_eq!(r("DELETE", "/bookings/AE-1/instalments/I1/approval").unwrap(), Route::Withdraw);
        assert_eq!(r("POST", "/bookings/AE-1/payment-methods").unwrap(), Route::SetupCard);
        assert_eq!(r("GET", "/bookings/AE-1/payment-methods").unwrap(), Route::ListCards);
        assert!(r("PUT", "/bookings/AE-1/instalments/I1/approval").is_err());
        assert!(r("GET", "/bookings/AE-1/nope").is_err());
    }
}

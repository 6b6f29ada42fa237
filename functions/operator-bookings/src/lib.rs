//! `PUT /operator/bookings/{reference}`: how bookings arrive from the operator's reservation system.
//!
//! Validated (see `portal_domain::booking`), versioned (`If-Match` with the version from the `ETag`; a stale
//! version is 409), idempotent (an identical push changes nothing and answers 200 with the current version).
//! A price change becomes an adjustment movement; everything is written in one conditional transaction.

use std::convert::Infallible;

use std::sync::Arc;

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use portal_domain::booking::{Booking, BookingInput, ValidatedBooking};
use portal_domain::ids::BookingReference;
use portal_domain::ledger::Actor;
use portal_domain::money::Money;
use portal_domain::upsert::{Existing, plan_upsert};
use portal_gateway::PaymentGateway;
use portal_http::config::ConfigError;
use portal_http::operator::OperatorAuth;
use portal_http::{ApiError, header, json, json_body, path_param, respond};
use portal_store::items::{Aggregate, BookingItem};
use portal_store::store::Tx;
use portal_store::{Store, StoreError};
use serde::Serialize;
use sha2_fingerprint::fingerprint;

mod sha2_fingerprint {
    use portal_domain::booking::ValidatedBooking;

    /// SHA-256 over the canonical JSON of the validated push (struct field order is fixed).
    pub fn fingerprint(v: &ValidatedBooking) -> String {
        let json = serde_json::to_string(&(&v.booking, &v.schedule, &v.payments_received)).unwrap_or_default();
        portal_domain::events::derived_id("fp", &json)
    }
}

pub struct State {
    pub store: Store,
    pub auth: OperatorAuth,
    /// Cancels the booking's open checkouts when a push changes its price or cancels it (one open payment per
    /// debt: a checkout priced before the change must not take money after it). `None`: not cancelled here;
    /// the reconciler cancels them when they expire and any excess they take is refunded.
    pub gateway: Option<Arc<dyn PaymentGateway>>,
}

impl State {
    /// `TABLE_NAME`, the operator auth variables, and optional `STRIPE_SECRET_KEY` (+ `STRIPE_API_BASE`,
    /// `GATEWAY_TIMEOUT_MS`) to cancel superseded checkouts.
    pub async fn from_env() -> Result<State, ConfigError> {
        let table = portal_http::config::required("TABLE_NAME")?;
        let auth = OperatorAuth::from_env()?;
        let sdk = portal_store::aws::sdk_config().await;
        let gateway: Option<Arc<dyn PaymentGateway>> = match portal_http::config::optional("STRIPE_SECRET_KEY") {
            None => None,
            Some(key) => Some(Arc::new(portal_gateway::stripe::StripeGateway::from_env(&key, 3000)?)),
        };
        Ok(State { store: Store::new(portal_store::aws::dynamodb_client(&sdk, None), table), auth, gateway })
    }
}

/// After a push that changed the price or cancelled the booking: cancel its open checkouts at the gateway and
/// mark them cancelled. Best effort after the commit; one the gateway says is too late (paid, or moving money)
/// is left to its webhook, and any excess it brings is refunded there.
async fn cancel_open_checkouts(state: &State, before: &portal_store::BookingCollection, reason: &str) {
    let Some(gateway) = &state.gateway else { return };
    let reference = before.booking.reference.as_str();
    let now = Utc::now();
    for intent in portal_store::payments::intents(before).into_iter().filter(|i| i.is_cancellable()) {
        match gateway.cancel_payment(&intent.gateway_payment_id).await {
            Ok(portal_gateway::Cancelled::Cancelled) => {
                match state.store.update_intent(&intent.with_status("cancelled", now), &intent.status).await {
                    Ok(()) | Err(StoreError::Conflict(_)) => {
                        tracing::info!(reference, checkout_id = %intent.checkout_id, reason, "open checkout cancelled after a booking change");
                    }
                    Err(e) => {
                        tracing::error!(reference, checkout_id = %intent.checkout_id, error = %e, "open checkout cancelled at the gateway but not marked")
                    }
                }
            }
            Ok(portal_gateway::Cancelled::TooLate(status)) => {
                tracing::info!(reference, checkout_id = %intent.checkout_id, status = %status, "open checkout already paying; its webhook records it and refunds any excess");
            }
            Err(e) => {
                tracing::warn!(reference, checkout_id = %intent.checkout_id, error = %e, alarm = "checkout_not_cancelled", "open checkout not cancelled after a booking change; it expires and any excess is refunded");
            }
        }
    }
}

#[derive(Debug, Serialize)]
pub struct UpsertResponse {
    pub reference: String,
    pub version: u64,
    pub created: bool,
    pub changed: bool,
    pub total_price: Money,
    pub paid: Money,
    pub outstanding: Money,
}

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Infallible> {
    respond(upsert(state, None, req)).await
}

/// [`handle`], and after a change has committed, a regeneration request on the documents queue. The send is
/// after the commit and best effort: the booking stays written (all-or-nothing is the transaction's), a
/// failed send is logged, and the operator's `POST .../documents/regenerate` is the recovery path.
pub async fn handle_with_documents(
    state: &State,
    queue: &portal_store::documents::DocumentQueue,
    req: Request,
) -> Result<Response<Body>, Infallible> {
    respond(upsert(state, Some(queue), req)).await
}

/// `If-Match: "3"` (or `3`). Weak tags and lists are not versions we issue.
fn parse_if_match(raw: Option<&str>) -> Result<Option<u64>, ApiError> {
    match raw {
        None => Ok(None),
        Some(v) => v
            .trim()
            .trim_matches('"')
            .parse::<u64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request("If-Match must be the booking version from the ETag, e.g. \"3\"")),
    }
}

async fn upsert(
    state: &State,
    queue: Option<&portal_store::documents::DocumentQueue>,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    if req.method() != http::Method::PUT {
        return Err(ApiError::method_not_allowed());
    }
    let operator = state.auth.authenticate(&req)?;
    let reference = BookingReference::parse(&path_param(&req, "reference")?)?;
    let if_match = parse_if_match(header(&req, "if-match"))?;
    let create_only = header(&req, "if-none-match").is_some_and(|v| v.trim() == "*");
    let input: BookingInput = json_body(&req)?;
    let validated = Booking::from_input(reference.clone(), input)?;
    let fp = fingerprint(&validated);

    // One retry: a concurrent writer may have committed between our read and our write. Re-planning against
    // the fresh state is always safe (history is appended, never rewritten); a precondition that no longer
    // holds is reported instead.
    for attempt in 0..2 {
        let current = state.store.load_booking(reference.as_str()).await?;
        if let Some(c) = &current
            && c.fingerprint == fp
        {
            return respond_with(c.version, false, false, &c.booking.reference, &c.aggregate);
        }
        match (&current, if_match) {
            (Some(c), Some(v)) if c.version != v => {
                return Err(ApiError::stale_version(format!(
                    "If-Match names version {v} but the booking is at version {}; fetch it and retry",
                    c.version
                )));
            }
            (None, Some(v)) => {
                return Err(ApiError::stale_version(format!(
                    "If-Match names version {v} but the booking does not exist"
                )));
            }
            (Some(c), None) if create_only => {
                return Err(ApiError::stale_version(format!(
                    "If-None-Match: * but the booking exists at version {}",
                    c.version
                )));
            }
            _ => {}
        }
        match write(state, current.as_ref(), validated.clone(), &fp, &operator).await {
            Ok((item, created, paid)) => {
                if let Some(c) = &current {
                    let repriced = c.aggregate.total_price != item.aggregate.total_price;
                    let cancelled = item.booking.status == portal_domain::booking::BookingStatus::Cancelled
                        && c.booking.status != portal_domain::booking::BookingStatus::Cancelled;
                    if repriced || cancelled {
                        cancel_open_checkouts(state, c, if cancelled { "booking_cancelled" } else { "price_changed" })
                            .await;
                    }
                }
                if let Some(q) = queue {
                    let reason = if created {
                        "created"
                    } else if paid {
                        "payment_recorded"
                    } else {
                        "booking_changed"
                    };
                    let msg = portal_store::documents::RegenerateMessage {
                        reference: reference.to_string(),
                        types: Vec::new(),
                        reason: reason.into(),
                    };
                    if let Err(e) = q.send(&msg).await {
                        tracing::error!(reference = %reference, error = %e, "document regeneration not queued");
                    }
                }
                return respond_with(item.version, created, true, &item.booking.reference, &item.aggregate);
            }
            Err(WriteError::Store(StoreError::Conflict(_))) if attempt == 0 => {
                tracing::info!(reference = %reference, "concurrent booking write; re-reading once");
                continue;
            }
            Err(WriteError::Store(e)) => return Err(e.into()),
            Err(WriteError::Domain(e)) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict("the booking is being changed by another request; retry"))
}

enum WriteError {
    Domain(portal_domain::DomainError),
    Store(StoreError),
}

impl From<portal_domain::DomainError> for WriteError {
    fn from(e: portal_domain::DomainError) -> Self {
        WriteError::Domain(e)
    }
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        WriteError::Store(e)
    }
}

async fn write(
    state: &State,
    current: Option<&portal_store::BookingCollection>,
    validated: ValidatedBooking,
    fp: &str,
    operator: &str,
) -> Result<(BookingItem, bool, bool), WriteError> {
    let now = Utc::now();
    let existing = current.map(|c| Existing {
        booking: &c.booking,
        version: c.version,
        instalments: &c.instalments,
        movements: &c.movements,
    });
    let plan = plan_upsert(existing, validated, Actor::operator(operator), now)?;
    let mut all = current.map(|c| c.movements.clone()).unwrap_or_default();
    all.extend(plan.movements.iter().cloned());
    let aggregate = Aggregate::from_movements(plan.booking.currency, &all)
        .map_err(|e| portal_domain::DomainError::money("ledger", e))?;
    let item = BookingItem::new(
        plan.booking,
        plan.version,
        fp.to_string(),
        aggregate,
        current.map_or(now, |c| c.created_at),
        now,
    );
    let paid = plan.movements.iter().any(|m| m.kind == portal_domain::ledger::MovementKind::Payment);
    let mut tx = Tx::default();
    // The customer's emails (confirmed, cancelled, what changed, instalments to approve) go into the mail
    // outbox in this same transaction.
    let notices = portal_notify::booking::push_notices(
        current.map(|c| &c.booking),
        current.map(|c| c.instalments.as_slice()).unwrap_or_default(),
        &item.booking,
        &plan.instalments,
        item.version,
        now,
    );
    state.store.stage_upsert(&mut tx, current, &item, &plan.instalments, &plan.movements, plan.events, notices)?;
    // A traveller removed, an email changed, the lead moved: their sessions and unused links end in this same
    // transaction (a session is proof of an email on the booking in a role; after the change it proves neither).
    let ended = match current {
        Some(c) => {
            let end = portal_store::auth::AccessEnd::travellers(c.booking.access_changed(&item.booking));
            state.store.stage_revoke(&mut tx, c, &end)?;
            end.counts(c)
        }
        None => (0, 0),
    };
    state.store.commit(tx).await?;
    tracing::info!(
        reference = %item.booking.reference, version = item.version, created = plan.created,
        movements = plan.movements.len(), sessions_ended = ended.0, links_ended = ended.1, "booking upserted"
    );
    Ok((item, plan.created, paid))
}

fn respond_with(
    version: u64,
    created: bool,
    changed: bool,
    reference: &BookingReference,
    agg: &Aggregate,
) -> Result<Response<Body>, ApiError> {
    let mut r = json(
        if created { 201 } else { 200 },
        &UpsertResponse {
            reference: reference.to_string(),
            version,
            created,
            changed,
            total_price: agg.total_price,
            paid: agg.paid,
            outstanding: agg.outstanding,
        },
    )?;
    r.headers_mut().insert("etag", format!("\"{version}\"").parse().map_err(|_| ApiError::internal("etag header"))?);
    if created {
        r.headers_mut().insert(
            "location",
            format!("/operator/bookings/{reference}").parse().map_err(|_| ApiError::internal("location header"))?,
        );
    }
    Ok(r)
}

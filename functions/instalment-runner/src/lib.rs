//! The instalment runner (EventBridge schedule, e.g. every 5 minutes): charges approved instalments that are
//! due, off-session, through the gateway. See `docs/scheduled-payments.md`.
//!
//! 1. One `Query` of the sparse `due_instalments` index (`DUE`, `<= now`): approved instalments at their due
//!    date, declined ones at their retry time, processing ones whose lease ran out (a crashed runner). No scan.
//! 2. Per instalment: read the booking (one `Query`), take the instalment (`processing`, the attempt's charge
//!    id, a lease) in one transaction conditional on the booking's version: of two runners, one takes it.
//! 3. Charge the saved card off-session with the charge id as the gateway idempotency key (derived from
//!    booking, instalment, amount and attempt): a retry, a second runner or a re-take after a crash sends the
//!    same key, so the gateway never charges twice.
//! 4. Accepted: stays `processing`; the `payment_intent.succeeded` webhook records the payment and marks it
//!    paid. Declined: `failed`, a `payment_failed` evidence movement and outbox event, the next attempt per
//!    the retry policy (or none), and the branded email with a link to pay by hand. Timeout: back to waiting,
//!    retried next run with the same key.

pub mod email;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use portal_domain::booking::BookingStatus;
use portal_domain::events::LedgerEvent;
use portal_domain::ledger::LedgerSummary;
use portal_domain::locale::Locale;
use portal_domain::money::Money;
use portal_domain::schedule::{self, Instalment, InstalmentStatus, RetryPolicy};
use portal_domain::upsert::movement_id;
use portal_gateway::{CreatePayment, GatewayError, Method, PaymentGateway, PaymentMetadata, SavedCard};
use portal_http::config::{self, ConfigError};
use portal_store::instalments::ScheduleWrite;
use portal_store::payments::{Claim, ClaimItem, PaymentMethodItem, STATE_PENDING};
use portal_store::{BookingCollection, Store, StoreError};
use serde::{Deserialize, Serialize};

/// How long a taken instalment belongs to its runner before a later run may take it again.
pub const DEFAULT_LEASE_MINUTES: i64 = 30;
const MAX_WRITE_ATTEMPTS: usize = 5;

pub struct State {
    pub store: Store,
    pub gateway: Arc<dyn PaymentGateway>,
    pub brands: portal_mail::Brands,
    pub policy: RetryPolicy,
    /// Where customers pay by hand: the web app's pay page, `<portal_url>/trips/<REF>/pay?instalment=<instalment id>`.
    pub portal_url: String,
    pub lease: chrono::Duration,
    /// At most this many instalments per run (the next run takes the rest).
    pub batch: usize,
}

impl State {
    pub fn new(store: Store, gateway: Arc<dyn PaymentGateway>, brands: portal_mail::Brands, portal_url: &str) -> State {
        State {
            store,
            gateway,
            brands,
            policy: RetryPolicy::default(),
            portal_url: portal_url.trim_end_matches('/').to_string(),
            lease: chrono::Duration::minutes(DEFAULT_LEASE_MINUTES),
            batch: 200,
        }
    }

    /// `TABLE_NAME`, `STRIPE_SECRET_KEY` (+ optional `STRIPE_API_BASE`, `GATEWAY_TIMEOUT_MS`), `EMAIL_SENDER`,
    /// `PORTAL_URL`, optional `BRANDS_JSON`, `RETRY_MAX_ATTEMPTS` (default 3), `RETRY_BACKOFF` (default `2d,3d`),
    /// `RUN_BATCH` (default 200).
    pub async fn from_env() -> Result<State, ConfigError> {
        let table = config::required("TABLE_NAME")?;
        let key = config::required("STRIPE_SECRET_KEY")?;
        let stripe = portal_gateway::stripe::StripeGateway::from_env(&key, 8000)?;
        let sender = config::required("EMAIL_SENDER")?;
        let brands = portal_mail::Brands::parse(config::optional("BRANDS_JSON").as_deref(), sender.trim())
            .map_err(|e| ConfigError { variable: portal_mail::BrandsError::VARIABLE, problem: e.problem })?;
        let portal_url = config::required("PORTAL_URL")?;
        let policy = RetryPolicy::parse(
            &config::optional("RETRY_MAX_ATTEMPTS").unwrap_or_else(|| "3".into()),
            &config::optional("RETRY_BACKOFF").unwrap_or_else(|| "2d,3d".into()),
        )
        .map_err(|problem| ConfigError { variable: "RETRY_BACKOFF", problem })?;
        let batch = config::number("RUN_BATCH", 200, 1, 1000)? as usize;
        let sdk = portal_store::aws::sdk_config().await;
        let store = Store::new(portal_store::aws::dynamodb_client(&sdk, None), table);
        let mut s = State::new(store, Arc::new(stripe), brands, &portal_url);
        s.policy = policy;
        s.batch = batch;
        Ok(s)
    }
}

/// What a run did (returned to the scheduler and logged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    pub now: DateTime<Utc>,
    /// Entries found in the due index.
    pub due: usize,
    /// Charges the gateway accepted (recorded when its webhook arrives).
    pub charged: usize,
    pub declined: usize,
    /// Gateway timeouts/outages: retried next run with the same key.
    pub interrupted: usize,
    /// Covered by payments already: marked paid without a charge.
    pub settled: usize,
    /// Taken by another runner, changed meanwhile, or not due after all.
    pub skipped: usize,
    pub emails: usize,
}

/// The EventBridge schedule's event (`detail-type: Scheduled Event`), or an on-demand `{}`: the payload does not
/// steer the run; the clock is injected.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Invocation {
    #[serde(rename = "detail-type", default)]
    pub detail_type: Option<String>,
}

/// The Lambda handler: the schedule event and the clock (`Utc::now` in AWS; tests and the local portal travel).
pub async fn handle(
    state: &State,
    event: serde_json::Value,
    clock: impl Fn() -> DateTime<Utc>,
) -> Result<RunReport, StoreError> {
    let inv: Invocation = serde_json::from_value(event).unwrap_or_default();
    let now = clock();
    tracing::info!(trigger = inv.detail_type.as_deref().unwrap_or("on-demand"), now = %now, "instalment run");
    let report = run(state, now).await?;
    tracing::info!(
        due = report.due,
        charged = report.charged,
        declined = report.declined,
        interrupted = report.interrupted,
        settled = report.settled,
        skipped = report.skipped,
        emails = report.emails,
        "instalment run done"
    );
    Ok(report)
}

pub async fn run(state: &State, now: DateTime<Utc>) -> Result<RunReport, StoreError> {
    let due = state.store.due_instalments(now, state.batch).await?;
    let mut report = RunReport { now, due: due.len(), ..RunReport::default() };
    // Booking by booking (index order), each under a short lease so two runners never work on one booking at the
    // same time; the version condition and the charge id's gateway idempotency protect each step regardless.
    let mut bookings: Vec<(String, Vec<String>)> = Vec::new();
    for e in due {
        match bookings.iter_mut().find(|(r, _)| *r == e.reference) {
            Some((_, ids)) => ids.push(e.instalment_id),
            None => bookings.push((e.reference, vec![e.instalment_id])),
        }
    }
    for (reference, ids) in bookings {
        let lock = booking_lock(&reference, now);
        match state.store.claim(&lock, BOOKING_LEASE_SECONDS).await? {
            Claim::Won(_) => {}
            Claim::Taken(_) => {
                tracing::info!(reference = %reference, "booking taken by another runner; skipped");
                report.skipped += ids.len();
                continue;
            }
        }
        for id in ids {
            if let Err(e) = collect(state, &reference, &id, now, &mut report).await {
                // One booking's trouble must not stop the batch; the entry stays due for the next run.
                tracing::error!(reference = %reference, instalment = %id, error = %e, "instalment not processed");
                report.skipped += 1;
            }
        }
        let _ = state.store.release(&lock).await;
    }
    Ok(report)
}

/// A runner's lease on one booking (`RUNLOCK#<REF>`), released when done; a crashed runner's lapses.
pub const BOOKING_LEASE_SECONDS: i64 = 120;

fn booking_lock(reference: &str, now: DateTime<Utc>) -> ClaimItem {
    ClaimItem {
        pk: format!("RUNLOCK#{reference}"),
        sk: "RUNLOCK".into(),
        entity: "runner_lock".into(),
        state: STATE_PENDING.into(),
        claim: uuid::Uuid::new_v4().simple().to_string(),
        claimed_epoch: now.timestamp(),
        request_hash: None,
        reference: Some(reference.into()),
        event_type: None,
        response_status: None,
        response_body: None,
        expires_at: now.timestamp() + 3600,
    }
}

/// What to do with a due instalment, from the booking as read. Pure.
// One short-lived value per due instalment: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing (gone, not due, cancelled booking...).
    Skip(&'static str),
    /// Payments already cover it: paid, no charge.
    Settle(Instalment),
    /// Take it and charge `amount` to `card` with `charge_id`.
    Charge { taken: Instalment, amount: Money, card: Option<PaymentMethodItem> },
}

pub fn plan(c: &BookingCollection, id: &str, now: DateTime<Utc>, lease: chrono::Duration) -> Result<Step, String> {
    let Some(i) = c.instalments.iter().find(|i| i.id == id) else { return Ok(Step::Skip("no such instalment")) };
    if c.booking.status == BookingStatus::Cancelled {
        return Ok(Step::Skip("booking cancelled"));
    }
    let summary = LedgerSummary::compute(&c.booking, &c.movements, &c.instalments, now.date_naive())
        .map_err(|e| format!("ledger does not add up: {e}"))?;
    let Some(view) = summary.instalments.iter().find(|v| v.instalment.id == id) else {
        return Ok(Step::Skip("cancelled instalment"));
    };
    // Covered by payments (paid by hand, or a charge recorded meanwhile): paid, nothing to charge. A charge still in
    // flight that succeeds later is recorded by its webhook as a payment (a credit the operator refunds).
    if view.remaining.is_zero() {
        let mut paid = i.clone();
        paid.status = InstalmentStatus::Paid;
        paid.next_attempt_at = None;
        return Ok(Step::Settle(paid));
    }
    // What is still owed on it. A re-taken processing instalment keeps its charge id (see `start_attempt`), and
    // with nothing paid meanwhile sends the identical request, which the gateway answers from its idempotency.
    let amount = view.remaining;
    let taken = match schedule::start_attempt(i, c.booking.reference.as_str(), amount, now, lease) {
        Ok(t) => t,
        Err(_) => return Ok(Step::Skip("not due")),
    };
    let card = i.approval.as_ref().and_then(|a| {
        portal_store::payments::saved_methods(c).into_iter().find(|p| p.payment_method_id == a.payment_method_id)
    });
    Ok(Step::Charge { taken, amount, card })
}

async fn collect(
    state: &State,
    reference: &str,
    id: &str,
    now: DateTime<Utc>,
    report: &mut RunReport,
) -> Result<(), StoreError> {
    // Take it.
    let mut taken = None;
    for attempt in 0..MAX_WRITE_ATTEMPTS {
        let Some(c) = state.store.load_booking(reference).await? else {
            report.skipped += 1;
            return Ok(());
        };
        let step = plan(&c, id, now, state.lease).map_err(StoreError::Corrupt)?;
        let (write, next) = match step {
            Step::Skip(why) => {
                tracing::info!(reference, instalment = id, why, "due entry skipped");
                report.skipped += 1;
                return Ok(());
            }
            Step::Settle(paid) => (paid, None),
            Step::Charge { taken, amount, card } => (taken.clone(), Some((taken, amount, card))),
        };
        let w = ScheduleWrite {
            reference: reference.into(),
            version: c.version,
            instalments: vec![write],
            ..ScheduleWrite::default()
        };
        match state.store.write_schedule(&w, now).await {
            Ok(()) => {
                match next {
                    None => {
                        tracing::info!(reference, instalment = id, "instalment covered by payments; marked paid");
                        report.settled += 1;
                        return Ok(());
                    }
                    Some(n) => taken = Some(n),
                }
                break;
            }
            // Another runner, a webhook or the customer changed the booking: read again (a second runner then
            // finds it processing, not due, and skips it).
            Err(StoreError::Conflict(_)) => {
                tokio::time::sleep(Duration::from_millis(10 * (attempt as u64 + 1))).await;
            }
            Err(e) => return Err(e),
        }
    }
    let Some((taken, amount, card)) = taken else {
        report.skipped += 1;
        return Ok(());
    };
    let charge_id = taken.charge_id.clone().unwrap_or_default();
    // A checkout the customer opened before the take may still pay this instalment: cancel it at the gateway
    // first (one open payment per debt). If it already took money, or is moving it, the customer's payment
    // wins: no charge now; the next run finds the instalment covered.
    // Under the booking's payment lock, which checkout holds while it looks for open payments and creates one:
    // no checkout can open between the clearing and the charge.
    let Some(lock) = state.store.lock_payments(reference, now, 30).await? else {
        tracing::info!(reference, instalment = id, "a checkout of the booking is being started; charged next run");
        report.interrupted += 1;
        return interrupt(state, reference, id, &charge_id, now).await;
    };
    let clear = clear_open_checkouts(state, reference, id, now).await;
    if !matches!(clear, Ok(true)) {
        let _ = state.store.release(&lock).await;
        clear?;
        report.interrupted += 1;
        return interrupt(state, reference, id, &charge_id, now).await;
    }
    let result = match &card {
        None => Err(GatewayError::Rejected {
            status: 409,
            code: "payment_method_missing".into(),
            message: "the approved card is no longer saved".into(),
        }),
        Some(card) => {
            let req = CreatePayment {
                amount,
                method: Method::Card,
                idempotency_key: charge_id.clone(),
                description: format!("Booking {reference}, instalment {id}"),
                metadata: PaymentMetadata {
                    booking_reference: reference.into(),
                    checkout_id: charge_id.clone(),
                    movement_id: movement_id(&format!("checkout:{charge_id}")),
                    traveller_id: None,
                },
                customer_email: None,
                save_card: false,
                customer_id: Some(card.customer_id.clone()),
                off_session: Some(SavedCard {
                    customer_id: card.customer_id.clone(),
                    payment_method_id: card.payment_method_id.clone(),
                }),
            };
            state.gateway.create_payment(&req).await.map(|_| ())
        }
    };
    if let Err(e) = state.store.release(&lock).await {
        tracing::warn!(reference, error = %e, "payment lock not released; its lease frees it");
    }
    match result {
        Ok(()) => {
            tracing::info!(reference, instalment = id, charge_id = %charge_id, attempt = taken.attempt_number(), "instalment charge accepted by the gateway");
            report.charged += 1;
            Ok(())
        }
        // The bank said no, the card needs its holder (3-D Secure), or the approved card is gone: the customer
        // can act, so it is recorded as a failed attempt and they are emailed.
        Err(ref e @ GatewayError::Rejected { ref code, .. })
            if e.is_decline() || e.needs_authentication() || card.is_none() =>
        {
            tracing::warn!(reference, instalment = id, charge_id = %charge_id, code = %code, "instalment charge declined");
            report.declined += 1;
            if record_decline(state, reference, id, &charge_id, code, amount, card.as_ref(), now).await? {
                report.emails += 1;
            }
            Ok(())
        }
        // Our problem, not the customer's: a refused key (401), an invalid request, a 5xx. Never emailed as
        // "your payment failed"; logged for the alarm and retried next run with the same key.
        Err(e @ GatewayError::Rejected { .. }) => {
            tracing::error!(reference, instalment = id, charge_id = %charge_id, error = %e, alarm = "gateway_rejected", "instalment charge refused by the gateway for a reason that is not a decline; retried next run, customer not told");
            report.interrupted += 1;
            interrupt(state, reference, id, &charge_id, now).await
        }
        Err(e) => {
            tracing::warn!(reference, instalment = id, charge_id = %charge_id, error = %e, "gateway did not answer; retried next run with the same key");
            report.interrupted += 1;
            interrupt(state, reference, id, &charge_id, now).await
        }
    }
}

/// The evidence of a declined attempt and the instalment's next state, on the booking as read.
pub fn decline_write(
    c: &BookingCollection,
    failed: Instalment,
    charge_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> ScheduleWrite {
    let mut w =
        ScheduleWrite { reference: c.booking.reference.to_string(), version: c.version, ..ScheduleWrite::default() };
    let m = schedule::decline_evidence(&failed, charge_id, reason, now);
    if !c.movements.iter().any(|x| x.id == m.id) {
        w.events.push(LedgerEvent::for_movement(&m, &c.booking));
        w.movements.push(m);
    }
    w.instalments.push(failed);
    w
}

/// Record the decline and, in the same transaction, the customer's email (`true`: an email is on its way).
#[allow(clippy::too_many_arguments)]
async fn record_decline(
    state: &State,
    reference: &str,
    id: &str,
    charge_id: &str,
    reason: &str,
    amount: Money,
    card: Option<&PaymentMethodItem>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    for attempt in 0..MAX_WRITE_ATTEMPTS {
        let Some(c) = state.store.load_booking(reference).await? else { return Ok(false) };
        let Some(i) = c.instalments.iter().find(|i| i.id == id) else { return Ok(false) };
        // Already recorded (by the webhook) or no longer this charge: nothing to do, no second email.
        let Some(failed) = schedule::attempt_declined(i, charge_id, reason, now, &state.policy) else {
            return Ok(false);
        };
        let mut w = decline_write(&c, failed.clone(), charge_id, reason, now);
        let notice =
            collection_failed_notice(&state.brands, &state.portal_url, &c, &failed, amount, card, charge_id, now);
        let emailed = notice.is_some();
        w.notices.extend(notice);
        match state.store.write_schedule(&w, now).await {
            Ok(()) => return Ok(emailed),
            Err(StoreError::Conflict(_)) => tokio::time::sleep(Duration::from_millis(10 * (attempt as u64 + 1))).await,
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Cancel every open checkout of the booking that would also pay instalment `id`. `Ok(false)`: one cannot be
/// cancelled (succeeded, processing, or the gateway did not answer), so the instalment must not be charged now.
async fn clear_open_checkouts(
    state: &State,
    reference: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(c) = state.store.load_booking(reference).await? else { return Ok(true) };
    let open: Vec<_> = portal_store::payments::intents(&c)
        .into_iter()
        .filter(|i| i.is_open() && portal_domain::payment::covers_instalment(&i.debt(), id))
        .collect();
    for intent in open {
        if !intent.is_cancellable() {
            tracing::info!(reference, instalment = id, checkout_id = %intent.checkout_id, "the customer's own payment is on its way; not charging");
            return Ok(false);
        }
        match state.gateway.cancel_payment(&intent.gateway_payment_id).await {
            Ok(portal_gateway::Cancelled::Cancelled) => {
                tracing::info!(reference, instalment = id, checkout_id = %intent.checkout_id, "open checkout cancelled before charging the instalment");
                match state.store.update_intent(&intent.with_status("cancelled", now), &intent.status).await {
                    Ok(()) | Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(portal_gateway::Cancelled::TooLate(status)) => {
                tracing::info!(reference, instalment = id, checkout_id = %intent.checkout_id, status = %status, "the customer paid it themselves; not charging");
                return Ok(false);
            }
            Err(e) => {
                tracing::warn!(reference, instalment = id, error = %e, "open checkout not cancelled; not charging this run");
                return Ok(false);
            }
        }
    }
    Ok(true)
}

async fn interrupt(
    state: &State,
    reference: &str,
    id: &str,
    charge_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for attempt in 0..MAX_WRITE_ATTEMPTS {
        let Some(c) = state.store.load_booking(reference).await? else { return Ok(()) };
        let Some(i) = c.instalments.iter().find(|i| i.id == id) else { return Ok(()) };
        if i.status != InstalmentStatus::Processing || i.charge_id.as_deref() != Some(charge_id) {
            return Ok(());
        }
        let w = ScheduleWrite {
            reference: reference.into(),
            version: c.version,
            instalments: vec![schedule::attempt_interrupted(i, now)],
            ..ScheduleWrite::default()
        };
        match state.store.write_schedule(&w, now).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict(_)) => tokio::time::sleep(Duration::from_millis(10 * (attempt as u64 + 1))).await,
            // The lease brings it back in any case.
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The collection-failure email to the approver (else the lead), as a mail-outbox notice: written in the same
/// transaction as the decline (the runner's, or the webhook function's for a decline only the gateway's
/// webhook reported). Its id comes from the charge, so both paths name the same notice.
#[allow(clippy::too_many_arguments)]
pub fn collection_failed_notice(
    brands: &portal_mail::Brands,
    portal_url: &str,
    c: &BookingCollection,
    failed: &Instalment,
    amount: Money,
    card: Option<&PaymentMethodItem>,
    charge_id: &str,
    now: DateTime<Utc>,
) -> Option<portal_notify::Notice> {
    let b = &c.booking;
    let payer = failed
        .approval
        .as_ref()
        .and_then(|a| b.traveller(&a.approved_by))
        .filter(|t| t.email.is_some())
        .or_else(|| b.lead());
    let Some(t) = payer.filter(|t| t.email.is_some()) else {
        tracing::warn!(reference = %b.reference, "no email for a collection failure");
        return None;
    };
    let url = format!("{portal_url}/trips/{}/pay?instalment={}", b.reference, failed.id);
    let brand = brands.get(&b.brand);
    let mail = email::email(&email::CollectionFailed {
        brand,
        locale: Locale::parse(&b.locale).unwrap_or(Locale::EnGb),
        first_name: &t.first_name,
        reference: b.reference.as_str(),
        amount,
        card: card.map(|p| (p.brand.as_str(), p.last4.as_str())),
        next_attempt: failed.next_attempt_at,
        needs_cardholder: portal_domain::schedule::needs_cardholder(failed.last_failure.as_deref()),
        pay_url: &url,
    });
    portal_notify::Notice::prepared(
        &format!("collection_failed:{charge_id}"),
        portal_notify::NoticeKind::PaymentFailed,
        b,
        t,
        &mail,
        now,
    )
}

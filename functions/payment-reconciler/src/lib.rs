//! Scheduled reconciliation of payments whose webhook never came (docs/payments.md, "The reconciler").
//!
//! Every run reads the sparse `open_payments` index for entries older than `RECONCILE_AFTER_SECONDS`:
//!
//! - an open checkout intent: the payment is read from the gateway. `succeeded` or `processing` becomes the
//!   event the webhook would have delivered, recorded through the webhook's own exactly-once path
//!   ([`payment_webhooks::record_event`]: claim, one transaction, receipt, excess refund), keyed so a late real
//!   webhook finds it recorded. `canceled` marks the intent cancelled. Still open past its expiry: cancelled at
//!   the gateway first, so it can never take money later, then marked.
//! - an excess refund still `due` (the webhook function could not start it): started again, with the same
//!   idempotency key, so it is started once.
//!
//! Each entry is independent: one that fails is logged (with `alarm`) and retried next run.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use portal_gateway::{Cancelled, PaymentGateway, event};
use portal_http::config::{self, ConfigError};
use portal_store::payments::{CheckoutIntentItem, PREFIX_CHECKOUT, PREFIX_EXCESS};
use portal_store::{Store, StoreError};
use serde::Serialize;
use serde_json::{Value, json};

/// An intent without a stored expiry (written before expiries were kept) is treated as expiring this long after
/// it was created: checkout's client-secret lifetime.
pub const DEFAULT_CHECKOUT_TTL_SECONDS: i64 = 3600;

pub struct State {
    /// The webhook function's state: the same store, brands, mailer, documents queue and gateway client.
    pub hooks: payment_webhooks::State,
    pub gateway: Arc<dyn PaymentGateway>,
    /// Only entries at least this old are read (younger ones are normally settled by their webhook).
    pub older_than: Duration,
    pub batch: usize,
}

impl State {
    pub fn new(mut hooks: payment_webhooks::State, gateway: Arc<dyn PaymentGateway>) -> State {
        hooks.gateway = Some(gateway.clone());
        State { hooks, gateway, older_than: Duration::minutes(15), batch: 200 }
    }

    /// `TABLE_NAME`, `EMAIL_SENDER`, `STRIPE_SECRET_KEY`, optional `BRANDS_JSON`, `DOCUMENTS_QUEUE_URL`,
    /// `PORTAL_URL`, `RECONCILE_AFTER_SECONDS` (60-86400, default 900), `RECONCILE_BATCH` (1-1000, default 200),
    /// `GATEWAY_TIMEOUT_MS`.
    pub async fn from_env() -> Result<State, ConfigError> {
        let table = config::required("TABLE_NAME")?;
        let sender = config::required("EMAIL_SENDER")?;
        let key = config::required("STRIPE_SECRET_KEY")?;
        let brands = portal_mail::Brands::parse(config::optional("BRANDS_JSON").as_deref(), sender.trim())
            .map_err(|e| ConfigError { variable: portal_mail::BrandsError::VARIABLE, problem: e.problem })?;
        let after = config::number("RECONCILE_AFTER_SECONDS", 900, 60, 86_400)?;
        let batch = config::number("RECONCILE_BATCH", 200, 1, 1000)?;
        let sdk = portal_store::aws::sdk_config().await;
        let store = Store::new(portal_store::aws::dynamodb_client(&sdk, None), table);
        // The reconciler verifies no signatures: it reads the gateway itself.
        let mut hooks = payment_webhooks::State::new(store, "", brands);
        hooks.documents = portal_store::documents::DocumentQueue::from_env(&sdk);
        hooks.portal_url = config::optional("PORTAL_URL").map(|u| u.trim().trim_end_matches('/').to_string());
        let gateway: Arc<dyn PaymentGateway> = Arc::new(portal_gateway::stripe::StripeGateway::from_env(&key, 8000)?);
        let mut state = State::new(hooks, gateway);
        state.older_than = Duration::seconds(after as i64);
        state.batch = batch as usize;
        Ok(state)
    }

    fn store(&self) -> &Store {
        &self.hooks.store
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Index entries read this run.
    pub seen: usize,
    /// Payments found succeeded or processing at the gateway and recorded (or found recorded already).
    pub recorded: usize,
    /// Checkouts cancelled (expired, or found cancelled at the gateway).
    pub cancelled: usize,
    /// Still open and not yet expired: looked at again next run.
    pub still_open: usize,
    /// Excess refunds started.
    pub refunds_started: usize,
    /// Entries that failed this run (logged; retried next run).
    pub errors: usize,
}

pub async fn run(state: &State, now: DateTime<Utc>) -> Result<Report, StoreError> {
    let entries = state.store().open_payments(now - state.older_than, state.batch).await?;
    let mut report = Report { seen: entries.len(), ..Report::default() };
    for (reference, sk) in entries {
        let result = if let Some(checkout_id) = sk.strip_prefix(PREFIX_CHECKOUT) {
            checkout(state, &reference, checkout_id, now, &mut report).await
        } else if sk.starts_with(PREFIX_EXCESS) {
            excess(state, &reference, &sk, &mut report).await
        } else {
            Ok(())
        };
        if let Err(e) = result {
            report.errors += 1;
            tracing::error!(reference, entry = %sk, error = %e, alarm = "reconcile_failed", "open payment not reconciled; retried next run");
        }
    }
    tracing::info!(
        seen = report.seen,
        recorded = report.recorded,
        cancelled = report.cancelled,
        still_open = report.still_open,
        refunds_started = report.refunds_started,
        errors = report.errors,
        "reconciliation run"
    );
    Ok(report)
}

/// The event the gateway would have sent for `payment` as it is now: what the webhook path records.
pub fn synthesized_event(event_type: &str, payment: &Value, now: DateTime<Utc>) -> Result<event::Envelope, String> {
    let id = payment["id"].as_str().unwrap_or_default();
    let status = payment["status"].as_str().unwrap_or_default();
    let body = json!({
        "id": format!("recon_{id}_{status}"), "object": "event", "api_version": portal_gateway::stripe::STRIPE_VERSION,
        "created": now.timestamp(), "livemode": false, "pending_webhooks": 0,
        "request": {"id": null, "idempotency_key": null}, "type": event_type, "data": {"object": payment},
    });
    event::parse(body.to_string().as_bytes()).map_err(|e| e.to_string())
}

async fn checkout(
    state: &State,
    reference: &str,
    checkout_id: &str,
    now: DateTime<Utc>,
    report: &mut Report,
) -> Result<(), String> {
    let c = state.store().load_booking(reference).await.map_err(|e| e.to_string())?.ok_or("no such booking")?;
    let Some(intent) = portal_store::payments::intents(&c).into_iter().find(|i| i.checkout_id == checkout_id) else {
        return Ok(());
    };
    if !intent.is_open() {
        return Ok(());
    }
    let payment = state.gateway.read_payment(&intent.gateway_payment_id).await.map_err(|e| e.to_string())?;
    let status = payment["status"].as_str().unwrap_or_default().to_string();
    match status.as_str() {
        "succeeded" | "processing" => {
            if status == "processing" && intent.status == "processing" {
                report.still_open += 1;
                return Ok(());
            }
            let event_type = format!("payment_intent.{status}");
            let env = synthesized_event(&event_type, &payment, now)?;
            let label = payment_webhooks::record_event(&state.hooks, env, now).await.map_err(|e| e.to_string())?;
            tracing::warn!(reference, checkout_id, status = %status, outcome = label, "payment found at the gateway without its webhook; recorded");
            report.recorded += 1;
        }
        "canceled" => {
            mark_cancelled(state, &intent, now).await?;
            report.cancelled += 1;
        }
        _ => {
            let expires = intent
                .expires_at
                .unwrap_or_else(|| intent.created_at + Duration::seconds(DEFAULT_CHECKOUT_TTL_SECONDS));
            if expires > now || !intent.is_cancellable() {
                report.still_open += 1;
                return Ok(());
            }
            match state.gateway.cancel_payment(&intent.gateway_payment_id).await.map_err(|e| e.to_string())? {
                Cancelled::Cancelled => {
                    mark_cancelled(state, &intent, now).await?;
                    tracing::info!(reference, checkout_id, "expired checkout cancelled at the gateway");
                    report.cancelled += 1;
                }
                // It moved between the read and the cancel: next run records what it became.
                Cancelled::TooLate(_) => report.still_open += 1,
            }
        }
    }
    Ok(())
}

async fn mark_cancelled(state: &State, intent: &CheckoutIntentItem, now: DateTime<Utc>) -> Result<(), String> {
    match state.store().update_intent(&intent.with_status("cancelled", now), &intent.status).await {
        // Changed meanwhile (its webhook came): whatever it became is the truth.
        Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

async fn excess(state: &State, reference: &str, sk: &str, report: &mut Report) -> Result<(), String> {
    let c = state.store().load_booking(reference).await.map_err(|e| e.to_string())?.ok_or("no such booking")?;
    let Some(item) = portal_store::payments::excess_refunds(&c).into_iter().find(|x| x.sk == sk) else {
        return Ok(());
    };
    if item.status != "due" {
        return Ok(());
    }
    if payment_webhooks::refund_excess(&state.hooks, &c.booking, &item).await {
        report.refunds_started += 1;
        Ok(())
    } else {
        Err("the excess refund did not start".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_read_back_becomes_the_event_the_webhook_would_have_sent() {
        let pi = portal_gateway::fixtures::object(
            "payment_intent",
            json!({"id": "pi_1", "status": "succeeded", "amount": 1000, "amount_received": 1000, "currency": "gbp",
                "metadata": {"booking_reference": "AE-10001", "checkout_id": "chk_1", "movement_id": "mov_1"}}),
        );
        let env = synthesized_event("payment_intent.succeeded", &pi, Utc::now()).unwrap();
        assert_eq!((env.id.as_str(), env.event_type.as_str()), ("recon_pi_1_succeeded", "payment_intent.succeeded"));
        let event::GatewayEvent::PaymentSucceeded(p) = env.event else { panic!("{:?}", env.event) };
        assert_eq!((p.payment_id.as_str(), p.amount_minor), ("pi_1", 1000));
        assert_eq!(p.metadata.unwrap().checkout_id, "chk_1");
    }
}

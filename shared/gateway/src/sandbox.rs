//! The local gateway: creates payments like Stripe (idempotent on the key), serves a checkout page where a
//! person pays, declines or leaves an open-banking payment pending, and produces webhooks in Stripe's event
//! format signed with Stripe's scheme. The caller delivers them (the local portal posts them to the in-process
//! webhook handler; tests post them directly, twice, concurrently or out of order).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use portal_domain::money::Money;
use serde_json::{Value, json};

use crate::{
    BoxFuture, CreatePayment, CreateSetup, CreatedPayment, CreatedSetup, GatewayError, Method, PaymentGateway,
    gateway_minor, signature,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pay,
    Decline,
    /// Open banking only: the bank has accepted the payment but not settled it (`payment_intent.processing`).
    Pending,
    /// The operator refunds `minor` from the gateway's dashboard; the refund is `status` (`succeeded` for most
    /// cards, `pending` for Pay by Bank and some cards).
    Refund {
        minor: i64,
        status: &'static str,
    },
    /// A pending refund settles (`succeeded`) or fails (`failed`), like the bank reporting back.
    SettleRefund {
        index: usize,
        status: &'static str,
    },
    /// A dispute reaches `stage`.
    Dispute(crate::event::DisputeStage),
    /// The dispute closes `won` or `lost`.
    CloseDispute {
        won: bool,
    },
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "pay" => Some(Action::Pay),
            "decline" => Some(Action::Decline),
            "pending" => Some(Action::Pending),
            "refund" => Some(Action::Refund { minor: 0, status: "succeeded" }),
            "dispute" => Some(Action::Dispute(crate::event::DisputeStage::Opened)),
            _ => None,
        }
    }
}

/// One signed webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: String,
    pub body: Vec<u8>,
    pub signature: String,
}

#[derive(Debug, Clone)]
struct Payment {
    id: String,
    amount: Money,
    method: Method,
    request: CreatePayment,
    customer_id: Option<String>,
    status: &'static str,
    charge_id: Option<String>,
    /// `(refund id, minor, status, metadata)`, in order (metadata: what the creator gave, as Stripe keeps it
    /// on the refund in every later event: ours for an excess refund, none for the operator's own).
    refunded: Vec<(String, i64, &'static str, Value)>,
    dispute_id: Option<String>,
}

#[derive(Debug, Clone)]
struct Setup {
    id: String,
    request: CreateSetup,
    customer_id: String,
    status: &'static str,
}

#[derive(Default)]
struct Inner {
    payments: HashMap<String, Payment>,
    by_key: HashMap<String, String>,
    fail_next: Vec<GatewayError>,
    /// Every idempotency key `create_payment` received, in order (failed calls included).
    keys: Vec<String>,
    /// Off-session charges: decline the next ones (`decline_off_session`) or all of them.
    decline_off_session: usize,
    decline_all_off_session: bool,
    /// Webhooks the gateway has to send on its own (off-session outcomes), signed when taken.
    pending: Vec<(&'static str, Value)>,
    setups: HashMap<String, Setup>,
    setup_by_key: HashMap<String, String>,
    /// Every payment id `cancel_payment` was asked to cancel, in order.
    cancels: Vec<String>,
    /// `create_refund` idempotency key → (payment id, index in its `refunded`).
    refund_by_key: HashMap<String, (String, usize)>,
    /// Payment ids in creation order.
    order: Vec<String>,
}

/// A payment as the sandbox holds it, for tests that compare the ledger with the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSnapshot {
    pub id: String,
    pub booking_reference: String,
    /// In the gateway's minor units.
    pub amount_minor: i64,
    pub status: String,
    pub off_session: bool,
    /// `(refund id, minor, status)` in order.
    pub refunds: Vec<(String, i64, String)>,
}

pub struct SandboxGateway {
    base_url: String,
    secret: String,
    latency: Duration,
    calls: AtomicUsize,
    inner: Mutex<Inner>,
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_sbx_{}", &uuid::Uuid::new_v4().simple().to_string()[..20])
}

impl SandboxGateway {
    /// `base_url` is where the local portal serves `/sandbox/checkout/{payment id}`; `webhook_secret` signs
    /// the events (the webhook function verifies with the same secret).
    pub fn new(base_url: &str, webhook_secret: &str) -> SandboxGateway {
        SandboxGateway {
            base_url: base_url.trim_end_matches('/').to_string(),
            secret: webhook_secret.to_string(),
            latency: Duration::from_millis(20),
            calls: AtomicUsize::new(0),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Answer after `latency` (default 20 ms, a fast real gateway; zero for long simulations).
    pub fn with_latency(mut self, latency: Duration) -> SandboxGateway {
        self.latency = latency;
        self
    }

    /// Number of `create_payment` calls received (idempotent replays included).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Fault injection: the next `create_payment` calls fail with these errors, in order.
    pub fn fail_next(&self, errors: Vec<GatewayError>) {
        self.lock().fail_next = errors;
    }

    /// Every idempotency key `create_payment` received, in order (failed calls and replays included).
    pub fn keys(&self) -> Vec<String> {
        self.lock().keys.clone()
    }

    /// Every payment id the portal asked to cancel, in order.
    pub fn cancels(&self) -> Vec<String> {
        self.lock().cancels.clone()
    }

    /// A payment's status as the gateway holds it (`requires_payment_method`, `succeeded`, `canceled`...).
    pub fn status(&self, payment_id: &str) -> Option<String> {
        self.lock().payments.get(payment_id).map(|p| p.status.to_string())
    }

    /// Decline the next `n` off-session charges (the customer's card is refused), like a `card_declined`.
    pub fn decline_off_session(&self, n: usize) {
        self.lock().decline_off_session = n;
    }

    /// Decline every off-session charge from now on (`false`: accept them again).
    pub fn decline_all_off_session(&self, on: bool) {
        self.lock().decline_all_off_session = on;
    }

    /// Off-session payments created (one per distinct idempotency key), as `(payment id, key, status)`.
    pub fn off_session_payments(&self) -> Vec<(String, String, String)> {
        let inner = self.lock();
        let mut v: Vec<_> = inner
            .by_key
            .iter()
            .filter_map(|(k, id)| inner.payments.get(id).map(|p| (p, k)))
            .filter(|(p, _)| p.request.off_session.is_some())
            .map(|(p, k)| (p.id.clone(), k.clone(), p.status.to_string()))
            .collect();
        v.sort();
        v
    }

    /// The webhooks the gateway sends by itself (off-session charge outcomes, saved cards), signed at `now`.
    pub fn take_deliveries(&self, now: i64) -> Vec<Delivery> {
        let pending = std::mem::take(&mut self.lock().pending);
        pending.into_iter().map(|(t, object)| self.delivery(t, object, now)).collect()
    }

    /// The card set-up page (no card form: a choice to save the sandbox card or fail).
    pub fn setup_page_html(&self, setup_id: &str) -> Option<String> {
        let st = self.lock().setups.get(setup_id)?.clone();
        let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
        Some(format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sandbox card set-up</title></head>\
<body style=\"font-family:Arial,Helvetica,sans-serif;max-width:520px;margin:40px auto\">\
<h1>Save a card</h1><p>Booking <strong>{reference}</strong>: save a card so approved instalments are charged on their \
due date.</p><p>status: <code>{status}</code></p>\
<form method=\"post\" action=\"/sandbox/setup/{id}/pay\"><button type=\"submit\" style=\"padding:10px 16px\">\
Save the sandbox Visa •••• 4242</button></form>\
<p style=\"color:#666;font-size:13px\">Local sandbox: no card data is entered or sent.</p></body></html>\n",
            reference = esc(&st.request.booking_reference),
            status = st.status,
            id = esc(&st.id),
        ))
    }

    /// Complete a card set-up as the customer would: the `setup_intent.succeeded` webhook (or `setup_failed`).
    pub fn act_setup(&self, setup_id: &str, action: Action, now: i64) -> Result<Vec<Delivery>, String> {
        let mut inner = self.lock();
        let st = inner.setups.get_mut(setup_id).ok_or("no such set-up")?;
        if st.status != "requires_payment_method" {
            return Err(format!("cannot complete a set-up that is {}", st.status));
        }
        let (event_type, status) = match action {
            Action::Pay => ("setup_intent.succeeded", "succeeded"),
            Action::Decline => ("setup_intent.setup_failed", "requires_payment_method"),
            _ => return Err("a set-up can only be completed or failed".into()),
        };
        if status == "succeeded" {
            st.status = "succeeded";
        }
        let object = setup_json(st, status == "succeeded");
        drop(inner);
        Ok(vec![self.delivery(event_type, object, now)])
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every payment, in creation order.
    pub fn snapshot(&self) -> Vec<PaymentSnapshot> {
        let inner = self.lock();
        inner
            .order
            .iter()
            .filter_map(|id| inner.payments.get(id))
            .map(|p| PaymentSnapshot {
                id: p.id.clone(),
                booking_reference: p.request.metadata.booking_reference.clone(),
                amount_minor: gateway_minor(p.amount).unwrap_or_default(),
                status: p.status.to_string(),
                off_session: p.request.off_session.is_some(),
                refunds: p.refunded.iter().map(|(id, m, s, _)| (id.clone(), *m, s.to_string())).collect(),
            })
            .collect()
    }

    /// Whether the gateway has webhooks of its own waiting to be taken.
    pub fn has_pending_deliveries(&self) -> bool {
        !self.lock().pending.is_empty()
    }

    /// The gateway customer a payment was created for (the one its card is saved under).
    pub fn customer_of(&self, payment_id: &str) -> Option<String> {
        self.lock().payments.get(payment_id).and_then(|p| p.customer_id.clone())
    }

    pub fn payment_ids(&self) -> Vec<String> {
        self.lock().payments.keys().cloned().collect()
    }

    /// The checkout page for a payment (no card form: the sandbox takes no card data, only a choice).
    pub fn page_html(&self, payment_id: &str) -> Option<String> {
        let p = self.lock().payments.get(payment_id)?.clone();
        let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
        let method = match p.method {
            Method::Card => "Card",
            Method::OpenBanking => "Pay by Bank",
        };
        let button = |action: &str, label: &str| {
            format!(
                "<form method=\"post\" action=\"/sandbox/checkout/{id}/{action}\" style=\"display:inline\">\
<button type=\"submit\" style=\"margin:4px;padding:10px 16px\">{label}</button></form>",
                id = esc(&p.id)
            )
        };
        let mut buttons = button("pay", "Pay");
        buttons.push_str(&button("decline", "Decline"));
        if p.method == Method::OpenBanking {
            buttons.push_str(&button("pending", "Leave pending at the bank"));
        }
        Some(format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sandbox checkout</title></head>\
<body style=\"font-family:Arial,Helvetica,sans-serif;max-width:520px;margin:40px auto\">\
<h1>Sandbox checkout</h1><p>Booking <strong>{reference}</strong></p>\
<p style=\"font-size:24px\">{amount} {currency}</p><p>{method} &middot; status: <code>{status}</code></p>\
<p>{buttons}</p><p style=\"color:#666;font-size:13px\">Local sandbox: no card data is entered or sent. \
The gateway posts a Stripe-signed webhook to <code>/webhooks/payments</code>.</p></body></html>\n",
            reference = esc(&p.request.metadata.booking_reference),
            amount = p.amount.to_decimal_string(),
            currency = p.amount.currency(),
            status = p.status,
        ))
    }

    /// Act on a payment as the customer (or, for refunds and disputes, the operator and the bank) would,
    /// returning the signed webhooks the gateway sends, timestamped `now`.
    pub fn act(&self, payment_id: &str, action: Action, now: i64) -> Result<Vec<Delivery>, String> {
        let mut inner = self.lock();
        let p = inner.payments.get_mut(payment_id).ok_or("no such payment")?;
        let events: Vec<(&str, Value)> = match action {
            Action::Pay => {
                if !matches!(p.status, "requires_payment_method" | "processing") {
                    return Err(format!("cannot pay a payment that is {}", p.status));
                }
                p.status = "succeeded";
                p.charge_id = Some(new_id("ch"));
                vec![("payment_intent.succeeded", intent_json(p, true))]
            }
            Action::Decline => {
                if !matches!(p.status, "requires_payment_method" | "processing") {
                    return Err(format!("cannot decline a payment that is {}", p.status));
                }
                p.status = "requires_payment_method";
                vec![("payment_intent.payment_failed", intent_json(p, false))]
            }
            Action::Pending => {
                if p.method != Method::OpenBanking || p.status != "requires_payment_method" {
                    return Err("only an unpaid open-banking payment can be left pending".into());
                }
                p.status = "processing";
                vec![("payment_intent.processing", intent_json(p, false))]
            }
            Action::Refund { minor, status } => {
                let charge = p.charge_id.clone().filter(|_| p.status == "succeeded").ok_or("not paid")?;
                let paid = gateway_minor(p.amount).map_err(|e| e.to_string())?;
                let minor = if minor == 0 { paid } else { minor };
                let refunded: i64 = p.refunded.iter().filter(|r| r.2 != "failed").map(|r| r.1).sum();
                if minor <= 0 || refunded + minor > paid {
                    return Err("cannot refund more than was paid".into());
                }
                let id = new_id("re");
                p.refunded.push((id.clone(), minor, status, json!({})));
                let refund = refund_json(p, p.refunded.len() - 1, &charge);
                // Stripe sends both: the refund, and the charge with its new `amount_refunded` (no refund list).
                vec![("refund.created", refund), ("charge.refunded", charge_json(p, &charge))]
            }
            Action::SettleRefund { index, status } => {
                let charge = p.charge_id.clone().ok_or("not paid")?;
                let r = p.refunded.get_mut(index).ok_or("no such refund")?;
                if !matches!(r.2, "pending" | "succeeded") || !matches!(status, "succeeded" | "failed") {
                    return Err(format!("a {} refund cannot become {status}", r.2));
                }
                r.2 = status;
                let refund = refund_json(p, index, &charge);
                if status == "failed" { vec![("refund.failed", refund)] } else { vec![("refund.updated", refund)] }
            }
            Action::Dispute(stage) => {
                use crate::event::DisputeStage;
                let charge = p.charge_id.clone().filter(|_| p.status == "succeeded").ok_or("not paid")?;
                let id = p.dispute_id.get_or_insert_with(|| new_id("dp")).clone();
                let (event, status) = match stage {
                    DisputeStage::Opened => ("charge.dispute.created", "needs_response"),
                    DisputeStage::FundsWithdrawn => ("charge.dispute.funds_withdrawn", "needs_response"),
                    DisputeStage::FundsReinstated => ("charge.dispute.funds_reinstated", "won"),
                    DisputeStage::Closed => ("charge.dispute.closed", "lost"),
                };
                vec![(event, dispute_json(p, &id, &charge, status))]
            }
            Action::CloseDispute { won } => {
                let charge = p.charge_id.clone().ok_or("not paid")?;
                let id = p.dispute_id.clone().ok_or("no dispute")?;
                vec![("charge.dispute.closed", dispute_json(p, &id, &charge, if won { "won" } else { "lost" }))]
            }
        };
        Ok(events.into_iter().map(|(t, object)| self.delivery(t, object, now)).collect())
    }

    fn delivery(&self, event_type: &str, object: Value, now: i64) -> Delivery {
        let id = new_id("evt");
        let event = crate::fixtures::object(
            "event",
            json!({
                "id": id, "api_version": crate::stripe::STRIPE_VERSION, "created": now, "livemode": false,
                "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null}, "type": event_type,
                "data": {"object": object},
            }),
        );
        let body = serde_json::to_vec(&event).unwrap_or_default();
        let signature = signature::header(&self.secret, now, &body);
        Delivery { event_id: id, body, signature }
    }
}

fn intent_json(p: &Payment, paid: bool) -> Value {
    let amount = gateway_minor(p.amount).unwrap_or_default();
    let kind = match p.method {
        Method::Card => "card",
        Method::OpenBanking => "pay_by_bank",
    };
    let mut pi = crate::fixtures::object(
        "payment_intent",
        json!({
            "id": p.id, "amount": amount, "amount_received": if paid { amount } else { 0 },
            "currency": currency_code(p), "status": p.status, "canceled_at": null, "automatic_payment_methods": null,
            "customer": p.customer_id, "payment_method_types": [kind], "metadata": our_metadata(p),
            "setup_future_usage": if p.request.save_card && p.method == Method::Card { json!("off_session") } else { Value::Null },
            "payment_method": null, "latest_charge": null, "last_payment_error": null, "next_action": null,
            "client_secret": null, "processing": null,
        }),
    );
    if paid {
        // Card: 1.5 % + 20 minor units; Pay by Bank: a flat 20.
        let fee = match p.method {
            Method::Card => amount * 15 / 1000 + 20,
            Method::OpenBanking => 20,
        };
        let mut details = json!({"type": kind});
        if p.method == Method::Card {
            details["card"] = json!({"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030,
                "funding": "credit", "country": "GB"});
        }
        pi["payment_method"] =
            json!(p.request.off_session.as_ref().map(|s| s.payment_method_id.clone()).unwrap_or_else(|| new_id("pm")));
        // Expanded, as if the webhook endpoint's events were read with `expand[]=latest_charge.balance_transaction`.
        let mut charge = charge_json(p, p.charge_id.as_deref().unwrap_or_default());
        charge["payment_method_details"] = details;
        charge["balance_transaction"] = crate::fixtures::object(
            "balance_transaction",
            json!({"id": new_id("txn"), "amount": amount, "fee": fee, "net": amount - fee,
                "currency": currency_code(p)}),
        );
        pi["latest_charge"] = charge;
    } else if p.status == "requires_payment_method" {
        pi["last_payment_error"] = json!({"type": "card_error", "code": "card_declined",
            "decline_code": "generic_decline", "message": "Your card was declined."});
    }
    pi
}

fn setup_json(st: &Setup, succeeded: bool) -> Value {
    crate::fixtures::object(
        "setup_intent",
        json!({
            "id": st.id, "status": if succeeded { "succeeded" } else { "requires_payment_method" },
            "usage": "off_session", "customer": st.customer_id, "payment_method_types": ["card"],
            "metadata": {"booking_reference": st.request.booking_reference, "setup_id": st.request.setup_id,
                "traveller_id": st.request.traveller_id},
            "payment_method": if succeeded {
                json!({"id": new_id("pm"), "object": "payment_method", "type": "card",
                    "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}})
            } else { Value::Null },
            "last_setup_error": if succeeded { Value::Null } else {
                json!({"type": "card_error", "code": "card_declined", "message": "Your card was declined."})
            },
        }),
    )
}

fn currency_code(p: &Payment) -> String {
    p.amount.currency().code().to_ascii_lowercase()
}

fn our_metadata(p: &Payment) -> Value {
    let m = &p.request.metadata;
    let mut metadata = json!({"booking_reference": m.booking_reference, "checkout_id": m.checkout_id,
        "movement_id": m.movement_id});
    if let Some(t) = &m.traveller_id {
        metadata["traveller_id"] = json!(t);
    }
    metadata
}

/// A Charge as webhooks carry it since API version 2022-11-15: `amount_refunded`, no `refunds` list.
fn charge_json(p: &Payment, charge: &str) -> Value {
    let amount = gateway_minor(p.amount).unwrap_or_default();
    let refunded: i64 = p.refunded.iter().filter(|r| r.2 != "failed").map(|r| r.1).sum();
    let mut c = crate::fixtures::object(
        "charge",
        json!({
            "id": charge, "amount": amount, "amount_captured": amount, "captured": true, "paid": true,
            "status": "succeeded", "amount_refunded": refunded, "refunded": refunded >= amount,
            "currency": currency_code(p), "payment_intent": p.id, "customer": p.customer_id,
            "metadata": our_metadata(p), "disputed": p.dispute_id.is_some(),
        }),
    );
    if let Value::Object(o) = &mut c {
        o.remove("refunds");
    }
    c
}

/// The refund at `index` of a payment, in its current state.
fn refund_json(p: &Payment, index: usize, charge: &str) -> Value {
    let (id, minor, status, metadata) = &p.refunded[index];
    crate::fixtures::object(
        "refund",
        json!({
            "id": id, "amount": minor, "charge": charge, "payment_intent": p.id, "currency": currency_code(p),
            "status": status, "metadata": metadata,
            "failure_reason": if *status == "failed" { json!("expired_or_canceled_card") } else { Value::Null },
            "balance_transaction": null,
        }),
    )
}

fn dispute_json(p: &Payment, id: &str, charge: &str, status: &str) -> Value {
    crate::fixtures::object(
        "dispute",
        json!({
            "id": id, "amount": gateway_minor(p.amount).unwrap_or_default(), "charge": charge,
            "payment_intent": p.id, "currency": currency_code(p), "reason": "fraudulent", "status": status,
            "balance_transactions": [], "metadata": {},
        }),
    )
}

impl PaymentGateway for SandboxGateway {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn create_payment<'a>(&'a self, req: &'a CreatePayment) -> BoxFuture<'a, Result<CreatedPayment, GatewayError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.latency).await;
            let mut inner = self.lock();
            inner.keys.push(req.idempotency_key.clone());
            if !inner.fail_next.is_empty() {
                return Err(inner.fail_next.remove(0));
            }
            gateway_minor(req.amount)?;
            if req.method == Method::OpenBanking && !matches!(req.amount.currency().code(), "GBP" | "EUR") {
                return Err(GatewayError::Rejected {
                    status: 400,
                    code: "payment_method_unavailable".into(),
                    message: "pay_by_bank supports GBP and EUR".into(),
                });
            }
            let id = match inner.by_key.get(&req.idempotency_key) {
                Some(id) => id.clone(),
                None => {
                    let id = new_id("pi");
                    let customer_id = req
                        .customer_id
                        .clone()
                        .or_else(|| req.off_session.as_ref().map(|s| s.customer_id.clone()))
                        .or_else(|| req.save_card.then(|| new_id("cus")));
                    let mut p = Payment {
                        id: id.clone(),
                        amount: req.amount,
                        method: req.method,
                        request: req.clone(),
                        customer_id,
                        status: "requires_payment_method",
                        charge_id: None,
                        refunded: Vec::new(),
                        dispute_id: None,
                    };
                    // Off-session: confirmed at creation, like Stripe's `confirm=true`; the outcome also goes out
                    // as a webhook.
                    if req.off_session.is_some() {
                        let decline = inner.decline_all_off_session || inner.decline_off_session > 0;
                        if decline {
                            inner.decline_off_session = inner.decline_off_session.saturating_sub(1);
                            inner.pending.push(("payment_intent.payment_failed", intent_json(&p, false)));
                        } else {
                            p.status = "succeeded";
                            p.charge_id = Some(new_id("ch"));
                            inner.pending.push(("payment_intent.succeeded", intent_json(&p, true)));
                        }
                    }
                    inner.payments.insert(id.clone(), p);
                    inner.order.push(id.clone());
                    inner.by_key.insert(req.idempotency_key.clone(), id.clone());
                    id
                }
            };
            let p = &inner.payments[&id];
            if p.request.off_session.is_some() && p.status == "requires_payment_method" {
                // Stripe answers a declined off-session confirmation with 402 (and the same again for the same key).
                return Err(GatewayError::Rejected {
                    status: 402,
                    code: "card_declined".into(),
                    message: "Your card was declined.".into(),
                });
            }
            Ok(CreatedPayment {
                payment_id: id.clone(),
                client_secret: format!("{id}_secret_sandbox"),
                checkout_url: Some(format!("{}/sandbox/checkout/{id}", self.base_url)),
                customer_id: p.customer_id.clone(),
                status: p.status.to_string(),
            })
        })
    }

    fn cancel_payment<'a>(&'a self, payment_id: &'a str) -> BoxFuture<'a, Result<crate::Cancelled, GatewayError>> {
        Box::pin(async move {
            tokio::time::sleep(self.latency).await;
            let mut inner = self.lock();
            inner.cancels.push(payment_id.to_string());
            let Some(p) = inner.payments.get_mut(payment_id) else {
                return Err(GatewayError::Rejected {
                    status: 404,
                    code: "resource_missing".into(),
                    message: format!("No such payment_intent: '{payment_id}'"),
                });
            };
            match p.status {
                "requires_payment_method" | "canceled" => {
                    p.status = "canceled";
                    Ok(crate::Cancelled::Cancelled)
                }
                other => Ok(crate::Cancelled::TooLate(other.to_string())),
            }
        })
    }

    fn create_refund<'a>(
        &'a self,
        req: &'a crate::CreateRefund,
    ) -> BoxFuture<'a, Result<crate::event::RefundInfo, GatewayError>> {
        Box::pin(async move {
            tokio::time::sleep(self.latency).await;
            let mut inner = self.lock();
            if !inner.fail_next.is_empty() {
                return Err(inner.fail_next.remove(0));
            }
            let (payment_id, index) = match inner.refund_by_key.get(&req.idempotency_key) {
                Some(known) => known.clone(),
                None => {
                    let minor = gateway_minor(req.amount)?;
                    let p = inner.payments.get_mut(&req.payment_id).ok_or_else(|| GatewayError::Rejected {
                        status: 404,
                        code: "resource_missing".into(),
                        message: format!("No such payment_intent: '{}'", req.payment_id),
                    })?;
                    let paid = gateway_minor(p.amount)?;
                    let refunded: i64 = p.refunded.iter().filter(|r| r.2 != "failed").map(|r| r.1).sum();
                    if p.status != "succeeded" || minor <= 0 || refunded + minor > paid {
                        return Err(GatewayError::Rejected {
                            status: 400,
                            code: "charge_already_refunded".into(),
                            message: "the refund is more than what is left of the payment".into(),
                        });
                    }
                    // Card refunds start `pending`, as Stripe's usually do; `SettleRefund` completes them.
                    let meta = json!({"booking_reference": req.booking_reference});
                    p.refunded.push((new_id("re"), minor, "pending", meta));
                    let index = p.refunded.len() - 1;
                    let charge = p.charge_id.clone().unwrap_or_default();
                    let refund = refund_json(p, index, &charge);
                    let charge_event = charge_json(p, &charge);
                    inner.pending.push(("refund.created", refund));
                    inner.pending.push(("charge.refunded", charge_event));
                    inner.refund_by_key.insert(req.idempotency_key.clone(), (req.payment_id.clone(), index));
                    (req.payment_id.clone(), index)
                }
            };
            let p = inner.payments.get(&payment_id).ok_or_else(|| GatewayError::Protocol("refund lost".into()))?;
            let charge = p.charge_id.clone().unwrap_or_default();
            crate::event::refund_of(&refund_json(p, index, &charge))
                .ok_or_else(|| GatewayError::Protocol("refund not built".into()))
        })
    }

    fn read_payment<'a>(&'a self, payment_id: &'a str) -> BoxFuture<'a, Result<Value, GatewayError>> {
        Box::pin(async move {
            let inner = self.lock();
            let p = inner.payments.get(payment_id).ok_or_else(|| GatewayError::Rejected {
                status: 404,
                code: "resource_missing".into(),
                message: format!("No such payment_intent: '{payment_id}'"),
            })?;
            Ok(intent_json(p, p.status == "succeeded"))
        })
    }

    fn refunds_of<'a>(
        &'a self,
        payment_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<crate::event::RefundInfo>, GatewayError>> {
        Box::pin(async move {
            let inner = self.lock();
            let Some(p) = inner.payments.get(payment_id) else { return Ok(Vec::new()) };
            let charge = p.charge_id.clone().unwrap_or_default();
            Ok((0..p.refunded.len()).filter_map(|i| crate::event::refund_of(&refund_json(p, i, &charge))).collect())
        })
    }

    fn create_setup<'a>(&'a self, req: &'a CreateSetup) -> BoxFuture<'a, Result<CreatedSetup, GatewayError>> {
        Box::pin(async move {
            tokio::time::sleep(self.latency).await;
            let mut inner = self.lock();
            if !inner.fail_next.is_empty() {
                return Err(inner.fail_next.remove(0));
            }
            let id = match inner.setup_by_key.get(&req.idempotency_key) {
                Some(id) => id.clone(),
                None => {
                    let id = new_id("seti");
                    let customer_id = req.customer_id.clone().unwrap_or_else(|| new_id("cus"));
                    let st =
                        Setup { id: id.clone(), request: req.clone(), customer_id, status: "requires_payment_method" };
                    inner.setups.insert(id.clone(), st);
                    inner.setup_by_key.insert(req.idempotency_key.clone(), id.clone());
                    id
                }
            };
            let st = &inner.setups[&id];
            Ok(CreatedSetup {
                setup_intent_id: id.clone(),
                client_secret: format!("{id}_secret_sandbox"),
                setup_url: Some(format!("{}/sandbox/setup/{id}", self.base_url)),
                customer_id: st.customer_id.clone(),
            })
        })
    }
}

//! The payment reconciler against moto and the sandbox gateway: a payment whose webhook never came is recorded
//! through the webhook's path (once, whatever arrives later), an expired checkout is cancelled at the gateway,
//! and an excess refund that could not start is started.

use std::sync::Arc;

use chrono::{Duration, Utc};
use portal_domain::ledger::LedgerSummary;
use portal_gateway::sandbox::{Action, Delivery, SandboxGateway};
use portal_gateway::{GatewayError, PaymentGateway};
use portal_store::BookingCollection;
use portal_tests::customer::{seed_booking, sessions, sign_in, today};
use portal_tests::{ApiRequest, TestEnv, body_json, seed};
use serde_json::{Value, json};

const SECRET: &str = "whsec_reconciler_test";
const REF: &str = "AE-10001";

struct Fx {
    env: TestEnv,
    brand: String,
    sandbox: Arc<SandboxGateway>,
    checkout: ::checkout::State,
    hooks: payment_webhooks::State,
    reconciler: payment_reconciler::State,
    mail: notifications::State,
}

async fn fx() -> Fx {
    let env = TestEnv::new().await;
    let sandbox = Arc::new(SandboxGateway::new("http://127.0.0.1:3000", SECRET));
    let checkout = ::checkout::State::new(env.store(), sessions(), sandbox.clone());
    let brand = format!("Reconciled Tours {}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let json = json!({"alpine-escapes": {"name": brand, "primary_colour": "#0a7c59"}}).to_string();
    let brands = auth::Brands::parse(Some(&json), &env.sender).unwrap();
    let brands_for_mail = brands.clone();
    let hooks = payment_webhooks::State::new(env.store(), SECRET, brands.clone()).with_gateway(sandbox.clone());
    let reconciler =
        payment_reconciler::State::new(payment_webhooks::State::new(env.store(), "", brands), sandbox.clone());
    let mail = portal_tests::notices::with_brands(&env, "https://portal.example", brands_for_mail).await;
    Fx { env, brand, sandbox, checkout, hooks, reconciler, mail }
}

impl Fx {
    async fn checkout(&self, body: Value) -> String {
        seed_booking(&self.env, REF, &seed::gbp_booking(today())).await;
        let token = sign_in(&self.env, REF, "T1", "ada@example.com", true).await;
        let req = ApiRequest::new("POST", &format!("/bookings/{REF}/payments"))
            .route("/bookings/{reference}/payments")
            .path_param("reference", REF)
            .bearer(&token)
            .header("idempotency-key", &uuid::Uuid::new_v4().to_string())
            .json(&body)
            .build();
        let r = ::checkout::handle(&self.checkout, req).await.unwrap_or_else(|e| match e {});
        assert_eq!(r.status(), 201, "{}", body_json(&r));
        body_json(&r)["payment_id"].as_str().unwrap().to_string()
    }

    async fn hook(&self, d: &Delivery) -> String {
        let req = ApiRequest::new("POST", "/webhooks/payments")
            .route("/webhooks/payments")
            .header("content-type", "application/json")
            .header("stripe-signature", &d.signature)
            .raw_body(d.body.clone())
            .build();
        let r = payment_webhooks::handle(&self.hooks, req).await.unwrap_or_else(|e| match e {});
        body_json(&r)["outcome"].as_str().unwrap_or_default().to_string()
    }

    async fn booking(&self) -> BookingCollection {
        self.env.store().load_booking(REF).await.unwrap().unwrap()
    }

    async fn summary(&self) -> LedgerSummary {
        let c = self.booking().await;
        LedgerSummary::compute(&c.booking, &c.movements, &c.instalments, today()).unwrap()
    }

    async fn mails(&self, to: &str) -> Vec<Value> {
        portal_tests::notices::flush_now(&self.mail).await;
        self.env
            .emails_to(to)
            .into_iter()
            .filter(|m| m["subject"].as_str().is_some_and(|s| s.contains(&self.brand)))
            // The seed push of a confirmed booking sends the booking-confirmed email (notifications.rs tests it).
            .filter(|m| !m["subject"].as_str().is_some_and(|s| s.ends_with(" confirmed")))
            .collect()
    }

    async fn run(&self, minutes_from_now: i64) -> payment_reconciler::Report {
        payment_reconciler::run(&self.reconciler, Utc::now() + Duration::minutes(minutes_from_now)).await.unwrap()
    }
}

#[tokio::test]
async fn a_lost_webhook_is_recovered_once_and_the_late_webhook_adds_nothing() {
    let f = fx().await;
    let pid = f.checkout(json!({"pay": "instalments", "instalment_ids": ["INS1"], "method": "card"})).await;
    // Paid at the gateway; the webhook is lost.
    let lost = f.sandbox.act(&pid, Action::Pay, Utc::now().timestamp()).unwrap().remove(0);
    assert_eq!(f.run(1).await.seen, 0, "young payments are left to their webhook");
    let r = f.run(20).await;
    assert_eq!((r.seen, r.recorded, r.errors), (1, 1, 0), "{r:?}");
    assert_eq!(f.summary().await.outstanding.to_decimal_string(), "1580.50");
    assert_eq!(f.mails("ada@example.com").await.len(), 1, "the receipt");
    // Nothing open any more; the real webhook, arriving at last, finds it recorded.
    assert_eq!(f.run(30).await.seen, 0);
    assert_eq!(f.hook(&lost).await, "already_recorded");
    let c = f.booking().await;
    let payments = c.movements.iter().filter(|m| m.kind == portal_domain::ledger::MovementKind::Payment).count();
    assert_eq!(payments, 2, "the deposit and this payment, once");
    assert_eq!(portal_store::payments::intents(&c)[0].status, "succeeded");
    assert_eq!(f.mails("ada@example.com").await.len(), 1, "no second receipt");
}

#[tokio::test]
async fn an_expired_checkout_is_cancelled_at_the_gateway_and_can_never_take_money() {
    let f = fx().await;
    let pid = f.checkout(json!({"pay": "balance", "method": "card"})).await;
    let r = f.run(30).await;
    assert_eq!((r.seen, r.still_open), (1, 1), "not expired yet: {r:?}");
    let r = f.run(61).await;
    assert_eq!((r.cancelled, r.errors), (1, 0), "{r:?}");
    assert_eq!(f.sandbox.status(&pid).as_deref(), Some("canceled"));
    assert!(f.sandbox.act(&pid, Action::Pay, Utc::now().timestamp()).is_err());
    assert_eq!(portal_store::payments::intents(&f.booking().await)[0].status, "cancelled");
    assert_eq!(f.run(120).await.seen, 0);
}

#[tokio::test]
async fn an_open_bank_payment_is_recorded_processing_then_paid() {
    let f = fx().await;
    let pid = f.checkout(json!({"pay": "balance", "method": "open_banking"})).await;
    let _lost = f.sandbox.act(&pid, Action::Pending, Utc::now().timestamp()).unwrap();
    let r = f.run(20).await;
    assert_eq!(r.recorded, 1, "{r:?}");
    assert_eq!(portal_store::payments::intents(&f.booking().await)[0].status, "processing");
    assert_eq!(f.run(25).await.still_open, 1, "processing: waits for the bank");
    let _lost = f.sandbox.act(&pid, Action::Pay, Utc::now().timestamp()).unwrap();
    assert_eq!(f.run(30).await.recorded, 1);
    assert_eq!(f.summary().await.outstanding.to_decimal_string(), "0.00");
}

#[tokio::test]
async fn an_excess_refund_that_could_not_start_is_started_by_the_next_run() {
    let f = fx().await;
    let pid = f.checkout(json!({"pay": "balance", "method": "card"})).await;
    let paid = f.sandbox.act(&pid, Action::Pay, Utc::now().timestamp()).unwrap().remove(0);
    let mut cheaper = seed::gbp_booking(today());
    cheaper["price_lines"][2]["amount"] = json!("80.50");
    cheaper["schedule"][2]["amount"] = json!("1480.50");
    seed_booking(&f.env, REF, &cheaper).await;
    // The gateway does not answer the refund: the payment is recorded, the excess stays due.
    f.sandbox.fail_next(vec![GatewayError::Timeout]);
    assert_eq!(f.hook(&paid).await, "recorded");
    let due = portal_store::payments::excess_refunds(&f.booking().await);
    assert_eq!((due[0].status.as_str(), due[0].amount.to_decimal_string().as_str()), ("due", "100.00"));
    let r = f.run(20).await;
    assert_eq!((r.refunds_started, r.errors), (1, 0), "{r:?}");
    let x = &portal_store::payments::excess_refunds(&f.booking().await)[0];
    assert_eq!(x.status, "requested");
    assert!(f.mails("ada@example.com").await.iter().any(|m| m.to_string().contains("refunding")));
    // Its events book it; a second run has nothing left to do.
    for d in f.sandbox.take_deliveries(Utc::now().timestamp()) {
        f.hook(&d).await;
    }
    assert_eq!(f.run(40).await.seen, 0);
    assert_eq!(f.sandbox.refunds_of(&pid).await.unwrap().len(), 1, "started once");
}

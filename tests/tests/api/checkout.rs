//! Checkout and payment webhooks against moto and the sandbox gateway (plus a local Stripe HTTP double):
//! the sandbox journey from checkout to receipt and balance, idempotency under concurrency, exactly-once
//! recording of webhooks delivered twice, concurrently, out of order or after a crash, Stripe's signature
//! scheme, every bad input, and the Stripe client's exact requests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use lambda_http::{Body, Response};
use portal_domain::ledger::{LedgerSummary, MovementKind};
use portal_gateway::event::DisputeStage;
use portal_gateway::sandbox::{Action, Delivery, SandboxGateway};
use portal_gateway::{CreatePayment, GatewayError, Method, PaymentGateway, PaymentMetadata, signature};
use portal_http::session::COOKIE_NAME;
use portal_store::BookingCollection;
use portal_store::payments::ClaimItem;
use portal_tests::customer::{assert_problem, seed_booking, sessions, sign_in, today};
use portal_tests::stripe_double::stripe_double;
use portal_tests::{ApiRequest, TestEnv, body_json, seed};
use serde_json::{Value, json};

const SECRET: &str = "whsec_test_secret";

/// One brand name per fixture: moto's mailbox is shared by every test, receipts are told apart by it.
fn brands(sender: &str, name: &str) -> auth::Brands {
    let json = json!({"alpine-escapes": {"name": name, "primary_colour": "#0a7c59"}}).to_string();
    auth::Brands::parse(Some(&json), sender).unwrap()
}

struct Fx {
    env: TestEnv,
    brand: String,
    sandbox: Arc<SandboxGateway>,
    checkout: ::checkout::State,
    hooks: payment_webhooks::State,
    documents: portal_store::documents::DocumentQueue,
    mail: notifications::State,
}

async fn fx() -> Fx {
    let env = TestEnv::new().await;
    let sandbox = Arc::new(SandboxGateway::new("http://127.0.0.1:3000", SECRET));
    let checkout = ::checkout::State::new(env.store(), sessions(), sandbox.clone());
    let brand = format!("Alpine Escapes {}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let sqs = aws_sdk_sqs::Client::new(&env.sdk);
    let name = format!("documents-{}", uuid::Uuid::new_v4().simple());
    let url = sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap();
    let documents = portal_store::documents::DocumentQueue { client: sqs, url };
    let hooks = payment_webhooks::State::new(env.store(), SECRET, brands(&env.sender, &brand))
        .with_documents(documents.clone())
        .with_gateway(sandbox.clone());
    let mail = portal_tests::notices::with_brands(&env, "https://portal.example", brands(&env.sender, &brand)).await;
    Fx { env, brand, sandbox, checkout, hooks, documents, mail }
}

fn pay_request(reference: &str, token: &str, key: Option<&str>, body: &Value) -> ApiRequest {
    let mut r = ApiRequest::new("POST", &format!("/bookings/{reference}/payments"))
        .route("/bookings/{reference}/payments")
        .path_param("reference", reference)
        .bearer(token)
        .json(body);
    if let Some(k) = key {
        r = r.header("idempotency-key", k);
    }
    r
}

fn webhook_request(body: &[u8], sig: Option<&str>) -> ApiRequest {
    let mut r = ApiRequest::new("POST", "/webhooks/payments")
        .route("/webhooks/payments")
        .header("content-type", "application/json")
        .raw_body(body.to_vec());
    if let Some(s) = sig {
        r = r.header("stripe-signature", s);
    }
    r
}

fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn now() -> i64 {
    Utc::now().timestamp()
}

impl Fx {
    /// Every regeneration request on the documents queue since the last call: (reference, reason).
    async fn queued_documents(&self) -> Vec<(String, String)> {
        let q = &self.documents;
        let out = q.client.receive_message().queue_url(&q.url).max_number_of_messages(10).send().await.unwrap();
        let mut seen = Vec::new();
        for m in out.messages.unwrap_or_default() {
            let msg: portal_store::documents::RegenerateMessage =
                serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
            seen.push((msg.reference, msg.reason));
            let handle = m.receipt_handle.unwrap();
            q.client.delete_message().queue_url(&q.url).receipt_handle(handle).send().await.unwrap();
        }
        seen
    }

    async fn seed(&self, reference: &str, body: &Value) {
        seed_booking(&self.env, reference, body).await;
    }

    async fn sign_in(&self, reference: &str, traveller: &str, email: &str, is_lead: bool) -> String {
        sign_in(&self.env, reference, traveller, email, is_lead).await
    }

    async fn pay(&self, reference: &str, token: &str, key: Option<&str>, body: &Value) -> Response<Body> {
        ::checkout::handle(&self.checkout, pay_request(reference, token, key, body).build())
            .await
            .unwrap_or_else(|e| match e {})
    }

    async fn hook(&self, d: &Delivery) -> Response<Body> {
        self.hook_raw(&d.body, Some(&d.signature)).await
    }

    async fn hook_raw(&self, body: &[u8], sig: Option<&str>) -> Response<Body> {
        payment_webhooks::handle(&self.hooks, webhook_request(body, sig).build()).await.unwrap_or_else(|e| match e {})
    }

    /// Receipts this fixture sent to `to`.
    async fn receipts(&self, to: &str) -> Vec<Value> {
        portal_tests::notices::flush_now(&self.mail).await;
        self.env
            .emails_to(to)
            .into_iter()
            .filter(|m| m["subject"].as_str().is_some_and(|s| s.contains(&self.brand)))
            // The seed push of a confirmed booking sends the booking-confirmed email (notifications.rs tests it).
            .filter(|m| !m["subject"].as_str().is_some_and(|s| s.ends_with(" confirmed")))
            .collect()
    }

    async fn booking(&self, reference: &str) -> BookingCollection {
        self.env.store().load_booking(reference).await.unwrap().unwrap()
    }

    async fn entities(&self, entity: &str) -> Vec<HashMap<String, AttributeValue>> {
        self.env
            .all_items()
            .await
            .into_iter()
            .filter(|i| i.get("entity").and_then(|v| v.as_s().ok()).is_some_and(|e| e == entity))
            .collect()
    }

    async fn outstanding(&self, reference: &str) -> String {
        let c = self.booking(reference).await;
        LedgerSummary::compute(&c.booking, &c.movements, &c.instalments, today())
            .unwrap()
            .outstanding
            .to_decimal_string()
    }
}

fn event_type(d: &Delivery) -> String {
    let v: Value = serde_json::from_slice(&d.body).unwrap();
    v["type"].as_str().unwrap().to_string()
}

fn payments(c: &BookingCollection, kind: MovementKind) -> usize {
    c.movements.iter().filter(|m| m.kind == kind).count()
}

/// Sign `body` now, as the gateway would.
fn signed(body: &Value) -> (Vec<u8>, String) {
    let bytes = serde_json::to_vec(body).unwrap();
    let sig = signature::header(SECRET, now(), &bytes);
    (bytes, sig)
}

async fn lead_card_checkout(f: &Fx) -> (String, Value) {
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let r = f
        .pay(
            "AE-10001",
            &token,
            Some(&key()),
            &json!({"pay": "instalments", "instalment_ids": ["INS1"], "method": "card"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    (token, body_json(&r))
}

#[tokio::test]
async fn sandbox_journey_from_checkout_to_receipt_email_and_balance() {
    let f = fx().await;
    let (_, body) = lead_card_checkout(&f).await;
    assert_eq!(body["amount"], json!({"amount": "1000.00", "currency": "GBP", "display": "£1,000.00"}));
    assert_eq!(body["gateway"], "sandbox");
    assert_eq!(body["instalment_ids"], json!(["INS1"]));
    let pid = body["payment_id"].as_str().unwrap();
    assert!(body["client_secret"].as_str().unwrap().starts_with(pid));
    assert_eq!(body["checkout_url"], format!("http://127.0.0.1:3000/sandbox/checkout/{pid}"));
    assert!(body["expires_at"].is_string());
    // The browser's return records nothing: before the webhook the balance is unchanged.
    assert_eq!(f.outstanding("AE-10001").await, "2580.50");
    let version_before = f.booking("AE-10001").await.version;

    let page = f.sandbox.page_html(pid).unwrap();
    assert!(page.contains("1000.00 GBP") && page.contains("/sandbox/checkout/") && page.contains("AE-10001"));
    let deliveries = f.sandbox.act(pid, Action::Pay, now()).unwrap();
    assert_eq!(deliveries.len(), 1);
    let r = f.hook(&deliveries[0]).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(body_json(&r)["outcome"], "recorded");

    let c = f.booking("AE-10001").await;
    assert_eq!(c.version, version_before + 1);
    let m = c
        .movements
        .iter()
        .find(|m| m.kind == MovementKind::Payment && m.external_reference.as_deref() == Some(pid))
        .unwrap();
    assert_eq!(m.amount.to_decimal_string(), "1000.00");
    assert_eq!(m.instalment_ids, vec!["INS1".to_string()]);
    assert_eq!(m.acquirer_fee.map(|f| f.to_decimal_string()), Some("15.20".into())); // 1.5 % + 0.20
    assert_eq!(c.aggregate.outstanding.to_decimal_string(), "1580.50");
    assert_eq!(f.outstanding("AE-10001").await, "1580.50");
    // Outbox: the payment event with gateway refs and the settlement reference.
    let outbox = f.entities("outbox_event").await;
    let ev = outbox
        .iter()
        .map(|i| portal_store::store::from_item::<Value>(i.clone()).unwrap())
        .find(|e| e["event"]["movement_id"] == json!(m.id))
        .expect("outbox event for the payment");
    assert_eq!(ev["event"]["type"], "payment.succeeded");
    assert_eq!(ev["event"]["gateway"]["payment_id"], pid);
    assert!(ev["event"]["gateway"]["settlement_id"].as_str().unwrap().starts_with("txn_"));
    // The card is saved for the next issue's off-session instalments: customer + method, brand, last four.
    let saved = portal_store::payments::saved_methods(&c);
    assert_eq!(saved.len(), 1);
    assert_eq!((saved[0].brand.as_str(), saved[0].last4.as_str()), ("visa", "4242"));
    assert!(saved[0].customer_id.starts_with("cus_") && saved[0].payment_method_id.starts_with("pm_"));
    let intent = portal_store::payments::intents(&c).pop().unwrap();
    assert_eq!(intent.status, "succeeded");

    // The receipt: amount, method (brand + last four only), what remains, the next due date.
    let mails = f.receipts("ada@example.com").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = mails[0].to_string();
    assert!(mails[0]["subject"].as_str().unwrap().contains("payment received for booking AE-10001"));
    for needle in ["£1,000.00", "Visa •••• 4242", "£1,580.50", f.brand.as_str()] {
        assert!(mail.contains(needle), "receipt lacks {needle}: {mail}");
    }
    let next_due =
        portal_domain::locale::format_date(today() + chrono::Duration::days(60), portal_domain::locale::Locale::EnGb);
    assert!(mail.contains(&next_due), "receipt lacks the next due date {next_due}");
    assert!(!mail.contains("4242424242"));

    // The invoice and receipts are regenerated: one request on the documents queue.
    assert_eq!(f.queued_documents().await, vec![("AE-10001".to_string(), "payment_recorded".to_string())]);

    // A redelivery changes nothing, sends no second receipt and queues nothing.
    let r = f.hook(&deliveries[0]).await;
    assert_eq!(body_json(&r)["outcome"], "duplicate");
    assert_eq!(payments(&f.booking("AE-10001").await, MovementKind::Payment), payments(&c, MovementKind::Payment));
    assert_eq!(f.receipts("ada@example.com").await.len(), 1);
    assert!(f.queued_documents().await.is_empty());
}

#[tokio::test]
async fn ten_concurrent_deliveries_of_one_webhook_record_one_movement() {
    let f = fx().await;
    let (_, body) = lead_card_checkout(&f).await;
    let d = f.sandbox.act(body["payment_id"].as_str().unwrap(), Action::Pay, now()).unwrap().remove(0);
    let before = payments(&f.booking("AE-10001").await, MovementKind::Payment);
    let results = futures::future::join_all((0..10).map(|_| f.hook(&d))).await;
    let outcomes: Vec<String> = results.iter().map(|r| format!("{} {}", r.status(), body_json(r)["outcome"])).collect();
    assert!(results.iter().all(|r| r.status() == 200), "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| o.contains("\"recorded\"")).count(), 1, "{outcomes:?}");
    let c = f.booking("AE-10001").await;
    assert_eq!(payments(&c, MovementKind::Payment), before + 1);
    let pid = body["payment_id"].as_str().unwrap();
    let outbox = f.entities("outbox_event").await;
    let for_payment = outbox.iter().filter(|i| {
        portal_store::store::from_item::<Value>((*i).clone()).unwrap()["event"]["gateway"]["payment_id"] == pid
    });
    assert_eq!(for_payment.count(), 1);
    assert_eq!(f.receipts("ada@example.com").await.len(), 1);
    assert_eq!(c.aggregate.outstanding.to_decimal_string(), "1580.50");
}

#[tokio::test]
async fn twenty_concurrent_identical_checkouts_make_one_gateway_call() {
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let k = key();
    let body = json!({"pay": "balance", "method": "card"});
    let results = futures::future::join_all((0..20).map(|_| f.pay("AE-10001", &token, Some(&k), &body))).await;
    let statuses: Vec<u16> = results.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(f.sandbox.calls(), 1);
    let bodies: Vec<Vec<u8>> = results.iter().map(portal_tests::apigw::body_bytes).collect();
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "every answer is the same");
    assert_eq!(body_json(&results[0])["amount"]["amount"], "2580.50");
    assert_eq!(f.entities("checkout_intent").await.len(), 1);
}

#[tokio::test]
async fn idempotency_key_same_body_replays_other_body_is_422_missing_is_400() {
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let k = key();
    let body = json!({"pay": "custom", "amount": {"amount": "150.00", "currency": "GBP"}, "method": "card"});
    let first = f.pay("AE-10001", &token, Some(&k), &body).await;
    assert_eq!(first.status(), 201, "{}", body_json(&first));
    // Same meaning, different key order: the same request.
    let reordered = json!({"method": "card", "amount": {"currency": "GBP", "amount": "150.00"}, "pay": "custom"});
    let again = f.pay("AE-10001", &token, Some(&k), &reordered).await;
    assert_eq!(again.status(), 201);
    assert_eq!(body_json(&again), body_json(&first));
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(f.sandbox.calls(), 1);
    let other = f.pay("AE-10001", &token, Some(&k), &json!({"pay": "balance", "method": "card"})).await;
    assert_problem(&other, 422, "idempotency-key-reused");
    assert_problem(&f.pay("AE-10001", &token, None, &body).await, 400, "bad-request");
    assert_problem(&f.pay("AE-10001", &token, Some(&"k".repeat(201)), &body).await, 400, "bad-request");
    // The replay holds even once the booking has changed (here: paid in the meantime).
    let pid = body_json(&first)["payment_id"].as_str().unwrap().to_string();
    let d = f.sandbox.act(&pid, Action::Pay, now()).unwrap().remove(0);
    assert_eq!(f.hook(&d).await.status(), 200);
    assert_eq!(body_json(&f.pay("AE-10001", &token, Some(&k), &body).await), body_json(&first));
    assert_eq!(f.sandbox.calls(), 1);
}

#[tokio::test]
async fn bad_checkout_inputs_are_precise_problems_and_write_nothing() {
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let mut cancelled = seed::gbp_booking(today());
    cancelled["status"] = json!("cancelled");
    f.seed("AE-90009", &cancelled).await;
    f.seed("ST-30003", &seed::jpy_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let t2 = f.sign_in("AE-10001", "T2", "charles@example.com", false).await;
    let cancelled_token = f.sign_in("AE-90009", "T1", "ada@example.com", true).await;
    let jpy = seed::jpy_booking(today());
    let jpy_lead = jpy["lead_traveller_id"].as_str().unwrap().to_string();
    let jpy_email = jpy["travellers"][0]["email"].as_str().unwrap_or("x@example.com").to_string();
    let jpy_token = f.sign_in("ST-30003", &jpy_lead, &jpy_email, true).await;
    let items_before = f.env.all_items().await.len();
    let custom = |a: &str, c: &str| json!({"pay": "custom", "amount": {"amount": a, "currency": c}, "method": "card"});
    let cases: Vec<(&str, &str, Value, u16, &str)> = vec![
        ("above outstanding", "AE-10001", custom("2580.51", "GBP"), 422, "validation-error"),
        ("below the minimum", "AE-10001", custom("0.99", "GBP"), 422, "validation-error"),
        ("too many decimals", "AE-10001", custom("10.005", "GBP"), 422, "invalid-amount"),
        ("negative", "AE-10001", custom("-10.00", "GBP"), 422, "validation-error"),
        ("zero", "AE-10001", custom("0.00", "GBP"), 422, "validation-error"),
        ("not a number", "AE-10001", custom("ten", "GBP"), 422, "invalid-amount"),
        ("wrong currency", "AE-10001", custom("10.00", "EUR"), 422, "currency-mismatch"),
        ("unknown currency", "AE-10001", custom("10.00", "XYZ"), 422, "unknown-currency"),
        (
            "wrong top-level currency",
            "AE-10001",
            json!({"pay": "balance", "method": "card", "currency": "USD"}),
            422,
            "currency-mismatch",
        ),
        (
            "unknown instalment",
            "AE-10001",
            json!({"pay": "instalments", "instalment_ids": ["NOPE"], "method": "card"}),
            422,
            "validation-error",
        ),
        (
            "instalment already paid",
            "AE-10001",
            json!({"pay": "instalments", "instalment_ids": ["DEP"], "method": "card"}),
            409,
            "conflict",
        ),
        ("nothing due now", "AE-10001", json!({"pay": "due_now", "method": "card"}), 409, "conflict"),
        (
            "amount with pay=balance",
            "AE-10001",
            json!({"pay": "balance", "method": "card", "amount": {"amount": "1.00", "currency": "GBP"}}),
            422,
            "validation-error",
        ),
        ("unknown method", "AE-10001", json!({"pay": "balance", "method": "cheque"}), 422, "validation-error"),
        (
            "unknown field",
            "AE-10001",
            json!({"pay": "balance", "method": "card", "card_number": "x"}),
            422,
            "validation-error",
        ),
        (
            "unknown traveller",
            "AE-10001",
            json!({"pay": "traveller_share", "traveller_id": "T9", "method": "card"}),
            422,
            "validation-error",
        ),
        ("booking cancelled", "AE-90009", json!({"pay": "balance", "method": "card"}), 409, "conflict"),
    ];
    for (what, reference, body, status, kind) in cases {
        let tok = if reference == "AE-90009" { &cancelled_token } else { &token };
        let r = f.pay(reference, tok, Some(&key()), &body).await;
        assert_eq!(r.status(), status, "{what}: {}", body_json(&r));
        assert_problem(&r, status, kind);
    }
    // Pay by Bank only for GBP / EUR.
    let r = f.pay("ST-30003", &jpy_token, Some(&key()), &json!({"pay": "balance", "method": "open_banking"})).await;
    assert_problem(&r, 422, "validation-error");
    assert_eq!(body_json(&r)["field"], "method");
    // A traveller pays only their own share.
    let r = f.pay("AE-10001", &t2, Some(&key()), &json!({"pay": "balance", "method": "card"})).await;
    assert_problem(&r, 403, "forbidden");
    let r = f
        .pay("AE-10001", &t2, Some(&key()), &json!({"pay": "traveller_share", "traveller_id": "T1", "method": "card"}))
        .await;
    assert_problem(&r, 403, "forbidden");
    // Card data: refused before parsing, never stored.
    for body in [
        json!({"pay": "balance", "method": "card", "card": "4242424242424242"}),
        json!({"pay": "balance", "method": "card", "note": "4000 0566 5566 5556"}),
    ] {
        let r = f.pay("AE-10001", &token, Some(&key()), &body).await;
        assert_problem(&r, 422, "card-data-refused");
        assert!(!body_json(&r).to_string().contains("4242"));
    }
    // Another booking's reference, no session, malformed JSON, wrong method.
    assert_problem(
        &f.pay("AE-90009", &token, Some(&key()), &json!({"pay": "balance", "method": "card"})).await,
        404,
        "not-found",
    );
    let r = ::checkout::handle(&f.checkout, pay_request("AE-10001", "nope", Some(&key()), &json!({})).build())
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = ::checkout::handle(
        &f.checkout,
        pay_request("AE-10001", &token, Some(&key()), &json!({})).raw_body(b"{\"pay\": ".to_vec()).build(),
    )
    .await
    .unwrap();
    assert_problem(&r, 400, "malformed-json");
    assert_eq!(f.sandbox.calls(), 0);
    assert_eq!(f.env.all_items().await.len(), items_before, "bad requests write nothing");
    // The cookie is not the only way in; the same token as a cookie works too (sanity of the fixture).
    let r = ::checkout::handle(
        &f.checkout,
        ApiRequest::new("POST", "/bookings/AE-10001/payments")
            .route("/bookings/{reference}/payments")
            .path_param("reference", "AE-10001")
            .header("cookie", &format!("{COOKIE_NAME}={token}"))
            .header("idempotency-key", &key())
            .json(&json!({"pay": "custom", "amount": {"amount": "5.00", "currency": "GBP"}, "method": "open_banking"}))
            .build(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201, "{}", body_json(&r));
}

#[tokio::test]
async fn gateway_timeouts_and_errors_record_nothing_and_a_retry_with_the_same_key_is_safe() {
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let k = key();
    let body = json!({"pay": "balance", "method": "card"});
    let items_before = f.env.all_items().await.len();
    f.sandbox.fail_next(vec![GatewayError::Timeout]);
    let r = f.pay("AE-10001", &token, Some(&k), &body).await;
    assert_problem(&r, 503, "gateway-unavailable");
    assert!(r.headers().contains_key("retry-after"));
    f.sandbox.fail_next(vec![GatewayError::Unavailable("500".into())]);
    assert_problem(&f.pay("AE-10001", &token, Some(&k), &body).await, 502, "gateway-error");
    f.sandbox.fail_next(vec![GatewayError::Rejected { status: 400, code: "x".into(), message: "y".into() }]);
    assert_problem(&f.pay("AE-10001", &token, Some(&k), &body).await, 502, "gateway-error");
    assert_eq!(f.env.all_items().await.len(), items_before, "nothing recorded");
    let ok = f.pay("AE-10001", &token, Some(&k), &body).await;
    assert_eq!(ok.status(), 201);
    assert_eq!(f.sandbox.calls(), 4);
    assert_eq!(f.sandbox.payment_ids().len(), 1);
    assert_eq!(body_json(&f.pay("AE-10001", &token, Some(&k), &body).await), body_json(&ok));
    assert_eq!(f.sandbox.calls(), 4);
}

#[tokio::test]
async fn a_checkout_that_crashed_after_claiming_its_key_is_taken_over_by_the_retry() {
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let k = key();
    let body = json!({"pay": "balance", "method": "card"});
    let first = f.pay("AE-10001", &token, Some(&k), &body).await;
    assert_eq!(first.status(), 201);
    // Make it look like that request died after claiming the key (pending, lease long gone).
    let pk = portal_store::keys::idempotency_pk("checkout#AE-10001", &k);
    f.env
        .ddb
        .update_item()
        .table_name(&f.env.table)
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S("IDEM".into()))
        .update_expression("SET #s = :p, claimed_epoch = :old REMOVE response_body, response_status")
        .expression_attribute_names("#s", "state")
        .expression_attribute_values(":p", AttributeValue::S("pending".into()))
        .expression_attribute_values(":old", AttributeValue::N((now() - 120).to_string()))
        .send()
        .await
        .unwrap();
    // The retry takes the key over and finds the open checkout the first request left: the same one again,
    // without a second gateway call.
    let retry = f.pay("AE-10001", &token, Some(&k), &body).await;
    assert_eq!(retry.status(), 200, "{}", body_json(&retry));
    assert_eq!(body_json(&retry)["payment_id"], body_json(&first)["payment_id"]);
    assert_eq!(body_json(&retry)["client_secret"], body_json(&first)["client_secret"]);
    assert_eq!(f.sandbox.calls(), 1);
    assert_eq!(f.sandbox.payment_ids().len(), 1);
    assert_eq!(body_json(&f.pay("AE-10001", &token, Some(&k), &body).await), body_json(&retry));
    assert_eq!(f.sandbox.calls(), 1);
}

#[tokio::test]
async fn webhook_signatures_stripe_test_vector_and_bad_deliveries() {
    let f = fx().await;
    // Stripe's test vector through the handler (clock at t): the signature verifies (the body is then not
    // an event we can use: 400 bad-request, not invalid-signature); a one-byte change fails the signature.
    let hooks = payment_webhooks::State::new(f.env.store(), SECRET, brands(&f.env.sender, &f.brand))
        .with_clock(|| chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap());
    let payload = br#"{"id":"evt_test_webhook","object":"event"}"#;
    let sig = "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990";
    let call = |body: &[u8], sig: Option<&str>| {
        let req = webhook_request(body, sig).build();
        let h = &hooks;
        async move { payment_webhooks::handle(h, req).await.unwrap() }
    };
    assert_problem(&call(payload, Some(sig)).await, 400, "bad-request");
    let mut changed = payload.to_vec();
    changed[10] = b'X';
    assert_problem(&call(&changed, Some(sig)).await, 400, "invalid-signature");

    let (_, body) = lead_card_checkout(&f).await;
    let d = f.sandbox.act(body["payment_id"].as_str().unwrap(), Action::Pay, now()).unwrap().remove(0);
    let before = f.entities("movement").await.len();
    let reserialised = serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&d.body).unwrap()).unwrap();
    let old = signature::header(SECRET, now() - 301, &d.body);
    let t = now();
    let other_secret = signature::header("whsec_other", t, &d.body);
    for (what, body, sig) in [
        ("missing", d.body.clone(), None),
        ("garbage", d.body.clone(), Some("banana".to_string())),
        ("wrong secret", d.body.clone(), Some(other_secret)),
        ("too old", d.body.clone(), Some(old)),
        ("re-serialised payload", reserialised, Some(d.signature.clone())),
        ("duplicated t", d.body.clone(), Some(format!("t={t},{}", d.signature))),
    ] {
        let r = f.hook_raw(&body, sig.as_deref()).await;
        assert_problem(&r, 400, "invalid-signature");
        let _ = what;
    }
    assert_eq!(f.entities("movement").await.len(), before, "nothing recorded");
    // A signed but unknown event type is acknowledged and ignored.
    let (b, s) = signed(
        &json!({"id": "evt_unknown", "object": "event", "type": "customer.created", "created": now(), "data": {"object": {"id": "cus_1"}}}),
    );
    let r = f.hook_raw(&b, Some(&s)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(body_json(&r)["outcome"], "ignored");
    // A valid one still records.
    assert_eq!(body_json(&f.hook(&d).await)["outcome"], "recorded");
}

#[tokio::test]
async fn a_crash_between_gateway_confirmation_and_our_write_is_recorded_once_on_redelivery() {
    let f = fx().await;
    let (_, body) = lead_card_checkout(&f).await;
    let d = f.sandbox.act(body["payment_id"].as_str().unwrap(), Action::Pay, now()).unwrap().remove(0);
    let event_id = d.event_id.clone();
    let store = f.env.store();
    // A delivery that is still working (fresh claim): a concurrent redelivery is told to retry later.
    let live = ClaimItem::webhook_event(&event_id, "payment_intent.succeeded", Utc::now());
    store.claim(&live, 60).await.unwrap();
    assert_problem(&f.hook(&d).await, 409, "event-in-progress");
    // That delivery crashed after claiming and before writing (its lease lapses): the gateway's retry records it.
    store.release(&live).await.unwrap();
    let crashed =
        ClaimItem::webhook_event(&event_id, "payment_intent.succeeded", Utc::now() - chrono::Duration::seconds(120));
    store.claim(&crashed, 60).await.unwrap();
    let before = payments(&f.booking("AE-10001").await, MovementKind::Payment);
    let r = f.hook(&d).await;
    assert_eq!(body_json(&r)["outcome"], "recorded", "{}", body_json(&r));
    assert_eq!(body_json(&f.hook(&d).await)["outcome"], "duplicate");
    assert_eq!(payments(&f.booking("AE-10001").await, MovementKind::Payment), before + 1);
    assert_eq!(f.receipts("ada@example.com").await.len(), 1);
}

#[tokio::test]
async fn open_banking_pending_then_paid_and_events_out_of_order() {
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let r = f.pay("AE-10001", &token, Some(&key()), &json!({"pay": "balance", "method": "open_banking"})).await;
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    let pid = body_json(&r)["payment_id"].as_str().unwrap().to_string();
    let pending = f.sandbox.act(&pid, Action::Pending, now()).unwrap().remove(0);
    assert_eq!(body_json(&f.hook(&pending).await)["outcome"], "processing");
    let c = f.booking("AE-10001").await;
    assert_eq!(portal_store::payments::intents(&c)[0].status, "processing");
    assert_eq!(f.outstanding("AE-10001").await, "2580.50", "pending money is not money");
    let paid = f.sandbox.act(&pid, Action::Pay, now()).unwrap().remove(0);
    assert_eq!(body_json(&f.hook(&paid).await)["outcome"], "recorded");
    assert_eq!(f.outstanding("AE-10001").await, "0.00");
    let c = f.booking("AE-10001").await;
    let m = c.movements.iter().find(|m| m.external_reference.as_deref() == Some(pid.as_str())).unwrap();
    assert_eq!(m.channel, Some(portal_domain::booking::PaymentChannel::OpenBanking));
    assert!(portal_store::payments::saved_methods(&c).is_empty(), "no card to save");
    let mail = f.receipts("ada@example.com").await[0].to_string();
    assert!(mail.contains("Pay by Bank") && mail.contains("paid in full"), "{mail}");

    // Late, out-of-order events for the same payment: a second `processing` and a `payment_failed`.
    let mut late: Value = serde_json::from_slice(&pending.body).unwrap();
    late["id"] = json!("evt_late_processing");
    let (b, s) = signed(&late);
    assert_eq!(body_json(&f.hook_raw(&b, Some(&s)).await)["outcome"], "processing");
    late["id"] = json!("evt_late_failure");
    late["type"] = json!("payment_intent.payment_failed");
    let (b, s) = signed(&late);
    assert_eq!(body_json(&f.hook_raw(&b, Some(&s)).await)["outcome"], "failure_recorded");
    let c = f.booking("AE-10001").await;
    assert_eq!(portal_store::payments::intents(&c)[0].status, "succeeded", "never goes back");
    assert_eq!(payments(&c, MovementKind::PaymentFailed), 1);
    assert_eq!(f.outstanding("AE-10001").await, "0.00", "a failure is evidence, not money");
    // Nothing left to pay.
    let r = f.pay("AE-10001", &token, Some(&key()), &json!({"pay": "balance", "method": "card"})).await;
    assert_problem(&r, 409, "conflict");
}

#[tokio::test]
async fn declines_refunds_and_disputes_are_recorded_once() {
    let f = fx().await;
    let (_, body) = lead_card_checkout(&f).await;
    let pid = body["payment_id"].as_str().unwrap().to_string();
    let declined = f.sandbox.act(&pid, Action::Decline, now()).unwrap().remove(0);
    assert_eq!(body_json(&f.hook(&declined).await)["outcome"], "failure_recorded");
    let c = f.booking("AE-10001").await;
    assert_eq!(portal_store::payments::intents(&c)[0].status, "failed");
    assert_eq!(f.outstanding("AE-10001").await, "2580.50");
    assert!(f.receipts("ada@example.com").await.is_empty(), "no receipt for a decline");
    // The customer tries again on the same checkout and pays.
    let paid = f.sandbox.act(&pid, Action::Pay, now()).unwrap().remove(0);
    assert_eq!(body_json(&f.hook(&paid).await)["outcome"], "recorded");
    assert_eq!(f.outstanding("AE-10001").await, "1580.50");

    // A refund that succeeds at once: Stripe sends `refund.created` and `charge.refunded`; the second adds
    // nothing, whichever arrives first.
    let succeeded = Action::Refund { minor: 20000, status: "succeeded" };
    let refund = f.sandbox.act(&pid, succeeded, now()).unwrap();
    assert_eq!(refund.iter().map(event_type).collect::<Vec<_>>(), ["refund.created", "charge.refunded"]);
    assert_eq!(body_json(&f.hook(&refund[1]).await)["outcome"], "refund_recorded", "read through the API");
    assert_eq!(body_json(&f.hook(&refund[0]).await)["outcome"], "already_recorded");
    assert_eq!(body_json(&f.hook(&refund[0]).await)["outcome"], "duplicate");
    assert_eq!(f.outstanding("AE-10001").await, "1780.50");
    // A pending refund is not yet money back; it becomes money when it succeeds, once.
    let pending = f.sandbox.act(&pid, Action::Refund { minor: 5000, status: "pending" }, now()).unwrap();
    assert_eq!(body_json(&f.hook(&pending[0]).await)["outcome"], "refund_recorded");
    assert_eq!(body_json(&f.hook(&pending[1]).await)["outcome"], "already_recorded");
    assert_eq!(f.outstanding("AE-10001").await, "1780.50", "pending is not refunded");
    let settled = f.sandbox.act(&pid, Action::SettleRefund { index: 1, status: "succeeded" }, now()).unwrap();
    assert_eq!(body_json(&f.hook(&settled[0]).await)["outcome"], "refund_recorded");
    assert_eq!(f.outstanding("AE-10001").await, "1830.50");
    // A refund that fails after it was reported succeeded (the card was closed): the money is ours again.
    let third = f.sandbox.act(&pid, Action::Refund { minor: 3000, status: "succeeded" }, now()).unwrap();
    assert_eq!(body_json(&f.hook(&third[0]).await)["outcome"], "refund_recorded");
    assert_eq!(f.outstanding("AE-10001").await, "1860.50");
    let failed = f.sandbox.act(&pid, Action::SettleRefund { index: 2, status: "failed" }, now()).unwrap();
    assert_eq!(event_type(&failed[0]), "refund.failed");
    assert_eq!(body_json(&f.hook(&failed[0]).await)["outcome"], "refund_recorded");
    assert_eq!(body_json(&f.hook(&third[1]).await)["outcome"], "already_recorded", "a late charge.refunded");
    assert_eq!(f.outstanding("AE-10001").await, "1830.50");
    let c = f.booking("AE-10001").await;
    let kinds = |k| payments(&c, k);
    assert_eq!(
        (kinds(MovementKind::Refund), kinds(MovementKind::RefundPending), kinds(MovementKind::RefundFailed)),
        (3, 1, 1)
    );
    assert_eq!(kinds(MovementKind::RefundReversed), 1);
    // Each refund that succeeded is the customer's "refund issued" email, once, with its amount.
    let refunds: Vec<String> = f
        .receipts("ada@example.com")
        .await
        .into_iter()
        .filter(|m| m["subject"].as_str().is_some_and(|s| s.ends_with("refund for booking AE-10001")))
        .map(|m| m["body"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(refunds.len(), 3, "{refunds:?}");
    for amount in ["£200.00", "£50.00", "£30.00"] {
        assert_eq!(refunds.iter().filter(|b| b.contains(amount)).count(), 1, "{amount}");
    }

    // A dispute: opening it is evidence; the withdrawal is money gone; winning brings it back.
    let opened = f.sandbox.act(&pid, Action::Dispute(DisputeStage::Opened), now()).unwrap().remove(0);
    assert_eq!(body_json(&f.hook(&opened).await)["outcome"], "dispute_recorded");
    assert_eq!(body_json(&f.hook(&opened).await)["outcome"], "duplicate");
    assert_eq!(f.outstanding("AE-10001").await, "1830.50", "an open dispute is not yet money gone");
    let withdrawn = f.sandbox.act(&pid, Action::Dispute(DisputeStage::FundsWithdrawn), now()).unwrap().remove(0);
    assert_eq!(body_json(&f.hook(&withdrawn).await)["outcome"], "dispute_recorded");
    assert_eq!(f.outstanding("AE-10001").await, "2830.50", "the bank took the payment back");
    let won = f.sandbox.act(&pid, Action::CloseDispute { won: true }, now()).unwrap().remove(0);
    assert_eq!(body_json(&f.hook(&won).await)["outcome"], "dispute_recorded");
    assert_eq!(f.outstanding("AE-10001").await, "1830.50", "won: the funds are reinstated");
    // The reinstatement event arriving after the close adds nothing.
    let late = f.sandbox.act(&pid, Action::Dispute(DisputeStage::FundsReinstated), now()).unwrap().remove(0);
    assert_eq!(body_json(&f.hook(&late).await)["outcome"], "already_recorded");
    let types: Vec<String> = f
        .entities("outbox_event")
        .await
        .into_iter()
        .map(|i| portal_store::store::from_item::<Value>(i).unwrap())
        .filter_map(|e| e["event"]["type"].as_str().map(str::to_string))
        .filter(|t| t.starts_with("dispute") || t.starts_with("refund"))
        .collect();
    let count = |t: &str| types.iter().filter(|x| *x == t).count();
    assert_eq!((count("dispute"), count("dispute.funds_withdrawn"), count("dispute.funds_reinstated")), (1, 1, 1));
    assert_eq!((count("dispute.closed"), count("refund"), count("refund.pending")), (1, 3, 1));
    assert_eq!((count("refund.failed"), count("refund.reversed")), (1, 1));
}

#[tokio::test]
async fn a_lost_dispute_whose_withdrawal_never_arrived_still_books_the_chargeback() {
    let f = fx().await;
    let (_, body) = lead_card_checkout(&f).await;
    let pid = body["payment_id"].as_str().unwrap().to_string();
    let paid = f.sandbox.act(&pid, Action::Pay, now()).unwrap().remove(0);
    assert_eq!(body_json(&f.hook(&paid).await)["outcome"], "recorded");
    assert_eq!(f.outstanding("AE-10001").await, "1580.50");
    // Only the close reaches us (the other events were lost): it opens and books the chargeback.
    let _ = f.sandbox.act(&pid, Action::Dispute(DisputeStage::Opened), now()).unwrap();
    let lost = f.sandbox.act(&pid, Action::CloseDispute { won: false }, now()).unwrap().remove(0);
    assert_eq!(body_json(&f.hook(&lost).await)["outcome"], "dispute_recorded");
    assert_eq!(f.outstanding("AE-10001").await, "2580.50");
    let c = f.booking("AE-10001").await;
    assert_eq!((payments(&c, MovementKind::Chargeback), payments(&c, MovementKind::DisputeOpened)), (1, 1));
}

fn intent_status(c: &BookingCollection, payment_id: &str) -> String {
    portal_store::payments::intents(c).into_iter().find(|i| i.gateway_payment_id == payment_id).unwrap().status
}

#[tokio::test]
async fn two_tabs_get_one_open_payment_and_a_different_request_supersedes_it() {
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let balance = json!({"pay": "balance", "method": "card"});
    // Two tabs, two keys, the same balance: one payment, the same client secret in both.
    let a = f.pay("AE-10001", &token, Some(&key()), &balance).await;
    assert_eq!(a.status(), 201);
    let a = body_json(&a);
    let b = f.pay("AE-10001", &token, Some(&key()), &balance).await;
    assert_eq!(b.status(), 200, "the open checkout again");
    let b = body_json(&b);
    assert_eq!(
        (&b["payment_id"], &b["client_secret"], &b["checkout_id"]),
        (&a["payment_id"], &a["client_secret"], &a["checkout_id"])
    );
    assert_eq!(f.sandbox.calls(), 1);
    // A different debt that overlaps it (the first instalment is part of the balance): the open one is
    // cancelled at the gateway before the new one exists, and can no longer take money.
    let pid_a = a["payment_id"].as_str().unwrap().to_string();
    let r = f
        .pay(
            "AE-10001",
            &token,
            Some(&key()),
            &json!({"pay": "instalments", "instalment_ids": ["INS1"], "method": "card"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    let pid_b = body_json(&r)["payment_id"].as_str().unwrap().to_string();
    assert_ne!(pid_a, pid_b);
    assert_eq!(f.sandbox.cancels(), std::slice::from_ref(&pid_a));
    assert_eq!(f.sandbox.status(&pid_a).as_deref(), Some("canceled"));
    assert!(f.sandbox.act(&pid_a, Action::Pay, now()).is_err(), "a cancelled payment cannot be paid");
    let c = f.booking("AE-10001").await;
    assert_eq!((intent_status(&c, &pid_a).as_str(), intent_status(&c, &pid_b).as_str()), ("cancelled", "created"));
    let open = f.env.store().open_payments(Utc::now() + chrono::Duration::minutes(1), 100).await.unwrap();
    let open_here: Vec<_> = open.iter().filter(|(r, _)| r == "AE-10001").collect();
    assert_eq!(open_here.len(), 1, "only the new one is indexed as open: {open:?}");
    let paid = f.sandbox.act(&pid_b, Action::Pay, now()).unwrap().remove(0);
    assert_eq!(body_json(&f.hook(&paid).await)["outcome"], "recorded");
    assert_eq!(f.outstanding("AE-10001").await, "1580.50");
    assert!(
        f.env
            .store()
            .open_payments(Utc::now() + chrono::Duration::minutes(1), 100)
            .await
            .unwrap()
            .iter()
            .all(|(r, _)| r != "AE-10001")
    );
}

#[tokio::test]
async fn concurrent_checkouts_of_one_booking_leave_one_open_payment() {
    let f = Arc::new(fx().await);
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (f, token) = (f.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let body = if i % 2 == 0 {
                json!({"pay": "balance", "method": "card"})
            } else {
                json!({"pay": "instalments", "instalment_ids": ["INS1"], "method": "card"})
            };
            let r = f.pay("AE-10001", &token, Some(&key()), &body).await;
            (r.status().as_u16(), body_json(&r))
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert!(answers.iter().all(|(s, _)| [200, 201, 409].contains(s)), "{answers:?}");
    let c = f.booking("AE-10001").await;
    let open: Vec<_> = portal_store::payments::intents(&c).into_iter().filter(|i| i.is_open()).collect();
    assert_eq!(open.len(), 1, "{open:?}");
    // Every payment the gateway holds except that one is cancelled.
    let live: Vec<String> =
        f.sandbox.payment_ids().into_iter().filter(|p| f.sandbox.status(p).as_deref() != Some("canceled")).collect();
    assert_eq!(live, [open[0].gateway_payment_id.clone()]);
}

#[tokio::test]
async fn a_payment_already_taken_cannot_be_superseded_and_nothing_new_is_created() {
    let f = fx().await;
    let (token, body) = lead_card_checkout(&f).await;
    let pid = body["payment_id"].as_str().unwrap().to_string();
    // The customer paid in the first tab; the webhook is not here yet.
    let paid = f.sandbox.act(&pid, Action::Pay, now()).unwrap().remove(0);
    let calls = f.sandbox.calls();
    let r = f.pay("AE-10001", &token, Some(&key()), &json!({"pay": "balance", "method": "card"})).await;
    assert_problem(&r, 409, "payment-in-progress");
    assert_eq!(f.sandbox.calls(), calls, "no second payment");
    assert_eq!(body_json(&f.hook(&paid).await)["outcome"], "recorded");
    assert_eq!(intent_status(&f.booking("AE-10001").await, &pid), "succeeded");
    // Now the rest can be paid.
    let r = f.pay("AE-10001", &token, Some(&key()), &json!({"pay": "balance", "method": "card"})).await;
    assert_eq!((r.status().as_u16(), body_json(&r)["amount"]["amount"].clone()), (201, json!("1580.50")));
}

#[tokio::test]
async fn a_share_and_another_travellers_share_are_separate_debts_each_payer_its_own_customer() {
    let f = fx().await;
    f.seed("AE-50005", &seed::group_booking(today())).await;
    let alan = f.sign_in("AE-50005", "G2", "alan@example.com", false).await;
    let grace = f.sign_in("AE-50005", "G1", "grace@example.com", true).await;
    // The lead pays Edsger's share by card and the card is saved under a customer of hers.
    let r = f
        .pay(
            "AE-50005",
            &grace,
            Some(&key()),
            &json!({"pay": "traveller_share", "traveller_id": "G4", "method": "card"}),
        )
        .await;
    let lead_pid = body_json(&r)["payment_id"].as_str().unwrap().to_string();
    let d = f.sandbox.act(&lead_pid, Action::Pay, now()).unwrap().remove(0);
    assert_eq!(body_json(&f.hook(&d).await)["outcome"], "recorded");
    let lead_customer = f.sandbox.customer_of(&lead_pid).unwrap();
    assert_eq!(portal_store::payments::saved_methods(&f.booking("AE-50005").await)[0].customer_id, lead_customer);
    // Alan's share and Grace's open checkout for her own share do not collide: both stay open.
    let g = f.pay("AE-50005", &grace, Some(&key()), &json!({"pay": "traveller_share", "method": "card"})).await;
    assert_eq!(g.status(), 201);
    let r = f.pay("AE-50005", &alan, Some(&key()), &json!({"pay": "traveller_share", "method": "card"})).await;
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    let alan_pid = body_json(&r)["payment_id"].as_str().unwrap().to_string();
    assert!(f.sandbox.cancels().is_empty());
    // His card is saved under his own customer, never the lead's.
    let alan_customer = f.sandbox.customer_of(&alan_pid).unwrap();
    assert_ne!(alan_customer, lead_customer);
    // The lead's balance overlaps both shares: both open ones are superseded.
    let r = f.pay("AE-50005", &grace, Some(&key()), &json!({"pay": "balance", "method": "card"})).await;
    assert_eq!(r.status(), 201);
    assert_eq!(f.sandbox.cancels().len(), 2);
}

impl Fx {
    /// Deliver what the gateway sent on its own (an excess refund's `refund.created` and `charge.refunded`).
    async fn deliver_pending(&self) -> Vec<String> {
        let mut out = Vec::new();
        for d in self.sandbox.take_deliveries(now()) {
            out.push(body_json(&self.hook(&d).await)["outcome"].as_str().unwrap_or_default().to_string());
        }
        out
    }

    async fn credit(&self, reference: &str) -> String {
        let c = self.booking(reference).await;
        LedgerSummary::compute(&c.booking, &c.movements, &c.instalments, today()).unwrap().credit.to_decimal_string()
    }

    async fn outbox_types(&self) -> Vec<String> {
        self.entities("outbox_event")
            .await
            .into_iter()
            .map(|i| portal_store::store::from_item::<Value>(i).unwrap())
            .filter_map(|e| e["event"]["type"].as_str().map(str::to_string))
            .collect()
    }
}

impl Fx {
    /// The operator's push, through a function that cancels superseded checkouts at the sandbox gateway.
    async fn push(&self, reference: &str, body: &Value) {
        let ops = operator_bookings::State {
            store: self.env.store(),
            auth: portal_http::operator::OperatorAuth::key(portal_tests::customer::OPERATOR_KEY).unwrap(),
            gateway: Some(self.sandbox.clone()),
        };
        let req = ApiRequest::new("PUT", &format!("/operator/bookings/{reference}"))
            .route("/operator/bookings/{reference}")
            .path_param("reference", reference)
            .bearer(portal_tests::customer::OPERATOR_KEY)
            .json(body)
            .build();
        let r = operator_bookings::handle(&ops, req).await.unwrap_or_else(|e| match e {});
        assert!(r.status().as_u16() < 300, "{}", body_json(&r));
    }
}

#[tokio::test]
async fn a_price_change_or_cancellation_cancels_open_checkouts_but_not_other_changes() {
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let balance = json!({"pay": "balance", "method": "card"});
    let first =
        body_json(&f.pay("AE-10001", &token, Some(&key()), &balance).await)["payment_id"].as_str().unwrap().to_string();
    // A change that leaves the price alone (an itinerary title) leaves the checkout open.
    let mut retitled = seed::gbp_booking(today());
    retitled["itinerary"][2]["title"] = json!("Five Lakes walk (Sunnegga)");
    f.push("AE-10001", &retitled).await;
    assert_eq!(f.sandbox.status(&first).as_deref(), Some("requires_payment_method"));
    // A price cut: the checkout priced before it can no longer take money.
    let mut cheaper = retitled.clone();
    cheaper["price_lines"][1]["amount"] = json!("950.00");
    cheaper["schedule"][2]["amount"] = json!("1080.50");
    f.push("AE-10001", &cheaper).await;
    assert_eq!(f.sandbox.status(&first).as_deref(), Some("canceled"));
    assert_eq!(intent_status(&f.booking("AE-10001").await, &first), "cancelled");
    // A new checkout is for the new balance; cancelling the booking cancels it too.
    let second =
        body_json(&f.pay("AE-10001", &token, Some(&key()), &balance).await)["payment_id"].as_str().unwrap().to_string();
    assert_eq!(f.sandbox.status(&second).as_deref(), Some("requires_payment_method"));
    let mut cancelled = cheaper.clone();
    cancelled["status"] = json!("cancelled");
    f.push("AE-10001", &cancelled).await;
    assert_eq!(f.sandbox.status(&second).as_deref(), Some("canceled"));
    let r = f.pay("AE-10001", &token, Some(&key()), &json!({"pay": "balance", "method": "card"})).await;
    assert_problem(&r, 409, "conflict");
}

impl Fx {
    /// AE-10001's lead pays the £2,580.50 balance at the gateway; before its webhook, the operator cuts the
    /// price by £500. The payment's id and its (undelivered) `payment_intent.succeeded`.
    async fn paid_then_price_cut(&self) -> (String, Delivery) {
        self.seed("AE-10001", &seed::gbp_booking(today())).await;
        let token = self.sign_in("AE-10001", "T1", "ada@example.com", true).await;
        let r = self.pay("AE-10001", &token, Some(&key()), &json!({"pay": "balance", "method": "card"})).await;
        let pid = body_json(&r)["payment_id"].as_str().unwrap().to_string();
        let paid = self.sandbox.act(&pid, Action::Pay, now()).unwrap().remove(0);
        let mut cheaper = seed::gbp_booking(today());
        cheaper["price_lines"][1]["amount"] = json!("950.00");
        cheaper["schedule"][2]["amount"] = json!("1080.50");
        self.seed("AE-10001", &cheaper).await;
        (pid, paid)
    }
}

#[tokio::test]
async fn a_payment_that_lands_after_a_price_cut_is_recorded_and_its_excess_refunded_and_emailed() {
    let f = fx().await;
    let (pid, paid) = f.paid_then_price_cut().await;
    // The money is real: recorded in full, then the £500 it brought beyond the price is refunded at once.
    assert_eq!(body_json(&f.hook(&paid).await)["outcome"], "recorded");
    assert_eq!(body_json(&f.hook(&paid).await)["outcome"], "duplicate", "one excess however often delivered");
    let c = f.booking("AE-10001").await;
    let due = portal_store::payments::excess_refunds(&c);
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].status.as_str(), due[0].amount.to_decimal_string().as_str()), ("requested", "500.00"));
    let mails = f.receipts("ada@example.com").await;
    let notice = mails.iter().find(|m| m["subject"].as_str().unwrap().contains("refunding")).expect("refund email");
    assert!(notice.to_string().contains("£500.00") && notice.to_string().contains("paid more than"), "{notice}");
    // The gateway's own events: pending first (not yet money back), then succeeded.
    assert_eq!(f.deliver_pending().await, ["refund_recorded", "already_recorded"]);
    assert_eq!(f.credit("AE-10001").await, "500.00", "a pending refund is not yet money back");
    let settled = f.sandbox.act(&pid, Action::SettleRefund { index: 0, status: "succeeded" }, now()).unwrap();
    assert_eq!(body_json(&f.hook(&settled[0]).await)["outcome"], "refund_recorded");
    assert_eq!((f.credit("AE-10001").await.as_str(), f.outstanding("AE-10001").await.as_str()), ("0.00", "0.00"));
    let types = f.outbox_types().await;
    assert!(types.contains(&"refund.pending".to_string()) && types.contains(&"refund".to_string()), "{types:?}");
    // Only one refund at the gateway, for exactly the excess.
    let refunds = f.sandbox.refunds_of(&pid).await.unwrap();
    assert_eq!(refunds.iter().map(|r| r.amount_minor).collect::<Vec<_>>(), [50000]);
}

#[tokio::test]
async fn an_excess_refund_whose_webhook_beats_its_mark_is_emailed_once() {
    let f = fx().await;
    let (pid, paid) = f.paid_then_price_cut().await;
    assert_eq!(body_json(&f.hook(&paid).await)["outcome"], "recorded");
    // The refund is at the gateway; put its item back as it is between the gateway's answer and the
    // `requested` mark (still due, no refund id), the moment the gateway's own events may arrive.
    let item = portal_store::payments::excess_refunds(&f.booking("AE-10001").await).remove(0);
    f.env
        .ddb
        .update_item()
        .table_name(&f.env.table)
        .key("pk", AttributeValue::S(item.pk.clone()))
        .key("sk", AttributeValue::S(item.sk.clone()))
        .update_expression("SET #s = :due REMOVE refund_id")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":due", AttributeValue::S("due".into()))
        .send()
        .await
        .unwrap();
    f.deliver_pending().await;
    let settled = f.sandbox.act(&pid, Action::SettleRefund { index: 0, status: "succeeded" }, now()).unwrap();
    assert_eq!(body_json(&f.hook(&settled[0]).await)["outcome"], "refund_recorded");
    // One email for the one refund: the portal's "we are refunding" (written with the mark), not also the
    // "refund issued" of a refund the operator made at the gateway.
    let mails = f.receipts("ada@example.com").await;
    let subjects: Vec<&str> = mails.iter().filter_map(|m| m["subject"].as_str()).collect();
    assert_eq!(subjects.iter().filter(|s| s.contains("refunding")).count(), 1, "{subjects:?}");
    assert!(!subjects.iter().any(|s| s.ends_with("refund for booking AE-10001")), "{subjects:?}");
    // An operator's refund of the same payment, made at the gateway, is still emailed.
    let own = f.sandbox.act(&pid, Action::Refund { minor: 2000, status: "succeeded" }, now()).unwrap();
    for d in &own {
        f.hook(d).await;
    }
    let mails = f.receipts("ada@example.com").await;
    assert_eq!(
        mails
            .iter()
            .filter(|m| m["subject"].as_str().is_some_and(|s| s.ends_with("refund for booking AE-10001")))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_payment_after_the_booking_was_cancelled_is_refunded_in_full() {
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let r = f.pay("AE-10001", &token, Some(&key()), &json!({"pay": "balance", "method": "card"})).await;
    let pid = body_json(&r)["payment_id"].as_str().unwrap().to_string();
    let paid = f.sandbox.act(&pid, Action::Pay, now()).unwrap().remove(0);
    let mut cancelled = seed::gbp_booking(today());
    cancelled["status"] = json!("cancelled");
    f.seed("AE-10001", &cancelled).await;
    assert_eq!(body_json(&f.hook(&paid).await)["outcome"], "recorded");
    let c = f.booking("AE-10001").await;
    let due = portal_store::payments::excess_refunds(&c);
    assert_eq!(due[0].amount.to_decimal_string(), "2580.50");
    assert_eq!(due[0].reason, portal_domain::payment::ExcessReason::Cancelled);
    let mails = f.receipts("ada@example.com").await;
    assert!(mails.iter().any(|m| m.to_string().contains("after the booking was cancelled")), "{mails:?}");
    assert_eq!(f.deliver_pending().await, ["refund_recorded", "already_recorded"]);
    let settled = f.sandbox.act(&pid, Action::SettleRefund { index: 0, status: "succeeded" }, now()).unwrap();
    assert_eq!(body_json(&f.hook(&settled[0]).await)["outcome"], "refund_recorded");
    let c = f.booking("AE-10001").await;
    let s = LedgerSummary::compute(&c.booking, &c.movements, &c.instalments, today()).unwrap();
    assert_eq!(s.paid.to_decimal_string(), "500.00", "only the deposit paid before the cancellation stays");
}

#[tokio::test]
async fn a_brand_that_keeps_overpayments_as_credit_refunds_nothing() {
    let f = fx().await;
    let json =
        json!({"alpine-escapes": {"name": f.brand, "primary_colour": "#0a7c59", "overpayment": "credit"}}).to_string();
    let hooks =
        payment_webhooks::State::new(f.env.store(), SECRET, auth::Brands::parse(Some(&json), &f.env.sender).unwrap())
            .with_gateway(f.sandbox.clone());
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let r = f.pay("AE-10001", &token, Some(&key()), &json!({"pay": "balance", "method": "card"})).await;
    let pid = body_json(&r)["payment_id"].as_str().unwrap().to_string();
    let paid = f.sandbox.act(&pid, Action::Pay, now()).unwrap().remove(0);
    let mut cheaper = seed::gbp_booking(today());
    cheaper["price_lines"][1]["amount"] = json!("950.00");
    cheaper["schedule"][2]["amount"] = json!("1080.50");
    f.seed("AE-10001", &cheaper).await;
    let req = webhook_request(&paid.body, Some(&paid.signature)).build();
    let r = payment_webhooks::handle(&hooks, req).await.unwrap();
    assert_eq!(body_json(&r)["outcome"], "recorded");
    assert_eq!(f.credit("AE-10001").await, "500.00");
    assert!(portal_store::payments::excess_refunds(&f.booking("AE-10001").await).is_empty());
    assert!(f.sandbox.take_deliveries(now()).is_empty(), "no refund at the gateway");
}

#[tokio::test]
async fn split_payments_a_traveller_pays_their_share_the_lead_pays_any() {
    let f = fx().await;
    f.seed("AE-50005", &seed::group_booking(today())).await;
    let alan = f.sign_in("AE-50005", "G2", "alan@example.com", false).await;
    let grace = f.sign_in("AE-50005", "G1", "grace@example.com", true).await;
    let r = f.pay("AE-50005", &alan, Some(&key()), &json!({"pay": "traveller_share", "method": "card"})).await;
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    let b = body_json(&r);
    // The share (1800.00) less his part of the party's deposit (800.00 over four equal shares): the figure the
    // overview shows as his outstanding, and exactly what settles it.
    assert_eq!((b["traveller_id"].as_str(), b["amount"]["amount"].as_str()), (Some("G2"), Some("1600.00")));
    let d = f.sandbox.act(b["payment_id"].as_str().unwrap(), Action::Pay, now()).unwrap().remove(0);
    assert_eq!(body_json(&f.hook(&d).await)["outcome"], "recorded");
    assert_eq!(f.receipts("alan@example.com").await.len(), 1, "the payer gets the receipt");
    // Alan's share is paid; the others' are not.
    let c = f.booking("AE-50005").await;
    let s = LedgerSummary::compute(&c.booking, &c.movements, &c.instalments, today()).unwrap();
    let share =
        |t: &str| s.traveller_shares.iter().find(|x| x.traveller_id == t).unwrap().outstanding.to_decimal_string();
    // Paying his share moved nobody else's figure.
    assert_eq!((share("G2").as_str(), share("G3").as_str(), share("G4").as_str()), ("0.00", "1600.00", "1600.00"));
    let r = f.pay("AE-50005", &alan, Some(&key()), &json!({"pay": "traveller_share", "method": "card"})).await;
    assert_problem(&r, 409, "conflict");
    let r = f
        .pay(
            "AE-50005",
            &alan,
            Some(&key()),
            &json!({"pay": "traveller_share", "traveller_id": "G3", "method": "card"}),
        )
        .await;
    assert_problem(&r, 403, "forbidden");
    // The lead pays Edsger's share (he has no email), then the rest.
    let r = f
        .pay(
            "AE-50005",
            &grace,
            Some(&key()),
            &json!({"pay": "traveller_share", "traveller_id": "G4", "method": "card"}),
        )
        .await;
    assert_eq!(body_json(&r)["amount"]["amount"], "1600.00");
    let r = f.pay("AE-50005", &grace, Some(&key()), &json!({"pay": "balance", "method": "card"})).await;
    assert_eq!(body_json(&r)["amount"]["amount"], "4800.00");
}

#[tokio::test]
async fn stripe_client_sends_exact_requests_to_a_local_double() {
    let (base, double) = stripe_double().await;
    let stripe = portal_gateway::stripe::StripeGateway::new(&base, "sk_test_123", Duration::from_millis(800)).unwrap();
    let gbp = portal_domain::money::Currency::Gbp;
    let req = CreatePayment {
        amount: portal_domain::money::Money::from_minor(100000, gbp).unwrap(),
        method: Method::Card,
        idempotency_key: "chk_abc".into(),
        description: "Booking AE-10001".into(),
        metadata: PaymentMetadata {
            booking_reference: "AE-10001".into(),
            checkout_id: "chk_abc".into(),
            movement_id: "mov_def".into(),
            traveller_id: Some("T2".into()),
        },
        customer_email: Some("ada@example.com".into()),
        save_card: true,
        customer_id: None,
        off_session: None,
    };
    let created = stripe.create_payment(&req).await.unwrap();
    assert_eq!(
        (
            created.payment_id.as_str(),
            created.client_secret.as_str(),
            created.customer_id.as_deref(),
            created.checkout_url
        ),
        ("pi_double", "pi_double_secret_abc", Some("cus_double"), None)
    );
    {
        let seen = double.seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        let (m, p, h, b) = &seen[0];
        assert_eq!((m.as_str(), p.as_str()), ("POST", "/v1/customers"));
        assert_eq!(h["idempotency-key"], "chk_abc-customer");
        assert_eq!(b, "metadata%5Bbooking_reference%5D=AE-10001&email=ada%40example.com");
        let (m, p, h, b) = &seen[1];
        assert_eq!((m.as_str(), p.as_str()), ("POST", "/v1/payment_intents"));
        assert_eq!(h["authorization"], "Bearer sk_test_123");
        assert_eq!(h["idempotency-key"], "chk_abc");
        assert_eq!(h["stripe-version"], portal_gateway::stripe::STRIPE_VERSION);
        assert_eq!(h["content-type"], "application/x-www-form-urlencoded");
        assert_eq!(
            b,
            "amount=100000&currency=gbp&allowed_payment_method_types%5B0%5D=card&description=Booking+AE-10001\
&metadata%5Bbooking_reference%5D=AE-10001&metadata%5Bcheckout_id%5D=chk_abc&metadata%5Bmovement_id%5D=mov_def\
&metadata%5Btraveller_id%5D=T2&customer=cus_double&setup_future_usage=off_session"
        );
    }
    // Pay by Bank: no customer, no setup_future_usage.
    double.seen.lock().unwrap().clear();
    let bank = CreatePayment { method: Method::OpenBanking, ..req.clone() };
    stripe.create_payment(&bank).await.unwrap();
    {
        let seen = double.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].3.contains("allowed_payment_method_types%5B0%5D=pay_by_bank"));
        assert!(!seen[0].3.contains("setup_future_usage") && !seen[0].3.contains("customer="));
    }
    // Faults: 5xx → Unavailable, 4xx → Rejected with Stripe's code, a slow answer → Timeout.
    let saved = CreatePayment { customer_id: Some("cus_known".into()), ..req.clone() };
    *double.mode.lock().unwrap() = "500";
    assert!(matches!(stripe.create_payment(&saved).await, Err(GatewayError::Unavailable(_))));
    *double.mode.lock().unwrap() = "402";
    assert!(
        matches!(stripe.create_payment(&saved).await, Err(GatewayError::Rejected { status: 402, ref code, .. }) if code == "amount_too_small")
    );
    *double.mode.lock().unwrap() = "slow";
    assert_eq!(stripe.create_payment(&saved).await, Err(GatewayError::Timeout));
    // ISK is two-decimal at Stripe; three-decimal currencies must end in 0.
    let isk = portal_domain::money::Money::from_minor(5000, portal_domain::money::Currency::Isk).unwrap();
    assert_eq!(portal_gateway::gateway_minor(isk), Ok(500000));
    let bhd = portal_domain::money::Money::from_minor(1005, portal_domain::money::Currency::Bhd).unwrap();
    assert!(portal_gateway::gateway_minor(bhd).is_err());
}

#[tokio::test]
async fn stripe_client_cancels_reads_refunds_and_tells_declines_from_its_own_faults() {
    let (base, double) = stripe_double().await;
    let stripe = portal_gateway::stripe::StripeGateway::new(&base, "sk_test_123", Duration::from_millis(800)).unwrap();
    // Cancel: one idempotent POST with the reason; a cancel that comes too late reads what the payment became.
    assert_eq!(stripe.cancel_payment("pi_open").await, Ok(portal_gateway::Cancelled::Cancelled));
    {
        let seen = double.seen.lock().unwrap();
        let (m, p, h, b) = &seen[0];
        assert_eq!(
            (m.as_str(), p.as_str(), b.as_str()),
            ("POST", "/v1/payment_intents/pi_open/cancel", "cancellation_reason=abandoned")
        );
        assert_eq!(h["idempotency-key"], "cancel-pi_open");
    }
    *double.mode.lock().unwrap() = "too_late";
    assert_eq!(stripe.cancel_payment("pi_paid").await, Ok(portal_gateway::Cancelled::TooLate("succeeded".into())));
    assert!(stripe.cancel_payment("pi_x/../../v1/customers").await.is_err(), "ids are never paths");
    // Refunds of a payment: every page, in the current shape.
    *double.mode.lock().unwrap() = "ok";
    double.seen.lock().unwrap().clear();
    let refunds = stripe.refunds_of("pi_sample123").await.unwrap();
    let got: Vec<(&str, i64, &str)> =
        refunds.iter().map(|r| (r.id.as_str(), r.amount_minor, r.status.as_str())).collect();
    assert_eq!(got, [("re_double_1", 20000, "succeeded"), ("re_double_2", 5000, "pending")]);
    assert!(refunds.iter().all(|r| r.payment_id.as_deref() == Some("pi_sample123") && r.currency == "GBP"));
    {
        let seen = double.seen.lock().unwrap();
        let queries: Vec<&str> = seen.iter().map(|s| s.2["x-query"].as_str()).collect();
        assert_eq!(
            queries,
            [
                "payment_intent=pi_sample123&limit=100",
                "payment_intent=pi_sample123&limit=100&starting_after=re_double_1"
            ]
        );
    }
    // A bad key is our fault, not the customer's card: never a decline.
    *double.mode.lock().unwrap() = "401";
    let e = stripe.refunds_of("pi_sample123").await.unwrap_err();
    assert!(matches!(e, GatewayError::Rejected { status: 401, .. }) && !e.is_decline() && !e.needs_authentication());
    let gbp = portal_domain::money::Currency::Gbp;
    let off = CreatePayment {
        amount: portal_domain::money::Money::from_minor(100000, gbp).unwrap(),
        method: Method::Card,
        idempotency_key: "chk_off".into(),
        description: "Booking AE-10001".into(),
        metadata: PaymentMetadata {
            booking_reference: "AE-10001".into(),
            checkout_id: "chk_off".into(),
            movement_id: "mov_off".into(),
            traveller_id: None,
        },
        customer_email: None,
        save_card: false,
        customer_id: Some("cus_double".into()),
        off_session: Some(portal_gateway::SavedCard {
            customer_id: "cus_double".into(),
            payment_method_id: "pm_double".into(),
        }),
    };
    *double.mode.lock().unwrap() = "decline";
    let e = stripe.create_payment(&off).await.unwrap_err();
    assert!(e.is_decline() && !e.needs_authentication(), "{e:?}");
    *double.mode.lock().unwrap() = "authentication_required";
    let e = stripe.create_payment(&off).await.unwrap_err();
    assert!(e.needs_authentication(), "{e:?}");
}

#[tokio::test]
async fn sample_events_are_real_requests() {
    // events/checkout/*.json and events/payment-webhooks/*.json feed `cargo lambda invoke --data-file`.
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let load = |dir: &str, name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root.join(dir).join(name)).unwrap()).unwrap()
    };
    for (name, status) in [
        ("pay-instalment.json", 201),
        ("pay-custom-amount.json", 201),
        ("pay-traveller-share.json", 201),
        ("pay-open-banking-balance.json", 201),
        ("missing-idempotency-key.json", 400),
        ("card-number-in-body.json", 422),
    ] {
        let mut ev = load("checkout", name);
        ev["cookies"] = json!([format!("{COOKIE_NAME}={token}")]);
        if ev["headers"].get("idempotency-key").is_some() {
            ev["headers"]["idempotency-key"] = json!(key());
        }
        let req = lambda_http::request::from_str(&ev.to_string()).unwrap();
        let r = ::checkout::handle(&f.checkout, req).await.unwrap();
        assert_eq!(r.status(), status, "{name}: {}", body_json(&r));
    }
    // Webhook samples are signed with whsec_test_secret at their own `t`.
    let dir = root.join("payment-webhooks");
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    // What the events name only by id (a charge.refunded's refunds) is read from a local Stripe double.
    let (base, _double) = stripe_double().await;
    let stripe: Arc<dyn PaymentGateway> =
        Arc::new(portal_gateway::stripe::StripeGateway::new(&base, "sk_test_123", Duration::from_secs(2)).unwrap());
    for name in names {
        let ev = load("payment-webhooks", &name);
        let sig = ev["headers"]["stripe-signature"].as_str().unwrap().to_string();
        let t: i64 = sig.trim_start_matches("t=").split(',').next().unwrap().parse().unwrap();
        let hooks = payment_webhooks::State::new(f.env.store(), SECRET, brands(&f.env.sender, &f.brand))
            .with_clock(move || chrono::DateTime::from_timestamp(t, 0).unwrap())
            .with_gateway(stripe.clone());
        let req = lambda_http::request::from_str(&ev.to_string()).unwrap();
        let r = payment_webhooks::handle(&hooks, req).await.unwrap();
        assert_eq!(r.status(), 200, "{name}: {}", body_json(&r));
    }
}

#[tokio::test]
async fn stripe_events_naming_the_charge_by_id_get_fee_and_card_from_the_gateway() {
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let (base, double) = stripe_double().await;
    let stripe = portal_gateway::stripe::StripeGateway::new(&base, "sk_test_123", Duration::from_millis(800)).unwrap();
    let hooks = payment_webhooks::State::new(f.env.store(), SECRET, brands(&f.env.sender, &f.brand))
        .with_gateway(Arc::new(stripe));
    // Stripe's real shape: `latest_charge` and `payment_method` are ids, so the fee and card are not in the event.
    let event = |id: &str, pi: &str| {
        json!({"id": id, "object": "event", "type": "payment_intent.succeeded", "created": now(),
            "data": {"object": {"id": pi, "object": "payment_intent", "amount": 50000, "amount_received": 50000,
                "currency": "gbp", "status": "succeeded", "customer": "cus_double", "payment_method": "pm_double",
                "payment_method_types": ["card"], "latest_charge": "ch_double",
                "metadata": {"booking_reference": "AE-10001", "checkout_id": format!("chk_{pi}"),
                    "movement_id": format!("mov_{pi}")}}}})
    };
    let (raw, sig) = signed(&event("evt_ids_only", "pi_ids"));
    let r = payment_webhooks::handle(&hooks, webhook_request(&raw, Some(&sig)).build()).await.unwrap();
    assert_eq!(body_json(&r)["outcome"], "recorded", "{}", body_json(&r));
    let c = f.booking("AE-10001").await;
    let m = c.movements.iter().find(|m| m.external_reference.as_deref() == Some("pi_ids")).unwrap();
    assert_eq!(m.acquirer_fee.map(|x| x.to_decimal_string()), Some("15.20".into()));
    assert!(m.description.as_deref().unwrap().contains("mastercard •••• 4444"), "{:?}", m.description);
    let ev = f
        .entities("outbox_event")
        .await
        .into_iter()
        .map(|i| portal_store::store::from_item::<Value>(i).unwrap())
        .find(|e| e["event"]["movement_id"] == json!(m.id))
        .unwrap();
    assert_eq!(ev["event"]["gateway"]["settlement_id"], "txn_double");
    let seen = double.seen.lock().unwrap().clone();
    let get = seen.iter().find(|s| s.0 == "GET" && s.1 == "/v1/charges/ch_double").expect("the charge was read");
    assert_eq!(get.2["x-query"], "expand%5B%5D=balance_transaction");
    assert_eq!(get.2["authorization"], "Bearer sk_test_123");
    assert!(!get.2.contains_key("idempotency-key"), "a read carries no idempotency key");

    // A card saved through a SetupIntent: Stripe names the payment method by id; its brand and last four are
    // read before the card is stored.
    let setup = json!({"id": "evt_setup_ids", "object": "event", "type": "setup_intent.succeeded", "created": now(),
        "data": {"object": {"id": "seti_ids", "object": "setup_intent", "status": "succeeded", "usage": "off_session",
            "customer": "cus_double", "payment_method": "pm_double", "payment_method_types": ["card"],
            "metadata": {"booking_reference": "AE-10001", "setup_id": "set_ids", "traveller_id": "T1"}}}});
    let (raw, sig) = signed(&setup);
    let r = payment_webhooks::handle(&hooks, webhook_request(&raw, Some(&sig)).build()).await.unwrap();
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    let saved = portal_store::payments::saved_methods(&f.booking("AE-10001").await);
    let card = saved.iter().find(|p| p.payment_method_id == "pm_double").expect("the set-up card is saved");
    assert_eq!((card.brand.as_str(), card.last4.as_str()), ("amex", "0005"));

    // The gateway cannot answer: the payment is still recorded (without its fee) rather than held back.
    *double.mode.lock().unwrap() = "500";
    let (raw, sig) = signed(&event("evt_ids_only_2", "pi_ids_2"));
    let r = payment_webhooks::handle(&hooks, webhook_request(&raw, Some(&sig)).build()).await.unwrap();
    assert_eq!(body_json(&r)["outcome"], "recorded", "{}", body_json(&r));
    let c = f.booking("AE-10001").await;
    let m = c.movements.iter().find(|m| m.external_reference.as_deref() == Some("pi_ids_2")).unwrap();
    assert_eq!(m.acquirer_fee, None);
}

#[tokio::test]
async fn a_receipt_is_for_its_payer_and_the_traveller_it_paid_for() {
    use portal_domain::overview::may_see_document;
    let f = fx().await;
    f.seed("AE-50005", &seed::group_booking(today())).await;
    let grace = f.sign_in("AE-50005", "G1", "grace@example.com", true).await;
    let katherine = f.sign_in("AE-50005", "G3", "katherine@example.com", false).await;
    let paid = |token: String, body: Value| {
        let f = &f;
        async move {
            let r = f.pay("AE-50005", &token, Some(&key()), &body).await;
            assert_eq!(r.status(), 201, "{}", body_json(&r));
            let pid = body_json(&r)["payment_id"].as_str().unwrap().to_string();
            let d = f.sandbox.act(&pid, Action::Pay, now()).unwrap();
            assert_eq!(f.hook(&d[0]).await.status(), 200);
            let c = f.booking("AE-50005").await;
            let m = c.movements.iter().find(|m| m.external_reference.as_deref() == Some(pid.as_str())).unwrap().clone();
            portal_store::lookup::document_travellers(&c, "receipt", Some(&m.id), &[], None)
        }
    };
    // Grace (lead) pays Alan's share: the receipt is hers (payer) and his (paid for); no one else's
    let who = paid(grace, json!({"pay": "traveller_share", "traveller_id": "G2", "method": "card"})).await;
    assert_eq!(who, vec!["G1", "G2"]);
    assert!(may_see_document("receipt", &who, "G2", false));
    assert!(!may_see_document("receipt", &who, "G3", false));
    // Katherine pays her own share: hers alone (and the lead's, who sees every document)
    let who = paid(katherine, json!({"pay": "traveller_share", "method": "card"})).await;
    assert_eq!(who, vec!["G3"]);
    assert!(may_see_document("receipt", &who, "G3", false));
    assert!(!may_see_document("receipt", &who, "G2", false));
    assert!(may_see_document("receipt", &who, "G1", true));
}

//! Scheduled payments against moto and the sandbox gateway: a card saved with a SetupIntent, approve-all, the
//! runner at the due date charging each instalment once and the webhooks updating ledger and balance, two
//! concurrent runners, declines with retries and the branded email, timeouts retried with the same key,
//! withdrawal before the due date, concurrent approve and withdraw, and every bad input.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lambda_http::{Body, Response};
use portal_domain::ledger::{LedgerSummary, MovementKind};
use portal_domain::schedule::InstalmentStatus;
use portal_gateway::GatewayError;
use portal_gateway::sandbox::{Action, SandboxGateway};
use portal_store::BookingCollection;
use portal_tests::customer::{assert_problem, seed_booking, sessions, sign_in, today};
use portal_tests::stripe_double::stripe_double;
use portal_tests::{ApiRequest, TestEnv, body_json, seed};
use serde_json::{Value, json};

const SECRET: &str = "whsec_test_secret";
const REF: &str = "AE-10001";

fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `days` from now, at this time of day.
fn later(days: i64) -> DateTime<Utc> {
    Utc::now() + Duration::days(days)
}

struct Fx {
    env: TestEnv,
    brand: String,
    sandbox: Arc<SandboxGateway>,
    api: instalments::State,
    runner: instalment_runner::State,
    hooks: payment_webhooks::State,
    mail: notifications::State,
}

async fn fx() -> Fx {
    let env = TestEnv::new().await;
    let sandbox = Arc::new(SandboxGateway::new("http://127.0.0.1:3000", SECRET));
    let brand = format!("Alpine Escapes {}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let brands = {
        let j = json!({"alpine-escapes": {"name": brand, "primary_colour": "#0a7c59"}}).to_string();
        auth::Brands::parse(Some(&j), &env.sender).unwrap()
    };
    let api = instalments::State::new(env.store(), sessions(), sandbox.clone());
    let runner = instalment_runner::State::new(env.store(), sandbox.clone(), brands.clone(), "https://portal.example");
    let brands_for_mail = brands.clone();
    let mut hooks = payment_webhooks::State::new(env.store(), SECRET, brands).with_gateway(sandbox.clone());
    hooks.portal_url = Some("https://portal.example".into());
    let mail = portal_tests::notices::with_brands(&env, "https://portal.example", brands_for_mail).await;
    Fx { env, brand, sandbox, api, runner, hooks, mail }
}

impl Fx {
    async fn seed(&self, reference: &str, body: &Value) {
        seed_booking(&self.env, reference, body).await;
    }

    async fn sign_in(&self, reference: &str, traveller: &str, email: &str, is_lead: bool) -> String {
        sign_in(&self.env, reference, traveller, email, is_lead).await
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Response<Body> {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let template = match segs.as_slice() {
            [_, _, "instalments", "approval"] => "/bookings/{reference}/instalments/approval",
            [_, _, "instalments", _, "approval"] => "/bookings/{reference}/instalments/{id}/approval",
            _ => "/bookings/{reference}/payment-methods",
        };
        let mut r = ApiRequest::new(method, path)
            .route(template)
            .path_param("reference", segs[1])
            .bearer(token)
            .source_ip("203.0.113.9");
        if segs.len() == 5 {
            r = r.path_param("id", segs[3]);
        }
        if let Some(k) = key {
            r = r.header("idempotency-key", k);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        instalments::handle(&self.api, r.build()).await.unwrap_or_else(|e| match e {})
    }

    async fn approve_all(&self, token: &str) -> Response<Body> {
        self.call("POST", &format!("/bookings/{REF}/instalments/approval"), token, Some(&key()), None).await
    }

    async fn approve(&self, token: &str, id: &str) -> Response<Body> {
        self.call("POST", &format!("/bookings/{REF}/instalments/{id}/approval"), token, Some(&key()), None).await
    }

    async fn withdraw(&self, token: &str, id: &str) -> Response<Body> {
        self.call("DELETE", &format!("/bookings/{REF}/instalments/{id}/approval"), token, Some(&key()), None).await
    }

    async fn hook(&self, body: &[u8], sig: &str) -> Response<Body> {
        let req = ApiRequest::new("POST", "/webhooks/payments")
            .route("/webhooks/payments")
            .header("content-type", "application/json")
            .header("stripe-signature", sig)
            .raw_body(body.to_vec())
            .build();
        payment_webhooks::handle(&self.hooks, req).await.unwrap_or_else(|e| match e {})
    }

    /// Deliver every webhook the sandbox has to send; their outcomes.
    async fn deliver(&self) -> Vec<String> {
        let mut out = vec![];
        for d in self.sandbox.take_deliveries(Utc::now().timestamp()) {
            let r = self.hook(&d.body, &d.signature).await;
            assert_eq!(r.status(), 200, "{}", body_json(&r));
            out.push(body_json(&r)["outcome"].as_str().unwrap_or_default().to_string());
        }
        out
    }

    /// The booking with a card saved through the SetupIntent flow, and the lead's session.
    async fn with_saved_card(&self) -> String {
        self.seed(REF, &seed::gbp_booking(today())).await;
        let token = self.sign_in(REF, "T1", "ada@example.com", true).await;
        let r = self.call("POST", &format!("/bookings/{REF}/payment-methods"), &token, Some(&key()), None).await;
        assert_eq!(r.status(), 201, "{}", body_json(&r));
        let setup = body_json(&r);
        assert!(setup["client_secret"].is_string() && setup["setup_url"].is_string());
        let d = self.sandbox.act_setup(setup["setup_intent_id"].as_str().unwrap(), Action::Pay, Utc::now().timestamp());
        let d = d.unwrap().remove(0);
        let r = self.hook(&d.body, &d.signature).await;
        assert_eq!(body_json(&r)["outcome"], "payment_method_saved", "{}", body_json(&r));
        token
    }

    async fn run(&self, at: DateTime<Utc>) -> instalment_runner::RunReport {
        instalment_runner::handle(
            &self.runner,
            json!({"detail-type": "Scheduled Event", "source": "aws.events"}),
            || at,
        )
        .await
        .unwrap()
    }

    async fn booking(&self) -> BookingCollection {
        self.env.store().load_booking(REF).await.unwrap().unwrap()
    }

    async fn status(&self, id: &str) -> InstalmentStatus {
        self.booking().await.instalments.iter().find(|i| i.id == id).unwrap().status
    }

    async fn outstanding(&self) -> String {
        let c = self.booking().await;
        LedgerSummary::compute(&c.booking, &c.movements, &c.instalments, today())
            .unwrap()
            .outstanding
            .to_decimal_string()
    }

    async fn outbox_types(&self) -> Vec<String> {
        self.env
            .all_items()
            .await
            .into_iter()
            .filter(|i| i.get("entity").and_then(|v| v.as_s().ok()).is_some_and(|e| e == "outbox_event"))
            .map(|i| portal_store::store::from_item::<Value>(i).unwrap()["event"]["type"].as_str().unwrap().to_string())
            .collect()
    }

    /// Every outbox event of this test validates against the finance export schema.
    async fn assert_events_match_schema(&self) {
        let schema: Value = serde_json::from_str(include_str!("../../../docs/finance-events.schema.json")).unwrap();
        let v = jsonschema::validator_for(&schema).unwrap();
        let mut n = 0;
        for i in self.env.all_items().await {
            if i.get("entity").and_then(|e| e.as_s().ok()).is_some_and(|e| e == "outbox_event") {
                let item: Value = portal_store::store::from_item(i).unwrap();
                let errors: Vec<String> = v.iter_errors(&item["event"]).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{errors:?}: {}", item["event"]);
                n += 1;
            }
        }
        assert!(n > 0);
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
}

fn count(c: &BookingCollection, kind: MovementKind) -> usize {
    c.movements.iter().filter(|m| m.kind == kind).count()
}

#[tokio::test]
async fn approve_all_then_the_runner_charges_each_instalment_once_on_its_due_date() {
    let f = fx().await;
    let token = f.with_saved_card().await;
    let cards = body_json(&f.call("GET", &format!("/bookings/{REF}/payment-methods"), &token, None, None).await);
    assert_eq!(cards["payment_methods"][0]["last4"], "4242");
    assert!(cards["note"].as_str().unwrap().contains("cannot be reused"));

    let r = f.approve_all(&token).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    let body = body_json(&r);
    let ids: Vec<&str> = body["changed"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["INS1", "BAL"], "the paid deposit is not approved");
    assert_eq!(body["changed"][0]["collection"], "scheduled");
    assert_eq!(body["payment_method"]["last4"], "4242");
    assert!(body["note"].as_str().unwrap().contains("Pay by Bank"));
    // Evidence: who, when, which card, from where; one finance event each.
    let c = f.booking().await;
    let evidence: Vec<_> = c.movements.iter().filter(|m| m.kind == MovementKind::InstalmentApproved).collect();
    assert_eq!(evidence.len(), 2);
    let e = evidence[0];
    assert_eq!(e.actor.id, "T1");
    assert!(e.external_reference.as_deref().unwrap().starts_with("pm_"));
    // The client address is evidence on the instalment's approval, never in ledger text (finance exports it).
    assert!(!e.description.as_deref().unwrap().contains("203.0.113"), "{:?}", e.description);
    let approved = c.instalments.iter().find(|i| i.id == "INS1").and_then(|i| i.approval.clone()).unwrap();
    assert_eq!(approved.client_ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(f.outbox_types().await.iter().filter(|t| *t == "instalment.approved").count(), 2);
    // Approving all again: nothing left to approve, 200 and empty.
    let again = f.approve_all(&token).await;
    assert_eq!(again.status(), 200);
    assert_eq!(body_json(&again)["changed"], json!([]));

    // The day before INS1 is due: nothing. On the due date: one charge, then the webhook pays it.
    let early = f.run(later(29)).await;
    assert_eq!((early.due, early.charged), (0, 0));
    assert!(f.sandbox.off_session_payments().is_empty());
    let due = f.run(later(30)).await;
    assert_eq!((due.due, due.charged), (1, 1), "{due:?}");
    assert_eq!(f.status("INS1").await, InstalmentStatus::Processing);
    assert_eq!(f.outstanding().await, "2580.50", "nothing recorded before the webhook");
    assert_eq!(f.deliver().await, vec!["recorded"]);
    assert_eq!(f.status("INS1").await, InstalmentStatus::Paid);
    assert_eq!(f.outstanding().await, "1580.50");
    // Later runs do not charge it again.
    let again = f.run(later(31)).await;
    assert_eq!(again.charged, 0);
    let bal = f.run(later(60)).await;
    assert_eq!(bal.charged, 1, "{bal:?}");
    assert_eq!(f.deliver().await, vec!["recorded"]);
    assert_eq!(f.status("BAL").await, InstalmentStatus::Paid);
    assert_eq!(f.outstanding().await, "0.00");
    assert_eq!(f.run(later(90)).await.charged, 0);

    let charges = f.sandbox.off_session_payments();
    assert_eq!(charges.len(), 2, "{charges:?}");
    assert_eq!(f.sandbox.keys().len(), 2, "one gateway call per instalment");
    let c = f.booking().await;
    let payments: Vec<_> =
        c.movements.iter().filter(|m| m.kind == MovementKind::Payment && m.instalment_ids.len() == 1).collect();
    assert_eq!(payments.len(), 2);
    assert_eq!(c.aggregate.outstanding.to_decimal_string(), "0.00");
    assert_eq!(f.outbox_types().await.iter().filter(|t| *t == "instalment.charged").count(), 2);
    // A receipt per charge to the approver.
    assert_eq!(f.mails("ada@example.com").await.len(), 2);
    f.assert_events_match_schema().await;
}

#[tokio::test]
async fn two_concurrent_runners_charge_each_instalment_once() {
    let f = fx().await;
    let token = f.with_saved_card().await;
    assert_eq!(f.approve_all(&token).await.status(), 200);
    let at = later(61);
    let (a, b) = tokio::join!(f.run(at), f.run(at));
    assert_eq!(a.charged + b.charged, 2, "{a:?} {b:?}");
    // And a third run, after both, finds them processing (not due) and charges nothing.
    assert_eq!(f.run(at).await.charged, 0);
    assert_eq!(f.sandbox.keys().len(), 2, "{:?}", f.sandbox.keys());
    assert_eq!(f.sandbox.off_session_payments().len(), 2);
    assert_eq!(f.deliver().await, vec!["recorded", "recorded"]);
    assert_eq!(f.outstanding().await, "0.00");
}

#[tokio::test]
async fn a_declined_card_is_retried_on_the_backoff_then_emails_a_pay_link() {
    let f = fx().await;
    let token = f.with_saved_card().await;
    assert_eq!(f.approve(&token, "INS1").await.status(), 200);
    f.sandbox.decline_all_off_session(true);
    let first = f.run(later(30)).await;
    assert_eq!((first.declined, first.emails), (1, 1), "{first:?}");
    // The gateway's own payment_failed webhook finds the decline recorded already.
    assert_eq!(f.deliver().await, vec!["already_recorded"]);
    let c = f.booking().await;
    let i = c.instalments.iter().find(|i| i.id == "INS1").unwrap();
    assert_eq!((i.status, i.attempts), (InstalmentStatus::Failed, 1));
    let retry = i.next_attempt_at.unwrap();
    assert_eq!(count(&c, MovementKind::PaymentFailed), 1);
    // Not before the retry time; then the second and third attempts (3 over 5 days).
    assert_eq!(f.run(retry - Duration::hours(1)).await.declined, 0);
    assert_eq!(f.run(retry).await.declined, 1);
    let i = f.booking().await.instalments.into_iter().find(|i| i.id == "INS1").unwrap();
    let third = i.next_attempt_at.unwrap();
    assert_eq!(third - retry, Duration::days(3));
    assert_eq!(f.run(third).await.declined, 1);
    let c = f.booking().await;
    let i = c.instalments.iter().find(|i| i.id == "INS1").unwrap();
    assert_eq!((i.status, i.attempts, i.next_attempt_at), (InstalmentStatus::Failed, 3, None));
    assert_eq!(count(&c, MovementKind::PaymentFailed), 3);
    assert_eq!(f.run(third + Duration::days(10)).await.due, 0, "out of the due index");
    assert_eq!(f.sandbox.keys().len(), 3, "three attempts, three keys");
    assert_eq!(f.outstanding().await, "2580.50", "declines change no balance");
    assert_eq!(f.outbox_types().await.iter().filter(|t| *t == "instalment.failed").count(), 3);
    // Emails: two "we will try again", then "pay it in the portal", each with the pay link.
    let mails = f.mails("ada@example.com").await;
    assert_eq!(mails.len(), 3, "{mails:?}");
    let last = mails[2].to_string();
    assert!(last.contains("https://portal.example/trips/AE-10001/pay?instalment=INS1"), "{last}");
    assert!(last.contains("will not try again") && last.contains(&f.brand));
    assert!(mails[0].to_string().contains("try again on"));
    // The overview: the failed collection state and a pending action to pay by hand.
    assert_eq!(i.collection_state(), portal_domain::schedule::CollectionState::Failed);
    let bookings = bookings::State::new(f.env.store(), sessions());
    let req = ApiRequest::new("GET", &format!("/bookings/{REF}"))
        .route("/bookings/{reference}")
        .path_param("reference", REF)
        .bearer(&token)
        .build();
    let o = body_json(&bookings::handle(&bookings, req).await.unwrap_or_else(|e| match e {}));
    let row = o["instalments"].as_array().unwrap().iter().find(|r| r["id"] == "INS1").unwrap().clone();
    assert_eq!((row["collection"].as_str(), row["collection_attempts"].as_u64()), (Some("failed"), Some(3)), "{row}");
    let actions: Vec<&str> =
        o["pending_actions"].as_array().unwrap().iter().filter_map(|a| a["type"].as_str()).collect();
    assert!(actions.contains(&"instalment_payment_failed"), "{actions:?}");
    f.assert_events_match_schema().await;
}

#[tokio::test]
async fn a_gateway_timeout_is_retried_next_run_with_the_same_key() {
    let f = fx().await;
    let token = f.with_saved_card().await;
    assert_eq!(f.approve(&token, "INS1").await.status(), 200);
    f.sandbox.fail_next(vec![GatewayError::Timeout]);
    let r = f.run(later(30)).await;
    assert_eq!(r.interrupted, 1, "{r:?}");
    assert_eq!(f.status("INS1").await, InstalmentStatus::Approved);
    let r = f.run(later(30) + Duration::minutes(5)).await;
    assert_eq!(r.charged, 1, "{r:?}");
    let keys = f.sandbox.keys();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1], "the same idempotency key");
    assert_eq!(f.sandbox.off_session_payments().len(), 1);
    assert_eq!(f.deliver().await, vec!["recorded"]);
    assert_eq!(f.status("INS1").await, InstalmentStatus::Paid);
}

#[tokio::test]
async fn a_gateway_refusal_that_is_not_a_decline_emails_nobody_and_is_retried() {
    let f = fx().await;
    let token = f.with_saved_card().await;
    assert_eq!(f.approve(&token, "INS1").await.status(), 200);
    // A revoked API key: our fault. Nothing recorded as the customer's failure, no email, retried next run.
    f.sandbox.fail_next(vec![GatewayError::Rejected {
        status: 401,
        code: "".into(),
        message: "Invalid API Key provided".into(),
    }]);
    let r = f.run(later(30)).await;
    assert_eq!((r.interrupted, r.declined, r.emails), (1, 0, 0), "{r:?}");
    assert_eq!(f.status("INS1").await, InstalmentStatus::Approved);
    assert_eq!(count(&f.booking().await, MovementKind::PaymentFailed), 0);
    assert!(f.mails("ada@example.com").await.is_empty());
    let r = f.run(later(30) + Duration::minutes(5)).await;
    assert_eq!(r.charged, 1, "{r:?}");
    assert_eq!(f.deliver().await, vec!["recorded"]);
}

#[tokio::test]
async fn a_bank_asking_for_the_cardholder_ends_automatic_attempts_and_says_so() {
    let f = fx().await;
    let token = f.with_saved_card().await;
    assert_eq!(f.approve(&token, "INS1").await.status(), 200);
    f.sandbox.fail_next(vec![GatewayError::Rejected {
        status: 402,
        code: "authentication_required".into(),
        message: "This payment requires authentication.".into(),
    }]);
    let r = f.run(later(30)).await;
    assert_eq!((r.declined, r.emails), (1, 1), "{r:?}");
    let c = f.booking().await;
    let i = c.instalments.iter().find(|i| i.id == "INS1").unwrap();
    assert_eq!((i.status, i.next_attempt_at), (InstalmentStatus::Failed, None), "no retry can help");
    let mails = f.mails("ada@example.com").await;
    assert_eq!(mails.len(), 1);
    let text = mails[0].to_string();
    assert!(text.contains("confirm this payment yourself") && text.contains("/pay?instalment=INS1"), "{text}");
    assert_eq!(f.run(later(40)).await.due, 0);
}

#[tokio::test]
async fn a_runner_that_crashed_mid_charge_is_taken_over_after_the_lease_without_a_second_charge() {
    let f = fx().await;
    let token = f.with_saved_card().await;
    assert_eq!(f.approve(&token, "INS1").await.status(), 200);
    let at = later(30);
    assert_eq!(f.run(at).await.charged, 1);
    // The webhook is lost; the instalment stays processing. Within the lease nothing happens; after it the same
    // charge id goes to the gateway again, which answers with the same payment.
    let _lost = f.sandbox.take_deliveries(Utc::now().timestamp());
    assert_eq!(f.run(at + Duration::minutes(10)).await.charged, 0);
    assert_eq!(f.run(at + Duration::minutes(31)).await.charged, 1);
    let keys = f.sandbox.keys();
    assert_eq!((keys.len(), keys[0] == keys[1]), (2, true));
    assert_eq!(f.sandbox.off_session_payments().len(), 1, "one payment at the gateway");
}

#[tokio::test]
async fn withdrawal_before_the_due_date_stops_the_charge() {
    let f = fx().await;
    let token = f.with_saved_card().await;
    assert_eq!(f.approve_all(&token).await.status(), 200);
    let r = f.withdraw(&token, "INS1").await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(body_json(&r)["changed"][0]["collection"], "not_scheduled");
    let c = f.booking().await;
    assert_eq!(count(&c, MovementKind::ApprovalWithdrawn), 1);
    assert!(f.outbox_types().await.contains(&"instalment.withdrawn".to_string()));
    let r = f.run(later(30)).await;
    assert_eq!((r.due, r.charged), (0, 0));
    assert!(f.sandbox.off_session_payments().is_empty());
    // Withdrawing again: not approved.
    assert_problem(&f.withdraw(&token, "INS1").await, 409, "instalment-not-approved");
    // A withdrawal once processing is refused.
    f.run(later(60)).await;
    assert_eq!(f.status("BAL").await, InstalmentStatus::Processing);
    assert_problem(&f.withdraw(&token, "BAL").await, 409, "instalment-processing");
    assert_problem(&f.approve(&token, "BAL").await, 409, "instalment-processing");
}

#[tokio::test]
async fn concurrent_approve_and_withdraw_leave_a_consistent_state() {
    let f = fx().await;
    let token = f.with_saved_card().await;
    assert_eq!(f.approve(&token, "INS1").await.status(), 200);
    for _ in 0..3 {
        let (a, w) = tokio::join!(f.approve(&token, "INS1"), f.withdraw(&token, "INS1"));
        assert!(a.status().as_u16() < 500 && w.status().as_u16() < 500, "{} {}", body_json(&a), body_json(&w));
        let c = f.booking().await;
        let i = c.instalments.iter().find(|i| i.id == "INS1").unwrap();
        // The stored state is the last applied request's; the ledger's evidence agrees with it.
        let approvals = count(&c, MovementKind::InstalmentApproved);
        let withdrawals = count(&c, MovementKind::ApprovalWithdrawn);
        let approved = i.status == InstalmentStatus::Approved;
        assert_eq!(approved, i.approval.is_some());
        assert_eq!(approved, approvals > withdrawals, "{approvals} approvals, {withdrawals} withdrawals");
        if !approved {
            assert_eq!(f.approve(&token, "INS1").await.status(), 200);
        }
    }
}

#[tokio::test]
async fn bad_inputs_are_precise_problems_and_write_nothing() {
    let f = fx().await;
    f.seed(REF, &seed::gbp_booking(today())).await;
    let token = f.sign_in(REF, "T1", "ada@example.com", true).await;
    let mut cancelled = seed::gbp_booking(today());
    cancelled["status"] = json!("cancelled");
    f.seed("AE-90009", &cancelled).await;
    let cancelled_token = f.sign_in("AE-90009", "T1", "ada@example.com", true).await;
    f.seed("ST-30003", &seed::jpy_booking(today())).await;
    let items = f.env.all_items().await.len();

    // No card saved yet: 409 telling the front end to set one up (and that Pay by Bank cannot be reused).
    let r = f.approve(&token, "INS1").await;
    assert_problem(&r, 409, "payment-method-required");
    let d = body_json(&r)["detail"].as_str().unwrap().to_string();
    assert!(d.contains("/bookings/AE-10001/payment-methods") && d.contains("Pay by Bank"), "{d}");
    assert_problem(&f.approve_all(&token).await, 409, "payment-method-required");
    let ob = json!({"method": "open_banking"});
    let path = format!("/bookings/{REF}/instalments/INS1/approval");
    assert_problem(&f.call("POST", &path, &token, Some(&key()), Some(&ob)).await, 422, "method-not-reusable");
    assert_problem(&f.call("POST", &path, &token, None, None).await, 400, "bad-request");
    assert_eq!(f.env.all_items().await.len(), items, "nothing written");

    // With a card.
    let r = f.call("POST", &format!("/bookings/{REF}/payment-methods"), &token, Some(&key()), None).await;
    let d =
        f.sandbox.act_setup(body_json(&r)["setup_intent_id"].as_str().unwrap(), Action::Pay, Utc::now().timestamp());
    let d = d.unwrap().remove(0);
    assert_eq!(f.hook(&d.body, &d.signature).await.status(), 200);
    let cases: Vec<(&str, Response<Body>, u16, &str)> = vec![
        ("unknown instalment", f.approve(&token, "NOPE").await, 404, "instalment-not-found"),
        ("malformed instalment id", f.approve(&token, "..%2F").await, 404, "instalment-not-found"),
        (
            "instalment of another booking",
            f.call("POST", "/bookings/ST-30003/instalments/DEP/approval", &token, Some(&key()), None).await,
            404,
            "not-found",
        ),
        ("already paid deposit", f.approve(&token, "DEP").await, 409, "instalment-paid"),
        ("withdraw never approved", f.withdraw(&token, "INS1").await, 409, "instalment-not-approved"),
        (
            "cancelled booking",
            f.call("POST", "/bookings/AE-90009/instalments/INS1/approval", &cancelled_token, Some(&key()), None).await,
            409,
            "booking-cancelled",
        ),
        (
            "other booking's reference",
            f.call("POST", "/bookings/ST-30003/instalments/approval", &token, Some(&key()), None).await,
            404,
            "not-found",
        ),
        (
            "unknown card",
            f.call("POST", &path, &token, Some(&key()), Some(&json!({"payment_method_id": "pm_nope"}))).await,
            422,
            "validation-error",
        ),
        (
            "unknown field",
            f.call("POST", &path, &token, Some(&key()), Some(&json!({"card_number": "x"}))).await,
            422,
            "validation-error",
        ),
        (
            "body on a withdrawal",
            f.call("DELETE", &path, &token, Some(&key()), Some(&json!({}))).await,
            400,
            "bad-request",
        ),
    ];
    for (what, r, status, kind) in &cases {
        assert_eq!(r.status(), *status, "{what}: {}", body_json(r));
        assert_eq!(body_json(r)["type"], format!("/problems/{kind}"), "{what}: {}", body_json(r));
    }
    let c = f.booking().await;
    assert_eq!(count(&c, MovementKind::InstalmentApproved) + count(&c, MovementKind::ApprovalWithdrawn), 0);
    // No session: 401.
    let r = ApiRequest::new("POST", &path)
        .route("/bookings/{reference}/instalments/{id}/approval")
        .path_param("reference", REF)
        .path_param("id", "INS1")
        .header("idempotency-key", "k")
        .build();
    assert_eq!(instalments::handle(&f.api, r).await.unwrap_or_else(|e| match e {}).status(), 401);

    // Idempotency: the same key replays, another request with it is 422.
    let k = key();
    let first = f.call("POST", &path, &token, Some(&k), None).await;
    assert_eq!(first.status(), 200);
    let again = f.call("POST", &path, &token, Some(&k), None).await;
    assert_eq!(body_json(&again), body_json(&first));
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_problem(&f.call("DELETE", &path, &token, Some(&k), None).await, 422, "idempotency-key-reused");
    assert_eq!(count(&f.booking().await, MovementKind::InstalmentApproved), 1);
}

#[tokio::test]
async fn sample_events_are_real_requests() {
    // events/instalments/*.json and events/instalment-runner/*.json feed `cargo lambda invoke --data-file`.
    let f = fx().await;
    let token = f.with_saved_card().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let load = |dir: &str, name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root.join(dir).join(name)).unwrap()).unwrap()
    };
    let pm = f.booking().await;
    let pm = portal_store::payments::saved_methods(&pm).remove(0).payment_method_id;
    for (name, status) in [
        ("list-cards.json", 200),
        ("approve-open-banking-refused.json", 422),
        ("approve-instalment.json", 200),
        ("withdraw-approval.json", 200),
        ("approve-instalment-with-card.json", 200),
        ("approve-all.json", 200),
        ("set-up-card.json", 201),
    ] {
        let mut ev = load("instalments", name);
        ev["cookies"] = json!([format!("{}={token}", portal_http::session::COOKIE_NAME)]);
        if ev["headers"].get("idempotency-key").is_some() {
            ev["headers"]["idempotency-key"] = json!(key());
        }
        if let Some(b) = ev["body"].as_str() {
            ev["body"] = json!(b.replace("REPLACE_WITH_A_SAVED_PAYMENT_METHOD_ID", &pm));
        }
        let req = lambda_http::request::from_str(&ev.to_string()).unwrap();
        let r = instalments::handle(&f.api, req).await.unwrap();
        assert_eq!(r.status(), status, "{name}: {}", body_json(&r));
    }
    let scheduled = load("instalment-runner", "scheduled-event.json");
    let report = instalment_runner::handle(&f.runner, scheduled, || later(61)).await.unwrap();
    assert_eq!(report.charged, 2, "{report:?}");
}

#[tokio::test]
async fn a_traveller_cannot_commit_or_withdraw_anothers_card() {
    let f = fx().await;
    let lead = f.with_saved_card().await;
    let t2 = f.sign_in(REF, "T2", "charles@example.com", false).await;
    // The lead's card is not T2's to approve charges to, nor to see.
    assert_problem(&f.approve(&t2, "INS1").await, 409, "payment-method-required");
    let cards = f.call("GET", &format!("/bookings/{REF}/payment-methods"), &t2, None, None).await;
    assert_eq!(body_json(&cards)["payment_methods"], json!([]));
    let pm = portal_store::payments::saved_methods(&f.booking().await).remove(0).payment_method_id;
    let path = format!("/bookings/{REF}/instalments/INS1/approval");
    let named = f.call("POST", &path, &t2, Some(&key()), Some(&json!({"payment_method_id": pm}))).await;
    assert_problem(&named, 422, "validation-error");
    // The lead's approval cannot be withdrawn by T2; the lead can.
    assert_eq!(f.approve(&lead, "INS1").await.status(), 200);
    assert_problem(&f.withdraw(&t2, "INS1").await, 403, "forbidden");
    assert_eq!(f.status("INS1").await, InstalmentStatus::Approved);
    assert_eq!(f.withdraw(&lead, "INS1").await.status(), 200);
    f.assert_events_match_schema().await;
}

#[tokio::test]
async fn round_trips_of_an_approval_and_of_a_run() {
    let f = fx().await;
    let token = f.with_saved_card().await;
    let calls = |f: &Fx| -> Vec<(String, u64)> { f.env.counter.snapshot().into_iter().collect() };
    let pair = |op: &str, n: u64| (format!("DynamoDB.{op}"), n);
    f.env.counter.reset();
    let started = std::time::Instant::now();
    assert_eq!(f.approve_all(&token).await.status(), 200);
    let approve_ms = started.elapsed().as_millis();
    // The booking (one Query), the idempotency record, one transaction.
    assert_eq!(calls(&f), vec![pair("GetItem", 1), pair("Query", 1), pair("TransactWriteItems", 1)]);
    f.env.counter.reset();
    let started = std::time::Instant::now();
    assert_eq!(f.run(later(61)).await.charged, 2);
    let run_ms = started.elapsed().as_millis();
    // The index (one Query), the booking lease (PutItem, DeleteItem), per instalment: the booking (Query), the
    // take (TransactWriteItems), then under the booking's payment lock (PutItem, DeleteItem) the booking again
    // (Query: no checkout may have opened for it since the take). No Scan.
    assert_eq!(
        calls(&f),
        vec![pair("DeleteItem", 3), pair("PutItem", 3), pair("Query", 5), pair("TransactWriteItems", 2)]
    );
    eprintln!(
        "moto: approve-all {approve_ms} ms; a run charging 2 instalments {run_ms} ms (sandbox latency 20 ms a call)"
    );
}

#[tokio::test]
async fn a_decline_reported_only_by_the_webhook_is_recorded_once_and_retried() {
    // The runner took the instalment and the gateway declined, but the runner died before recording it: the
    // gateway's payment_intent.payment_failed webhook records the decline and plans the retry; a redelivery
    // changes nothing.
    let f = fx().await;
    let token = f.with_saved_card().await;
    assert_eq!(f.approve(&token, "INS1").await.status(), 200);
    let at = later(30);
    let c = f.booking().await;
    let i = c.instalments.iter().find(|i| i.id == "INS1").unwrap();
    let taken = portal_domain::schedule::start_attempt(i, REF, i.amount, at, Duration::minutes(30)).unwrap();
    let charge = taken.charge_id.clone().unwrap();
    let w = portal_store::instalments::ScheduleWrite {
        reference: REF.into(),
        version: c.version,
        instalments: vec![taken],
        ..Default::default()
    };
    f.env.store().write_schedule(&w, at).await.unwrap();
    let card = portal_store::payments::saved_methods(&c).remove(0);
    f.sandbox.decline_off_session(1);
    let req = portal_gateway::CreatePayment {
        amount: i.amount,
        method: portal_gateway::Method::Card,
        idempotency_key: charge.clone(),
        description: "crash test".into(),
        metadata: portal_gateway::PaymentMetadata {
            booking_reference: REF.into(),
            checkout_id: charge.clone(),
            movement_id: "mov_x".into(),
            traveller_id: None,
        },
        customer_email: None,
        save_card: false,
        customer_id: Some(card.customer_id.clone()),
        off_session: Some(portal_gateway::SavedCard {
            customer_id: card.customer_id.clone(),
            payment_method_id: card.payment_method_id.clone(),
        }),
    };
    use portal_gateway::PaymentGateway;
    assert!(f.sandbox.create_payment(&req).await.unwrap_err().is_decline());
    let deliveries = f.sandbox.take_deliveries(Utc::now().timestamp());
    assert_eq!(deliveries.len(), 1);
    let r = f.hook(&deliveries[0].body, &deliveries[0].signature).await;
    assert_eq!(body_json(&r)["outcome"], "failure_recorded", "{}", body_json(&r));
    let c = f.booking().await;
    let i = c.instalments.iter().find(|i| i.id == "INS1").unwrap();
    assert_eq!((i.status, i.attempts), (InstalmentStatus::Failed, 1));
    assert!(i.next_attempt_at.is_some(), "a retry is planned");
    assert_eq!(count(&c, MovementKind::PaymentFailed), 1);
    // The customer is told, with the pay-by-hand link (the webhook function's PORTAL_URL).
    let mails = f.mails("ada@example.com").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].to_string().contains("https://portal.example/trips/AE-10001/pay?instalment=INS1"));
    // Redelivered: nothing new.
    let r = f.hook(&deliveries[0].body, &deliveries[0].signature).await;
    assert_eq!(body_json(&r)["outcome"], "duplicate");
    assert_eq!(count(&f.booking().await, MovementKind::PaymentFailed), 1);
    assert_eq!(f.mails("ada@example.com").await.len(), 1);
}

#[tokio::test]
async fn stripe_client_sends_exact_set_up_and_off_session_requests() {
    use portal_gateway::{CreatePayment, CreateSetup, Method, PaymentGateway, PaymentMetadata, SavedCard};
    let (base, double) = stripe_double().await;
    let stripe =
        portal_gateway::stripe::StripeGateway::new(&base, "sk_test_123", std::time::Duration::from_millis(800))
            .unwrap();
    let setup = CreateSetup {
        idempotency_key: "set_abc".into(),
        booking_reference: REF.into(),
        setup_id: "set_abc".into(),
        traveller_id: "T1".into(),
        customer_id: None,
        customer_email: Some("ada@example.com".into()),
    };
    let created = stripe.create_setup(&setup).await.unwrap();
    assert_eq!((created.setup_intent_id.as_str(), created.customer_id.as_str()), ("seti_double", "cus_double"));
    assert_eq!(created.setup_url, None);
    let charge = CreatePayment {
        amount: portal_domain::money::Money::from_minor(100_000, portal_domain::money::Currency::Gbp).unwrap(),
        method: Method::Card,
        idempotency_key: "ichg_1".into(),
        description: "Booking AE-10001, instalment INS1".into(),
        metadata: PaymentMetadata {
            booking_reference: REF.into(),
            checkout_id: "ichg_1".into(),
            movement_id: "mov_1".into(),
            traveller_id: None,
        },
        customer_email: None,
        save_card: false,
        customer_id: Some("cus_1".into()),
        off_session: Some(SavedCard { customer_id: "cus_1".into(), payment_method_id: "pm_1".into() }),
    };
    assert_eq!(stripe.create_payment(&charge).await.unwrap().status, "succeeded");
    let seen = double.seen.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|(_, p, _, _)| p.as_str()).collect();
    assert_eq!(paths, vec!["/v1/customers", "/v1/setup_intents", "/v1/payment_intents"], "no customer for a charge");
    for (_, _, h, _) in &seen {
        assert_eq!(h["authorization"], "Bearer sk_test_123");
        assert_eq!(h["stripe-version"], portal_gateway::stripe::STRIPE_VERSION);
        assert_eq!(h["content-type"], "application/x-www-form-urlencoded");
    }
    assert_eq!(seen[0].2["idempotency-key"], "set_abc-customer");
    assert!(seen[0].3.contains("email=ada%40example.com"));
    assert_eq!(seen[1].2["idempotency-key"], "set_abc");
    assert_eq!(
        seen[1].3,
        "customer=cus_double&usage=off_session&allowed_payment_method_types%5B0%5D=card&metadata%5Bbooking_reference%5D=AE-10001\
&metadata%5Bsetup_id%5D=set_abc&metadata%5Btraveller_id%5D=T1"
    );
    assert_eq!(seen[2].2["idempotency-key"], "ichg_1");
    for part in [
        "amount=100000",
        "currency=gbp",
        "customer=cus_1",
        "payment_method=pm_1",
        "off_session=true",
        "confirm=true",
        "metadata%5Bcheckout_id%5D=ichg_1",
    ] {
        assert!(seen[2].3.split('&').any(|p| p == part), "{part} not in {}", seen[2].3);
    }
    assert!(!seen[2].3.contains("setup_future_usage"));

    // A declined off-session confirmation (402) is a decline, not an outage.
    let (base, double) = stripe_double().await;
    *double.mode.lock().unwrap() = "decline";
    let stripe =
        portal_gateway::stripe::StripeGateway::new(&base, "sk_test_123", std::time::Duration::from_millis(800))
            .unwrap();
    let e = stripe.create_payment(&charge).await.unwrap_err();
    assert!(e.is_decline(), "{e:?}");
    assert!(
        matches!(e, portal_gateway::GatewayError::Rejected { status: 402, ref code, .. } if code == "card_declined")
    );
}

#[tokio::test]
async fn checkout_never_asks_again_for_an_instalment_being_collected() {
    let f = fx().await;
    let token = f.with_saved_card().await;
    assert_eq!(f.approve_all(&token).await.status(), 200);
    let due = f.run(later(30)).await;
    assert_eq!(due.charged, 1, "{due:?}");
    assert_eq!(f.status("INS1").await, InstalmentStatus::Processing);

    // While INS1 is on its way from the approved card, paying the balance by hand covers only the rest.
    let checkout = ::checkout::State::new(f.env.store(), sessions(), f.sandbox.clone());
    let pay = |body: Value| {
        ApiRequest::new("POST", &format!("/bookings/{REF}/payments"))
            .route("/bookings/{reference}/payments")
            .path_param("reference", REF)
            .bearer(&token)
            .header("idempotency-key", &key())
            .json(&body)
            .build()
    };
    let r = ::checkout::handle(&checkout, pay(json!({"pay": "balance", "method": "card"}))).await.unwrap();
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    assert_eq!(body_json(&r)["amount"]["amount"], "1580.50");
    assert_eq!(body_json(&r)["instalment_ids"], json!(["BAL"]));
    let r =
        ::checkout::handle(&checkout, pay(json!({"pay": "instalments", "instalment_ids": ["INS1"], "method": "card"})))
            .await
            .unwrap();
    assert_eq!(r.status(), 409, "{}", body_json(&r));
}

impl Fx {
    /// The customer opens a checkout for `INS1` in the portal (as the signed-in `token`).
    async fn customer_checkout(&self, token: &str) -> String {
        let checkout = ::checkout::State::new(self.env.store(), sessions(), self.sandbox.clone());
        let req = ApiRequest::new("POST", &format!("/bookings/{REF}/payments"))
            .route("/bookings/{reference}/payments")
            .path_param("reference", REF)
            .bearer(token)
            .header("idempotency-key", &key())
            .json(&json!({"pay": "instalments", "instalment_ids": ["INS1"], "method": "card"}))
            .build();
        let r = ::checkout::handle(&checkout, req).await.unwrap_or_else(|e| match e {});
        assert_eq!(r.status(), 201, "{}", body_json(&r));
        body_json(&r)["payment_id"].as_str().unwrap().to_string()
    }
}

#[tokio::test]
async fn the_runner_cancels_an_unpaid_checkout_for_the_instalment_before_charging_it() {
    let f = fx().await;
    let token = f.with_saved_card().await;
    assert_eq!(f.approve(&token, "INS1").await.status(), 200);
    let pid = f.customer_checkout(&token).await;
    let r = f.run(later(30)).await;
    assert_eq!(r.charged, 1, "{r:?}");
    assert_eq!(f.sandbox.status(&pid).as_deref(), Some("canceled"), "the open checkout can no longer take money");
    assert!(f.sandbox.act(&pid, Action::Pay, Utc::now().timestamp()).is_err());
    let c = f.booking().await;
    let intent = portal_store::payments::intents(&c).into_iter().find(|i| i.gateway_payment_id == pid).unwrap();
    assert_eq!(intent.status, "cancelled");
    assert_eq!(f.deliver().await, vec!["recorded"]);
    assert_eq!(f.outstanding().await, "1580.50", "charged once");
}

#[tokio::test]
async fn a_customer_who_paid_the_instalment_themselves_is_not_charged_again_by_the_runner() {
    let f = fx().await;
    let token = f.with_saved_card().await;
    assert_eq!(f.approve(&token, "INS1").await.status(), 200);
    let pid = f.customer_checkout(&token).await;
    // The customer pays at the gateway; the runner comes before the webhook.
    let paid = f.sandbox.act(&pid, Action::Pay, Utc::now().timestamp()).unwrap().remove(0);
    let r = f.run(later(30)).await;
    assert_eq!((r.charged, r.interrupted), (0, 1), "{r:?}");
    assert!(f.sandbox.off_session_payments().is_empty(), "no off-session charge");
    assert_eq!(f.status("INS1").await, InstalmentStatus::Approved);
    let r = f.hook(&paid.body, &paid.signature).await;
    assert_eq!(body_json(&r)["outcome"], "recorded");
    // The next run finds it covered: paid, nothing charged.
    let r = f.run(later(30) + Duration::minutes(5)).await;
    assert_eq!((r.charged, r.settled), (0, 1), "{r:?}");
    assert!(f.sandbox.off_session_payments().is_empty());
    assert_eq!(f.outstanding().await, "1580.50");
}

impl Fx {
    /// The daily plan at `at`, then the relay and the mailer at `at`: how many notices the plan wrote.
    async fn plan_and_mail(&self, mail: &notifications::State, at: DateTime<Utc>) -> usize {
        let planned = notifications::relay::plan(mail, at).await.unwrap();
        portal_tests::notices::flush(mail, at).await;
        planned
    }

    /// This fixture's emails to Ada whose subject contains `part`.
    fn subjects_with(&self, part: &str) -> Vec<Value> {
        self.env
            .emails_to("ada@example.com")
            .into_iter()
            .filter(|m| m["subject"].as_str().is_some_and(|s| s.contains(&self.brand) && s.contains(part)))
            .collect()
    }
}

#[tokio::test]
async fn reminders_follow_the_clock_once_per_offset_and_never_for_approved_instalments() {
    let f = fx().await;
    let token = f.with_saved_card().await;
    let reminders = || f.subjects_with("payment due soon");
    // INS1 is due in 30 days, BAL in 60; reminders go 14 and 3 days before (REMINDER_DAYS=14,3).
    assert_eq!(f.plan_and_mail(&f.mail, Utc::now()).await, 0);
    assert!(reminders().is_empty());
    assert_eq!(f.plan_and_mail(&f.mail, later(16)).await, 1);
    let first = reminders();
    assert_eq!(first.len(), 1);
    let body = first[0]["body"].as_str().unwrap();
    assert!(body.contains("£1,000.00") && !body.contains("£1,580.50"), "INS1 only: {body}");
    assert!(body.contains("/notifications/unsubscribe?token="), "a reminder is optional: one-click unsubscribe");
    // The same day again, the next day (same offset): nothing new. Three days before: the second reminder.
    assert_eq!(f.plan_and_mail(&f.mail, later(16)).await, 0);
    assert_eq!(f.plan_and_mail(&f.mail, later(17)).await, 0);
    assert_eq!(reminders().len(), 1);
    assert_eq!(f.plan_and_mail(&f.mail, later(27)).await, 1);
    assert_eq!(reminders().len(), 2);

    // BAL's reminder is planned, then Ada approves automatic payment before the mailer runs: it is not sent.
    assert_eq!(notifications::relay::plan(&f.mail, later(46)).await.unwrap(), 1);
    let r = f.approve_all(&token).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    portal_tests::notices::flush(&f.mail, later(46)).await;
    assert_eq!(reminders().len(), 2, "approved meanwhile: no reminder");
    // Approved instalments get no reminder at all...
    assert_eq!(f.plan_and_mail(&f.mail, later(57)).await, 0);
    assert_eq!(reminders().len(), 2);
    // ...only the brand's optional pre-charge notice, when it has one (before_charge_days = 3).
    let brands = json!({"alpine-escapes": {"name": f.brand, "primary_colour": "#0a7c59", "notifications": {"before_charge_days": 3}}});
    let pre = portal_tests::notices::with_brands(
        &f.env,
        "https://portal.example",
        auth::Brands::parse(Some(&brands.to_string()), &f.env.sender).unwrap(),
    )
    .await;
    assert_eq!(f.plan_and_mail(&pre, later(50)).await, 0, "more than 3 days before");
    assert_eq!(f.plan_and_mail(&pre, later(57)).await, 1);
    let soon = f.subjects_with("upcoming automatic payment");
    assert_eq!(soon.len(), 1);
    assert!(soon[0]["body"].as_str().unwrap().contains("£1,580.50"));
    assert_eq!(f.plan_and_mail(&pre, later(58)).await, 0, "once per instalment week");
    assert_eq!(reminders().len(), 2);
}

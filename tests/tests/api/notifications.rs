//! Customer notifications end to end on moto: the writers put notices into the outbox, the relay queues them on
//! SQS, the mailer sends through SES (read back from moto's mailbox), and the unsubscribe and operator routes.
//! Instalment reminders at moved clocks are in `instalments.rs` (they need approvals); receipts and decline
//! emails in `checkout.rs` and `instalments.rs`; the suppressed sign-in in `auth.rs`.

use chrono::{Duration, Utc};
use lambda_http::{Body, Response};
use portal_http::operator::OperatorAuth;
use portal_tests::customer::{OPERATOR_KEY, assert_problem, seed_booking, sessions, sign_in, today};
use portal_tests::notices::{self, flush, flush_now};
use portal_tests::{ApiRequest, TestEnv, body_json, seed};
use serde_json::{Value, json};

const PORTAL: &str = "https://portal.example";

struct Nx {
    env: TestEnv,
    mail: notifications::State,
    reference: String,
    tag: String,
    booking: Value,
}

impl Nx {
    /// A confirmed GBP booking (Ada lead, Charles), addresses unique to the test (moto's mailbox is shared).
    async fn new(reference: &str) -> Nx {
        Nx::with(reference, seed::gbp_booking(today())).await
    }

    async fn with(reference: &str, mut booking: Value) -> Nx {
        let env = TestEnv::new().await;
        let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
        for t in booking["travellers"].as_array_mut().unwrap() {
            if let Some(e) = t["email"].as_str() {
                let who = e.split('@').next().unwrap().to_string();
                t["email"] = json!(format!("{who}-{tag}@example.com"));
            }
        }
        let mut mail = notices::state(&env, PORTAL).await;
        mail.auth = Some(OperatorAuth::key(OPERATOR_KEY).unwrap());
        Nx { env, mail, reference: reference.into(), tag, booking }
    }

    fn ada(&self) -> String {
        format!("ada-{}@example.com", self.tag)
    }

    fn charles(&self) -> String {
        format!("charles-{}@example.com", self.tag)
    }

    async fn push(&self) {
        seed_booking(&self.env, &self.reference, &self.booking).await;
    }

    fn subjects(&self, to: &str) -> Vec<String> {
        self.env.emails_to(to).iter().map(|m| m["subject"].as_str().unwrap_or_default().to_string()).collect()
    }

    async fn call(&self, req: ApiRequest) -> Response<Body> {
        notifications::http::handle(&self.mail, req.build()).await.unwrap_or_else(|e| match e {})
    }

    async fn operator_emails(&self) -> Value {
        let r = self
            .call(
                ApiRequest::new("GET", &format!("/operator/bookings/{}/emails", self.reference))
                    .route("/operator/bookings/{reference}/emails")
                    .path_param("reference", &self.reference)
                    .bearer(OPERATOR_KEY),
            )
            .await;
        assert_eq!(r.status(), 200, "{}", body_json(&r));
        body_json(&r)
    }

    /// Every delivery the operator view lists, as (kind, traveller, status, reason).
    async fn deliveries(&self) -> Vec<(String, String, String, String)> {
        let v = self.operator_emails().await;
        let mut out = Vec::new();
        for n in v["notices"].as_array().unwrap() {
            for d in n["deliveries"].as_array().unwrap() {
                out.push((
                    n["kind"].as_str().unwrap().to_string(),
                    d["traveller_id"].as_str().unwrap().to_string(),
                    d["status"].as_str().unwrap().to_string(),
                    d["reason"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
        out
    }

    /// The unsubscribe link of the last email to `to` (the footer and the List-Unsubscribe header carry it).
    fn unsubscribe_token(&self, to: &str) -> String {
        let mails = self.env.emails_to(to);
        let body = mails.last().expect("an email")["body"].as_str().unwrap().to_string();
        let at = body.find("/notifications/unsubscribe?token=").expect("an unsubscribe link") + 33;
        body[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect()
    }

    fn unsubscribe(&self, method: &str, token: &str) -> ApiRequest {
        let r = ApiRequest::new(method, "/notifications/unsubscribe").route("/notifications/unsubscribe");
        let r = if token.is_empty() { r } else { r.query("token", token) };
        if method == "POST" {
            r.header("content-type", "application/x-www-form-urlencoded").raw_body("List-Unsubscribe=One-Click")
        } else {
            r
        }
    }

    /// The operator pushes a changed itinerary and a renamed traveller.
    fn change_itinerary(&mut self) {
        self.booking["itinerary"][2]["title"] = json!("Five Lakes walk with a picnic");
        self.booking["travellers"][1]["first_name"] = json!("Charlie");
    }
}

fn html(r: &Response<Body>) -> String {
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    String::from_utf8(portal_tests::apigw::body_bytes(r)).unwrap()
}

#[tokio::test]
async fn a_confirmed_booking_emails_the_party_once_in_its_locale_with_a_link_into_the_app() {
    let f = Nx::new("AE-21001").await;
    f.push().await;
    // Nothing is sent by the write itself: the notice waits in the outbox for the relay.
    assert!(f.env.emails_to(&f.ada()).is_empty());
    let flushed = flush_now(&f.mail).await;
    assert_eq!((flushed.relayed, flushed.handled, flushed.failed), (1, 1, 0), "{flushed:?}");
    for to in [f.ada(), f.charles()] {
        assert_eq!(f.subjects(&to), vec!["Alpine Escapes: booking AE-21001 confirmed"], "{to}");
    }
    let body = f.env.emails_to(&f.ada())[0]["body"].as_str().unwrap().to_string();
    assert!(body.contains("Hello Ada,") && body.contains("href=\"https://portal.example/trips/AE-21001\""), "{body}");
    assert!(!body.contains("unsubscribe"), "a confirmation is transactional: no unsubscribe link");
    // Flushing again, or pushing the same booking again, sends nothing more.
    assert_eq!(flush_now(&f.mail).await, notices::Flushed::default());
    f.push().await;
    flush_now(&f.mail).await;
    assert_eq!(f.subjects(&f.ada()).len(), 1);
    let sent = f.deliveries().await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|(kind, _, status, _)| kind == "booking_confirmed" && status == "sent"), "{sent:?}");

    // A provisional German booking: no email until the operator confirms it, then one in German.
    let mut de = Nx::with("AE-21002", seed::eur_booking(today())).await;
    de.push().await;
    flush_now(&de.mail).await;
    let lead = de.booking["travellers"][0]["email"].as_str().unwrap().to_string();
    assert!(de.subjects(&lead).is_empty(), "provisional: nothing to confirm yet");
    de.booking["status"] = json!("confirmed");
    de.push().await;
    flush_now(&de.mail).await;
    assert_eq!(de.subjects(&lead), vec!["Alpine Escapes: Buchung AE-21002 bestätigt"]);
    assert!(de.env.emails_to(&lead)[0]["body"].as_str().unwrap().contains("lang=\"de-DE\""));
}

#[tokio::test]
async fn operator_changes_are_described_in_words_and_a_burst_becomes_one_digest() {
    let mut f = Nx::new("AE-21003").await;
    f.mail.digest_quiet = Duration::minutes(10);
    f.mail.digest_max_hold = Duration::minutes(60);
    f.push().await;
    flush_now(&f.mail).await;
    // Two pushes a moment apart: held while the booking is still being edited...
    f.change_itinerary();
    f.push().await;
    f.booking["price_lines"][2]["amount"] = json!("190.50");
    f.booking["schedule"][2]["amount"] = json!("1590.50");
    f.push().await;
    let held = flush_now(&f.mail).await;
    assert_eq!((held.relayed, held.handled), (0, 0), "held while the operator is still pushing: {held:?}");
    // ...then one email per traveller naming both changes, once the booking has been quiet for 10 minutes.
    let later = Utc::now() + Duration::minutes(11);
    let sent = flush(&f.mail, later).await;
    assert_eq!((sent.relayed, sent.handled, sent.failed), (2, 1, 0), "{sent:?}");
    let changed: Vec<Value> = f
        .env
        .emails_to(&f.ada())
        .into_iter()
        .filter(|m| m["subject"] == "Alpine Escapes: your booking AE-21003 has changed")
        .collect();
    assert_eq!(changed.len(), 1, "one digest, not one email per push");
    let body = changed[0]["body"].as_str().unwrap();
    for words in ["Five Lakes walk with a picnic", "Traveller name changed", "Charles", "Charlie", "Price"] {
        assert!(body.contains(words), "{words} in {body}");
    }
    assert!(body.contains("/notifications/unsubscribe?token="), "an update is optional: it carries unsubscribe");
    // Charles, renamed, is greeted by his new name.
    let charles = f.env.emails_to(&f.charles());
    assert!(charles.last().unwrap()["body"].as_str().unwrap().contains("Hello Charlie,"));
    assert_eq!(flush(&f.mail, later + Duration::minutes(1)).await, notices::Flushed::default());
}

#[tokio::test]
async fn a_refused_send_is_retried_and_delivered_once() {
    let f = Nx::new("AE-21004").await;
    // The brand's sender is not verified in SES yet: SES refuses (MessageRejected), as the real sandbox does.
    let sender = format!("bookings-{}@unverified.example", f.tag);
    let brands = json!({"alpine-escapes": {"name": "Alpine Escapes", "primary_colour": "#0a7c59", "sender": sender}});
    let mut mail = notices::with_brands(
        &f.env,
        PORTAL,
        portal_mail::Brands::parse(Some(&brands.to_string()), &f.env.sender).unwrap(),
    )
    .await;
    mail.auth = f.mail.auth.clone();
    f.push().await;
    let first = flush_now(&mail).await;
    assert_eq!((first.relayed, first.handled, first.failed), (1, 0, 1), "{first:?}");
    assert!(f.env.emails_to(&f.ada()).is_empty());
    let failed = f.deliveries().await;
    assert!(
        failed.iter().any(|(_, t, status, reason)| t == "T1" && status == "failed" && !reason.is_empty()),
        "{failed:?}"
    );
    // The message is redelivered while SES still refuses: still nothing, still one record per recipient.
    assert_eq!(flush_now(&mail).await.failed, 1);
    // The identity is verified; the next delivery sends each traveller's email exactly once.
    f.env.ses.create_email_identity().email_identity(&sender).send().await.unwrap();
    let ok = flush_now(&mail).await;
    assert_eq!((ok.handled, ok.failed), (1, 0), "{ok:?}");
    assert_eq!(flush_now(&mail).await, notices::Flushed::default());
    assert_eq!(f.subjects(&f.ada()).len(), 1);
    assert_eq!(f.subjects(&f.charles()).len(), 1);
    let done = f.deliveries().await;
    assert_eq!(done.len(), 2, "{done:?}");
    assert!(done.iter().all(|(_, _, status, _)| status == "sent"), "{done:?}");
    let v = f.operator_emails().await;
    let attempts: Vec<u64> =
        v["notices"][0]["deliveries"].as_array().unwrap().iter().map(|d| d["attempts"].as_u64().unwrap()).collect();
    assert!(attempts.iter().all(|a| *a == 3), "two refusals and the send: {attempts:?}");
}

#[tokio::test]
async fn a_duplicated_message_or_a_concurrent_delivery_sends_one_email() {
    let f = Nx::new("AE-21005").await;
    f.push().await;
    // Take the relayed message off the queue by hand, then hand it to the mailer three times, two at once.
    let relayed = notifications::relay::relay(&f.mail, Utc::now()).await.unwrap();
    assert_eq!(relayed.relayed, 1);
    let q = f.mail.queue.as_ref().unwrap();
    let got = q.client.receive_message().queue_url(&q.url).send().await.unwrap();
    let body = got.messages.unwrap()[0].body.clone().unwrap();
    let event = || notices::sqs_event(Some("dup-1"), &body);
    let (a, b) = tokio::join!(
        notifications::mailer::consume(&f.mail, event(), Utc::now()),
        notifications::mailer::consume(&f.mail, event(), Utc::now())
    );
    // A delivery that finds the other mid-send for a recipient asks for a retry (it may be the one that sent
    // the other recipient's email); neither sends a recipient's email twice.
    let retried = a.batch_item_failures.len() + b.batch_item_failures.len();
    assert!(retried <= 2, "{retried}");
    let again = notifications::mailer::consume(&f.mail, event(), Utc::now()).await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(f.subjects(&f.ada()).len(), 1);
    assert_eq!(f.subjects(&f.charles()).len(), 1);
    // The relay does not queue a relayed notice again.
    assert_eq!(notifications::relay::relay(&f.mail, Utc::now()).await.unwrap().relayed, 0);
    // A message naming an unknown notice, or a body that is neither a message nor an SES event, is dropped,
    // not retried forever.
    let stray = json!({"reference": f.reference, "notices": ["ntc_doesnotexist"]}).to_string();
    assert!(
        notifications::mailer::consume(&f.mail, notices::sqs_event(None, &stray), Utc::now())
            .await
            .batch_item_failures
            .is_empty()
    );
    assert!(
        notifications::mailer::consume(&f.mail, notices::sqs_event(None, "{not json"), Utc::now())
            .await
            .batch_item_failures
            .is_empty()
    );
}

#[tokio::test]
async fn cancellation_is_transactional_and_updates_honour_the_travellers_preference() {
    let mut f = Nx::new("AE-21006").await;
    f.push().await;
    flush_now(&f.mail).await;
    // Charles turns booking updates off in the portal (the requests function's preferences route).
    let api = portal_tests::requests::state(&f.env, sessions(), OperatorAuth::key(OPERATOR_KEY).unwrap(), PORTAL);
    let token = sign_in(&f.env, &f.reference, "T2", &f.charles(), false).await;
    let put = |body: Value| {
        ApiRequest::new("PUT", &format!("/bookings/{}/communication-preferences", f.reference))
            .route("/bookings/{reference}/communication-preferences")
            .path_param("reference", &f.reference)
            .bearer(&token)
            .json(&body)
            .build()
    };
    let r = requests::handle(&api, put(json!({"booking_updates": false}))).await.unwrap();
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(body_json(&r)["booking_updates"], false);
    assert_eq!(body_json(&r)["payment_reminders"], true, "the other preferences are untouched");
    let r = requests::handle(&api, put(json!({}))).await.unwrap();
    assert_problem(&r, 422, "validation-error");
    let r = requests::handle(&api, put(json!({"booking_updates": "no"}))).await.unwrap();
    assert_eq!(r.status().as_u16() / 100, 4, "{}", body_json(&r));

    f.change_itinerary();
    f.push().await;
    flush_now(&f.mail).await;
    let changed = |to: &str| f.subjects(to).iter().filter(|s| s.ends_with("has changed")).count();
    assert_eq!(changed(&f.ada()), 1);
    assert_eq!(changed(&f.charles()), 0, "Charles turned updates off");
    let d = f.deliveries().await;
    assert!(
        d.iter().any(|(k, t, s, r)| k == "booking_changed" && t == "T2" && s == "skipped" && r.contains("turned off")),
        "{d:?}"
    );

    // A cancellation is about the booking itself: it reaches Charles whatever his preferences.
    f.booking["status"] = json!("cancelled");
    f.push().await;
    flush_now(&f.mail).await;
    for to in [f.ada(), f.charles()] {
        assert!(f.subjects(&to).contains(&"Alpine Escapes: booking AE-21006 cancelled".to_string()), "{to}");
    }
}

#[tokio::test]
async fn one_click_unsubscribe_turns_off_that_category_only_and_bad_links_are_refused() {
    let mut f = Nx::new("AE-21007").await;
    f.push().await;
    flush_now(&f.mail).await;
    f.change_itinerary();
    f.push().await;
    flush_now(&f.mail).await;
    let token = f.unsubscribe_token(&f.ada());
    assert!(token.len() > 40, "{token}");

    // The link opens a page that asks (a mail scanner's GET changes nothing)...
    let page = f.call(f.unsubscribe("GET", &token)).await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let text = html(&page);
    assert!(
        text.contains("booking update emails") && text.contains("<form") && text.contains("method=\"post\""),
        "{text}"
    );
    let prefs = f.env.store().load_booking(&f.reference).await.unwrap().unwrap();
    assert!(portal_store::requests::preferences_item(&prefs, "T1").is_none_or(|p| p.booking_updates));
    // ...and the RFC 8058 one-click POST (what a mail client sends) turns booking updates off.
    let done = f.call(f.unsubscribe("POST", &token)).await;
    assert_eq!(done.status(), 200);
    assert!(html(&done).contains("You are unsubscribed"));
    // Again: still fine (idempotent).
    assert_eq!(f.call(f.unsubscribe("POST", &token)).await.status(), 200);
    let c = f.env.store().load_booking(&f.reference).await.unwrap().unwrap();
    let p = portal_store::requests::preferences_item(&c, "T1").unwrap();
    assert!(!p.booking_updates && p.payment_reminders && p.optional_updates_by_email, "only that category");

    // The next change reaches Charles only.
    f.booking["itinerary"][1]["title"] = json!("Gornergrat railway at sunrise");
    f.push().await;
    flush_now(&f.mail).await;
    let changed = |to: &str| f.subjects(to).iter().filter(|s| s.ends_with("has changed")).count();
    assert_eq!((changed(&f.ada()), changed(&f.charles())), (1, 2));

    // Bad links: missing, tampered, oversized, or for a transactional category: 400, nothing changes.
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for bad in ["", tampered.as_str(), &"A".repeat(5000), "djF8QUUtMjEwMDd8VDJ8dHJhbnNhY3Rpb25hbA"] {
        let r = f.call(f.unsubscribe("POST", bad)).await;
        assert_problem(&r, 400, "invalid-unsubscribe-link");
    }
    let c = f.env.store().load_booking(&f.reference).await.unwrap().unwrap();
    assert!(portal_store::requests::preferences_item(&c, "T2").is_none_or(|p| p.booking_updates), "Charles untouched");
    let r = f.call(ApiRequest::new("DELETE", "/notifications/unsubscribe").query("token", &token)).await;
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn a_bounce_suppresses_optional_email_and_the_operator_sees_it() {
    let mut f = Nx::new("AE-21008").await;
    f.push().await;
    flush_now(&f.mail).await;
    // SES reports a permanent bounce for Ada's address (the configuration set's event, raw from SNS).
    let event: Value = serde_json::from_str(include_str!("../../../events/notification-mailer/bounce.json")).unwrap();
    let body = event["Records"][0]["body"].as_str().unwrap().replace("ada@example.com", &f.ada());
    let r = notifications::mailer::consume(&f.mail, notices::sqs_event(Some("ses-1"), &body), Utc::now()).await;
    assert!(r.batch_item_failures.is_empty());
    // A transient bounce (a full mailbox) suppresses nothing.
    let soft = body.replace("Permanent", "Transient").replace(&f.ada(), &f.charles());
    notifications::mailer::consume(&f.mail, notices::sqs_event(Some("ses-2"), &soft), Utc::now()).await;

    let v = f.operator_emails().await;
    let suppressed = v["suppressed"].as_array().unwrap();
    assert_eq!(suppressed.len(), 1, "{v}");
    assert_eq!(suppressed[0]["traveller_id"], "T1");
    assert_eq!(suppressed[0]["reason"], "bounce");
    assert!(suppressed[0]["detail"].as_str().unwrap().contains("5.1.1"));
    assert!(!suppressed[0]["to"].as_str().unwrap().contains(&f.tag), "the operator view masks the address");

    // An update is not sent to the bounced address; a cancellation (transactional) still is.
    f.change_itinerary();
    f.push().await;
    flush_now(&f.mail).await;
    let changed = |to: &str| f.subjects(to).iter().filter(|s| s.ends_with("has changed")).count();
    assert_eq!((changed(&f.ada()), changed(&f.charles())), (0, 1));
    let d = f.deliveries().await;
    assert!(
        d.iter().any(|(k, t, s, r)| k == "booking_changed" && t == "T1" && s == "skipped" && r.contains("bounce")),
        "{d:?}"
    );
    f.booking["status"] = json!("cancelled");
    f.push().await;
    flush_now(&f.mail).await;
    assert!(f.subjects(&f.ada()).iter().any(|s| s.ends_with("cancelled")));

    // The operator view is the operator's: no key, a wrong key or a malformed reference are refused.
    let path = format!("/operator/bookings/{}/emails", f.reference);
    let anon = f.call(ApiRequest::new("GET", &path).path_param("reference", &f.reference)).await;
    assert_eq!(anon.status(), 401);
    let wrong = f.call(ApiRequest::new("GET", &path).path_param("reference", &f.reference).bearer("nope")).await;
    assert_eq!(wrong.status(), 401);
    let bad = f.call(ApiRequest::new("GET", "/operator/bookings/x%20y/emails").bearer(OPERATOR_KEY)).await;
    assert_eq!(bad.status().as_u16() / 100, 4);
    let missing = f.call(ApiRequest::new("GET", "/operator/bookings/AE-99999/emails").bearer(OPERATOR_KEY)).await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn new_instalments_ask_the_lead_for_approval() {
    let mut f = Nx::new("AE-21009").await;
    f.push().await;
    flush_now(&f.mail).await;
    // The operator splits the balance: a new instalment the lead has not approved.
    let due = (today() + Duration::days(45)).to_string();
    f.booking["schedule"][2]["amount"] = json!("1080.50");
    f.booking["schedule"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "INS2", "kind": "instalment", "due_date": due, "amount": "500.00"}));
    f.push().await;
    flush_now(&f.mail).await;
    let approval: Vec<Value> = f
        .env
        .emails_to(&f.ada())
        .into_iter()
        .filter(|m| m["subject"] == "Alpine Escapes: please review the instalments for booking AE-21009")
        .collect();
    assert_eq!(approval.len(), 1, "{:?}", f.subjects(&f.ada()));
    assert!(approval[0]["body"].as_str().unwrap().contains("£500.00"));
    assert!(f.subjects(&f.charles()).iter().all(|s| !s.contains("review the instalments")), "only the lead approves");
}

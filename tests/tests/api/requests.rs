//! Amendment requests and messages against moto (DynamoDB, SES): every request type with bad and good fields,
//! who may ask for what, the status machine, the operator's replies and status changes, both emails with
//! escaped content, preferences, the caps, the idempotency key, the general thread, the deputy and the
//! operator's event feed.

use std::sync::Arc;

use chrono::{Duration, Utc};
use lambda_http::{Body, Response};
use portal_http::operator::OperatorAuth;
use portal_requests::caps::Limits;
use portal_tests::customer::{OPERATOR_KEY, assert_problem, seed_booking, sessions, sign_in, today};
use portal_tests::{ApiRequest, TestEnv, body_json, seed};
use serde_json::{Value, json};

const PORTAL: &str = "https://portal.example";

struct Fx {
    env: TestEnv,
    api: requests::State,
    reference: String,
    tag: String,
    mail: notifications::State,
}

impl Fx {
    async fn new(reference: &str) -> Fx {
        Fx::with(reference, |s| s).await
    }

    async fn with(reference: &str, tune: impl FnOnce(requests::State) -> requests::State) -> Fx {
        let env = TestEnv::new().await;
        let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
        let mut booking = seed::gbp_booking(today());
        booking["travellers"][0]["email"] = json!(format!("ada-{tag}@example.com"));
        booking["travellers"][1]["email"] = json!(format!("charles-{tag}@example.com"));
        booking["travellers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "T3", "first_name": "Mary", "last_name": "Somerville"}));
        seed_booking(&env, reference, &booking).await;
        let api =
            tune(portal_tests::requests::state(&env, sessions(), OperatorAuth::key(OPERATOR_KEY).unwrap(), PORTAL));
        let mail = portal_tests::notices::state(&env, PORTAL).await;
        Fx { env, api, reference: reference.into(), tag, mail }
    }

    /// The customer's emails: the mailer's (request notices go through the outbox) after a flush.
    async fn customer_mails(&self, to: &str) -> Vec<Value> {
        portal_tests::notices::flush_now(&self.mail).await;
        self.env
            .emails_to(to)
            .into_iter()
            // The seed push of a confirmed booking sends the booking-confirmed email (notifications.rs tests it).
            .filter(|m| !m["subject"].as_str().is_some_and(|s| s.ends_with(" confirmed")))
            .collect()
    }

    fn ada(&self) -> String {
        format!("ada-{}@example.com", self.tag)
    }

    fn charles(&self) -> String {
        format!("charles-{}@example.com", self.tag)
    }

    async fn lead(&self) -> String {
        sign_in(&self.env, &self.reference, "T1", &self.ada(), true).await
    }

    async fn charles_session(&self) -> String {
        sign_in(&self.env, &self.reference, "T2", &self.charles(), false).await
    }

    async fn call(&self, req: ApiRequest) -> Response<Body> {
        requests::handle(&self.api, req.build()).await.unwrap_or_else(|e| match e {})
    }

    fn p(&self, rest: &str) -> String {
        format!("/bookings/{}{rest}", self.reference)
    }

    fn op(&self, rest: &str) -> String {
        format!("/operator/bookings/{}{rest}", self.reference)
    }

    async fn submit(&self, token: &str, body: Value) -> Response<Body> {
        self.call(ApiRequest::new("POST", &self.p("/requests")).bearer(token).json(&body)).await
    }

    async fn get(&self, token: &str, rest: &str) -> Response<Body> {
        self.call(ApiRequest::new("GET", &self.p(rest)).bearer(token)).await
    }

    async fn post(&self, token: &str, rest: &str, body: Value) -> Response<Body> {
        self.call(ApiRequest::new("POST", &self.p(rest)).bearer(token).json(&body)).await
    }

    async fn operator(&self, rest: &str, body: Value) -> Response<Body> {
        self.call(ApiRequest::new("POST", &self.op(rest)).bearer(OPERATOR_KEY).json(&body)).await
    }

    async fn date_change(&self, token: &str, message: &str) -> Value {
        let r = self
            .submit(
                token,
                json!({"type": "date_change", "fields": {"new_start": (today() + Duration::days(130)).to_string(),
                                  "new_end": (today() + Duration::days(137)).to_string()}, "message": message}),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", body_json(&r));
        body_json(&r)
    }

    /// Emails to the team about this booking (the team addresses are shared by every test's booking).
    fn team_mail(&self, address: &str) -> Vec<Value> {
        self.env
            .emails_to(address)
            .into_iter()
            .filter(|m| m["subject"].as_str().unwrap_or("").contains(&self.reference))
            .collect()
    }

    async fn items(&self, entity: &str) -> usize {
        self.env
            .all_items()
            .await
            .iter()
            .filter(|i| i.get("entity").and_then(|v| v.as_s().ok()).map(String::as_str) == Some(entity))
            .count()
    }

    async fn events(&self) -> Vec<Value> {
        let at = Utc::now() + Duration::seconds(5);
        let api = requests::State {
            clock: Arc::new(move || at),
            ..portal_tests::requests::state(&self.env, sessions(), OperatorAuth::key(OPERATOR_KEY).unwrap(), PORTAL)
        };
        let r = requests::handle(
            &api,
            ApiRequest::new("GET", "/operator/request-events").query("limit", "100").bearer(OPERATOR_KEY).build(),
        )
        .await
        .unwrap_or_else(|e| match e {});
        assert_eq!(r.status(), 200, "{}", body_json(&r));
        body_json(&r)["events"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e["reference"] == self.reference)
            .collect()
    }
}

fn errors_of(r: &Response<Body>) -> Vec<String> {
    assert_problem(r, 422, "validation-error");
    body_json(r)["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn every_request_type_checks_its_fields_and_carries_the_booking_context() {
    let f = Fx::new("RQ-10001").await;
    let lead = f.lead().await;
    let later = |d: i64| (today() + Duration::days(d)).to_string();
    let cases = [
        (
            json!({"type": "service_change", "fields": {"service_id": "S-HTL"}, "message": "A room with a view, please"}),
            json!({"type": "service_change", "fields": {"service_id": "S-NOPE"}}),
            vec!["message", "fields.service_id"],
        ),
        (
            json!({"type": "add_traveller", "fields": {"first_name": "Grace", "last_name": "Hopper", "date_of_birth": "1990-02-03"}}),
            json!({"type": "add_traveller", "fields": {"first_name": "", "date_of_birth": later(3)}}),
            vec!["fields.first_name", "fields.last_name", "fields.date_of_birth"],
        ),
        (
            json!({"type": "remove_traveller", "fields": {"traveller_id": "T3"}}),
            json!({"type": "remove_traveller", "fields": {"traveller_id": "T1"}}),
            vec!["fields.traveller_id"],
        ),
        (
            json!({"type": "date_change", "fields": {"new_start": later(200), "new_end": later(207)}}),
            json!({"type": "date_change", "fields": {"new_start": later(210), "new_end": later(200), "nights": 3}}),
            vec!["fields.nights", "fields.new_end"],
        ),
        (
            json!({"type": "cancellation", "fields": {"scope": "travellers", "traveller_ids": ["T2"]}, "message": "Charles cannot come"}),
            json!({"type": "cancellation", "fields": {"scope": "travellers", "traveller_ids": ["T2", "T2", "T9"]}}),
            vec!["fields.traveller_ids[1]", "fields.traveller_ids[2]"],
        ),
        (
            json!({"type": "special_assistance", "fields": {"traveller_id": "T2", "kind": "mobility"}, "message": "Step-free rooms"}),
            json!({"type": "special_assistance", "fields": {"traveller_id": "T2", "kind": "shoes"}, "message": "x"}),
            vec!["fields.kind"],
        ),
        (
            json!({"type": "other", "message": "Can we bring skis?"}),
            json!({"type": "other", "message": "   "}),
            vec!["message"],
        ),
    ];
    for (good, bad, fields) in cases {
        let r = f.submit(&lead, bad.clone()).await;
        assert_eq!(errors_of(&r), fields, "{bad}");
        let r = f.submit(&lead, good.clone()).await;
        assert_eq!(r.status(), 201, "{good}: {}", body_json(&r));
        let b = body_json(&r);
        assert_eq!(b["type"], good["type"]);
        assert_eq!(b["status"], "submitted");
        assert!(b["request_id"].as_str().unwrap().starts_with("rq_"));
        assert_eq!(b["submitted_by"]["name"], "Ada Lovelace");
        assert_eq!(b["context"]["paid"]["amount"], "500.00");
        assert_eq!(b["context"]["outstanding"]["display"], "£2,580.50");
        assert_eq!(b["context"]["booking_version"], 1);
        assert_eq!(b["status_history"][0]["by"], "customer");
        assert!(b["can_withdraw"].as_bool().unwrap() && b["can_reply"].as_bool().unwrap());
        assert_eq!(b["messages"].as_array().unwrap().len(), usize::from(good.get("message").is_some()));
        assert!(!b.to_string().contains("@alpine.example"), "no team address reaches the customer: {b}");
    }
    // The routing: a cancellation goes to accounts, assistance to the tour leader, the rest to reservations.
    let list = body_json(&f.get(&lead, "/requests").await);
    let roles: Vec<(&str, &str)> = list["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["type"].as_str().unwrap(), r["role"]["name"].as_str().unwrap()))
        .collect();
    assert!(
        roles.contains(&("cancellation", "Accounts team"))
            && roles.contains(&("special_assistance", "Your tour leader"))
            && roles.contains(&("date_change", "Reservations team")),
        "{roles:?}"
    );
    assert_eq!(list["requests"].as_array().unwrap().len(), 7);
    assert!(list["choices"]["types"].as_array().unwrap().iter().all(|t| t["allowed"] == true));
    assert_eq!(f.items("amendment_request").await, 7, "the bad ones wrote nothing");
    // Malformed and unknown types.
    assert_eq!(errors_of(&f.submit(&lead, json!({"type": "refund"})).await), vec!["type"]);
    assert_problem(
        &f.call(
            ApiRequest::new("POST", &f.p("/requests"))
                .bearer(&lead)
                .raw_body("{nope")
                .header("content-type", "application/json"),
        )
        .await,
        400,
        "malformed-json",
    );
    assert_problem(
        &f.call(
            ApiRequest::new("POST", &f.p("/requests"))
                .bearer(&lead)
                .raw_body("type=other")
                .header("content-type", "text/plain"),
        )
        .await,
        415,
        "unsupported-media-type",
    );
    let huge = json!({"type": "other", "message": "x".repeat(20_000)});
    assert_problem(&f.submit(&lead, huge).await, 413, "payload-too-large");
    assert_eq!(
        errors_of(&f.submit(&lead, json!({"type": "other", "message": "y".repeat(4001)})).await),
        vec!["message"]
    );
    assert_eq!(errors_of(&f.submit(&lead, json!({"type": "other", "message": "bell\u{7}"})).await), vec!["message"]);
    assert_problem(&f.call(ApiRequest::new("GET", &f.p("/requests"))).await, 401, "unauthorized");
    assert_problem(
        &f.call(ApiRequest::new("DELETE", &f.p("/requests")).bearer(&lead)).await,
        405,
        "method-not-allowed",
    );
    assert_problem(&f.get(&lead, "/requests/rq_doesnotexist0000000").await, 404, "not-found");
    assert_problem(&f.get(&lead, "/requests/..%2Fx").await, 404, "not-found");
}

#[tokio::test]
async fn a_traveller_asks_only_about_their_own_part_and_sees_only_their_requests() {
    let f = Fx::new("RQ-10002").await;
    let lead = f.lead().await;
    let charles = f.charles_session().await;
    let mine = f.date_change(&lead, "Two weeks later?").await;
    let later = |d: i64| (today() + Duration::days(d)).to_string();
    for forbidden in [
        json!({"type": "date_change", "fields": {"new_start": later(200), "new_end": later(207)}}),
        json!({"type": "add_traveller", "fields": {"first_name": "A", "last_name": "B"}}),
        json!({"type": "cancellation", "fields": {"scope": "booking"}}),
        json!({"type": "cancellation", "fields": {"scope": "travellers", "traveller_ids": ["T1"]}}),
        json!({"type": "remove_traveller", "fields": {"traveller_id": "T3"}}),
        json!({"type": "special_assistance", "fields": {"traveller_id": "T1", "kind": "dietary"}, "message": "vegan"}),
    ] {
        assert_problem(&f.submit(&charles, forbidden.clone()).await, 403, "forbidden");
    }
    let own = f.submit(&charles, json!({"type": "special_assistance", "fields": {"traveller_id": "T2", "kind": "dietary"}, "message": "Vegan meals"})).await;
    assert_eq!(own.status(), 201, "{}", body_json(&own));
    let own = body_json(&own);
    assert_eq!(own["about"], json!([{"traveller_id": "T2", "name": "Charles Babbage"}]));
    // Charles sees his own request only, and the lead's is 404 to him (like an unknown one).
    let list = body_json(&f.get(&charles, "/requests").await);
    assert_eq!(list["requests"].as_array().unwrap().len(), 1);
    assert_eq!(list["choices"]["travellers"], json!([{"traveller_id": "T2", "name": "Charles Babbage"}]));
    assert!(list["choices"]["types"].as_array().unwrap().contains(&json!({"type": "date_change", "allowed": false})));
    let lead_id = mine["request_id"].as_str().unwrap();
    assert_problem(&f.get(&charles, &format!("/requests/{lead_id}")).await, 404, "not-found");
    assert_problem(
        &f.post(&charles, &format!("/requests/{lead_id}/messages"), json!({"body": "hi"})).await,
        404,
        "not-found",
    );
    assert_problem(&f.post(&charles, &format!("/requests/{lead_id}/withdraw"), json!({})).await, 404, "not-found");
    // The lead sees both.
    assert_eq!(body_json(&f.get(&lead, "/requests").await)["requests"].as_array().unwrap().len(), 2);
    // A session for another booking reaches nothing here.
    let other = sign_in(&f.env, "RQ-99999", "T1", &f.ada(), true).await;
    let r = f.get(&other, "/requests").await;
    assert!(matches!(r.status().as_u16(), 401 | 404), "{}", r.status());
}

#[tokio::test]
async fn the_status_machine_moves_forward_only_and_keeps_who_and_when() {
    let f = Fx::new("RQ-10003").await;
    let lead = f.lead().await;
    let id = f.date_change(&lead, "Later please").await["request_id"].as_str().unwrap().to_string();
    let status = |s: &str| json!({"status": s, "agent": "agent-7"});
    let r = f.operator(&format!("/requests/{id}/status"), status("completed")).await;
    assert_problem(&r, 409, "illegal-transition");
    assert!(body_json(&r)["detail"].as_str().unwrap().contains("in_review, waiting_for_customer, accepted, declined"));
    assert_problem(
        &f.operator(&format!("/requests/{id}/status"), status("withdrawn")).await,
        409,
        "illegal-transition",
    );
    assert_eq!(errors_of(&f.operator(&format!("/requests/{id}/status"), status("done")).await), vec!["status"]);
    let r = f.operator(&format!("/requests/{id}/status"), status("in_review")).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    let events_before = f.events().await.len();
    // The same status again is a retried call: 200, nothing written.
    assert_eq!(f.operator(&format!("/requests/{id}/status"), status("in_review")).await.status(), 200);
    assert_eq!(f.events().await.len(), events_before);
    assert_eq!(f.operator(&format!("/requests/{id}/status"), status("accepted")).await.status(), 200);
    // The customer cannot withdraw what is being applied.
    assert_problem(&f.post(&lead, &format!("/requests/{id}/withdraw"), json!({})).await, 409, "illegal-transition");
    // Completing names the booking version that applied it: the operator's upsert.
    let mut booking = seed::gbp_booking(today());
    booking["travellers"][0]["email"] = json!(f.ada());
    booking["travellers"][1]["email"] = json!(f.charles());
    booking["travellers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "T3", "first_name": "Mary", "last_name": "Somerville"}));
    booking["travel_start"] = json!((today() + Duration::days(130)).to_string());
    booking["travel_end"] = json!((today() + Duration::days(137)).to_string());
    booking["itinerary"] = json!([]);
    seed_booking(&f.env, &f.reference, &booking).await;
    assert_eq!(
        errors_of(&f.operator(&format!("/requests/{id}/status"), status("completed")).await),
        vec!["booking_version"]
    );
    let r = f.operator(&format!("/requests/{id}/status"), json!({"status": "completed", "booking_version": 9})).await;
    assert_eq!(errors_of(&r), vec!["booking_version"]);
    assert!(body_json(&r)["detail"].as_str().unwrap().contains("from 1"));
    let r = f
        .operator(
            &format!("/requests/{id}/status"),
            json!({"status": "completed", "booking_version": 2, "message": "Moved, see your new itinerary."}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    let b = body_json(&r);
    assert_eq!(b["completed_by_version"], 2);
    let history: Vec<(&str, &str)> = b["status_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["status"].as_str().unwrap(), h["by"].as_str().unwrap()))
        .collect();
    assert_eq!(
        history,
        vec![("submitted", "customer"), ("in_review", "team"), ("accepted", "team"), ("completed", "team")]
    );
    assert_eq!(b["status_history"][1]["agent"], "agent-7", "the operator sees its agent");
    let customer = body_json(&f.get(&lead, &format!("/requests/{id}")).await);
    assert!(customer["status_history"][1].get("agent").is_none(), "a customer never sees the agent id");
    assert_eq!(customer["status_history"][1]["by_name"], "Reservations team");
    assert_eq!(customer["can_reply"], false);
    assert_eq!(customer["can_withdraw"], false);
    // Closed: nothing moves it, the customer cannot write.
    for s in ["in_review", "declined", "accepted"] {
        assert_problem(&f.operator(&format!("/requests/{id}/status"), status(s)).await, 409, "illegal-transition");
    }
    assert_problem(
        &f.post(&lead, &format!("/requests/{id}/messages"), json!({"body": "thanks!"})).await,
        409,
        "request-closed",
    );
    // Withdrawing an open one.
    let r = f
        .submit(
            &lead,
            json!({"type": "date_change", "fields": {"new_start": (today() + Duration::days(130)).to_string(),
                                   "new_end": (today() + Duration::days(137)).to_string()}}),
        )
        .await;
    assert_eq!(errors_of(&r), vec!["fields.new_start"], "the booking has these dates now");
    let r = f.submit(&lead, json!({"type": "other", "message": "Or maybe a week later still?"})).await;
    let other = body_json(&r)["request_id"].as_str().unwrap().to_string();
    let r = f.post(&lead, &format!("/requests/{other}/withdraw"), json!({"reason": "We keep our dates"})).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(body_json(&r)["status"], "withdrawn");
    assert_eq!(
        f.post(&lead, &format!("/requests/{other}/withdraw"), json!({})).await.status(),
        200,
        "withdrawn again: the same answer"
    );
    assert_problem(
        &f.operator(&format!("/requests/{other}/status"), status("in_review")).await,
        409,
        "illegal-transition",
    );
}

#[tokio::test]
async fn the_team_and_the_customer_are_emailed_with_escaped_text_and_no_addresses() {
    let f = Fx::new("RQ-10004").await;
    let lead = f.lead().await;
    let b = f.date_change(&f.lead().await, "<script>alert('x')</script> & please keep the twin room").await;
    let id = b["request_id"].as_str().unwrap().to_string();
    // The team: both reservations addresses, with the context, the fields and a link to the back office.
    for to in ["reservations@alpine.example", "desk@alpine.example"] {
        let mails = f.team_mail(to);
        assert_eq!(mails.len(), 1, "{to}: {mails:?}");
        let html = mails[0]["body"].as_str().unwrap();
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; please"), "{html}");
        assert!(!html.contains("<script>"));
        for needle in [
            "RQ-10004",
            "£500.00",
            "£2,580.50",
            "new start",
            &id,
            "https://backoffice.alpine.example/bookings/RQ-10004/requests/",
        ] {
            assert!(html.contains(needle), "{needle} in {html}");
        }
        assert!(mails[0]["subject"].as_str().unwrap().contains("New date change request from Ada Lovelace"));
    }
    assert!(f.team_mail("accounts@alpine.example").is_empty(), "only the routed role");
    assert!(f.customer_mails(&f.ada()).await.is_empty(), "the customer is not emailed for their own request");
    // The agent answers and asks for something: the customer hears it (transactional), escaped.
    let r = f.operator(&format!("/requests/{id}/messages"), json!({"body": "<b>Hello</b> we can move you. Which airport?", "status": "waiting_for_customer", "agent": "agent-7"})).await;
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    let mails = f.customer_mails(&f.ada()).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let m = &mails[0];
    let html = m["body"].as_str().unwrap();
    assert!(html.contains("&lt;b&gt;Hello&lt;/b&gt; we can move you"), "{html}");
    assert!(html.contains("Reservations team") && html.contains("waiting for your reply"), "{html}");
    assert!(html.contains(&format!("{PORTAL}/trips/RQ-10004/requests/{id}")), "{html}");
    assert!(!html.contains("@alpine.example") && !html.contains("agent-7"), "no team address, no agent id: {html}");
    assert_eq!(m["subject"], "Alpine Escapes: a message from the Reservations team about your booking RQ-10004");
    // The customer's view of it.
    let v = body_json(&f.get(&lead, &format!("/requests/{id}")).await);
    assert_eq!(v["status"], "waiting_for_customer");
    let last = v["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["author"], json!({"kind": "team", "name": "Reservations team", "is_you": false}));
    assert_eq!(last["body"], "<b>Hello</b> we can move you. Which airport?");
    // The customer answers: the request goes back to review (by the portal) and the team hears it.
    let r = f.post(&lead, &format!("/requests/{id}/messages"), json!({"body": "Geneva, thanks"})).await;
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    let v = body_json(&r);
    assert_eq!(v["status"], "in_review");
    assert_eq!(v["status_history"].as_array().unwrap().last().unwrap()["by"], "system");
    assert_eq!(v["messages"].as_array().unwrap().len(), 3);
    assert_eq!(v["messages"][2]["author"]["is_you"], true);
    let team = f.team_mail("reservations@alpine.example");
    assert_eq!(team.len(), 2);
    assert!(team[1]["subject"].as_str().unwrap().contains("Customer reply"));
    assert!(team[1]["body"].as_str().unwrap().contains("Geneva, thanks"));
    // A German booking gets German emails.
    let f2 = Fx::new("RQ-10014").await;
    let mut booking = seed::gbp_booking(today());
    booking["locale"] = json!("de-DE");
    booking["travellers"][0]["email"] = json!(f2.ada());
    booking["travellers"][1]["email"] = json!(f2.charles());
    seed_booking(&f2.env, &f2.reference, &booking).await;
    let id = f2.date_change(&f2.lead().await, "Später bitte").await["request_id"].as_str().unwrap().to_string();
    assert_eq!(
        f2.operator(&format!("/requests/{id}/status"), json!({"status": "declined", "message": "Leider ausgebucht."}))
            .await
            .status(),
        200
    );
    let m = &f2.customer_mails(&f2.ada()).await[0];
    assert_eq!(m["subject"], "Alpine Escapes: Nachricht vom Reservierungsteam zu Ihrer Buchung RQ-10014");
    let html = m["body"].as_str().unwrap();
    assert!(
        html.contains("Leider ausgebucht.") && html.contains("„abgelehnt“") && html.contains("Hallo Ada,"),
        "{html}"
    );
}

#[tokio::test]
async fn optional_updates_honour_the_preference_and_transactional_ones_do_not_ask() {
    let f = Fx::new("RQ-10005").await;
    let lead = f.lead().await;
    assert_eq!(
        body_json(&f.get(&lead, "/communication-preferences").await),
        json!({"optional_updates_by_email": true, "booking_updates": true, "payment_reminders": true})
    );
    let id = f.date_change(&lead, "Later?").await["request_id"].as_str().unwrap().to_string();
    // With the default (on), "in review" is emailed.
    assert_eq!(f.operator(&format!("/requests/{id}/status"), json!({"status": "in_review"})).await.status(), 200);
    assert_eq!(f.customer_mails(&f.ada()).await.len(), 1);
    assert!(f.customer_mails(&f.ada()).await[0]["body"].as_str().unwrap().contains("turn off optional updates"));
    // Turned off: the next optional update is not sent, a decision is.
    let r = f
        .call(
            ApiRequest::new("PUT", &f.p("/communication-preferences"))
                .bearer(&lead)
                .json(&json!({"optional_updates_by_email": false})),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(body_json(&f.get(&lead, "/communication-preferences").await)["optional_updates_by_email"], false);
    assert_eq!(
        errors_of(
            &f.call(
                ApiRequest::new("PUT", &f.p("/communication-preferences"))
                    .bearer(&lead)
                    .json(&json!({"optional_updates_by_email": "no"}))
            )
            .await
        ),
        vec!["optional_updates_by_email"]
    );
    let id2 = f.date_change(&lead, "Or earlier?").await["request_id"].as_str().unwrap().to_string();
    assert_eq!(f.operator(&format!("/requests/{id2}/status"), json!({"status": "in_review"})).await.status(), 200);
    assert_eq!(f.customer_mails(&f.ada()).await.len(), 1, "optional update withheld");
    assert_eq!(f.operator(&format!("/requests/{id2}/status"), json!({"status": "accepted"})).await.status(), 200);
    let mails = f.customer_mails(&f.ada()).await;
    assert_eq!(mails.len(), 2, "a decision is transactional");
    assert!(mails[1]["subject"].as_str().unwrap().ends_with("is now accepted"));
    // The team writing first in the general thread is optional too; with the preference off it is not sent.
    assert_eq!(f.operator("/messages", json!({"role": "tour_leader", "body": "Pack crampons!"})).await.status(), 201);
    assert_eq!(f.customer_mails(&f.ada()).await.len(), 2);
    // Charles' preference is his own (he never turned it off).
    assert_eq!(
        body_json(&f.get(&f.charles_session().await, "/communication-preferences").await)["optional_updates_by_email"],
        true
    );
}

#[tokio::test]
async fn the_general_thread_reaches_the_chosen_role_and_the_answer_reaches_the_writer() {
    let f = Fx::new("RQ-10006").await;
    let charles = f.charles_session().await;
    let r = f.get(&charles, "/messages").await;
    let b = body_json(&r);
    let ids: Vec<&str> = b["roles"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["accounts", "reservations", "tour_leader"]);
    assert_eq!(
        errors_of(&f.post(&charles, "/messages", json!({"role": "ceo", "body": ""})).await),
        vec!["role", "body"]
    );
    let r = f
        .call(
            ApiRequest::new("POST", &f.p("/messages"))
                .bearer(&charles)
                .header("idempotency-key", "general-key-1")
                .json(&json!({"role": "accounts", "body": "Can I pay my share separately?"})),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    let again = f
        .call(
            ApiRequest::new("POST", &f.p("/messages"))
                .bearer(&charles)
                .header("idempotency-key", "general-key-1")
                .json(&json!({"role": "accounts", "body": "Can I pay my share separately?"})),
        )
        .await;
    assert_eq!(again.status(), 200, "a replay");
    assert_eq!(body_json(&again)["messages"].as_array().unwrap().len(), 1);
    let team = f.team_mail("accounts@alpine.example");
    assert_eq!(team.len(), 1);
    assert!(team[0]["body"].as_str().unwrap().contains("Can I pay my share separately?"));
    let r = f
        .operator(
            "/messages",
            json!({"role": "accounts", "body": "Yes: use Split payment on the Pay page.", "agent": "acc-2"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    let mails = f.customer_mails(&f.charles()).await;
    assert_eq!(mails.len(), 1, "the answer goes to who wrote");
    assert!(
        mails[0]["body"].as_str().unwrap().contains("Split payment")
            && mails[0]["body"].as_str().unwrap().contains("/trips/RQ-10006/messages")
    );
    assert!(!mails[0]["body"].as_str().unwrap().contains("optional updates"), "a reply is transactional");
    // The lead sees the shared thread with names and roles.
    let v = body_json(&f.get(&f.lead().await, "/messages").await);
    let m = v["messages"].as_array().unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0]["author"]["name"], "Charles Babbage");
    assert_eq!(m[0]["role"]["name"], "Accounts team");
    assert_eq!(m[1]["author"], json!({"kind": "team", "name": "Accounts team", "is_you": false}));
    assert_eq!(errors_of(&f.operator("/messages", json!({"role": "ceo", "body": "hi"})).await), vec!["role"]);
}

#[tokio::test]
async fn caps_refuse_the_excess_and_write_nothing() {
    let f = Fx::with("RQ-10007", |s| requests::State {
        limits: Limits {
            requests_per_booking: 2,
            requests_per_customer: 3,
            messages_per_booking: 3,
            messages_per_customer: 2,
        },
        ..s
    })
    .await;
    let lead = f.lead().await;
    let other = json!({"type": "other", "message": "hello"});
    assert_eq!(f.submit(&lead, other.clone()).await.status(), 201);
    assert_eq!(f.submit(&lead, other.clone()).await.status(), 201);
    let r = f.submit(&lead, other.clone()).await;
    assert_problem(&r, 429, "rate-limited");
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry));
    assert!(body_json(&r)["detail"].as_str().unwrap().contains("this booking"));
    assert_eq!(f.items("amendment_request").await, 2, "the refused one wrote nothing");
    let before = f.events().await.len();
    // Messages: the customer's own cap (2) is reached before the booking's (3).
    let id = body_json(&f.get(&lead, "/requests").await)["requests"][0]["request_id"].as_str().unwrap().to_string();
    assert_eq!(f.post(&lead, &format!("/requests/{id}/messages"), json!({"body": "one"})).await.status(), 201);
    assert_eq!(f.post(&lead, "/messages", json!({"role": "accounts", "body": "two"})).await.status(), 201);
    let r = f.post(&lead, &format!("/requests/{id}/messages"), json!({"body": "three"})).await;
    assert_problem(&r, 429, "rate-limited");
    assert!(body_json(&r)["detail"].as_str().unwrap().contains("for you"));
    assert_eq!(f.events().await.len(), before + 2);
    assert_eq!(
        body_json(&f.get(&lead, &format!("/requests/{id}")).await)["message_count"],
        2,
        "the refused message is not there"
    );
    // The team is never capped.
    for i in 0..4 {
        assert_eq!(
            f.operator(&format!("/requests/{id}/messages"), json!({"body": format!("answer {i}")})).await.status(),
            201
        );
    }
}

#[tokio::test]
async fn an_idempotency_key_makes_one_request_and_the_feed_has_every_change() {
    let f = Fx::new("RQ-10008").await;
    let lead = f.lead().await;
    let body = json!({"type": "other", "message": "Is there parking?"});
    let send = || {
        f.call(
            ApiRequest::new("POST", &f.p("/requests"))
                .bearer(&lead)
                .header("idempotency-key", "form-3f2a9c1e")
                .json(&body),
        )
    };
    let (a, b) = tokio::join!(send(), send());
    let mut statuses = vec![a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, vec![200, 201], "{} {}", body_json(&a), body_json(&b));
    assert_eq!(body_json(&a)["request_id"], body_json(&b)["request_id"]);
    assert_eq!(send().await.status(), 200);
    assert_eq!(f.items("amendment_request").await, 1);
    assert_problem(
        &f.call(
            ApiRequest::new("POST", &f.p("/requests")).bearer(&lead).header("idempotency-key", "short").json(&body),
        )
        .await,
        400,
        "bad-request",
    );
    let id = body_json(&a)["request_id"].as_str().unwrap().to_string();
    assert_eq!(
        f.operator(&format!("/requests/{id}/messages"), json!({"body": "Yes, free.", "status": "completed"}))
            .await
            .status(),
        422,
        "complete through /status"
    );
    assert_eq!(
        f.operator(
            &format!("/requests/{id}/messages"),
            json!({"body": "Yes, free.", "status": "declined", "role": "tour_leader"})
        )
        .await
        .status(),
        201
    );
    let events = f.events().await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["request.submitted", "request.message_added", "request.status_changed"], "{events:?}");
    assert_eq!(events[0]["message"]["body"], "Is there parking?");
    assert_eq!(events[0]["context"]["paid"], "500.00");
    assert_eq!(events[1]["message"]["author"]["kind"], "team");
    assert_eq!(events[1]["message"]["role"], "tour_leader");
    assert_eq!(events[2]["from_status"], "submitted");
    assert_eq!(events[2]["status"], "declined");
    for e in &events {
        assert_eq!(e["reference"], "RQ-10008");
        assert!(e["event_id"].is_string() && e["occurred_at"].is_string() && e["booking_version"] == 1);
    }
    // The schema the operator's systems read.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/request-events.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for e in &events {
        assert!(
            validator.is_valid(e),
            "{e}: {:?}",
            validator.iter_errors(e).map(|x| x.to_string()).collect::<Vec<_>>()
        );
    }
    // The operator's own read has everything, the customer's email masked.
    let r = f.call(ApiRequest::new("GET", &f.op("/requests")).bearer(OPERATOR_KEY)).await;
    let b = body_json(&r);
    assert_eq!(b["requests"][0]["messages"].as_array().unwrap().len(), 2);
    assert!(b["requests"][0]["notify_email_masked"].as_str().unwrap().starts_with("a***@"));
    assert_problem(&f.call(ApiRequest::new("GET", &f.op("/requests")).bearer(&lead)).await, 401, "unauthorized");
}

#[tokio::test]
async fn a_deputy_receives_the_mail_while_the_team_is_away() {
    let today = today();
    let brands = portal_tests::details::BRANDS_JSON.replace(
        r#""from": "2000-01-01", "until": "2000-01-14""#,
        &format!(r#""from": "{}", "until": "{}""#, today - Duration::days(1), today + Duration::days(1)),
    );
    let f = Fx::with("RQ-10009", |s| requests::State {
        roles: portal_requests::roles::TeamRoles::parse(Some(&brands)).unwrap(),
        ..s
    })
    .await;
    f.date_change(&f.lead().await, "Later").await;
    assert_eq!(f.team_mail("cover@alpine.example").len(), 1);
    assert!(f.team_mail("reservations@alpine.example").is_empty());
}

#[tokio::test]
async fn sample_events_are_real_api_gateway_requests() {
    // The files under events/requests feed `cargo lambda invoke --data-file`; here they run through the handler
    // with IAM operator auth, as in AWS. Their customer cookie is a placeholder: those answer 401, like any
    // request without a live session; their request id is one nobody made: 404 for the operator.
    let env = TestEnv::new().await;
    seed_booking(&env, "AE-10001", &seed::gbp_booking(today())).await;
    let iam = OperatorAuth::iam(["arn:aws:iam::123456789012:user/reservations"]).unwrap();
    let s = portal_tests::requests::state(&env, sessions(), iam, PORTAL);
    let dir = portal_tests::moto::repo_root().join("events/requests");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        let req = lambda_http::request::from_str(&std::fs::read_to_string(dir.join(&name)).unwrap()).unwrap();
        let status = requests::handle(&s, req).await.unwrap_or_else(|e| match e {}).status().as_u16();
        let expected: &[u16] = match name.as_str() {
            "operator-list-requests.json" | "operator-request-events.json" => &[200],
            "operator-general-message.json" => &[201],
            n if n.starts_with("operator-") => &[404],
            _ => &[401],
        };
        assert!(expected.contains(&status), "{name}: {status}");
    }
}

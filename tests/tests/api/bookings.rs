//! GET /bookings and GET /bookings/{reference} against moto: the overview in exactly one DynamoDB `Query`,
//! money in GBP / JPY / BHD, group bookings seen by the lead and by a traveller, ETag/304, every bad input.
//!
//! Sessions are minted here the way the auth function makes them: a `SESSION#<sid>` item in the booking's
//! collection and a token signed with `SessionConfig::issue`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, Utc};
use lambda_http::{Body, Response};
use portal_http::session::COOKIE_NAME;
use portal_tests::apigw::body_bytes;
use portal_tests::customer::{assert_problem, seed_booking, sessions, sign_in, today};
use portal_tests::{ApiRequest, TestEnv, body_json, seed};
use serde_json::{Value, json};

struct Fx {
    env: TestEnv,
    state: ::bookings::State,
}

async fn fx() -> Fx {
    let env = TestEnv::new().await;
    let state = ::bookings::State::new(env.store(), sessions());
    Fx { env, state }
}

impl Fx {
    async fn seed(&self, reference: &str, body: &Value) {
        seed_booking(&self.env, reference, body).await;
    }

    /// A live session for `traveller` on `reference`: the session item and a signed token.
    async fn sign_in(&self, reference: &str, traveller: &str, email: &str, is_lead: bool) -> String {
        sign_in(&self.env, reference, traveller, email, is_lead).await
    }

    async fn send(&self, req: ApiRequest) -> Response<Body> {
        ::bookings::handle(&self.state, req.build()).await.unwrap_or_else(|e| match e {})
    }
}

fn get_booking(reference: &str) -> ApiRequest {
    ApiRequest::new("GET", &format!("/bookings/{reference}"))
        .route("/bookings/{reference}")
        .path_param("reference", reference)
}

fn list() -> ApiRequest {
    ApiRequest::new("GET", "/bookings").route("/bookings")
}

fn cookie(token: &str) -> String {
    format!("{COOKIE_NAME}={token}")
}

fn calls(env: &TestEnv) -> Vec<(String, u64)> {
    env.counter.snapshot().into_iter().collect()
}

fn one_query() -> Vec<(String, u64)> {
    vec![("DynamoDB.Query".to_string(), 1)]
}

fn days(n: i64) -> String {
    (today() + Duration::days(n)).to_string()
}

#[tokio::test]
async fn gbp_booking_with_deposit_paid_and_instalments_scheduled_in_one_query() {
    // GIVEN the GBP booking: deposit paid by bank transfer, two instalments scheduled
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;

    // WHEN the lead passenger opens it
    f.env.counter.reset();
    let r = f.send(get_booking("AE-10001").header("cookie", &cookie(&token))).await;

    // THEN it is exactly one DynamoDB Query
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(calls(&f.env), one_query());
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["content-type"], "application/json");
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(set_cookie.starts_with(&format!("{COOKIE_NAME}=")) && set_cookie.contains("HttpOnly"));
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with("\"v1-"), "{etag}");

    // AND the money picture is in GBP, formatted for the booking's locale (en-GB)
    let b = body_json(&r);
    assert_eq!(b["reference"], "AE-10001");
    assert_eq!(b["brand"], "alpine-escapes");
    assert_eq!(b["status"], json!({"code": "confirmed"}));
    assert_eq!(b["locale"], "en-GB");
    assert_eq!(b["viewer"], json!({"traveller_id": "T1", "role": "lead"}));
    let m = &b["money"];
    assert_eq!(m["total"], json!({"amount": "3080.50", "currency": "GBP", "display": "£3,080.50"}));
    assert_eq!(m["paid"], json!({"amount": "500.00", "currency": "GBP", "display": "£500.00"}));
    assert_eq!(m["outstanding"]["amount"], "2580.50");
    assert_eq!(m["due_now"]["amount"], "0.00");
    assert_eq!(m["overdue"]["amount"], "0.00");
    assert_eq!(m["next_due"]["date"]["date"], days(30));
    assert_eq!(m["next_due"]["amount"]["display"], "£1,000.00");
    assert_eq!(m["next_due"]["instalment_id"], "INS1");
    let shares = m["traveller_shares"].as_array().unwrap();
    assert_eq!(shares.len(), 2);
    assert_eq!(shares[0]["share"]["amount"], "1540.25", "1450.00 + half of the shared 180.50");

    // AND the schedule with its approval state, and the payment history
    let inst: Vec<(&str, &str, &str)> = b["instalments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i["status"].as_str().unwrap(), i["approval"].as_str().unwrap()))
        .collect();
    assert_eq!(
        inst,
        vec![
            ("DEP", "paid", "not_required"),
            ("INS1", "scheduled", "awaiting_approval"),
            ("BAL", "scheduled", "awaiting_approval")
        ]
    );
    let pay = &b["payments"][0];
    assert_eq!(
        (pay["kind"].as_str(), pay["method"].as_str(), pay["status"].as_str()),
        (Some("payment"), Some("bank_transfer"), Some("succeeded"))
    );
    assert_eq!(pay["amount"]["display"], "£500.00");
    assert_eq!(pay["date"]["date"], days(-10));
    assert_eq!(b["payments"].as_array().unwrap().len(), 1);

    // AND the itinerary with suppliers, the whole party, the timeline and pending actions
    assert_eq!(b["itinerary"].as_array().unwrap().len(), 4);
    assert_eq!(b["itinerary"][0]["services"][1]["supplier_name"], "Hotel Alpina Zermatt");
    assert_eq!(b["itinerary"][0]["services"][1]["supplier_reference"], "HA-2291");
    assert_eq!(b["itinerary"][1]["day"], 2);
    assert_eq!(b["travellers"][1]["last_name"], "Babbage");
    assert_eq!(b["travellers"][1]["email"], "charles@example.com");
    assert_eq!(b["travel"]["nights"], 7);
    let timeline: Vec<&str> = b["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        timeline,
        vec![
            "payment_received",
            "deposit_due",
            "booked",
            "instalment_due",
            "balance_due",
            "travel_start",
            "travel_end"
        ]
    );
    let actions: Vec<&str> =
        b["pending_actions"].as_array().unwrap().iter().map(|a| a["type"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        vec![
            "instalment_awaiting_approval",
            "instalment_awaiting_approval",
            "missing_passenger_details",
            "missing_passenger_details"
        ],
        "the default rule (legal name, date of birth, emergency contact): neither traveller has given them all"
    );
    assert_eq!(b["documents"], json!([]));

    // AND If-None-Match with that ETag is a 304 with no body, still one Query, still a fresh cookie
    f.env.counter.reset();
    let r = f.send(get_booking("AE-10001").header("cookie", &cookie(&token)).header("if-none-match", &etag)).await;
    assert_eq!(r.status(), 304);
    assert!(body_bytes(&r).is_empty());
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    assert!(r.headers().contains_key("set-cookie"));
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(calls(&f.env), one_query());

    // AND another locale is another representation: another ETag, a 200, German formatting
    let r = f
        .send(
            get_booking("ae-10001")
                .bearer(&token)
                .header("accept-language", "de-DE,de;q=0.9")
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_ne!(r.headers()["etag"].to_str().unwrap(), etag);
    let b = body_json(&r);
    assert_eq!(b["locale"], "de-DE");
    assert_eq!(b["money"]["total"]["amount"], "3080.50");
    assert!(b["money"]["total"]["display"].as_str().unwrap().starts_with("3.080,50"), "{}", b["money"]["total"]);

    // AND a new version of the booking changes the ETag
    let mut changed = seed::gbp_booking(today());
    changed["itinerary"][2]["title"] = "Five Lakes walk (guided)".into();
    f.seed("AE-10001", &changed).await;
    let r = f.send(get_booking("AE-10001").header("cookie", &cookie(&token)).header("if-none-match", &etag)).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["etag"].to_str().unwrap().starts_with("\"v2-"));
}

#[tokio::test]
async fn jpy_booking_has_no_minor_units() {
    let f = fx().await;
    f.seed("ST-30003", &seed::jpy_booking(today())).await;
    let token = f.sign_in("ST-30003", "K", "kenji@example.jp", true).await;
    f.env.counter.reset();
    let r = f.send(get_booking("ST-30003").header("cookie", &cookie(&token))).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(calls(&f.env), one_query());
    let b = body_json(&r);
    assert_eq!(b["locale"], "ja-JP", "no Accept-Language: the booking's locale");
    let total = &b["money"]["total"];
    assert_eq!((total["amount"].as_str(), total["currency"].as_str()), (Some("248000"), Some("JPY")));
    let display = total["display"].as_str().unwrap();
    assert!(display.contains("248,000") && !display.contains('.'), "{display}");
    assert_eq!(b["money"]["paid"]["amount"], "0");
    assert_eq!(b["money"]["next_due"]["amount"]["amount"], "50000");
    assert_eq!(b["instalments"][0]["amount"]["amount"], "50000");
    // In English on request.
    let r = f.send(get_booking("ST-30003").header("cookie", &cookie(&token)).header("accept-language", "en-US")).await;
    let b = body_json(&r);
    assert_eq!(b["locale"], "en-US");
    assert!(b["money"]["total"]["display"].as_str().unwrap().contains("248,000"));
    assert!(!b["money"]["total"]["display"].as_str().unwrap().contains('.'));
}

#[tokio::test]
async fn bhd_booking_has_three_decimals_and_an_overdue_deposit() {
    let f = fx().await;
    f.seed("GJ-40004", &seed::bhd_booking(today())).await;
    let token = f.sign_in("GJ-40004", "A", "amal@example.bh", true).await;
    f.env.counter.reset();
    let r = f.send(get_booking("GJ-40004").header("cookie", &cookie(&token))).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(calls(&f.env), one_query());
    let b = body_json(&r);
    assert_eq!(b["money"]["total"]["amount"], "1234.567");
    assert!(b["money"]["total"]["display"].as_str().unwrap().contains("1,234.567"), "{}", b["money"]["total"]);
    // The deposit was due yesterday and nothing is paid: due now and overdue.
    assert_eq!(b["money"]["due_now"]["amount"], "234.567");
    assert_eq!(b["money"]["overdue"]["amount"], "234.567");
    assert_eq!(b["money"]["paid"]["amount"], "0.000");
    assert_eq!(b["instalments"][0]["overdue"], true);
    assert_eq!(b["pending_actions"][0]["type"], "balance_due");
    assert_eq!(b["pending_actions"][0]["is_overdue"], true);
    assert_eq!(b["pending_actions"][0]["amount"]["amount"], "234.567");
    let deposit = b["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "deposit_due").unwrap().clone();
    assert_eq!(deposit["state"], "overdue");
}

#[tokio::test]
async fn group_booking_seen_by_the_lead_and_by_a_traveller() {
    let f = fx().await;
    f.seed("AE-50005", &seed::group_booking(today())).await;
    let lead = f.sign_in("AE-50005", "G1", "grace@example.com", true).await;
    let alan = f.sign_in("AE-50005", "G2", "alan@example.com", false).await;
    let katherine = f.sign_in("AE-50005", "G3", "katherine@example.com", false).await;

    // The lead sees the whole party, every share, every service with who it is for.
    f.env.counter.reset();
    let r = f.send(get_booking("AE-50005").header("cookie", &cookie(&lead))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(calls(&f.env), one_query());
    let b = body_json(&r);
    assert_eq!(b["viewer"]["role"], "lead");
    let travellers = b["travellers"].as_array().unwrap();
    assert_eq!(travellers.len(), 4);
    assert!(travellers.iter().all(|t| t["last_name"].is_string() && t["id"].is_string()));
    assert_eq!(b["money"]["traveller_shares"].as_array().unwrap().len(), 4);
    assert_eq!(b["money"]["traveller_shares"][0]["share"]["amount"], "1800.00");
    assert_eq!(b["itinerary"][0]["services"][0]["traveller_ids"], json!(["G1", "G2"]));
    let missing: Vec<&str> = b["pending_actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "missing_passenger_details")
        .map(|a| a["traveller_id"].as_str().unwrap())
        .collect();
    assert_eq!(missing, vec!["G1", "G2", "G3", "G4"], "nobody has entered details yet");
    assert!(b["pending_actions"].as_array().unwrap().iter().any(|a| a["type"] == "instalment_awaiting_approval"));

    // A traveller sees itself and only the first names of the others.
    f.env.counter.reset();
    let r = f.send(get_booking("AE-50005").header("cookie", &cookie(&alan))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(calls(&f.env), one_query());
    let b = body_json(&r);
    assert_eq!(b["viewer"], json!({"traveller_id": "G2", "role": "traveller"}));
    assert_eq!(
        b["travellers"],
        json!([
            {"first_name": "Grace"},
            {"id": "G2", "first_name": "Alan", "last_name": "Turing", "email": "alan@example.com", "is_lead": false, "is_you": true, "missing_details": ["legal_name", "date_of_birth", "emergency_contact"], "details_percent": 0},
            {"first_name": "Katherine"},
            {"first_name": "Edsger"}
        ])
    );
    let text = b.to_string();
    for secret in ["Hopper", "grace@example.com", "1980-01-02", "Johnson", "katherine@example.com", "Dijkstra"] {
        assert!(!text.contains(secret), "traveller view leaks {secret}");
    }
    let shares = b["money"]["traveller_shares"].as_array().unwrap();
    assert_eq!(shares.len(), 1);
    assert_eq!(shares[0]["traveller_id"], "G2");
    assert_eq!(b["money"]["total"]["amount"], "7200.00");
    // The Blue Lagoon (G1, G2) is Alan's, without the list of who else goes.
    assert_eq!(b["itinerary"][0]["services"][0]["name"], "Blue Lagoon entry");
    assert!(b["itinerary"][0]["services"][0].get("traveller_ids").is_none());
    let actions: Vec<&str> =
        b["pending_actions"].as_array().unwrap().iter().map(|a| a["type"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["missing_passenger_details"]);

    // Katherine is not on the Blue Lagoon service.
    let b = body_json(&f.send(get_booking("AE-50005").header("cookie", &cookie(&katherine))).await);
    assert_eq!(b["itinerary"][0]["services"], json!([]));

    // Different viewers, different ETags.
    let e1 = f.send(get_booking("AE-50005").header("cookie", &cookie(&lead))).await.headers()["etag"].clone();
    let e2 = f.send(get_booking("AE-50005").header("cookie", &cookie(&alan))).await.headers()["etag"].clone();
    assert_ne!(e1, e2);
    let r = f
        .send(get_booking("AE-50005").header("cookie", &cookie(&alan)).header("if-none-match", e1.to_str().unwrap()))
        .await;
    assert_eq!(r.status(), 200, "the lead's ETag does not validate the traveller's view");
}

#[tokio::test]
async fn bad_input_is_a_precise_4xx() {
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    f.seed("AE-50005", &seed::group_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let with = |r: ApiRequest| r.header("cookie", &cookie(&token));

    // Unknown reference and a reference outside the session's scope: the identical 404, nothing read.
    f.env.counter.reset();
    let unknown = f.send(with(get_booking("ZZ-99999"))).await;
    let foreign = f.send(with(get_booking("AE-50005"))).await;
    assert_problem(&unknown, 404, "not-found");
    assert_problem(&foreign, 404, "not-found");
    assert_eq!(body_bytes(&unknown), body_bytes(&foreign));
    assert_eq!(f.env.counter.total(), 0, "scope is checked before any read");

    // Malformed references.
    for bad in ["AB", "AB/../CD", "AB 1234", "-ABCD", "ÄBCD1", &"A".repeat(21), "AB#1234"] {
        assert_problem(&f.send(with(get_booking(bad))).await, 400, "malformed-reference");
    }
    // The route without its parameter.
    let r = f.send(with(ApiRequest::new("GET", "/bookings/").route("/bookings/{reference}"))).await;
    assert_problem(&r, 400, "malformed-reference");

    // No session, a garbage session, an expired session.
    for r in [get_booking("AE-10001"), list()] {
        let resp = f.send(r.clone()).await;
        assert_problem(&resp, 401, "unauthorized");
        assert!(resp.headers().contains_key("www-authenticate"));
        assert_problem(
            &f.send(r.clone().header("cookie", &format!("{COOKIE_NAME}=not.a.token"))).await,
            401,
            "unauthorized",
        );
        assert_problem(&f.send(r.clone().bearer("eyJhbGciOiJub25lIn0.e30.")).await, 401, "unauthorized");
    }
    let later = ::bookings::State::new(f.env.store(), sessions()).with_clock(|| Utc::now() + Duration::minutes(31));
    for r in [get_booking("AE-10001"), list()] {
        let resp = ::bookings::handle(&later, with(r).build()).await.unwrap_or_else(|e| match e {});
        assert_problem(&resp, 401, "unauthorized");
    }

    // Accept-Language garbage falls back to the booking's locale, never fails.
    for garbage in
        ["", "*;q=banana", "@@@ ;;; ===", "xx-YY-zzzzzzzzzzzzzzzzzzzz", ";;;,,,q=", &"en-GB;q=0.1,".repeat(500)]
    {
        let r = f.send(with(get_booking("AE-10001")).header("accept-language", garbage)).await;
        assert_eq!(r.status(), 200, "{garbage:?}");
        assert_eq!(body_json(&r)["locale"], "en-GB");
        let r = f.send(with(list()).header("accept-language", garbage)).await;
        assert_eq!(r.status(), 200, "{garbage:?}");
    }
    // If-None-Match garbage is simply no match.
    assert_eq!(f.send(with(get_booking("AE-10001")).header("if-none-match", "W/\"x, ,\"\"\"")).await.status(), 200);

    // Other methods.
    let r = f
        .send(with(
            ApiRequest::new("POST", "/bookings/AE-10001")
                .route("/bookings/{reference}")
                .path_param("reference", "AE-10001"),
        ))
        .await;
    assert_problem(&r, 405, "method-not-allowed");

    // A revoked (or logged-out) session: its item is gone, the token alone is not enough, on both routes.
    let sk = f
        .env
        .all_items()
        .await
        .into_iter()
        .filter_map(|i| i.get("sk").and_then(|v| v.as_s().ok()).cloned())
        .find(|sk| sk.starts_with("SESSION#"))
        .unwrap();
    f.env
        .ddb
        .delete_item()
        .table_name(&f.env.table)
        .key("pk", AttributeValue::S("B#AE-10001".into()))
        .key("sk", AttributeValue::S(sk))
        .send()
        .await
        .unwrap();
    assert_problem(&f.send(with(get_booking("AE-10001"))).await, 401, "unauthorized");
    assert_problem(&f.send(with(list())).await, 401, "unauthorized");
}

#[tokio::test]
async fn a_traveller_removed_from_the_booking_no_longer_sees_it() {
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let charles = f.sign_in("AE-10001", "T2", "charles@example.com", false).await;
    assert_eq!(f.send(get_booking("AE-10001").bearer(&charles)).await.status(), 200);
    let mut b = seed::gbp_booking(today());
    b["travellers"].as_array_mut().unwrap().pop();
    b["price_lines"][1]["traveller_id"] = Value::Null;
    f.seed("AE-10001", &b).await;
    // The upsert that removed him ended his session in the same write: sign in again, and there is no way in.
    let r = f.send(get_booking("AE-10001").bearer(&charles)).await;
    assert_problem(&r, 401, "unauthorized");
}

#[tokio::test]
async fn list_of_the_customers_bookings_newest_travel_first() {
    let f = fx().await;
    // Ada is on three bookings: a future one, one further out, and one already travelled.
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let mut later = seed::eur_booking(today());
    later["travellers"][0]["email"] = "Ada@Example.com".into();
    f.seed("AE-20002", &later).await;
    let mut past = seed::jpy_booking(today());
    past["travellers"][0]["email"] = "ada@example.com".into();
    past["travel_start"] = days(-40).into();
    past["travel_end"] = days(-35).into();
    past["itinerary"][0]["date"] = days(-40).into();
    past["status"] = "completed".into();
    past["schedule"][0]["due_date"] = days(-120).into();
    past["schedule"][1]["due_date"] = days(-60).into();
    f.seed("ST-30003", &past).await;
    // Someone else's booking is never listed.
    f.seed("GJ-40004", &seed::bhd_booking(today())).await;

    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    f.env.counter.reset();
    let r = f.send(list().header("cookie", &cookie(&token))).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(
        calls(&f.env),
        vec![
            ("DynamoDB.BatchGetItem".to_string(), 1),
            ("DynamoDB.GetItem".to_string(), 1),
            ("DynamoDB.Query".to_string(), 1)
        ]
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers().contains_key("set-cookie"));
    let b = body_json(&r);
    assert_eq!(b["locale"], "en-GB");
    let refs: Vec<&str> = b["bookings"].as_array().unwrap().iter().map(|x| x["reference"].as_str().unwrap()).collect();
    assert_eq!(refs, vec!["AE-20002", "AE-10001", "ST-30003"]);
    let gbp = &b["bookings"][1];
    assert_eq!(gbp["brand"], "alpine-escapes");
    assert_eq!(gbp["status"], json!({"code": "confirmed"}));
    assert_eq!(gbp["travel_start"]["date"], days(120));
    assert_eq!(gbp["current"], true);
    assert_eq!(gbp["outstanding"], json!({"amount": "2580.50", "currency": "GBP", "display": "£2,580.50"}));
    assert_eq!(b["bookings"][0]["outstanding"]["amount"], "1234.50");
    assert_eq!(b["bookings"][0]["outstanding"]["currency"], "EUR");
    assert_eq!(b["bookings"][2]["current"], false);
    assert_eq!(b["bookings"][2]["outstanding"]["amount"], "248000");
    // Nothing beyond the listing fields leaves the table.
    assert!(!b.to_string().contains("Lovelace"));

    // In French on request.
    let r = f.send(list().header("cookie", &cookie(&token)).header("accept-language", "fr-CA, en;q=0.5")).await;
    let b = body_json(&r);
    assert_eq!(b["locale"], "fr-FR");
    assert!(
        b["bookings"][1]["outstanding"]["display"].as_str().unwrap().contains("2\u{202f}580,50"),
        "{}",
        b["bookings"][1]["outstanding"]
    );

    // A customer with no other bookings sees just the one.
    let amal = f.sign_in("GJ-40004", "A", "amal@example.bh", true).await;
    let b = body_json(&f.send(list().bearer(&amal)).await);
    assert_eq!(b["bookings"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn through_the_local_http_gateway() {
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let state = ::bookings::State::new(f.env.store(), sessions());
    let gw =
        portal_tests::gateway::Gateway::new().function("bookings", portal_tests::handler!(state, ::bookings::handle));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(std::sync::Arc::new(gw).serve(listener));
    let client = portal_tests::http_client();

    f.env.counter.reset();
    let r = client
        .get(format!("http://{addr}/bookings/AE-10001"))
        .header("cookie", cookie(&token))
        .header("accept-language", "en-GB")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(calls(&f.env), one_query());
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["money"]["outstanding"]["display"], "£2,580.50");
    let r = client
        .get(format!("http://{addr}/bookings/AE-10001"))
        .header("cookie", cookie(&token))
        .header("accept-language", "en-GB")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = client.get(format!("http://{addr}/bookings")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = client.get(format!("http://{addr}/bookings/AE%2F1")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = client.get(format!("http://{addr}/bookings/AE-10001")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn sample_events_are_real_api_gateway_requests() {
    // events/bookings/*.json feed `cargo lambda invoke --data-file`; their cookie is a placeholder, replaced
    // here by a freshly signed session.
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let dir = portal_tests::moto::repo_root().join("events/bookings");
    let load = |name: &str, token: Option<&str>| {
        let mut ev: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
        match token {
            Some(t) => ev["cookies"] = json!([cookie(t)]),
            None => {
                ev.as_object_mut().unwrap().remove("cookies");
            }
        }
        lambda_http::request::from_str(&ev.to_string()).unwrap()
    };
    let call = |req| ::bookings::handle(&f.state, req);
    assert_eq!(call(load("get-booking.json", Some(&token))).await.unwrap_or_else(|e| match e {}).status(), 200);
    assert_eq!(call(load("list-bookings.json", Some(&token))).await.unwrap_or_else(|e| match e {}).status(), 200);
    assert_eq!(
        call(load("get-booking-malformed-reference.json", Some(&token))).await.unwrap_or_else(|e| match e {}).status(),
        400
    );
    assert_eq!(call(load("get-booking.json", None)).await.unwrap_or_else(|e| match e {}).status(), 401);
}

#[tokio::test]
async fn a_collection_over_one_megabyte_is_read_in_pages_of_the_same_query() {
    // Three ~380 KB document items push the collection past DynamoDB's 1 MB page: the overview then needs a
    // second page of the same Query, and still answers with every document.
    let f = fx().await;
    f.seed("AE-10001", &seed::gbp_booking(today())).await;
    let token = f.sign_in("AE-10001", "T1", "ada@example.com", true).await;
    let padding = "x".repeat(380 * 1024);
    for i in 1..=3 {
        let s = |v: &str| AttributeValue::S(v.to_string());
        let item = HashMap::from([
            ("pk".to_string(), s("B#AE-10001")),
            ("sk".to_string(), s(&format!("DOC#invoice#INV{i}#1"))),
            ("entity".to_string(), s("document")),
            ("type".to_string(), s("invoice")),
            ("document_id".to_string(), s(&format!("INV{i}"))),
            ("version".to_string(), AttributeValue::N("1".into())),
            ("generated_at".to_string(), s("2026-01-01T00:00:00Z")),
            ("padding".to_string(), s(&padding)),
        ]);
        f.env.ddb.put_item().table_name(&f.env.table).set_item(Some(item)).send().await.unwrap();
    }
    f.env.counter.reset();
    let r = f.send(get_booking("AE-10001").bearer(&token)).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(calls(&f.env), vec![("DynamoDB.Query".to_string(), 2)]);
    let b = body_json(&r);
    assert_eq!(b["documents"].as_array().unwrap().len(), 3);
    assert!(!b.to_string().contains("xxxx"));
}

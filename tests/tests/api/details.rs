//! Traveller details against moto (DynamoDB, KMS, S3): who may edit whom, optimistic concurrency, the
//! operator's document-validity rule, masking, encryption at rest, history and restore, the operator's
//! event feed and full read, the merge rule with the operator's push, profile pre-fill, retention at a
//! moved clock, erasure requests, data export, the overview's progress and every bad input.

use chrono::{DateTime, Duration, Utc};
use lambda_http::{Body, Response};
use portal_http::operator::OperatorAuth;
use portal_tests::customer::{OPERATOR_KEY, assert_problem, seed_booking, sessions, sign_in, today};
use portal_tests::{ApiRequest, TestEnv, body_json, seed};
use serde_json::{Value, json};

const REF: &str = "AE-30001";

struct Fx {
    env: TestEnv,
    api: traveller_details::State,
    export: details_export::State,
}

async fn fx() -> Fx {
    let env = TestEnv::new().await;
    let api = portal_tests::details::state(&env, sessions(), OperatorAuth::key(OPERATOR_KEY).unwrap()).await;
    let export = portal_tests::details::export(&env, clone_state(&api));
    Fx { env, api, export }
}

fn clone_state(api: &traveller_details::State) -> traveller_details::State {
    traveller_details::State {
        store: api.store.clone(),
        sessions: api.sessions.clone(),
        auth: OperatorAuth::key(OPERATOR_KEY).unwrap(),
        vault: api.vault.clone(),
        policies: api.policies.clone(),
        clock: api.clock.clone(),
    }
}

fn path(reference: &str, traveller: &str, rest: &str) -> String {
    format!("/bookings/{reference}/traveller-details/{traveller}{rest}")
}

/// A full, valid form for a passport valid well past travel.
fn form(given: &str, number: &str) -> Value {
    json!({
        "legal_name": {"given_names": given, "surname": "Hopper"},
        "date_of_birth": "1979-03-04",
        "nationality": "us",
        "travel_document": {"kind": "passport", "number": number, "issuing_country": "US", "expiry_date": "2035-05-01"},
        "dietary_requirements": "",
        "medical_notes": "carries an EpiPen",
        "emergency_contact": {"name": "Vincent Hopper", "relation": "brother", "phone": "+1 202 555 0143"},
        "preferences": {"marketing_email": true, "sms": false}
    })
}

impl Fx {
    /// Route as API Gateway does: the export to its own function, the rest to traveller-details.
    async fn call(&self, req: ApiRequest) -> Response<Body> {
        let req = req.build();
        if req.uri().path().ends_with("/export") {
            return details_export::handle(&self.export, req).await.unwrap_or_else(|e| match e {});
        }
        traveller_details::handle(&self.api, req).await.unwrap_or_else(|e| match e {})
    }

    async fn get(&self, token: &str, p: &str) -> Response<Body> {
        self.call(ApiRequest::new("GET", p).bearer(token)).await
    }

    async fn put(&self, token: &str, p: &str, if_match: Option<&str>, body: &Value) -> Response<Body> {
        let mut r = ApiRequest::new("PUT", p).bearer(token).json(body);
        if let Some(m) = if_match {
            r = r.header("if-match", m);
        }
        self.call(r).await
    }

    async fn operator(&self, method: &str, p: &str) -> Response<Body> {
        self.call(ApiRequest::new(method, p).bearer(OPERATOR_KEY)).await
    }

    /// Every event on the operator feed, as if read after the settle window.
    async fn events(&self) -> Vec<Value> {
        self.events_at(Utc::now() + Duration::seconds(5)).await
    }

    async fn events_at(&self, at: DateTime<Utc>) -> Vec<Value> {
        let api = traveller_details::State { clock: std::sync::Arc::new(move || at), ..self.clone_api() };
        let r = traveller_details::handle(
            &api,
            ApiRequest::new("GET", "/operator/traveller-events").query("limit", "100").bearer(OPERATOR_KEY).build(),
        )
        .await
        .unwrap_or_else(|e| match e {});
        assert_eq!(r.status(), 200, "{}", body_json(&r));
        body_json(&r)["events"].as_array().cloned().unwrap_or_default()
    }

    fn clone_api(&self) -> traveller_details::State {
        clone_state(&self.api)
    }

    async fn raw_details_item(
        &self,
        reference: &str,
        traveller: &str,
    ) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
        self.env
            .ddb
            .get_item()
            .table_name(&self.env.table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("B#{reference}")))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("DETAILS#{traveller}")))
            .send()
            .await
            .unwrap()
            .item
            .expect("details item")
    }
}

async fn group(f: &Fx, reference: &str) -> (String, String) {
    seed_booking(&f.env, reference, &seed::group_booking(today())).await;
    let lead = sign_in(&f.env, reference, "G1", "grace@example.com", true).await;
    let alan = sign_in(&f.env, reference, "G2", "alan@example.com", false).await;
    (lead, alan)
}

#[tokio::test]
async fn the_lead_fills_in_the_party_and_a_traveller_only_themself() {
    let f = fx().await;
    let (lead, alan) = group(&f, REF).await;

    // The lead sees all four, each with what the operator requires still missing.
    let r = f.get(&lead, &format!("/bookings/{REF}/traveller-details")).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    let list = body_json(&r);
    assert_eq!(list["travellers"].as_array().unwrap().len(), 4);
    assert_eq!(list["requirements"]["required"], json!(["legal_name", "date_of_birth", "emergency_contact"]));
    assert_eq!(list["travellers"][0]["complete"], json!(["date_of_birth"]), "the push's date of birth counts");

    // A traveller sees only themself, and another traveller's details answer like an unknown one.
    let mine = body_json(&f.get(&alan, &format!("/bookings/{REF}/traveller-details")).await);
    let ids: Vec<_> = mine["travellers"].as_array().unwrap().iter().map(|t| t["traveller_id"].clone()).collect();
    assert_eq!(ids, [json!("G2")]);
    assert_problem(&f.get(&alan, &path(REF, "G3", "")).await, 404, "not-found");
    assert_problem(
        &f.put(&alan, &path(REF, "G3", ""), Some("\"0\""), &form("Katherine", "K1234567")).await,
        404,
        "not-found",
    );
    assert_problem(&f.get(&alan, &path(REF, "NOPE", "")).await, 404, "not-found");

    // Alan fills in his own; the lead fills in Katherine's.
    let r = f.put(&alan, &path(REF, "G2", ""), Some("\"0\""), &form("Alan Mathison", "A1234567")).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(r.headers()["etag"], "\"1\"");
    assert_eq!(body_json(&r)["percent"], 100);
    let r = f.put(&lead, &path(REF, "G3", ""), Some("\"0\""), &form("Katherine", "K7654321")).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    let list = body_json(&f.get(&lead, &format!("/bookings/{REF}/traveller-details")).await);
    let pct: Vec<_> = list["travellers"].as_array().unwrap().iter().map(|t| t["percent"].as_u64().unwrap()).collect();
    assert_eq!(pct, [33, 100, 100, 0]);
    assert_eq!(list["percent"], 58);
}

#[tokio::test]
async fn a_stale_or_missing_version_changes_nothing() {
    let f = fx().await;
    let (lead, alan) = group(&f, REF).await;
    let p = path(REF, "G2", "");
    assert_problem(&f.put(&alan, &p, None, &form("Alan", "A1234567")).await, 428, "precondition-required");
    assert_problem(&f.put(&alan, &p, Some("v1"), &form("Alan", "A1234567")).await, 400, "bad-request");
    assert_eq!(f.put(&alan, &p, Some("\"0\""), &form("Alan", "A1234567")).await.status(), 200);
    // The lead read version 0 before Alan saved: their save is refused, Alan's stays.
    assert_problem(
        &f.put(&lead, &p, Some("\"0\""), &form("Alan Overwritten", "A1234567")).await,
        412,
        "precondition-failed",
    );
    let now = body_json(&f.get(&lead, &p).await);
    assert_eq!(now["details"]["legal_name"]["given_names"], "Alan");
    assert_eq!(now["version"], 1);
    // Saving the same values again makes no new version.
    let r = f.put(&alan, &p, Some("\"1\""), &form("Alan", "A1234567")).await;
    assert_eq!((r.status().as_u16(), body_json(&r)["version"].clone()), (200, json!(1)));
    // Two concurrent first saves of the same traveller: exactly one wins.
    let q = path(REF, "G4", "");
    let (one, two) = (form("Edsger", "E1234567"), form("Edsger Wybe", "E1234567"));
    let (a, b) = tokio::join!(f.put(&lead, &q, Some("\"0\""), &one), f.put(&lead, &q, Some("\"0\""), &two));
    let mut codes = [a.status().as_u16(), b.status().as_u16()];
    codes.sort();
    assert_eq!(codes, [200, 412]);
}

#[tokio::test]
async fn the_document_rule_refuses_or_warns_and_every_bad_field_is_named() {
    let f = fx().await;
    let (lead, _) = group(&f, REF).await;
    let travel_end = today() + Duration::days(160);
    let mut early = form("Grace", "G1234567");
    early["travel_document"]["expiry_date"] = json!((travel_end - Duration::days(1)).to_string());
    early["emergency_contact"]["phone"] = json!("12");
    early["nationality"] = json!("Narnia");
    let r = f.put(&lead, &path(REF, "G1", ""), Some("\"0\""), &early).await;
    assert_problem(&r, 422, "validation-error");
    let fields: Vec<_> =
        body_json(&r)["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_string()).collect();
    assert_eq!(fields, ["nationality", "travel_document.expiry_date", "emergency_contact.phone"], "{}", body_json(&r));
    assert!(f.raw_details_item_absent(REF, "G1").await, "nothing was written");

    // A booking whose operator only warns: accepted, with the warning.
    let mut body = seed::group_booking(today());
    body["traveller_details"] = json!({"document_validity": {"months_after_travel": 6, "enforcement": "warn"}});
    seed_booking(&f.env, "AE-30002", &body).await;
    let lead2 = sign_in(&f.env, "AE-30002", "G1", "grace@example.com", true).await;
    let mut soon = form("Grace", "G1234567");
    soon["travel_document"]["expiry_date"] = json!((travel_end + Duration::days(30)).to_string());
    let r = f.put(&lead2, &path("AE-30002", "G1", ""), Some("\"0\""), &soon).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(body_json(&r)["warnings"][0]["field"], "travel_document.expiry_date");

    // Malformed, unknown, oversized, wrong method, bad ids.
    let p = path(REF, "G1", "");
    let unknown = f.put(&lead, &p, Some("\"0\""), &json!({"passport_number": "X"})).await;
    assert_problem(&unknown, 400, "bad-request");
    let r = f
        .call(
            ApiRequest::new("PUT", &p)
                .bearer(&lead)
                .header("if-match", "\"0\"")
                .header("content-type", "application/json")
                .raw_body("{not json"),
        )
        .await;
    assert_problem(&r, 400, "malformed-json");
    let big = json!({"mobility_notes": "x".repeat(20_000)});
    assert_problem(&f.put(&lead, &p, Some("\"0\""), &big).await, 413, "payload-too-large");
    let r = f
        .call(
            ApiRequest::new("PUT", &p)
                .bearer(&lead)
                .header("if-match", "\"0\"")
                .header("content-type", "text/plain")
                .raw_body("{}"),
        )
        .await;
    assert_problem(&r, 415, "unsupported-media-type");
    assert_problem(&f.call(ApiRequest::new("DELETE", &p).bearer(&lead)).await, 405, "method-not-allowed");
    assert_problem(&f.get(&lead, &path(REF, "..%2FG2", "")).await, 400, "bad-request");
    assert_problem(&f.get(&lead, &path(REF, "G1", "/history/0/restore")).await, 405, "method-not-allowed");
    assert_problem(&f.get("not-a-token", &p).await, 401, "unauthorized");
    let other = sign_in(&f.env, "AE-30002", "G1", "grace@example.com", true).await;
    assert_problem(&f.get(&other, &p).await, 404, "not-found");
}

impl Fx {
    async fn raw_details_item_absent(&self, reference: &str, traveller: &str) -> bool {
        self.env
            .ddb
            .get_item()
            .table_name(&self.env.table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("B#{reference}")))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("DETAILS#{traveller}")))
            .send()
            .await
            .unwrap()
            .item
            .is_none()
    }
}

#[tokio::test]
async fn numbers_are_masked_for_customers_in_full_for_the_operator_and_sealed_at_rest() {
    let f = fx().await;
    let (lead, _) = group(&f, REF).await;
    let r = f.put(&lead, &path(REF, "G1", ""), Some("\"0\""), &form("Grace", "X9876543")).await;
    assert_eq!(r.status(), 200);
    for r in [r, f.get(&lead, &path(REF, "G1", "")).await, f.get(&lead, &path(REF, "G1", "/export")).await] {
        let text = body_json(&r).to_string();
        assert!(!text.contains("X9876543") && text.contains("•••••543"), "{text}");
    }
    let ops = body_json(&f.operator("GET", &format!("/operator/bookings/{REF}/travellers")).await);
    let grace = &ops["travellers"][0];
    assert_eq!(grace["details"]["travel_document"]["number"], "X9876543");
    assert_eq!(grace["details"]["medical_notes"], "carries an EpiPen");
    assert_eq!(grace["details"]["preferences"]["marketing_email"]["wording_id"], "marketing_email.v1");
    assert_problem(&f.get(&lead, &format!("/operator/bookings/{REF}/travellers")).await, 401, "unauthorized");

    // At rest: no sensitive value in any item; the sealed part opens only for its owner.
    let items = f.env.all_items().await;
    let dump = format!("{items:?}");
    for secret in ["X9876543", "1979-03-04", "EpiPen"] {
        assert!(!dump.contains(secret), "{secret} stored in plain text");
    }
    let raw = f.raw_details_item(REF, "G1").await;
    let sealed: portal_sealing::Sealed = serde_json::from_str(raw["sealed"].as_s().unwrap()).unwrap();
    let kms = aws_sdk_kms::Client::new(&f.env.sdk);
    let sealer = portal_sealing::Sealer::new(kms.clone(), sealed.key_id.clone());
    let own = traveller_details::vault::details_context(REF, "G1", 1);
    assert!(String::from_utf8(sealer.open(&sealed, &own).await.unwrap()).unwrap().contains("X9876543"));
    for wrong in [
        traveller_details::vault::details_context(REF, "G2", 1),
        traveller_details::vault::details_context("AE-39999", "G1", 1),
        traveller_details::vault::details_context(REF, "G1", 2),
    ] {
        assert!(sealer.open(&sealed, &wrong).await.is_err(), "opened under another owner's context");
    }
    let other_key = kms.create_key().send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    let misdirected = portal_sealing::Sealed { key_id: other_key, ..sealed };
    assert!(sealer.open(&misdirected, &own).await.is_err(), "another key opened it");
}

#[tokio::test]
async fn history_lists_every_change_and_a_restore_is_a_new_version() {
    let f = fx().await;
    let (lead, _) = group(&f, REF).await;
    let p = path(REF, "G1", "");
    assert_eq!(f.put(&lead, &p, Some("\"0\""), &form("Grace", "X1111111")).await.status(), 200);
    let mut wrong = form("Grace Brewster", "X2222222");
    wrong["emergency_contact"] = Value::Null;
    assert_eq!(f.put(&lead, &p, Some("\"1\""), &wrong).await.status(), 200);

    let h = body_json(&f.get(&lead, &path(REF, "G1", "/history")).await);
    let versions = h["versions"].as_array().unwrap();
    assert_eq!(versions.iter().map(|v| v["version"].as_u64().unwrap()).collect::<Vec<_>>(), [2, 1]);
    let fields: Vec<_> =
        versions[0]["changes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["legal_name", "travel_document.number", "emergency_contact"]);
    assert!(!h.to_string().contains("X1111111") && !h.to_string().contains("X2222222"), "{h}");
    assert_eq!(versions[0]["by"], "customer");

    // Restore version 1: a new version 3 with version 1's values, the number too (the operator sees it).
    assert_problem(
        &f.call(ApiRequest::new("POST", &path(REF, "G1", "/history/1/restore")).bearer(&lead)).await,
        428,
        "precondition-required",
    );
    assert_problem(
        &f.call(
            ApiRequest::new("POST", &path(REF, "G1", "/history/1/restore")).bearer(&lead).header("if-match", "\"1\""),
        )
        .await,
        412,
        "precondition-failed",
    );
    assert_problem(
        &f.call(
            ApiRequest::new("POST", &path(REF, "G1", "/history/9/restore")).bearer(&lead).header("if-match", "\"2\""),
        )
        .await,
        404,
        "not-found",
    );
    let r = f
        .call(ApiRequest::new("POST", &path(REF, "G1", "/history/1/restore")).bearer(&lead).header("if-match", "\"2\""))
        .await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(r.headers()["etag"], "\"3\"");
    let b = body_json(&r);
    assert_eq!(b["details"]["legal_name"]["given_names"], "Grace");
    assert_eq!(b["details"]["emergency_contact"]["name"], "Vincent Hopper");
    let h = body_json(&f.get(&lead, &path(REF, "G1", "/history")).await);
    assert_eq!(h["versions"][0]["restored_from"], 1);
    let ops = body_json(&f.operator("GET", &format!("/operator/bookings/{REF}/travellers/G1/history")).await);
    assert_eq!(ops["versions"][0]["details"]["travel_document"]["number"], "X1111111");
    assert_eq!(ops["versions"][1]["details"]["travel_document"]["number"], "X2222222");

    // The operator restores too (version 2), with its own If-Match; it shows as the operator's change.
    let r = f
        .call(
            ApiRequest::new("POST", &format!("/operator/bookings/{REF}/travellers/G1/history/2/restore"))
                .bearer(OPERATOR_KEY)
                .header("if-match", "\"3\""),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    let h = body_json(&f.get(&lead, &path(REF, "G1", "/history")).await);
    assert_eq!(
        (h["versions"][0]["by"].clone(), h["versions"][0]["restored_from"].clone()),
        (json!("operator"), json!(2))
    );

    // Every accepted change is an event on the operator's feed, with field names and no values.
    let events: Vec<Value> = f.events().await.into_iter().filter(|e| e["reference"] == REF).collect();
    let kinds: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "traveller_details.changed",
            "traveller_details.changed",
            "traveller_details.restored",
            "traveller_details.restored"
        ]
    );
    assert_eq!(events[2]["restored_from"], 1);
    assert_eq!(events[3]["actor"]["role"], "operator");
    let text = serde_json::to_string(&events).unwrap();
    for secret in ["X1111111", "X2222222", "1979-03-04", "EpiPen", "Vincent"] {
        assert!(!text.contains(secret), "{secret} in events");
    }
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/traveller-events.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for e in &events {
        assert!(validator.is_valid(e), "{e} does not match docs/traveller-events.schema.json");
    }
}

#[tokio::test]
async fn the_event_feed_pages_by_cursor_and_holds_back_unsettled_events() {
    let f = fx().await;
    let (lead, alan) = group(&f, REF).await;
    assert_eq!(f.put(&lead, &path(REF, "G1", ""), Some("\"0\""), &form("Grace", "X1111111")).await.status(), 200);
    assert_eq!(f.put(&alan, &path(REF, "G2", ""), Some("\"0\""), &form("Alan", "A1111111")).await.status(), 200);
    // Right now both are inside the settle window.
    let r = f.operator("GET", "/operator/traveller-events").await;
    assert_eq!(body_json(&r)["events"], json!([]));
    let later =
        traveller_details::State { clock: std::sync::Arc::new(|| Utc::now() + Duration::seconds(5)), ..f.clone_api() };
    let call = |q: Vec<(&'static str, String)>| {
        let mut req = ApiRequest::new("GET", "/operator/traveller-events").bearer(OPERATOR_KEY);
        for (k, v) in q {
            req = req.query(k, &v);
        }
        let api = &later;
        async move { traveller_details::handle(api, req.build()).await.unwrap_or_else(|e| match e {}) }
    };
    let page1 = body_json(&call(vec![("limit", "1".into())]).await);
    assert_eq!(page1["events"].as_array().unwrap().len(), 1);
    assert_eq!(page1["events"][0]["traveller_id"], "G1");
    let next = page1["next"].as_str().unwrap().to_string();
    let page2 = body_json(&call(vec![("limit", "10".into()), ("after", next)]).await);
    assert_eq!(page2["events"].as_array().unwrap().len(), 1);
    assert_eq!(page2["events"][0]["traveller_id"], "G2");
    let page3 = body_json(&call(vec![("after", page2["next"].as_str().unwrap().into())]).await);
    assert_eq!(page3["events"], json!([]));
    assert_eq!(page3["next"], page2["next"], "an empty page keeps the cursor");
    assert_problem(&call(vec![("limit", "0".into())]).await, 400, "bad-request");
    assert_problem(&call(vec![("after", "x'; drop".into())]).await, 400, "bad-request");
    let r = traveller_details::handle(&f.api, ApiRequest::new("GET", "/operator/traveller-events").build())
        .await
        .unwrap_or_else(|e| match e {});
    assert_problem(&r, 401, "unauthorized");
}

#[tokio::test]
async fn an_operator_push_never_wipes_what_the_customer_entered_and_the_overview_counts_it() {
    let f = fx().await;
    let (lead, _) = group(&f, REF).await;
    assert_eq!(f.put(&lead, &path(REF, "G2", ""), Some("\"0\""), &form("Alan", "A1234567")).await.status(), 200);

    // The operator pushes the booking again, with a changed name and the trip moved.
    let mut body = seed::group_booking(today());
    body["travellers"][1]["first_name"] = json!("Alan M.");
    body["travel_end"] = json!((today() + Duration::days(161)).to_string());
    seed_booking(&f.env, REF, &body).await;
    let d = body_json(&f.get(&lead, &path(REF, "G2", "")).await);
    assert_eq!((d["version"].clone(), d["details"]["legal_name"]["given_names"].clone()), (json!(1), json!("Alan")));
    assert_eq!(d["percent"], 100);

    // The booking overview's pending action names what is still missing, from the details.
    let bookings = bookings::State::new(f.env.store(), sessions())
        .with_policies(portal_details::policy::BrandPolicies::parse(Some(portal_tests::details::BRANDS_JSON)).unwrap());
    let r = bookings::handle(
        &bookings,
        ApiRequest::new("GET", &format!("/bookings/{REF}"))
            .route("/bookings/{reference}")
            .path_param("reference", REF)
            .bearer(&lead)
            .build(),
    )
    .await
    .unwrap_or_else(|e| match e {});
    let o = body_json(&r);
    let missing: Vec<_> = o["pending_actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "missing_passenger_details")
        .map(|a| (a["traveller_id"].as_str().unwrap().to_string(), a["fields"].clone()))
        .collect();
    assert_eq!(
        missing,
        [
            ("G1".to_string(), json!(["legal_name", "emergency_contact"])),
            ("G3".to_string(), json!(["legal_name", "date_of_birth", "emergency_contact"])),
            ("G4".to_string(), json!(["legal_name", "date_of_birth", "emergency_contact"])),
        ],
        "{o}"
    );
    assert_eq!(o["travellers"][1]["details_percent"], 100);
}

#[tokio::test]
async fn a_profile_is_offered_on_the_next_booking_and_only_copied_when_the_customer_saves() {
    let f = fx().await;
    let (_, alan) = group(&f, REF).await;
    assert_eq!(
        f.put(&alan, &path(REF, "G2", ""), Some("\"0\""), &form("Alan Mathison", "A7654321")).await.status(),
        200
    );

    // Next booking, same brand, Alan as lead with the same verified email.
    let mut next = seed::group_booking(today());
    next["lead_traveller_id"] = json!("N1");
    next["travellers"] =
        json!([{"id": "N1", "first_name": "Alan", "last_name": "Turing", "email": "alan@example.com"}]);
    next["price_lines"] = json!([{"description": "Trip", "amount": "7200.00"}]);
    next["itinerary"] = json!([{"date": (today() + Duration::days(150)).to_string(), "title": "Arrival"}]);
    seed_booking(&f.env, "AE-30003", &next).await;
    let alan2 = sign_in(&f.env, "AE-30003", "N1", "alan@example.com", true).await;
    let d = body_json(&f.get(&alan2, &path("AE-30003", "N1", "")).await);
    assert_eq!(d["version"], 0, "nothing copied");
    assert_eq!(d["details"]["legal_name"], Value::Null);
    assert_eq!(d["suggestion"]["from_reference"], REF);
    assert_eq!(d["suggestion"]["details"]["legal_name"]["given_names"], "Alan Mathison");
    assert_eq!(d["suggestion"]["details"]["travel_document"]["number_masked"], "•••••321");
    assert!(!d.to_string().contains("A7654321"));

    // He confirms the suggestion, keeping the profile's document (whose number the page never had).
    let mut confirmed = form("Alan Mathison", "unused");
    confirmed["travel_document"].as_object_mut().unwrap().remove("number");
    confirmed["use_profile_document"] = json!(true);
    let r = f.put(&alan2, &path("AE-30003", "N1", ""), Some("\"0\""), &confirmed).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    let ops = body_json(&f.operator("GET", "/operator/bookings/AE-30003/travellers").await);
    assert_eq!(ops["travellers"][0]["details"]["travel_document"]["number"], "A7654321");

    // A lead filling in someone else is never offered that person's profile.
    let lead = sign_in(&f.env, REF, "G1", "grace@example.com", true).await;
    let d = body_json(&f.get(&lead, &path(REF, "G3", "")).await);
    assert_eq!(d["suggestion"], Value::Null);
    let mut sneaky = form("Katherine", "unused");
    sneaky["travel_document"].as_object_mut().unwrap().remove("number");
    sneaky["use_profile_document"] = json!(true);
    assert_problem(&f.put(&lead, &path(REF, "G3", ""), Some("\"0\""), &sneaky).await, 422, "validation-error");
}

#[tokio::test]
async fn retention_erases_after_travel_and_a_moved_trip_is_never_erased_early() {
    let f = fx().await;
    let (lead, alan) = group(&f, REF).await;
    assert_eq!(f.put(&lead, &path(REF, "G1", ""), Some("\"0\""), &form("Grace", "X1111111")).await.status(), 200);
    assert_eq!(f.put(&lead, &path(REF, "G1", ""), Some("\"1\""), &form("Grace B", "X1111111")).await.status(), 200);
    assert_eq!(f.put(&alan, &path(REF, "G2", ""), Some("\"0\""), &form("Alan", "A1111111")).await.status(), 200);
    let job = portal_tests::details::retention(&f.env);
    let at = |days: i64| -> DateTime<Utc> { Utc::now() + Duration::days(days) };
    // Travel ends in 160 days; the default keeps details 90 days after.
    let r = details_retention::run(&job, at(200)).await.unwrap();
    assert_eq!((r.due, r.erased), (0, 0));

    // The operator moves the trip 30 days later: on the old date nothing is erased, only re-indexed.
    let mut body = seed::group_booking(today());
    body["travel_start"] = json!((today() + Duration::days(180)).to_string());
    body["travel_end"] = json!((today() + Duration::days(190)).to_string());
    for (i, day) in [180, 181].into_iter().enumerate() {
        body["itinerary"][i]["date"] = json!((today() + Duration::days(day)).to_string());
    }
    seed_booking(&f.env, REF, &body).await;
    let r = details_retention::run(&job, at(251)).await.unwrap();
    assert_eq!((r.due, r.erased, r.postponed), (2, 0, 2));
    assert_eq!(body_json(&f.get(&lead, &path(REF, "G1", "")).await)["details"]["legal_name"]["given_names"], "Grace B");

    let r = details_retention::run(&job, at(281)).await.unwrap();
    assert_eq!((r.erased, r.failed), (2, 0));
    let d = body_json(&f.get(&lead, &path(REF, "G1", "")).await);
    assert_eq!(d["details"]["legal_name"], Value::Null);
    assert!(d["erased_at"].is_string());
    // Nothing sensitive or personal is left anywhere: no sealed part, no old version.
    let items = f.env.all_items().await;
    let left: Vec<_> = items.iter().filter(|i| format!("{i:?}").contains("Grace B")).collect();
    assert!(left.is_empty(), "a name survived the erasure: {left:?}");
    let h = body_json(&f.get(&lead, &path(REF, "G1", "/history")).await);
    assert_eq!(h["versions"].as_array().unwrap().len(), 1, "only the erasure itself: {h}");
    assert_eq!(h["versions"][0]["by"], "system");
    let erased: Vec<Value> =
        f.events_at(at(282)).await.into_iter().filter(|e| e["type"] == "traveller_details.erased").collect();
    assert_eq!(erased.len(), 2);
    assert_eq!(erased[0]["reason"], "retention");
    // A second run finds nothing more.
    assert_eq!(details_retention::run(&job, at(282)).await.unwrap().due, 0);
}

#[tokio::test]
async fn an_erasure_request_reaches_the_operator_and_completing_it_erases() {
    let f = fx().await;
    let (_, alan) = group(&f, REF).await;
    assert_eq!(f.put(&alan, &path(REF, "G2", ""), Some("\"0\""), &form("Alan", "A1111111")).await.status(), 200);
    let ask = |note: Value| ApiRequest::new("POST", &path(REF, "G2", "/erasure-request")).bearer(&alan).json(&note);
    let r = f.call(ask(json!({"note": "I no longer travel with you"}))).await;
    assert_eq!(r.status(), 202, "{}", body_json(&r));
    let id = body_json(&r)["request_id"].clone();
    let again = f.call(ask(json!({}))).await;
    assert_eq!(
        (again.status().as_u16(), body_json(&again)["request_id"].clone()),
        (200, id.clone()),
        "one open request"
    );
    assert_problem(&f.call(ask(json!({"note": "x".repeat(1001)}))).await, 422, "validation-error");
    assert_eq!(body_json(&f.get(&alan, &path(REF, "G2", "")).await)["erasure_request"]["status"], "submitted");

    let patch = |status: &str| {
        ApiRequest::new("PATCH", &format!("/operator/bookings/{REF}/travellers/G2/erasure-request"))
            .bearer(OPERATOR_KEY)
            .json(&json!({"status": status, "note": "invoices are kept for 6 years"}))
    };
    assert_problem(&f.call(patch("submitted")).await, 422, "validation-error");
    assert_eq!(f.call(patch("in_review")).await.status(), 200);
    let r = f.call(patch("completed")).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_problem(&f.call(patch("declined")).await, 409, "conflict");
    let d = body_json(&f.get(&alan, &path(REF, "G2", "")).await);
    assert_eq!(
        (d["erasure_request"]["status"].clone(), d["details"]["legal_name"].clone()),
        (json!("completed"), Value::Null)
    );
    assert_eq!(d["erasure_request"]["operator_note"], "invoices are kept for 6 years");
    let kinds: Vec<String> = f.events().await.iter().map(|e| e["type"].as_str().unwrap().to_string()).collect();
    assert_eq!(
        kinds,
        [
            "traveller_details.changed",
            "erasure_request.submitted",
            "erasure_request.updated",
            "erasure_request.updated",
            "traveller_details.erased"
        ]
    );
    assert_problem(
        &f.call(
            ApiRequest::new("PATCH", &format!("/operator/bookings/{REF}/travellers/G3/erasure-request"))
                .bearer(OPERATOR_KEY)
                .json(&json!({"status": "completed"})),
        )
        .await,
        404,
        "not-found",
    );
}

#[tokio::test]
async fn a_customer_downloads_everything_held_about_them_as_json_and_pdf() {
    let f = fx().await;
    let (lead, _) = group(&f, REF).await;
    assert_eq!(f.put(&lead, &path(REF, "G1", ""), Some("\"0\""), &form("Grace", "X1111111")).await.status(), 200);
    let r = f.get(&lead, &path(REF, "G1", "/export")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    let j = body_json(&r);
    assert_eq!(j["traveller"]["email"], "grace@example.com");
    assert_eq!(j["details"]["medical_notes"], "carries an EpiPen");
    assert_eq!(j["details"]["preferences"]["marketing_email"]["wording_id"], "marketing_email.v1");
    assert_eq!(j["history"].as_array().unwrap().len(), 1);

    let r = f.call(ApiRequest::new("GET", &path(REF, "G1", "/export")).query("format", "pdf").bearer(&lead)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = portal_tests::apigw::body_bytes(&r);
    assert!(pdf.starts_with(b"%PDF"));
    let text = pdf_extract::extract_text_from_mem(&pdf).unwrap();
    assert!(text.contains("Your personal data") && text.contains("Grace") && text.contains("EpiPen"), "{text}");
    assert!(!text.contains("X1111111") && text.contains("111"), "{text}");
}

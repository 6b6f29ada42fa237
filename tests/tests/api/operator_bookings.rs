//! PUT /operator/bookings/{reference} against moto: upsert, one-Query read, versions, concurrency, bad input.

use chrono::Utc;
use portal_http::operator::OperatorAuth;
use portal_tests::seed;
use portal_tests::{ApiRequest, TestEnv, body_json};
use serde_json::{Value, json};

const KEY: &str = "test-operator-key-0123456789abcdef0123456789";

fn state(env: &TestEnv) -> operator_bookings::State {
    operator_bookings::State { store: env.store(), auth: OperatorAuth::key(KEY).unwrap(), gateway: None }
}

fn put(reference: &str, body: &Value) -> ApiRequest {
    ApiRequest::new("PUT", &format!("/operator/bookings/{reference}"))
        .route("/operator/bookings/{reference}")
        .path_param("reference", reference)
        .bearer(KEY)
        .json(body)
}

async fn send(state: &operator_bookings::State, req: ApiRequest) -> lambda_http::Response<lambda_http::Body> {
    operator_bookings::handle(state, req.build()).await.unwrap_or_else(|e| match e {})
}

fn today() -> chrono::NaiveDate {
    Utc::now().date_naive()
}

#[tokio::test]
async fn upsert_then_the_whole_booking_is_one_query() {
    // GIVEN a fresh table
    let env = TestEnv::new().await;
    let s = state(&env);
    // WHEN the operator pushes a GBP booking with a deposit received by bank transfer
    let r = send(&s, put("AE-10001", &seed::gbp_booking(today()))).await;
    // THEN it is created at version 1 with the deposit on the ledger
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    assert_eq!(r.headers()["etag"], "\"1\"");
    let b = body_json(&r);
    assert_eq!(b["total_price"], json!({"amount": "3080.50", "currency": "GBP"}));
    assert_eq!(b["paid"]["amount"], "500.00");
    assert_eq!(b["outstanding"]["amount"], "2580.50");

    // AND one strongly consistent Query returns the whole collection
    env.counter.reset();
    let c = env.store().load_booking("AE-10001").await.unwrap().expect("stored");
    assert_eq!(env.counter.snapshot().into_iter().collect::<Vec<_>>(), vec![("DynamoDB.Query".to_string(), 1)]);
    assert_eq!(c.version, 1);
    assert_eq!(c.booking.travellers.len(), 2);
    assert_eq!(c.booking.itinerary.len(), 4);
    assert_eq!(c.instalments.len(), 3);
    assert_eq!(c.movements.len(), 2, "charge + bank transfer payment");
    assert_eq!(c.emails.len(), 2);

    // AND each ledger movement has its outbox event, found through the sparse index
    let out = env
        .ddb
        .query()
        .table_name(&env.table)
        .index_name("unexported_events")
        .key_condition_expression("gsi3pk = :p")
        .expression_attribute_values(":p", aws_sdk_dynamodb::types::AttributeValue::S("UNEXPORTED".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.count(), 3, "booking.created + charge + payment");
}

#[tokio::test]
async fn same_body_twice_is_one_change() {
    let env = TestEnv::new().await;
    let s = state(&env);
    let body = seed::gbp_booking(today());
    assert_eq!(send(&s, put("AE-10001", &body)).await.status(), 201);
    let before = env.all_items().await.len();
    let r = send(&s, put("AE-10001", &body)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(body_json(&r)["changed"], false);
    assert_eq!(body_json(&r)["version"], 1);
    assert_eq!(env.all_items().await.len(), before, "nothing written");
}

#[tokio::test]
async fn price_change_is_an_adjustment_and_stale_versions_are_rejected() {
    let env = TestEnv::new().await;
    let s = state(&env);
    let mut body = seed::gbp_booking(today());
    assert_eq!(send(&s, put("AE-10001", &body)).await.status(), 201);

    body["price_lines"][2]["amount"] = "280.50".into();
    body["schedule"][2]["amount"] = "1680.50".into();
    let r = send(&s, put("AE-10001", &body).header("if-match", "\"1\"")).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(r.headers()["etag"], "\"2\"");
    assert_eq!(body_json(&r)["total_price"]["amount"], "3180.50");

    let c = env.store().load_booking("AE-10001").await.unwrap().unwrap();
    let adj: Vec<_> =
        c.movements.iter().filter(|m| m.kind == portal_domain::ledger::MovementKind::Adjustment).collect();
    assert_eq!(adj.len(), 1);
    assert_eq!(adj[0].amount.to_decimal_string(), "100.00");
    let original_charge = c.movements.iter().find(|m| m.kind == portal_domain::ledger::MovementKind::Charge).unwrap();
    assert_eq!(original_charge.amount.to_decimal_string(), "3080.50", "history is never edited");

    // A push based on version 1 is now stale: 409, nothing written.
    body["price_lines"][2]["amount"] = "300.00".into();
    body["schedule"][2]["amount"] = "1700.00".into();
    let before = env.all_items().await.len();
    let r = send(&s, put("AE-10001", &body).header("if-match", "\"1\"")).await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(body_json(&r)["type"], "/problems/stale-version");
    assert_eq!(env.all_items().await.len(), before);
    assert_eq!(env.store().load_booking("AE-10001").await.unwrap().unwrap().version, 2);
}

#[tokio::test]
async fn concurrent_double_upsert_leaves_one_consistent_version() {
    let env = TestEnv::new().await;
    let s = std::sync::Arc::new(state(&env));
    let mut a = seed::gbp_booking(today());
    let mut b = a.clone();
    a["price_lines"][2]["amount"] = "200.50".into();
    a["schedule"][2]["amount"] = "1600.50".into();
    b["price_lines"][2]["amount"] = "220.50".into();
    b["schedule"][2]["amount"] = "1620.50".into();
    // Twice the same create, concurrently, and then two different changes concurrently.
    let base = seed::gbp_booking(today());
    let (r1, r2) = tokio::join!(send(&s, put("AE-10001", &base)), send(&s, put("AE-10001", &base)));
    let mut statuses = [r1.status().as_u16(), r2.status().as_u16()];
    statuses.sort();
    assert!(statuses == [200, 201] || statuses == [201, 409], "{statuses:?}: {} / {}", body_json(&r1), body_json(&r2));
    let (r1, r2) = tokio::join!(send(&s, put("AE-10001", &a)), send(&s, put("AE-10001", &b)));
    for r in [&r1, &r2] {
        assert!(matches!(r.status().as_u16(), 200 | 409), "{} {}", r.status(), body_json(r));
    }
    let c = env.store().load_booking("AE-10001").await.unwrap().unwrap();
    // The ledger's price equals the stored booking's price, whichever write won and in whatever order.
    let ledger_price = portal_domain::upsert::ledger_price(&c.booking, &c.movements).unwrap();
    assert_eq!(ledger_price, c.booking.total_price());
    assert_eq!(c.movements.iter().filter(|m| m.kind == portal_domain::ledger::MovementKind::Charge).count(), 1);
    assert_eq!(c.aggregate.total_price, c.booking.total_price());
    assert!(c.version >= 2 && c.version <= 3);
}

#[tokio::test]
async fn bad_input_is_rejected_precisely_and_writes_nothing() {
    let env = TestEnv::new().await;
    let s = state(&env);
    let good = seed::gbp_booking(today());
    type Mutate = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, u16, &str, Mutate)> = vec![
        ("unknown currency", 422, "/problems/unknown-currency", Box::new(|v| v["currency"] = "XYZ".into())),
        (
            "too many decimals",
            422,
            "/problems/invalid-amount",
            Box::new(|v| v["price_lines"][0]["amount"] = "10.005".into()),
        ),
        (
            "negative price",
            422,
            "/problems/validation-error",
            Box::new(|v| v["price_lines"][0]["amount"] = "-1450.00".into()),
        ),
        (
            "schedule mismatch",
            422,
            "/problems/schedule-mismatch",
            Box::new(|v| v["schedule"][2]["amount"] = "1.00".into()),
        ),
        ("missing lead", 422, "/problems/validation-error", Box::new(|v| v["lead_traveller_id"] = "NOPE".into())),
        (
            "no lead field",
            422,
            "/problems/validation-error",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("lead_traveller_id");
            }),
        ),
        ("wrong type", 422, "/problems/validation-error", Box::new(|v| v["travellers"] = json!("Ada"))),
        ("dates out of order", 422, "/problems/validation-error", Box::new(|v| v["travel_end"] = "2000-01-01".into())),
        ("unknown field", 422, "/problems/validation-error", Box::new(|v| v["discount"] = json!(true))),
        (
            "CRLF in a name",
            422,
            "/problems/validation-error",
            Box::new(|v| v["travellers"][0]["first_name"] = "Ada\r\nBcc: x@evil.example".into()),
        ),
    ];
    for (name, status, type_, mutate) in cases {
        let mut body = good.clone();
        mutate(&mut body);
        let r = send(&s, put("AE-10001", &body)).await;
        assert_eq!(r.status().as_u16(), status, "{name}: {}", body_json(&r));
        assert_eq!(r.headers()["content-type"], "application/problem+json", "{name}");
        let p = body_json(&r);
        assert_eq!(p["type"], type_, "{name}: {p}");
        assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()), "{name}");
    }

    // Malformed JSON, oversized body, wrong content type, malformed reference, no/wrong operator key.
    let raw = |body: &[u8]| {
        ApiRequest::new("PUT", "/operator/bookings/AE-10001")
            .route("/operator/bookings/{reference}")
            .path_param("reference", "AE-10001")
            .bearer(KEY)
            .header("content-type", "application/json")
            .raw_body(body.to_vec())
    };
    let r = send(&s, raw(b"{\"brand\": ")).await;
    assert_eq!((r.status().as_u16(), body_json(&r)["type"].clone()), (400, json!("/problems/malformed-json")));
    let big = format!("{{\"brand\": \"{}\"}}", "x".repeat(300 * 1024));
    assert_eq!(send(&s, raw(big.as_bytes())).await.status(), 413);
    let r = send(&s, put("AE-10001", &good).header("content-type", "text/plain")).await;
    assert_eq!(r.status(), 415);
    let r = send(&s, put("../etc", &good).path_param("reference", "../etc")).await;
    assert_eq!((r.status().as_u16(), body_json(&r)["type"].clone()), (400, json!("/problems/malformed-reference")));
    let r = send(
        &s,
        ApiRequest::new("PUT", "/operator/bookings/AE-10001")
            .route("/operator/bookings/{reference}")
            .path_param("reference", "AE-10001")
            .json(&good),
    )
    .await;
    assert_eq!(r.status(), 401);
    let r = send(&s, put("AE-10001", &good).header("authorization", "Bearer a-customer-session-token")).await;
    assert_eq!(r.status(), 401);
    let r = send(&s, put("AE-10001", &good).header("if-match", "banana")).await;
    assert_eq!(r.status(), 400);

    assert!(env.all_items().await.is_empty(), "no bad request wrote anything");
}

#[tokio::test]
async fn paid_instalments_cannot_be_rewritten_and_currency_cannot_change() {
    let env = TestEnv::new().await;
    let s = state(&env);
    let body = seed::gbp_booking(today());
    assert_eq!(send(&s, put("AE-10001", &body)).await.status(), 201);
    // Mark the deposit paid (as the webhook recorder will).
    let store = env.store();
    let c = store.load_booking("AE-10001").await.unwrap().unwrap();
    let mut dep = c.instalments.iter().find(|i| i.id == "DEP").unwrap().clone();
    dep.status = portal_domain::schedule::InstalmentStatus::Paid;
    let mut tx = portal_store::store::Tx::default();
    tx.put_any(&env.table, &portal_store::items::InstalmentItem::new("AE-10001", dep)).unwrap();
    store.commit(tx).await.unwrap();

    let mut changed = body.clone();
    changed["schedule"][0]["amount"] = "400.00".into();
    changed["schedule"][1]["amount"] = "1100.00".into();
    let before = env.all_items().await.len();
    let r = send(&s, put("AE-10001", &changed)).await;
    assert_eq!(r.status(), 409, "{}", body_json(&r));
    assert!(body_json(&r)["detail"].as_str().unwrap().contains("DEP"));

    let mut eur = body.clone();
    eur["currency"] = "EUR".into();
    let r = send(&s, put("AE-10001", &eur)).await;
    assert_eq!(r.status(), 409);
    assert_eq!(env.all_items().await.len(), before);
}

#[tokio::test]
async fn the_local_gateway_serves_the_openapi_routes() {
    use portal_tests::gateway::Gateway;
    let env = TestEnv::new().await;
    let gw =
        Gateway::new().function("operator-bookings", portal_tests::handler!(state(&env), operator_bookings::handle));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(std::sync::Arc::new(gw).serve(listener));
    let client = portal_tests::http_client();
    let url = format!("http://{addr}/operator/bookings/AE-10001");
    let r = client.put(&url).bearer_auth(KEY).json(&seed::gbp_booking(today())).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["etag"], "\"1\"");
    let r =
        client.put(&url).bearer_auth(KEY).header("content-type", "application/json").body("{").send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = client.get(format!("http://{addr}/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn sample_events_are_real_api_gateway_requests_with_iam_auth() {
    // The files under events/ feed `cargo lambda invoke --data-file`; here they run through the handler in
    // IAM mode, as in AWS.
    let env = TestEnv::new().await;
    let s = operator_bookings::State {
        store: env.store(),
        auth: OperatorAuth::iam(["arn:aws:iam::123456789012:user/reservations"]).unwrap(),
        gateway: None,
    };
    let dir = portal_tests::moto::repo_root().join("events/operator-bookings");
    let load = |name: &str| lambda_http::request::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
    let call = |name: &'static str| {
        let req = load(name);
        let s = &s;
        async move { operator_bookings::handle(s, req).await.unwrap_or_else(|e| match e {}) }
    };
    assert_eq!(call("put-booking.json").await.status(), 201);
    assert_eq!(call("put-booking.json").await.status(), 200);
    assert_eq!(call("put-booking-too-many-decimals.json").await.status(), 422);
    assert_eq!(call("put-booking-malformed-json.json").await.status(), 400);
    // Without an IAM principal (e.g. a customer calling the operator route) the answer is 401.
    let r = send(&s, put("AE-10001", &seed::gbp_booking(today()))).await;
    assert_eq!(r.status(), 401);
}

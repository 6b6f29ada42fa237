//! Magic-link sign-in and customer sessions against moto: the whole journey (request → SES email → link and
//! code → exchange → read the booking → logout → rejected) and every attack of the issue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::{Body, Response};
use portal_domain::ids::BookingReference;
use portal_http::operator::OperatorAuth;
use portal_tests::customer::{OPERATOR_KEY as OP_KEY, SESSION_SECRET, sessions};
use portal_tests::gateway::Gateway;
use portal_tests::{ApiRequest, TestEnv, body_json, seed};
use serde_json::{Value, json};

const A: &str = "AE-10001";
const B: &str = "AE-50005";
const BRANDS: &str = r##"{"alpine-escapes": {"name": "Alpine Escapes", "primary_colour": "#0a7c59"}}"##;

struct Fx {
    env: TestEnv,
    auth: auth::State,
    /// Unique per test: moto's SES outbox is shared by every test of the binary.
    tag: String,
}

impl Fx {
    fn email(&self, who: &str) -> String {
        format!("{who}-{}@example.com", self.tag)
    }
}

fn auth_state(env: &TestEnv, limits: auth::RateLimits, floor: Duration) -> auth::State {
    let brands = auth::Brands::parse(Some(BRANDS), &env.sender).unwrap();
    let cfg = auth::AuthConfig::new(
        auth::tokens::TokenKey::new(&[9u8; 32]).unwrap(),
        "https://portal.example",
        900,
        floor,
        brands,
        limits,
    )
    .unwrap();
    auth::State::new(env.store(), env.ses.clone(), OperatorAuth::key(OP_KEY).unwrap(), sessions(), cfg)
}

fn roomy() -> auth::RateLimits {
    auth::RateLimits {
        window_seconds: 900,
        per_reference: 100,
        per_email: 100,
        per_client: 100,
        sign_in_per_client: 100,
    }
}

/// A table with booking A (Ada lead, Charles) and booking B (group of four), emails unique to the test.
async fn fx_with(limits: auth::RateLimits, floor: Duration) -> Fx {
    let env = TestEnv::new().await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let ops = operator_bookings::State { store: env.store(), auth: OperatorAuth::key(OP_KEY).unwrap(), gateway: None };
    let today = Utc::now().date_naive();
    for (reference, mut body) in [(A, seed::gbp_booking(today)), (B, seed::group_booking(today))] {
        for t in body["travellers"].as_array_mut().unwrap() {
            if let Some(e) = t["email"].as_str() {
                let who = e.split('@').next().unwrap().to_string();
                t["email"] = Value::String(format!("{who}-{tag}@example.com"));
            }
        }
        let r = upsert(&ops, reference, &body).await;
        assert_eq!(r.status(), 201, "{}", body_json(&r));
    }
    let auth = auth_state(&env, limits, floor);
    Fx { env, auth, tag }
}

async fn fx() -> Fx {
    fx_with(roomy(), Duration::from_millis(20)).await
}

async fn upsert(ops: &operator_bookings::State, reference: &str, body: &Value) -> Response<Body> {
    let req = ApiRequest::new("PUT", &format!("/operator/bookings/{reference}"))
        .route("/operator/bookings/{reference}")
        .path_param("reference", reference)
        .bearer(OP_KEY)
        .json(body);
    operator_bookings::handle(ops, req.build()).await.unwrap_or_else(|e| match e {})
}

async fn send(s: &auth::State, req: ApiRequest) -> Response<Body> {
    auth::handle(s, req.build()).await.unwrap_or_else(|e| match e {})
}

fn link_request(reference: &str, email: &str) -> ApiRequest {
    ApiRequest::new("POST", "/auth/magic-links").json(&json!({"booking_reference": reference, "email": email}))
}

fn exchange(body: Value) -> ApiRequest {
    ApiRequest::new("POST", "/auth/sessions").json(&body)
}

fn current() -> ApiRequest {
    ApiRequest::new("GET", "/auth/sessions/current")
}

fn operator_link(reference: &str, body: Value) -> ApiRequest {
    ApiRequest::new("POST", &format!("/operator/bookings/{reference}/magic-links"))
        .route("/operator/bookings/{reference}/magic-links")
        .path_param("reference", reference)
        .bearer(OP_KEY)
        .json(&body)
}

fn revoke(reference: &str) -> ApiRequest {
    ApiRequest::new("POST", &format!("/operator/bookings/{reference}/sessions/revoke"))
        .route("/operator/bookings/{reference}/sessions/revoke")
        .path_param("reference", reference)
        .bearer(OP_KEY)
}

/// The operator issues a link and gets it back: (token, code).
async fn issue(s: &auth::State, reference: &str, traveller: Option<&str>) -> (String, String) {
    let mut body = json!({"send_email": false});
    if let Some(t) = traveller {
        body["traveller_id"] = json!(t);
    }
    let r = send(s, operator_link(reference, body)).await;
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    let b = body_json(&r);
    let link = b["link"].as_str().unwrap();
    (token_from(link), b["code"].as_str().unwrap().to_string())
}

fn token_from(text: &str) -> String {
    let i = text.find("#token=").expect("a sign-in link") + "#token=".len();
    text[i..i + 43].to_string()
}

fn code_from_html(html: &str) -> String {
    let i = html.find("font-family:monospace").expect("the code block");
    let start = i + html[i..].find('>').unwrap() + 1;
    html[start..start + 6].to_string()
}

/// Sign in with a fresh operator-issued link; returns the session token.
async fn signed_in(s: &auth::State, reference: &str) -> String {
    let (token, _) = issue(s, reference, None).await;
    let r = send(s, exchange(json!({"token": token}))).await;
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    body_json(&r)["access_token"].as_str().unwrap().to_string()
}

async fn count(env: &TestEnv, entity: &str) -> usize {
    env.all_items()
        .await
        .iter()
        .filter(|i| i.get("entity").and_then(|v| v.as_s().ok()).is_some_and(|e| e == entity))
        .count()
}

fn assert_problem(r: &Response<Body>, status: u16, kind: &str) {
    assert_eq!(r.status(), status, "{}", body_json(r));
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(body_json(r)["type"], kind, "{}", body_json(r));
}

fn header(r: &Response<Body>, name: &str) -> String {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

#[tokio::test]
async fn full_journey_request_email_exchange_read_logout() {
    // GIVEN booking A with Ada as lead passenger
    let f = fx().await;
    let ada = f.email("ada");
    // WHEN Ada asks for a link with her booking reference (typed in lower case) and email
    let r = send(&f.auth, link_request("ae-10001", &ada.to_uppercase())).await;
    assert_eq!(r.status(), 202, "{}", body_json(&r));
    // THEN SES sent one branded email in en-GB with the link and the code
    let mails = f.env.emails_to(&ada);
    assert_eq!(mails.len(), 1, "{mails:?}");
    let m = &mails[0];
    assert_eq!(m["source"], format!("\"Alpine Escapes\" <{}>", f.env.sender));
    let subject = m["subject"].as_str().unwrap();
    assert_eq!(subject, "Alpine Escapes: your sign-in link for booking AE-10001");
    let html = m["body"].as_str().unwrap();
    assert!(html.contains("Hello Ada,") && html.contains("#0a7c59") && html.contains(" UTC."), "{html}");
    assert!(html.contains("href=\"https://portal.example/sign-in#token="));
    let token = token_from(html);
    let code = code_from_html(html);
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    // AND the table holds only a keyed hash of the token (a database read gives no working link)
    let items = format!("{:?}", f.env.all_items().await);
    assert!(!items.contains(&token) && !items.contains(&format!("\"{code}\"")));

    // WHEN the token is exchanged
    let r = send(&f.auth, exchange(json!({"token": token}))).await;
    // THEN a session starts: __Host- cookie (Secure, HttpOnly, SameSite=Strict) and a bearer token
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    let cookie = header(&r, "set-cookie");
    assert!(cookie.starts_with("__Host-portal_session="), "{cookie}");
    for attr in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict", "Max-Age=1800"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let b = body_json(&r);
    assert_eq!(b["session"]["booking_reference"], A);
    assert_eq!(b["session"]["traveller_id"], "T1");
    assert_eq!(b["session"]["is_lead"], true);
    let bearer = b["access_token"].as_str().unwrap().to_string();
    assert_eq!(count(&f.env, "session").await, 1);
    assert_eq!(count(&f.env, "magic_link").await, 0, "the link is consumed");

    // AND the session reads its booking (the shared customer check), by bearer and by cookie
    let r = send(&f.auth, current().bearer(&bearer)).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(body_json(&r)["session"]["first_name"], "Ada");
    assert!(header(&r, "set-cookie").starts_with("__Host-portal_session="), "sliding cookie re-issued");
    let cookie_value = cookie.split(';').next().unwrap().to_string();
    let r = send(&f.auth, current().header("cookie", &cookie_value)).await;
    assert_eq!(r.status(), 200);
    let req = current().bearer(&bearer).build();
    let now = Utc::now().timestamp();
    let (session, booking) = portal_http::customer::authorised_booking(
        &f.auth.store,
        &f.auth.sessions,
        &req,
        &BookingReference::parse(A).unwrap(),
        now,
    )
    .await
    .expect("the session may read booking A");
    assert_eq!(session.traveller_id, "T1");
    assert_eq!(booking.booking.travellers.len(), 2);

    // WHEN Ada logs out
    let r = send(&f.auth, ApiRequest::new("DELETE", "/auth/sessions/current").bearer(&bearer)).await;
    assert_eq!(r.status(), 204);
    assert!(header(&r, "set-cookie").contains("Max-Age=0"));
    assert_eq!(count(&f.env, "session").await, 0);
    // THEN the same token is refused everywhere
    assert_problem(&send(&f.auth, current().bearer(&bearer)).await, 401, "/problems/unauthorized");
    assert_problem(
        &send(&f.auth, ApiRequest::new("DELETE", "/auth/sessions/current").bearer(&bearer)).await,
        401,
        "/problems/unauthorized",
    );
    let e = portal_http::customer::authorised_booking(
        &f.auth.store,
        &f.auth.sessions,
        &req,
        &BookingReference::parse(A).unwrap(),
        now,
    )
    .await
    .unwrap_err();
    assert_eq!(e.status(), 401);
    // AND the used link and its code stay dead
    assert_problem(&send(&f.auth, exchange(json!({"token": token}))).await, 401, "/problems/sign-in-failed");
    assert_problem(
        &send(&f.auth, exchange(json!({"booking_reference": A, "code": code}))).await,
        401,
        "/problems/sign-in-failed",
    );
}

#[tokio::test]
async fn code_fallback_and_five_wrong_attempts() {
    let f = fx().await;
    let wrong = |code: &str| format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    // GIVEN a link: four wrong codes, then the right one, signs in
    let (_, code) = issue(&f.auth, A, None).await;
    for _ in 0..4 {
        assert_problem(
            &send(&f.auth, exchange(json!({"booking_reference": A, "code": wrong(&code)}))).await,
            401,
            "/problems/sign-in-failed",
        );
    }
    let r = send(&f.auth, exchange(json!({"booking_reference": "ae-10001", "code": code}))).await;
    assert_eq!(r.status(), 201, "{}", body_json(&r));

    // GIVEN another link: five wrong codes invalidate its code...
    let (token, code) = issue(&f.auth, A, Some("T2")).await;
    for _ in 0..5 {
        assert_problem(
            &send(&f.auth, exchange(json!({"booking_reference": A, "code": wrong(&code)}))).await,
            401,
            "/problems/sign-in-failed",
        );
    }
    assert_problem(
        &send(&f.auth, exchange(json!({"booking_reference": A, "code": code}))).await,
        401,
        "/problems/sign-in-failed",
    );
    assert_eq!(count(&f.env, "session").await, 1, "no session from the burnt code");
    // ...while the emailed link itself still works
    let r = send(&f.auth, exchange(json!({"token": token}))).await;
    assert_eq!(r.status(), 201);
    assert_eq!(body_json(&r)["session"]["traveller_id"], "T2");
    assert_eq!(body_json(&r)["session"]["is_lead"], false);
}

#[tokio::test]
async fn reused_and_expired_tokens_are_refused_and_write_nothing() {
    let f = fx().await;
    // Reused
    let (token, _) = issue(&f.auth, A, None).await;
    assert_eq!(send(&f.auth, exchange(json!({"token": token}))).await.status(), 201);
    let before = non_rate_items(&f.env).await;
    assert_problem(&send(&f.auth, exchange(json!({"token": token}))).await, 401, "/problems/sign-in-failed");
    assert_eq!(non_rate_items(&f.env).await, before, "a reused token writes nothing");
    // Expired: the link lives 15 minutes at most
    let (token, code) = issue(&f.auth, A, None).await;
    let issued = non_rate_items(&f.env).await;
    assert_eq!(issued, before + 2, "a link is two items");
    f.auth.clock.advance(901);
    assert_problem(&send(&f.auth, exchange(json!({"token": token}))).await, 401, "/problems/sign-in-failed");
    assert_problem(
        &send(&f.auth, exchange(json!({"booking_reference": A, "code": code}))).await,
        401,
        "/problems/sign-in-failed",
    );
    assert_eq!(non_rate_items(&f.env).await, issued, "an expired token writes nothing");
    assert_eq!(count(&f.env, "session").await, 1);
    // The link's items carry a DynamoDB TTL no more than 15 minutes after issue
    for i in f.env.all_items().await.iter().filter(|i| i["entity"].as_s().unwrap().starts_with("magic_link")) {
        let exp: i64 = i["expires_at"].as_n().unwrap().parse().unwrap();
        assert!(exp <= Utc::now().timestamp() + 900 + 5, "{exp}");
    }
}

async fn non_rate_items(env: &TestEnv) -> usize {
    env.all_items().await.iter().filter(|i| i["sk"].as_s().map(|s| s != "RATE").unwrap_or(true)).count()
}

#[tokio::test]
async fn token_for_booking_a_does_not_open_booking_b() {
    let f = fx().await;
    let (token, code) = issue(&f.auth, A, None).await;
    // A token presented for B is refused and not consumed
    assert_problem(
        &send(&f.auth, exchange(json!({"token": token, "booking_reference": B}))).await,
        401,
        "/problems/sign-in-failed",
    );
    // A's code with B's reference matches nothing
    assert_problem(
        &send(&f.auth, exchange(json!({"booking_reference": B, "code": code}))).await,
        401,
        "/problems/sign-in-failed",
    );
    assert_eq!(count(&f.env, "magic_link").await, 1, "still unused");
    let r = send(&f.auth, exchange(json!({"token": token, "booking_reference": A}))).await;
    assert_eq!(r.status(), 201);
    let bearer = body_json(&r)["access_token"].as_str().unwrap().to_string();

    // A session for A asking for B answers exactly like a booking that does not exist
    let now = Utc::now().timestamp();
    let check = |reference: &str| {
        let req = current().bearer(&bearer).build();
        let store = f.auth.store.clone();
        let sessions = f.auth.sessions.clone();
        let reference = BookingReference::parse(reference).unwrap();
        async move { portal_http::customer::authorised_booking(&store, &sessions, &req, &reference, now).await.map(|_| ()) }
    };
    let other = check(B).await.unwrap_err();
    let missing = check("ZZ-99999").await.unwrap_err();
    assert_eq!(other.status(), 404);
    assert_eq!(other.problem(), missing.problem());
    assert_eq!(portal_tests::apigw::body_bytes(&other.render()), portal_tests::apigw::body_bytes(&missing.render()));
    assert!(check(A).await.is_ok());
}

#[tokio::test]
async fn two_concurrent_exchanges_of_one_token_make_exactly_one_session() {
    let f = fx().await;
    for _ in 0..3 {
        let (token, _) = issue(&f.auth, A, None).await;
        let (r1, r2) = tokio::join!(
            send(&f.auth, exchange(json!({"token": token}))),
            send(&f.auth, exchange(json!({"token": token})))
        );
        let mut statuses = [r1.status().as_u16(), r2.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [201, 401], "{} / {}", body_json(&r1), body_json(&r2));
        assert_problem(&send(&f.auth, exchange(json!({"token": token}))).await, 401, "/problems/sign-in-failed");
    }
    assert_eq!(count(&f.env, "session").await, 3);
    // And the same for one code guessed twice at once
    let (_, code) = issue(&f.auth, A, None).await;
    let body = json!({"booking_reference": A, "code": code});
    let (r1, r2) = tokio::join!(send(&f.auth, exchange(body.clone())), send(&f.auth, exchange(body)));
    let mut statuses = [r1.status().as_u16(), r2.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 401]);
    assert_eq!(count(&f.env, "session").await, 4);
}

#[tokio::test]
async fn prefetching_the_link_with_get_or_head_consumes_nothing() {
    // GIVEN the local gateway serving the auth function and the sign-in page
    let f = fx().await;
    let state = auth_state(&f.env, roomy(), Duration::from_millis(20));
    let gw = Gateway::new()
        .function("auth", portal_tests::handler!(state, auth::handle))
        .page(portal_tests::pages::sign_in(f.auth.config.brands.get("alpine-escapes")));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(Arc::new(gw).serve(listener));
    let (token, _) = issue(&f.auth, A, None).await;
    let http = portal_tests::http_client();
    // WHEN a mail scanner fetches the link (GET and HEAD, with the fragment and as a query string)
    for url in [format!("{base}/sign-in#token={token}"), format!("{base}/sign-in?token={token}")] {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'sha256-"));
        let html = r.text().await.unwrap();
        assert!(html.contains("Alpine Escapes") && html.contains("/auth/sessions"));
        assert!(!html.contains(&token), "the page never echoes a token");
        let r = http.head(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    }
    // THEN the link is untouched, and the customer's POST (what the button does) still signs in
    assert_eq!(count(&f.env, "magic_link").await, 1);
    assert_eq!(count(&f.env, "session").await, 0);
    let r = http.post(format!("{base}/auth/sessions")).json(&json!({"token": token})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert!(r.headers()["set-cookie"].to_str().unwrap().starts_with("__Host-portal_session="));
}

#[tokio::test]
async fn known_and_unknown_emails_get_the_same_answer_in_the_same_envelope() {
    // GIVEN a timing floor of 300 ms
    let floor = Duration::from_millis(300);
    let f = fx_with(roomy(), floor).await;
    let ada = f.email("ada");
    let cases = [
        (A, ada.clone(), true),
        (A, f.email("nobody"), false),
        ("ZZ-12345", ada.clone(), false),
        (B, ada.clone(), false),
    ];
    let mut answers = Vec::new();
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for round in 0..3 {
        for (reference, email, matches) in &cases {
            let t = Instant::now();
            let r = send(&f.auth, link_request(reference, email)).await;
            let d = t.elapsed();
            if *matches {
                known.push(d)
            } else {
                unknown.push(d)
            }
            let mut headers: Vec<(String, String)> =
                r.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string())).collect();
            headers.sort();
            answers.push((r.status(), headers, portal_tests::apigw::body_bytes(&r)));
            let _ = round;
        }
    }
    // THEN status, headers and body are byte-identical
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, 202);
    // AND both kinds of answer fall in one envelope: never before the floor, and within a generous bound
    let (kmin, kmax) = (known.iter().min().unwrap(), known.iter().max().unwrap());
    let (umin, umax) = (unknown.iter().min().unwrap(), unknown.iter().max().unwrap());
    eprintln!("magic-link timing: known {kmin:?}..{kmax:?}, unknown {umin:?}..{umax:?} (floor {floor:?})");
    for d in known.iter().chain(&unknown) {
        assert!(*d >= floor, "{d:?} answered before the floor");
        assert!(*d < floor + Duration::from_millis(1500), "{d:?}");
    }
    assert!(
        kmin.as_millis() * 3 > umax.as_millis() && umin.as_millis() * 3 > kmax.as_millis(),
        "same order of magnitude"
    );
    // AND only the matching requests sent email or wrote a link
    assert_eq!(f.env.emails_to(&ada).len(), 3);
    assert_eq!(count(&f.env, "magic_link").await, 3);
    // (For the record: the unpadded work of each path, which the floor must cover.)
    let raw = auth_state(&f.env, roomy(), Duration::ZERO);
    for (reference, email) in [(A, ada.clone()), (A, f.email("nobody"))] {
        let t = Instant::now();
        assert_eq!(send(&raw, link_request(reference, &email)).await.status(), 202);
        eprintln!(
            "magic-link unpadded: {reference} {}: {:?}",
            if email == ada { "known" } else { "unknown" },
            t.elapsed()
        );
    }
    assert!(f.env.emails_to(&f.email("nobody")).is_empty());
}

#[tokio::test]
async fn link_requests_are_rate_limited_per_reference_email_and_client() {
    let limits =
        auth::RateLimits { window_seconds: 900, per_reference: 2, per_email: 3, per_client: 4, sign_in_per_client: 3 };
    let f = fx_with(limits, Duration::ZERO).await;
    let ada = f.email("ada");
    let charles = f.email("charles");
    // Per reference: the third request for A (from different clients, different emails) is refused
    assert_eq!(send(&f.auth, link_request(A, &ada).source_ip("198.51.100.1")).await.status(), 202);
    assert_eq!(send(&f.auth, link_request(A, &charles).source_ip("198.51.100.2")).await.status(), 202);
    let r = send(&f.auth, link_request(A, &f.email("x")).source_ip("198.51.100.3")).await;
    assert_problem(&r, 429, "/problems/rate-limited");
    let retry: i64 = header(&r, "retry-after").parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Per email: the same email over other references
    for (i, reference) in ["AB-0001", "AB-0002"].iter().enumerate() {
        assert_eq!(
            send(&f.auth, link_request(reference, &ada).source_ip(&format!("198.51.100.{}", 10 + i))).await.status(),
            202
        );
    }
    assert_problem(
        &send(&f.auth, link_request("AB-0003", &ada).source_ip("198.51.100.20")).await,
        429,
        "/problems/rate-limited",
    );
    // Per client address
    for i in 0..4 {
        let r =
            send(&f.auth, link_request(&format!("CD-000{i}"), &f.email(&format!("c{i}"))).source_ip("192.0.2.7")).await;
        assert_eq!(r.status(), 202);
    }
    assert_problem(
        &send(&f.auth, link_request("CD-0009", &f.email("c9")).source_ip("192.0.2.7")).await,
        429,
        "/problems/rate-limited",
    );
    // Sign-in attempts per client address too
    for _ in 0..3 {
        assert_eq!(
            send(&f.auth, exchange(json!({"booking_reference": A, "code": "000000"})).source_ip("192.0.2.8"))
                .await
                .status(),
            401
        );
    }
    assert_problem(
        &send(&f.auth, exchange(json!({"booking_reference": A, "code": "000000"})).source_ip("192.0.2.8")).await,
        429,
        "/problems/rate-limited",
    );
    // Only two emails went out (the first two requests); counters carry a TTL and no email in clear
    assert_eq!(f.env.emails_to(&ada).len(), 1);
    let items = f.env.all_items().await;
    let rates: Vec<_> = items.iter().filter(|i| i["sk"].as_s().unwrap() == "RATE").collect();
    assert!(!rates.is_empty());
    for r in rates {
        assert!(r["expires_at"].as_n().is_ok());
        assert!(!format!("{r:?}").contains("example.com") && !format!("{r:?}").contains("198.51"));
    }
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn forged_and_stale_session_tokens_are_refused() {
    let f = fx().await;
    let good = signed_in(&f.auth, A).await;
    assert_eq!(send(&f.auth, current().bearer(&good)).await.status(), 200);
    let parts: Vec<&str> = good.split('.').collect();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let sign = |alg: Algorithm, kid: Option<&str>, jku: Option<&str>, claims: &Value, key: &[u8]| {
        portal_http::jwt::install();
        let mut h = Header::new(alg);
        h.kid = kid.map(str::to_string);
        h.jku = jku.map(str::to_string);
        jsonwebtoken::encode(&h, claims, &EncodingKey::from_secret(key)).unwrap()
    };
    let mut tampered = claims.clone();
    tampered["bref"] = json!(B);
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("evil-issuer");
    let mut expired = claims.clone();
    expired["exp"] = json!(Utc::now().timestamp() - 1);
    let mut wrong_typ = claims.clone();
    wrong_typ["typ"] = json!("access");
    let forged = [
        ("alg none", format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT", "kid": "k1"})), parts[1])),
        ("switched algorithm HS512", sign(Algorithm::HS512, Some("k1"), None, &claims, &SESSION_SECRET)),
        ("foreign kid", sign(Algorithm::HS256, Some("k9"), None, &claims, &SESSION_SECRET)),
        ("jku", sign(Algorithm::HS256, Some("k1"), Some("https://evil.example/jwks.json"), &claims, &SESSION_SECRET)),
        ("other key", sign(Algorithm::HS256, Some("k1"), None, &claims, &[8u8; 32])),
        ("tampered payload", format!("{}.{}.{}", parts[0], b64(&tampered), parts[2])),
        ("wrong aud", sign(Algorithm::HS256, Some("k1"), None, &wrong_aud, &SESSION_SECRET)),
        ("wrong iss", sign(Algorithm::HS256, Some("k1"), None, &wrong_iss, &SESSION_SECRET)),
        ("wrong typ", sign(Algorithm::HS256, Some("k1"), None, &wrong_typ, &SESSION_SECRET)),
        ("expired", sign(Algorithm::HS256, Some("k1"), None, &expired, &SESSION_SECRET)),
        ("garbage", "not.a.jwt".to_string()),
    ];
    let before = f.env.all_items().await.len();
    for (what, token) in &forged {
        let r = send(&f.auth, current().bearer(token)).await;
        assert_eq!(r.status(), 401, "{what}: {}", body_json(&r));
        assert_problem(&r, 401, "/problems/unauthorized");
        assert!(header(&r, "www-authenticate").starts_with("Bearer"), "{what}");
        let r = send(
            &f.auth,
            ApiRequest::new("DELETE", "/auth/sessions/current")
                .header("cookie", &format!("__Host-portal_session={token}")),
        )
        .await;
        assert_eq!(r.status(), 401, "{what} (logout)");
    }
    assert_eq!(f.env.all_items().await.len(), before, "nothing written");
    assert_eq!(count(&f.env, "session").await, 1, "the real session is untouched");
    // Inactivity: 30 minutes without a request ends the token...
    f.auth.clock.advance(1801);
    assert_problem(&send(&f.auth, current().bearer(&good)).await, 401, "/problems/unauthorized");
}

#[tokio::test]
async fn the_idle_timeout_slides_with_activity() {
    let f = fx().await;
    let t0 = signed_in(&f.auth, A).await;
    f.auth.clock.advance(1200);
    let r = send(&f.auth, current().bearer(&t0)).await;
    assert_eq!(r.status(), 200);
    let t1 = body_json(&r)["access_token"].as_str().unwrap().to_string();
    f.auth.clock.advance(1200);
    assert_eq!(send(&f.auth, current().bearer(&t0)).await.status(), 401, "the old token idled out");
    assert_eq!(send(&f.auth, current().bearer(&t1)).await.status(), 200, "the refreshed one still works");
}

#[tokio::test]
async fn operator_issues_links_and_revokes_everything() {
    let f = fx().await;
    // Emailed by us, for a traveller who is not the lead: the response does not carry the link
    let r = send(&f.auth, operator_link(A, json!({"traveller_id": "T2", "send_email": true}))).await;
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    let b = body_json(&r);
    assert_eq!((b["traveller_id"].as_str(), b["is_lead"].as_bool()), (Some("T2"), Some(false)));
    assert!(b.get("link").is_none() && b.get("code").is_none());
    assert_eq!(b["sent_to"], format!("c***@example.com"));
    let mails = f.env.emails_to(&f.email("charles"));
    assert_eq!(mails.len(), 1);
    assert!(mails[0]["body"].as_str().unwrap().contains("Hello Charles,"));
    // Bad operator requests
    assert_problem(
        &send(&f.auth, operator_link(A, json!({"traveller_id": "T9", "send_email": false}))).await,
        422,
        "/problems/validation-error",
    );
    assert_problem(
        &send(&f.auth, operator_link(B, json!({"traveller_id": "G4", "send_email": true}))).await,
        422,
        "/problems/validation-error",
    );
    assert_problem(
        &send(&f.auth, operator_link("ZZ-9999", json!({"send_email": false}))).await,
        404,
        "/problems/not-found",
    );
    assert_problem(
        &send(&f.auth, operator_link("../x", json!({"send_email": false}))).await,
        400,
        "/problems/malformed-reference",
    );
    assert_problem(
        &send(&f.auth, operator_link(A, json!({"send_email": "yes"}))).await,
        422,
        "/problems/validation-error",
    );
    assert_problem(
        &send(&f.auth, operator_link(A, json!({"traveller_id": "T1"}))).await,
        422,
        "/problems/validation-error",
    );
    // A customer session is not an operator
    let customer = signed_in(&f.auth, A).await;
    let as_customer = ApiRequest::new("POST", &format!("/operator/bookings/{A}/magic-links"))
        .route("/operator/bookings/{reference}/magic-links")
        .path_param("reference", A)
        .bearer(&customer)
        .json(&json!({"send_email": false}));
    assert_problem(&send(&f.auth, as_customer).await, 401, "/problems/unauthorized");
    // G4 has no email: the operator can still get a link to deliver itself
    let (g4_token, _) = issue(&f.auth, B, Some("G4")).await;

    // GIVEN two live sessions and one unused link on A (plus the emailed one), and a session on B
    let other = signed_in(&f.auth, A).await;
    let (unused, unused_code) = issue(&f.auth, A, None).await;
    let b_session = signed_in(&f.auth, B).await;
    // WHEN the operator revokes A
    let r = send(&f.auth, revoke(A)).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(body_json(&r), json!({"reference": A, "sessions_revoked": 2, "links_revoked": 2}));
    // THEN every session and unused link of A is dead, B is untouched
    for t in [&customer, &other] {
        assert_problem(&send(&f.auth, current().bearer(t)).await, 401, "/problems/unauthorized");
    }
    assert_problem(&send(&f.auth, exchange(json!({"token": unused}))).await, 401, "/problems/sign-in-failed");
    assert_problem(
        &send(&f.auth, exchange(json!({"booking_reference": A, "code": unused_code}))).await,
        401,
        "/problems/sign-in-failed",
    );
    assert_eq!(send(&f.auth, current().bearer(&b_session)).await.status(), 200);
    assert_eq!(send(&f.auth, exchange(json!({"token": g4_token}))).await.status(), 201);
    let a_items: Vec<_> =
        f.env.all_items().await.into_iter().filter(|i| i["pk"] == AttributeValue::S(format!("B#{A}"))).collect();
    assert!(
        a_items
            .iter()
            .all(|i| !i["sk"].as_s().unwrap().starts_with("SESSION#")
                && !i["sk"].as_s().unwrap().starts_with("LINKREF#"))
    );
    // Revoking needs the operator
    assert_problem(
        &send(&f.auth, revoke(A).header("authorization", "Bearer nope")).await,
        401,
        "/problems/unauthorized",
    );
}

#[tokio::test]
async fn crlf_and_markup_in_names_cannot_inject_headers_or_html() {
    let f = fx().await;
    let ops =
        operator_bookings::State { store: f.env.store(), auth: OperatorAuth::key(OP_KEY).unwrap(), gateway: None };
    let today = Utc::now().date_naive();
    let mut body = seed::gbp_booking(today);
    let ada = f.email("ada");
    body["travellers"][0]["email"] = json!(ada);
    body["travellers"][1]["email"] = json!(f.email("charles"));
    // A name with CR/LF is refused at the door (nothing is written)
    body["travellers"][0]["first_name"] = json!("Ada\r\nBcc: evil@example.com");
    let before = f.env.all_items().await.len();
    let r = upsert(&ops, "AE-77777", &body).await;
    assert_eq!(r.status(), 422, "{}", body_json(&r));
    assert_eq!(f.env.all_items().await.len(), before);
    // A name with markup is stored as text and escaped in the email
    body["travellers"][0]["first_name"] = json!("<img src=x onerror=alert(1)> \"Ada\"");
    assert_eq!(upsert(&ops, "AE-77777", &body).await.status(), 201);
    assert_eq!(send(&f.auth, link_request("AE-77777", &ada)).await.status(), 202);
    let mails = f.env.emails_to(&ada);
    assert_eq!(mails.len(), 1);
    let html = mails[0]["body"].as_str().unwrap();
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt; &quot;Ada&quot;"));
    assert!(!mails[0]["subject"].as_str().unwrap().contains("img"), "names never go into a header");
    // CR/LF in the requested email is a 422, not a header
    let r = send(&f.auth, link_request(A, &format!("{ada}\r\nBcc: evil@example.com"))).await;
    assert_problem(&r, 422, "/problems/validation-error");
    assert_eq!(body_json(&r)["field"], "email");
}

#[tokio::test]
async fn bad_input_is_a_precise_4xx_never_a_500() {
    let f = fx().await;
    let cases: Vec<(&str, ApiRequest, u16, &str)> = vec![
        (
            "syntax",
            ApiRequest::new("POST", "/auth/magic-links")
                .header("content-type", "application/json")
                .raw_body("{\"booking_reference\": "),
            400,
            "/problems/malformed-json",
        ),
        (
            "media type",
            ApiRequest::new("POST", "/auth/magic-links").header("content-type", "text/plain").raw_body("{}"),
            415,
            "/problems/unsupported-media-type",
        ),
        (
            "unknown field",
            ApiRequest::new("POST", "/auth/magic-links")
                .json(&json!({"booking_reference": A, "email": "a@b.co", "admin": true})),
            422,
            "/problems/validation-error",
        ),
        (
            "missing email",
            ApiRequest::new("POST", "/auth/magic-links").json(&json!({"booking_reference": A})),
            422,
            "/problems/validation-error",
        ),
        ("bad reference", link_request("A/../B", "a@b.co"), 400, "/problems/malformed-reference"),
        ("bad email", link_request(A, "not-an-email"), 422, "/problems/validation-error"),
        ("empty", exchange(json!({})), 422, "/problems/validation-error"),
        (
            "both",
            exchange(json!({"token": "A".repeat(43), "booking_reference": A, "code": "123456"})),
            422,
            "/problems/validation-error",
        ),
        ("short token", exchange(json!({"token": "abc"})), 422, "/problems/validation-error"),
        (
            "token with padding",
            exchange(json!({"token": format!("{}=", "A".repeat(42))})),
            422,
            "/problems/validation-error",
        ),
        ("unknown token", exchange(json!({"token": "A".repeat(43)})), 401, "/problems/sign-in-failed"),
        ("short code", exchange(json!({"booking_reference": A, "code": "12"})), 422, "/problems/validation-error"),
        (
            "code for unknown booking",
            exchange(json!({"booking_reference": "ZZ-0000", "code": "123456"})),
            401,
            "/problems/sign-in-failed",
        ),
        ("no session", current(), 401, "/problems/unauthorized"),
        ("GET on sessions", ApiRequest::new("GET", "/auth/sessions"), 405, "/problems/method-not-allowed"),
        ("HEAD on magic-links", ApiRequest::new("HEAD", "/auth/magic-links"), 405, "/problems/method-not-allowed"),
        (
            "no operator key",
            ApiRequest::new("POST", &format!("/operator/bookings/{A}/sessions/revoke"))
                .route("/operator/bookings/{reference}/sessions/revoke")
                .path_param("reference", A),
            401,
            "/problems/unauthorized",
        ),
    ];
    let before = f.env.all_items().await.iter().filter(|i| i["sk"].as_s().unwrap() != "RATE").count();
    for (what, req, status, kind) in cases {
        let r = send(&f.auth, req).await;
        assert_eq!(r.status(), status, "{what}: {}", body_json(&r));
        assert_problem(&r, status, kind);
    }
    let after = f.env.all_items().await.iter().filter(|i| i["sk"].as_s().unwrap() != "RATE").count();
    assert_eq!(before, after, "bad input writes nothing but rate counters");
}

#[tokio::test]
async fn sample_events_are_real_api_gateway_requests() {
    // The files under events/auth/ feed `cargo lambda invoke --data-file`; here they run through the handler
    // with IAM operator auth, as in AWS.
    let f = fx().await;
    let mut s = auth_state(&f.env, roomy(), Duration::ZERO);
    s.operator = OperatorAuth::Iam;
    let dir = portal_tests::moto::repo_root().join("events/auth");
    let call = |name: &'static str| {
        let req = lambda_http::request::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
        let s = &s;
        async move { auth::handle(s, req).await.unwrap_or_else(|e| match e {}) }
    };
    assert_eq!(call("request-magic-link.json").await.status(), 202);
    let r = call("operator-issue-magic-link.json").await;
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    assert!(body_json(&r)["link"].as_str().unwrap().starts_with("https://portal.example/sign-in#token="));
    assert_problem(&call("create-session-token.json").await, 401, "/problems/sign-in-failed");
    assert_problem(&call("create-session-code.json").await, 401, "/problems/sign-in-failed");
    assert_problem(&call("get-current-session.json").await, 401, "/problems/unauthorized");
    assert_problem(&call("delete-current-session.json").await, 401, "/problems/unauthorized");
    let r = call("operator-revoke-sessions.json").await;
    assert_eq!(body_json(&r), json!({"reference": A, "sessions_revoked": 0, "links_revoked": 1}));
    // Without an IAM principal the operator routes answer 401.
    assert_problem(&send(&s, revoke(A)).await, 401, "/problems/unauthorized");
}

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
    /// The sign-in mailer consuming `auth`'s queue (as the SQS event source does in AWS).
    mailer: auth::mailer::Mailer,
    /// Unique per test: moto's SES outbox is shared by every test of the binary.
    tag: String,
}

impl Fx {
    fn email(&self, who: &str) -> String {
        format!("{who}-{}@example.com", self.tag)
    }

    /// Deliver what the link requests queued: the mailer issues the links and sends the emails.
    async fn mail(&self) -> usize {
        portal_tests::signin::drain(&self.auth.sign_in_queue, &self.mailer, self.auth.clock.now()).await
    }
}

/// The IAM principal of the sample events (`events/*/...json`, `requestContext.authorizer.iam.userArn`).
const SAMPLE_OPERATOR: &str = "arn:aws:iam::123456789012:user/reservations";

async fn auth_state(env: &TestEnv, limits: auth::RateLimits, floor: Duration) -> auth::State {
    let brands = auth::Brands::parse(Some(BRANDS), &env.sender).unwrap();
    let cfg = auth::AuthConfig::new(
        auth::tokens::TokenKey::new(&[9u8; 32]).unwrap(),
        "https://portal.example",
        auth::config::DEFAULT_LINK_TTL_SECONDS as i64,
        floor,
        brands,
        limits,
    )
    .unwrap();
    let queue = portal_tests::signin::sign_in_queue(env, &format!("sign-in-{}", uuid::Uuid::new_v4().simple())).await;
    auth::State::new(env.store(), env.ses.clone(), queue, OperatorAuth::key(OP_KEY).unwrap(), sessions(), cfg)
}

fn roomy() -> auth::RateLimits {
    auth::RateLimits {
        window_seconds: 900,
        per_client: 100,
        per_reference_email: 100,
        reference_misses: 100,
        sign_in_per_client: 100,
        code_attempts_per_day: 100,
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
    let auth = auth_state(&env, limits, floor).await;
    let mailer = portal_tests::signin::mailer(&auth, 10);
    Fx { env, auth, mailer, tag }
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
    html[start..start + 8].to_string()
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
    // THEN the request only queued the email (no SES call on the request path)...
    assert!(f.env.emails_to(&ada).is_empty(), "nothing sent before the mailer runs");
    assert_eq!(count(&f.env, "magic_link").await, 0, "nor any link written");
    assert_eq!(f.mail().await, 1);
    // ...and the mailer sent one branded email in en-GB with the link and the code
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
    assert!(code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
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
    let wrong = |code: &str| format!("{:08}", (code.parse::<u32>().unwrap() + 1) % 100_000_000);
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
    // Expired: the link lives 10 minutes by default
    let (token, code) = issue(&f.auth, A, None).await;
    let issued = non_rate_items(&f.env).await;
    assert_eq!(issued, before + 2, "a link is two items");
    f.auth.clock.advance(601);
    assert_problem(&send(&f.auth, exchange(json!({"token": token}))).await, 401, "/problems/sign-in-failed");
    assert_problem(
        &send(&f.auth, exchange(json!({"booking_reference": A, "code": code}))).await,
        401,
        "/problems/sign-in-failed",
    );
    assert_eq!(non_rate_items(&f.env).await, issued, "an expired token writes nothing");
    assert_eq!(count(&f.env, "session").await, 1);
    // The link's items carry a DynamoDB TTL no more than 10 minutes after issue
    for i in f.env.all_items().await.iter().filter(|i| i["entity"].as_s().unwrap().starts_with("magic_link")) {
        let exp: i64 = i["expires_at"].as_n().unwrap().parse().unwrap();
        assert!(exp <= Utc::now().timestamp() + 600 + 5, "{exp}");
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
    // GIVEN the local gateway serving the auth function and the web app (the emailed link opens its sign-in route)
    let f = fx().await;
    let state = auth_state(&f.env, roomy(), Duration::from_millis(20)).await;
    let gw = Gateway::new().function("auth", portal_tests::handler!(state, auth::handle)).page(portal_tests::web::app(
        portal_tests::web::dist_dir(),
        "{}".into(),
        vec![],
    ));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(Arc::new(gw).serve(listener));
    let (token, _) = issue(&f.auth, A, None).await;
    let http = portal_tests::http_client();
    // WHEN a mail scanner fetches the link (GET and HEAD, with the fragment and as a query string)
    for url in [format!("{base}/sign-in#token={token}"), format!("{base}/sign-in?token={token}")] {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "the web app is built (./scripts/test builds it)");
        let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        let html = r.text().await.unwrap();
        assert!(html.contains("<div id=\"app\">") && html.contains("/assets/app-"));
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
    assert!(r.json::<serde_json::Value>().await.unwrap()["access_token"].is_string(), "not a browser: bearer too");
}

#[tokio::test]
async fn a_browser_gets_the_session_only_as_the_http_only_cookie() {
    // GIVEN a link
    let f = fx().await;
    let (token, _) = issue(&f.auth, A, None).await;
    // WHEN a browser (Sec-Fetch-* metadata on the request) exchanges it, then asks who it is
    let req = ApiRequest::new("POST", "/auth/sessions")
        .header("sec-fetch-site", "same-origin")
        .header("sec-fetch-mode", "cors")
        .json(&json!({"token": token}));
    let r = send(&f.auth, req).await;
    // THEN the token is only in the cookie, never in a body a script could read
    assert_eq!(r.status(), 201);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.starts_with("__Host-portal_session="));
    let body = body_json(&r);
    assert!(body.get("access_token").is_none() && body.get("token_type").is_none(), "{body}");
    assert_eq!(body["session"]["booking_reference"], A);
    let jwt = cookie.split(';').next().unwrap().to_string();
    let who = send(
        &f.auth,
        ApiRequest::new("GET", "/auth/sessions/current").header("cookie", &jwt).header("sec-fetch-site", "same-origin"),
    )
    .await;
    assert_eq!(who.status(), 200);
    assert!(body_json(&who).get("access_token").is_none());
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
    // AND only the matching requests queued an email: three emails, and one live link (each retires the last)
    assert_eq!(f.mail().await, 3);
    assert_eq!(f.env.emails_to(&ada).len(), 3);
    assert_eq!(count(&f.env, "magic_link").await, 1);
    // (For the record: the unpadded work of each path, which the floor must cover.)
    let raw = auth_state(&f.env, roomy(), Duration::ZERO).await;
    for (reference, email) in [(A, ada.clone()), (A, f.email("nobody"))] {
        let t = Instant::now();
        assert_eq!(send(&raw, link_request(reference, &email)).await.status(), 202);
        eprintln!(
            "magic-link unpadded: {reference} {}: {:?}",
            if email == ada { "known" } else { "unknown" },
            t.elapsed()
        );
    }
    f.mail().await;
    assert!(f.env.emails_to(&f.email("nobody")).is_empty());
}

#[tokio::test]
async fn strangers_naming_a_booking_cannot_lock_its_customer_out() {
    // GIVEN the old attack: requests naming A with strangers' emails, more than any per-reference limit allowed
    let limits = auth::RateLimits { per_reference_email: 2, reference_misses: 3, ..roomy() };
    let f = fx_with(limits, Duration::ZERO).await;
    let ada = f.email("ada");
    for i in 0..8 {
        let r = send(&f.auth, link_request(A, &f.email(&format!("stranger{i}"))).source_ip(&format!("198.51.100.{i}")))
            .await;
        assert_eq!(r.status(), 202, "a miss is answered like a match, past the miss budget too");
    }
    // WHEN Ada asks for her link
    let r = send(&f.auth, link_request(A, &ada).source_ip("203.0.113.50")).await;
    // THEN she gets it: the strangers spent their own (reference, email) budgets and the booking's miss count
    assert_eq!(r.status(), 202);
    assert_eq!(f.mail().await, 1);
    assert_eq!(f.env.emails_to(&ada).len(), 1);
    // AND her own pair is limited (a customer clicking twice is fine, a flood is not)
    assert_eq!(send(&f.auth, link_request(A, &ada).source_ip("203.0.113.51")).await.status(), 202);
    let r = send(&f.auth, link_request(A, &ada).source_ip("203.0.113.52")).await;
    assert_problem(&r, 429, "/problems/rate-limited");
    let retry: i64 = header(&r, "retry-after").parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // AND Charles, on the same booking, is not affected by either
    assert_eq!(send(&f.auth, link_request(A, &f.email("charles")).source_ip("203.0.113.53")).await.status(), 202);
    // AND the misses were counted apart (a RATE item at the miss limit), with no email or address in clear
    let items = f.env.all_items().await;
    let rates: Vec<_> = items.iter().filter(|i| i["sk"].as_s().unwrap() == "RATE").collect();
    assert!(
        rates
            .iter()
            .any(|r| r["pk"].as_s().unwrap().starts_with("RATE#link-ref-miss#") && r["hits"].as_n().unwrap() == "3")
    );
    for r in rates {
        assert!(r["expires_at"].as_n().is_ok());
        assert!(!format!("{r:?}").contains("example.com") && !format!("{r:?}").contains("198.51"));
    }
}

#[tokio::test]
async fn link_requests_and_sign_ins_are_rate_limited_per_client() {
    let limits = auth::RateLimits { per_client: 4, sign_in_per_client: 3, ..roomy() };
    let f = fx_with(limits, Duration::ZERO).await;
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
    assert_eq!(send(&f.auth, link_request("CD-0009", &f.email("c9")).source_ip("192.0.2.99")).await.status(), 202);
    for _ in 0..3 {
        assert_eq!(
            send(&f.auth, exchange(json!({"booking_reference": A, "code": "00000000"})).source_ip("192.0.2.8"))
                .await
                .status(),
            401
        );
    }
    assert_problem(
        &send(&f.auth, exchange(json!({"booking_reference": A, "code": "00000000"})).source_ip("192.0.2.8")).await,
        429,
        "/problems/rate-limited",
    );
}

#[tokio::test]
async fn an_address_gets_at_most_its_daily_sign_in_emails() {
    // GIVEN a daily cap of 3 sign-in emails per address, and no other limit in the way
    let mut f = fx().await;
    f.mailer.emails_per_day = 3;
    let ada = f.email("ada");
    // WHEN someone who knows Ada's booking and email asks for her link 6 times
    for i in 0..6 {
        let r = send(&f.auth, link_request(A, &ada).source_ip(&format!("198.51.100.{i}"))).await;
        assert_eq!(r.status(), 202, "the answer never changes");
    }
    assert_eq!(f.mail().await, 6);
    // THEN she receives 3 emails, and only the newest link works
    let mails = f.env.emails_to(&ada);
    assert_eq!(mails.len(), 3);
    assert_eq!(count(&f.env, "magic_link").await, 1);
    let newest = token_from(mails[2]["body"].as_str().unwrap());
    let older = token_from(mails[0]["body"].as_str().unwrap());
    assert_problem(&send(&f.auth, exchange(json!({"token": older}))).await, 401, "/problems/sign-in-failed");
    assert_eq!(send(&f.auth, exchange(json!({"token": newest}))).await.status(), 201);
    // AND the next UTC day she can get one again
    f.auth.clock.advance(86_400);
    assert_eq!(send(&f.auth, link_request(A, &ada)).await.status(), 202);
    assert_eq!(f.mail().await, 1);
    assert_eq!(f.env.emails_to(&ada).len(), 4);
}

#[tokio::test]
async fn a_new_link_retires_that_travellers_older_links_and_codes() {
    let f = fx().await;
    // GIVEN two links for Ada and one for Charles
    let (t1, c1) = issue(&f.auth, A, None).await;
    let (charles_token, _) = issue(&f.auth, A, Some("T2")).await;
    let (t2, c2) = issue(&f.auth, A, None).await;
    // THEN Ada's first link and code are dead, her second works, and Charles's is untouched
    assert_problem(&send(&f.auth, exchange(json!({"token": t1}))).await, 401, "/problems/sign-in-failed");
    assert_problem(
        &send(&f.auth, exchange(json!({"booking_reference": A, "code": c1}))).await,
        401,
        "/problems/sign-in-failed",
    );
    assert_eq!(count(&f.env, "magic_link").await, 2);
    let r = send(&f.auth, exchange(json!({"booking_reference": A, "code": c2}))).await;
    assert_eq!(r.status(), 201, "{}", body_json(&r));
    assert_problem(&send(&f.auth, exchange(json!({"token": t2}))).await, 401, "/problems/sign-in-failed");
    assert_eq!(send(&f.auth, exchange(json!({"token": charles_token}))).await.status(), 201);
}

#[tokio::test]
async fn a_bookings_daily_code_attempts_are_capped() {
    let limits = auth::RateLimits { code_attempts_per_day: 7, ..roomy() };
    let f = fx_with(limits, Duration::ZERO).await;
    let wrong = |code: &str| format!("{:08}", (code.parse::<u32>().unwrap() + 1) % 100_000_000);
    // GIVEN an attacker who burns a code (5 wrong attempts), then guesses at the next one from other addresses
    let (_, code) = issue(&f.auth, A, None).await;
    for i in 0..5 {
        let r = send(
            &f.auth,
            exchange(json!({"booking_reference": A, "code": wrong(&code)})).source_ip(&format!("198.51.100.{i}")),
        )
        .await;
        assert_problem(&r, 401, "/problems/sign-in-failed");
    }
    let (token, code) = issue(&f.auth, A, None).await;
    for i in 0..2 {
        let r = send(
            &f.auth,
            exchange(json!({"booking_reference": A, "code": wrong(&code)}))
                .source_ip(&format!("198.51.100.{}", 10 + i)),
        )
        .await;
        assert_problem(&r, 401, "/problems/sign-in-failed");
    }
    // WHEN the booking's daily budget (7) is spent, even the right code is refused until the next UTC day
    let r = send(&f.auth, exchange(json!({"booking_reference": A, "code": code}))).await;
    assert_problem(&r, 429, "/problems/rate-limited");
    let retry: i64 = header(&r, "retry-after").parse().unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    // AND another booking's codes are unaffected, and the emailed link still works
    let (_, b_code) = issue(&f.auth, B, None).await;
    assert_eq!(send(&f.auth, exchange(json!({"booking_reference": B, "code": b_code}))).await.status(), 201);
    assert_eq!(send(&f.auth, exchange(json!({"token": token}))).await.status(), 201);
    // AND the next day codes work again
    f.auth.clock.advance(86_400);
    let (_, code) = issue(&f.auth, A, None).await;
    assert_eq!(send(&f.auth, exchange(json!({"booking_reference": A, "code": code}))).await.status(), 201);
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_of_that_traveller_only() {
    let f = fx().await;
    let phone = signed_in(&f.auth, A).await;
    let laptop = signed_in(&f.auth, A).await;
    let (charles, _) = issue(&f.auth, A, Some("T2")).await;
    let r = send(&f.auth, exchange(json!({"token": charles}))).await;
    let charles = body_json(&r)["access_token"].as_str().unwrap().to_string();
    let r = send(&f.auth, ApiRequest::new("DELETE", "/auth/sessions").bearer(&phone)).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_eq!(body_json(&r), json!({"sessions_ended": 2}));
    assert!(header(&r, "set-cookie").contains("Max-Age=0"));
    for t in [&phone, &laptop] {
        assert_problem(&send(&f.auth, current().bearer(t)).await, 401, "/problems/unauthorized");
    }
    assert_eq!(send(&f.auth, current().bearer(&charles)).await.status(), 200, "another traveller stays signed in");
    assert_problem(
        &send(&f.auth, ApiRequest::new("DELETE", "/auth/sessions").bearer(&phone)).await,
        401,
        "/problems/unauthorized",
    );
    assert_problem(&send(&f.auth, ApiRequest::new("DELETE", "/auth/sessions")).await, 401, "/problems/unauthorized");
}

#[tokio::test]
async fn an_upsert_that_changes_who_is_on_the_booking_ends_their_access_at_once() {
    let f = fx().await;
    let ops =
        operator_bookings::State { store: f.env.store(), auth: OperatorAuth::key(OP_KEY).unwrap(), gateway: None };
    let today = Utc::now().date_naive();
    let mut body = seed::gbp_booking(today);
    for t in body["travellers"].as_array_mut().unwrap() {
        if let Some(e) = t["email"].as_str() {
            let who = e.split('@').next().unwrap().to_string();
            t["email"] = Value::String(f.email(&who));
        }
    }
    let signed = |traveller: &'static str| {
        let s = &f.auth;
        async move {
            let (token, _) = issue(s, A, Some(traveller)).await;
            let r = send(s, exchange(json!({"token": token}))).await;
            assert_eq!(r.status(), 201, "{}", body_json(&r));
            body_json(&r)["access_token"].as_str().unwrap().to_string()
        }
    };
    // GIVEN Ada (lead) and Charles signed in, and an unused link for Charles
    let ada = signed("T1").await;
    let charles = signed("T2").await;
    let (charles_link, _) = issue(&f.auth, A, Some("T2")).await;
    // WHEN the operator makes Charles the lead
    body["lead_traveller_id"] = json!("T2");
    let r = upsert(&ops, A, &body).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    // THEN both sessions and Charles's unused link end in the same write
    for t in [&ada, &charles] {
        assert_problem(&send(&f.auth, current().bearer(t)).await, 401, "/problems/unauthorized");
    }
    assert_problem(&send(&f.auth, exchange(json!({"token": charles_link}))).await, 401, "/problems/sign-in-failed");
    // AND new sessions carry the new roles
    let charles = signed("T2").await;
    assert_eq!(body_json(&send(&f.auth, current().bearer(&charles)).await)["session"]["is_lead"], true);
    let ada = signed("T1").await;
    assert_eq!(body_json(&send(&f.auth, current().bearer(&ada)).await)["session"]["is_lead"], false);
    // WHEN Charles's email changes, or Ada is removed from the booking
    body["travellers"][1]["email"] = json!(f.email("charles.new"));
    assert_eq!(upsert(&ops, A, &body).await.status(), 200);
    assert_problem(&send(&f.auth, current().bearer(&charles)).await, 401, "/problems/unauthorized");
    assert_eq!(send(&f.auth, current().bearer(&ada)).await.status(), 200, "Ada's access did not change");
    let travellers = body["travellers"].as_array().unwrap().iter().filter(|t| t["id"] != "T1").cloned().collect();
    body["travellers"] = Value::Array(travellers);
    for line in body["price_lines"].as_array_mut().unwrap() {
        if line["traveller_id"] == "T1" {
            line["traveller_id"] = json!("T2");
        }
    }
    let r = upsert(&ops, A, &body).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    assert_problem(&send(&f.auth, current().bearer(&ada)).await, 401, "/problems/unauthorized");
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
    f.mail().await;
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
            exchange(json!({"token": "A".repeat(43), "booking_reference": A, "code": "12345678"})),
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
            "six-digit code",
            exchange(json!({"booking_reference": A, "code": "123456"})),
            422,
            "/problems/validation-error",
        ),
        (
            "code for unknown booking",
            exchange(json!({"booking_reference": "ZZ-0000", "code": "12345678"})),
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
    let mut s = auth_state(&f.env, roomy(), Duration::ZERO).await;
    s.operator = OperatorAuth::iam([SAMPLE_OPERATOR]).unwrap();
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
    // A SigV4 caller the account lets invoke the API but that is not on the allow-list: 403, nothing issued.
    let mut other = auth_state(&f.env, roomy(), Duration::ZERO).await;
    other.operator = OperatorAuth::iam(["arn:aws:iam::123456789012:role/reservations"]).unwrap();
    let links = count(&f.env, "magic_link").await;
    for name in ["operator-issue-magic-link.json", "operator-revoke-sessions.json"] {
        let req = lambda_http::request::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
        assert_problem(&auth::handle(&other, req).await.unwrap_or_else(|e| match e {}), 403, "/problems/forbidden");
    }
    assert_eq!(count(&f.env, "magic_link").await, links);
}

#[tokio::test]
async fn the_mailer_sample_event_is_a_real_sqs_event_and_a_stale_or_foreign_message_sends_nothing() {
    let f = fx().await;
    let dir = portal_tests::moto::repo_root().join("events/sign-in-mailer");
    let event: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sqs-sign-in.json")).unwrap()).unwrap();
    // Requested long ago and with an email hash that is not Ada's: dropped, not retried, nothing sent.
    let resp = auth::mailer::handle(&f.mailer, event.clone(), Utc::now()).await;
    assert!(resp.batch_item_failures.is_empty());
    let msg: auth::mailer::SignInMessage = serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    let fresh = auth::mailer::SignInMessage { requested_at: Utc::now().timestamp(), ..msg };
    assert_eq!(
        auth::mailer::deliver(&f.mailer, &fresh, Utc::now()).await.unwrap(),
        auth::mailer::Outcome::Dropped("the traveller's email changed since the request")
    );
    assert_eq!(count(&f.env, "magic_link").await, 0);
    assert!(f.env.emails_to(&f.email("ada")).is_empty());
}

#[tokio::test]
async fn a_suppressed_address_gets_the_same_202_and_still_its_sign_in_link() {
    let f = fx().await;
    let ada = f.email("ada");
    // SES reported a hard bounce for Ada's address (the notifications mailer records it).
    let mail = portal_tests::notices::state(&f.env, "https://portal.example").await;
    let bounce = json!({"eventType": "Bounce", "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
        "bouncedRecipients": [{"emailAddress": ada, "status": "5.1.1"}], "timestamp": "2026-12-07T10:00:00Z"}, "mail": {}});
    let event = portal_tests::notices::sqs_event(Some("ses-1"), &bounce.to_string());
    assert!(notifications::mailer::consume(&mail, event, Utc::now()).await.batch_item_failures.is_empty());
    assert!(f.env.store().suppression(&ada).await.unwrap().is_some());
    // The answer tells nobody anything: the same 202 and body as for an address that is not on the booking.
    let suppressed = send(&f.auth, link_request(A, &ada)).await;
    let stranger = send(&f.auth, link_request(A, &f.email("stranger"))).await;
    assert_eq!((suppressed.status(), stranger.status()), (202.try_into().unwrap(), 202.try_into().unwrap()));
    assert_eq!(body_json(&suppressed), body_json(&stranger));
    // A sign-in link is transactional: it is still sent (SES's own suppression list is the last word).
    assert_eq!(f.mail().await, 1);
    assert_eq!(f.env.emails_to(&ada).len(), 1);
}

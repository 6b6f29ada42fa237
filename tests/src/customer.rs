//! What most integration tests need before they can act as a customer: the session keys the functions under
//! test verify, a booking pushed through the operator API, and a signed-in session minted the way the auth
//! function makes one (the session item in the booking's collection, written with the store's own item type,
//! plus a signed token).

use chrono::{NaiveDate, Utc};
use lambda_http::{Body, Response};
use portal_domain::ids::BookingReference;
use portal_http::operator::OperatorAuth;
use portal_http::session::{Session, SessionConfig};
use portal_store::auth::SessionItem;
use serde_json::Value;

use crate::{ApiRequest, TestEnv, body_json};

/// The operator key the tests' operator functions accept (`OPERATOR_AUTH=key`).
pub const OPERATOR_KEY: &str = "test-operator-key-0123456789abcdef0123456789";

/// The secret of key `k1` in [`sessions`] (the benchmark hands it to the function binaries as `SESSION_KEYS`).
pub const SESSION_SECRET: [u8; 32] = [42; 32];

/// The session keys every customer function under test verifies with (and [`sign_in`] signs with).
pub fn sessions() -> SessionConfig {
    SessionConfig::new(
        vec![("k1".into(), SESSION_SECRET.to_vec())],
        "tour-portal",
        "tour-portal-customer",
        1800,
        43_200,
    )
    .expect("valid test session config")
}

pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// Push `body` as booking `reference` through the operator-bookings handler (the production write path).
pub async fn seed_booking(env: &TestEnv, reference: &str, body: &Value) {
    let ops =
        operator_bookings::State { store: env.store(), auth: OperatorAuth::key(OPERATOR_KEY).unwrap(), gateway: None };
    let req = ApiRequest::new("PUT", &format!("/operator/bookings/{reference}"))
        .route("/operator/bookings/{reference}")
        .path_param("reference", reference)
        .bearer(OPERATOR_KEY)
        .json(body)
        .build();
    let r = operator_bookings::handle(&ops, req).await.unwrap_or_else(|e| match e {});
    assert!(r.status().as_u16() < 300, "seeding {reference}: {}", body_json(&r));
}

/// A live session for `traveller` on `reference`: the session item and a token signed with [`sessions`].
pub async fn sign_in(env: &TestEnv, reference: &str, traveller: &str, email: &str, is_lead: bool) -> String {
    sign_in_at(env, reference, traveller, email, is_lead, Utc::now().timestamp()).await
}

/// [`sign_in`] as of `now` (Unix seconds), for tests that move the clock.
pub async fn sign_in_at(
    env: &TestEnv,
    reference: &str,
    traveller: &str,
    email: &str,
    is_lead: bool,
    now: i64,
) -> String {
    let sid = uuid::Uuid::new_v4().simple().to_string();
    let item = SessionItem::new(&sid, reference, traveller, email, is_lead, "link", now, now + 43_200);
    let item = portal_store::store::to_item(&item).expect("a session item");
    env.ddb.put_item().table_name(&env.table).set_item(Some(item)).send().await.expect("write the session");
    let session = Session {
        sid,
        reference: BookingReference::parse(reference).expect("a valid reference"),
        traveller_id: traveller.into(),
        email: email.into(),
        is_lead,
        auth_time: now,
    };
    sessions().issue(&session, now).expect("sign the session")
}

/// `r` is a problem+json of `status` and `/problems/<kind>`.
#[track_caller]
pub fn assert_problem(r: &Response<Body>, status: u16, kind: &str) {
    assert_eq!(r.status(), status, "{}", body_json(r));
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(body_json(r)["type"], format!("/problems/{kind}"), "{}", body_json(r));
}

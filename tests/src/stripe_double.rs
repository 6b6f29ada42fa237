//! A local stand-in for `api.stripe.com` for the Stripe client's tests: it records every request exactly as
//! sent (method, path, headers with the query under `x-query`, body) and answers with Stripe-shaped JSON.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use portal_gateway::fixtures::object;
use serde_json::{Value, json};

/// One request the double saw: method, path, headers, body.
pub type Seen = (String, String, HashMap<String, String>, String);

/// A local stand-in for `api.stripe.com`: records every request, answers like Stripe.
///
/// Every object it answers is Stripe's published fixture (`portal_gateway::fixtures`) with our ids and states
/// over it, and errors are Stripe's error envelope, so the client meets the real shapes.
///
/// `mode`: `ok`; `slow` (answers after 3 s); `500`; `401` (bad API key); `402` (every request refused, amount
/// too small); `decline` (payment intents answer 402 `card_declined`, as an off-session confirmation that
/// fails); `authentication_required` (402 with that decline code: the bank wants the customer present);
/// `too_late` (a cancel answers 400 `payment_intent_unexpected_state` and the intent reads `succeeded`).
/// A payment intent confirmed off-session (`off_session=true`) answers `succeeded`, else
/// `requires_payment_method`. `GET /v1/charges/ch_double` and `GET /v1/payment_methods/pm_double` answer a
/// charge with its balance transaction expanded and a saved card. `GET /v1/refunds?payment_intent=pi_…` lists
/// two refunds of it, one a page (`re_double_1` succeeded 200.00, `re_double_2` pending 50.00), so paging is
/// exercised.
#[derive(Clone, Default)]
pub struct Double {
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub mode: Arc<Mutex<&'static str>>,
}

/// Start the double on a free port: `(base URL, handle)`.
pub async fn stripe_double() -> (String, Double) {
    let d = Double::default();
    *d.mode.lock().unwrap() = "ok";
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let st = d.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let st = st.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let st = st.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let mut headers: HashMap<String, String> = parts
                            .headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect();
                        headers.insert("x-query".into(), parts.uri.query().unwrap_or("").to_string());
                        let path = parts.uri.path().to_string();
                        st.seen.lock().unwrap().push((
                            parts.method.to_string(),
                            path.clone(),
                            headers,
                            String::from_utf8_lossy(&bytes).into(),
                        ));
                        let mode = *st.mode.lock().unwrap();
                        let query = parts.uri.query().unwrap_or("").to_string();
                        let (status, body) = answer(mode, parts.method.as_str(), &path, &query, &bytes).await;
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .status(status)
                                .header("content-type", "application/json")
                                .header("request-id", "req_double")
                                .body(Full::new(Bytes::from(body.to_string())))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (base, d)
}

fn error(status: u16, kind: &str, code: &str, message: &str) -> (u16, Value) {
    (status, json!({"error": {"type": kind, "code": code, "message": message, "request_log_url": null}}))
}

/// The double's answer to one request: `(status, body)`.
async fn answer(mode: &str, method: &str, path: &str, query: &str, body: &[u8]) -> (u16, Value) {
    let form = String::from_utf8_lossy(body).to_string();
    let param = |q: &str, k: &str| {
        q.split('&').find_map(|p| p.split_once('=').filter(|(key, _)| *key == k).map(|(_, v)| v.to_string()))
    };
    match mode {
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            return (200, json!({}));
        }
        "500" => return error(500, "api_error", "", "boom"),
        "401" => return error(401, "invalid_request_error", "", "Invalid API Key provided: sk_test_***123"),
        "402" => return error(402, "card_error", "amount_too_small", "Amount must be at least £0.30 gbp"),
        _ => {}
    }
    let intent = |id: &str, status: &str| {
        object(
            "payment_intent",
            json!({"id": id, "amount": 100000, "currency": "gbp", "status": status,
                "client_secret": format!("{id}_secret_abc"), "customer": "cus_double",
                "metadata": {"booking_reference": "AE-10001"}}),
        )
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("POST", ["v1", "customers"]) => (200, object("customer", json!({"id": "cus_double"}))),
        ("GET", ["v1", "charges", "ch_double"]) => {
            let mut charge = object(
                "charge",
                json!({"id": "ch_double", "amount": 100000, "currency": "gbp", "payment_intent": "pi_ids",
                    "status": "succeeded", "paid": true}),
            );
            charge["payment_method_details"] = json!({"type": "card", "card": {"brand": "mastercard",
                "last4": "4444", "exp_month": 12, "exp_year": 2030}});
            charge["balance_transaction"] = object(
                "balance_transaction",
                json!({"id": "txn_double", "amount": 100000, "fee": 1520, "net": 98480, "currency": "gbp"}),
            );
            (200, charge)
        }
        ("GET", ["v1", "payment_methods", "pm_double"]) => (
            200,
            object(
                "payment_method",
                json!({"id": "pm_double", "type": "card",
                    "card": {"brand": "amex", "last4": "0005", "exp_month": 1, "exp_year": 2031}}),
            ),
        ),
        ("POST", ["v1", "payment_intents"]) if mode == "decline" => {
            let (s, mut e) = error(402, "card_error", "card_declined", "Your card has insufficient funds.");
            e["error"]["decline_code"] = json!("insufficient_funds");
            (s, e)
        }
        ("POST", ["v1", "payment_intents"]) if mode == "authentication_required" => {
            let (s, mut e) =
                error(402, "card_error", "authentication_required", "This payment requires authentication.");
            e["error"]["decline_code"] = json!("authentication_required");
            (s, e)
        }
        ("POST", ["v1", "setup_intents"]) => (
            200,
            object(
                "setup_intent",
                json!({"id": "seti_double", "client_secret": "seti_double_secret_x",
                    "status": "requires_payment_method", "customer": "cus_double", "usage": "off_session"}),
            ),
        ),
        ("POST", ["v1", "payment_intents"]) => {
            let off_session = form.split('&').any(|p| p == "off_session=true");
            let mut pi = intent("pi_double", if off_session { "succeeded" } else { "requires_payment_method" });
            // Endive: `allowed_payment_method_types[]` in, the compatible subset out as `payment_method_types`.
            if form.contains("payment_method_types%5B0%5D=") && !form.contains("allowed_payment_method_types%5B0%5D=") {
                return error(
                    400,
                    "invalid_request_error",
                    "payment_method_types_no_longer_supported",
                    "payment_method_types is not supported in this API version; use allowed_payment_method_types",
                );
            }
            let allowed = param(&form, "allowed_payment_method_types%5B0%5D");
            pi["payment_method_types"] = json!(allowed.into_iter().collect::<Vec<_>>());
            (200, pi)
        }
        ("POST", ["v1", "payment_intents", id, "cancel"]) if mode == "too_late" => {
            let (s, mut e) = error(
                400,
                "invalid_request_error",
                "payment_intent_unexpected_state",
                "You cannot cancel this PaymentIntent because it has a status of succeeded.",
            );
            e["error"]["payment_intent"] = intent(id, "succeeded");
            (s, e)
        }
        ("POST", ["v1", "payment_intents", id, "cancel"]) => {
            let mut pi = intent(id, "canceled");
            pi["canceled_at"] = json!(1_795_608_000);
            pi["cancellation_reason"] = json!(param(&form, "cancellation_reason"));
            (200, pi)
        }
        ("GET", ["v1", "payment_intents", id]) => {
            (200, intent(id, if mode == "too_late" { "succeeded" } else { "requires_payment_method" }))
        }
        ("GET", ["v1", "refunds"]) => {
            let Some(pi) = param(query, "payment_intent") else {
                return error(400, "invalid_request_error", "parameter_missing", "payment_intent");
            };
            let refund = |n: u32, minor: i64, status: &str| {
                object(
                    "refund",
                    json!({"id": format!("re_double_{n}"), "amount": minor, "currency": "gbp", "status": status,
                        "payment_intent": pi, "charge": "ch_double", "metadata": {}}),
                )
            };
            let page = match param(query, "starting_after").as_deref() {
                None => json!({"object": "list", "url": "/v1/refunds", "has_more": true,
                    "data": [refund(1, 20000, "succeeded")]}),
                Some("re_double_1") => json!({"object": "list", "url": "/v1/refunds", "has_more": false,
                    "data": [refund(2, 5000, "pending")]}),
                Some(_) => json!({"object": "list", "url": "/v1/refunds", "has_more": false, "data": []}),
            };
            (200, page)
        }
        _ => error(404, "invalid_request_error", "resource_missing", "Unrecognized request URL"),
    }
}

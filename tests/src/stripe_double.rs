//! A local stand-in for `api.stripe.com` for the Stripe client's tests: it records every request exactly as
//! sent (method, path, headers with the query under `x-query`, body) and answers with Stripe-shaped JSON.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::json;

/// One request the double saw: method, path, headers, body.
pub type Seen = (String, String, HashMap<String, String>, String);

/// A local stand-in for `api.stripe.com`: records every request, answers like Stripe.
///
/// `mode`: `ok`; `slow` (answers after 3 s); `500`; `402` (every request refused, amount too small);
/// `decline` (payment intents answer 402 `card_declined`, as an off-session confirmation that fails).
/// A payment intent confirmed off-session (`off_session=true`) answers `succeeded`, else
/// `requires_payment_method`. `GET /v1/charges/ch_double` and `GET /v1/payment_methods/pm_double` answer a
/// charge with its balance transaction expanded and a saved card.
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
                        let (status, body) = match (mode, path.as_str()) {
                            ("slow", _) => {
                                tokio::time::sleep(Duration::from_secs(3)).await;
                                (200, json!({}))
                            }
                            ("500", _) => (500, json!({"error": {"type": "api_error", "message": "boom"}})),
                            ("402", _) => (
                                402,
                                json!({"error": {"type": "card_error", "code": "amount_too_small", "message": "Amount must be at least £0.30 gbp"}}),
                            ),
                            (_, "/v1/customers") => (200, json!({"id": "cus_double", "object": "customer"})),
                            (_, "/v1/charges/ch_double") => (
                                200,
                                json!({"id": "ch_double", "object": "charge", "amount": 100000, "currency": "gbp",
                                "payment_intent": "pi_ids", "status": "succeeded",
                                "payment_method_details": {"type": "card", "card": {"brand": "mastercard", "last4": "4444",
                                    "exp_month": 12, "exp_year": 2030}},
                                "balance_transaction": {"id": "txn_double", "object": "balance_transaction",
                                    "amount": 100000, "fee": 1520, "net": 98480, "currency": "gbp"}}),
                            ),
                            (_, "/v1/payment_methods/pm_double") => (
                                200,
                                json!({"id": "pm_double", "object": "payment_method", "type": "card",
                                "card": {"brand": "amex", "last4": "0005", "exp_month": 1, "exp_year": 2031}}),
                            ),
                            ("decline", "/v1/payment_intents") => (
                                402,
                                json!({"error": {"type": "card_error", "code": "card_declined",
                                    "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}}),
                            ),
                            (_, "/v1/setup_intents") => (
                                200,
                                json!({"id": "seti_double", "object": "setup_intent",
                                "client_secret": "seti_double_secret_x", "status": "requires_payment_method",
                                "customer": "cus_double"}),
                            ),
                            (_, "/v1/payment_intents") => {
                                let off_session =
                                    String::from_utf8_lossy(&bytes).split('&').any(|p| p == "off_session=true");
                                let status = if off_session { "succeeded" } else { "requires_payment_method" };
                                (
                                    200,
                                    json!({"id": "pi_double", "object": "payment_intent",
                                    "amount": 100000, "currency": "gbp", "status": status,
                                    "client_secret": "pi_double_secret_abc", "customer": "cus_double",
                                    "metadata": {"booking_reference": "AE-10001"}}),
                                )
                            }
                            _ => (404, json!({"error": {"type": "invalid_request_error", "message": "no route"}})),
                        };
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

//! Local-portal pages for scheduled payments (not API routes, not in `docs/openapi.json`):
//!
//! - `GET /sandbox/setup/{setup intent id}`: the sandbox's card set-up page; `POST .../pay` saves the sandbox
//!   card and delivers the signed `setup_intent.succeeded` webhook to the webhook function in-process;
//! - `POST /local/instalment-runner?key=<operator key>&now=<RFC 3339>`: run the instalment runner as if it were
//!   `now` (default: the real time), then deliver the webhooks the sandbox gateway sent for its charges.
//!   Operator-only: the key is the one `./scripts/dev` prints (the page sees no headers, hence the query).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::body::Bytes;
use portal_gateway::sandbox::{Action, Delivery, SandboxGateway};

use crate::apigw::{ApiRequest, body_json};
use crate::gateway::Page;

fn respond(status: u16, content_type: &'static str, body: String) -> Option<hyper::Response<Full<Bytes>>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    r.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static(content_type));
    r.headers_mut().insert("cache-control", hyper::header::HeaderValue::from_static("no-store"));
    Some(r)
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v.replace("%3A", ":"))
}

/// Hand one signed sandbox webhook to the webhook function in-process, as the gateway would POST it.
pub async fn deliver_one(hooks: &payment_webhooks::State, d: Delivery) -> lambda_http::Response<lambda_http::Body> {
    let req = ApiRequest::new("POST", "/webhooks/payments")
        .route("/webhooks/payments")
        .header("content-type", "application/json")
        .header("stripe-signature", &d.signature)
        .raw_body(d.body)
        .build();
    payment_webhooks::handle(hooks, req).await.unwrap_or_else(|e| match e {})
}

async fn deliver(hooks: &payment_webhooks::State, deliveries: Vec<Delivery>) -> Vec<String> {
    let mut out = Vec::new();
    for d in deliveries {
        let r = deliver_one(hooks, d).await;
        out.push(format!("{} {}", r.status().as_u16(), body_json(&r)["outcome"].as_str().unwrap_or("")));
    }
    out
}

/// The pages; `operator_key` guards the runner and the reconciler (`POST /local/payment-reconciler?now=`).
pub fn local_pages(
    runner: instalment_runner::State,
    reconciler: payment_reconciler::State,
    sandbox: Arc<SandboxGateway>,
    hooks: Arc<payment_webhooks::State>,
    operator_key: &str,
) -> Page {
    let runner = Arc::new(runner);
    let reconciler = Arc::new(reconciler);
    let key = operator_key.to_string();
    Arc::new(move |method: &http::Method, path: &str, query: &str| {
        if let Some(rest) = path.strip_prefix("/sandbox/setup/") {
            return match (method.as_str(), rest.split_once('/')) {
                ("GET", None) => match sandbox.setup_page_html(rest) {
                    Some(page) => respond(200, "text/html; charset=utf-8", page),
                    None => respond(404, "text/html; charset=utf-8", "<p>No such sandbox set-up.</p>".into()),
                },
                ("POST", Some((id, "pay"))) => match sandbox.act_setup(id, Action::Pay, Utc::now().timestamp()) {
                    Ok(deliveries) => {
                        let hooks = hooks.clone();
                        let outcomes = tokio::task::block_in_place(|| {
                            tokio::runtime::Handle::current().block_on(deliver(&hooks, deliveries))
                        });
                        respond(200, "text/html; charset=utf-8", format!("<p>Card saved: {}</p>", outcomes.join(", ")))
                    }
                    Err(e) => respond(409, "text/html; charset=utf-8", format!("<p>{}</p>", e.replace('<', "&lt;"))),
                },
                _ => None,
            };
        }
        if path != "/local/instalment-runner" && path != "/local/payment-reconciler" {
            return None;
        }
        if method != http::Method::POST {
            return respond(405, "application/json", r#"{"error":"POST only"}"#.into());
        }
        if query_param(query, "key").as_deref() != Some(key.as_str()) {
            return respond(403, "application/json", r#"{"error":"the operator key is required (?key=...)"}"#.into());
        }
        let now = match query_param(query, "now") {
            None => Utc::now(),
            Some(s) => match s.parse::<DateTime<Utc>>() {
                Ok(t) => t,
                Err(_) => {
                    return respond(
                        400,
                        "application/json",
                        r#"{"error":"now: an RFC 3339 time, e.g. 2027-06-01T00:00:00Z"}"#.into(),
                    );
                }
            },
        };
        if path == "/local/payment-reconciler" {
            let (reconciler, sandbox, hooks) = (reconciler.clone(), sandbox.clone(), hooks.clone());
            let result = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(async move {
                    let report = payment_reconciler::run(&reconciler, now).await;
                    let webhooks = deliver(&hooks, sandbox.take_deliveries(Utc::now().timestamp())).await;
                    (report, webhooks)
                })
            });
            return match result {
                (Ok(report), webhooks) => respond(
                    200,
                    "application/json",
                    serde_json::json!({"report": report, "webhooks": webhooks}).to_string(),
                ),
                (Err(e), _) => {
                    respond(503, "application/json", serde_json::json!({"error": e.to_string()}).to_string())
                }
            };
        }
        let (runner, sandbox, hooks) = (runner.clone(), sandbox.clone(), hooks.clone());
        let result = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async move {
                let report = instalment_runner::run(&runner, now).await;
                let webhooks = deliver(&hooks, sandbox.take_deliveries(Utc::now().timestamp())).await;
                (report, webhooks)
            })
        });
        match result {
            (Ok(report), webhooks) => respond(
                200,
                "application/json",
                serde_json::json!({"report": report, "webhooks": webhooks}).to_string(),
            ),
            (Err(e), _) => respond(503, "application/json", serde_json::json!({"error": e.to_string()}).to_string()),
        }
    })
}

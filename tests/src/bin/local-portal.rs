//! The whole portal on one local port: moto as DynamoDB/S3/SES, every function in-process behind the routes
//! of `docs/openapi.json`, demo bookings seeded through the operator API. Started by `./scripts/dev`.

use std::sync::Arc;

use chrono::Utc;
use portal_http::operator::OperatorAuth;
use portal_tests::apigw::{ApiRequest, body_json};
use portal_tests::gateway::Gateway;
use portal_tests::{TestEnv, handler, seed};

#[tokio::main]
async fn main() {
    portal_http::init_tracing();
    let port: u16 = std::env::var("PORTAL_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e} (set PORTAL_PORT to use another port)");
            std::process::exit(1);
        }
    };
    eprintln!("starting the local AWS emulator (moto)...");
    let env = TestEnv::named("portal", "portal-documents").await;
    env.upload_fallback_font().await;
    let operator_key = format!("op_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let auth = OperatorAuth::key(&operator_key).expect("generated key is long enough");

    let sign_in_queue = portal_tests::signin::sign_in_queue(&env, "portal-sign-in").await;
    let auth_state = Arc::new(local_auth_state(&env, &auth, port, sign_in_queue.clone()));
    // The sign-in mailer consumes the queue in the background, as the SQS event source does in AWS.
    portal_tests::signin::spawn(sign_in_queue, portal_tests::signin::mailer(&auth_state, 10));
    let (documents_state, documents_queue) = local_documents(&env, &auth, &auth_state.sessions).await;
    let (checkout_state, webhooks_state, sandbox) = local_payments(&env, &auth_state, &documents_queue, port);
    // A price change or cancellation cancels the booking's open checkouts at the (sandbox) gateway.
    let operator_bookings =
        Arc::new(operator_bookings::State { store: env.store(), auth: auth.clone(), gateway: Some(sandbox.clone()) });

    // Customer notifications: the writers' notices go to the mail queue (the relay) and out through SES (the
    // mailer), both in the background every two seconds, as the relay's schedule and the queue's event source
    // do in AWS; no digest wait locally (a person wants to see the email of what they just did).
    let mut notifications_state =
        portal_tests::notices::with_brands(&env, &format!("http://127.0.0.1:{port}"), auth_state.config.brands.clone())
            .await;
    notifications_state.auth = Some(auth.clone());
    let notifications_state = Arc::new(notifications_state);
    portal_tests::notices::spawn(notifications_state.clone());

    let details_key = portal_tests::details::details_key(&env).await;
    let gateway = Gateway::new()
        .function("operator-bookings", {
            let s = Arc::new((operator_bookings.clone(), documents_queue.clone()));
            handler!(s, arc_handle_operator_bookings)
        })
        .function("auth", {
            let s = auth_state.clone();
            handler!(s, arc_handle_auth)
        })
        // Booking lookup verifies the sessions the auth function signs: same SessionConfig (same keys).
        .function("bookings", {
            let s = bookings::State::new(env.store(), auth_state.sessions.clone()).with_policies(
                portal_details::policy::BrandPolicies::parse(Some(portal_tests::details::BRANDS_JSON)).expect("brands"),
            );
            handler!(s, bookings::handle)
        })
        .function("documents", {
            let s = documents_state.clone();
            handler!(s, arc_handle_documents)
        })
        // Payments: checkout talks to the sandbox gateway; the sandbox page posts Stripe-signed webhooks to
        // the webhook function in-process (the same verification and recording code as with Stripe).
        .function("checkout", {
            let s = checkout_state;
            handler!(s, checkout::handle)
        })
        .function("payment-webhooks", {
            let s = webhooks_state.clone();
            handler!(s, payment_webhooks::handle)
        })
        // Scheduled payments: approvals and card set-up on the sandbox; the runner on demand with a chosen "now".
        .function("instalments", {
            let s = instalments::State::new(env.store(), auth_state.sessions.clone(), sandbox.clone());
            handler!(s, instalments::handle)
        })
        .page(portal_tests::instalments::local_pages(
            instalment_runner::State::new(
                env.store(),
                sandbox.clone(),
                auth_state.config.brands.clone(),
                &format!("http://127.0.0.1:{port}"),
            ),
            payment_reconciler::State::new(
                payment_webhooks::State::new(env.store(), "", auth_state.config.brands.clone()),
                sandbox.clone(),
            ),
            sandbox.clone(),
            webhooks_state.clone(),
            &operator_key,
        ))
        // Traveller details: sealed under a KMS key of their own (moto's KMS); retention on demand.
        .function("traveller-details", {
            let s =
                portal_tests::details::state_with_key(&env, &details_key, auth_state.sessions.clone(), auth.clone());
            handler!(s, traveller_details::handle)
        })
        .function("details-export", {
            let details =
                portal_tests::details::state_with_key(&env, &details_key, auth_state.sessions.clone(), auth.clone());
            let s = portal_tests::details::export(&env, details);
            handler!(s, details_export::handle)
        })
        // Amendment requests and messages; the agent page plays the operator's team through the operator API.
        .function("requests", {
            let s = portal_tests::requests::state(
                &env,
                auth_state.sessions.clone(),
                auth.clone(),
                &format!("http://127.0.0.1:{port}"),
            );
            handler!(s, requests::handle)
        })
        // The one-click unsubscribe page and the operator's view of a booking's emails.
        .function("notifications", {
            let s = notifications_state.clone();
            handler!(s, arc_handle_notifications)
        })
        .page(portal_tests::notices::local_page(notifications_state.clone(), &operator_key))
        .page(portal_tests::requests::agent_page(&operator_key))
        .page(portal_tests::details::local_page(portal_tests::details::retention(&env), &operator_key))
        .page(sandbox_checkout_page(sandbox, webhooks_state))
        .page(portal_tests::web::app(portal_tests::web::dist_dir(), web_config(), web_logos()));
    if !portal_tests::web::dist_dir().join("index.html").exists() {
        eprintln!("warning: the web app is not built (web/dist); ./scripts/dev builds it");
    }
    for r in gateway.unserved() {
        eprintln!("warning: {} {} ({}) is not served locally", r.method, r.template, r.function);
    }

    // Seed through the real operator route.
    let today = Utc::now().date_naive();
    for (reference, body) in seed::demo_bookings(today) {
        let req = ApiRequest::new("PUT", &format!("/operator/bookings/{reference}"))
            .route("/operator/bookings/{reference}")
            .path_param("reference", reference)
            .bearer(&operator_key)
            .json(&body)
            .build();
        let resp = operator_bookings::handle_with_documents(&operator_bookings, &documents_queue, req)
            .await
            .unwrap_or_else(|e| match e {});
        if resp.status().as_u16() >= 300 {
            eprintln!("seeding {reference} failed: {} {}", resp.status(), body_json(&resp));
            std::process::exit(1);
        }
    }

    let base = format!("http://127.0.0.1:{port}");
    let sign_in = demo_sign_in(&auth_state, &operator_key).await;
    // For the browser tests (web/e2e): where things are, and the demo bookings to copy under fresh references.
    if let Ok(path) = std::env::var("PORTAL_INFO_FILE") {
        let demo: serde_json::Map<String, serde_json::Value> =
            seed::demo_bookings(today).into_iter().map(|(r, b)| (r.to_string(), b)).collect();
        let info = serde_json::json!({"base": base, "operator_key": operator_key, "moto_url": env.moto.url,
                                      "demo_bookings": demo});
        if let Err(e) = std::fs::write(&path, info.to_string()) {
            eprintln!("cannot write PORTAL_INFO_FILE {path}: {e}");
            std::process::exit(1);
        }
    }
    println!();
    println!("Tour portal running at {base}");
    println!();
    println!("Open this link in a browser to land in booking AE-10001 as Ada Lovelace, the lead traveller");
    println!("(it works once, for 10 minutes; the sign-in page also takes a reference + email or a code):");
    println!("  {}", sign_in.split_whitespace().next().unwrap_or(""));
    println!();
    println!("  AWS emulator (moto):  {}  (table `{}`, bucket `{}`)", env.moto.url, env.table, env.bucket);
    println!("  Operator key:         {operator_key}");
    println!(
        "  Demo bookings:        AE-10001 (GBP, deposit paid), AE-20002 (EUR), ST-30003 (JPY), GJ-40004 (BHD), AE-50005 (group of 4)"
    );
    println!("  Documents:            signed in, GET {base}/bookings/AE-10001/documents, then");
    println!(
        "                        GET {base}/bookings/AE-10001/documents/invoice/url and open the `url` (5 minutes)"
    );
    println!();
    println!("  Payments (sandbox):   signed in, POST {base}/bookings/AE-10001/payments with an Idempotency-Key and");
    println!(
        "                        {{\"pay\": \"instalments\", \"instalment_ids\": [\"INS1\"], \"method\": \"card\"}}, then open `checkout_url`"
    );
    println!(
        "  Instalments:          signed in, POST {base}/bookings/AE-10001/payment-methods (Idempotency-Key), open"
    );
    println!(
        "                        `setup_url` and save the card, POST {base}/bookings/AE-10001/instalments/approval,"
    );
    println!("                        then run the runner as if on a date: curl -X POST \\");
    println!("                        '{base}/local/instalment-runner?key={operator_key}&now=2027-06-01T00:00:00Z'");
    println!("  Traveller details:    signed in, GET {base}/bookings/AE-10001/traveller-details (the party's forms in");
    println!("                        the web app under Passenger details); the operator reads full values with");
    println!(
        "                        curl -H 'authorization: Bearer {operator_key}' {base}/operator/bookings/AE-10001/travellers"
    );
    println!(
        "                        and the event feed at {base}/operator/traveller-events; retention as if on a date:"
    );
    println!(
        "                        curl -X POST '{base}/local/details-retention?key={operator_key}&now=2027-12-01T00:00:00Z'"
    );
    println!(
        "  Requests & messages:  signed in, the web app's Requests page (or POST {base}/bookings/AE-10001/requests);"
    );
    println!(
        "                        answer as the operator's team on the agent page {base}/local/agent?key={operator_key}"
    );
    println!(
        "                        or: curl -H 'authorization: Bearer {operator_key}' -H 'content-type: application/json' \\"
    );
    println!("                        -d '{{\"body\": \"We can do that\", \"status\": \"waiting_for_customer\"}}' \\");
    println!("                        {base}/operator/bookings/AE-10001/requests/<request_id>/messages");
    println!("                        (team emails: moto's SES at {}/moto-api/data.json)", env.moto.url);
    println!("  Customer emails:      every receipt, decline, refund, confirmation, change, document, request and");
    println!("                        reminder email goes through the outbox, the relay and the mailer within seconds");
    println!("                        of the action; read them in moto's SES at {}/moto-api/data.json,", env.moto.url);
    println!("                        and what was sent or skipped per booking with");
    println!(
        "                        curl -H 'authorization: Bearer {operator_key}' {base}/operator/bookings/AE-10001/emails"
    );
    // AE-10001's instalment falls due in 30 days: 16 days on, it is 14 days away (the first reminder).
    let remind_at = (Utc::now() + chrono::Duration::days(16)).format("%Y-%m-%dT08:00:00Z");
    println!("                        the instalment reminder, planned and sent as if 16 days on:");
    println!("                        curl -X POST '{base}/local/notifications?key={operator_key}&now={remind_at}'");
    println!("  Lost webhooks:        read open payments from the gateway, cancel expired checkouts, retry refunds:");
    println!(
        "                        curl -X POST '{base}/local/payment-reconciler?key={operator_key}&now=2027-06-01T00:00:00Z'"
    );
    println!();
    println!("Try:");
    println!("  curl -i -X PUT {base}/operator/bookings/AE-10001 -H 'authorization: Bearer {operator_key}' \\");
    println!("       -H 'content-type: application/json' --data @events/operator-bookings/booking.json");
    println!();
    println!("Sign in as Ada Lovelace (lead passenger of AE-10001), once, within 10 minutes:");
    println!("  {sign_in}");
    println!("  Another link (printed, not emailed): curl -s -X POST {base}/operator/bookings/AE-10001/magic-links \\");
    println!(
        "       -H 'authorization: Bearer {operator_key}' -H 'content-type: application/json' --data '{{\"send_email\": false}}'"
    );
    println!("  Or as a customer: curl -i -X POST {base}/auth/magic-links -H 'content-type: application/json' \\");
    println!(
        "       --data '{{\"booking_reference\": \"AE-10001\", \"email\": \"ada@example.com\"}}'  (the email lands in moto: {}/moto-api/data.json)",
        env.moto.url
    );
    println!();
    println!("Ctrl-C stops everything (the emulator too).");
    Arc::new(gateway).serve(listener).await;
}

/// The brands' public settings the web app reads from `/config.json` (in AWS, Terraform writes it from
/// `var.brands`). The same names and colours as the functions' brand config above.
fn web_config() -> String {
    serde_json::json!({"brands": {
        "alpine-escapes": {"name": "Alpine Escapes", "primary_colour": "#0a7c59",
                           "logo_url": "/brand-assets/alpine-escapes.png",
                           "support_email": "help@alpine-escapes.example", "support_phone": "+44 20 7946 0000"},
        "sakura-tours": {"name": "Sakura Tours", "primary_colour": "#b5316a", "support_email": "care@sakura-tours.example"},
        "gulf-journeys": {"name": "Gulf Journeys", "primary_colour": "#8a5a00", "support_phone": "+973 1700 0000"}
    }})
    .to_string()
}

fn web_logos() -> Vec<(String, &'static [u8])> {
    vec![(
        "alpine-escapes.png".into(),
        include_bytes!("../../../shared/documents/fixtures/alpine-escapes-logo.png").as_slice(),
    )]
}

async fn arc_handle_operator_bookings(
    s: &Arc<(Arc<operator_bookings::State>, portal_store::documents::DocumentQueue)>,
    req: lambda_http::Request,
) -> Result<lambda_http::Response<lambda_http::Body>, std::convert::Infallible> {
    operator_bookings::handle_with_documents(&s.0, &s.1, req).await
}

async fn arc_handle_documents(
    s: &Arc<documents::State>,
    req: lambda_http::Request,
) -> Result<lambda_http::Response<lambda_http::Body>, std::convert::Infallible> {
    documents::handle(s, req).await
}

/// The documents function and its queue on moto, with the worker polling the queue in the background (the
/// production path: an upsert or an operator request queues, the worker renders into the bucket).
async fn local_documents(
    env: &TestEnv,
    auth: &OperatorAuth,
    sessions: &portal_http::session::SessionConfig,
) -> (Arc<documents::State>, portal_store::documents::DocumentQueue) {
    let sqs = aws_sdk_sqs::Client::new(&env.sdk);
    let url = sqs.create_queue().queue_name("portal-documents").send().await.expect("create the documents queue");
    let queue = portal_store::documents::DocumentQueue { client: sqs, url: url.queue_url.unwrap_or_default() };
    // The demo brand's logo in the bucket, as Terraform uploads a brand's `logo_file` (the others: monogram).
    let logo = include_bytes!("../../../shared/documents/fixtures/alpine-escapes-logo.png");
    let put = env.s3.put_object().bucket(&env.bucket).key("brands/alpine-escapes/logo.png");
    if let Err(e) = put.content_type("image/png").body(logo.to_vec().into()).send().await {
        eprintln!("warning: the demo logo was not uploaded ({e}); documents show the monogram");
    }
    let brands = document_worker::Brands::parse(
        Some(
            r##"{"alpine-escapes": {"name": "Alpine Escapes", "primary_colour": "#0a7c59",
                                    "logo_key": "brands/alpine-escapes/logo.png"},
                 "sakura-tours": {"name": "Sakura Tours", "primary_colour": "#b5316a"},
                 "gulf-journeys": {"name": "Gulf Journeys", "primary_colour": "#8a5a00"}}"##,
        ),
        Some("Tour Operator Ltd (demo) | 1 Example Street, London"),
    )
    .expect("valid brands");
    let worker_generator = document_worker::Generator::new(env.store(), env.s3.clone(), env.bucket.clone(), brands);
    let worker_queue = queue.clone();
    tokio::spawn(async move {
        loop {
            let received = worker_queue
                .client
                .receive_message()
                .queue_url(&worker_queue.url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await;
            let messages = match received {
                Ok(out) => out.messages.unwrap_or_default(),
                Err(e) => {
                    eprintln!("document worker: receiving failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            for m in messages {
                let record = serde_json::json!({"messageId": m.message_id, "body": m.body});
                let event = serde_json::from_value(serde_json::json!({"Records": [record]}));
                if let Ok(event) = event {
                    let resp = document_worker::handle(&worker_generator, event, Utc::now()).await;
                    if !resp.batch_item_failures.is_empty() {
                        continue; // left on the queue: retried after the visibility timeout
                    }
                }
                if let Some(h) = m.receipt_handle {
                    let _ = worker_queue
                        .client
                        .delete_message()
                        .queue_url(&worker_queue.url)
                        .receipt_handle(h)
                        .send()
                        .await;
                }
            }
        }
    });
    let state = documents::State {
        store: env.store(),
        s3: env.s3.clone(),
        bucket: env.bucket.clone(),
        sessions: sessions.clone(),
        auth: auth.clone(),
        queue: queue.clone(),
        clock: Arc::new(Utc::now),
    };
    (Arc::new(state), queue)
}

/// Production's limits, except that `RATE_SIGN_IN_PER_CLIENT` (the variable the deployed function reads) may
/// raise the sign-ins per address: the browser suite signs in more than 30 times from 127.0.0.1.
fn local_rate_limits() -> auth::RateLimits {
    let mut limits = auth::RateLimits::default();
    if let Some(n) = std::env::var("RATE_SIGN_IN_PER_CLIENT").ok().and_then(|v| v.parse().ok()) {
        limits.sign_in_per_client = n;
    }
    limits
}

/// The sign-in function with secrets generated for this run (nothing to configure locally).
fn local_auth_state(
    env: &TestEnv,
    operator: &OperatorAuth,
    port: u16,
    queue: auth::mailer::SignInQueue,
) -> auth::State {
    let secret = || auth::tokens::new_token().expect("the CSPRNG works").into_bytes();
    let key = auth::tokens::TokenKey::new(&secret()).expect("a 43-byte secret is long enough");
    let sessions = portal_http::session::SessionConfig::new(
        vec![("local".into(), secret())],
        "tour-portal",
        "tour-portal-customer",
        1800,
        43_200,
    )
    .expect("valid session config");
    let brands = auth::Brands::parse(
        Some(
            r##"{"alpine-escapes": {"name": "Alpine Escapes", "primary_colour": "#0a7c59"},
                 "sakura-tours": {"name": "Sakura Tours", "primary_colour": "#b5316a"},
                 "gulf-journeys": {"name": "Gulf Journeys", "primary_colour": "#8a5a00"}}"##,
        ),
        &env.sender,
    )
    .expect("valid brands");
    let config = auth::AuthConfig::new(
        key,
        &format!("http://127.0.0.1:{port}"),
        600,
        std::time::Duration::from_millis(600),
        brands,
        local_rate_limits(),
    )
    .expect("valid auth config");
    auth::State::new(env.store(), env.ses.clone(), queue, operator.clone(), sessions, config)
}

/// A working magic link for the lead passenger of AE-10001, issued through the operator route in-process.
async fn demo_sign_in(state: &auth::State, operator_key: &str) -> String {
    let req = ApiRequest::new("POST", "/operator/bookings/AE-10001/magic-links")
        .route("/operator/bookings/{reference}/magic-links")
        .path_param("reference", "AE-10001")
        .bearer(operator_key)
        .json(&serde_json::json!({"send_email": false}))
        .build();
    let resp = auth::handle(state, req).await.unwrap_or_else(|e| match e {});
    let body = body_json(&resp);
    match (body["link"].as_str(), body["code"].as_str()) {
        (Some(link), Some(code)) => format!("{link}   (or booking reference AE-10001 + code {code})"),
        _ => {
            eprintln!("issuing the demo sign-in link failed: {} {body}", resp.status());
            std::process::exit(1);
        }
    }
}

async fn arc_handle_notifications(
    s: &Arc<notifications::State>,
    req: lambda_http::Request,
) -> Result<lambda_http::Response<lambda_http::Body>, std::convert::Infallible> {
    notifications::http::handle(s, req).await
}

async fn arc_handle_auth(
    s: &Arc<auth::State>,
    req: lambda_http::Request,
) -> Result<lambda_http::Response<lambda_http::Body>, std::convert::Infallible> {
    auth::handle(s, req).await
}

/// Checkout and webhook functions wired to the sandbox gateway, with a webhook secret made for this run; a
/// recorded payment queues the regeneration of the booking's documents.
fn local_payments(
    env: &TestEnv,
    auth_state: &auth::State,
    documents_queue: &portal_store::documents::DocumentQueue,
    port: u16,
) -> (checkout::State, Arc<payment_webhooks::State>, Arc<portal_gateway::sandbox::SandboxGateway>) {
    let secret = format!("whsec_{}", uuid::Uuid::new_v4().simple());
    let sandbox = Arc::new(portal_gateway::sandbox::SandboxGateway::new(&format!("http://127.0.0.1:{port}"), &secret));
    let checkout = checkout::State::new(env.store(), auth_state.sessions.clone(), sandbox.clone());
    let hooks = payment_webhooks::State::new(env.store(), &secret, auth_state.config.brands.clone())
        .with_documents(documents_queue.clone())
        .with_gateway(sandbox.clone());
    (checkout, Arc::new(hooks), sandbox)
}

/// `GET /sandbox/checkout/{payment id}`: the sandbox's checkout page; `POST .../{pay|decline|pending}`: act as
/// the customer would, and deliver the gateway's signed webhooks to the webhook function (asynchronously, as
/// a gateway does).
fn sandbox_checkout_page(
    sandbox: Arc<portal_gateway::sandbox::SandboxGateway>,
    hooks: Arc<payment_webhooks::State>,
) -> portal_tests::gateway::Page {
    use http_body_util::Full;
    use hyper::body::Bytes;
    Arc::new(move |method: &http::Method, path: &str, _query: &str| {
        let rest = path.strip_prefix("/sandbox/checkout/")?;
        let html = |status: u16, body: String| {
            let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
            *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
            r.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("text/html; charset=utf-8"));
            r.headers_mut().insert("cache-control", hyper::header::HeaderValue::from_static("no-store"));
            Some(r)
        };
        match (method.as_str(), rest.split_once('/')) {
            ("GET", None) => match sandbox.page_html(rest) {
                Some(page) => html(200, page),
                None => html(404, "<p>No such sandbox payment.</p>".into()),
            },
            ("POST", Some((id, action))) => {
                let Some(action) = portal_gateway::sandbox::Action::parse(action) else {
                    return html(404, "<p>Unknown action.</p>".into());
                };
                match sandbox.act(id, action, Utc::now().timestamp()) {
                    Ok(deliveries) => {
                        // In order, as one gateway connection would; then whatever the gateway sends on its own
                        // as a result (an excess refund the webhook started: refund.created, charge.refunded).
                        let (hooks, sandbox) = (hooks.clone(), sandbox.clone());
                        tokio::spawn(async move {
                            let mut batch = deliveries;
                            for _ in 0..4 {
                                for d in batch {
                                    let event_id = d.event_id.clone();
                                    let r = portal_tests::instalments::deliver_one(&hooks, d).await;
                                    eprintln!("sandbox webhook {event_id} -> {} {}", r.status(), body_json(&r));
                                }
                                batch = sandbox.take_deliveries(Utc::now().timestamp());
                                if batch.is_empty() {
                                    break;
                                }
                            }
                        });
                        let back = format!("/sandbox/checkout/{}", id.replace(['<', '>', '"', '&'], ""));
                        html(
                            200,
                            format!(
                                "<p>Done: the gateway sent its signed webhook.</p><p><a href=\"{back}\">Back to the payment</a></p>"
                            ),
                        )
                    }
                    Err(e) => html(409, format!("<p>{}</p>", e.replace('<', "&lt;"))),
                }
            }
            _ => None,
        }
    })
}

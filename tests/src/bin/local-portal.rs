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
    let operator_key = format!("op_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let auth = OperatorAuth::key(&operator_key).expect("generated key is long enough");

    let operator_bookings = Arc::new(operator_bookings::State { store: env.store(), auth: auth.clone() });

    let gateway = Gateway::new().function("operator-bookings", {
        let s = operator_bookings.clone();
        handler!(s, arc_handle_operator_bookings)
    });
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
        let resp = operator_bookings::handle(&operator_bookings, req).await.unwrap_or_else(|e| match e {});
        if resp.status().as_u16() >= 300 {
            eprintln!("seeding {reference} failed: {} {}", resp.status(), body_json(&resp));
            std::process::exit(1);
        }
    }

    let base = format!("http://127.0.0.1:{port}");
    println!();
    println!("Tour portal running at {base}");
    println!("  AWS emulator (moto):  {}  (table `{}`, bucket `{}`)", env.moto.url, env.table, env.bucket);
    println!("  Operator key:         {operator_key}");
    println!(
        "  Demo bookings:        AE-10001 (GBP, deposit paid), AE-20002 (EUR), ST-30003 (JPY), GJ-40004 (BHD), AE-50005 (group of 4)"
    );
    println!();
    println!("Try:");
    println!("  curl -i -X PUT {base}/operator/bookings/AE-10001 -H 'authorization: Bearer {operator_key}' \\");
    println!("       -H 'content-type: application/json' --data @events/operator-bookings/booking.json");
    println!();
    println!("Ctrl-C stops everything (the emulator too).");
    Arc::new(gateway).serve(listener).await;
}

async fn arc_handle_operator_bookings(
    s: &Arc<operator_bookings::State>,
    req: lambda_http::Request,
) -> Result<lambda_http::Response<lambda_http::Body>, std::convert::Infallible> {
    operator_bookings::handle(s, req).await
}

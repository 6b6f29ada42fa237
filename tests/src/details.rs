//! Traveller details on the emulator: the details KMS key (moto's KMS), the function's state, and the
//! local-portal page that runs the retention job at a chosen time
//! (`POST /local/details-retention?key=<operator key>&now=<RFC 3339>`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::body::Bytes;
use portal_http::operator::OperatorAuth;
use portal_http::session::SessionConfig;

use crate::TestEnv;
use crate::gateway::Page;

/// The brands' rules the tests and the local portal use: the walking-tour brand needs no passport; the
/// cruise-like brand needs one valid six months after travel.
pub const BRANDS_JSON: &str = r##"{
  "alpine-escapes": {"name": "Alpine Escapes", "primary_colour": "#0a7c59",
                     "requests": {
                       "roles": {
                         "reservations": {"name": {"en-GB": "Reservations team", "en-US": "Reservations team", "de-DE": "Reservierungsteam",
                                                   "fr-FR": "Service réservations", "nl-NL": "Reserveringsteam", "ja-JP": "予約担当"},
                                          "addresses": ["reservations@alpine.example", "desk@alpine.example"],
                                          "deputy": {"address": "cover@alpine.example", "from": "2000-01-01", "until": "2000-01-14"}},
                         "accounts": {"name": {"en-GB": "Accounts team", "de-DE": "Buchhaltung", "fr-FR": "Service comptabilité",
                                               "nl-NL": "Administratie", "ja-JP": "経理担当"},
                                      "addresses": ["accounts@alpine.example"]},
                         "tour_leader": {"name": {"en-GB": "Your tour leader", "de-DE": "Ihre Reiseleitung", "fr-FR": "Votre accompagnateur",
                                                  "nl-NL": "Uw reisleider", "ja-JP": "ツアーリーダー"},
                                         "addresses": ["leaders@alpine.example"]}
                       },
                       "routing": {"cancellation": "accounts", "special_assistance": "tour_leader"},
                       "operator_link": "https://backoffice.alpine.example/bookings/{reference}/requests/{request_id}"
                     }},
  "sakura-tours": {"name": "Sakura Tours", "primary_colour": "#b5316a",
                   "details": {"required": ["legal_name", "date_of_birth", "nationality", "travel_document", "emergency_contact"],
                               "document_validity": {"months_after_travel": 6, "enforcement": "refuse"}}},
  "gulf-journeys": {"name": "Gulf Journeys", "primary_colour": "#8a5a00"}
}"##;

/// A new KMS key on the emulator for traveller details; its id.
pub async fn details_key(env: &TestEnv) -> String {
    let kms = aws_sdk_kms::Client::new(&env.sdk);
    let key = kms.create_key().description("traveller details").send().await.expect("create the details KMS key");
    key.key_metadata.and_then(|m| m.arn).expect("key arn")
}

pub async fn state(env: &TestEnv, sessions: SessionConfig, auth: OperatorAuth) -> traveller_details::State {
    state_with_key(env, &details_key(env).await, sessions, auth)
}

/// The function's state under an existing details key (the local portal's two details functions share one).
pub fn state_with_key(
    env: &TestEnv,
    key: &str,
    sessions: SessionConfig,
    auth: OperatorAuth,
) -> traveller_details::State {
    let kms = aws_sdk_kms::Client::new(&env.sdk);
    traveller_details::State {
        store: env.store(),
        sessions,
        auth,
        vault: traveller_details::Vault::new(portal_sealing::Sealer::new(kms, key.to_string())),
        policies: portal_details::policy::BrandPolicies::parse(Some(BRANDS_JSON)).expect("brands"),
        clock: Arc::new(Utc::now),
    }
}

pub fn export(env: &TestEnv, details: traveller_details::State) -> details_export::State {
    details_export::State {
        details,
        brands: portal_mail::Brands::parse(Some(BRANDS_JSON), "noreply@portal.invalid").expect("brands"),
        fonts: Some((env.s3.clone(), env.bucket.clone())),
    }
}

pub fn retention(env: &TestEnv) -> details_retention::State {
    details_retention::State {
        store: env.store(),
        policies: portal_details::policy::BrandPolicies::parse(Some(BRANDS_JSON)).expect("brands"),
    }
}

fn respond(status: u16, body: String) -> Option<hyper::Response<Full<Bytes>>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    r.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    Some(r)
}

/// `POST /local/details-retention?key=…&now=…`: run the daily job as if it were `now`.
pub fn local_page(job: details_retention::State, operator_key: &str) -> Page {
    let job = Arc::new(job);
    let key = operator_key.to_string();
    Arc::new(move |method: &http::Method, path: &str, query: &str| {
        if path != "/local/details-retention" {
            return None;
        }
        if method != http::Method::POST {
            return respond(405, r#"{"error":"POST only"}"#.into());
        }
        let param = |name: &str| {
            query
                .split('&')
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.replace("%3A", ":"))
        };
        if param("key").as_deref() != Some(key.as_str()) {
            return respond(403, r#"{"error":"the operator key is required (?key=...)"}"#.into());
        }
        let now = match param("now").map(|s| s.parse::<DateTime<Utc>>()) {
            None => Utc::now(),
            Some(Ok(t)) => t,
            Some(Err(_)) => return respond(400, r#"{"error":"now: an RFC 3339 time"}"#.into()),
        };
        let job = job.clone();
        let result = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async move { details_retention::run(&job, now).await })
        });
        match result {
            Ok(report) => respond(200, serde_json::json!({"report": report}).to_string()),
            Err(e) => respond(503, serde_json::json!({"error": e.to_string()}).to_string()),
        }
    })
}

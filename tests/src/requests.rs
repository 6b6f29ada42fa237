//! Amendment requests on the emulator: the function's state (the alpine-escapes brand's team roles are in
//! [`crate::details::BRANDS_JSON`]) and the local portal's agent page (`/local/agent`), where a person plays
//! the operator's team through the real operator API.

use std::sync::Arc;

use chrono::Utc;
use http_body_util::Full;
use hyper::body::Bytes;
use portal_http::operator::OperatorAuth;
use portal_http::session::SessionConfig;
use portal_requests::caps::Limits;
use portal_requests::roles::TeamRoles;

use crate::TestEnv;
use crate::details::BRANDS_JSON;
use crate::gateway::Page;

pub fn state(env: &TestEnv, sessions: SessionConfig, auth: OperatorAuth, portal_url: &str) -> requests::State {
    requests::State {
        store: env.store(),
        sessions,
        auth,
        ses: env.ses.clone(),
        brands: portal_mail::Brands::parse(Some(BRANDS_JSON), &env.sender).expect("brands"),
        roles: TeamRoles::parse(Some(BRANDS_JSON)).expect("team roles"),
        limits: Limits::default(),
        portal_url: portal_url.trim_end_matches('/').to_string(),
        clock: Arc::new(Utc::now),
    }
}

const AGENT_PAGE: &str = include_str!("agent.html");

/// `GET /local/agent?key=<operator key>`: a page that reads a booking's requests and answers them through
/// the operator routes (`/operator/bookings/{reference}/requests...`), as the operator's own system would.
pub fn agent_page(operator_key: &str) -> Page {
    let key = operator_key.to_string();
    Arc::new(move |method: &http::Method, path: &str, query: &str| {
        if path != "/local/agent" {
            return None;
        }
        let (status, body) = if method != http::Method::GET {
            (405, "GET only".to_string())
        } else if !query.split('&').any(|p| p == format!("key={key}")) {
            (403, "the operator key is required: /local/agent?key=<the key ./scripts/dev printed>".to_string())
        } else {
            (200, AGENT_PAGE.to_string())
        };
        let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
        let ct = if status == 200 { "text/html; charset=utf-8" } else { "text/plain; charset=utf-8" };
        r.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static(ct));
        r.headers_mut().insert(
            "content-security-policy",
            hyper::header::HeaderValue::from_static(
                "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'",
            ),
        );
        r.headers_mut().insert("referrer-policy", hyper::header::HeaderValue::from_static("no-referrer"));
        Some(r)
    })
}

//! Traveller details (issue 19; the contract is `docs/traveller-details.md`).
//!
//! Customer routes (session): the party's progress, one traveller's form (`ETag` / `If-Match`), history and
//! restore, and an erasure request (the data export is the `details-export` function's: it draws PDFs). The lead sees and edits the whole party; any
//! other traveller only themself (anyone else answers 404, like an unknown id). A saved document number is
//! only ever shown masked on these routes.
//!
//! Operator routes: every traveller with full values, history with values, restore, the event feed and the
//! erasure request's status.
//!
//! Every accepted change is one conditional transaction ([`change::save`]): the details, a version and the
//! operator's event. The sensitive part is sealed under the details KMS key ([`vault`]).

pub mod change;
pub mod customer;
mod operator;
pub mod vault;

use std::convert::Infallible;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use portal_details::policy::BrandPolicies;
use portal_http::config::{self, ConfigError};
use portal_http::operator::OperatorAuth;
use portal_http::session::SessionConfig;
use portal_http::{ApiError, respond};
use portal_store::Store;

pub use vault::Vault;

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Longest form body, in bytes (a full form with three address lines and notes is about 6 KiB).
pub const MAX_FORM_BYTES: usize = 16 * 1024;

pub struct State {
    pub store: Store,
    pub sessions: SessionConfig,
    pub auth: OperatorAuth,
    pub vault: Vault,
    pub policies: BrandPolicies,
    pub clock: Clock,
}

impl State {
    /// `TABLE_NAME`, `DETAILS_KMS_KEY_ID`, `BRANDS_JSON` (the brands' rules), the session and operator auth
    /// variables.
    pub async fn from_env() -> Result<State, ConfigError> {
        let table = config::required("TABLE_NAME")?;
        let key = config::required("DETAILS_KMS_KEY_ID")?;
        let brands_json = config::optional("BRANDS_JSON");
        let policies = BrandPolicies::parse(brands_json.as_deref())
            .map_err(|problem| ConfigError { variable: "BRANDS_JSON", problem })?;
        let sdk = portal_store::aws::sdk_config().await;
        Ok(State {
            store: Store::new(portal_store::aws::dynamodb_client(&sdk, None), table),
            sessions: SessionConfig::from_env()?,
            auth: OperatorAuth::from_env()?,
            vault: Vault::new(portal_sealing::Sealer::new(aws_sdk_kms::Client::new(&sdk), key)),
            policies,
            clock: Arc::new(Utc::now),
        })
    }
}

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Infallible> {
    respond(route(state, req)).await
}

async fn route(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    let method = req.method().clone();
    use http::Method;
    match segs.as_slice() {
        ["bookings", r, "traveller-details"] => {
            only(&method, Method::GET, Box::pin(customer::list(state, &req, r))).await
        }
        ["bookings", r, "traveller-details", t] => match method {
            Method::GET => Box::pin(customer::get(state, &req, r, t)).await,
            Method::PUT => Box::pin(customer::put(state, &req, r, t)).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        ["bookings", r, "traveller-details", t, "history"] => {
            only(&method, Method::GET, Box::pin(customer::history(state, &req, r, t))).await
        }
        ["bookings", r, "traveller-details", t, "history", v, "restore"] => {
            only(&method, Method::POST, Box::pin(customer::restore(state, &req, r, t, v))).await
        }
        ["bookings", r, "traveller-details", t, "erasure-request"] => {
            only(&method, Method::POST, Box::pin(customer::request_erasure(state, &req, r, t))).await
        }
        ["operator", "bookings", r, "travellers"] => {
            only(&method, Method::GET, Box::pin(operator::list(state, &req, r))).await
        }
        ["operator", "bookings", r, "travellers", t, "history"] => {
            only(&method, Method::GET, Box::pin(operator::history(state, &req, r, t))).await
        }
        ["operator", "bookings", r, "travellers", t, "history", v, "restore"] => {
            only(&method, Method::POST, Box::pin(operator::restore(state, &req, r, t, v))).await
        }
        ["operator", "bookings", r, "travellers", t, "erasure-request"] => {
            only(&method, Method::PATCH, Box::pin(operator::update_erasure(state, &req, r, t))).await
        }
        ["operator", "traveller-events"] => only(&method, Method::GET, Box::pin(operator::events(state, &req))).await,
        _ => Err(ApiError::not_found("no such route")),
    }
}

/// Run `f` only for `allowed`; any other method is 405 before anything is read.
/// (Each route's future is boxed: the SDK's futures are large, and one enum of them all would be larger.)
async fn only<F>(method: &http::Method, allowed: http::Method, f: F) -> Result<Response<Body>, ApiError>
where
    F: std::future::Future<Output = Result<Response<Body>, ApiError>>,
{
    if *method != allowed {
        return Err(ApiError::method_not_allowed());
    }
    f.await
}

/// 1-64 characters of `A-Za-z0-9_-` (what the operator's push accepts as a traveller id).
pub fn check_traveller_id(id: &str) -> Result<(), ApiError> {
    if (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(())
    } else {
        Err(ApiError::bad_request("traveller_id must be 1-64 characters of A-Z, a-z, 0-9, '-' or '_'")
            .with_field("traveller_id"))
    }
}

pub(crate) fn parse_version(raw: &str) -> Result<u32, ApiError> {
    match raw.parse::<u32>() {
        Ok(v) if v >= 1 && raw.bytes().all(|b| b.is_ascii_digit()) => Ok(v),
        _ => Err(ApiError::bad_request("version must be a positive whole number").with_field("version")),
    }
}

/// The details' entity tag: `"<version>"` (`"0"` before the first save).
pub(crate) fn etag(version: u32) -> String {
    format!("\"{version}\"")
}

/// `If-Match` (required on every change): the version the editor read. Missing: 428; not one entity tag of
/// ours: 400.
pub(crate) fn if_match(req: &Request) -> Result<u32, ApiError> {
    let Some(raw) = portal_http::header(req, "if-match") else {
        return Err(ApiError::precondition_required(
            "send If-Match with the ETag of the details you read, so a change made meanwhile is not overwritten",
        ));
    };
    let t = raw.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|v| v.parse::<u32>().ok().filter(|_| v.bytes().all(|b| b.is_ascii_digit())))
        .ok_or_else(|| ApiError::bad_request("If-Match must be one entity tag such as \"3\"").with_field("If-Match"))
}

/// A JSON response with the details' `ETag`.
pub(crate) fn with_etag(status: u16, body: &serde_json::Value, version: u32) -> Result<Response<Body>, ApiError> {
    let mut r = portal_http::json(status, body)?;
    if let Ok(v) = etag(version).parse() {
        r.headers_mut().insert("etag", v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_ids_are_checked_before_anything_is_read() {
        assert!(check_traveller_id("t-1_a").is_ok());
        for bad in ["", "../t1", "t%2F1", &"x".repeat(65)] {
            assert!(check_traveller_id(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_version("12").unwrap(), 12);
        for bad in ["0", "-1", "+1", "1.0", "x"] {
            assert!(parse_version(bad).is_err(), "{bad}");
        }
        assert_eq!(etag(3), "\"3\"");
    }
}

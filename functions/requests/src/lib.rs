//! Amendment requests and messages to the operator's team (issue 20; the contract is `docs/requests.md`).
//!
//! Customer routes (session): submit a typed request, follow its conversation and status, write in it,
//! withdraw it; the booking's general thread; optional update emails on or off. Operator routes: every
//! request with its conversation, replies and status changes, the general thread, the event feed.
//!
//! Every change is one conditional transaction ([`change`]): the request or thread head at the revision read,
//! the message, the operator's event, the idempotency record and the day's caps. Emails ([`mail`]) go after
//! the commit.

pub mod change;
mod customer;
pub mod mail;
mod operator;
mod view;

use std::convert::Infallible;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use portal_http::config::{self, ConfigError};
use portal_http::operator::OperatorAuth;
use portal_http::session::SessionConfig;
use portal_http::{ApiError, respond};
use portal_requests::caps::Limits;
use portal_requests::roles::TeamRoles;
use portal_store::Store;

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub struct State {
    pub store: Store,
    pub sessions: SessionConfig,
    pub auth: OperatorAuth,
    pub ses: aws_sdk_sesv2::Client,
    pub brands: portal_mail::Brands,
    pub roles: TeamRoles,
    pub limits: Limits,
    /// The web app's origin, for the links in customer emails (`PORTAL_URL`).
    pub portal_url: String,
    pub clock: Clock,
}

impl State {
    /// `TABLE_NAME`, `EMAIL_SENDER`, `PORTAL_URL`, optional `BRANDS_JSON` (brands and their team roles) and
    /// `REQUEST_LIMITS`, the session and operator auth variables.
    pub async fn from_env() -> Result<State, ConfigError> {
        let table = config::required("TABLE_NAME")?;
        let sender = config::required("EMAIL_SENDER")?;
        let portal_url = config::required("PORTAL_URL")?.trim().trim_end_matches('/').to_string();
        let brands_json = config::optional("BRANDS_JSON");
        let brands = portal_mail::Brands::parse(brands_json.as_deref(), sender.trim())
            .map_err(|e| ConfigError { variable: portal_mail::BrandsError::VARIABLE, problem: e.problem })?;
        let roles = TeamRoles::parse(brands_json.as_deref())
            .map_err(|problem| ConfigError { variable: "BRANDS_JSON", problem })?;
        let limits = Limits::parse(config::optional("REQUEST_LIMITS").as_deref())
            .map_err(|problem| ConfigError { variable: "REQUEST_LIMITS", problem })?;
        let sdk = portal_store::aws::sdk_config().await;
        Ok(State {
            store: Store::new(portal_store::aws::dynamodb_client(&sdk, None), table),
            sessions: SessionConfig::from_env()?,
            auth: OperatorAuth::from_env()?,
            ses: aws_sdk_sesv2::Client::new(&sdk),
            brands,
            roles,
            limits,
            portal_url,
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
        ["bookings", r, "requests"] => match method {
            Method::GET => Box::pin(customer::list(state, &req, r)).await,
            Method::POST => Box::pin(customer::submit(state, &req, r)).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        ["bookings", r, "requests", id] => {
            only(&method, Method::GET, Box::pin(customer::get(state, &req, r, id))).await
        }
        ["bookings", r, "requests", id, "messages"] => {
            only(&method, Method::POST, Box::pin(customer::write(state, &req, r, id))).await
        }
        ["bookings", r, "requests", id, "withdraw"] => {
            only(&method, Method::POST, Box::pin(customer::withdraw(state, &req, r, id))).await
        }
        ["bookings", r, "messages"] => match method {
            Method::GET => Box::pin(customer::general(state, &req, r)).await,
            Method::POST => Box::pin(customer::write_general(state, &req, r)).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        ["bookings", r, "communication-preferences"] => match method {
            Method::GET => Box::pin(customer::preferences(state, &req, r)).await,
            Method::PUT => Box::pin(customer::set_preferences(state, &req, r)).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        ["operator", "bookings", r, "requests"] => {
            only(&method, Method::GET, Box::pin(operator::list(state, &req, r))).await
        }
        ["operator", "bookings", r, "requests", id] => {
            only(&method, Method::GET, Box::pin(operator::get(state, &req, r, id))).await
        }
        ["operator", "bookings", r, "requests", id, "messages"] => {
            only(&method, Method::POST, Box::pin(operator::reply(state, &req, r, id))).await
        }
        ["operator", "bookings", r, "requests", id, "status"] => {
            only(&method, Method::POST, Box::pin(operator::set_status(state, &req, r, id))).await
        }
        ["operator", "bookings", r, "messages"] => {
            only(&method, Method::POST, Box::pin(operator::write_general(state, &req, r))).await
        }
        ["operator", "request-events"] => only(&method, Method::GET, Box::pin(operator::events(state, &req))).await,
        _ => Err(ApiError::not_found("no such route")),
    }
}

/// Run `f` only for `allowed`; any other method is 405 before anything is read. (Each route's future is
/// boxed: the SDK's futures are large, and one enum of them all would be larger.)
async fn only<F>(method: &http::Method, allowed: http::Method, f: F) -> Result<Response<Body>, ApiError>
where
    F: std::future::Future<Output = Result<Response<Body>, ApiError>>,
{
    if *method != allowed {
        return Err(ApiError::method_not_allowed());
    }
    f.await
}

/// `rq_` and 20 characters of `a-z0-9`.
pub fn check_request_id(id: &str) -> Result<(), ApiError> {
    let ok = id.len() == 23
        && id.starts_with("rq_")
        && id[3..].bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok { Ok(()) } else { Err(ApiError::not_found("no such request on this booking")) }
}

/// A JSON body of at most [`portal_requests::text::MAX_BODY_BYTES`] (an empty body: `None`).
pub(crate) fn small_body<T: serde::de::DeserializeOwned>(req: &Request, optional: bool) -> Result<Option<T>, ApiError> {
    let bytes = portal_http::request::body_bytes(req);
    if bytes.len() > portal_requests::text::MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(portal_requests::text::MAX_BODY_BYTES));
    }
    if optional && bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    portal_http::json_body(req).map(Some).map_err(as_list)
}

/// A 422 always lists its fields in `errors` (one way for a page to read it).
fn as_list(e: ApiError) -> ApiError {
    if e.status() != 422 {
        return e;
    }
    let p = e.problem();
    if !p.errors.is_empty() {
        return e;
    }
    invalid(p.field.unwrap_or_default(), p.detail)
}

/// One invalid field, as a 422 with its `errors` list.
pub(crate) fn invalid(field: impl Into<String>, detail: impl Into<String>) -> ApiError {
    ApiError::validation_errors(vec![portal_http::FieldProblem { field: field.into(), detail: detail.into() }])
}

/// `Idempotency-Key`: 8-128 visible ASCII characters, optional.
pub(crate) fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
    match portal_http::header(req, "idempotency-key") {
        None => Ok(None),
        Some(k) if (8..=128).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => Ok(Some(k.to_string())),
        Some(_) => Err(ApiError::bad_request("Idempotency-Key must be 8-128 visible ASCII characters")
            .with_field("Idempotency-Key")),
    }
}

pub(crate) fn field_errors(errors: Vec<portal_requests::FieldError>) -> ApiError {
    ApiError::validation_errors(
        errors.into_iter().map(|e| portal_http::FieldProblem { field: e.field, detail: e.detail }).collect(),
    )
}

pub(crate) fn illegal_transition(detail: String) -> ApiError {
    ApiError::client(409, "illegal-transition", "Illegal status change", detail)
}

pub(crate) fn request_closed() -> ApiError {
    ApiError::client(
        409,
        "request-closed",
        "Request closed",
        "this request is closed; open a new request or write to the team in the booking's messages",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_checked_before_anything_is_read() {
        assert!(check_request_id("rq_0123456789abcdefghij").is_ok());
        for bad in ["", "rq_", "rq_0123456789ABCDEFGHIJ", "xx_0123456789abcdefghij", "rq_0123456789abcdefghij/x"] {
            assert!(check_request_id(bad).is_err(), "{bad}");
        }
    }
}

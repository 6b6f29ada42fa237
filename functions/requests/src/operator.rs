//! The operator's routes: every request with its conversation, replies and status changes (one transaction
//! each), the general thread, the event feed. Authenticated like every operator route (IAM or key).

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, RequestExt, Response};
use portal_domain::ids::BookingReference;
use portal_domain::locale::Locale;
use portal_http::ApiError;
use portal_http::session::not_found_booking;
use portal_requests::kind::{By, RequestStatus};
use portal_requests::roles::BrandRequests;
use portal_requests::text;
use portal_store::BookingCollection;
use portal_store::requests::*;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::change::{self, Action, Author};
use crate::mail;
use crate::view::Viewer;
use crate::{State, check_request_id, field_errors, illegal_transition, invalid, small_body};

/// Events younger than this are not served yet (the index is eventually consistent; a cursor must never move
/// past an event that is about to appear).
pub const SETTLE_SECONDS: i64 = 2;
pub const EVENTS_MAX: i32 = 100;
pub const EVENTS_DEFAULT: i32 = 50;
pub const AGENT_MAX: usize = 80;

struct Operator {
    principal: String,
    c: BookingCollection,
    roles: BrandRequests,
    now: DateTime<Utc>,
}

async fn operator(state: &State, req: &Request, raw: &str) -> Result<Operator, ApiError> {
    let principal = state.auth.authenticate(req)?;
    let reference = BookingReference::parse(raw)?;
    let c = state.store.load_booking(reference.as_str()).await?.ok_or_else(not_found_booking)?;
    let roles = state.roles.brand(&c.booking.brand).into_owned();
    Ok(Operator { principal, c, roles, now: (state.clock)() })
}

impl Operator {
    fn viewer<'a>(&'a self, state: &'a State) -> Viewer<'a> {
        Viewer {
            booking: &self.c.booking,
            roles: &self.roles,
            // Operators read the booking's own locale (role names included).
            locale: Locale::parse(&self.c.booking.locale).unwrap_or(Locale::EnGb),
            traveller_id: None,
            is_lead: false,
            brand_name: &state.brands.get(&self.c.booking.brand).name,
        }
    }

    fn reference(&self) -> &str {
        self.c.booking.reference.as_str()
    }

    async fn request(&self, state: &State, id: &str) -> Result<RequestItem, ApiError> {
        check_request_id(id)?;
        state
            .store
            .request_item(self.reference(), id)
            .await?
            .ok_or_else(|| ApiError::not_found("no such request on this booking"))
    }

    async fn request_body(&self, state: &State, r: &RequestItem) -> Result<Value, ApiError> {
        let messages = state.store.messages(self.reference(), Some(&r.request_id)).await?;
        Ok(self.viewer(state).request(r, &messages))
    }

    /// A role of this brand (422 naming `field` otherwise).
    fn role(&self, raw: Option<&str>, field: &str) -> Result<Option<String>, ApiError> {
        match raw {
            None => Ok(None),
            Some(r) if self.roles.role(r).is_some() => Ok(Some(r.to_string())),
            Some(_) => {
                let ids: Vec<&str> = self.roles.roles().iter().map(|r| r.id.as_str()).collect();
                Err(invalid(field, format!("{field}: one of this brand's roles: {}", ids.join(", "))))
            }
        }
    }
}

fn agent(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    raw.map(|a| text::short("agent", a, AGENT_MAX).map_err(|e| field_errors(vec![e]))).transpose()
}

fn status(raw: &str, field: &str) -> Result<RequestStatus, ApiError> {
    RequestStatus::parse(raw).ok_or_else(|| {
        let all: Vec<&str> = RequestStatus::ALL.iter().map(|s| s.as_str()).collect();
        invalid(field, format!("{field}: one of {}", all.join(", ")))
    })
}

pub(crate) async fn list(state: &State, req: &Request, raw: &str) -> Result<Response<Body>, ApiError> {
    let o = operator(state, req, raw).await?;
    let v = o.viewer(state);
    let all = state.store.messages(o.reference(), None).await?;
    let mut requests = request_items(&o.c);
    requests.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    let body = json!({
        "reference": o.reference(),
        "requests": requests.iter().map(|r| {
            let mine: Vec<MessageItem> = all.iter().filter(|m| m.thread == r.request_id).cloned().collect();
            v.request(r, &mine)
        }).collect::<Vec<_>>(),
        "general": {"messages": all.iter().filter(|m| m.thread == GENERAL).map(|m| v.message(m, true)).collect::<Vec<_>>()},
    });
    portal_http::json(200, &body)
}

pub(crate) async fn get(state: &State, req: &Request, raw: &str, id: &str) -> Result<Response<Body>, ApiError> {
    let o = operator(state, req, raw).await?;
    let r = o.request(state, id).await?;
    portal_http::json(200, &o.request_body(state, &r).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    body: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

pub(crate) async fn reply(state: &State, req: &Request, raw: &str, id: &str) -> Result<Response<Body>, ApiError> {
    let o = operator(state, req, raw).await?;
    o.request(state, id).await?;
    let b: ReplyBody = small_body(req, false)?.ok_or_else(|| ApiError::malformed_json("a JSON body is required"))?;
    let body = text::message("body", &b.body).map_err(|e| field_errors(vec![e]))?;
    let role = o.role(b.role.as_deref(), "role")?;
    let agent = agent(b.agent.as_deref())?;
    let to = b.status.as_deref().map(|s| status(s, "status")).transpose()?;
    if to == Some(RequestStatus::Completed) {
        return Err(invalid(
            "status",
            "status: complete a request with POST .../status and the booking_version that applied it",
        ));
    }
    let action = Action { message: Some(body), role: role.clone(), status: to, completed_by_version: None };
    let author = Author { by: By::Team, id: role.unwrap_or_default(), agent };
    let author = team_author(author, state, &o, id).await?;
    let acted =
        change::act(&state.store, o.reference(), o.c.version, id, &author, &action, vec![], None, o.now).await?;
    tracing::info!(reference = o.reference(), request = id, principal = %o.principal, moved = acted.moved.is_some(), "team replied");
    mail::to_customer(state, &o.c, &o.roles, &acted, o.now).await;
    portal_http::json(201, &o.request_body(state, &acted.request).await?)
}

/// A team author without a role writes as the request's role.
async fn team_author(mut a: Author, state: &State, o: &Operator, id: &str) -> Result<Author, ApiError> {
    if a.id.is_empty() {
        a.id = o.request(state, id).await?.role;
    }
    Ok(a)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    booking_version: Option<u64>,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    role: Option<String>,
}

pub(crate) async fn set_status(state: &State, req: &Request, raw: &str, id: &str) -> Result<Response<Body>, ApiError> {
    let o = operator(state, req, raw).await?;
    let r = o.request(state, id).await?;
    let b: StatusBody = small_body(req, false)?.ok_or_else(|| ApiError::malformed_json("a JSON body is required"))?;
    let to = status(&b.status, "status")?;
    let message = match b.message.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        None => None,
        Some(m) => Some(text::message("message", m).map_err(|e| field_errors(vec![e]))?),
    };
    let agent = agent(b.agent.as_deref())?;
    let role = o.role(b.role.as_deref(), "role")?;
    let from_status = change::status_of(&r);
    if to != from_status && !from_status.may_become(to, By::Team) {
        return Err(illegal_transition(portal_requests::kind::illegal(from_status, to, By::Team)));
    }
    let mut completed_by_version = None;
    if to == RequestStatus::Completed && change::status_of(&r) != RequestStatus::Completed {
        let from: u64 =
            serde_json::from_str::<Value>(&r.context).ok().and_then(|c| c["booking_version"].as_u64()).unwrap_or(1);
        match b.booking_version {
            None => {
                return Err(invalid(
                    "booking_version",
                    "booking_version: completing a request names the booking version (from your upsert) that applied it",
                ));
            }
            Some(v) if v < from || v > o.c.version => {
                return Err(invalid(
                    "booking_version",
                    format!(
                        "booking_version: a version of this booking from {from} (when the request was made) to {} (now)",
                        o.c.version
                    ),
                ));
            }
            Some(v) => completed_by_version = Some(v),
        }
    } else if b.booking_version.is_some() {
        return Err(invalid("booking_version", "booking_version: only when completing a request"));
    }
    let author = Author { by: By::Team, id: role.clone().unwrap_or_else(|| r.role.clone()), agent };
    let action = Action { message, role, status: Some(to), completed_by_version };
    let acted =
        change::act(&state.store, o.reference(), o.c.version, id, &author, &action, vec![], None, o.now).await?;
    tracing::info!(reference = o.reference(), request = id, principal = %o.principal, status = to.as_str(), moved = acted.moved.is_some(), "request status set");
    mail::to_customer(state, &o.c, &o.roles, &acted, o.now).await;
    portal_http::json(200, &o.request_body(state, &acted.request).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GeneralBody {
    role: String,
    body: String,
    #[serde(default)]
    agent: Option<String>,
}

pub(crate) async fn write_general(state: &State, req: &Request, raw: &str) -> Result<Response<Body>, ApiError> {
    let o = operator(state, req, raw).await?;
    let b: GeneralBody = small_body(req, false)?.ok_or_else(|| ApiError::malformed_json("a JSON body is required"))?;
    let role = o.role(Some(&b.role), "role")?.unwrap_or_default();
    let body = text::message("body", &b.body).map_err(|e| field_errors(vec![e]))?;
    let author = Author { by: By::Team, id: role.clone(), agent: agent(b.agent.as_deref())? };
    let w = change::write_general(
        &state.store,
        o.reference(),
        o.c.version,
        &author,
        &role,
        &body,
        None,
        vec![],
        None,
        o.now,
    )
    .await?;
    tracing::info!(reference = o.reference(), role = %role, principal = %o.principal, "team wrote in the general thread");
    if let Some(m) = &w.message {
        mail::general_to_customer(state, &o.c, &o.roles, w.before.as_ref(), m, o.now).await;
    }
    let v = o.viewer(state);
    let messages = state.store.messages(o.reference(), Some(GENERAL)).await?;
    portal_http::json(
        201,
        &json!({"reference": o.reference(), "messages": messages.iter().map(|m| v.message(m, true)).collect::<Vec<_>>()}),
    )
}

pub(crate) async fn events(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    state.auth.authenticate(req)?;
    let q = req.query_string_parameters_ref();
    let after = q.and_then(|q| q.first("after")).map(str::to_string);
    if let Some(a) = &after
        && (a.len() > 120 || !a.bytes().all(|b| b.is_ascii_alphanumeric() || b"-:.#TZ".contains(&b)))
    {
        return Err(ApiError::bad_request("after must be the `next` cursor of an earlier page").with_field("after"));
    }
    let limit = match q.and_then(|q| q.first("limit")) {
        None => EVENTS_DEFAULT,
        Some(l) => match l.parse::<i32>() {
            Ok(n) if (1..=EVENTS_MAX).contains(&n) => n,
            _ => return Err(ApiError::bad_request("limit must be 1 to 100").with_field("limit")),
        },
    };
    let settled = (state.clock)() - chrono::Duration::seconds(SETTLE_SECONDS);
    let items = state.store.request_events(after.as_deref(), settled, limit).await?;
    let next = items.last().map(|e| e.gsi3sk.clone()).or(after);
    let events: Vec<Value> = items.iter().filter_map(|e| serde_json::from_str(&e.event).ok()).collect();
    portal_http::json(200, &json!({"events": events, "next": next}))
}

//! The operator's routes: full values (the document number in clear), history with values, restore, the
//! event feed and the erasure request's status. Authenticated like every operator route (IAM or key).

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, RequestExt, Response};
use portal_details::events::EventType;
use portal_details::view;
use portal_domain::ids::BookingReference;
use portal_domain::locale::Locale;
use portal_http::ApiError;
use portal_http::session::not_found_booking;
use portal_store::BookingCollection;
use portal_store::details::{Actor, details_items};
use serde_json::{Value, json};

use crate::customer::{history_entry, policy_of, restore_version, stored_progress};
use crate::vault::{details_context, plain};
use crate::{State, change, check_traveller_id, if_match, with_etag};

/// Events younger than this are not served yet: the index is eventually consistent, and a cursor must
/// never move past an event that is about to appear.
pub const SETTLE_SECONDS: i64 = 2;
pub const EVENTS_MAX: i32 = 100;
pub const EVENTS_DEFAULT: i32 = 50;

struct Operator {
    principal: String,
    c: BookingCollection,
    now: DateTime<Utc>,
}

async fn operator(state: &State, req: &Request, raw: &str) -> Result<Operator, ApiError> {
    let principal = state.auth.authenticate(req)?;
    let reference = BookingReference::parse(raw)?;
    let c = state.store.load_booking(reference.as_str()).await?.ok_or_else(not_found_booking)?;
    Ok(Operator { principal, c, now: (state.clock)() })
}

impl Operator {
    fn actor(&self) -> Actor {
        Actor { role: "operator".into(), id: self.principal.clone() }
    }
}

fn traveller_on(c: &BookingCollection, id: &str) -> Result<(), ApiError> {
    check_traveller_id(id)?;
    c.booking.traveller(id).map(|_| ()).ok_or_else(|| ApiError::not_found("no such traveller on this booking"))
}

pub(crate) async fn list(state: &State, req: &Request, raw: &str) -> Result<Response<Body>, ApiError> {
    let o = operator(state, req, raw).await?;
    let policy = policy_of(&state.policies, &o.c);
    let items = details_items(&o.c);
    let reference = o.c.booking.reference.as_str();
    let mut out = Vec::new();
    for t in &o.c.booking.travellers {
        let item = items.iter().find(|d| d.traveller_id == t.id);
        let details = match item {
            Some(i) if i.erased_at.is_none() => Some(view::operator(&state.vault.details(reference, i).await?)),
            _ => None,
        };
        let p = stored_progress(item, t, &policy);
        out.push(json!({
            "traveller_id": t.id, "first_name": t.first_name, "last_name": t.last_name, "email": t.email,
            "operator_date_of_birth": t.date_of_birth,
            "version": item.map_or(0, |i| i.version),
            "details": details,
            "percent": p.percent, "complete": p.complete, "missing": p.missing,
            "updated_at": item.map(|i| i.updated_at),
            "updated_by": item.map(|i| json!({"role": i.updated_by.role, "id": i.updated_by.id})),
            "erased_at": item.and_then(|i| i.erased_at),
            "erasure_request": item.and_then(|i| i.erasure_request.as_ref()),
        }));
    }
    tracing::info!(reference, travellers = out.len(), "operator read traveller details");
    portal_http::json(200, &json!({"reference": reference, "requirements": policy.requirements, "travellers": out}))
}

pub(crate) async fn history(state: &State, req: &Request, raw: &str, id: &str) -> Result<Response<Body>, ApiError> {
    let o = operator(state, req, raw).await?;
    traveller_on(&o.c, id)?;
    let reference = o.c.booking.reference.as_str();
    let mut versions = state.store.details_versions(reference, id).await?;
    versions.reverse();
    let mut out = Vec::new();
    for v in &versions {
        let sensitive = state.vault.open(v.sealed.as_deref(), &details_context(reference, id, v.version)).await?;
        let d = portal_details::TravellerDetails::join(plain(&v.plain)?, sensitive);
        let mut e = history_entry(v);
        e["by"] = json!({"role": v.actor.role, "id": v.actor.id});
        e["details"] = view::operator(&d);
        out.push(e);
    }
    portal_http::json(200, &json!({"traveller_id": id, "versions": out}))
}

pub(crate) async fn restore(
    state: &State,
    req: &Request,
    raw: &str,
    id: &str,
    version: &str,
) -> Result<Response<Body>, ApiError> {
    let o = operator(state, req, raw).await?;
    traveller_on(&o.c, id)?;
    let expected = if_match(req)?;
    let policy = policy_of(&state.policies, &o.c);
    let locale = Locale::parse(&o.c.booking.locale).unwrap_or(Locale::EnGb);
    let (saved, restored) =
        restore_version(state, &o.c, &policy, id, version, expected, o.actor(), locale, o.now).await?;
    let body = json!({"traveller_id": id, "version": saved.version, "details": view::operator(&restored)});
    with_etag(200, &body, saved.version)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ErasureUpdate {
    status: String,
    #[serde(default)]
    note: Option<String>,
}

/// Which status may follow which (`completed` and `declined` are final).
pub fn erasure_transition_allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("submitted", "in_review" | "completed" | "declined") | ("in_review", "completed" | "declined")
    )
}

pub(crate) async fn update_erasure(
    state: &State,
    req: &Request,
    raw: &str,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let o = operator(state, req, raw).await?;
    traveller_on(&o.c, id)?;
    let body: ErasureUpdate = portal_http::json_body(req)?;
    if !matches!(body.status.as_str(), "in_review" | "completed" | "declined") {
        return Err(ApiError::validation("status", "status: must be in_review, completed or declined"));
    }
    if body.note.as_ref().is_some_and(|n| n.chars().count() > crate::customer::ERASURE_NOTE_MAX) {
        return Err(ApiError::validation("note", "note: at most 1000 characters"));
    }
    let item = details_items(&o.c).into_iter().find(|d| d.traveller_id == id);
    let Some(mut request) = item.as_ref().and_then(|i| i.erasure_request.clone()) else {
        return Err(ApiError::not_found("this traveller has not asked for erasure"));
    };
    if !erasure_transition_allowed(&request.status, &body.status) {
        return Err(ApiError::conflict(format!(
            "the erasure request is {}; it cannot become {}",
            request.status, body.status
        )));
    }
    request.status = body.status.clone();
    request.updated_at = o.now;
    request.operator_note = body.note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    let recorded = change::record_erasure_request(
        &state.store,
        &o.c.booking,
        id,
        item.as_ref(),
        request.clone(),
        o.actor(),
        EventType::ErasureUpdated,
        o.now,
    )
    .await?;
    if request.status == "completed" {
        change::erase(&state.store, &o.c.booking, &recorded, o.actor(), "request", o.now).await?;
        if let Some(email) = o.c.booking.traveller(id).and_then(|t| t.email.as_deref()) {
            state.store.delete_profile(email, &o.c.booking.brand).await?;
        }
    }
    tracing::info!(reference = %o.c.booking.reference, traveller = id, status = %request.status, "erasure request updated");
    portal_http::json(200, &request)
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
    let items = state.store.traveller_events(after.as_deref(), settled, limit).await?;
    let next = items.last().map(|e| e.gsi3sk.clone()).or(after);
    let events: Vec<Value> = items.iter().filter_map(|e| serde_json::from_str(&e.event).ok()).collect();
    portal_http::json(200, &json!({"events": events, "next": next}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erasure_requests_move_forward_only() {
        assert!(erasure_transition_allowed("submitted", "in_review"));
        assert!(erasure_transition_allowed("in_review", "completed"));
        assert!(!erasure_transition_allowed("completed", "in_review"));
        assert!(!erasure_transition_allowed("declined", "completed"));
        assert!(!erasure_transition_allowed("in_review", "submitted"));
    }
}

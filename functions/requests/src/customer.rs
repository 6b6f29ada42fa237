//! The customer's routes. Every one: the session and its booking, then (for one request) a request in the
//! session's reach: the lead sees every request of the booking, another traveller the ones they submitted
//! (anyone else's answers 404, like an unknown id).

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use portal_domain::ids::BookingReference;
use portal_domain::ledger::Totals;
use portal_domain::locale::Locale;
use portal_domain::money::Money;
use portal_domain::overview::MoneyView;
use portal_http::customer::{authorised_booking, refreshed_cookie};
use portal_http::session::Session;
use portal_http::{ApiError, header};
use portal_requests::caps::Counted;
use portal_requests::fields::{self, Asker, Refusal};
use portal_requests::kind::{By, RequestStatus, RequestType};
use portal_requests::roles::BrandRequests;
use portal_requests::text::{self, MESSAGE_MAX_CHARS};
use portal_store::BookingCollection;
use portal_store::requests::*;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::change::{self, Action, Author, NewRequest, caps_for};
use crate::mail::{self, Notice};
use crate::view::Viewer;
use crate::{State, check_request_id, field_errors, idempotency_key, small_body};

pub(crate) struct Signed {
    pub session: Session,
    pub c: BookingCollection,
    pub locale: Locale,
    pub now: DateTime<Utc>,
    pub roles: BrandRequests,
}

pub(crate) async fn signed(state: &State, req: &Request, raw: &str) -> Result<Signed, ApiError> {
    let reference = BookingReference::parse(raw)?;
    let now = (state.clock)();
    let (session, c) = authorised_booking(&state.store, &state.sessions, req, &reference, now.timestamp()).await?;
    let fallback = Locale::parse(&c.booking.locale).unwrap_or(Locale::EnGb);
    let locale = Locale::negotiate(header(req, "accept-language"), fallback);
    let roles = state.roles.brand(&c.booking.brand).into_owned();
    Ok(Signed { session, c, locale, now, roles })
}

impl Signed {
    pub fn viewer<'a>(&'a self, state: &'a State) -> Viewer<'a> {
        Viewer {
            booking: &self.c.booking,
            roles: &self.roles,
            locale: self.locale,
            traveller_id: Some(&self.session.traveller_id),
            is_lead: self.session.is_lead,
            brand_name: &state.brands.get(&self.c.booking.brand).name,
        }
    }

    fn asker(&self) -> Asker<'_> {
        Asker { traveller_id: &self.session.traveller_id, is_lead: self.session.is_lead }
    }

    fn may_see(&self, r: &RequestItem) -> bool {
        self.session.is_lead || r.submitted_by == self.session.traveller_id
    }

    fn reference(&self) -> &str {
        self.c.booking.reference.as_str()
    }

    fn author(&self) -> Author {
        Author { by: By::Customer, id: self.session.traveller_id.clone(), agent: None }
    }

    /// Answer with the refreshed session cookie (the inactivity timeout slides).
    fn respond(&self, state: &State, status: u16, body: &Value) -> Result<Response<Body>, ApiError> {
        let mut r = portal_http::json(status, body)?;
        if let Some(cookie) = refreshed_cookie(&state.sessions, &self.session, self.now.timestamp())
            && let Ok(v) = cookie.parse()
        {
            r.headers_mut().insert("set-cookie", v);
        }
        Ok(r)
    }

    /// One request in this session's reach, as it is now.
    async fn request(&self, state: &State, id: &str) -> Result<RequestItem, ApiError> {
        check_request_id(id)?;
        match state.store.request_item(self.reference(), id).await? {
            Some(r) if self.may_see(&r) => Ok(r),
            _ => Err(ApiError::not_found("no such request on this booking")),
        }
    }

    async fn request_body(&self, state: &State, r: &RequestItem) -> Result<Value, ApiError> {
        let messages = state.store.messages(self.reference(), Some(&r.request_id)).await?;
        Ok(self.viewer(state).request(r, &messages))
    }
}

/// The context the agent needs, copied at submission: amounts as decimal strings (shown in the reader's
/// locale).
fn context(c: &BookingCollection) -> Value {
    let cur = c.booking.currency;
    let totals = Totals::of(cur, &c.movements).ok();
    let amount =
        |f: fn(&Totals) -> Option<Money>| totals.as_ref().and_then(f).unwrap_or(Money::zero(cur)).to_decimal_string();
    json!({
        "booking_version": c.version,
        "booking_status": c.booking.status,
        "travel_start": c.booking.travel_start, "travel_end": c.booking.travel_end,
        "currency": cur.code(),
        "total": amount(|t| t.total_price().ok()),
        "paid": amount(|t| t.paid().ok()),
        "outstanding": amount(|t| t.balance().ok()),
    })
}

/// The stored context with amounts as `MoneyView`s in `locale`.
pub(crate) fn context_view(stored: &str, locale: Locale) -> Value {
    let mut v: Value = serde_json::from_str(stored).unwrap_or(json!({}));
    let cur = v["currency"].as_str().and_then(|c| portal_domain::money::Currency::parse(c).ok());
    if let (Some(cur), Some(obj)) = (cur, v.as_object_mut()) {
        for k in ["total", "paid", "outstanding"] {
            if let Some(m) = obj.get(k).and_then(Value::as_str).and_then(|a| Money::parse(a, cur).ok()) {
                obj.insert(k.into(), json!(MoneyView::new(m, locale)));
            }
        }
        obj.remove("currency");
    }
    v
}

// ---------------------------------------------------------------------------------------------------------
// GET /bookings/{reference}/requests

pub(crate) async fn list(state: &State, req: &Request, raw: &str) -> Result<Response<Body>, ApiError> {
    let s = signed(state, req, raw).await?;
    let v = s.viewer(state);
    let mut requests: Vec<RequestItem> = request_items(&s.c).into_iter().filter(|r| s.may_see(r)).collect();
    requests.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.request_id.cmp(&a.request_id)));
    let choices = fields::choices(&s.c.booking, s.asker());
    let body = json!({
        "reference": s.reference(),
        "requests": requests.iter().map(|r| v.request(r, &[])).collect::<Vec<_>>(),
        "choices": {
            "types": choices.types.iter().map(|(t, ok)| json!({"type": t, "allowed": ok})).collect::<Vec<_>>(),
            "travellers": choices.travellers.iter().map(|t| v.member(t)).collect::<Vec<_>>(),
            "services": choices.services,
            "today": s.now.date_naive(),
            "travel_start": s.c.booking.travel_start, "travel_end": s.c.booking.travel_end,
            "is_lead": s.session.is_lead,
        },
        "roles": s.roles.general_roles().map(|r| json!({"id": r.id, "name": r.name(s.locale)})).collect::<Vec<_>>(),
        "limits": {"message_max_chars": MESSAGE_MAX_CHARS},
    });
    s.respond(state, 200, &body)
}

// ---------------------------------------------------------------------------------------------------------
// POST /bookings/{reference}/requests

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRequestBody {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    fields: Value,
    #[serde(default)]
    message: Option<String>,
}

pub(crate) async fn submit(state: &State, req: &Request, raw: &str) -> Result<Response<Body>, ApiError> {
    let s = signed(state, req, raw).await?;
    let key = idempotency_key(req)?;
    let body: NewRequestBody =
        small_body(req, false)?.ok_or_else(|| ApiError::malformed_json("a JSON body is required"))?;
    let Some(kind) = RequestType::parse(&body.kind) else {
        let all: Vec<&str> = RequestType::ALL.iter().map(|t| t.as_str()).collect();
        return Err(field_errors(vec![portal_requests::FieldError {
            field: "type".into(),
            detail: format!("type: one of {}", all.join(", ")),
        }]));
    };
    let idem_sk = key.as_ref().map(|k| idempotency_sk(&s.session.traveller_id, "request", k));
    // A replay answers the first result before anything is checked again (the booking may have moved on).
    if let Some(sk) = &idem_sk
        && let Some(first) = state.store.idempotency_record(s.reference(), sk).await?
        && let Some(r) = state.store.request_item(s.reference(), &first.made).await?
    {
        let b = s.request_body(state, &r).await?;
        return s.respond(state, 200, &b);
    }
    let v = match fields::validate(
        kind,
        &body.fields,
        body.message.as_deref(),
        &s.c.booking,
        s.asker(),
        s.now.date_naive(),
    ) {
        Ok(v) => v,
        Err(Refusal::Invalid(e)) => return Err(field_errors(e)),
        Err(Refusal::Forbidden(d)) => return Err(ApiError::forbidden(d)),
        Err(Refusal::BookingCancelled) => {
            return Err(ApiError::client(
                409,
                "booking-cancelled",
                "Booking cancelled",
                "the booking is cancelled: only questions (type other) can still be sent",
            ));
        }
    };
    let id = match &key {
        // The same key makes the same id, so two racing first calls make one request.
        Some(k) => {
            let h = idempotency_sk(&s.session.traveller_id, "request-id", k);
            format!("rq_{}", &h[h.len() - 20..])
        }
        None => format!("rq_{}", &uuid::Uuid::new_v4().simple().to_string()[..20]),
    };
    let role = s.roles.role_for(kind).id.clone();
    let author = s.author();
    let message = v.message.clone().map(|m| change::message_item(s.reference(), &id, 1, &author, None, m, s.now));
    let item = RequestItem {
        pk: portal_store::keys::booking_pk(s.reference()),
        sk: request_sk(&id),
        entity: ENTITY_REQUEST.into(),
        request_id: id.clone(),
        kind: kind.as_str().into(),
        status: RequestStatus::Submitted.as_str().into(),
        fields: v.fields.to_string(),
        about: v.about.clone(),
        service_id: v.service_id.clone(),
        submitted_by: s.session.traveller_id.clone(),
        notify_email: s.session.email.clone(),
        role,
        context: context(&s.c).to_string(),
        created_at: s.now,
        updated_at: s.now,
        history: vec![Transition {
            status: RequestStatus::Submitted.as_str().into(),
            at: s.now,
            by: "customer".into(),
            by_id: s.session.traveller_id.clone(),
            agent: None,
        }],
        message_count: u32::from(message.is_some()),
        completed_by_version: None,
        revision: 1,
    };
    let n = NewRequest {
        item,
        message,
        idempotency: idem_sk.map(|sk| change::idempotency_marker(s.reference(), sk, id.clone(), s.now)),
        caps: caps_for(&state.limits, Counted::Requests, s.reference(), &s.session.email, s.now),
    };
    let created = change::submit(&state.store, &n, s.c.version, Counted::Requests, s.now).await?;
    let r = if created {
        n.item.clone()
    } else {
        state.store.request_item(s.reference(), &id).await?.ok_or_else(|| {
            ApiError::conflict("this Idempotency-Key was used for a request that no longer exists; use a new key")
        })?
    };
    if created {
        tracing::info!(reference = s.reference(), request = %id, kind = kind.as_str(), "request submitted");
        mail::to_team(state, &s.c.booking, &s.roles, &r, Notice::Submitted, n.message.as_ref(), s.now).await;
    }
    let b = s.request_body(state, &r).await?;
    s.respond(state, if created { 201 } else { 200 }, &b)
}

// ---------------------------------------------------------------------------------------------------------
// GET /bookings/{reference}/requests/{id}

pub(crate) async fn get(state: &State, req: &Request, raw: &str, id: &str) -> Result<Response<Body>, ApiError> {
    let s = signed(state, req, raw).await?;
    let r = s.request(state, id).await?;
    let b = s.request_body(state, &r).await?;
    s.respond(state, 200, &b)
}

// ---------------------------------------------------------------------------------------------------------
// POST /bookings/{reference}/requests/{id}/messages

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    body: String,
}

pub(crate) async fn write(state: &State, req: &Request, raw: &str, id: &str) -> Result<Response<Body>, ApiError> {
    let s = signed(state, req, raw).await?;
    let r = s.request(state, id).await?;
    let key = idempotency_key(req)?;
    let m: MessageBody = small_body(req, false)?.ok_or_else(|| ApiError::malformed_json("a JSON body is required"))?;
    let body = text::message("body", &m.body).map_err(|e| field_errors(vec![e]))?;
    if change::status_of(&r).is_closed() {
        return Err(crate::request_closed());
    }
    let action = Action { message: Some(body), ..Action::default() };
    let acted = change::act(
        &state.store,
        s.reference(),
        s.c.version,
        id,
        &s.author(),
        &action,
        caps_for(&state.limits, Counted::Messages, s.reference(), &s.session.email, s.now),
        key.map(|k| idempotency_sk(&s.session.traveller_id, &format!("message#{id}"), &k)),
        s.now,
    )
    .await?;
    if !acted.replay {
        tracing::info!(reference = s.reference(), request = id, "customer wrote on a request");
        mail::to_team(
            state,
            &s.c.booking,
            &s.roles,
            &acted.request,
            Notice::CustomerMessage,
            acted.message.as_ref(),
            s.now,
        )
        .await;
    }
    let b = s.request_body(state, &acted.request).await?;
    s.respond(state, if acted.replay { 200 } else { 201 }, &b)
}

// ---------------------------------------------------------------------------------------------------------
// POST /bookings/{reference}/requests/{id}/withdraw

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WithdrawBody {
    #[serde(default)]
    reason: Option<String>,
}

pub(crate) async fn withdraw(state: &State, req: &Request, raw: &str, id: &str) -> Result<Response<Body>, ApiError> {
    let s = signed(state, req, raw).await?;
    let r = s.request(state, id).await?;
    let b: WithdrawBody = small_body(req, true)?.unwrap_or_default();
    let reason = match b.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => Some(text::message("reason", r).map_err(|e| field_errors(vec![e]))?),
    };
    let status = change::status_of(&r);
    if status == RequestStatus::Withdrawn {
        let b = s.request_body(state, &r).await?;
        return s.respond(state, 200, &b);
    }
    let action = Action { message: reason, status: Some(RequestStatus::Withdrawn), ..Action::default() };
    // A withdrawal's reason is not capped: it closes the conversation.
    let acted =
        change::act(&state.store, s.reference(), s.c.version, id, &s.author(), &action, vec![], None, s.now).await?;
    if acted.moved.is_some() {
        tracing::info!(reference = s.reference(), request = id, "request withdrawn");
        mail::to_team(state, &s.c.booking, &s.roles, &acted.request, Notice::Withdrawn, acted.message.as_ref(), s.now)
            .await;
    }
    let b = s.request_body(state, &acted.request).await?;
    s.respond(state, 200, &b)
}

// ---------------------------------------------------------------------------------------------------------
// GET, POST /bookings/{reference}/messages

async fn general_body(state: &State, s: &Signed) -> Result<Value, ApiError> {
    let v = s.viewer(state);
    let messages = state.store.messages(s.reference(), Some(GENERAL)).await?;
    Ok(json!({
        "reference": s.reference(),
        "roles": s.roles.general_roles().map(|r| json!({"id": r.id, "name": r.name(s.locale)})).collect::<Vec<_>>(),
        "messages": messages.iter().map(|m| v.message(m, true)).collect::<Vec<_>>(),
        "limits": {"message_max_chars": MESSAGE_MAX_CHARS},
    }))
}

pub(crate) async fn general(state: &State, req: &Request, raw: &str) -> Result<Response<Body>, ApiError> {
    let s = signed(state, req, raw).await?;
    let b = general_body(state, &s).await?;
    s.respond(state, 200, &b)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GeneralBody {
    role: String,
    body: String,
}

pub(crate) async fn write_general(state: &State, req: &Request, raw: &str) -> Result<Response<Body>, ApiError> {
    let s = signed(state, req, raw).await?;
    let key = idempotency_key(req)?;
    let g: GeneralBody = small_body(req, false)?.ok_or_else(|| ApiError::malformed_json("a JSON body is required"))?;
    let mut errors = Vec::new();
    if !s.roles.general_roles().any(|r| r.id == g.role) {
        let ids: Vec<&str> = s.roles.general_roles().map(|r| r.id.as_str()).collect();
        errors.push(portal_requests::FieldError {
            field: "role".into(),
            detail: format!("role: one of {}", ids.join(", ")),
        });
    }
    let body = text::message("body", &g.body).map_err(|e| errors.push(e)).ok();
    let Some(body) = body.filter(|_| errors.is_empty()) else { return Err(field_errors(errors)) };
    let w = change::write_general(
        &state.store,
        s.reference(),
        s.c.version,
        &s.author(),
        &g.role,
        &body,
        Some(&s.session.email),
        caps_for(&state.limits, Counted::Messages, s.reference(), &s.session.email, s.now),
        key.map(|k| idempotency_sk(&s.session.traveller_id, "message#general", &k)),
        s.now,
    )
    .await?;
    if let Some(m) = &w.message {
        tracing::info!(reference = s.reference(), role = %g.role, "customer wrote to the team");
        mail::general_to_team(state, &s.c.booking, &s.roles, &g.role, m, s.now).await;
    }
    let b = general_body(state, &s).await?;
    s.respond(state, if w.replay { 200 } else { 201 }, &b)
}

// ---------------------------------------------------------------------------------------------------------
// GET, PUT /bookings/{reference}/communication-preferences

pub(crate) async fn preferences(state: &State, req: &Request, raw: &str) -> Result<Response<Body>, ApiError> {
    let s = signed(state, req, raw).await?;
    let p = preferences_item(&s.c, &s.session.traveller_id);
    // No item yet: every preference at its default, on.
    s.respond(
        state,
        200,
        &json!({
            "optional_updates_by_email": p.as_ref().is_none_or(|p| p.optional_updates_by_email),
            "booking_updates": p.as_ref().is_none_or(|p| p.booking_updates),
            "payment_reminders": p.as_ref().is_none_or(|p| p.payment_reminders),
        }),
    )
}

/// Any of the three preferences; at least one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreferencesBody {
    optional_updates_by_email: Option<bool>,
    booking_updates: Option<bool>,
    payment_reminders: Option<bool>,
}

pub(crate) async fn set_preferences(state: &State, req: &Request, raw: &str) -> Result<Response<Body>, ApiError> {
    let s = signed(state, req, raw).await?;
    let p: PreferencesBody =
        small_body(req, false)?.ok_or_else(|| ApiError::malformed_json("a JSON body is required"))?;
    let set: Vec<(&str, bool)> = [
        ("optional_updates_by_email", p.optional_updates_by_email),
        ("booking_updates", p.booking_updates),
        ("payment_reminders", p.payment_reminders),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    if set.is_empty() {
        return Err(ApiError::validation(
            "optional_updates_by_email",
            "name at least one of optional_updates_by_email, booking_updates, payment_reminders",
        ));
    }
    let now = state.store.update_preferences(s.reference(), &s.session.traveller_id, &set, s.now).await?;
    tracing::info!(reference = s.reference(), changed = ?set, "communication preferences saved");
    s.respond(
        state,
        200,
        &json!({
            "optional_updates_by_email": now.optional_updates_by_email,
            "booking_updates": now.booking_updates,
            "payment_reminders": now.payment_reminders,
        }),
    )
}

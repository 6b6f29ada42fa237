//! The customer's routes (and what the `details-export` function shares with them). Every one: the session and its booking ([`authorised_booking`]), then the
//! traveller in the session's reach (the lead: the party; anyone else: themself; else 404).

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use portal_details::consent::{self, Channel};
use portal_details::model::DetailsInput;
use portal_details::policy::BrandPolicies;
use portal_details::validate::{self, Context};
use portal_details::{TravellerDetails, progress, view};
use portal_domain::booking::Traveller;
use portal_domain::details_policy::EffectivePolicy;
use portal_domain::ids::BookingReference;
use portal_domain::locale::Locale;
use portal_http::customer::{authorised_booking, refreshed_cookie};
use portal_http::session::Session;
use portal_http::{ApiError, FieldProblem, header};
use portal_store::BookingCollection;
use portal_store::details::{Actor, DetailsItem, ErasureRequest, details_items};
use serde_json::{Value, json};

use crate::change::{self, Save};
use crate::vault::{plain, profile_context};
use crate::{MAX_FORM_BYTES, State, check_traveller_id, if_match, parse_version, with_etag};

/// A signed-in customer and the booking they are looking at.
pub struct Signed {
    pub session: Session,
    pub c: BookingCollection,
    pub policy: EffectivePolicy,
    pub locale: Locale,
    pub now: DateTime<Utc>,
}

pub async fn signed(state: &State, req: &Request, raw: &str) -> Result<Signed, ApiError> {
    let reference = BookingReference::parse(raw)?;
    let now = (state.clock)();
    let (session, c) = authorised_booking(&state.store, &state.sessions, req, &reference, now.timestamp()).await?;
    let policy = policy_of(&state.policies, &c);
    let fallback = Locale::parse(&c.booking.locale).unwrap_or(Locale::EnGb);
    let locale = Locale::negotiate(header(req, "accept-language"), fallback);
    Ok(Signed { session, c, policy, locale, now })
}

pub(crate) fn policy_of(policies: &BrandPolicies, c: &BookingCollection) -> EffectivePolicy {
    policies.for_booking(&c.booking)
}

fn not_found() -> ApiError {
    ApiError::not_found("no such traveller on this booking")
}

impl Signed {
    /// The traveller `id` if this session may see and change their details.
    pub fn reach(&self, id: &str) -> Result<&Traveller, ApiError> {
        check_traveller_id(id)?;
        let t = self.c.booking.traveller(id).ok_or_else(not_found)?;
        if self.session.is_lead || self.session.traveller_id == id { Ok(t) } else { Err(not_found()) }
    }

    pub fn item(&self, id: &str) -> Option<DetailsItem> {
        details_items(&self.c).into_iter().find(|d| d.traveller_id == id)
    }

    fn visible(&self) -> Vec<&Traveller> {
        self.c.booking.travellers.iter().filter(|t| self.session.is_lead || t.id == self.session.traveller_id).collect()
    }

    /// Answer with the refreshed session cookie (the inactivity timeout slides).
    pub fn respond(&self, state: &State, mut r: Response<Body>) -> Response<Body> {
        if let Some(cookie) = refreshed_cookie(&state.sessions, &self.session, self.now.timestamp())
            && let Ok(v) = cookie.parse()
        {
            r.headers_mut().insert("set-cookie", v);
        }
        r
    }

    fn actor(&self) -> Actor {
        Actor { role: "customer".into(), id: self.session.traveller_id.clone() }
    }
}

pub(crate) fn stored_progress(
    item: Option<&DetailsItem>,
    t: &Traveller,
    policy: &EffectivePolicy,
) -> progress::Progress {
    let erased = item.is_some_and(|i| i.erased_at.is_some());
    let plain_part = item.and_then(|i| plain(&i.plain).ok());
    let present = item.map(|i| i.present.clone()).unwrap_or_default();
    progress::of_stored(plain_part, &present, t.date_of_birth.is_some() && !erased, &policy.requirements)
}

fn erasure_view(r: Option<&ErasureRequest>) -> Value {
    match r {
        None => Value::Null,
        Some(r) => json!({
            "request_id": r.request_id, "status": r.status, "requested_at": r.requested_at,
            "updated_at": r.updated_at, "note": r.note, "operator_note": r.operator_note,
        }),
    }
}

// ---------------------------------------------------------------------------------------------------------
// GET /bookings/{reference}/traveller-details

pub(crate) async fn list(state: &State, req: &Request, raw: &str) -> Result<Response<Body>, ApiError> {
    let s = signed(state, req, raw).await?;
    let items = details_items(&s.c);
    let mut travellers = Vec::new();
    let (mut done, mut all) = (0usize, 0usize);
    for t in s.visible() {
        let item = items.iter().find(|d| d.traveller_id == t.id);
        let p = stored_progress(item, t, &s.policy);
        done += p.complete.len();
        all += p.complete.len() + p.missing.len();
        travellers.push(json!({
            "traveller_id": t.id, "first_name": t.first_name, "last_name": t.last_name,
            "is_lead": t.id == s.c.booking.lead_traveller_id, "is_you": t.id == s.session.traveller_id,
            "version": item.map_or(0, |i| i.version), "percent": p.percent,
            "complete": p.complete, "missing": p.missing,
        }));
    }
    let percent = (done * 100).checked_div(all).map_or(100, |p| p as u8);
    let (me_id, me_text) = consent::wording(Channel::MarketingEmail, s.locale);
    let (sms_id, sms_text) = consent::wording(Channel::Sms, s.locale);
    let body = json!({
        "reference": s.c.booking.reference.as_str(),
        "travel_end": s.c.booking.travel_end,
        "requirements": s.policy.requirements,
        "percent": percent,
        "travellers": travellers,
        "consent": {
            "marketing_email": {"wording_id": me_id, "text": me_text},
            "sms": {"wording_id": sms_id, "text": sms_text},
        },
    });
    Ok(s.respond(state, portal_http::json(200, &body)?))
}

// ---------------------------------------------------------------------------------------------------------
// GET /bookings/{reference}/traveller-details/{traveller_id}

/// The stored details, decrypted (an erased or absent item: nothing), with the operator's date of birth
/// where the customer has not entered one.
pub async fn current(
    state: &State,
    s: &Signed,
    t: &Traveller,
    item: Option<&DetailsItem>,
) -> Result<TravellerDetails, ApiError> {
    let mut d = match item {
        Some(i) if i.erased_at.is_none() => state.vault.details(s.c.booking.reference.as_str(), i).await?,
        _ => TravellerDetails::default(),
    };
    if d.date_of_birth.is_none() && item.is_none_or(|i| i.erased_at.is_none()) {
        d.date_of_birth = t.date_of_birth;
    }
    Ok(d)
}

async fn details_body(
    state: &State,
    s: &Signed,
    t: &Traveller,
    item: Option<&DetailsItem>,
    d: &TravellerDetails,
) -> Result<Value, ApiError> {
    let p = stored_progress(item, t, &s.policy);
    let suggestion = if item.is_none_or(|i| i.version == 0) && s.session.traveller_id == t.id {
        suggestion(state, s).await
    } else {
        Value::Null
    };
    Ok(json!({
        "traveller_id": t.id, "first_name": t.first_name, "last_name": t.last_name,
        "version": item.map_or(0, |i| i.version),
        "details": view::customer(d),
        "percent": p.percent, "complete": p.complete, "missing": p.missing,
        "updated_at": item.filter(|i| i.version > 0).map(|i| i.updated_at),
        "updated_by": item.filter(|i| i.version > 0).map(|i| i.updated_by.role.clone()),
        "erased_at": item.and_then(|i| i.erased_at),
        "suggestion": suggestion,
        "erasure_request": erasure_view(item.and_then(|i| i.erasure_request.as_ref())),
    }))
}

/// The signed-in traveller's profile from an earlier booking of this brand, masked, to offer (never to copy).
/// A profile that cannot be read is simply not offered.
async fn suggestion(state: &State, s: &Signed) -> Value {
    let Some(d) = profile_details(state, s).await else { return Value::Null };
    json!({"from_reference": d.0, "saved_at": d.1, "details": view::customer(&d.2)})
}

async fn profile_details(state: &State, s: &Signed) -> Option<(String, DateTime<Utc>, TravellerDetails)> {
    if s.session.email.is_empty() {
        return None;
    }
    let brand = &s.c.booking.brand;
    let p = match state.store.profile(&s.session.email, brand, s.now).await {
        Ok(p) => p?,
        Err(e) => {
            tracing::warn!(error = %e, "profile not read");
            return None;
        }
    };
    if p.from_reference == s.c.booking.reference.as_str() {
        return None;
    }
    let plain_part = plain(&p.plain).ok()?;
    match state.vault.open(p.sealed.as_deref(), &profile_context(brand, &p.pk)).await {
        Ok(sensitive) => Some((p.from_reference, p.saved_at, TravellerDetails::join(plain_part, sensitive))),
        Err(e) => {
            tracing::warn!(error = %e, "profile not opened");
            None
        }
    }
}

pub(crate) async fn get(state: &State, req: &Request, raw: &str, id: &str) -> Result<Response<Body>, ApiError> {
    let s = signed(state, req, raw).await?;
    let t = s.reach(id)?;
    let item = s.item(id);
    let d = current(state, &s, t, item.as_ref()).await?;
    let body = details_body(state, &s, t, item.as_ref(), &d).await?;
    Ok(s.respond(state, with_etag(200, &body, item.map_or(0, |i| i.version))?))
}

// ---------------------------------------------------------------------------------------------------------
// PUT /bookings/{reference}/traveller-details/{traveller_id}

/// The form: [`DetailsInput`] plus `use_profile_document`. Unknown fields are refused (400), bad shapes
/// name their field (422).
fn form(req: &Request) -> Result<(DetailsInput, bool), ApiError> {
    if portal_http::request::body_bytes(req).len() > MAX_FORM_BYTES {
        return Err(ApiError::payload_too_large(MAX_FORM_BYTES));
    }
    let mut v: Value = portal_http::json_body(req)?;
    let Some(obj) = v.as_object_mut() else {
        return Err(ApiError::validation("", "the body must be a JSON object (the traveller's form)"));
    };
    let use_profile = match obj.remove("use_profile_document") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => {
            return Err(ApiError::validation("use_profile_document", "use_profile_document: must be true or false"));
        }
    };
    let input = input_from(v)?;
    Ok((input, use_profile))
}

pub(crate) fn input_from(v: Value) -> Result<DetailsInput, ApiError> {
    serde_path_to_error::deserialize::<_, DetailsInput>(v).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        if msg.starts_with("unknown field") {
            return ApiError::bad_request(format!("{msg} (at {path})")).with_field(path);
        }
        let field = if path == "." { String::new() } else { path };
        // Like the form's own checks: one `errors` entry, so a page has one way to read a 422.
        ApiError::validation_errors(vec![FieldProblem { detail: format!("{field}: {msg}"), field }])
    })
}

pub(crate) fn field_errors(errors: Vec<validate::FieldError>) -> ApiError {
    ApiError::validation_errors(errors.into_iter().map(|e| FieldProblem { field: e.field, detail: e.detail }).collect())
}

pub(crate) async fn put(state: &State, req: &Request, raw: &str, id: &str) -> Result<Response<Body>, ApiError> {
    let s = signed(state, req, raw).await?;
    let t = s.reach(id)?;
    let expected = if_match(req)?;
    let (input, use_profile) = form(req)?;
    let item = s.item(id);
    if item.as_ref().map_or(0, |i| i.version) != expected {
        return Err(change::conflict(portal_store::StoreError::Conflict("version".into())));
    }
    let before_details = match &item {
        Some(i) if i.erased_at.is_none() => Some(state.vault.details(s.c.booking.reference.as_str(), i).await?),
        _ => None,
    };
    let mut existing = before_details.clone();
    if use_profile {
        let own = s.session.traveller_id == id;
        let profile = if own { Box::pin(profile_details(state, &s)).await } else { None };
        let Some((_, _, p)) = profile else {
            return Err(ApiError::validation(
                "use_profile_document",
                "use_profile_document: there is no saved profile document to use for this traveller",
            ));
        };
        let mut e = existing.take().unwrap_or_default();
        e.travel_document = p.travel_document;
        existing = Some(e);
    }
    let ctx = Context {
        requirements: &s.policy.requirements,
        travel_end: s.c.booking.travel_end,
        today: s.now.date_naive(),
        now: s.now,
        locale: s.locale,
        existing: existing.as_ref(),
    };
    let validated = validate::validate(input, &ctx).map_err(field_errors)?;
    let before_details = before_details.unwrap_or_default();
    let own = s.session.traveller_id == id && !s.session.email.is_empty();
    let save = Save {
        booking: &s.c.booking,
        retention_days: s.policy.retention_days_after_travel,
        traveller_id: id,
        before: item.as_ref().map(|i| (i, &before_details)),
        actor: s.actor(),
        restored_from: None,
        profile_email: own.then_some(s.session.email.as_str()),
        now: s.now,
    };
    let (saved, _) = Box::pin(change::save(&state.store, &state.vault, save, &validated.details)).await?;
    let mut body = details_body(state, &s, t, Some(&saved), &validated.details).await?;
    body["warnings"] = serde_json::to_value(&validated.warnings).unwrap_or_default();
    Ok(s.respond(state, with_etag(200, &body, saved.version)?))
}

// ---------------------------------------------------------------------------------------------------------
// History and restore

pub fn history_entry(v: &portal_store::details::DetailsVersionItem) -> Value {
    json!({
        "version": v.version, "at": v.at, "by": v.actor.role, "restored_from": v.restored_from,
        "changes": serde_json::from_str::<Value>(&v.changes).unwrap_or(Value::Array(Vec::new())),
    })
}

pub(crate) async fn history(state: &State, req: &Request, raw: &str, id: &str) -> Result<Response<Body>, ApiError> {
    let s = signed(state, req, raw).await?;
    s.reach(id)?;
    let mut versions = state.store.details_versions(s.c.booking.reference.as_str(), id).await?;
    versions.reverse();
    let body = json!({"traveller_id": id, "versions": versions.iter().map(history_entry).collect::<Vec<_>>()});
    Ok(s.respond(state, portal_http::json(200, &body)?))
}

/// A stored version's values as a form, re-validated against today's rule (consents keep their record).
pub(crate) fn revalidate(
    d: &TravellerDetails,
    s_policy: &EffectivePolicy,
    booking: &portal_domain::booking::Booking,
    now: DateTime<Utc>,
    locale: Locale,
) -> Result<TravellerDetails, ApiError> {
    let mut v = view::operator(d);
    v["preferences"] = json!({
        "marketing_email": d.preferences.marketing_email.is_some(), "sms": d.preferences.sms.is_some(),
    });
    let input = input_from(v)?;
    let ctx = Context {
        requirements: &s_policy.requirements,
        travel_end: booking.travel_end,
        today: now.date_naive(),
        now,
        locale,
        existing: Some(d),
    };
    Ok(validate::validate(input, &ctx).map_err(field_errors)?.details)
}

/// Restore version `v` of a traveller as a new version (shared with the operator's route).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn restore_version(
    state: &State,
    c: &BookingCollection,
    policy: &EffectivePolicy,
    id: &str,
    raw_version: &str,
    expected: u32,
    actor: Actor,
    locale: Locale,
    now: DateTime<Utc>,
) -> Result<(DetailsItem, TravellerDetails), ApiError> {
    let wanted = parse_version(raw_version)?;
    let reference = c.booking.reference.as_str();
    let item = details_items(c).into_iter().find(|d| d.traveller_id == id);
    if item.as_ref().map_or(0, |i| i.version) != expected {
        return Err(change::conflict(portal_store::StoreError::Conflict("version".into())));
    }
    let versions = state.store.details_versions(reference, id).await?;
    let v = versions
        .iter()
        .find(|v| v.version == wanted)
        .ok_or_else(|| ApiError::not_found("no such version of this traveller's details"))?;
    let sensitive =
        state.vault.open(v.sealed.as_deref(), &crate::vault::details_context(reference, id, v.version)).await?;
    let restored = TravellerDetails::join(plain(&v.plain)?, sensitive);
    let restored = revalidate(&restored, policy, &c.booking, now, locale)?;
    let Some(item) = item else { return Err(ApiError::not_found("no such version of this traveller's details")) };
    let before = state.vault.details(reference, &item).await?;
    let save = Save {
        booking: &c.booking,
        retention_days: policy.retention_days_after_travel,
        traveller_id: id,
        before: Some((&item, &before)),
        actor,
        restored_from: Some(wanted),
        profile_email: None,
        now,
    };
    let (saved, _) = Box::pin(change::save(&state.store, &state.vault, save, &restored)).await?;
    Ok((saved, restored))
}

pub(crate) async fn restore(
    state: &State,
    req: &Request,
    raw: &str,
    id: &str,
    version: &str,
) -> Result<Response<Body>, ApiError> {
    let s = signed(state, req, raw).await?;
    let t = s.reach(id)?;
    let expected = if_match(req)?;
    let (saved, restored) =
        restore_version(state, &s.c, &s.policy, id, version, expected, s.actor(), s.locale, s.now).await?;
    let body = details_body(state, &s, t, Some(&saved), &restored).await?;
    Ok(s.respond(state, with_etag(200, &body, saved.version)?))
}

// ---------------------------------------------------------------------------------------------------------
// Export and erasure request

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ErasureBody {
    #[serde(default)]
    note: Option<String>,
}

/// Longest note on an erasure request, in characters.
pub const ERASURE_NOTE_MAX: usize = 1_000;

pub(crate) async fn request_erasure(
    state: &State,
    req: &Request,
    raw: &str,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let s = signed(state, req, raw).await?;
    s.reach(id)?;
    let body: ErasureBody = if portal_http::request::body_bytes(req).iter().all(u8::is_ascii_whitespace) {
        ErasureBody::default()
    } else {
        portal_http::json_body(req)?
    };
    let note = body.note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > ERASURE_NOTE_MAX) {
        return Err(ApiError::validation("note", format!("note: at most {ERASURE_NOTE_MAX} characters")));
    }
    let item = s.item(id);
    if let Some(open) = item
        .as_ref()
        .and_then(|i| i.erasure_request.as_ref())
        .filter(|r| r.status == "submitted" || r.status == "in_review")
    {
        return Ok(s.respond(state, portal_http::json(200, &erasure_view(Some(open)))?));
    }
    let request = ErasureRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        status: "submitted".into(),
        requested_at: s.now,
        updated_at: s.now,
        note,
        operator_note: None,
    };
    change::record_erasure_request(
        &state.store,
        &s.c.booking,
        id,
        item.as_ref(),
        request.clone(),
        s.actor(),
        portal_details::events::EventType::ErasureRequested,
        s.now,
    )
    .await?;
    tracing::info!(reference = %s.c.booking.reference, traveller = id, "erasure requested");
    Ok(s.respond(state, portal_http::json(202, &erasure_view(Some(&request)))?))
}

//! HTTP routes of the `notifications` Lambda.
//!
//! | Route | Who | What |
//! |---|---|---|
//! | `GET /notifications/unsubscribe?token=` | anyone with the link | a page naming what stops, with a button that POSTs |
//! | `POST /notifications/unsubscribe?token=` | a mail client (RFC 8058 one-click) or that button | turns the category off; a done page |
//! | `GET /operator/bookings/{reference}/emails` | operator | every notice with its deliveries, and the booking's suppressed addresses |
//!
//! The token is the only credential of the unsubscribe routes: it can only turn emails off, for one
//! traveller and one category, and is never logged.

use std::convert::Infallible;

use http::Method;
use lambda_http::{Body, Request, RequestExt, Response};
use portal_domain::ids::BookingReference;
use portal_domain::locale::Locale;
use portal_http::{ApiError, respond};
use portal_notify::Category;
use portal_notify::unsubscribe::{self, MAX_TOKEN_LEN};
use portal_store::notices::SendItem;
use serde_json::json;

use crate::State;

/// The one-click body (`List-Unsubscribe=One-Click`) is tiny; anything bigger is refused unread.
pub const MAX_UNSUBSCRIBE_BODY: usize = 1024;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Infallible> {
    respond(route(state, req)).await
}

async fn route(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    match (segs.as_slice(), req.method().clone()) {
        (["notifications", "unsubscribe"], Method::GET) => unsubscribe_page(state, &req, false).await,
        (["notifications", "unsubscribe"], Method::POST) => unsubscribe_page(state, &req, true).await,
        (["notifications", "unsubscribe"], _) => Err(ApiError::method_not_allowed()),
        (["operator", "bookings", r, "emails"], Method::GET) => Box::pin(operator_emails(state, &req, r)).await,
        (["operator", "bookings", _, "emails"], _) => Err(ApiError::method_not_allowed()),
        _ => Err(ApiError::not_found("no such route")),
    }
}

fn bad_token() -> ApiError {
    ApiError::client(
        400,
        "invalid-unsubscribe-link",
        "Invalid unsubscribe link",
        "this unsubscribe link is not valid: use the link of a recent email, or change your email preferences in the portal",
    )
    .with_field("token")
}

async fn unsubscribe_page(state: &State, req: &Request, post: bool) -> Result<Response<Body>, ApiError> {
    let q = req.query_string_parameters_ref();
    let raw = q.and_then(|q| q.first("token")).unwrap_or_default().to_string();
    if raw.is_empty() || raw.len() > MAX_TOKEN_LEN {
        return Err(bad_token());
    }
    let u = unsubscribe::verify(&state.unsubscribe_key, &raw).ok_or_else(bad_token)?;
    if post && portal_http::request::body_bytes(req).len() > MAX_UNSUBSCRIBE_BODY {
        return Err(ApiError::payload_too_large(MAX_UNSUBSCRIBE_BODY));
    }
    let Some(c) = state.store.load_booking(&u.reference).await? else {
        return Err(ApiError::not_found("this booking is no longer in the portal: it sends no more emails"));
    };
    if c.booking.traveller(&u.traveller_id).is_none() {
        return Err(ApiError::not_found("this traveller is no longer on the booking: they get no more emails"));
    }
    let field = match u.category {
        Category::Reminders => "payment_reminders",
        _ => "booking_updates",
    };
    if post {
        let now = (state.clock)();
        state.store.update_preferences(&u.reference, &u.traveller_id, &[(field, false)], now).await?;
        tracing::info!(reference = %u.reference, category = u.category.as_str(), "unsubscribed with one click");
    }
    let brand = state.brands.get(&c.booking.brand);
    let locale = Locale::parse(&c.booking.locale).unwrap_or(Locale::EnGb);
    let action = format!("/notifications/unsubscribe?token={raw}");
    let html = portal_notify::emails::unsubscribe_page(brand, locale, u.category, &action, post);
    Response::builder()
        .status(200)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header("referrer-policy", "no-referrer")
        .header("x-content-type-options", "nosniff")
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        .body(Body::from(html))
        .map_err(|e| ApiError::internal(format!("response: {e}")))
}

fn delivery(s: &SendItem) -> serde_json::Value {
    json!({
        "traveller_id": s.traveller_id,
        "to": s.to,
        "status": s.status.as_str(),
        "reason": s.reason,
        "attempts": s.attempts,
        "updated_at": s.updated_at,
    })
}

async fn operator_emails(state: &State, req: &Request, raw: &str) -> Result<Response<Body>, ApiError> {
    let auth = state.auth.as_ref().ok_or_else(|| ApiError::internal("operator auth is not configured"))?;
    let operator = auth.authenticate(req)?;
    let reference = BookingReference::parse(raw)?;
    let Some(c) = state.store.load_booking(reference.as_str()).await? else {
        return Err(ApiError::not_found("no such booking"));
    };
    let (notices, sends) = state.store.notices_of(reference.as_str()).await?;
    let mut suppressed = Vec::new();
    for t in &c.booking.travellers {
        let Some(email) = &t.email else { continue };
        if let Some(s) = state.store.suppression(email).await? {
            suppressed.push(json!({
                "traveller_id": t.id,
                "to": portal_mail::mask_email(email),
                "reason": s.reason,
                "detail": s.detail,
                "at": s.at,
            }));
        }
    }
    tracing::info!(reference = %reference, operator = %operator, notices = notices.len(), "operator read the booking's emails");
    portal_http::json(
        200,
        &json!({
            "reference": reference.as_str(),
            "notices": notices.iter().map(|n| json!({
                "notice_id": n.notice_id,
                "kind": n.kind.as_str(),
                "category": n.kind.category().as_str(),
                "created_at": n.created_at,
                "relayed_at": n.relayed_at,
                "deliveries": sends.iter().filter(|s| s.notice_id == n.notice_id).map(delivery).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "suppressed": suppressed,
        }),
    )
}

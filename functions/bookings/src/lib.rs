//! Booking lookup for the signed-in customer.
//!
//! - `GET /bookings`: the bookings of the session's verified email, newest travel first, each with reference,
//!   brand, dates, status and money. DynamoDB: one `GetItem` (the session is live), one `Query` on `by_email`,
//!   one `BatchGetItem` (per 100 bookings) of the `BOOKING` items' listing fields.
//! - `GET /bookings/{reference}`: the whole booking and its money picture
//!   ([`portal_domain::overview`]) from exactly one `Query` of the booking's item collection (more pages only
//!   past 1 MB). The same `Query` proves the session is live: its `SESSION#<sid>` item must be in the
//!   collection (logout and revocation delete it), else 401.
//!
//! Both answer `Cache-Control: no-store` and re-issue the sliding session cookie on every success (304
//! included). The locale is negotiated from `Accept-Language`, falling back to the booking's locale (the
//! session's booking for the listing), then en-GB; a garbage header falls back, never fails. "Today" is the
//! UTC date of the injected clock.
//!
//! # ETag
//!
//! The overview differs per viewer (lead or traveller), per locale, per day (due now / overdue / timeline
//! states move with the date) and per sign-in (documents "updated since last visit"), and document items may
//! change without a new booking version. So the tag is the booking version plus a hash of the exact body:
//! `"v<version>-<32 hex digits of XXH3-128(body)>"`. It is strong (equal tags mean identical bytes, short of
//! a 128-bit collision within one booking version; no secret depends on it, so a non-cryptographic hash
//! does: SHA-256 cost 0.34 M instructions per overview, XXH3 ~3 k, docs/performance.md) and costs no extra
//! read, because the `Query` that would produce the body is needed anyway to check the session. `If-None-Match` (a list, `W/` prefixes or `*`) matching it answers 304 with no body.
//!
//! # Errors
//!
//! In this order: a method other than GET: 405. A malformed reference: 400 (checked first: it needs no
//! session and reveals nothing). No, invalid or expired session, or a session whose item is gone: 401. An
//! unknown reference, any reference other than the session's booking (answered before anything is read), or
//! a booking the session's traveller is no longer on: the identical 404
//! (`portal_http::session::not_found_booking`). The session check is the shared
//! `portal_http::customer::authorised_booking`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use portal_details::policy::BrandPolicies;
use portal_domain::booking::BookingStatus;
use portal_domain::ids::BookingReference;
use portal_domain::locale::Locale;
use portal_domain::overview::{
    self, DateView, DetailsProgress, MoneyView, OverviewError, OverviewInput, StatusView, Viewer,
};
use portal_http::config::ConfigError;
use portal_http::customer::{authorised_booking, refreshed_cookie, session_ended};
use portal_http::session::{Session, SessionConfig, not_found_booking};
use portal_http::{ApiError, header, respond};
use portal_store::Store;
use portal_store::lookup::{self, BookingSummary};
use serde::Serialize;

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub struct State {
    pub store: Store,
    pub sessions: SessionConfig,
    pub clock: Clock,
    /// The brands' traveller-details rules (`BRANDS_JSON`): what the overview counts as missing.
    pub policies: BrandPolicies,
}

impl State {
    pub fn new(store: Store, sessions: SessionConfig) -> State {
        State { store, sessions, clock: Arc::new(Utc::now), policies: BrandPolicies::default() }
    }

    pub fn with_policies(mut self, policies: BrandPolicies) -> State {
        self.policies = policies;
        self
    }

    /// Tests move time: session expiry, due dates.
    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> State {
        self.clock = Arc::new(clock);
        self
    }

    pub async fn from_env() -> Result<State, ConfigError> {
        let table = portal_http::config::required("TABLE_NAME")?;
        let sessions = SessionConfig::from_env()?;
        let policies = BrandPolicies::parse(portal_http::config::optional("BRANDS_JSON").as_deref())
            .map_err(|problem| ConfigError { variable: "BRANDS_JSON", problem })?;
        let sdk = portal_store::aws::sdk_config().await;
        Ok(State::new(Store::new(portal_store::aws::dynamodb_client(&sdk, None), table), sessions)
            .with_policies(policies))
    }
}

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Infallible> {
    respond(route(state, req)).await
}

async fn route(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    if req.method() != http::Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    let now = (state.clock)();
    match reference_param(&req)? {
        Some(raw) => booking_overview(state, &req, &raw, now).await,
        None => {
            let session = state.sessions.from_request(&req, now.timestamp())?;
            booking_list(state, &req, &session, now).await
        }
    }
}

/// `Some(reference)` for `GET /bookings/{reference}`, `None` for `GET /bookings`.
fn reference_param(req: &Request) -> Result<Option<String>, ApiError> {
    if let Some(r) = req.path_parameters_ref().and_then(|p| p.first("reference")) {
        return Ok(Some(r.to_string()));
    }
    let route_key = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.clone().unwrap_or_default(),
        _ => String::new(),
    };
    if route_key.contains("{reference}") {
        return Err(ApiError::malformed_reference());
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------------------
// GET /bookings/{reference}

async fn booking_overview(
    state: &State,
    req: &Request,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<Response<Body>, ApiError> {
    let reference = BookingReference::parse(raw)?;
    // Session, scope (another booking: the unknown-booking 404 before anything is read), the one Query, and
    // the session item's presence in what it returned.
    let (session, c) = authorised_booking(&state.store, &state.sessions, req, &reference, now.timestamp()).await?;
    let session = &session;
    let fallback = Locale::parse(&c.booking.locale).unwrap_or(Locale::EnGb);
    let locale = Locale::negotiate(header(req, "accept-language"), fallback);
    let documents = lookup::documents(&c);
    let details = details_progress(&state.policies, &c);
    let input = OverviewInput {
        booking: &c.booking,
        version: c.version,
        booked_at: c.created_at,
        instalments: &c.instalments,
        movements: &c.movements,
        documents: &documents,
        details: Some(&details),
    };
    let viewer = Viewer {
        traveller_id: &session.traveller_id,
        claims_lead: session.is_lead,
        signed_in_at: DateTime::from_timestamp(session.auth_time, 0).unwrap_or_default(),
    };
    let view = overview::build(&input, &viewer, locale, now.date_naive()).map_err(|e| match e {
        OverviewError::NotATraveller => {
            tracing::info!(reference = %reference, "session traveller no longer on the booking");
            not_found_booking()
        }
        OverviewError::Money(m) => ApiError::internal(format!("ledger of {reference} does not add up: {m}")),
    })?;
    let body = serde_json::to_vec(&view).map_err(|e| ApiError::internal(format!("serialising overview: {e}")))?;
    let etag = etag(c.version, &body);
    let cookie = refreshed_cookie(&state.sessions, session, now.timestamp());
    let not_modified = if_none_match(header(req, "if-none-match"), &etag);
    tracing::info!(reference = %reference, version = c.version, locale = locale.tag(), not_modified, "booking overview");
    if not_modified {
        return build(304, None, cookie, Some(&etag));
    }
    build(200, Some(body), cookie, Some(&etag))
}

/// Each traveller's passenger-details progress from the details items the one `Query` returned (the plain
/// part and the names of the sealed fields: nothing is decrypted here).
fn details_progress(
    policies: &BrandPolicies,
    c: &portal_store::BookingCollection,
) -> BTreeMap<String, DetailsProgress> {
    let policy = policies.for_booking(&c.booking);
    let items = portal_store::details::details_items(c);
    c.booking
        .travellers
        .iter()
        .map(|t| {
            let item = items.iter().find(|i| i.traveller_id == t.id);
            let erased = item.is_some_and(|i| i.erased_at.is_some());
            let plain = item.and_then(|i| serde_json::from_str::<portal_details::TravellerDetails>(&i.plain).ok());
            let present = item.map(|i| i.present.as_slice()).unwrap_or_default();
            let p = portal_details::progress::of_stored(
                plain,
                present,
                t.date_of_birth.is_some() && !erased,
                &policy.requirements,
            );
            let missing = p.missing.iter().map(|f| f.as_str()).collect();
            (t.id.clone(), DetailsProgress { missing, percent: p.percent })
        })
        .collect()
}

/// `"v<version>-<32 hex of XXH3-128(body)>"` (see the crate docs).
pub fn etag(version: u64, body: &[u8]) -> String {
    format!("\"v{version}-{:032x}\"", xxhash_rust::xxh3::xxh3_128(body))
}

/// RFC 9110 §13.1.2: `*`, or a list of entity tags compared weakly (`W/` ignored). Anything unparseable
/// simply does not match.
pub fn if_none_match(header: Option<&str>, etag: &str) -> bool {
    let Some(h) = header else { return false };
    h.split(',').map(str::trim).any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

fn build(
    status: u16,
    body: Option<Vec<u8>>,
    cookie: Option<String>,
    etag: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let mut b =
        Response::builder().status(status).header("cache-control", "no-store").header("vary", "Accept-Language");
    // None only when the absolute lifetime leaves nothing to extend: the current cookie stays as it is.
    if let Some(c) = cookie {
        b = b.header("set-cookie", c);
    }
    if let Some(t) = etag {
        b = b.header("etag", t);
    }
    let body = match body {
        Some(bytes) => {
            b = b.header("content-type", "application/json");
            Body::Binary(bytes)
        }
        None => Body::Empty,
    };
    b.body(body).map_err(|e| ApiError::internal(format!("building response: {e}")))
}

// ---------------------------------------------------------------------------------------------------------
// GET /bookings

#[derive(Debug, Serialize)]
pub struct BookingList {
    pub locale: &'static str,
    pub bookings: Vec<BookingListEntry>,
}

#[derive(Debug, Serialize)]
pub struct BookingListEntry {
    pub reference: String,
    pub brand: String,
    pub status: StatusView,
    pub travel_start: DateView,
    pub travel_end: DateView,
    /// Travel not yet over (`travel_end` today or later).
    pub current: bool,
    pub total: MoneyView,
    pub paid: MoneyView,
    pub outstanding: MoneyView,
}

/// The listing body (pure): newest travel first as given, money formatted for `locale`.
pub fn list_view(bookings: &[BookingSummary], locale: Locale, today: NaiveDate) -> BookingList {
    BookingList {
        locale: locale.tag(),
        bookings: bookings
            .iter()
            .map(|b| BookingListEntry {
                reference: b.reference.to_string(),
                brand: b.brand.clone(),
                status: StatusView::new(b.status, b.waitlist_position),
                travel_start: DateView::new(b.travel_start, locale),
                travel_end: DateView::new(b.travel_end, locale),
                current: b.travel_end >= today && b.status != BookingStatus::Cancelled,
                total: MoneyView::new(b.aggregate.total_price, locale),
                paid: MoneyView::new(b.aggregate.paid, locale),
                outstanding: MoneyView::new(b.aggregate.outstanding, locale),
            })
            .collect(),
    }
}

async fn booking_list(
    state: &State,
    req: &Request,
    session: &Session,
    now: DateTime<Utc>,
) -> Result<Response<Body>, ApiError> {
    if !state.store.session_is_live(session.reference.as_str(), &session.sid).await? {
        tracing::info!(reference = %session.reference, "session item gone (logged out or revoked)");
        return Err(session_ended());
    }
    let bookings = state.store.bookings_for_email(&session.email).await?;
    let fallback = bookings
        .iter()
        .find(|b| b.reference == session.reference)
        .and_then(|b| Locale::parse(&b.locale))
        .unwrap_or(Locale::EnGb);
    let locale = Locale::negotiate(header(req, "accept-language"), fallback);
    let view = list_view(&bookings, locale, now.date_naive());
    let body = serde_json::to_vec(&view).map_err(|e| ApiError::internal(format!("serialising list: {e}")))?;
    let cookie = refreshed_cookie(&state.sessions, session, now.timestamp());
    tracing::info!(reference = %session.reference, count = view.bookings.len(), locale = locale.tag(), "booking list");
    build(200, Some(body), cookie, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::money::{Currency, Money};
    use portal_store::items::Aggregate;

    #[test]
    fn etags_and_if_none_match() {
        let t = etag(3, b"{}");
        assert!(t.starts_with("\"v3-") && t.ends_with('"') && t.len() == 4 + 32 + 1);
        assert_ne!(t, etag(3, b"{ }"));
        assert_ne!(t, etag(4, b"{}"));
        assert!(if_none_match(Some(&t), &t));
        assert!(if_none_match(Some(&format!("W/{t}")), &t));
        assert!(if_none_match(Some(&format!("\"x\", {t}")), &t));
        assert!(if_none_match(Some("*"), &t));
        assert!(!if_none_match(Some("\"v3\""), &t));
        assert!(!if_none_match(Some("garbage,,\u{0}"), &t));
        assert!(!if_none_match(None, &t));
    }

    fn summary(reference: &str, start: &str, end: &str, status: BookingStatus) -> BookingSummary {
        let m = |minor| Money::from_minor(minor, Currency::Gbp).unwrap();
        BookingSummary {
            reference: BookingReference::parse(reference).unwrap(),
            brand: "alpine".into(),
            status,
            waitlist_position: Some(2),
            currency: Currency::Gbp,
            locale: "en-GB".into(),
            travel_start: start.parse().unwrap(),
            travel_end: end.parse().unwrap(),
            version: 1,
            aggregate: Aggregate { total_price: m(300_000), paid: m(50_000), outstanding: m(250_000) },
        }
    }

    #[test]
    fn list_entries() {
        let today: NaiveDate = "2026-11-25".parse().unwrap();
        let list = [
            summary("AB-0002", "2027-03-01", "2027-03-08", BookingStatus::Waitlisted),
            summary("AB-0001", "2026-05-01", "2026-05-08", BookingStatus::Completed),
        ];
        let v = serde_json::to_value(list_view(&list, Locale::EnGb, today)).unwrap();
        assert_eq!(v["bookings"][0]["reference"], "AB-0002");
        assert_eq!(v["bookings"][0]["current"], true);
        assert_eq!(v["bookings"][0]["status"], serde_json::json!({"code": "waitlisted", "waitlist_position": 2}));
        assert_eq!(v["bookings"][0]["outstanding"]["display"], "£2,500.00");
        assert_eq!(v["bookings"][1]["current"], false);
        assert_eq!(v["bookings"][1]["status"], serde_json::json!({"code": "completed"}));
        assert_eq!(v["bookings"][1]["travel_start"]["display"], "1 May 2026");
    }
}

//! Magic-link sign-in and customer sessions (one Lambda). See `docs/auth.md` for the flow.
//!
//! | route | who | what |
//! | --- | --- | --- |
//! | `POST /auth/magic-links` | anyone | `{booking_reference, email}` → always `202`, same body, same timing envelope; queues a link + code email ([`mailer`]) if the email is on the booking |
//! | `POST /auth/sessions` | anyone | `{token}` or `{booking_reference, code}` → consumes the link, `201` with the session (cookie + bearer) |
//! | `GET /auth/sessions/current` | customer | who am I; re-issues the sliding cookie |
//! | `DELETE /auth/sessions/current` | customer | logout: the session item is deleted, the token stops working |
//! | `DELETE /auth/sessions` | customer | sign out everywhere: every session of the caller's traveller on the booking ends |
//! | `POST /operator/bookings/{reference}/magic-links` | operator | `{traveller_id?, send_email}` → link for the lead or one traveller, emailed or returned |
//! | `POST /operator/bookings/{reference}/sessions/revoke` | operator | deletes every session and unused link of the booking |
//!
//! Handlers are thin: tokens and hashes live in [`tokens`], the email in [`email`],
//! the DynamoDB items in `portal_store::auth`, the session JWT in `portal_http::session`.

pub mod config;
pub mod email;
pub mod mailer;
pub mod tokens;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use portal_domain::booking::{Booking, Traveller, check_email};
use portal_domain::ids::BookingReference;
use portal_domain::locale::Locale;
use portal_http::config::ConfigError;
use portal_http::customer::session_ended;
use portal_http::operator::OperatorAuth;
use portal_http::session::{Session, SessionConfig, clear_cookie};
use portal_http::{ApiError, client_ip, json, json_body, respond};
use portal_store::auth::{AccessEnd, NewLink, Proof, SessionItem, link_refs, rate_pk};
use portal_store::{BookingCollection, Store, StoreError};
use serde::{Deserialize, Serialize};

pub use config::{AuthConfig, Brand, Brands, RateLimits};
use tokens::{MAX_CODE_ATTEMPTS, mask_email};

/// Wall clock with an adjustable offset (tests move time forward; production never does).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.offset_seconds.load(Ordering::Relaxed))
    }

    pub fn advance(&self, seconds: i64) {
        self.offset_seconds.fetch_add(seconds, Ordering::Relaxed);
    }
}

pub struct State {
    pub store: Store,
    pub ses: aws_sdk_sesv2::Client,
    /// Where `POST /auth/magic-links` puts the email to send (the `sign-in-mailer` sends it).
    pub sign_in_queue: mailer::SignInQueue,
    pub operator: OperatorAuth,
    pub sessions: SessionConfig,
    pub config: AuthConfig,
    pub clock: Clock,
}

impl State {
    pub fn new(
        store: Store,
        ses: aws_sdk_sesv2::Client,
        sign_in_queue: mailer::SignInQueue,
        operator: OperatorAuth,
        sessions: SessionConfig,
        config: AuthConfig,
    ) -> State {
        State { store, ses, sign_in_queue, operator, sessions, config, clock: Clock::default() }
    }

    /// Everything from the environment, checked before the first request (see [`config`]).
    pub async fn from_env() -> Result<State, ConfigError> {
        let table = portal_http::config::required("TABLE_NAME")?;
        let sessions = SessionConfig::from_env()?;
        let config = AuthConfig::from_env()?;
        let operator = OperatorAuth::from_env()?;
        let sdk = portal_store::aws::sdk_config().await;
        let store = Store::new(portal_store::aws::dynamodb_client(&sdk, None), table);
        let queue = mailer::SignInQueue {
            client: aws_sdk_sqs::Client::new(&sdk),
            url: portal_http::config::required("SIGN_IN_QUEUE_URL")?,
        };
        Ok(State::new(store, aws_sdk_sesv2::Client::new(&sdk), queue, operator, sessions, config))
    }
}

/// The one body `POST /auth/magic-links` ever answers with `202`.
pub const ACCEPTED_DETAIL: &str =
    "If the email address belongs to a traveller on that booking, a sign-in link and code are on their way to it.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    RequestLink,
    CreateSession,
    CurrentSession,
    AllSessions,
    OperatorLink,
    OperatorRevoke,
}

/// Which route a request is for: the API Gateway route key when there is one, else the raw path.
fn route(req: &Request) -> Result<(Route, Option<String>), ApiError> {
    let from_key = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            ctx.route_key.as_deref().and_then(|k| k.split_once(' ')).map(|(_, t)| t.to_string())
        }
        _ => None,
    };
    let path = from_key.filter(|t| t.starts_with('/')).unwrap_or_else(|| req.uri().path().to_string());
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let reference = |i: usize| -> Option<String> {
        req.path_parameters_ref()
            .and_then(|p| p.first("reference").map(str::to_string))
            .or_else(|| segs.get(i).map(|s| s.to_string()))
    };
    let m = req.method();
    let (route, allowed): (Route, &[http::Method]) = match segs.as_slice() {
        ["auth", "magic-links"] => (Route::RequestLink, &[http::Method::POST]),
        ["auth", "sessions"] if *m == http::Method::DELETE => (Route::AllSessions, &[http::Method::DELETE]),
        ["auth", "sessions"] => (Route::CreateSession, &[http::Method::POST]),
        ["auth", "sessions", "current"] => (Route::CurrentSession, &[http::Method::GET, http::Method::DELETE]),
        ["operator", "bookings", _, "magic-links"] => (Route::OperatorLink, &[http::Method::POST]),
        ["operator", "bookings", _, "sessions", "revoke"] => (Route::OperatorRevoke, &[http::Method::POST]),
        _ => return Err(ApiError::not_found("no such route")),
    };
    if !allowed.contains(m) {
        return Err(ApiError::method_not_allowed());
    }
    let r = matches!(route, Route::OperatorLink | Route::OperatorRevoke).then(|| reference(2)).flatten();
    Ok((route, r))
}

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Infallible> {
    respond(dispatch(state, req)).await
}

async fn dispatch(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let started = Instant::now();
    let (route, reference) = route(&req)?;
    match (route, req.method().clone()) {
        (Route::RequestLink, _) => request_link(state, &req, started).await,
        (Route::CreateSession, _) => create_session(state, &req).await,
        (Route::CurrentSession, http::Method::DELETE) => logout(state, &req).await,
        (Route::CurrentSession, _) => current_session(state, &req).await,
        (Route::AllSessions, _) => sign_out_everywhere(state, &req).await,
        (Route::OperatorLink, _) => operator_link(state, &req, reference.as_deref().unwrap_or("")).await,
        (Route::OperatorRevoke, _) => operator_revoke(state, &req, reference.as_deref().unwrap_or("")).await,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Errors

/// Every failed exchange (unknown, used, expired, revoked, other booking, wrong code, code out of attempts)
/// gets this one answer: which case it was is logged, not told.
pub fn sign_in_failed() -> ApiError {
    ApiError::Client {
        status: 401,
        slug: "sign-in-failed",
        title: "Sign-in failed",
        detail: "the sign-in link or code is invalid, expired or already used; request a new link".into(),
        field: None,
        retry_after: None,
        www_authenticate: false,
        errors: None,
    }
}

fn failed(reason: &'static str) -> ApiError {
    tracing::info!(reason, "sign-in refused");
    sign_in_failed()
}

fn random_failed(_: tokens::RandomUnavailable) -> ApiError {
    ApiError::internal("the CSPRNG failed")
}

fn reference_field(raw: &str, field: &str) -> Result<BookingReference, ApiError> {
    BookingReference::parse(raw).map_err(|_| ApiError::malformed_reference().with_field(field))
}

// ---------------------------------------------------------------------------------------------------------
// Rate limits

/// Count one hit in each `(scope, value, limit)` fixed window, in order; the first full window answers 429
/// with `Retry-After` (later windows are not counted).
async fn rate_limit(state: &State, checks: &[(&str, &str, u32)], now: i64) -> Result<(), ApiError> {
    rate_limit_in(state, state.config.limits.window_seconds, checks, now).await
}

/// [`rate_limit`] with windows of `window_seconds` (86 400: UTC days).
async fn rate_limit_in(
    state: &State,
    window_seconds: i64,
    checks: &[(&str, &str, u32)],
    now: i64,
) -> Result<(), ApiError> {
    let w = window_seconds.max(1);
    let window = now.div_euclid(w);
    let window_end = (window + 1) * w;
    for (scope, value, limit) in checks {
        let pk = rate_pk(scope, &state.config.token_key.rate_key(scope, value), window);
        if !state.store.rate_hit(&pk, *limit, window_end + 3600).await? {
            tracing::info!(scope, "rate limit reached");
            return Err(ApiError::rate_limited((window_end - now).max(1) as u64));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Issuing links

/// A link just written: the token and code exist only here and in the email (or the operator's response).
pub(crate) struct Issued {
    code: String,
    link: String,
    expires_at: DateTime<Utc>,
}

/// Write a new link for `traveller` and retire their older ones (links and codes) in the same transaction:
/// only the newest link and code a traveller was sent work.
pub(crate) async fn issue_link(
    store: &Store,
    config: &AuthConfig,
    c: &BookingCollection,
    traveller: &Traveller,
    now: DateTime<Utc>,
) -> Result<Issued, ApiError> {
    let booking = &c.booking;
    let token = tokens::new_token().map_err(random_failed)?;
    let code = tokens::new_code().map_err(random_failed)?;
    let link_id = tokens::new_id().map_err(random_failed)?;
    let reference = booking.reference.as_str();
    let key = &config.token_key;
    let expires_at = now + chrono::Duration::seconds(config.link_ttl_seconds);
    let new = NewLink {
        token_hash: key.token_hash(&token),
        code_hash: key.code_hash(reference, &link_id, &code),
        link_id,
        reference: reference.to_string(),
        traveller_id: traveller.id.clone(),
        email: traveller.email.clone().unwrap_or_default(),
        is_lead: traveller.id == booking.lead_traveller_id,
        created_at: now.timestamp(),
        expires_at: expires_at.timestamp(),
    };
    let retire: Vec<_> = link_refs(c).into_iter().filter(|r| r.traveller_id == traveller.id).collect();
    store.put_link(&new, &retire).await?;
    tracing::info!(reference, traveller_id = %traveller.id, link_id = %new.link_id, retired = retire.len(), "sign-in link issued");
    let link = config.sign_in_link(&token);
    Ok(Issued { code, link, expires_at })
}

pub(crate) async fn send_link_email(
    ses: &aws_sdk_sesv2::Client,
    config: &AuthConfig,
    booking: &Booking,
    traveller: &Traveller,
    to: &str,
    issued: &Issued,
) -> Result<(), ApiError> {
    let brand = config.brands.get(&booking.brand);
    let mail = email::email(&email::LinkEmail {
        brand,
        locale: Locale::parse(&booking.locale).unwrap_or(Locale::EnGb),
        first_name: &traveller.first_name,
        reference: booking.reference.as_str(),
        link: &issued.link,
        code: &issued.code,
        expires_at: issued.expires_at,
    });
    portal_mail::send_email(ses, brand, to, &mail, None).await.map_err(ApiError::Unavailable)?;
    tracing::info!(reference = %booking.reference, to = %mask_email(to), "sign-in email sent");
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkRequest {
    booking_reference: String,
    email: String,
}

#[derive(Debug, Serialize)]
struct Accepted {
    status: &'static str,
    detail: &'static str,
}

/// `POST /auth/magic-links`.
///
/// Same status, headers and body whether or not anything matched. Limits that can answer 429 are counted
/// before anything is looked up and only on what the caller sent: its address, and the pair (reference,
/// email). Strangers trying other emails on a booking spend their own pair budgets, never the customer's;
/// their misses are counted per reference apart from the matches (past `reference_misses` an alarm is
/// logged; the answer stays the same). A match puts one message on the sign-in queue: the email is sent by
/// [`mailer`], so the answer never waits for SES. Every answer is held until `min_response` after the request
/// arrived, so both paths fall in one timing envelope.
async fn request_link(state: &State, req: &Request, started: Instant) -> Result<Response<Body>, ApiError> {
    let body: LinkRequest = json_body(req)?;
    let reference = reference_field(&body.booking_reference, "booking_reference")?;
    let email = body.email.trim().to_ascii_lowercase();
    check_email("email", &email)?;
    let now = state.clock.now();
    let client = client_ip(req).unwrap_or_else(|| "unknown".into());
    let l = state.config.limits;
    let pair = format!("{reference}\u{1f}{email}");
    rate_limit(
        state,
        &[("link-client", &client, l.per_client), ("link-ref-email", &pair, l.per_reference_email)],
        now.timestamp(),
    )
    .await?;

    let collection = state.store.load_booking(reference.as_str()).await?;
    let matched = collection.as_ref().and_then(|c| {
        let b = &c.booking;
        let mut m = b.travellers_with_email(&email);
        let first = m.next()?;
        Some(if first.id == b.lead_traveller_id {
            first
        } else {
            m.find(|t| t.id == b.lead_traveller_id).unwrap_or(first)
        })
    });
    // Failures past this point are logged, never answered differently: the answer must not tell whether the
    // email matched.
    match matched {
        Some(traveller) => {
            let msg = mailer::SignInMessage {
                reference: reference.to_string(),
                traveller_id: traveller.id.clone(),
                email_hash: state.config.token_key.email_hash(&email),
                requested_at: now.timestamp(),
            };
            match state.sign_in_queue.send(&msg).await {
                Ok(()) => {
                    tracing::info!(reference = %reference, to = %mask_email(&email), "sign-in link requested; email queued")
                }
                Err(e) => tracing::error!(reference = %reference, error = %e, "sign-in link requested but not queued"),
            }
        }
        None => {
            tracing::info!(reference = %reference, to = %mask_email(&email), "sign-in link requested; no traveller matches");
            let w = l.window_seconds.max(1);
            let window = now.timestamp().div_euclid(w);
            let pk =
                rate_pk("link-ref-miss", &state.config.token_key.rate_key("link-ref-miss", reference.as_str()), window);
            match state.store.rate_hit(&pk, l.reference_misses, (window + 1) * w + 3600).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    alarm = "sign_in_guessing", reference = %reference,
                    "many link requests for this booking named no traveller's email (someone guessing emails)"
                ),
                Err(e) => tracing::error!(reference = %reference, error = %e, "miss counter not updated"),
            }
        }
    }
    let elapsed = started.elapsed();
    if elapsed > state.config.min_response {
        tracing::warn!(elapsed_ms = elapsed.as_millis() as u64, "magic-link request took longer than the timing floor");
    }
    tokio::time::sleep_until(tokio::time::Instant::from_std(started + state.config.min_response)).await;
    json(202, &Accepted { status: "accepted", detail: ACCEPTED_DETAIL })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorLinkRequest {
    #[serde(default)]
    traveller_id: Option<String>,
    send_email: bool,
}

#[derive(Debug, Serialize)]
struct OperatorLinkResponse {
    reference: String,
    traveller_id: String,
    is_lead: bool,
    expires_at: DateTime<Utc>,
    /// Masked address the link was emailed to (`send_email: true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    sent_to: Option<String>,
    /// The link and code, only when the operator delivers them itself (`send_email: false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
}

async fn load_for_operator(
    state: &State,
    req: &Request,
    raw_reference: &str,
) -> Result<(BookingCollection, String), ApiError> {
    let operator = state.operator.authenticate(req)?;
    let reference = reference_field(raw_reference, "reference")?;
    let c = state
        .store
        .load_booking(reference.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("there is no booking {reference}")))?;
    tracing::info!(reference = %reference, operator = %operator, "operator sign-in action");
    Ok((c, operator))
}

/// `POST /operator/bookings/{reference}/magic-links`.
async fn operator_link(state: &State, req: &Request, raw_reference: &str) -> Result<Response<Body>, ApiError> {
    let (c, operator) = load_for_operator(state, req, raw_reference).await?;
    let body: OperatorLinkRequest = json_body(req)?;
    let booking = &c.booking;
    let traveller_id = body.traveller_id.as_deref().unwrap_or(&booking.lead_traveller_id);
    let traveller = booking.traveller(traveller_id).ok_or_else(|| {
        ApiError::validation("traveller_id", "traveller_id: no traveller with that id on this booking")
    })?;
    let to = match (&traveller.email, body.send_email) {
        (Some(e), true) => Some(e.clone()),
        (None, true) => {
            return Err(ApiError::validation(
                "send_email",
                "send_email: this traveller has no email address; issue the link with send_email=false and deliver it yourself",
            ));
        }
        (_, false) => None,
    };
    let issued = issue_link(&state.store, &state.config, &c, traveller, state.clock.now()).await?;
    if let Some(to) = &to {
        send_link_email(&state.ses, &state.config, booking, traveller, to, &issued).await?;
    }
    let delivered_by_us = to.is_some();
    if !delivered_by_us {
        // Counted by a CloudWatch metric filter (OperatorLinksReturned) with an alarm: a link handed to a
        // caller instead of the traveller's inbox is the one way around the email check.
        tracing::warn!(
            metric = "operator_link_returned", reference = %booking.reference, traveller_id = %traveller.id,
            operator = %operator, "sign-in link returned to the operator instead of emailed"
        );
    }
    let Issued { code, link, expires_at } = issued;
    json(
        201,
        &OperatorLinkResponse {
            reference: booking.reference.to_string(),
            traveller_id: traveller.id.clone(),
            is_lead: traveller.id == booking.lead_traveller_id,
            expires_at,
            sent_to: to.as_deref().map(mask_email),
            link: (!delivered_by_us).then_some(link),
            code: (!delivered_by_us).then_some(code),
        },
    )
}

#[derive(Debug, Serialize)]
struct Revoked {
    reference: String,
    sessions_revoked: usize,
    links_revoked: usize,
}

/// `POST /operator/bookings/{reference}/sessions/revoke`.
async fn operator_revoke(state: &State, req: &Request, raw_reference: &str) -> Result<Response<Body>, ApiError> {
    let (c, _) = load_for_operator(state, req, raw_reference).await?;
    let (sessions, links) = state.store.revoke_all(&c).await?;
    tracing::info!(reference = %c.booking.reference, sessions, links, "sessions and links revoked");
    json(200, &Revoked { reference: c.booking.reference.to_string(), sessions_revoked: sessions, links_revoked: links })
}

// ---------------------------------------------------------------------------------------------------------
// Sessions

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionRequest {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    booking_reference: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct WhoAmI {
    pub booking_reference: String,
    pub traveller_id: String,
    pub first_name: String,
    pub is_lead: bool,
    /// When this token stops working without activity.
    pub expires_at: DateTime<Utc>,
    /// When the session ends whatever the activity.
    pub absolute_expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
struct SessionBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    expires_at: DateTime<Utc>,
    session: WhoAmI,
}

fn ts(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// A browser's request: it carries the `Sec-Fetch-*` metadata every current browser adds to `fetch` and
/// navigation (page script cannot remove or forge it). A browser gets the session only as the HttpOnly cookie,
/// so no script on the page can read the token; other clients (the operator's own integrations, the CLI
/// walkthroughs in the README, the API tests) get it in the body as a bearer token.
fn is_browser(req: &Request) -> bool {
    req.headers().contains_key("sec-fetch-site") || req.headers().contains_key("sec-fetch-mode")
}

/// The token, the cookie and the who-am-I body for a session at `now` (the token in the body only for
/// clients that are not browsers, see [`is_browser`]).
fn session_response(
    state: &State,
    status: u16,
    session: &Session,
    booking: &Booking,
    now: i64,
    browser: bool,
) -> Result<Response<Body>, ApiError> {
    let cfg = &state.sessions;
    let token = cfg.issue(session, now)?;
    let exp = (now + cfg.idle_seconds).min(session.auth_time + cfg.max_age_seconds);
    let first_name = booking.traveller(&session.traveller_id).map(|t| t.first_name.clone()).unwrap_or_default();
    let mut r = json(
        status,
        &SessionBody {
            access_token: (!browser).then(|| token.clone()),
            token_type: (!browser).then_some("Bearer"),
            expires_at: ts(exp),
            session: WhoAmI {
                booking_reference: session.reference.to_string(),
                traveller_id: session.traveller_id.clone(),
                first_name,
                is_lead: session.is_lead,
                expires_at: ts(exp),
                absolute_expires_at: ts(session.auth_time + cfg.max_age_seconds),
            },
        },
    )?;
    r.headers_mut().insert("set-cookie", cfg.cookie(&token).parse().map_err(|_| ApiError::internal("cookie header"))?);
    Ok(r)
}

/// Consume a link (by either proof) and create the session item in the same transaction.
async fn start_session(
    state: &State,
    c: &BookingCollection,
    link_pk: &str,
    link_id: &str,
    traveller_id: &str,
    proof: Proof,
    now: i64,
) -> Result<Session, ApiError> {
    let booking = &c.booking;
    let traveller = booking.traveller(traveller_id).ok_or_else(|| failed("traveller no longer on the booking"))?;
    let sid = tokens::new_id().map_err(random_failed)?;
    let email = traveller.email.clone().unwrap_or_default();
    let is_lead = traveller.id == booking.lead_traveller_id;
    let via = if matches!(proof, Proof::Token) { "link" } else { "code" };
    let item = SessionItem::new(
        &sid,
        booking.reference.as_str(),
        &traveller.id,
        &email,
        is_lead,
        via,
        now,
        now + state.sessions.max_age_seconds,
    );
    match state.store.consume_link(link_pk, booking.reference.as_str(), link_id, &proof, &item, now).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(failed("link already used, revoked or expired (conditional write failed)"));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(reference = %booking.reference, traveller_id = %traveller.id, via, "session started");
    let session = Session {
        sid,
        reference: booking.reference.clone(),
        traveller_id: traveller.id.clone(),
        email,
        is_lead,
        auth_time: now,
    };
    Ok(session)
}

/// `POST /auth/sessions`: `{token}` (optionally with the `booking_reference` it must belong to) or
/// `{booking_reference, code}`.
async fn create_session(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: SessionRequest = json_body(req)?;
    let now = state.clock.now().timestamp();
    let client = client_ip(req).unwrap_or_else(|| "unknown".into());
    match (body.token, body.booking_reference, body.code) {
        (Some(token), reference, None) => {
            let expected = reference.as_deref().map(|r| reference_field(r, "booking_reference")).transpose()?;
            if !tokens::is_token_shaped(&token) {
                return Err(ApiError::validation(
                    "token",
                    "token: not a sign-in token (43 characters of A-Z, a-z, 0-9, '-', '_')",
                ));
            }
            rate_limit(state, &[("sign-in-client", &client, state.config.limits.sign_in_per_client)], now).await?;
            let hash = state.config.token_key.token_hash(&token);
            let link = state.store.get_link(&hash).await?.ok_or_else(|| failed("unknown or used token"))?;
            if link.expires_at <= now {
                return Err(failed("expired token"));
            }
            if link.used_by.is_some() {
                return Err(failed("token already claimed"));
            }
            if expected.as_ref().is_some_and(|r| r.as_str() != link.reference) {
                return Err(failed("token belongs to another booking"));
            }
            let c = state.store.load_booking(&link.reference).await?.ok_or_else(|| failed("booking gone"))?;
            let still_theirs = c.booking.traveller(&link.traveller_id).is_some_and(|t| {
                link.email.is_empty() || t.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(&link.email))
            });
            if !still_theirs {
                return Err(failed("traveller or email changed since the link was issued"));
            }
            let session =
                start_session(state, &c, &link.pk, &link.link_id, &link.traveller_id, Proof::Token, now).await?;
            session_response(state, 201, &session, &c.booking, now, is_browser(req))
        }
        (None, Some(reference), Some(code)) => {
            let reference = reference_field(&reference, "booking_reference")?;
            if !tokens::is_code_shaped(&code) {
                return Err(ApiError::validation(
                    "code",
                    format!("code: the code from the email is {} digits", tokens::CODE_DIGITS),
                ));
            }
            let l = state.config.limits;
            rate_limit(state, &[("sign-in-client", &client, l.sign_in_per_client)], now).await?;
            // The booking's daily budget of code attempts, counted before any comparison (so concurrent guesses
            // cannot exceed it; the attempt that succeeds counts too). Past it, codes for this booking are
            // refused until the next UTC day; the emailed link keeps working.
            rate_limit_in(state, 86_400, &[("code-booking-day", reference.as_str(), l.code_attempts_per_day)], now)
                .await
                .inspect_err(|_| {
                    tracing::warn!(alarm = "sign_in_code_cap", reference = %reference, "daily code attempts of a booking used up")
                })?;
            let c = state.store.load_booking(reference.as_str()).await?.ok_or_else(|| failed("no such booking"))?;
            let key = &state.config.token_key;
            let live = link_refs(&c).into_iter().filter(|r| r.expires_at > now && r.attempts < MAX_CODE_ATTEMPTS);
            // Each live code of the booking counts the attempt before it is compared: however many guesses
            // arrive at once, no code is compared more than MAX_CODE_ATTEMPTS times.
            for r in live {
                if !state.store.count_code_attempt(reference.as_str(), &r.link_id, MAX_CODE_ATTEMPTS, now).await? {
                    continue;
                }
                if tokens::same_hash(&key.code_hash(reference.as_str(), &r.link_id, &code), &r.code_hash) {
                    let proof = Proof::Code { code_hash: r.code_hash.clone(), max_attempts: MAX_CODE_ATTEMPTS };
                    let session = start_session(state, &c, &r.link_pk, &r.link_id, &r.traveller_id, proof, now).await?;
                    return session_response(state, 201, &session, &c.booking, now, is_browser(req));
                }
            }
            Err(failed("wrong code, or no live code"))
        }
        _ => Err(ApiError::validation("", "send either {\"token\"} or {\"booking_reference\", \"code\"}")),
    }
}

/// The caller's session, proven live by its item in the booking collection (one `Query`).
async fn live_session(state: &State, req: &Request, now: i64) -> Result<(Session, BookingCollection), ApiError> {
    let session = state.sessions.from_request(req, now)?;
    let reference = session.reference.clone();
    portal_http::customer::authorised_booking(&state.store, &state.sessions, req, &reference, now)
        .await
        .map_err(|e| if e.status() == 404 { session_ended() } else { e })
}

/// `GET /auth/sessions/current`.
async fn current_session(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let now = state.clock.now().timestamp();
    let (session, c) = live_session(state, req, now).await?;
    session_response(state, 200, &session, &c.booking, now, is_browser(req))
}

/// `DELETE /auth/sessions/current`: the session item goes, so the token stops working everywhere.
async fn logout(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let now = state.clock.now().timestamp();
    let session = state.sessions.from_request(req, now)?;
    if !state.store.delete_session(session.reference.as_str(), &session.sid).await? {
        return Err(session_ended());
    }
    tracing::info!(reference = %session.reference, traveller_id = %session.traveller_id, "signed out");
    Response::builder()
        .status(204)
        .header("cache-control", "no-store")
        .header("set-cookie", clear_cookie())
        .body(Body::Empty)
        .map_err(|e| ApiError::internal(format!("building response: {e}")))
}

#[derive(Debug, Serialize)]
struct SignedOutEverywhere {
    sessions_ended: usize,
}

/// `DELETE /auth/sessions`: every session of the caller's traveller on this booking ends (this one included),
/// in every browser and device; their tokens stop working at once. Unused links stay (they are in the
/// traveller's inbox and expire on their own).
async fn sign_out_everywhere(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let now = state.clock.now().timestamp();
    let (session, c) = live_session(state, req, now).await?;
    let end = AccessEnd {
        travellers: Vec::new(),
        sessions: c.sessions.iter().filter(|s| s.traveller_id == session.traveller_id).map(|s| s.sid.clone()).collect(),
    };
    let (ended, _) = state.store.revoke(&c, &end).await?;
    tracing::info!(reference = %session.reference, traveller_id = %session.traveller_id, sessions = ended, "signed out everywhere");
    let mut r = json(200, &SignedOutEverywhere { sessions_ended: ended })?;
    r.headers_mut().insert("set-cookie", clear_cookie().parse().map_err(|_| ApiError::internal("cookie header"))?);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str) -> Request {
        let mut r = Request::new(Body::Empty);
        *r.method_mut() = method.parse().unwrap();
        *r.uri_mut() = path.parse().unwrap();
        r
    }

    #[test]
    fn routing() {
        assert_eq!(route(&req("POST", "/auth/magic-links")).unwrap().0, Route::RequestLink);
        assert_eq!(route(&req("POST", "/auth/sessions")).unwrap().0, Route::CreateSession);
        assert_eq!(route(&req("DELETE", "/auth/sessions/current")).unwrap().0, Route::CurrentSession);
        assert_eq!(route(&req("GET", "/auth/sessions/current")).unwrap().0, Route::CurrentSession);
        assert_eq!(
            route(&req("POST", "/operator/bookings/AE-1/magic-links")).unwrap(),
            (Route::OperatorLink, Some("AE-1".into()))
        );
        assert_eq!(route(&req("POST", "/operator/bookings/AE-1/sessions/revoke")).unwrap().0, Route::OperatorRevoke);
        assert_eq!(route(&req("DELETE", "/auth/sessions")).unwrap().0, Route::AllSessions);
        assert_eq!(route(&req("GET", "/auth/sessions")).unwrap_err().status(), 405);
        assert_eq!(route(&req("HEAD", "/auth/magic-links")).unwrap_err().status(), 405);
        assert_eq!(route(&req("POST", "/auth/nope")).unwrap_err().status(), 404);
    }

    #[test]
    fn sign_in_failure_is_one_precise_problem() {
        let p = sign_in_failed().problem();
        assert_eq!((p.status, p.type_.as_str()), (401, "/problems/sign-in-failed"));
    }

    #[test]
    fn clock_moves_only_when_told() {
        let c = Clock::default();
        let a = c.now();
        c.advance(1000);
        assert!(c.now() - a >= chrono::Duration::seconds(1000));
    }
}

//! Booking documents.
//!
//! - `GET /bookings/{reference}/documents` (customer): the documents, versions and dates the session may see
//!   (the lead: all; another traveller: the itinerary, vouchers for services they are on, and receipts they
//!   paid or were paid for; never the invoice).
//! - `GET /bookings/{reference}/documents/{document_id}/url?version=N` (customer): a presigned S3 `GET` URL
//!   valid for at most 5 minutes with a download file name, and its expiry. Latest version by default.
//! - `POST /operator/bookings/{reference}/documents/regenerate` `{types?}` (operator): 202; the request goes
//!   on the documents queue, which the `document-worker` Lambda consumes (it owns rendering and writing).
//!
//! This function only reads (one `Query`), presigns and queues: it never writes a document.
//!
//! Errors, in order: 405 other methods; 400 malformed reference, document id or version; 401 no/expired
//! session (customer) or operator credentials; 404 another booking, an unknown booking, document or version
//! (identical answers); 422 an unknown document type in `types`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, RequestExt, Response};
use portal_documents::DocType;
use portal_domain::ids::BookingReference;
use portal_http::config::{self, ConfigError};
use portal_http::customer::authorised_booking;
use portal_http::customer::refreshed_cookie;
use portal_http::operator::OperatorAuth;
use portal_http::session::{Session, SessionConfig, not_found_booking};
use portal_http::{ApiError, json, path_param, respond};
use portal_store::documents::{DocumentItem, DocumentQueue, RegenerateMessage, document_items};
use portal_store::{BookingCollection, Store};
use serde::{Deserialize, Serialize};

/// Longest time a download URL is valid.
pub const URL_TTL_SECONDS: u64 = 300;

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub struct State {
    pub store: Store,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub sessions: SessionConfig,
    pub auth: OperatorAuth,
    pub queue: DocumentQueue,
    pub clock: Clock,
}

impl State {
    /// `TABLE_NAME`, `DOCUMENTS_BUCKET`, `DOCUMENTS_QUEUE_URL`, the session and operator auth variables.
    pub async fn from_env() -> Result<State, ConfigError> {
        let table = config::required("TABLE_NAME")?;
        let bucket = config::required("DOCUMENTS_BUCKET")?;
        let url = config::required("DOCUMENTS_QUEUE_URL")?;
        let sdk = portal_store::aws::sdk_config().await;
        Ok(State {
            store: Store::new(portal_store::aws::dynamodb_client(&sdk, None), table),
            s3: aws_sdk_s3::Client::new(&sdk),
            bucket,
            sessions: SessionConfig::from_env()?,
            auth: OperatorAuth::from_env()?,
            queue: DocumentQueue { client: aws_sdk_sqs::Client::new(&sdk), url },
            clock: Arc::new(Utc::now),
        })
    }
}

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Infallible> {
    respond(route(state, req)).await
}

async fn route(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_string();
    let now = (state.clock)();
    if path.ends_with("/documents/regenerate") && path.contains("/operator/") {
        if req.method() != http::Method::POST {
            return Err(ApiError::method_not_allowed());
        }
        return regenerate_route(state, &req).await;
    }
    if req.method() != http::Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    let reference = BookingReference::parse(&path_param(&req, "reference")?)?;
    let document_id = req.path_parameters_ref().and_then(|p| p.first("document_id")).map(str::to_string);
    if let Some(id) = &document_id {
        check_document_id(id)?; // before the session: it reveals nothing
    }
    let (session, c) = authorised_booking(&state.store, &state.sessions, &req, &reference, now.timestamp()).await?;
    let visible = visible_documents(&session, &c)?;
    let cookie = refreshed_cookie(&state.sessions, &session, now.timestamp());
    let mut resp = match document_id {
        None => list(&reference, &visible)?,
        Some(id) => url(state, &req, &reference, &visible, &id, now).await?,
    };
    if let Some(cookie) = cookie
        && let Ok(v) = cookie.parse()
    {
        resp.headers_mut().insert("set-cookie", v);
    }
    Ok(resp)
}

/// 1-90 characters of `A-Za-z0-9_-`: anything else (`..`, `/`, `%2F`, `#`) can never name a document.
fn check_document_id(id: &str) -> Result<(), ApiError> {
    if (1..=90).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(())
    } else {
        Err(ApiError::bad_request("document_id must be 1-90 characters of A-Z, a-z, 0-9, '-' or '_'")
            .with_field("document_id"))
    }
}

/// The versions the session's traveller may see ([`portal_domain::overview::may_see_document`]: the invoice is
/// the lead's, a receipt its payer's and its paid-for traveller's, a voucher its travellers'). Anything else
/// is left out here, so its list entry and its URL answer exactly like a document that does not exist.
fn visible_documents(session: &Session, c: &BookingCollection) -> Result<Vec<DocumentItem>, ApiError> {
    if c.booking.traveller(&session.traveller_id).is_none() {
        return Err(not_found_booking());
    }
    let lead = session.is_lead && c.booking.lead_traveller_id == session.traveller_id;
    Ok(document_items(c)
        .into_iter()
        .filter(|d| {
            let travellers = portal_store::lookup::document_travellers(
                c,
                &d.doc_type,
                d.movement_id.as_deref(),
                &d.traveller_ids,
                d.traveller_id.as_deref(),
            );
            portal_domain::overview::may_see_document(&d.doc_type, &travellers, &session.traveller_id, lead)
        })
        .collect())
}

#[derive(Serialize)]
struct VersionView {
    version: u32,
    generated_at: DateTime<Utc>,
    reason: String,
    size: u64,
}

#[derive(Serialize)]
struct DocumentView {
    document_id: String,
    #[serde(rename = "type")]
    doc_type: String,
    latest_version: u32,
    versions: Vec<VersionView>,
}

fn list(reference: &BookingReference, docs: &[DocumentItem]) -> Result<Response<Body>, ApiError> {
    let mut out: Vec<DocumentView> = Vec::new();
    for d in docs {
        let v =
            VersionView { version: d.version, generated_at: d.generated_at, reason: d.reason.clone(), size: d.size };
        match out.iter_mut().find(|o| o.document_id == d.document_id) {
            Some(o) => {
                o.latest_version = o.latest_version.max(d.version);
                o.versions.push(v);
            }
            None => out.push(DocumentView {
                document_id: d.document_id.clone(),
                doc_type: d.doc_type.clone(),
                latest_version: d.version,
                versions: vec![v],
            }),
        }
    }
    let order = |t: &str| DocType::parse(t).map_or(9, |t| t as u8);
    out.sort_by(|a, b| order(&a.doc_type).cmp(&order(&b.doc_type)).then(a.document_id.cmp(&b.document_id)));
    json(200, &serde_json::json!({ "reference": reference.as_str(), "documents": out }))
}

fn version_param(req: &Request) -> Result<Option<u32>, ApiError> {
    let q = req.query_string_parameters_ref();
    let Some(raw) = q.and_then(|q| q.first("version")) else { return Ok(None) };
    match raw.parse::<u32>() {
        Ok(v) if v >= 1 && raw.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(v)),
        _ => Err(ApiError::bad_request("version must be a positive whole number").with_field("version")),
    }
}

async fn url(
    state: &State,
    req: &Request,
    reference: &BookingReference,
    docs: &[DocumentItem],
    id: &str,
    now: DateTime<Utc>,
) -> Result<Response<Body>, ApiError> {
    let wanted = version_param(req)?;
    let versions = docs.iter().filter(|d| d.document_id == id);
    let doc = match wanted {
        Some(v) => versions.into_iter().find(|d| d.version == v),
        None => versions.max_by_key(|d| d.version),
    }
    .ok_or_else(|| ApiError::not_found("no such document or version on this booking"))?;
    let name = portal_documents::file_name(reference.as_str(), &doc.document_id, doc.version);
    let presigning = PresigningConfig::builder()
        .start_time(now.into())
        .expires_in(Duration::from_secs(URL_TTL_SECONDS))
        .build()
        .map_err(|e| ApiError::internal(format!("presigning config: {e}")))?;
    let presigned = state
        .s3
        .get_object()
        .bucket(&state.bucket)
        .key(&doc.s3_key)
        .response_content_disposition(format!("attachment; filename=\"{name}\""))
        .response_content_type("application/pdf")
        .presigned(presigning)
        .await
        .map_err(|e| ApiError::internal(format!("presigning: {e}")))?;
    let expires_at = now + chrono::Duration::seconds(URL_TTL_SECONDS as i64);
    tracing::info!(reference = %reference, document_id = id, version = doc.version, "document url issued");
    json(
        200,
        &serde_json::json!({
            "document_id": doc.document_id,
            "type": doc.doc_type,
            "version": doc.version,
            "file_name": name,
            "url": presigned.uri(),
            "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }),
    )
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RegenerateBody {
    #[serde(default)]
    types: Option<Vec<String>>,
}

async fn regenerate_route(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    state.auth.authenticate(req)?;
    let reference = BookingReference::parse(&path_param(req, "reference")?)?;
    let body: RegenerateBody = if portal_http::request::body_bytes(req).is_empty() {
        RegenerateBody::default()
    } else {
        portal_http::json_body(req)?
    };
    let mut types = Vec::new();
    for (i, t) in body.types.unwrap_or_default().iter().enumerate() {
        let parsed = DocType::parse(t).ok_or_else(|| {
            ApiError::validation(format!("types[{i}]"), "must be one of invoice, itinerary, voucher, receipt")
        })?;
        types.push(parsed);
    }
    if !state.store.booking_exists(reference.as_str()).await? {
        return Err(not_found_booking());
    }
    let msg = RegenerateMessage {
        reference: reference.to_string(),
        types: types.iter().map(|t| t.as_str().to_string()).collect(),
        reason: "operator_request".into(),
    };
    state.queue.send(&msg).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    tracing::info!(reference = %reference, types = msg.types.len(), "document regeneration queued");
    json(202, &serde_json::json!({ "reference": reference.as_str(), "status": "queued" }))
}

//! Booking documents.
//!
//! - `GET /bookings/{reference}/documents` (customer): the documents, versions and dates the session may see
//!   (the lead: all; a traveller: the shared ones and vouchers for services they are on).
//! - `GET /bookings/{reference}/documents/{document_id}/url?version=N` (customer): a presigned S3 `GET` URL
//!   valid for at most 5 minutes with a download file name, and its expiry. Latest version by default.
//! - `POST /operator/bookings/{reference}/documents/regenerate` `{types?}` (operator): 202; the regeneration
//!   goes on the documents queue (or runs inline when no queue is configured, e.g. locally).
//!
//! [`Generator::regenerate`] is the one generation path (worker, operator route, seeding): it renders every
//! planned document, compares the SHA-256 with the latest version and writes a new version (S3 object, then
//! the conditional `DOC#...` item) only when the content differs. Idempotent: an identical re-run writes
//! nothing; a concurrent run that wrote the same version first wins.
//!
//! Errors, in order: 405 other methods; 400 malformed reference, document id or version; 401 no/expired
//! session (customer) or operator credentials; 404 another booking, an unknown booking, document or version
//! (identical answers); 422 an unknown document type in `types`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, RequestExt, Response};
use portal_documents::{Brand, DocType, Reason, RenderInput};
use portal_domain::ids::BookingReference;
use portal_domain::ledger::LedgerSummary;
use portal_http::config::{self, ConfigError};
use portal_http::customer::authorised_booking;
use portal_http::customer::refreshed_cookie;
use portal_http::operator::OperatorAuth;
use portal_http::session::{Session, SessionConfig, not_found_booking};
use portal_http::{ApiError, json, path_param, respond};
use portal_store::documents::{DocumentItem, DocumentQueue, RegenerateMessage, document_items};
use portal_store::{BookingCollection, Store, StoreError};
use serde::{Deserialize, Serialize};

/// Longest time a download URL is valid.
pub const URL_TTL_SECONDS: u64 = 300;

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Brands for documents, from the same `BRANDS_JSON` as the emails (`name`, `primary_colour`; other fields
/// ignored) plus `DOCUMENT_OPERATOR_DETAILS` (lines separated by `|`) printed under the brand.
#[derive(Debug, Clone)]
pub struct Brands {
    pub by_id: std::collections::HashMap<String, Brand>,
    pub default: Brand,
}

impl Brands {
    pub fn get(&self, id: &str) -> &Brand {
        self.by_id.get(id).unwrap_or(&self.default)
    }

    pub fn parse(json: Option<&str>, operator_details: Option<&str>) -> Result<Brands, ConfigError> {
        #[derive(Deserialize)]
        struct Raw {
            name: String,
            primary_colour: String,
        }
        let lines: Vec<String> =
            operator_details.map(|d| d.split('|').map(|l| l.trim().to_string()).collect()).unwrap_or_default();
        let raw: std::collections::HashMap<String, Raw> = match json {
            None => Default::default(),
            Some(j) => serde_json::from_str(j)
                .map_err(|e| ConfigError { variable: "BRANDS_JSON", problem: format!("not a map of brands: {e}") })?,
        };
        let mut by_id = std::collections::HashMap::new();
        let mut default =
            Brand { name: "Your tour portal".into(), primary_colour: "#1f4e79".into(), operator_lines: lines.clone() };
        for (id, r) in raw {
            let b = Brand { name: r.name, primary_colour: r.primary_colour, operator_lines: lines.clone() };
            if id == "default" {
                default = b;
            } else {
                by_id.insert(id, b);
            }
        }
        Ok(Brands { by_id, default })
    }
}

/// Renders and stores document versions.
#[derive(Clone)]
pub struct Generator {
    pub store: Store,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub brands: Brands,
}

/// What a regeneration did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// `(document id, new version)` for every version written.
    pub written: Vec<(String, u32)>,
    pub unchanged: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("booking not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("S3: {0}")]
    S3(String),
    #[error("render: {0}")]
    Render(String),
}

impl From<GenerateError> for ApiError {
    fn from(e: GenerateError) -> ApiError {
        match e {
            GenerateError::NotFound => not_found_booking(),
            GenerateError::Store(s) => s.into(),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl Generator {
    /// Bring the booking's documents (of `types`, all when empty) up to date. Identical content: no version.
    ///
    /// A concurrent run that wrote the same version number first makes this run start again from a fresh
    /// read (its content may be newer); after three such races the error goes back to the caller (the worker
    /// then leaves the message for SQS to redeliver).
    pub async fn regenerate(
        &self,
        reference: &str,
        types: &[DocType],
        reason: Reason,
        now: DateTime<Utc>,
    ) -> Result<Outcome, GenerateError> {
        let mut total = Outcome::default();
        for attempt in 0..3 {
            match self.regenerate_once(reference, types, reason, now, &mut total).await {
                Err(GenerateError::Store(StoreError::Conflict(c))) if attempt < 2 => {
                    tracing::info!(reference, conflict = %c, "concurrent document write; re-reading");
                }
                Err(e) => return Err(e),
                Ok(()) => {
                    tracing::info!(
                        reference,
                        written = total.written.len(),
                        unchanged = total.unchanged,
                        "documents regenerated"
                    );
                    return Ok(total);
                }
            }
        }
        Err(GenerateError::Store(StoreError::Conflict("document versions kept changing".into())))
    }

    async fn regenerate_once(
        &self,
        reference: &str,
        types: &[DocType],
        reason: Reason,
        now: DateTime<Utc>,
        out: &mut Outcome,
    ) -> Result<(), GenerateError> {
        out.unchanged = 0;
        let c = self.store.load_booking(reference).await?.ok_or(GenerateError::NotFound)?;
        let existing = document_items(&c);
        let summary = LedgerSummary::compute(&c.booking, &c.movements, &c.instalments, now.date_naive())
            .map_err(|e| GenerateError::Render(e.to_string()))?;
        let brand = self.brands.get(&c.booking.brand);
        let input = RenderInput { booking: &c.booking, movements: &c.movements, summary: &summary, brand };
        for spec in portal_documents::plan(&c.booking, &c.movements) {
            if !types.is_empty() && !types.contains(&spec.doc_type) {
                continue;
            }
            let rendered = portal_documents::render(&spec, &input).map_err(|e| GenerateError::Render(e.to_string()))?;
            let latest = existing.iter().filter(|d| d.document_id == spec.document_id).max_by_key(|d| d.version);
            if latest.is_some_and(|l| l.sha256 == rendered.sha256) {
                out.unchanged += 1;
                continue;
            }
            let version = latest.map_or(1, |l| l.version + 1);
            let reason = if latest.is_none() { Reason::Created } else { reason };
            let mut item = DocumentItem::new(
                c.booking.reference.as_str(),
                spec.doc_type.as_str(),
                &spec.document_id,
                version,
                now,
                reason_str(reason),
                rendered.sha256.clone(),
                rendered.pdf.len() as u64,
            );
            item.traveller_id = spec.traveller_id.clone();
            item.traveller_ids = spec.traveller_ids.clone();
            item.movement_id = spec.movement_id.clone();
            // The object first, then the item that makes it visible: a crash between the two leaves an
            // unlisted object (its key carries its hash, so nothing else is ever stored under it).
            self.s3
                .put_object()
                .bucket(&self.bucket)
                .key(&item.s3_key)
                .content_type("application/pdf")
                .body(ByteStream::from(rendered.pdf))
                .send()
                .await
                .map_err(|e| GenerateError::S3(StoreError::aws(e).to_string()))?;
            // Conditional on the version not existing: a concurrent run that got there first is a Conflict.
            self.store.put_document_version(&item).await?;
            out.written.push((spec.document_id.clone(), version));
        }
        Ok(())
    }
}

pub fn reason_str(r: Reason) -> &'static str {
    match r {
        Reason::Created => "created",
        Reason::BookingChanged => "booking_changed",
        Reason::PaymentRecorded => "payment_recorded",
        Reason::OperatorRequest => "operator_request",
    }
}

pub fn parse_reason(s: &str) -> Reason {
    match s {
        "created" => Reason::Created,
        "payment_recorded" => Reason::PaymentRecorded,
        "operator_request" => Reason::OperatorRequest,
        _ => Reason::BookingChanged,
    }
}

pub struct State {
    pub generator: Generator,
    pub sessions: SessionConfig,
    pub auth: OperatorAuth,
    /// `None`: the operator route regenerates inline (local portal).
    pub queue: Option<DocumentQueue>,
    pub clock: Clock,
}

impl State {
    pub async fn from_env() -> Result<State, ConfigError> {
        let table = config::required("TABLE_NAME")?;
        let bucket = config::required("DOCUMENTS_BUCKET")?;
        let sdk = portal_store::aws::sdk_config().await;
        let brands = Brands::parse(
            config::optional("BRANDS_JSON").as_deref(),
            config::optional("DOCUMENT_OPERATOR_DETAILS").as_deref(),
        )?;
        let queue = DocumentQueue::from_env(&sdk);
        Ok(State {
            generator: Generator {
                store: Store::new(portal_store::aws::dynamodb_client(&sdk, None), table),
                s3: aws_sdk_s3::Client::new(&sdk),
                bucket,
                brands,
            },
            sessions: SessionConfig::from_env()?,
            auth: OperatorAuth::from_env()?,
            queue,
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
        return regenerate_route(state, &req, now).await;
    }
    if req.method() != http::Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    let reference = BookingReference::parse(&path_param(&req, "reference")?)?;
    let document_id = req.path_parameters_ref().and_then(|p| p.first("document_id")).map(str::to_string);
    if let Some(id) = &document_id {
        check_document_id(id)?; // before the session: it reveals nothing
    }
    let (session, c) =
        authorised_booking(&state.generator.store, &state.sessions, &req, &reference, now.timestamp()).await?;
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

/// The versions the session's traveller may see. A traveller no longer on the booking: the unknown-booking 404.
fn visible_documents(session: &Session, c: &BookingCollection) -> Result<Vec<DocumentItem>, ApiError> {
    if c.booking.traveller(&session.traveller_id).is_none() {
        return Err(not_found_booking());
    }
    let lead = session.is_lead && c.booking.lead_traveller_id == session.traveller_id;
    Ok(document_items(c)
        .into_iter()
        .filter(|d| lead || d.traveller_ids.is_empty() || d.traveller_ids.contains(&session.traveller_id))
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
        .generator
        .s3
        .get_object()
        .bucket(&state.generator.bucket)
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

async fn regenerate_route(state: &State, req: &Request, now: DateTime<Utc>) -> Result<Response<Body>, ApiError> {
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
    if !state.generator.store.booking_exists(reference.as_str()).await? {
        return Err(not_found_booking());
    }
    match &state.queue {
        Some(q) => {
            let msg = RegenerateMessage {
                reference: reference.to_string(),
                types: types.iter().map(|t| t.as_str().to_string()).collect(),
                reason: reason_str(Reason::OperatorRequest).into(),
            };
            q.send(&msg).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
        }
        None => {
            state.generator.regenerate(reference.as_str(), &types, Reason::OperatorRequest, now).await?;
        }
    }
    json(202, &serde_json::json!({ "reference": reference.as_str(), "status": "queued" }))
}

//! The document worker: consumes regeneration requests from the documents SQS queue (sent after an operator
//! upsert commits, on a recorded payment, or by `POST /operator/bookings/{reference}/documents/regenerate`)
//! and brings the booking's documents up to date with [`Generator::regenerate`], the one generation path: it
//! renders every planned document, compares the SHA-256 with the latest version and writes a new version (S3
//! object, then the conditional `DOC#...` item) only when the content differs.
//!
//! Idempotent: a redelivered or duplicate message renders the same bytes, finds the same hash and writes
//! nothing. A failing message is reported in `batchItemFailures` (partial batch response) so only it is
//! retried; after `maxReceiveCount` receives SQS moves it to the dead-letter queue. A message for a booking
//! that no longer exists, or that is not a request at all, is logged and dropped (retrying cannot help).
//!
//! Brand logos (`logo_key` in `BRANDS_JSON`: a PNG or JPEG in the documents bucket) are fetched on a brand's
//! first regeneration, not at cold start, and kept for the life of the container. A logo that cannot be fetched
//! or used is logged at warn and not kept (the next regeneration tries again); the documents then show the
//! brand's monogram: a logo never fails a regeneration.
//!
//! The CJK fallback font is not built into the binary (4 MB, for the few documents with characters DejaVu
//! Sans lacks): the first such document in a container fetches it from the documents bucket
//! ([`portal_documents::FALLBACK_FONT_KEY`], uploaded by infra, checked by SHA-256) and keeps it. If it cannot be
//! fetched, that booking's regeneration fails and its message is retried: a document is never drawn with
//! missing glyphs.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use portal_documents::{
    Brand, DocType, DocumentSpec, FallbackFont, Logo, MAX_FALLBACK_FONT_BYTES, MAX_LOGO_BYTES, Reason, RenderError,
    RenderInput, Rendered,
};
use portal_domain::ledger::LedgerSummary;
use portal_http::ApiError;
use portal_http::config::{self, ConfigError};
use portal_http::session::not_found_booking;
use portal_store::documents::{DocumentItem, RegenerateMessage, document_items};
use portal_store::{Store, StoreError};
use serde::{Deserialize, Serialize};

pub async fn handle(generator: &Generator, event: SqsEvent, now: DateTime<Utc>) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let Some(msg) = record.body.as_deref().and_then(|b| serde_json::from_str::<RegenerateMessage>(b).ok()) else {
            tracing::warn!(message_id = %id, "not a regeneration request; dropped");
            continue;
        };
        let types: Vec<DocType> = msg.types.iter().filter_map(|t| DocType::parse(t)).collect();
        match generator.regenerate(&msg.reference, &types, parse_reason(&msg.reason), now).await {
            Ok(_) => {}
            Err(GenerateError::NotFound) => {
                tracing::warn!(message_id = %id, reference = %msg.reference, "booking gone; dropped")
            }
            Err(e) => {
                tracing::error!(message_id = %id, reference = %msg.reference, error = %e, "regeneration failed; will retry");
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                failures.push(f);
            }
        }
    }
    let mut resp = SqsBatchResponse::default();
    resp.batch_item_failures = failures;
    resp
}

/// Brands for documents, from the same `BRANDS_JSON` as the emails (`name`, `primary_colour`, optional
/// `logo_key`; other fields ignored) plus `DOCUMENT_OPERATOR_DETAILS` (lines separated by `|`) printed under the
/// brand. The brands' [`Brand::logo`] stay `None` here: [`Generator::brand`] adds the logo.
#[derive(Debug, Clone)]
pub struct Brands {
    pub by_id: std::collections::HashMap<String, Brand>,
    pub default: Brand,
    /// Brand id (`default` included) → the S3 key of its logo in the documents bucket, under `brands/`.
    pub logo_keys: std::collections::HashMap<String, String>,
    /// Logos fetched so far, by S3 key, shared by clones (one per container).
    logos: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Logo>>>,
}

impl Brands {
    pub fn get(&self, id: &str) -> &Brand {
        self.by_id.get(id).unwrap_or(&self.default)
    }

    /// The logo key of the brand documents of brand `id` are drawn with (an unknown brand: the default's).
    pub fn logo_key(&self, id: &str) -> Option<&str> {
        let id = if self.by_id.contains_key(id) { id } else { "default" };
        self.logo_keys.get(id).map(String::as_str)
    }

    fn cached(&self, key: &str) -> Option<Logo> {
        self.logos.lock().ok().and_then(|m| m.get(key).cloned())
    }

    fn keep(&self, key: &str, logo: Logo) {
        if let Ok(mut m) = self.logos.lock() {
            m.insert(key.to_string(), logo);
        }
    }

    pub fn parse(json: Option<&str>, operator_details: Option<&str>) -> Result<Brands, ConfigError> {
        #[derive(Deserialize)]
        struct Raw {
            name: String,
            primary_colour: String,
            #[serde(default)]
            logo_key: Option<String>,
        }
        let lines: Vec<String> =
            operator_details.map(|d| d.split('|').map(|l| l.trim().to_string()).collect()).unwrap_or_default();
        let raw: std::collections::HashMap<String, Raw> = match json {
            None => Default::default(),
            Some(j) => serde_json::from_str(j)
                .map_err(|e| ConfigError { variable: "BRANDS_JSON", problem: format!("not a map of brands: {e}") })?,
        };
        let mut by_id = std::collections::HashMap::new();
        let mut logo_keys = std::collections::HashMap::new();
        let mut default = Brand {
            name: "Your tour portal".into(),
            primary_colour: "#1f4e79".into(),
            operator_lines: lines.clone(),
            logo: None,
        };
        for (id, r) in raw {
            if let Some(key) = r.logo_key {
                if !logo_key_ok(&key) {
                    return Err(ConfigError {
                        variable: "BRANDS_JSON",
                        problem: format!("brand `{id}`: logo_key must be an S3 key under brands/ (A-Za-z0-9 . _ - /)"),
                    });
                }
                logo_keys.insert(id.clone(), key);
            }
            let b = Brand { name: r.name, primary_colour: r.primary_colour, operator_lines: lines.clone(), logo: None };
            if id == "default" {
                default = b;
            } else {
                by_id.insert(id, b);
            }
        }
        Ok(Brands { by_id, default, logo_keys, logos: Default::default() })
    }
}

/// A logo key names an object under `brands/` (the only prefix the worker may read), in plain characters.
fn logo_key_ok(key: &str) -> bool {
    key.len() <= 512
        && key.strip_prefix("brands/").is_some_and(|rest| !rest.is_empty())
        && key.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
        && key.chars().all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
}

/// Why a brand's logo is not drawn (logged; the documents show the monogram).
#[derive(Debug, thiserror::Error)]
enum LogoFetchError {
    #[error("S3 GetObject failed: {0}")]
    S3(String),
    #[error("{0} bytes: more than {MAX_LOGO_BYTES}")]
    TooLarge(i64),
    #[error(transparent)]
    Logo(#[from] portal_documents::LogoError),
}

/// The error's code (`NoSuchKey`, `AccessDenied`, …) or kind, never the request (the logs carry no signature).
fn s3_error<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> String {
    match e {
        SdkError::ServiceError(s) => s.err().code().unwrap_or("unknown service error").to_string(),
        SdkError::TimeoutError(_) => "timeout".into(),
        SdkError::DispatchFailure(_) => "dispatch failure".into(),
        SdkError::ResponseError(_) => "unreadable response".into(),
        SdkError::ConstructionFailure(_) => "request not built".into(),
        _ => "unknown".into(),
    }
}

/// Renders and stores document versions.
#[derive(Clone)]
pub struct Generator {
    pub store: Store,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub brands: Brands,
    /// The fallback font once fetched, shared by clones (one per container).
    fallback_font: std::sync::Arc<std::sync::Mutex<Option<FallbackFont>>>,
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
    /// `TABLE_NAME`, `DOCUMENTS_BUCKET`, `BRANDS_JSON`, `DOCUMENT_OPERATOR_DETAILS` (the worker needs no more).
    pub async fn from_env() -> Result<Generator, ConfigError> {
        Generator::from_config(&portal_store::aws::sdk_config().await)
    }

    pub fn from_config(sdk: &aws_config::SdkConfig) -> Result<Generator, ConfigError> {
        let table = config::required("TABLE_NAME")?;
        let bucket = config::required("DOCUMENTS_BUCKET")?;
        let brands = Brands::parse(
            config::optional("BRANDS_JSON").as_deref(),
            config::optional("DOCUMENT_OPERATOR_DETAILS").as_deref(),
        )?;
        Ok(Generator::new(
            Store::new(portal_store::aws::dynamodb_client(sdk, None), table),
            aws_sdk_s3::Client::new(sdk),
            bucket,
            brands,
        ))
    }

    pub fn new(store: Store, s3: aws_sdk_s3::Client, bucket: String, brands: Brands) -> Generator {
        Generator { store, s3, bucket, brands, fallback_font: Default::default() }
    }

    /// Renders one document; if it needs the fallback font and `font` is empty, fetches the font (kept in
    /// `font` and for the container) and renders again.
    async fn render(
        &self,
        spec: &DocumentSpec,
        input: RenderInput<'_>,
        font: &mut Option<FallbackFont>,
    ) -> Result<Rendered, GenerateError> {
        let rendered = match portal_documents::render(spec, &RenderInput { fallback_font: font.as_ref(), ..input }) {
            Err(RenderError::FallbackFontNeeded) if font.is_none() => {
                *font = Some(self.fallback_font().await?);
                portal_documents::render(spec, &RenderInput { fallback_font: font.as_ref(), ..input })
            }
            other => other,
        };
        rendered.map_err(|e| GenerateError::Render(e.to_string()))
    }

    /// The fallback font: the container's copy, else fetched from the documents bucket and checked.
    async fn fallback_font(&self) -> Result<FallbackFont, GenerateError> {
        if let Some(font) = self.fallback_font.lock().ok().and_then(|f| f.clone()) {
            return Ok(font);
        }
        let key = portal_documents::FALLBACK_FONT_KEY;
        let fetched = async {
            let out = self.s3.get_object().bucket(&self.bucket).key(key).send().await.map_err(|e| s3_error(&e))?;
            if out.content_length().unwrap_or_default() > MAX_FALLBACK_FONT_BYTES as i64 {
                return Err("larger than any font it could be".to_string());
            }
            let bytes = out.body.collect().await.map_err(|e| e.to_string())?.into_bytes();
            if bytes.len() > MAX_FALLBACK_FONT_BYTES {
                return Err("larger than any font it could be".to_string());
            }
            FallbackFont::new(bytes.to_vec()).map_err(|e| e.to_string())
        }
        .await;
        match fetched {
            Ok(font) => {
                tracing::info!(key, bytes = font.bytes().len(), "fallback font loaded");
                if let Ok(mut cached) = self.fallback_font.lock() {
                    *cached = Some(font.clone());
                }
                Ok(font)
            }
            Err(e) => {
                tracing::warn!(key, error = %e, "fallback font unavailable; the regeneration will be retried");
                Err(GenerateError::S3(format!("fallback font {key}: {e}")))
            }
        }
    }

    /// The brand documents of brand `id` are drawn with, its logo included when it has one that can be used:
    /// fetched from the documents bucket on first use and kept for the container. A logo that cannot be fetched
    /// or used is logged at warn, not kept, and left out (the header shows the monogram).
    pub async fn brand(&self, id: &str) -> Brand {
        let mut brand = self.brands.get(id).clone();
        let Some(key) = self.brands.logo_key(id) else {
            return brand;
        };
        if let Some(logo) = self.brands.cached(key) {
            brand.logo = Some(logo);
            return brand;
        }
        match self.fetch_logo(key).await {
            Ok(logo) => {
                tracing::info!(brand = id, key, bytes = logo.bytes().len(), "brand logo loaded");
                self.brands.keep(key, logo.clone());
                brand.logo = Some(logo);
            }
            Err(e) => tracing::warn!(brand = id, key, error = %e, "brand logo not used; documents show the monogram"),
        }
        brand
    }

    async fn fetch_logo(&self, key: &str) -> Result<Logo, LogoFetchError> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| LogoFetchError::S3(s3_error(&e)))?;
        // Refused before the body is read when S3 says it is too big; checked again on what arrived.
        let declared = out.content_length().unwrap_or_default();
        if declared > MAX_LOGO_BYTES as i64 {
            return Err(LogoFetchError::TooLarge(declared));
        }
        let bytes = out.body.collect().await.map_err(|e| LogoFetchError::S3(e.to_string()))?.into_bytes();
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(LogoFetchError::TooLarge(bytes.len() as i64));
        }
        Ok(Logo::new(bytes.to_vec())?)
    }

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
        let brand = self.brand(&c.booking.brand).await;
        let input = RenderInput {
            booking: &c.booking,
            movements: &c.movements,
            summary: &summary,
            brand: &brand,
            fallback_font: None,
        };
        let mut font = self.fallback_font.lock().ok().and_then(|f| f.clone());
        // Every document is rendered before any is written: a document that cannot be drawn (the fallback
        // font unavailable, a service gone) fails the run with nothing written, and the retry starts whole.
        let mut documents = Vec::new();
        for spec in portal_documents::plan(&c.booking, &c.movements) {
            if !types.is_empty() && !types.contains(&spec.doc_type) {
                continue;
            }
            let rendered = self.render(&spec, input, &mut font).await?;
            documents.push((spec, rendered));
        }
        for (spec, rendered) in documents {
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
            // A new version of a document the customer has (after a change or on request) tells them, in the same
            // transaction; first versions and the invoice's after a payment do not (the confirmation and the
            // receipt already did).
            let notice = (version > 1 && matches!(reason, Reason::BookingChanged | Reason::OperatorRequest))
                .then(|| {
                    portal_notify::Notice::new(
                        &format!("documents:{}:{version}", spec.document_id),
                        portal_notify::NoticeKind::DocumentsUpdated,
                        &c.booking,
                        portal_notify::Recipient::party(&c.booking),
                        portal_notify::Content::Documents { documents: vec![spec.doc_type.as_str().to_string()] },
                        now,
                    )
                })
                .flatten();
            // Conditional on the version not existing: a concurrent run that got there first is a Conflict.
            self.store.put_document_version_noticed(&item, notice).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logo_keys_are_per_brand_under_brands_and_unknown_brands_get_the_default_one() {
        let json = r##"{"default": {"name": "Tours", "primary_colour": "#000000", "logo_key": "brands/default/logo.jpg"},
                        "a": {"name": "A", "primary_colour": "#111111", "logo_key": "brands/a/logo.png", "sender": "x@y.z"},
                        "b": {"name": "B", "primary_colour": "#222222"}}"##;
        let brands = Brands::parse(Some(json), None).unwrap();
        assert_eq!(brands.logo_key("a"), Some("brands/a/logo.png"));
        assert_eq!(brands.logo_key("b"), None, "a brand without a logo never borrows the default's");
        assert_eq!(brands.logo_key("unknown"), Some("brands/default/logo.jpg"));
        assert_eq!(brands.get("a").logo, None, "fetched on first use, not at start");
        for bad in
            ["bookings/AE-1/invoice.pdf", "brands/", "brands/../bookings/x", "brands//x", "/brands/a", "brands/a b"]
        {
            let json = format!(r##"{{"a": {{"name": "A", "primary_colour": "#111111", "logo_key": "{bad}"}}}}"##);
            assert!(Brands::parse(Some(&json), None).is_err(), "{bad}");
        }
    }
}

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

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use portal_documents::{Brand, DocType, Reason, RenderInput};
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
        Ok(Generator {
            store: Store::new(portal_store::aws::dynamodb_client(sdk, None), table),
            s3: aws_sdk_s3::Client::new(sdk),
            bucket,
            brands,
        })
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

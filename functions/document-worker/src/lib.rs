//! The document worker: consumes regeneration requests from the documents SQS queue (sent after an operator
//! upsert commits, on a recorded payment, or by `POST /operator/bookings/{reference}/documents/regenerate`)
//! and brings the booking's documents up to date with [`documents::Generator::regenerate`].
//!
//! Idempotent: a redelivered or duplicate message renders the same bytes, finds the same hash and writes
//! nothing. A failing message is reported in `batchItemFailures` (partial batch response) so only it is
//! retried; after `maxReceiveCount` receives SQS moves it to the dead-letter queue. A message for a booking
//! that no longer exists, or that is not a request at all, is logged and dropped (retrying cannot help).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use documents::{GenerateError, Generator, parse_reason};
use portal_documents::DocType;
use portal_store::documents::RegenerateMessage;

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

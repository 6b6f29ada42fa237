//! Document version items (`DOC#<type>#<document id>#<version>` in the booking collection) and the
//! regeneration queue message. The S3 key of a version is built here from the booking reference, the type,
//! the document id and the version — never from anything a client sends.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{Item, from_item, to_item};
use crate::{BookingCollection, Store, StoreError, keys};

pub const ENTITY_DOCUMENT: &str = crate::lookup::ENTITY_DOCUMENT;

/// Sort key of a document version; the version is zero-padded so versions sort in order.
pub fn document_sk(doc_type: &str, document_id: &str, version: u32) -> String {
    format!("{}{doc_type}#{document_id}#{version:06}", keys::PREFIX_DOCUMENT)
}

/// `bookings/<REF>/<type>/<document id>/v<version>-<first 16 hex of the SHA-256>.pdf`. The parts are a checked
/// booking reference, a fixed type name, an id built from operator-checked ids (`[A-Za-z0-9_-]`) and hex: no
/// `/`, `..` or foreign prefix can appear. The hash in the key means two workers racing for the same version
/// with different content never overwrite each other's object: the item that wins names its own bytes.
pub fn document_key(reference: &str, doc_type: &str, document_id: &str, version: u32, sha256: &str) -> String {
    let short = sha256.get(..16).unwrap_or(sha256);
    format!("bookings/{reference}/{doc_type}/{document_id}/v{version}-{short}.pdf")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    #[serde(rename = "type")]
    pub doc_type: String,
    pub document_id: String,
    pub version: u32,
    pub generated_at: DateTime<Utc>,
    /// `created`, `booking_changed`, `payment_recorded`, `operator_request`.
    pub reason: String,
    /// SHA-256 (hex) of the PDF bytes.
    pub sha256: String,
    pub size: u64,
    pub s3_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traveller_id: Option<String>,
    /// Travellers a voucher is for (empty: everyone on the booking).
    #[serde(default)]
    pub traveller_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub movement_id: Option<String>,
}

impl DocumentItem {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        reference: &str,
        doc_type: &str,
        document_id: &str,
        version: u32,
        generated_at: DateTime<Utc>,
        reason: &str,
        sha256: String,
        size: u64,
    ) -> DocumentItem {
        DocumentItem {
            pk: keys::booking_pk(reference),
            sk: document_sk(doc_type, document_id, version),
            entity: ENTITY_DOCUMENT.into(),
            doc_type: doc_type.into(),
            document_id: document_id.into(),
            version,
            generated_at,
            reason: reason.into(),
            s3_key: document_key(reference, doc_type, document_id, version, &sha256),
            sha256,
            size,
            traveller_id: None,
            traveller_ids: Vec::new(),
            movement_id: None,
        }
    }
}

/// Every document version in a loaded collection, by document id then version. Unreadable items are skipped
/// and logged.
pub fn document_items(c: &BookingCollection) -> Vec<DocumentItem> {
    let mut out: Vec<DocumentItem> = c
        .other
        .iter()
        .filter(|i| i.get("entity").and_then(|v| v.as_s().ok()).map(String::as_str) == Some(ENTITY_DOCUMENT))
        .filter_map(|i: &Item| match from_item::<DocumentItem>(i.clone()) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(reference = %c.booking.reference, error = %e, "unreadable document item skipped");
                None
            }
        })
        .collect();
    out.sort_by(|a, b| a.document_id.cmp(&b.document_id).then(a.version.cmp(&b.version)));
    out
}

impl Store {
    /// Record a new version; `Conflict` if that version exists already (a concurrent worker wrote it).
    pub async fn put_document_version(&self, item: &DocumentItem) -> Result<(), StoreError> {
        let put = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(to_item(item)?))
            .condition_expression("attribute_not_exists(pk)");
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) {
                    Err(StoreError::Conflict(format!("document version {} exists", item.sk)))
                } else {
                    Err(StoreError::aws(e))
                }
            }
        }
    }

    /// [`Store::put_document_version`] and the customer's "documents updated" notice in one transaction.
    pub async fn put_document_version_noticed(
        &self,
        item: &DocumentItem,
        notice: Option<portal_notify::Notice>,
    ) -> Result<(), StoreError> {
        let Some(n) = notice else { return self.put_document_version(item).await };
        let mut tx = crate::store::Tx::default();
        tx.put_new(self.table(), item)?;
        crate::notices::stage_notice(&mut tx, self.table(), n)?;
        match self.commit_naming_failures(tx).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Conflict(format!("document version {} exists", item.sk))),
        }
    }

    /// Whether a booking exists (one projected `GetItem`).
    pub async fn booking_exists(&self, reference: &str) -> Result<bool, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(keys::booking_pk(reference)))
            .key("sk", AttributeValue::S(keys::SK_BOOKING.into()))
            .projection_expression("pk")
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(out.item.is_some_and(|i| !i.is_empty()))
    }
}

/// The regeneration request put on the documents queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegenerateMessage {
    pub reference: String,
    /// Types to regenerate; empty: all.
    #[serde(default)]
    pub types: Vec<String>,
    pub reason: String,
}

/// The SQS queue the document worker consumes (with a dead-letter queue after a few receives, in Terraform).
#[derive(Debug, Clone)]
pub struct DocumentQueue {
    pub client: aws_sdk_sqs::Client,
    pub url: String,
}

impl DocumentQueue {
    /// The queue named by `DOCUMENTS_QUEUE_URL`, if set (functions that only enqueue).
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Option<DocumentQueue> {
        let url = std::env::var("DOCUMENTS_QUEUE_URL").ok().filter(|u| !u.trim().is_empty())?;
        Some(DocumentQueue { client: aws_sdk_sqs::Client::new(sdk), url })
    }

    pub async fn send(&self, msg: &RegenerateMessage) -> Result<(), StoreError> {
        let body = serde_json::to_string(msg).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.client.send_message().queue_url(&self.url).message_body(body).send().await.map_err(StoreError::aws)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_built_from_checked_parts() {
        assert_eq!(document_sk("invoice", "invoice", 2), "DOC#invoice#invoice#000002");
        assert_eq!(
            document_key("AE-10001", "invoice", "invoice", 2, "0123456789abcdef0123"),
            "bookings/AE-10001/invoice/invoice/v2-0123456789abcdef.pdf"
        );
        assert!(document_sk("invoice", "invoice", 10) > document_sk("invoice", "invoice", 9));
    }
}

//! Reads for the customer's booking lookup (`functions/bookings`): the bookings of a verified email, session
//! liveness, and the documents of a loaded collection. The overview itself is [`Store::load_booking`] (one
//! `Query`, which also carries the session items).
//!
//! `GET /bookings` (access pattern 3 in `docs/data-model.md`): one `GetItem` proves the session is live, one
//! `Query` on `by_email` (KEYS_ONLY: the reference comes from `pk`) lists the bookings newest travel first,
//! one `BatchGetItem` per 100 bookings reads the version, aggregate and booking attributes of their `BOOKING`
//! items (the booking is one JSON string attribute, so the listing fields are parsed out of it here; the
//! travellers, itinerary and price lines it also carries are dropped unread and never leave the function).

use std::collections::HashMap;

use aws_sdk_dynamodb::config::AsyncSleep;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use chrono::{DateTime, NaiveDate, Utc};
use portal_domain::booking::BookingStatus;
use portal_domain::ids::BookingReference;
use portal_domain::money::Currency;
use portal_domain::overview::DocumentRecord;
use serde::Deserialize;

use crate::items::Aggregate;
use crate::store::{Item, from_item};
use crate::tables::INDEX_BY_EMAIL;
use crate::{BookingCollection, Store, StoreError, keys};

/// Entity of a generated document version (`DOC#<type>#<id>#<version>`), written by the documents function.
pub const ENTITY_DOCUMENT: &str = "document";

/// DynamoDB's limit on keys in one `BatchGetItem`.
const MAX_BATCH_GET: usize = 100;
/// `UnprocessedKeys` retries before giving up (throttling); each waits a little longer.
const MAX_BATCH_RETRIES: u32 = 5;
/// A customer has a handful of bookings; this bounds what one listing reads.
pub const MAX_LISTED_BOOKINGS: usize = 200;

/// The listing fields of one booking (from the `BOOKING` item's `aggregate` and a few booking fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingSummary {
    pub reference: BookingReference,
    pub brand: String,
    pub status: BookingStatus,
    pub waitlist_position: Option<u32>,
    pub currency: Currency,
    pub locale: String,
    pub travel_start: NaiveDate,
    pub travel_end: NaiveDate,
    pub version: u64,
    pub aggregate: Aggregate,
}

#[derive(Deserialize)]
struct ListingItem {
    version: u64,
    aggregate: Aggregate,
    #[serde(with = "crate::items::json_string")]
    booking: ListingBooking,
}

#[derive(Deserialize)]
struct ListingBooking {
    reference: BookingReference,
    brand: String,
    status: BookingStatus,
    #[serde(default)]
    waitlist_position: Option<u32>,
    currency: Currency,
    locale: String,
    travel_start: NaiveDate,
    travel_end: NaiveDate,
}

/// The document item as far as the overview reads it; other attributes (S3 key, checksum...) are ignored.
#[derive(Deserialize)]
struct DocumentItem {
    #[serde(rename = "type")]
    doc_type: String,
    document_id: String,
    version: u32,
    #[serde(default)]
    generated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    traveller_id: Option<String>,
    #[serde(default)]
    movement_id: Option<String>,
    #[serde(default)]
    traveller_ids: Vec<String>,
}

/// The documents of a loaded collection (`entity = "document"` items in `other`). An unreadable document
/// item is skipped and logged: a bad document must not hide the booking.
pub fn documents(c: &BookingCollection) -> Vec<DocumentRecord> {
    let mut out = Vec::new();
    for item in &c.other {
        if item.get("entity").and_then(|v| v.as_s().ok()).map(String::as_str) != Some(ENTITY_DOCUMENT) {
            continue;
        }
        match from_item::<DocumentItem>(item.clone()) {
            Ok(d) => out.push(DocumentRecord {
                travellers: document_travellers(
                    c,
                    &d.doc_type,
                    d.movement_id.as_deref(),
                    &d.traveller_ids,
                    d.traveller_id.as_deref(),
                ),
                doc_type: d.doc_type,
                document_id: d.document_id,
                version: d.version,
                generated_at: d.generated_at,
                traveller_id: d.traveller_id,
                movement_id: d.movement_id,
            }),
            Err(e) => tracing::warn!(reference = %c.booking.reference, error = %e, "unreadable document item skipped"),
        }
    }
    out
}

/// Who besides the lead a document is for ([`portal_domain::overview::may_see_document`] decides): for a
/// receipt, the traveller its payment paid for and its payer (the checkout's payer, or for an instalment the
/// runner charged, the traveller who approved it), from the collection as it is now; for anything else the
/// travellers the document item names (`traveller_ids`, or its one `traveller_id`).
pub fn document_travellers(
    c: &BookingCollection,
    doc_type: &str,
    movement_id: Option<&str>,
    traveller_ids: &[String],
    traveller_id: Option<&str>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if doc_type == "receipt" {
        let Some(movement_id) = movement_id else {
            return out;
        };
        if let Some(m) = c.movements.iter().find(|m| m.id == movement_id) {
            out.extend(m.traveller_id.clone());
            let intents = crate::payments::intents(c);
            match intents.iter().find(|i| i.movement_id == movement_id) {
                Some(i) => out.push(i.payer_traveller_id.clone()),
                None => out.extend(
                    c.instalments
                        .iter()
                        .filter(|i| m.instalment_ids.contains(&i.id))
                        .filter_map(|i| i.approval.as_ref().map(|a| a.approved_by.clone())),
                ),
            }
        }
    } else if !traveller_ids.is_empty() {
        out.extend(traveller_ids.iter().cloned());
    } else {
        out.extend(traveller_id.map(str::to_string));
    }
    out.sort();
    out.dedup();
    out
}

/// The reference in a `by_email` key (`pk = B#<REF>`).
fn reference_of(key: &Item) -> Option<&str> {
    key.get("pk").and_then(|v| v.as_s().ok()).and_then(|pk| pk.strip_prefix("B#"))
}

impl Store {
    /// Whether the session item `SESSION#<sid>` is still in the booking's collection (one strongly
    /// consistent `GetItem`, projected to its key).
    pub async fn session_is_live(&self, reference: &str, sid: &str) -> Result<bool, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(keys::booking_pk(reference)))
            .key("sk", AttributeValue::S(keys::session_sk(sid)))
            .projection_expression("pk")
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(out.item.is_some_and(|i| !i.is_empty()))
    }

    /// Every booking `email` is a traveller on, newest travel first (at most [`MAX_LISTED_BOOKINGS`]).
    pub async fn bookings_for_email(&self, email: &str) -> Result<Vec<BookingSummary>, StoreError> {
        // 1. The index: newest travel first (gsi1sk = <travel_start>#<REF>, read backwards).
        let mut references: Vec<String> = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(INDEX_BY_EMAIL)
                .key_condition_expression("gsi1pk = :e")
                .expression_attribute_values(":e", AttributeValue::S(keys::email_gsi1pk(email)))
                .scan_index_forward(false)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(StoreError::aws)?;
            for k in out.items.unwrap_or_default() {
                if let Some(r) = reference_of(&k)
                    && !references.iter().any(|x| x == r)
                {
                    references.push(r.to_string());
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() && references.len() < MAX_LISTED_BOOKINGS => start = Some(k),
                _ => break,
            }
        }
        references.truncate(MAX_LISTED_BOOKINGS);

        // 2. The BOOKING items, projected to the listing fields.
        let mut found: HashMap<String, BookingSummary> = HashMap::new();
        for chunk in references.chunks(MAX_BATCH_GET) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|r| {
                    HashMap::from([
                        ("pk".to_string(), AttributeValue::S(keys::booking_pk(r))),
                        ("sk".to_string(), AttributeValue::S(keys::SK_BOOKING.to_string())),
                    ])
                })
                .collect();
            for item in self.batch_get_listing(keys).await? {
                let l: ListingItem = from_item(item)?;
                let s = BookingSummary {
                    reference: l.booking.reference,
                    brand: l.booking.brand,
                    status: l.booking.status,
                    waitlist_position: l.booking.waitlist_position,
                    currency: l.booking.currency,
                    locale: l.booking.locale,
                    travel_start: l.booking.travel_start,
                    travel_end: l.booking.travel_end,
                    version: l.version,
                    aggregate: l.aggregate,
                };
                found.insert(s.reference.to_string(), s);
            }
        }
        // The index is eventually consistent: a booking just deleted may be listed there and not found here.
        let mut out: Vec<BookingSummary> = references.iter().filter_map(|r| found.remove(r)).collect();
        out.sort_by(|a, b| b.travel_start.cmp(&a.travel_start).then_with(|| a.reference.cmp(&b.reference)));
        Ok(out)
    }

    async fn batch_get_listing(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let request = |keys: Vec<Item>| {
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .projection_expression("#v, #agg, #b")
                .expression_attribute_names("#v", "version")
                .expression_attribute_names("#agg", "aggregate")
                .expression_attribute_names("#b", "booking")
                .consistent_read(true)
                .build()
                .map_err(StoreError::aws)
        };
        let mut items = Vec::new();
        let mut pending = Some(request(keys)?);
        let mut attempt = 0;
        while let Some(req) = pending.take() {
            let out = self
                .client()
                .batch_get_item()
                .request_items(self.table(), req)
                .send()
                .await
                .map_err(StoreError::aws)?;
            if let Some(mut r) = out.responses {
                items.extend(r.remove(self.table()).unwrap_or_default());
            }
            if let Some(left) = out.unprocessed_keys.and_then(|mut u| u.remove(self.table()))
                && !left.keys().is_empty()
            {
                attempt += 1;
                if attempt > MAX_BATCH_RETRIES {
                    return Err(StoreError::Aws("BatchGetItem left keys unprocessed after retries".into()));
                }
                // The SDK's own sleep (tokio under the hood): no runtime dependency here.
                if let Some(sleep) = self.client().config().sleep_impl() {
                    sleep.sleep(std::time::Duration::from_millis(25 * 2u64.pow(attempt))).await;
                }
                pending = Some(left);
            }
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_come_from_the_partition_key() {
        let key: Item = HashMap::from([
            ("pk".to_string(), AttributeValue::S("B#AE-10001".into())),
            ("sk".to_string(), AttributeValue::S("EMAIL#ada@example.com".into())),
        ]);
        assert_eq!(reference_of(&key), Some("AE-10001"));
        let other: Item = HashMap::from([("pk".to_string(), AttributeValue::S("OUTBOX#X".into()))]);
        assert_eq!(reference_of(&other), None);
    }
}

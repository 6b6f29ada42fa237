//! Amendment requests and messages (issue 20; see `docs/requests.md` and `docs/data-model.md`).
//!
//! - `B#<REF> / REQ#<id>` (`amendment_request`): one request as it is now, in the booking's collection (the
//!   overview's one `Query` sees them). `revision` serialises writers: every change is conditional on the
//!   revision read.
//! - `B#<REF> / THREAD#general` (`message_thread`): the booking's general thread's head (its message count).
//! - `B#<REF> / PREFS#<traveller>` (`communication_preferences`).
//! - `RQ#<REF> / M#<thread>#<seq:06>` (`request_message`): the conversation of a request (`thread` = its id)
//!   or of the general thread (`general`), in order.
//! - `RQ#<REF> / IDEM#<sha256>` (`request_idempotency`): an `Idempotency-Key` already used, and what it made.
//! - `REVT#<REF> / EVT#<id>` (`request_event`): the operator's feed, on `unexported_events` under its own
//!   partition `REQUEST_EVENTS`.
//! - `CAPB#<REF>` and `CAPC#<sha256(email)>` / `D#<day>#<requests|messages>` (`request_cap`): the day's
//!   count, raised in the same transaction as the write, conditional on staying under the cap.
//!
//! A change is one `TransactWriteItems` ([`RequestWrite`]); its refusal says which condition failed.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{Item, Tx, from_item, to_item};
use crate::{BookingCollection, Store, StoreError};

pub const ENTITY_REQUEST: &str = "amendment_request";
pub const ENTITY_THREAD: &str = "message_thread";
pub const ENTITY_PREFERENCES: &str = "communication_preferences";
pub const ENTITY_MESSAGE: &str = "request_message";
pub const ENTITY_IDEMPOTENCY: &str = "request_idempotency";
pub const ENTITY_EVENT: &str = "request_event";
pub const ENTITY_CAP: &str = "request_cap";
pub const REQUEST_EVENTS_GSI3PK: &str = "REQUEST_EVENTS";
pub const GENERAL: &str = "general";

pub fn request_sk(id: &str) -> String {
    format!("REQ#{id}")
}

pub fn thread_sk() -> String {
    format!("THREAD#{GENERAL}")
}

pub fn preferences_sk(traveller_id: &str) -> String {
    format!("PREFS#{traveller_id}")
}

pub fn conversation_pk(reference: &str) -> String {
    format!("RQ#{reference}")
}

pub fn message_sk(thread: &str, seq: u32) -> String {
    format!("M#{thread}#{seq:06}")
}

pub fn request_event_pk(reference: &str) -> String {
    format!("REVT#{reference}")
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

pub fn idempotency_sk(traveller_id: &str, scope: &str, key: &str) -> String {
    format!("IDEM#{}", sha256_hex(&format!("{traveller_id}\u{0}{scope}\u{0}{key}")))
}

/// A day's counter of `what` (`requests` or `messages`).
pub fn cap_sk(day: chrono::NaiveDate, what: &str) -> String {
    format!("D#{day}#{what}")
}

/// Every message of a thread (`Some`), or of every thread.
pub fn thread_messages_sk(thread: Option<&str>) -> String {
    match thread {
        Some(t) => format!("M#{t}#"),
        None => "M#".into(),
    }
}

pub fn booking_cap_pk(reference: &str) -> String {
    format!("CAPB#{reference}")
}

pub fn customer_cap_pk(email: &str) -> String {
    format!("CAPC#{}", sha256_hex(&email.trim().to_ascii_lowercase()))
}

/// One status change, as kept on the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub status: String,
    pub at: DateTime<Utc>,
    /// `customer`, `team` or `system`.
    pub by: String,
    /// The traveller id, the role id, or the job.
    pub by_id: String,
    /// The agent id the operator sent (operator eyes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub request_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    /// The checked fields, as JSON.
    pub fields: String,
    pub about: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    pub submitted_by: String,
    /// The submitter's verified email (the session's): where the customer's emails go.
    pub notify_email: String,
    pub role: String,
    /// The booking as it was when submitted (version, status, dates, total, paid, outstanding), as JSON.
    pub context: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub history: Vec<Transition>,
    pub message_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_by_version: Option<u64>,
    pub revision: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub message_count: u32,
    /// The last customer message: who and where their emails go (the team's answers are sent there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_customer_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_customer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_customer_email: Option<String>,
    pub revision: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreferencesItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub traveller_id: String,
    pub optional_updates_by_email: bool,
    /// Emails about operator changes and new documents (`booking_updates`; one-click unsubscribe turns it off).
    #[serde(default = "yes")]
    pub booking_updates: bool,
    /// Instalment reminders (`payment_reminders`; one-click unsubscribe turns it off).
    #[serde(default = "yes")]
    pub payment_reminders: bool,
    pub updated_at: DateTime<Utc>,
}

fn yes() -> bool {
    true
}

/// Every preference field of [`PreferencesItem`] (all default to on).
pub const PREFERENCE_FIELDS: [&str; 3] = ["optional_updates_by_email", "booking_updates", "payment_reminders"];

fn to_attr<T: Serialize>(v: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub message_id: String,
    pub thread: String,
    pub seq: u32,
    pub at: DateTime<Utc>,
    /// `customer` or `team`.
    pub author_kind: String,
    /// The traveller id, or the role id.
    pub author_id: String,
    /// The general thread: the role a customer wrote to (a team message: its role is `author_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    /// What the first call made: a request id, or `<thread>#<message id>`.
    pub made: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEventItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    /// The event as published (`docs/request-events.schema.json`), as JSON.
    pub event: String,
    pub recorded_at: DateTime<Utc>,
    pub gsi3pk: String,
    pub gsi3sk: String,
    pub expires_at: i64,
}

/// Raise a day's count, refused at the cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapBump {
    pub pk: String,
    pub sk: String,
    pub cap: u32,
    pub expires_at: i64,
}

/// The head a write changes: a request or the general thread, new or at the revision read.
#[derive(Debug, Clone)]
pub enum Head {
    Request { item: Box<RequestItem>, expected_revision: Option<u32> },
    Thread { item: ThreadItem, expected_revision: Option<u32> },
}

/// One change, ready to commit.
#[derive(Debug, Clone)]
pub struct RequestWrite {
    pub head: Head,
    pub message: Option<MessageItem>,
    pub events: Vec<RequestEventItem>,
    pub idempotency: Option<IdempotencyItem>,
    pub caps: Vec<CapBump>,
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Someone changed the request or thread since it was read.
    Stale,
    /// The `Idempotency-Key` was used already.
    Duplicate,
    /// A day's cap (the index into `caps`) is reached.
    Capped(usize),
}

/// The requests, thread head and preferences of a loaded booking collection (kept raw in `other`).
fn of_entity<T: serde::de::DeserializeOwned>(c: &BookingCollection, entity: &str) -> Vec<T> {
    c.other
        .iter()
        .filter(|i| i.get("entity").and_then(|v| v.as_s().ok()).map(String::as_str) == Some(entity))
        .filter_map(|i| match from_item::<T>(i.clone()) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(reference = %c.booking.reference, entity, error = %e, "unreadable item skipped");
                None
            }
        })
        .collect()
}

pub fn request_items(c: &BookingCollection) -> Vec<RequestItem> {
    of_entity(c, ENTITY_REQUEST)
}

pub fn thread_item(c: &BookingCollection) -> Option<ThreadItem> {
    of_entity(c, ENTITY_THREAD).into_iter().next()
}

pub fn preferences_item(c: &BookingCollection, traveller_id: &str) -> Option<PreferencesItem> {
    of_entity::<PreferencesItem>(c, ENTITY_PREFERENCES).into_iter().find(|p| p.traveller_id == traveller_id)
}

fn revision_condition(expected: Option<u32>) -> (&'static str, Option<(&'static str, AttributeValue)>) {
    match expected {
        None => ("attribute_not_exists(pk)", None),
        Some(r) => ("revision = :expected", Some((":expected", AttributeValue::N(r.to_string())))),
    }
}

impl Store {
    /// Commit one change. The positions in the transaction: the head, the message, the events, the
    /// idempotency record, then the caps.
    pub async fn write_request_change(&self, w: &RequestWrite) -> Result<Result<(), Refused>, StoreError> {
        let mut tx = Tx::default();
        let (item, expected) = match &w.head {
            Head::Request { item, expected_revision } => (to_item(item.as_ref())?, *expected_revision),
            Head::Thread { item, expected_revision } => (to_item(item)?, *expected_revision),
        };
        let (expr, value) = revision_condition(expected);
        tx.put_conditional(self.table(), item, expr, value)?;
        if let Some(m) = &w.message {
            tx.put_new(self.table(), m)?;
        }
        for e in &w.events {
            tx.put_new(self.table(), e)?;
        }
        let idem_at = tx.len();
        if let Some(i) = &w.idempotency {
            tx.put_new(self.table(), i)?;
        }
        let caps_at = tx.len();
        for c in &w.caps {
            let u = Update::builder()
                .table_name(self.table())
                .key("pk", AttributeValue::S(c.pk.clone()))
                .key("sk", AttributeValue::S(c.sk.clone()))
                .update_expression("ADD #n :one SET #e = :entity, #x = :exp")
                .condition_expression("attribute_not_exists(#n) OR #n < :cap")
                .expression_attribute_names("#n", "n")
                .expression_attribute_names("#e", "entity")
                .expression_attribute_names("#x", "expires_at")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":cap", AttributeValue::N(c.cap.to_string()))
                .expression_attribute_values(":entity", AttributeValue::S(ENTITY_CAP.into()))
                .expression_attribute_values(":exp", AttributeValue::N(c.expires_at.to_string()))
                .build()
                .map_err(StoreError::aws)?;
            tx.push(TransactWriteItem::builder().update(u).build());
        }
        Ok(match self.commit_naming_failures(tx).await? {
            Ok(()) => Ok(()),
            Err(failed) => {
                if w.idempotency.is_some() && failed.contains(&idem_at) {
                    Err(Refused::Duplicate)
                } else if let Some(i) = failed.iter().find(|i| **i >= caps_at) {
                    Err(Refused::Capped(i - caps_at))
                } else {
                    Err(Refused::Stale)
                }
            }
        })
    }

    /// One request as it is now (strongly consistent).
    pub async fn request_item(&self, reference: &str, id: &str) -> Result<Option<RequestItem>, StoreError> {
        self.get_one(crate::keys::booking_pk(reference), request_sk(id)).await
    }

    pub async fn thread_head(&self, reference: &str) -> Result<Option<ThreadItem>, StoreError> {
        self.get_one(crate::keys::booking_pk(reference), thread_sk()).await
    }

    /// What an `Idempotency-Key` made, if it was used.
    pub async fn idempotency_record(&self, reference: &str, sk: &str) -> Result<Option<IdempotencyItem>, StoreError> {
        self.get_one(conversation_pk(reference), sk.to_string()).await
    }

    async fn get_one<T: serde::de::DeserializeOwned>(&self, pk: String, sk: String) -> Result<Option<T>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::aws)?;
        out.item.map(from_item).transpose()
    }

    /// Set some of a traveller's communication preferences (the others keep their value, or their default),
    /// answering all of them as they now are.
    pub async fn update_preferences(
        &self,
        reference: &str,
        traveller_id: &str,
        set: &[(&str, bool)],
        now: DateTime<Utc>,
    ) -> Result<PreferencesItem, StoreError> {
        let mut expr = "SET #entity = :entity, #traveller = :traveller, #updated = :now".to_string();
        let mut names = HashMap::from([
            ("#entity".to_string(), "entity".to_string()),
            ("#traveller".to_string(), "traveller_id".to_string()),
            ("#updated".to_string(), "updated_at".to_string()),
        ]);
        let mut values = HashMap::from([
            (":entity".to_string(), AttributeValue::S(ENTITY_PREFERENCES.into())),
            (":traveller".to_string(), AttributeValue::S(traveller_id.into())),
            (":now".to_string(), to_attr(&now)?),
            (":yes".to_string(), AttributeValue::Bool(true)),
        ]);
        for (i, (field, on)) in set.iter().enumerate() {
            expr.push_str(&format!(", #f{i} = :v{i}"));
            names.insert(format!("#f{i}"), (*field).to_string());
            values.insert(format!(":v{i}"), AttributeValue::Bool(*on));
        }
        // A preference never set reads as on: write the default for the ones not named, once.
        for (i, field) in PREFERENCE_FIELDS.iter().enumerate().filter(|(_, f)| !set.iter().any(|(s, _)| s == *f)) {
            expr.push_str(&format!(", #d{i} = if_not_exists(#d{i}, :yes)"));
            names.insert(format!("#d{i}"), (*field).to_string());
        }
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(crate::keys::booking_pk(reference)))
            .key("sk", AttributeValue::S(preferences_sk(traveller_id)))
            .update_expression(expr)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(StoreError::aws)?;
        from_item(out.attributes.unwrap_or_default())
    }

    /// A thread's messages, oldest first (`thread`: a request id or [`GENERAL`]); `None`: every thread's.
    pub async fn messages(&self, reference: &str, thread: Option<&str>) -> Result<Vec<MessageItem>, StoreError> {
        let prefix = thread_messages_sk(thread);
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", AttributeValue::S(conversation_pk(reference)))
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(StoreError::aws)?;
            for i in page.items.unwrap_or_default() {
                out.push(from_item(i)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }

    /// The operator's feed: events after `after` (a `gsi3sk` cursor) and before `settled_before`, oldest first.
    pub async fn request_events(
        &self,
        after: Option<&str>,
        settled_before: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<RequestEventItem>, StoreError> {
        let upto = format!("{}#", settled_before.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        let mut q = self
            .client()
            .query()
            .table_name(self.table())
            .index_name("unexported_events")
            .expression_attribute_values(":pk", AttributeValue::S(REQUEST_EVENTS_GSI3PK.into()))
            .expression_attribute_values(":upto", AttributeValue::S(upto))
            .limit(limit);
        q = match after {
            Some(a) => q
                .key_condition_expression("gsi3pk = :pk AND gsi3sk BETWEEN :after AND :upto")
                .expression_attribute_values(":after", AttributeValue::S(a.to_string())),
            None => q.key_condition_expression("gsi3pk = :pk AND gsi3sk < :upto"),
        };
        let out = q.send().await.map_err(StoreError::aws)?;
        let mut events = Vec::new();
        for i in out.items.unwrap_or_default() {
            let e: RequestEventItem = from_item(i)?;
            if after.is_some_and(|a| e.gsi3sk.as_str() <= a) {
                continue;
            }
            events.push(e);
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_and_stay_apart() {
        assert!(message_sk("rq_a", 9) < message_sk("rq_a", 10));
        assert!(!conversation_pk("AE-1").starts_with(crate::keys::PREFIX_BOOKING_PK));
        assert_ne!(idempotency_sk("t1", "request", "k"), idempotency_sk("t2", "request", "k"));
        assert_eq!(customer_cap_pk(" Ada@Example.com"), customer_cap_pk("ada@example.com"));
        assert!(!customer_cap_pk("a@b.c").contains('@'));
    }
}

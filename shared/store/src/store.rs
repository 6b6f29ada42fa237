//! The single-table store: one booking = one item collection, read with one `Query`; every ledger change is
//! one conditional `TransactWriteItems`.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use portal_domain::booking::Booking;
use portal_domain::ledger::Movement;
use portal_domain::schedule::Instalment;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::items::{self, Aggregate, BookingEmailItem, BookingItem, InstalmentItem, MovementItem, OutboxItem};
use crate::keys;

pub type Item = HashMap<String, AttributeValue>;

/// DynamoDB's limit on actions in one transaction.
pub const MAX_TRANSACTION_ACTIONS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition failed: someone else wrote first (stale version, duplicate movement, used token...).
    #[error("conditional write failed: {0}")]
    Conflict(String),
    #[error("the write needs {0} actions; DynamoDB allows {MAX_TRANSACTION_ACTIONS} in one transaction")]
    TooLarge(usize),
    #[error("stored item is unreadable: {0}")]
    Corrupt(String),
    #[error("DynamoDB call failed: {0}")]
    Aws(String),
}

impl StoreError {
    pub fn aws<E: std::error::Error>(e: E) -> StoreError {
        // The SDK's Display is terse ("service error"); the chain says which.
        let mut msg = e.to_string();
        let mut src = e.source();
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        StoreError::Aws(msg)
    }
}

/// Everything stored for one booking, from one `Query`.
#[derive(Debug, Clone)]
pub struct BookingCollection {
    pub booking: Booking,
    pub version: u64,
    pub fingerprint: String,
    pub aggregate: Aggregate,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub emails: Vec<String>,
    pub instalments: Vec<Instalment>,
    pub movements: Vec<Movement>,
    /// The booking's live customer sessions (`SESSION#<sid>` items): whose they are, for revocation.
    pub sessions: Vec<LiveSession>,
    /// Items of entity types this crate version does not read (documents, approvals...), kept raw.
    pub other: Vec<Item>,
}

/// A live customer session as the booking's collection lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    pub sid: String,
    pub traveller_id: String,
    /// The traveller's email when the session started.
    pub email: String,
}

impl BookingCollection {
    /// Is the session `sid` still live (not signed out or revoked)?
    pub fn has_session(&self, sid: &str) -> bool {
        self.sessions.iter().any(|s| s.sid == sid)
    }
}

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

pub fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A transaction being assembled: each helper adds one action with the condition that keeps it honest.
#[derive(Default, Debug)]
pub struct Tx {
    actions: Vec<TransactWriteItem>,
}

impl Tx {
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    fn put(
        &mut self,
        table: &str,
        item: Item,
        condition: Option<(&str, Option<(&str, AttributeValue)>)>,
    ) -> Result<(), StoreError> {
        let mut p = Put::builder().table_name(table).set_item(Some(item));
        if let Some((expr, value)) = condition {
            p = p.condition_expression(expr);
            if let Some((name, v)) = value {
                p = p.expression_attribute_values(name, v);
            }
        }
        self.actions.push(TransactWriteItem::builder().put(p.build().map_err(StoreError::aws)?).build());
        Ok(())
    }

    /// Put an item under its own condition (e.g. `version = :expected` on a traveller's details).
    pub fn put_conditional(
        &mut self,
        table: &str,
        item: Item,
        condition: &str,
        value: Option<(&str, AttributeValue)>,
    ) -> Result<(), StoreError> {
        self.put(table, item, Some((condition, value)))
    }

    /// Put an item under a condition naming attributes (`#status = :due`).
    pub fn put_if(
        &mut self,
        table: &str,
        item: Item,
        condition: &str,
        names: &[(&str, &str)],
        values: &[(&str, AttributeValue)],
    ) -> Result<(), StoreError> {
        let mut p = Put::builder().table_name(table).set_item(Some(item)).condition_expression(condition);
        for (k, v) in names {
            p = p.expression_attribute_names(*k, *v);
        }
        for (k, v) in values {
            p = p.expression_attribute_values(*k, v.clone());
        }
        self.actions.push(TransactWriteItem::builder().put(p.build().map_err(StoreError::aws)?).build());
        Ok(())
    }

    /// Put an item that must not exist yet (movements, outbox events, idempotency records).
    pub fn put_new<T: Serialize>(&mut self, table: &str, item: &T) -> Result<(), StoreError> {
        self.put(table, to_item(item)?, Some(("attribute_not_exists(pk)", None)))
    }

    /// Put an item unconditionally (its parent's version condition already serialises writers).
    pub fn put_any<T: Serialize>(&mut self, table: &str, item: &T) -> Result<(), StoreError> {
        self.put(table, to_item(item)?, None)
    }

    /// Put the booking item: created (must not exist) or replacing exactly `expected_version`.
    pub fn put_booking(
        &mut self,
        table: &str,
        item: &BookingItem,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        match expected_version {
            None => self.put(table, to_item(item)?, Some(("attribute_not_exists(pk)", None))),
            Some(v) => self.put(
                table,
                to_item(item)?,
                Some(("version = :expected", Some((":expected", AttributeValue::N(v.to_string()))))),
            ),
        }
    }

    pub fn delete(&mut self, table: &str, pk: String, sk: String) -> Result<(), StoreError> {
        let d = Delete::builder()
            .table_name(table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .build()
            .map_err(StoreError::aws)?;
        self.actions.push(TransactWriteItem::builder().delete(d).build());
        Ok(())
    }

    pub fn push(&mut self, action: TransactWriteItem) {
        self.actions.push(action);
    }
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Store {
        Store { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The booking's whole item collection in one strongly consistent `Query` (more pages only past 1 MB).
    pub async fn load_booking(&self, reference: &str) -> Result<Option<BookingCollection>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(keys::booking_pk(reference)))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(StoreError::aws)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        collection_from_items(items)
    }

    /// Write a transaction; a refusal names the positions (in the order the actions were added) whose
    /// condition failed, so a caller can tell a duplicate from a cap from a concurrent writer. Nothing is
    /// written when it is refused. (`Ok(Err(vec![]))`: refused by a concurrent transaction, retry.)
    pub async fn commit_naming_failures(&self, tx: Tx) -> Result<Result<(), Vec<usize>>, StoreError> {
        if tx.actions.len() > MAX_TRANSACTION_ACTIONS {
            return Err(StoreError::TooLarge(tx.actions.len()));
        }
        if tx.actions.is_empty() {
            return Ok(Ok(()));
        }
        match self.client.transact_write_items().set_transact_items(Some(tx.actions)).send().await {
            Ok(_) => Ok(Ok(())),
            Err(SdkError::ServiceError(e)) => match e.err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let codes: Vec<&str> =
                        c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None")).collect();
                    if codes.iter().all(|c| matches!(*c, "None" | "ConditionalCheckFailed" | "TransactionConflict")) {
                        Ok(Err(codes
                            .iter()
                            .enumerate()
                            .filter(|(_, c)| **c == "ConditionalCheckFailed")
                            .map(|(i, _)| i)
                            .collect()))
                    } else {
                        Err(StoreError::Aws(format!("transaction cancelled: {}", codes.join(","))))
                    }
                }
                TransactWriteItemsError::TransactionInProgressException(_) => Ok(Err(Vec::new())),
                other => Err(StoreError::Aws(format!("TransactWriteItems: {other}"))),
            },
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Write a transaction. A failed condition anywhere is `StoreError::Conflict` and nothing is written.
    pub async fn commit(&self, tx: Tx) -> Result<(), StoreError> {
        if tx.actions.is_empty() {
            return Ok(());
        }
        if tx.actions.len() > MAX_TRANSACTION_ACTIONS {
            return Err(StoreError::TooLarge(tx.actions.len()));
        }
        match self.client.transact_write_items().set_transact_items(Some(tx.actions)).send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) => match e.err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let reasons: Vec<String> = c
                        .cancellation_reasons()
                        .iter()
                        .filter_map(|r| r.code().filter(|c| *c != "None").map(str::to_string))
                        .collect();
                    if reasons.iter().all(|r| r == "ConditionalCheckFailed" || r == "TransactionConflict") {
                        Err(StoreError::Conflict(reasons.join(",")))
                    } else {
                        Err(StoreError::Aws(format!("transaction cancelled: {}", reasons.join(","))))
                    }
                }
                TransactWriteItemsError::TransactionInProgressException(_) => {
                    Err(StoreError::Conflict("TransactionInProgress".into()))
                }
                other => Err(StoreError::Aws(format!("TransactWriteItems: {other}"))),
            },
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Add the writes of an operator push to `tx`: the booking (conditional on the version read), its email
    /// index items, changed instalments, new movements and their outbox events.
    #[allow(clippy::too_many_arguments)]
    pub fn stage_upsert(
        &self,
        tx: &mut Tx,
        current: Option<&BookingCollection>,
        item: &BookingItem,
        instalments: &[Instalment],
        movements: &[Movement],
        events: Vec<portal_domain::events::LedgerEvent>,
        notices: Vec<portal_notify::Notice>,
    ) -> Result<(), StoreError> {
        let reference = item.booking.reference.as_str();
        tx.put_booking(&self.table, item, current.map(|c| c.version))?;
        let new_emails = item.booking.emails();
        let old_emails = current.map(|c| c.emails.clone()).unwrap_or_default();
        let moved = current.is_some_and(|c| c.booking.travel_start != item.booking.travel_start);
        for e in &new_emails {
            if moved || !old_emails.contains(e) {
                tx.put_any(&self.table, &BookingEmailItem::new(&item.booking, e))?;
            }
        }
        for e in old_emails.iter().filter(|e| !new_emails.contains(e)) {
            tx.delete(&self.table, keys::booking_pk(reference), keys::email_sk(e))?;
        }
        for i in instalments {
            tx.put_any(&self.table, &InstalmentItem::new(reference, i.clone()))?;
        }
        for m in movements {
            tx.put_new(&self.table, &MovementItem::new(reference, m.clone()))?;
        }
        for ev in events {
            tx.put_new(&self.table, &OutboxItem::new(ev))?;
        }
        for n in notices {
            crate::notices::stage_notice(tx, &self.table, n)?;
        }
        Ok(())
    }
}

fn entity(item: &Item) -> Option<&str> {
    item.get("entity").and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn collection_from_items(items: Vec<Item>) -> Result<Option<BookingCollection>, StoreError> {
    let mut booking: Option<BookingItem> = None;
    let mut emails = Vec::new();
    let mut instalments = Vec::new();
    let mut movements = Vec::new();
    let mut other = Vec::new();
    let mut sessions = Vec::new();
    for item in items {
        match entity(&item) {
            Some(items::ENTITY_BOOKING) => booking = Some(from_item(item)?),
            Some(items::ENTITY_BOOKING_EMAIL) => {
                let e: BookingEmailItem = from_item(item)?;
                emails.push(e.sk.trim_start_matches(keys::PREFIX_EMAIL).to_string());
            }
            Some(items::ENTITY_INSTALMENT) => instalments.push(from_item::<InstalmentItem>(item)?.instalment),
            Some(items::ENTITY_MOVEMENT) => movements.push(from_item::<MovementItem>(item)?.movement),
            Some(items::ENTITY_SESSION) => {
                let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                if let Some(sk) = item.get("sk").and_then(|v| v.as_s().ok()) {
                    sessions.push(LiveSession {
                        sid: sk.trim_start_matches(keys::PREFIX_SESSION).to_string(),
                        traveller_id: text("traveller_id"),
                        email: text("email"),
                    });
                }
                other.push(item);
            }
            _ => other.push(item),
        }
    }
    let Some(b) = booking else {
        return Ok(None);
    };
    movements.sort_by(|a: &Movement, b: &Movement| a.occurred_at.cmp(&b.occurred_at).then_with(|| a.id.cmp(&b.id)));
    instalments.sort_by(|a: &Instalment, b: &Instalment| a.due_date.cmp(&b.due_date).then_with(|| a.id.cmp(&b.id)));
    Ok(Some(BookingCollection {
        booking: b.booking,
        version: b.version,
        fingerprint: b.fingerprint,
        aggregate: b.aggregate,
        created_at: b.created_at,
        updated_at: b.updated_at,
        emails,
        instalments,
        movements,
        sessions,
        other,
    }))
}

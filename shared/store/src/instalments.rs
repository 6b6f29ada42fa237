//! Writes and reads of scheduled payments (approvals, withdrawals, the instalment runner). See
//! `docs/scheduled-payments.md`.
//!
//! Every change of an instalment's state is one conditional `TransactWriteItems` whose first action bumps the
//! booking's `version` on the condition that it is still the version the change was computed from: concurrent
//! approvals, withdrawals, runners and webhooks serialise on it, and the loser re-reads and re-plans.
//!
//! | entity | pk | sk | what |
//! |---|---|---|---|
//! | `idempotency` | `IDEM#approval#<REF>#<key>` | `IDEM` | an approval/withdrawal request's stored answer, written in the same transaction; TTL 24 h |
//! | `card_setup` | `B#<REF>` | `SETUP#<setup id>` | a card set-up started at the gateway (SetupIntent id, traveller) |

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use portal_domain::events::LedgerEvent;
use portal_domain::ledger::Movement;
use portal_domain::schedule::Instalment;
use serde::{Deserialize, Serialize};

use crate::items::{Aggregate, InstalmentItem, MovementItem, OutboxItem};
use crate::payments::ClaimItem;
use crate::store::{StoreError, Tx};
use crate::{Store, keys, tables};

pub const ENTITY_CARD_SETUP: &str = "card_setup";
pub const PREFIX_SETUP: &str = "SETUP#";
/// Name of the sparse index of instalments the runner must look at (`tables.json`).
pub const DUE_INDEX: &str = "due_instalments";

pub fn setup_sk(setup_id: &str) -> String {
    format!("{PREFIX_SETUP}{setup_id}")
}

/// A card set-up started at the gateway; the `setup_intent.succeeded` webhook saves the card itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSetupItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub setup_id: String,
    pub gateway: String,
    pub setup_intent_id: String,
    pub customer_id: String,
    pub traveller_id: String,
    pub created_at: DateTime<Utc>,
}

/// One change of a booking's schedule (and, for evidence or failures, its ledger), all or nothing.
#[derive(Debug, Clone, Default)]
pub struct ScheduleWrite {
    pub reference: String,
    /// The version the change was computed from (the condition) and the aggregate to write with version + 1.
    pub version: u64,
    pub aggregate: Option<Aggregate>,
    pub instalments: Vec<Instalment>,
    pub movements: Vec<Movement>,
    pub events: Vec<LedgerEvent>,
    /// A request's stored answer (`attribute_not_exists`: a concurrent duplicate request writes nothing).
    pub idempotency: Option<ClaimItem>,
    pub card_setup: Option<CardSetupItem>,
    /// Customer emails the change causes (a declined collection), put into the mail outbox.
    pub notices: Vec<portal_notify::Notice>,
}

/// A due entry of the index: which booking and instalment, and when it became due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueEntry {
    pub reference: String,
    pub instalment_id: String,
    pub due_key: String,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl Store {
    /// Write a schedule change in one conditional `TransactWriteItems` (see the module docs).
    pub async fn write_schedule(&self, w: &ScheduleWrite, now: DateTime<Utc>) -> Result<(), StoreError> {
        let table = self.table();
        let mut tx = Tx::default();
        let mut update = Update::builder()
            .table_name(table)
            .key("pk", s(&keys::booking_pk(&w.reference)))
            .key("sk", s(keys::SK_BOOKING))
            .condition_expression("#version = :old")
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#updated_at", "updated_at")
            .expression_attribute_values(":old", n(w.version))
            .expression_attribute_values(":new", n(w.version + 1))
            .expression_attribute_values(
                ":now",
                serde_dynamo::to_attribute_value(now).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            );
        update = match &w.aggregate {
            Some(a) => update
                .update_expression("SET #version = :new, #updated_at = :now, #aggregate = :aggregate")
                .expression_attribute_names("#aggregate", "aggregate")
                .expression_attribute_values(
                    ":aggregate",
                    serde_dynamo::to_attribute_value(a).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                ),
            None => update.update_expression("SET #version = :new, #updated_at = :now"),
        };
        tx.push(TransactWriteItem::builder().update(update.build().map_err(StoreError::aws)?).build());
        for i in &w.instalments {
            tx.put_any(table, &InstalmentItem::new(&w.reference, i.clone()))?;
        }
        for m in &w.movements {
            tx.put_new(table, &MovementItem::new(&w.reference, m.clone()))?;
        }
        for e in &w.events {
            tx.put_new(table, &OutboxItem::new(e.clone()))?;
        }
        if let Some(idem) = &w.idempotency {
            tx.put_new(table, idem)?;
        }
        if let Some(setup) = &w.card_setup {
            tx.put_new(table, setup)?;
        }
        for n in &w.notices {
            crate::notices::stage_notice(&mut tx, table, n.clone())?;
        }
        self.commit(tx).await
    }

    /// Instalments due for the runner by `now`: one `Query` of the sparse `due_instalments` index per page
    /// (`gsi2pk = DUE AND gsi2sk < <now + 1 s>`), oldest first, at most `limit`. Never a scan.
    pub async fn due_instalments(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<DueEntry>, StoreError> {
        let bound = (now + chrono::Duration::seconds(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        self.indexed_instalments(keys::DUE_GSI2PK, &bound, limit).await
    }

    /// Instalments of one `due_instalments` partition (`DUE`: the runner's; `OWED`: scheduled, not approved)
    /// whose index time is before `until`: one `Query` per page, oldest first, at most `limit`.
    pub async fn instalments_until(
        &self,
        partition: &str,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueEntry>, StoreError> {
        let bound = until.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        self.indexed_instalments(partition, &bound, limit).await
    }

    async fn indexed_instalments(
        &self,
        partition: &str,
        bound: &str,
        limit: usize,
    ) -> Result<Vec<DueEntry>, StoreError> {
        debug_assert!(tables::portal_table().global_secondary_indexes.contains_key(DUE_INDEX));
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(DUE_INDEX)
                .key_condition_expression("gsi2pk = :due AND gsi2sk < :bound")
                .expression_attribute_values(":due", s(partition))
                .expression_attribute_values(":bound", s(bound))
                .set_exclusive_start_key(start.take())
                .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
                .send()
                .await
                .map_err(StoreError::aws)?;
            for item in page.items.unwrap_or_default() {
                let get = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
                let (Some(pk), Some(sk), Some(due_key)) = (get("pk"), get("sk"), get("gsi2sk")) else {
                    continue;
                };
                let (Some(reference), Some(id)) = (pk.strip_prefix("B#"), sk.strip_prefix(keys::PREFIX_INSTALMENT))
                else {
                    continue;
                };
                out.push(DueEntry { reference: reference.into(), instalment_id: id.into(), due_key });
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() && out.len() < limit => start = Some(k),
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }
}

/// Stored card set-ups of a booking collection.
pub fn card_setups(c: &crate::BookingCollection) -> Vec<CardSetupItem> {
    c.other
        .iter()
        .filter(|i| i.get("entity").and_then(|v| v.as_s().ok()).is_some_and(|e| e == ENTITY_CARD_SETUP))
        .filter_map(|i| crate::store::from_item(i.clone()).ok())
        .collect()
}

//! Traveller details items (issue 19; see `docs/data-model.md`).
//!
//! - `B#<REF> / DETAILS#<traveller>` (`traveller_details`): the details as they are now, in the booking's
//!   collection so the overview's one `Query` sees what is complete. The plain part is a JSON string; the
//!   sensitive part (document number, date of birth, medical notes) is `sealed` (portal-sealing, as a JSON
//!   string: this crate never sees a key), with `present` naming which sensitive fields it holds, so progress
//!   needs no decryption. Carries the retention index: `gsi2pk = DETAILS_ERASE`, `gsi2sk = <erase after>#<REF>#<traveller>`.
//! - `DETAILS#<REF> / V#<traveller>#<version:08>` (`traveller_details_version`): every accepted change, with
//!   who, when, what changed (sensitive values only named) and the full sealed snapshot a restore re-seals.
//! - `TEVT#<REF> / EVT#<event id>` (`traveller_event`): the operator's feed, on `unexported_events` under its
//!   own partition `TRAVELLER_EVENTS` (the finance exporter only queries `UNEXPORTED` and `HELD`).
//!
//! A change is one `TransactWriteItems`: the current item conditional on the version the editor read (or
//! absent for a first save), the version item and the event each conditional on `attribute_not_exists`.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{Item, Tx, from_item, to_item};
use crate::{BookingCollection, Store, StoreError};

pub const ENTITY_DETAILS: &str = "traveller_details";
pub const ENTITY_DETAILS_VERSION: &str = "traveller_details_version";
pub const ENTITY_TRAVELLER_EVENT: &str = "traveller_event";
pub const PREFIX_DETAILS: &str = "DETAILS#";
pub const ERASE_GSI2PK: &str = "DETAILS_ERASE";
pub const TRAVELLER_EVENTS_GSI3PK: &str = "TRAVELLER_EVENTS";

pub fn details_sk(traveller_id: &str) -> String {
    format!("{PREFIX_DETAILS}{traveller_id}")
}

pub fn history_pk(reference: &str) -> String {
    format!("DETAILS#{reference}")
}

pub fn version_sk(traveller_id: &str, version: u32) -> String {
    format!("V#{traveller_id}#{version:08}")
}

pub fn event_pk(reference: &str) -> String {
    format!("TEVT#{reference}")
}

pub fn erase_gsi2sk(erase_after: NaiveDate, reference: &str, traveller_id: &str) -> String {
    format!("{erase_after}#{reference}#{traveller_id}")
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `customer`, `operator` or `system` (the retention job).
    pub role: String,
    /// The traveller id of a customer, the principal of an operator, the job's name.
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetailsItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub traveller_id: String,
    pub version: u32,
    /// `portal_details::TravellerDetails` without its sensitive values, as JSON.
    pub plain: String,
    /// `portal_sealing::Sealed` of `portal_details::model::Sensitive`, as JSON; absent when nothing sensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    /// Which sensitive fields `sealed` holds (`date_of_birth`, `medical_notes`, `travel_document.number`).
    #[serde(default)]
    pub present: Vec<String>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Actor,
    pub gsi2pk: String,
    pub gsi2sk: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetailsVersionItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub traveller_id: String,
    pub version: u32,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// `portal_details::history::changes` as JSON: sensitive fields named, never shown.
    pub changes: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<u32>,
    pub plain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TravellerEventItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    /// The event as published (`docs/traveller-events.schema.json`), as JSON.
    pub event: String,
    pub recorded_at: DateTime<Utc>,
    pub gsi3pk: String,
    pub gsi3sk: String,
    /// The feed keeps 90 days.
    pub expires_at: i64,
}

/// The details items of a loaded booking collection (kept raw in `other`).
pub fn details_items(c: &BookingCollection) -> Vec<DetailsItem> {
    c.other
        .iter()
        .filter(|i| i.get("entity").and_then(|v| v.as_s().ok()).map(String::as_str) == Some(ENTITY_DETAILS))
        .filter_map(|i| match from_item::<DetailsItem>(i.clone()) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(reference = %c.booking.reference, error = %e, "unreadable details item skipped");
                None
            }
        })
        .collect()
}

/// One accepted change, ready to commit.
pub struct DetailsChange {
    pub current: DetailsItem,
    /// The version the editor read (`None`: the first save).
    pub expected_version: Option<u32>,
    pub version: DetailsVersionItem,
    pub event: TravellerEventItem,
}

impl Store {
    pub fn stage_details_change(&self, tx: &mut Tx, change: &DetailsChange) -> Result<(), StoreError> {
        let item = to_item(&change.current)?;
        let (expr, value): (&str, Option<(&str, AttributeValue)>) = match change.expected_version {
            None => ("attribute_not_exists(pk)", None),
            Some(v) => ("version = :expected", Some((":expected", AttributeValue::N(v.to_string())))),
        };
        tx.put_conditional(self.table(), item, expr, value)?;
        tx.put_new(self.table(), &change.version)?;
        tx.put_new(self.table(), &change.event)?;
        Ok(())
    }

    /// Commit one change: [`StoreError::Conflict`] when someone else saved this traveller first.
    pub async fn write_details_change(&self, change: &DetailsChange) -> Result<(), StoreError> {
        let mut tx = Tx::default();
        self.stage_details_change(&mut tx, change)?;
        self.commit(tx).await
    }

    /// A traveller's versions, oldest first.
    pub async fn details_versions(
        &self,
        reference: &str,
        traveller_id: &str,
    ) -> Result<Vec<DetailsVersionItem>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", AttributeValue::S(history_pk(reference)))
                .expression_attribute_values(":prefix", AttributeValue::S(format!("V#{traveller_id}#")))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_as_numbers_and_keys_stay_apart_from_the_overview() {
        assert!(version_sk("t1", 9) < version_sk("t1", 10));
        assert!(!history_pk("AE-1").starts_with(crate::keys::PREFIX_BOOKING_PK));
        assert_eq!(erase_gsi2sk(NaiveDate::from_ymd_opt(2027, 1, 2).unwrap(), "AE-1", "t1"), "2027-01-02#AE-1#t1");
    }
}

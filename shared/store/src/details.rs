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

/// The feed's sort key: time first, so a cursor is "everything after this event".
pub fn event_gsi3sk(recorded_at: DateTime<Utc>, event_id: &str) -> String {
    format!("{}#{event_id}", recorded_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
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
    /// The customer's request to erase this traveller's data, and where the operator has got with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erasure_request: Option<ErasureRequest>,
    /// Set when the details were erased (retention or a completed request); nothing sensitive remains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<DateTime<Utc>>,
    /// The retention index (sparse: an erased item leaves it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureRequest {
    pub request_id: String,
    /// `submitted`, `in_review`, `completed`, `declined`.
    pub status: String,
    pub requested_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The operator's answer (what it keeps and why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_note: Option<String>,
}

/// `PROFILE#<sha256(email)> / DETAILS#<brand>`: a traveller's last own save, offered (never copied) on their
/// next booking with the same operator brand. Expires with the retention of the booking it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub from_reference: String,
    pub from_traveller: String,
    pub saved_at: DateTime<Utc>,
    pub plain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    pub expires_at: i64,
}

pub const ENTITY_PROFILE: &str = "traveller_profile";

/// The profile key of a verified email (hashed: the key never holds the address).
pub fn profile_pk(email: &str) -> String {
    use sha2::Digest;
    format!("PROFILE#{}", hex::encode(sha2::Sha256::digest(email.trim().to_ascii_lowercase().as_bytes())))
}

pub fn profile_sk(brand: &str) -> String {
    format!("{PREFIX_DETAILS}{brand}")
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
    /// The version the editor read (`None`: no details item yet).
    pub expected_version: Option<u32>,
    /// `None` for a change that is not a new version of the details (an erasure request's status).
    pub version: Option<DetailsVersionItem>,
    pub event: TravellerEventItem,
    /// The traveller's own save also refreshes their profile (last write wins).
    pub profile: Option<ProfileItem>,
}

/// A due erasure from the retention index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueErasure {
    pub reference: String,
    pub traveller_id: String,
    pub erase_after: NaiveDate,
}

impl Store {
    pub fn stage_details_change(&self, tx: &mut Tx, change: &DetailsChange) -> Result<(), StoreError> {
        let item = to_item(&change.current)?;
        let (expr, value): (&str, Option<(&str, AttributeValue)>) = match change.expected_version {
            None => ("attribute_not_exists(pk)", None),
            Some(v) => ("version = :expected", Some((":expected", AttributeValue::N(v.to_string())))),
        };
        tx.put_conditional(self.table(), item, expr, value)?;
        if let Some(v) = &change.version {
            tx.put_new(self.table(), v)?;
        }
        tx.put_new(self.table(), &change.event)?;
        if let Some(p) = &change.profile {
            tx.put_any(self.table(), p)?;
        }
        Ok(())
    }

    /// Move a details item to another erase date in the retention index (only if nobody saved meanwhile).
    pub async fn reindex_details_erasure(&self, item: &DetailsItem, gsi2sk: &str) -> Result<(), StoreError> {
        let mut moved = item.clone();
        moved.gsi2pk = Some(ERASE_GSI2PK.into());
        moved.gsi2sk = Some(gsi2sk.into());
        let mut tx = Tx::default();
        tx.put_conditional(
            self.table(),
            to_item(&moved)?,
            "version = :expected",
            Some((":expected", AttributeValue::N(item.version.to_string()))),
        )?;
        self.commit(tx).await
    }

    /// A profile by verified email and brand (`None`: none, or expired but not yet swept by TTL).
    pub async fn profile(
        &self,
        email: &str,
        brand: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ProfileItem>, StoreError> {
        Ok(self.profile_item(email, brand).await?.filter(|p| p.expires_at > now.timestamp()))
    }

    /// The stored profile item, expired or not.
    pub async fn profile_item(&self, email: &str, brand: &str) -> Result<Option<ProfileItem>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(profile_pk(email)))
            .key("sk", AttributeValue::S(profile_sk(brand)))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::aws)?;
        out.item.map(from_item).transpose()
    }

    pub async fn delete_profile(&self, email: &str, brand: &str) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(profile_pk(email)))
            .key("sk", AttributeValue::S(profile_sk(brand)))
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(())
    }

    /// Delete every stored version of a traveller's details (after an erasure committed). Idempotent.
    pub async fn delete_details_versions(
        &self,
        reference: &str,
        traveller_id: &str,
        keep: u32,
    ) -> Result<usize, StoreError> {
        let versions = self.details_versions(reference, traveller_id).await?;
        let mut n = 0;
        for v in versions.iter().filter(|v| v.version != keep) {
            self.client()
                .delete_item()
                .table_name(self.table())
                .key("pk", AttributeValue::S(v.pk.clone()))
                .key("sk", AttributeValue::S(v.sk.clone()))
                .send()
                .await
                .map_err(StoreError::aws)?;
            n += 1;
        }
        Ok(n)
    }

    /// Details whose retention ends on or before `today` (the retention index; the caller re-checks the
    /// booking's `travel_end`). At most `limit` per call, oldest first.
    pub async fn details_due_for_erasure(&self, today: NaiveDate, limit: i32) -> Result<Vec<DueErasure>, StoreError> {
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .index_name("due_instalments")
            .key_condition_expression("gsi2pk = :pk AND gsi2sk <= :upto")
            .expression_attribute_values(":pk", AttributeValue::S(ERASE_GSI2PK.into()))
            .expression_attribute_values(":upto", AttributeValue::S(format!("{today}#~")))
            .limit(limit)
            .send()
            .await
            .map_err(StoreError::aws)?;
        let mut due = Vec::new();
        for i in out.items.unwrap_or_default() {
            let sk = i.get("gsi2sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let mut parts = sk.splitn(3, '#');
            let (Some(date), Some(reference), Some(traveller)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let Ok(erase_after) = date.parse::<NaiveDate>() else { continue };
            due.push(DueErasure { reference: reference.into(), traveller_id: traveller.into(), erase_after });
        }
        Ok(due)
    }

    /// The current details item of one traveller (strongly consistent).
    pub async fn details_item(&self, reference: &str, traveller_id: &str) -> Result<Option<DetailsItem>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(crate::keys::booking_pk(reference)))
            .key("sk", AttributeValue::S(details_sk(traveller_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::aws)?;
        out.item.map(from_item).transpose()
    }

    /// The operator's feed: events recorded after `after` (a `gsi3sk` cursor) and before `settled_before`
    /// (the index is eventually consistent: an event younger than the settle window may not be visible yet,
    /// and a cursor must never pass it), oldest first.
    pub async fn traveller_events(
        &self,
        after: Option<&str>,
        settled_before: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<TravellerEventItem>, StoreError> {
        let upto = format!("{}#", settled_before.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        let mut q = self
            .client()
            .query()
            .table_name(self.table())
            .index_name("unexported_events")
            .expression_attribute_values(":pk", AttributeValue::S(TRAVELLER_EVENTS_GSI3PK.into()))
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
            let e: TravellerEventItem = from_item(i)?;
            if after.is_some_and(|a| e.gsi3sk.as_str() <= a) {
                continue;
            }
            events.push(e);
        }
        Ok(events)
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

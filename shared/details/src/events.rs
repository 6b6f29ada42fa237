//! The operator's traveller events (`docs/traveller-events.schema.json`, schema version 1): what happened to
//! whose details, by whom, which fields. Never a value: the operator reads values through its own route.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    #[serde(rename = "traveller_details.changed")]
    Changed,
    #[serde(rename = "traveller_details.restored")]
    Restored,
    #[serde(rename = "traveller_details.erased")]
    Erased,
    #[serde(rename = "erasure_request.submitted")]
    ErasureRequested,
    #[serde(rename = "erasure_request.updated")]
    ErasureUpdated,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventActor {
    pub role: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErasureRef {
    pub request_id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TravellerEvent {
    pub schema_version: u32,
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub occurred_at: String,
    pub reference: String,
    pub brand: String,
    pub traveller_id: String,
    pub version: u32,
    pub actor: EventActor,
    pub changed_fields: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erasure_request: Option<ErasureRef>,
    /// `retention` or `request`, on erasures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl TravellerEvent {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        event_id: String,
        event_type: EventType,
        at: DateTime<Utc>,
        reference: &str,
        brand: &str,
        traveller_id: &str,
        version: u32,
        actor: EventActor,
    ) -> TravellerEvent {
        TravellerEvent {
            schema_version: SCHEMA_VERSION,
            event_id,
            event_type,
            occurred_at: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            reference: reference.into(),
            brand: brand.into(),
            traveller_id: traveller_id.into(),
            version,
            actor,
            changed_fields: Vec::new(),
            restored_from: None,
            erasure_request: None,
            reason: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_fields_never_values() {
        let mut e = TravellerEvent::new(
            "e1".into(),
            EventType::Changed,
            DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            "AE-1",
            "alpine",
            "t1",
            2,
            EventActor { role: "customer".into(), id: "t1".into() },
        );
        e.changed_fields = vec!["travel_document.number".into()];
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "traveller_details.changed");
        assert_eq!(v["occurred_at"], "2027-01-15T08:00:00.000Z");
        assert!(v.get("restored_from").is_none());
    }
}

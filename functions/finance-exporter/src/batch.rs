//! Pure export logic: which outbox items form a batch, the NDJSON line of each, the batch name and the
//! manifest. No AWS calls here; `export.rs` feeds it pages read from the `unexported_events` index.
//!
//! Determinism is the whole point: the same pending events give the same batch name and the same bytes, so a
//! rerun after a crash overwrites a file with itself instead of writing a second copy.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use portal_domain::events::{EVENT_SCHEMA_VERSION, LedgerEvent};
use portal_domain::money::{Money, MoneyError};
use portal_store::store::Item;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// DynamoDB allows 100 actions in one transaction; a batch is marked exported in exactly one transaction.
pub const MAX_BATCH: usize = 100;

/// One outbox item turned into its export line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub pk: String,
    pub sk: String,
    pub event_id: String,
    /// The item's `gsi3sk` (`<recorded_at>#<event id>`): its position in the index.
    pub position: String,
    pub schema_version: u64,
    /// Parsed when the version is one this exporter knows.
    pub event: Option<LedgerEvent>,
    /// The NDJSON line, without the newline.
    pub json: String,
}

/// An item the exporter cannot export faithfully (a known version that does not parse, or no event at all):
/// moved to the `HELD` partition of the index and reported, never dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub pk: String,
    pub sk: String,
    pub reason: String,
}

fn s(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// The export line of one outbox item. Version 1 is parsed and re-serialised (field order fixed by the
/// struct); any other version is exported as-is (the stored `event` map as JSON, keys sorted) with its
/// `schema_version`, so a newer writer's events are never lost by an older exporter.
pub fn line_for(item: &Item) -> Result<Line, Held> {
    let pk = s(item, "pk").unwrap_or_default();
    let sk = s(item, "sk").unwrap_or_default();
    let held = |reason: String| Held { pk: pk.clone(), sk: sk.clone(), reason };
    let position = s(item, "gsi3sk").ok_or_else(|| held("no gsi3sk".into()))?;
    let version: u64 = item
        .get("schema_version")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| held("no numeric schema_version".into()))?;
    let raw = item.get("event").ok_or_else(|| held("no event attribute".into()))?;
    if version == u64::from(EVENT_SCHEMA_VERSION) {
        let event: LedgerEvent = serde_dynamo::from_attribute_value(raw.clone())
            .map_err(|e| held(format!("schema_version 1 event does not parse: {e}")))?;
        let json = serde_json::to_string(&event).map_err(|e| held(e.to_string()))?;
        return Ok(Line {
            event_id: event.event_id.clone(),
            pk,
            sk,
            position,
            schema_version: version,
            event: Some(event),
            json,
        });
    }
    let mut value: serde_json::Value =
        serde_dynamo::from_attribute_value(raw.clone()).map_err(|e| held(format!("event is not JSON-like: {e}")))?;
    let obj = value.as_object_mut().ok_or_else(|| held("event is not a map".into()))?;
    let event_id = sk.strip_prefix("EVT#").unwrap_or(&sk).to_string();
    obj.entry("event_id").or_insert_with(|| serde_json::Value::String(event_id.clone()));
    obj.insert("schema_version".into(), serde_json::Value::from(version));
    let event_id = obj.get("event_id").and_then(|v| v.as_str()).unwrap_or(&event_id).to_string();
    let json = serde_json::to_string(&value).map_err(|e| held(e.to_string()))?;
    Ok(Line { pk, sk, event_id, position, schema_version: version, event: None, json })
}

/// The aligned export window containing `t`. Windows divide the day, so a batch never spans two dates.
pub fn window_of(t: DateTime<Utc>, window: Duration) -> (DateTime<Utc>, DateTime<Utc>) {
    let w = window.num_seconds().max(1);
    let start = t.timestamp().div_euclid(w) * w;
    let start = Utc.timestamp_opt(start, 0).single().unwrap_or(t);
    (start, start + window)
}

/// The index sort-key prefix of an instant (same format as `keys::unexported_gsi3sk`).
pub fn position_of(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The recorded_at part of an index position.
pub fn recorded_at_of(position: &str) -> Option<DateTime<Utc>> {
    let ts = position.split('#').next()?;
    DateTime::parse_from_rfc3339(ts).ok().map(|d| d.with_timezone(&Utc))
}

/// `exports/events/date=YYYY-MM-DD/batch-<window start>-<first recorded_at>-<count>-<sha256 of ids, 16 hex>`
/// (without extension). Depends only on the window and the events in it, never on the clock of the run.
pub fn batch_name(prefix: &str, window_start: DateTime<Utc>, lines: &[Line], held: &[Held]) -> String {
    let mut h = Sha256::new();
    for l in lines {
        h.update(l.event_id.as_bytes());
        h.update(b"\n");
    }
    for x in held {
        h.update(b"held:");
        h.update(x.sk.as_bytes());
        h.update(b"\n");
    }
    let digest = hex::encode(h.finalize());
    let first = lines
        .first()
        .and_then(|l| recorded_at_of(&l.position))
        .map(|t| t.format("%H%M%S%6f").to_string())
        .unwrap_or_else(|| "none".into());
    format!(
        "{prefix}/date={}/batch-{}-{first}-{:04}-{}",
        window_start.format("%Y-%m-%d"),
        window_start.format("%Y%m%dT%H%M"),
        lines.len(),
        &digest[..16]
    )
}

/// The file body: one JSON object per line, each line ends with `\n`.
pub fn ndjson(lines: &[Line]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.iter().map(|l| l.json.len() + 1).sum());
    for l in lines {
        out.extend_from_slice(l.json.as_bytes());
        out.push(b'\n');
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    pub event_id: String,
    pub recorded_at: String,
}

/// Per currency and event type: how many lines and their sum, in minor units and as a decimal string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sum {
    pub count: u64,
    pub sum_minor: i64,
    pub sum: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub manifest_version: u32,
    pub batch: String,
    pub data_key: String,
    pub data_sha256: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub line_count: u64,
    pub first_event: Option<EventRef>,
    pub last_event: Option<EventRef>,
    /// currency → event type → sum. Lines of an unknown schema version are not summed (see below).
    pub totals: BTreeMap<String, BTreeMap<String, Sum>>,
    /// Lines whose schema version without an amount (or unknown): counted per type.
    pub counts_by_type: BTreeMap<String, u64>,
    /// schema_version → lines exported as-is because this exporter does not know that version.
    pub unknown_schema_versions: BTreeMap<String, u64>,
    /// Items held back (moved to the `HELD` index partition) and why.
    pub held: Vec<Held>,
}

fn event_ref(l: &Line) -> EventRef {
    EventRef {
        event_id: l.event_id.clone(),
        recorded_at: recorded_at_of(&l.position).map(position_of).unwrap_or_default(),
    }
}

fn type_name(e: &LedgerEvent) -> String {
    serde_json::to_value(e.event_type).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

impl Manifest {
    pub fn build(
        batch: &str,
        data_key: &str,
        data: &[u8],
        window: (DateTime<Utc>, DateTime<Utc>),
        lines: &[Line],
        held: &[Held],
    ) -> Result<Manifest, MoneyError> {
        let mut totals: BTreeMap<String, BTreeMap<String, (u64, Option<Money>)>> = BTreeMap::new();
        let mut counts_by_type = BTreeMap::new();
        let mut unknown = BTreeMap::new();
        for l in lines {
            match &l.event {
                Some(e) => {
                    let t = type_name(e);
                    *counts_by_type.entry(t.clone()).or_insert(0) += 1;
                    if let Some(a) = e.amount {
                        let slot =
                            totals.entry(a.currency().code().to_string()).or_default().entry(t).or_insert((0, None));
                        slot.0 += 1;
                        slot.1 = Some(match slot.1 {
                            None => a,
                            Some(sum) => sum.checked_add(a)?,
                        });
                    }
                }
                None => {
                    *unknown.entry(l.schema_version.to_string()).or_insert(0) += 1;
                    let t = serde_json::from_str::<serde_json::Value>(&l.json)
                        .ok()
                        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
                        .unwrap_or_else(|| "unknown".into());
                    *counts_by_type.entry(t).or_insert(0) += 1;
                }
            }
        }
        let totals = totals
            .into_iter()
            .map(|(c, m)| {
                let m = m
                    .into_iter()
                    .map(|(t, (count, sum))| {
                        let sum_minor = sum.map(Money::minor).unwrap_or(0);
                        (t, Sum { count, sum_minor, sum: sum.map(Money::to_decimal_string).unwrap_or_default() })
                    })
                    .collect();
                (c, m)
            })
            .collect();
        Ok(Manifest {
            manifest_version: 1,
            batch: batch.to_string(),
            data_key: data_key.to_string(),
            data_sha256: hex::encode(Sha256::digest(data)),
            window_start: window.0,
            window_end: window.1,
            line_count: lines.len() as u64,
            first_event: lines.first().map(event_ref),
            last_event: lines.last().map(event_ref),
            totals,
            counts_by_type,
            unknown_schema_versions: unknown,
            held: held.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;
    use portal_domain::events::{EventType, derived_id};
    use portal_domain::ledger::Actor;
    use portal_domain::money::Currency;
    use portal_store::items::OutboxItem;

    fn event(i: u32, t: EventType, minor: i64, cur: Currency) -> LedgerEvent {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap() + Duration::seconds(i64::from(i));
        LedgerEvent {
            schema_version: 1,
            event_id: derived_id("evt", &i.to_string()),
            event_type: t,
            booking_reference: "AE-10001".into(),
            booking_version: None,
            movement_id: Some(format!("mov{i}")),
            amount: Some(Money::from_minor(minor, cur).unwrap()),
            channel: None,
            gateway: None,
            acquirer_fee: None,
            protected_amount: None,
            protected_until: None,
            instalment_ids: vec![],
            occurred_at: at,
            recorded_at: at,
            actor: Actor::system("test"),
        }
    }

    fn attribute_s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_string())
    }

    fn item(e: LedgerEvent) -> Item {
        portal_store::store::to_item(&OutboxItem::new(e)).unwrap()
    }

    #[test]
    fn version_one_lines_round_trip_and_name_is_deterministic() {
        let lines: Vec<Line> =
            (0..3).map(|i| line_for(&item(event(i, EventType::Charge, 100, Currency::Gbp))).unwrap()).collect();
        let back: LedgerEvent = serde_json::from_str(&lines[1].json).unwrap();
        assert_eq!(back, event(1, EventType::Charge, 100, Currency::Gbp));
        let (ws, _) = window_of(lines[0].event.as_ref().unwrap().recorded_at, Duration::hours(1));
        let a = batch_name("exports/events", ws, &lines, &[]);
        assert_eq!(a, batch_name("exports/events", ws, &lines.clone(), &[]));
        assert!(a.starts_with("exports/events/date=2026-11-25/batch-20261125T1000-100000000000-0003-"), "{a}");
        assert_ne!(a, batch_name("exports/events", ws, &lines[..2], &[]));
    }

    #[test]
    fn unknown_versions_are_exported_as_is_and_bad_known_ones_are_held() {
        let mut it = item(event(0, EventType::Fee, 5, Currency::Eur));
        it.insert("schema_version".into(), AttributeValue::N("2".into()));
        if let Some(AttributeValue::M(m)) = it.get_mut("event") {
            m.insert("new_field".into(), attribute_s("x"));
        }
        let l = line_for(&it).unwrap();
        assert_eq!(l.schema_version, 2);
        assert!(l.event.is_none());
        let v: serde_json::Value = serde_json::from_str(&l.json).unwrap();
        assert_eq!(v["schema_version"], 2);
        assert_eq!(v["new_field"], "x");
        assert_eq!(v["event_id"], derived_id("evt", "0"));

        let mut bad = item(event(1, EventType::Fee, 5, Currency::Eur));
        if let Some(AttributeValue::M(m)) = bad.get_mut("event") {
            m.insert("type".into(), attribute_s("no.such.type"));
        }
        let h = line_for(&bad).unwrap_err();
        assert!(h.reason.contains("does not parse"), "{h:?}");
    }

    #[test]
    fn manifest_sums_per_currency_and_type_in_minor_units() {
        let evs = [
            event(0, EventType::Charge, 308_050, Currency::Gbp),
            event(1, EventType::PaymentSucceeded, 50_000, Currency::Gbp),
            event(2, EventType::PaymentSucceeded, 1, Currency::Gbp),
            event(3, EventType::Charge, 248_000, Currency::Jpy),
        ];
        let lines: Vec<Line> = evs.into_iter().map(|e| line_for(&item(e)).unwrap()).collect();
        let data = ndjson(&lines);
        let w = window_of(lines[0].event.as_ref().unwrap().recorded_at, Duration::hours(1));
        let m = Manifest::build("b", "b.ndjson", &data, w, &lines, &[]).unwrap();
        assert_eq!(m.line_count, 4);
        assert_eq!(m.totals["GBP"]["payment.succeeded"], Sum { count: 2, sum_minor: 50_001, sum: "500.01".into() });
        assert_eq!(m.totals["GBP"]["charge"].sum, "3080.50");
        assert_eq!(m.totals["JPY"]["charge"].sum, "248000");
        assert_eq!(m.first_event.as_ref().unwrap().event_id, lines[0].event_id);
        assert_eq!(m.last_event.as_ref().unwrap().event_id, lines[3].event_id);
        assert_eq!(data.iter().filter(|b| **b == b'\n').count(), 4);
    }

    #[test]
    fn windows_are_aligned_and_divide_the_day() {
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 23, 59, 59).unwrap();
        let (s, e) = window_of(t, Duration::hours(1));
        assert_eq!(s, Utc.with_ymd_and_hms(2026, 11, 25, 23, 0, 0).unwrap());
        assert_eq!(e, Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap());
        assert_eq!(position_of(s), "2026-11-25T23:00:00.000000Z");
        assert_eq!(recorded_at_of("2026-11-25T23:00:00.000001Z#evt_x"), Some(s + Duration::microseconds(1)));
    }
}

//! Reconciliation: the exported lines of a date range against the ledger's movements of the same range, per
//! booking, currency and movement kind. Zero difference on a correct system. `src/bin/reconcile.rs` is the
//! finance command; `reconcile` below is the pure comparison, `run` loads both sides.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDate, Utc};
use portal_domain::ledger::MovementKind;
use portal_domain::money::Money;
use portal_store::items::{ENTITY_MOVEMENT, MovementItem};
use portal_store::store::{Item, StoreError, from_item};
use portal_store::{Store, keys, tables};
use serde::Serialize;

use crate::EXPORT_PREFIX;

/// One movement of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub booking: String,
    pub movement_id: String,
    pub kind: MovementKind,
    pub amount: Money,
}

/// One exported line, read generically (any schema version) from its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedLine {
    pub event_id: String,
    pub event_type: String,
    pub booking: String,
    pub movement_id: Option<String>,
    pub amount: Option<Money>,
    pub schema_version: u64,
    pub recorded_at: Option<DateTime<Utc>>,
    pub source: String,
}

impl ExportedLine {
    pub fn parse(line: &str, source: &str) -> Result<ExportedLine, String> {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("{source}: not JSON: {e}"))?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        Ok(ExportedLine {
            event_id: s("event_id").ok_or_else(|| format!("{source}: line without event_id"))?,
            event_type: s("type").unwrap_or_default(),
            booking: s("booking_reference").unwrap_or_default(),
            movement_id: s("movement_id"),
            amount: v.get("amount").and_then(|a| serde_json::from_value::<Money>(a.clone()).ok()),
            schema_version: v.get("schema_version").and_then(|x| x.as_u64()).unwrap_or(0),
            recorded_at: s("recorded_at")
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|d| d.with_timezone(&Utc)),
            source: source.to_string(),
        })
    }
}

/// The movement kind an event type reports (`None`: not a movement, e.g. `booking.created`).
pub fn movement_kind(event_type: &str) -> Option<MovementKind> {
    Some(match event_type {
        "charge" => MovementKind::Charge,
        "adjustment" => MovementKind::Adjustment,
        "fee" => MovementKind::Fee,
        "payment.succeeded" | "instalment.charged" => MovementKind::Payment,
        "refund" => MovementKind::Refund,
        "instalment.approved" => MovementKind::InstalmentApproved,
        "instalment.withdrawn" => MovementKind::ApprovalWithdrawn,
        "payment.failed" | "instalment.failed" => MovementKind::PaymentFailed,
        "refund.pending" => MovementKind::RefundPending,
        "refund.failed" => MovementKind::RefundFailed,
        "refund.reversed" => MovementKind::RefundReversed,
        "dispute" => MovementKind::DisputeOpened,
        "dispute.funds_withdrawn" => MovementKind::Chargeback,
        "dispute.funds_reinstated" => MovementKind::ChargebackReversed,
        "dispute.closed" => MovementKind::DisputeClosed,
        _ => return None,
    })
}

fn kind_name(k: MovementKind) -> String {
    serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Row {
    pub booking: String,
    pub currency: String,
    pub kind: String,
    pub ledger_count: u64,
    pub ledger_minor: i64,
    pub exported_count: u64,
    pub exported_minor: i64,
    pub difference_minor: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub movements: u64,
    pub lines: u64,
    /// Movements whose event is still waiting in the outbox (not yet due for export): left out of both sides.
    pub pending: u64,
    /// Every (booking, currency, kind) compared.
    pub rows: Vec<Row>,
    /// The rows that differ (count or amount).
    pub differences: Vec<Row>,
    /// Ledger movements with no exported line.
    pub missing_movements: Vec<String>,
    /// Exported movement lines with no ledger movement.
    pub unexpected_lines: Vec<String>,
    /// Event ids exported more than once.
    pub duplicate_event_ids: Vec<String>,
    /// Lines of a schema version this command does not know (compared best-effort by field name).
    pub unknown_schema_lines: u64,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
            && self.missing_movements.is_empty()
            && self.unexpected_lines.is_empty()
            && self.duplicate_event_ids.is_empty()
    }
}

fn add(m: &mut i64, a: Money) -> Result<(), String> {
    *m = m.checked_add(a.minor()).ok_or("amount overflow")?;
    Ok(())
}

/// Compare both sides. `pending` holds movement ids whose outbox event is still unexported.
pub fn reconcile(
    ledger: &[LedgerEntry],
    exported: &[ExportedLine],
    pending: &BTreeSet<String>,
) -> Result<Report, String> {
    let mut report = Report::default();
    let mut rows: BTreeMap<(String, String, String), Row> = BTreeMap::new();
    let mut row = |b: &str, c: &str, k: &str| -> (String, String, String) {
        let key = (b.to_string(), c.to_string(), k.to_string());
        rows.entry(key.clone()).or_insert_with(|| Row {
            booking: b.into(),
            currency: c.into(),
            kind: k.into(),
            ..Row::default()
        });
        key
    };
    let mut seen = BTreeSet::new();
    let mut exported_movements = BTreeSet::new();
    let mut keyed: Vec<((String, String, String), Money)> = Vec::new();
    for l in exported {
        if !seen.insert(l.event_id.clone()) {
            report.duplicate_event_ids.push(l.event_id.clone());
            continue;
        }
        report.lines += 1;
        if l.schema_version != u64::from(portal_domain::events::EVENT_SCHEMA_VERSION) {
            report.unknown_schema_lines += 1;
        }
        let (Some(kind), Some(mid)) = (movement_kind(&l.event_type), l.movement_id.as_ref()) else {
            continue;
        };
        if pending.contains(mid) {
            continue;
        }
        exported_movements.insert(mid.clone());
        let amount = l.amount.ok_or_else(|| format!("{}: movement line {} without amount", l.source, l.event_id))?;
        keyed.push((row(&l.booking, amount.currency().code(), &kind_name(kind)), amount));
    }
    let mut ledger_movements = BTreeSet::new();
    let mut ledger_keyed = Vec::new();
    for m in ledger {
        report.movements += 1;
        if pending.contains(&m.movement_id) {
            report.pending += 1;
            continue;
        }
        ledger_movements.insert(m.movement_id.clone());
        ledger_keyed.push((row(&m.booking, m.amount.currency().code(), &kind_name(m.kind)), m.amount));
    }
    for (k, a) in keyed {
        let r = rows.get_mut(&k).ok_or("row")?;
        r.exported_count += 1;
        add(&mut r.exported_minor, a)?;
    }
    for (k, a) in ledger_keyed {
        let r = rows.get_mut(&k).ok_or("row")?;
        r.ledger_count += 1;
        add(&mut r.ledger_minor, a)?;
    }
    for r in rows.values_mut() {
        r.difference_minor = r.exported_minor.checked_sub(r.ledger_minor).ok_or("amount overflow")?;
    }
    report.rows = rows.into_values().collect();
    report.differences =
        report.rows.iter().filter(|r| r.difference_minor != 0 || r.ledger_count != r.exported_count).cloned().collect();
    report.missing_movements = ledger_movements.difference(&exported_movements).cloned().collect();
    report.unexpected_lines = exported_movements.difference(&ledger_movements).cloned().collect();
    Ok(report)
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("S3: {0}")]
    S3(String),
    #[error("{0}")]
    Data(String),
}

fn in_range(t: DateTime<Utc>, from: NaiveDate, to: NaiveDate) -> bool {
    let d = t.date_naive();
    d >= from && d <= to
}

/// Every exported line of the date partitions `from..=to` (recorded_at in range).
pub async fn load_exports(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<ExportedLine>, ReconcileError> {
    let s3e = |e: &dyn std::fmt::Display| ReconcileError::S3(e.to_string());
    let mut out = Vec::new();
    let mut day = from;
    while day <= to {
        let prefix = format!("{EXPORT_PREFIX}/date={day}/");
        let mut token = None;
        loop {
            let page = s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| s3e(&StoreError::aws(e)))?;
            for obj in page.contents() {
                let Some(key) = obj.key().filter(|k| k.ends_with(".ndjson")) else { continue };
                let body =
                    s3.get_object().bucket(bucket).key(key).send().await.map_err(|e| s3e(&StoreError::aws(e)))?;
                let bytes = body.body.collect().await.map_err(|e| s3e(&e))?.into_bytes();
                let text = std::str::from_utf8(&bytes).map_err(|e| ReconcileError::Data(format!("{key}: {e}")))?;
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    let l = ExportedLine::parse(line, key).map_err(ReconcileError::Data)?;
                    if l.recorded_at.is_none_or(|t| in_range(t, from, to)) {
                        out.push(l);
                    }
                }
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        day = day.succ_opt().ok_or_else(|| ReconcileError::Data("date overflow".into()))?;
    }
    Ok(out)
}

/// Every ledger movement recorded in `from..=to`. A paginated `Scan` filtered on the entity: this offline
/// finance command is the one reader that needs every booking (see docs/finance.md).
pub async fn load_ledger(store: &Store, from: NaiveDate, to: NaiveDate) -> Result<Vec<LedgerEntry>, ReconcileError> {
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = store
            .client()
            .scan()
            .table_name(store.table())
            .filter_expression("entity = :m")
            .expression_attribute_values(":m", AttributeValue::S(ENTITY_MOVEMENT.into()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(StoreError::aws)?;
        for item in page.items.unwrap_or_default() {
            let m: MovementItem = from_item(item)?;
            if in_range(m.movement.recorded_at, from, to) {
                out.push(LedgerEntry {
                    booking: m.pk.trim_start_matches("B#").to_string(),
                    movement_id: m.movement.id,
                    kind: m.movement.kind,
                    amount: m.movement.amount,
                });
            }
        }
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(out),
        }
    }
}

/// Movement ids whose outbox event is still in the `unexported_events` index.
pub async fn load_pending(store: &Store) -> Result<BTreeSet<String>, ReconcileError> {
    let mut out = BTreeSet::new();
    let mut start: Option<Item> = None;
    loop {
        let page = store
            .client()
            .query()
            .table_name(store.table())
            .index_name(tables::INDEX_UNEXPORTED_EVENTS)
            .key_condition_expression("gsi3pk = :u")
            .expression_attribute_values(":u", AttributeValue::S(keys::UNEXPORTED_GSI3PK.into()))
            .projection_expression("#e.movement_id")
            .expression_attribute_names("#e", "event")
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(StoreError::aws)?;
        for item in page.items() {
            if let Some(AttributeValue::M(e)) = item.get("event")
                && let Some(AttributeValue::S(id)) = e.get("movement_id")
            {
                out.insert(id.clone());
            }
        }
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(out),
        }
    }
}

/// Load both sides and compare.
pub async fn run(
    store: &Store,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Report, ReconcileError> {
    let exported = load_exports(s3, bucket, from, to).await?;
    let ledger = load_ledger(store, from, to).await?;
    let pending = load_pending(store).await?;
    reconcile(&ledger, &exported, &pending).map_err(ReconcileError::Data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::money::Currency;

    fn gbp(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Gbp).unwrap()
    }

    fn entry(b: &str, id: &str, kind: MovementKind, minor: i64) -> LedgerEntry {
        LedgerEntry { booking: b.into(), movement_id: id.into(), kind, amount: gbp(minor) }
    }

    fn line(b: &str, id: &str, t: &str, minor: i64) -> ExportedLine {
        ExportedLine {
            event_id: format!("evt-{id}"),
            event_type: t.into(),
            booking: b.into(),
            movement_id: Some(id.into()),
            amount: Some(gbp(minor)),
            schema_version: 1,
            recorded_at: None,
            source: "test".into(),
        }
    }

    #[test]
    fn matching_sides_are_clean_and_a_missing_line_is_reported() {
        let ledger = vec![entry("A", "m1", MovementKind::Charge, 1000), entry("A", "m2", MovementKind::Payment, 300)];
        let mut exported = vec![line("A", "m1", "charge", 1000), line("A", "m2", "payment.succeeded", 300)];
        let clean = reconcile(&ledger, &exported, &BTreeSet::new()).unwrap();
        assert!(clean.is_clean(), "{clean:?}");
        assert_eq!(clean.rows.len(), 2);

        exported.pop();
        let r = reconcile(&ledger, &exported, &BTreeSet::new()).unwrap();
        assert!(!r.is_clean());
        assert_eq!(r.missing_movements, vec!["m2".to_string()]);
        assert_eq!(r.differences.len(), 1);
        assert_eq!(r.differences[0].difference_minor, -300);
        assert_eq!(r.differences[0].kind, "payment");
    }

    #[test]
    fn duplicates_wrong_amounts_and_pending_are_told_apart() {
        let ledger = vec![entry("A", "m1", MovementKind::Charge, 1000), entry("B", "m9", MovementKind::Fee, 50)];
        let mut exported = vec![line("A", "m1", "charge", 999), line("A", "m1", "charge", 999)];
        exported.push(ExportedLine { movement_id: None, ..line("A", "x", "booking.created", 1000) });
        let pending: BTreeSet<String> = ["m9".to_string()].into();
        let r = reconcile(&ledger, &exported, &pending).unwrap();
        assert_eq!(r.pending, 1);
        assert_eq!(r.duplicate_event_ids, vec!["evt-m1".to_string()]);
        assert_eq!(r.differences[0].difference_minor, -1);
        assert!(r.missing_movements.is_empty());
    }

    #[test]
    fn event_types_map_to_movement_kinds() {
        assert_eq!(movement_kind("instalment.charged"), Some(MovementKind::Payment));
        assert_eq!(movement_kind("instalment.failed"), Some(MovementKind::PaymentFailed));
        // The refund and dispute lifecycle's event types (docs/finance-events.schema.json) map back to their kinds.
        for (name, kind) in [
            ("refund.pending", MovementKind::RefundPending),
            ("refund.failed", MovementKind::RefundFailed),
            ("refund.reversed", MovementKind::RefundReversed),
            ("dispute", MovementKind::DisputeOpened),
            ("dispute.funds_withdrawn", MovementKind::Chargeback),
            ("dispute.funds_reinstated", MovementKind::ChargebackReversed),
            ("dispute.closed", MovementKind::DisputeClosed),
        ] {
            let event: portal_domain::events::EventType = serde_json::from_value(serde_json::json!(name)).unwrap();
            assert_eq!(serde_json::to_value(event).unwrap(), name);
            assert_eq!(movement_kind(name), Some(kind), "{name}");
        }
        assert_eq!(movement_kind("booking.created"), None);
        let l = ExportedLine::parse(
            r#"{"schema_version":2,"event_id":"e","type":"fee","booking_reference":"A","movement_id":"m","amount":{"amount":"1.50","currency":"GBP"}}"#,
            "k",
        )
        .unwrap();
        assert_eq!(l.amount, Some(gbp(150)));
        assert_eq!(l.schema_version, 2);
    }
}

//! The finance exporter: outbox events → NDJSON batches in S3, each with a manifest, exactly once.
//!
//! A run (scheduled, or invoked on demand) takes a lease so only one exporter works at a time, then loops:
//! read the first pending event in the sparse `unexported_events` index, take its aligned time window (closed
//! for at least `settle`, so no new event can still land in it), read up to `batch_size` (≤ 100) pending
//! events of that window in index order, write `<batch>.ndjson` and `<batch>.manifest.json`, then mark the
//! whole batch exported in ONE conditional `TransactWriteItems` (each event: `gsi3pk = UNEXPORTED` → removed,
//! `exported_batch` set). The batch name and bytes depend only on the pending events of a closed window, so
//! a crash anywhere before the mark makes the rerun rewrite the identical files; a crash after the mark has
//! nothing left to do. See `docs/finance.md`.

pub mod batch;
pub mod reconcile;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Duration, Utc};
use portal_http::config::ConfigError;
use portal_store::store::{Item, StoreError, Tx};
use portal_store::{Store, keys, tables};
use serde::{Deserialize, Serialize};

use crate::batch::{Held, Line, MAX_BATCH, Manifest, line_for, position_of, recorded_at_of, window_of};

/// Key prefix of every export object (`<prefix>/date=YYYY-MM-DD/batch-...`).
pub const EXPORT_PREFIX: &str = "exports/events";
/// Index partition of events the exporter could not export faithfully (reported in the manifest and logs).
pub const HELD_GSI3PK: &str = "HELD";
pub const LEASE_PK: &str = "LEASE#finance-exporter";
pub const LEASE_SK: &str = "LEASE";

pub struct State {
    pub store: Store,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

impl State {
    /// `TABLE_NAME` and `EXPORT_BUCKET`, read once at cold start.
    pub async fn from_env() -> Result<State, ConfigError> {
        let table = portal_http::config::required("TABLE_NAME")?;
        let bucket = portal_http::config::required("EXPORT_BUCKET")?;
        let sdk = portal_store::aws::sdk_config().await;
        Ok(State {
            store: Store::new(portal_store::aws::dynamodb_client(&sdk, None), table),
            s3: aws_sdk_s3::Client::new(&sdk),
            bucket,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The run's clock (injectable for tests).
    pub now: DateTime<Utc>,
    /// Events per batch, at most 100 (one transaction marks the whole batch).
    pub batch_size: usize,
    /// Aligned window a batch never crosses; must divide a day.
    pub window: Duration,
    /// How long after a window ends before it is exported: covers a writer's clock-to-commit delay (a Lambda
    /// runs at most 15 minutes) and index propagation.
    pub settle: Duration,
    /// Bound on the work of one invocation.
    pub max_batches: usize,
    /// Who holds the lease (the Lambda request id).
    pub owner: String,
    pub use_lease: bool,
    pub lease_for: Duration,
    /// Fault injection: stop (as a crash would: lease kept, nothing marked) right after the S3 writes.
    pub fail_after_write: bool,
}

impl ExportOptions {
    pub fn new(now: DateTime<Utc>, owner: impl Into<String>) -> ExportOptions {
        ExportOptions {
            now,
            batch_size: MAX_BATCH,
            window: Duration::hours(1),
            settle: Duration::minutes(15),
            max_batches: 200,
            owner: owner.into(),
            use_lease: true,
            lease_for: Duration::minutes(15),
            fail_after_write: false,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportReport {
    /// Batches this run committed (names without extension).
    pub batches: Vec<String>,
    pub lines: u64,
    pub held: u64,
    /// Another exporter holds the lease: this run did nothing.
    pub lease_busy: bool,
    /// Batches another exporter committed first (same name: identical files).
    pub lost_races: u64,
    /// Pending events remain (window still open, or `max_batches` reached).
    pub more_pending: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("S3 call failed: {0}")]
    S3(String),
    #[error("money: {0}")]
    Money(#[from] portal_domain::money::MoneyError),
    #[error("bad options: {0}")]
    Options(String),
    #[error("injected crash after writing {0}")]
    InjectedCrash(String),
}

fn s3_err<E: std::error::Error>(e: E) -> ExportError {
    match StoreError::aws(e) {
        StoreError::Aws(m) => ExportError::S3(m),
        other => ExportError::S3(other.to_string()),
    }
}

/// What the Lambda receives: an EventBridge scheduled event, or an on-demand `{"max_batches": n}`.
#[derive(Debug, Default, Deserialize)]
pub struct Invocation {
    #[serde(default, rename = "detail-type")]
    pub detail_type: Option<String>,
    #[serde(default)]
    pub max_batches: Option<usize>,
}

/// The Lambda handler: thin; the work is `export`.
pub async fn handle(
    state: &State,
    event: lambda_http::LambdaEvent<serde_json::Value>,
) -> Result<ExportReport, lambda_http::Error> {
    let inv: Invocation = serde_json::from_value(event.payload).unwrap_or_default();
    let mut opts = ExportOptions::new(Utc::now(), event.context.request_id.clone());
    if let Some(n) = inv.max_batches {
        opts.max_batches = n.clamp(1, 10_000);
    }
    tracing::info!(
        trigger = inv.detail_type.as_deref().unwrap_or("on-demand"),
        max_batches = opts.max_batches,
        "export run"
    );
    let report = export(state, &opts).await.map_err(|e| {
        tracing::error!(error = %e, "export failed");
        e
    })?;
    tracing::info!(
        batches = report.batches.len(),
        lines = report.lines,
        held = report.held,
        lease_busy = report.lease_busy,
        more_pending = report.more_pending,
        "export done"
    );
    Ok(report)
}

/// One export run. See the module documentation.
pub async fn export(state: &State, opts: &ExportOptions) -> Result<ExportReport, ExportError> {
    if opts.batch_size == 0 || opts.batch_size > MAX_BATCH {
        return Err(ExportError::Options(format!("batch_size must be 1..={MAX_BATCH}")));
    }
    let w = opts.window.num_seconds();
    if w <= 0 || 86_400 % w != 0 {
        return Err(ExportError::Options("window must divide a day".into()));
    }
    if opts.use_lease && !acquire_lease(&state.store, opts).await? {
        tracing::info!(owner = %opts.owner, "another exporter holds the lease");
        return Ok(ExportReport { lease_busy: true, ..ExportReport::default() });
    }
    let result = run_batches(state, opts).await;
    if opts.use_lease && !matches!(result, Err(ExportError::InjectedCrash(_))) {
        release_lease(&state.store, opts).await?;
    }
    result
}

async fn run_batches(state: &State, opts: &ExportOptions) -> Result<ExportReport, ExportError> {
    let mut report = ExportReport::default();
    let cutoff = opts.now - opts.settle;
    for _ in 0..opts.max_batches {
        let Some(first) = first_pending(&state.store, &position_of(cutoff)).await? else {
            // Anything recorded after the cutoff waits for a later run.
            report.more_pending = first_pending(&state.store, "~").await?.is_some();
            return Ok(report);
        };
        let Some(at) = recorded_at_of(&first) else {
            return Err(ExportError::Store(StoreError::Corrupt(format!("gsi3sk `{first}` has no timestamp"))));
        };
        let window = window_of(at, opts.window);
        if window.1 > cutoff {
            report.more_pending = true; // the window may still receive events: export it on a later run
            return Ok(report);
        }
        let items = pending_in_window(&state.store, window, opts.batch_size).await?;
        let (mut lines, mut held) = (Vec::new(), Vec::new());
        for item in &items {
            match line_for(item) {
                Ok(l) => lines.push(l),
                Err(h) => held.push(h),
            }
        }
        let name = batch::batch_name(EXPORT_PREFIX, window.0, &lines, &held);
        let data_key = format!("{name}.ndjson");
        let data = batch::ndjson(&lines);
        let manifest = Manifest::build(&name, &data_key, &data, window, &lines, &held)?;
        if !lines.is_empty() {
            put(state, &data_key, data, "application/x-ndjson").await?;
        }
        let manifest_json = serde_json::to_vec_pretty(&manifest).map_err(|e| ExportError::S3(e.to_string()))?;
        put(state, &format!("{name}.manifest.json"), manifest_json, "application/json").await?;
        if opts.fail_after_write {
            return Err(ExportError::InjectedCrash(name));
        }
        for h in &held {
            tracing::error!(pk = %h.pk, sk = %h.sk, reason = %h.reason, "outbox event held: not exported");
        }
        match mark(&state.store, &name, &lines, &held).await {
            Ok(()) => {
                tracing::info!(batch = %name, lines = lines.len(), held = held.len(), "batch exported");
                report.lines += lines.len() as u64;
                report.held += held.len() as u64;
                report.batches.push(name);
            }
            Err(StoreError::Conflict(reason)) => {
                let outcome = settle_conflict(state, &name, &lines).await?;
                tracing::warn!(batch = %name, %reason, outcome, "another exporter marked these events first");
                report.lost_races += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    report.more_pending = first_pending(&state.store, &position_of(cutoff)).await?.is_some();
    Ok(report)
}

async fn put(state: &State, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), ExportError> {
    state
        .s3
        .put_object()
        .bucket(&state.bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(s3_err)?;
    Ok(())
}

/// The index position of the oldest pending event recorded before `before`.
async fn first_pending(store: &Store, before: &str) -> Result<Option<String>, StoreError> {
    let out = store
        .client()
        .query()
        .table_name(store.table())
        .index_name(tables::INDEX_UNEXPORTED_EVENTS)
        .key_condition_expression("gsi3pk = :u AND gsi3sk < :c")
        .expression_attribute_values(":u", AttributeValue::S(keys::UNEXPORTED_GSI3PK.into()))
        .expression_attribute_values(":c", AttributeValue::S(before.to_string()))
        .projection_expression("gsi3sk")
        .limit(1)
        .send()
        .await
        .map_err(StoreError::aws)?;
    Ok(out.items().first().and_then(|i| i.get("gsi3sk")).and_then(|v| v.as_s().ok()).cloned())
}

/// Up to `limit` pending events of the window, in index order (pages past 1 MB followed; memory bounded by
/// `limit`).
async fn pending_in_window(
    store: &Store,
    window: (DateTime<Utc>, DateTime<Utc>),
    limit: usize,
) -> Result<Vec<Item>, StoreError> {
    let mut items: Vec<Item> = Vec::with_capacity(limit);
    let mut start: Option<Item> = None;
    loop {
        let out = store
            .client()
            .query()
            .table_name(store.table())
            .index_name(tables::INDEX_UNEXPORTED_EVENTS)
            .key_condition_expression("gsi3pk = :u AND gsi3sk BETWEEN :a AND :b")
            .expression_attribute_values(":u", AttributeValue::S(keys::UNEXPORTED_GSI3PK.into()))
            .expression_attribute_values(":a", AttributeValue::S(position_of(window.0)))
            // Positions are `<ts>#<id>`: every position inside the window sorts below the bare end instant.
            .expression_attribute_values(":b", AttributeValue::S(position_of(window.1)))
            .limit(i32::try_from(limit - items.len()).unwrap_or(1))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(StoreError::aws)?;
        items.extend(out.items.unwrap_or_default());
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() && items.len() < limit => start = Some(k),
            _ => return Ok(items),
        }
    }
}

fn key_update(store: &Store, pk: &str, sk: &str) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
    Update::builder()
        .table_name(store.table())
        .key("pk", AttributeValue::S(pk.to_string()))
        .key("sk", AttributeValue::S(sk.to_string()))
        .condition_expression("gsi3pk = :u")
        .expression_attribute_values(":u", AttributeValue::S(keys::UNEXPORTED_GSI3PK.into()))
}

/// Mark the whole batch in one transaction: exported events leave the index (and carry `exported_batch`),
/// held ones move to the `HELD` partition. Every action is conditional on the event still being pending, so
/// two exporters cannot both commit an event.
async fn mark(store: &Store, name: &str, lines: &[Line], held: &[Held]) -> Result<(), StoreError> {
    let mut tx = Tx::default();
    for l in lines {
        let u = key_update(store, &l.pk, &l.sk)
            .update_expression("REMOVE gsi3pk, gsi3sk SET exported_batch = :b")
            .expression_attribute_values(":b", AttributeValue::S(name.to_string()))
            .build()
            .map_err(StoreError::aws)?;
        tx.push(TransactWriteItem::builder().update(u).build());
    }
    for h in held {
        let u = key_update(store, &h.pk, &h.sk)
            .update_expression("SET gsi3pk = :h, held_reason = :r")
            .expression_attribute_values(":h", AttributeValue::S(HELD_GSI3PK.into()))
            .expression_attribute_values(":r", AttributeValue::S(h.reason.clone()))
            .build()
            .map_err(StoreError::aws)?;
        tx.push(TransactWriteItem::builder().update(u).build());
    }
    store.commit(tx).await
}

/// Our mark lost. If another exporter committed the same batch (same name), our files were identical
/// overwrites: nothing to do. If some event went to a different batch, our batch can never commit: delete
/// its files so no consumer reads a duplicate. Otherwise (a commit still in flight) leave them: the next run
/// rewrites or supersedes them, and consumers dedupe by `event_id`.
async fn settle_conflict(state: &State, name: &str, lines: &[Line]) -> Result<&'static str, ExportError> {
    let mut same = 0usize;
    let mut other = 0usize;
    for l in lines.iter() {
        let out = state
            .store
            .client()
            .get_item()
            .table_name(state.store.table())
            .key("pk", AttributeValue::S(l.pk.clone()))
            .key("sk", AttributeValue::S(l.sk.clone()))
            .consistent_read(true)
            .projection_expression("exported_batch")
            .send()
            .await
            .map_err(StoreError::aws)?;
        match out.item().and_then(|i| i.get("exported_batch")).and_then(|v| v.as_s().ok()) {
            Some(b) if b == name => same += 1,
            Some(_) => other += 1,
            None => {}
        }
    }
    if same == lines.len() {
        return Ok("same batch committed by the other exporter");
    }
    if other > 0 && same == 0 {
        for key in [format!("{name}.ndjson"), format!("{name}.manifest.json")] {
            state.s3.delete_object().bucket(&state.bucket).key(key).send().await.map_err(s3_err)?;
        }
        return Ok("superseded: files deleted");
    }
    Ok("in flight: files left for the next run")
}

async fn acquire_lease(store: &Store, opts: &ExportOptions) -> Result<bool, StoreError> {
    let until = opts.now + opts.lease_for;
    let res = store
        .client()
        .put_item()
        .table_name(store.table())
        .item("pk", AttributeValue::S(LEASE_PK.into()))
        .item("sk", AttributeValue::S(LEASE_SK.into()))
        .item("entity", AttributeValue::S("lease".into()))
        .item("lease_owner", AttributeValue::S(opts.owner.clone()))
        .item("lease_until", AttributeValue::S(position_of(until)))
        .item("expires_at", AttributeValue::N((until + Duration::days(1)).timestamp().to_string()))
        .condition_expression("attribute_not_exists(pk) OR lease_until < :now OR lease_owner = :me")
        .expression_attribute_values(":now", AttributeValue::S(position_of(opts.now)))
        .expression_attribute_values(":me", AttributeValue::S(opts.owner.clone()))
        .send()
        .await;
    match res {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
        Err(e) => Err(StoreError::aws(e)),
    }
}

async fn release_lease(store: &Store, opts: &ExportOptions) -> Result<(), StoreError> {
    let res = store
        .client()
        .delete_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(LEASE_PK.into()))
        .key("sk", AttributeValue::S(LEASE_SK.into()))
        .condition_expression("lease_owner = :me")
        .expression_attribute_values(":me", AttributeValue::S(opts.owner.clone()))
        .send()
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
        Err(e) => Err(StoreError::aws(e)),
    }
}

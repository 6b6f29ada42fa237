//! The daily retention job: traveller details are kept until `retention_days_after_travel` (the operator's
//! rule, default 90) after the end of travel, then erased (`traveller_details::change::erase`: the details,
//! every version and its sealed snapshot; the erasure itself is recorded as a version and an event).
//!
//! The retention index holds the erase date computed at the last save; the job re-reads the booking first,
//! so a trip the operator moved later is re-indexed, not erased early. A booking no longer stored is erased
//! on its indexed date.

use chrono::{DateTime, Utc};
use portal_details::policy::BrandPolicies;
use portal_http::ApiError;
use portal_store::Store;
use portal_store::details::{Actor, erase_gsi2sk};
use serde::Serialize;
use traveller_details::change;

/// Items handled per run (a run takes seconds; the schedule runs daily, a backlog drains over days).
pub const BATCH: i32 = 200;
pub const JOB: &str = "details-retention";

pub struct State {
    pub store: Store,
    pub policies: BrandPolicies,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    pub due: usize,
    pub erased: usize,
    /// The trip moved later: re-indexed to the new date.
    pub postponed: usize,
    pub failed: usize,
}

pub async fn run(state: &State, now: DateTime<Utc>) -> Result<Report, ApiError> {
    let today = now.date_naive();
    let due = state.store.details_due_for_erasure(today, BATCH).await?;
    let mut report = Report { due: due.len(), ..Report::default() };
    for d in due {
        match one(state, &d, now).await {
            Ok(true) => report.erased += 1,
            Ok(false) => report.postponed += 1,
            Err(e) => {
                report.failed += 1;
                tracing::warn!(reference = %d.reference, traveller = %d.traveller_id, error = %e, alarm = "details_erase_failed", "retention erase failed; retried on the next run");
            }
        }
    }
    tracing::info!(
        due = report.due,
        erased = report.erased,
        postponed = report.postponed,
        failed = report.failed,
        "retention run"
    );
    Ok(report)
}

async fn one(state: &State, d: &portal_store::details::DueErasure, now: DateTime<Utc>) -> Result<bool, ApiError> {
    let Some(c) = state.store.load_booking(&d.reference).await? else {
        return Err(ApiError::internal("booking no longer stored; left for the operator"));
    };
    let Some(item) = portal_store::details::details_items(&c).into_iter().find(|i| i.traveller_id == d.traveller_id)
    else {
        return Ok(false);
    };
    let policy = state.policies.for_booking(&c.booking);
    let erase_after = change::erase_after(&c.booking, policy.retention_days_after_travel);
    if erase_after > now.date_naive() {
        // The trip moved later (or the rule changed): index the new date, same version, no event (nothing
        // the operator sees changed).
        state
            .store
            .reindex_details_erasure(&item, &erase_gsi2sk(erase_after, &d.reference, &d.traveller_id))
            .await
            .map_err(change::conflict)?;
        return Ok(false);
    }
    change::erase(&state.store, &c.booking, &item, Actor { role: "system".into(), id: JOB.into() }, "retention", now)
        .await?;
    Ok(true)
}

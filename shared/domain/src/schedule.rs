//! The payment schedule: instalments with due dates, their approval and collection state, and how an operator
//! push changes them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::money::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstalmentKind {
    Deposit,
    Instalment,
    Balance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstalmentStatus {
    Scheduled,
    Approved,
    Processing,
    Paid,
    Failed,
    Cancelled,
}

impl InstalmentStatus {
    /// Money has moved or is moving: the operator may no longer change the instalment.
    pub fn is_locked(self) -> bool {
        matches!(self, InstalmentStatus::Processing | InstalmentStatus::Paid)
    }
}

/// An instalment as the operator schedules it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledInstalment {
    pub id: String,
    pub kind: InstalmentKind,
    pub due_date: NaiveDate,
    pub amount: Money,
}

/// The customer's standing consent to charge an instalment off-session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub approved_at: DateTime<Utc>,
    pub approved_by: String,
    pub payment_method_id: String,
    pub client_ip: Option<String>,
}

/// An instalment with its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instalment {
    pub id: String,
    pub kind: InstalmentKind,
    pub due_date: NaiveDate,
    pub amount: Money,
    pub status: InstalmentStatus,
    #[serde(default)]
    pub approval: Option<Approval>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_failure: Option<String>,
    /// The off-session charge in flight (or last made): derived from instalment, amount and attempt, it is the
    /// gateway idempotency key and travels as the payment's `checkout_id` metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<String>,
}

impl Instalment {
    pub fn new(s: &ScheduledInstalment) -> Instalment {
        Instalment {
            id: s.id.clone(),
            kind: s.kind,
            due_date: s.due_date,
            amount: s.amount,
            status: InstalmentStatus::Scheduled,
            approval: None,
            attempts: 0,
            next_attempt_at: None,
            last_failure: None,
            charge_id: None,
        }
    }
}

/// What an operator push does to the stored schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleChange {
    /// New or changed instalments to write.
    pub put: Vec<Instalment>,
}

impl ScheduleChange {
    pub fn is_empty(&self) -> bool {
        self.put.is_empty()
    }
}

/// Merge an operator's schedule into the stored one.
///
/// - new ids become `scheduled` instalments;
/// - a changed amount or due date on a scheduled/approved/failed instalment updates it and drops any approval
///   (the customer consented to a different charge);
/// - an instalment that is processing or paid cannot change or disappear (409);
/// - an instalment missing from the push is cancelled (kept, for history).
pub fn merge_schedule(
    existing: &[Instalment],
    incoming: &[ScheduledInstalment],
) -> Result<ScheduleChange, DomainError> {
    let mut change = ScheduleChange::default();
    for inc in incoming {
        match existing.iter().find(|e| e.id == inc.id) {
            None => change.put.push(Instalment::new(inc)),
            Some(e) => {
                let same_terms = e.amount == inc.amount && e.due_date == inc.due_date && e.kind == inc.kind;
                if same_terms && e.status != InstalmentStatus::Cancelled {
                    continue;
                }
                if e.status.is_locked() {
                    return Err(DomainError::Conflict(format!(
                        "instalment `{}` is {} and cannot be changed",
                        e.id,
                        status_word(e.status)
                    )));
                }
                let mut updated = Instalment::new(inc);
                updated.attempts = 0;
                if same_terms && e.status == InstalmentStatus::Cancelled {
                    // Reinstated as it was.
                    updated.status = InstalmentStatus::Scheduled;
                }
                change.put.push(updated);
            }
        }
    }
    for e in existing {
        if e.status == InstalmentStatus::Cancelled || incoming.iter().any(|i| i.id == e.id) {
            continue;
        }
        if e.status.is_locked() {
            return Err(DomainError::Conflict(format!(
                "instalment `{}` is {} and cannot be removed",
                e.id,
                status_word(e.status)
            )));
        }
        let mut cancelled = e.clone();
        cancelled.status = InstalmentStatus::Cancelled;
        cancelled.approval = None;
        cancelled.next_attempt_at = None;
        change.put.push(cancelled);
    }
    Ok(change)
}

/// The instalments to write when a booking is cancelled: `put` (what the push already changes) plus every
/// stored instalment, with each one still open (scheduled, approved, failed) cancelled and its approval and
/// retry dropped. Processing and paid instalments are left as they are (money has moved or is moving).
pub fn cancel_open(existing: &[Instalment], mut put: Vec<Instalment>) -> Vec<Instalment> {
    fn cancel(i: &mut Instalment) {
        if matches!(i.status, InstalmentStatus::Scheduled | InstalmentStatus::Approved | InstalmentStatus::Failed) {
            i.status = InstalmentStatus::Cancelled;
            i.approval = None;
            i.next_attempt_at = None;
        }
    }
    put.iter_mut().for_each(cancel);
    for e in existing {
        if put.iter().any(|p| p.id == e.id) {
            continue;
        }
        let mut c = e.clone();
        cancel(&mut c);
        if c != *e {
            put.push(c);
        }
    }
    put
}

// ---------------------------------------------------------------------------------------------------------
// Approval and off-session collection (see docs/scheduled-payments.md)
//
//   scheduled ──approve──> approved ──runner claims (due)──> processing ──webhook succeeded──> paid
//       ^                    │  ^                               │   │
//       └────withdraw────────┘  └──gateway timeout (same key)───┘   └──declined──> failed (retry at t) ──due──> processing
//                                                                               └──limit reached──> failed (pay by hand)
//
// `attempts` counts declined attempts; the attempt in flight is `attempts + 1`, so an interrupted attempt (timeout,
// crash) is retried with the same charge id, which is the gateway idempotency key: it can never charge twice.

/// Why an approval, withdrawal or collection step is refused. Each maps to a 409 at the edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("instalment `{0}` is already paid")]
    AlreadyPaid(String),
    #[error("instalment `{0}` is being collected; try again once the payment has settled")]
    Processing(String),
    #[error("instalment `{0}` was cancelled by the operator")]
    Cancelled(String),
    #[error("instalment `{0}` is not approved")]
    NotApproved(String),
    #[error("instalment `{0}` is not due for collection")]
    NotDue(String),
}

/// Bounded retries of declined off-session charges: `max_attempts` in all, the n-th retry `backoff[n-1]` after the
/// n-th decline (the last delay repeats when the list is shorter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub backoff: Vec<chrono::Duration>,
}

impl Default for RetryPolicy {
    /// 3 attempts over 5 days: the due date, 2 days later, 3 days after that.
    fn default() -> RetryPolicy {
        RetryPolicy { max_attempts: 3, backoff: vec![chrono::Duration::days(2), chrono::Duration::days(3)] }
    }
}

impl RetryPolicy {
    /// `max_attempts` (1-10) and a comma-separated list of delays like `2d,3d` or `36h` (each 1 minute to 30 days).
    pub fn parse(max_attempts: &str, backoff: &str) -> Result<RetryPolicy, String> {
        let max: u32 = max_attempts.trim().parse().map_err(|_| format!("`{max_attempts}` is not a number"))?;
        if !(1..=10).contains(&max) {
            return Err("max attempts must be 1-10".into());
        }
        let mut delays = Vec::new();
        for part in backoff.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (num, unit) = part.split_at(part.len() - 1);
            let n: i64 = num.parse().map_err(|_| format!("`{part}`: use e.g. 2d, 36h or 90m"))?;
            let d = match unit {
                "d" => chrono::Duration::days(n),
                "h" => chrono::Duration::hours(n),
                "m" => chrono::Duration::minutes(n),
                _ => return Err(format!("`{part}`: use e.g. 2d, 36h or 90m")),
            };
            if d < chrono::Duration::minutes(1) || d > chrono::Duration::days(30) {
                return Err(format!("`{part}`: each delay is 1 minute to 30 days"));
            }
            delays.push(d);
        }
        if delays.is_empty() && max > 1 {
            return Err("retries need at least one delay".into());
        }
        Ok(RetryPolicy { max_attempts: max, backoff: delays })
    }

    /// When to try again after the `declined`-th decline, or `None` once the limit is reached.
    pub fn next_attempt(&self, declined: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if declined >= self.max_attempts {
            return None;
        }
        let i = (declined.max(1) - 1) as usize;
        let d = self.backoff.get(i).or(self.backoff.last())?;
        Some(now + *d)
    }
}

/// What the customer and the operator see of an instalment's off-session collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectionState {
    /// Not approved: nothing will be charged automatically.
    NotScheduled,
    /// Approved: charged on the due date.
    Scheduled,
    /// A charge is with the gateway.
    Processing,
    /// Declined; charged again at `next_attempt_at`.
    RetryScheduled,
    /// Declined as many times as the policy allows: pay by hand.
    Failed,
    Paid,
    Cancelled,
}

impl Instalment {
    pub fn collection_state(&self) -> CollectionState {
        match self.status {
            InstalmentStatus::Scheduled => CollectionState::NotScheduled,
            InstalmentStatus::Approved => CollectionState::Scheduled,
            InstalmentStatus::Processing => CollectionState::Processing,
            InstalmentStatus::Failed if self.next_attempt_at.is_some() => CollectionState::RetryScheduled,
            InstalmentStatus::Failed => CollectionState::Failed,
            InstalmentStatus::Paid => CollectionState::Paid,
            InstalmentStatus::Cancelled => CollectionState::Cancelled,
        }
    }

    /// The number of the attempt to make next (or in flight).
    pub fn attempt_number(&self) -> u32 {
        self.attempts + 1
    }

    /// The charge id of attempt `attempt_number()`: the gateway idempotency key. Derived from the booking,
    /// the instalment's terms and the attempt, so a retried or concurrent runner sends the same key.
    pub fn charge_id(&self, reference: &str, amount: Money) -> String {
        crate::events::derived_id(
            "ichg",
            &format!(
                "{reference}:{}:{}:{}:{}:{}",
                self.id,
                self.due_date,
                amount.currency(),
                amount.minor(),
                self.attempt_number()
            ),
        )
    }

    /// When the runner should next look at it (the `due_instalments` index key), `None` when it should not.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        match self.status {
            InstalmentStatus::Approved => {
                Some(self.next_attempt_at.unwrap_or_else(|| self.due_date.and_time(chrono::NaiveTime::MIN).and_utc()))
            }
            InstalmentStatus::Failed | InstalmentStatus::Processing => self.next_attempt_at,
            _ => None,
        }
    }
}

fn refuse_locked(i: &Instalment) -> Result<(), ScheduleError> {
    match i.status {
        InstalmentStatus::Paid => Err(ScheduleError::AlreadyPaid(i.id.clone())),
        InstalmentStatus::Processing => Err(ScheduleError::Processing(i.id.clone())),
        InstalmentStatus::Cancelled => Err(ScheduleError::Cancelled(i.id.clone())),
        _ => Ok(()),
    }
}

/// Approve an instalment for off-session collection. `Ok(None)`: already approved with this payment method
/// (nothing to write). A declined instalment that ran out of retries gets one more attempt.
pub fn approve(i: &Instalment, approval: Approval) -> Result<Option<Instalment>, ScheduleError> {
    refuse_locked(i)?;
    if let Some(a) = &i.approval
        && a.payment_method_id == approval.payment_method_id
        && (i.status == InstalmentStatus::Approved || i.next_attempt_at.is_some())
    {
        return Ok(None);
    }
    let mut next = i.clone();
    match i.status {
        // A pending retry keeps its date, now with the newly approved method.
        InstalmentStatus::Failed if i.next_attempt_at.is_some() => {}
        // Out of retries: one more attempt at the next run.
        InstalmentStatus::Failed => {
            next.status = InstalmentStatus::Approved;
            next.next_attempt_at = None;
        }
        _ => {
            next.status = InstalmentStatus::Approved;
            next.next_attempt_at = None;
        }
    }
    next.approval = Some(approval);
    Ok(Some(next))
}

/// Withdraw an approval before the instalment is being collected.
pub fn withdraw(i: &Instalment) -> Result<Instalment, ScheduleError> {
    refuse_locked(i)?;
    if i.approval.is_none() && i.status != InstalmentStatus::Approved {
        return Err(ScheduleError::NotApproved(i.id.clone()));
    }
    let mut next = i.clone();
    next.status = if i.status == InstalmentStatus::Failed && i.next_attempt_at.is_none() {
        InstalmentStatus::Failed
    } else {
        InstalmentStatus::Scheduled
    };
    next.approval = None;
    next.next_attempt_at = None;
    Ok(next)
}

/// The runner takes a due instalment: `processing` with the attempt's charge id, and a lease after which a
/// later run looks again (a crashed runner; the same charge id makes that safe).
pub fn start_attempt(
    i: &Instalment,
    reference: &str,
    amount: Money,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> Result<Instalment, ScheduleError> {
    match i.status {
        InstalmentStatus::Approved | InstalmentStatus::Failed | InstalmentStatus::Processing => {}
        _ => {
            refuse_locked(i)?;
            return Err(ScheduleError::NotApproved(i.id.clone()));
        }
    }
    if i.approval.is_none() {
        return Err(ScheduleError::NotApproved(i.id.clone()));
    }
    if i.due_at().is_none_or(|at| at > now) {
        return Err(ScheduleError::NotDue(i.id.clone()));
    }
    let mut next = i.clone();
    next.status = InstalmentStatus::Processing;
    // A re-take after a lapsed lease keeps the charge id it had.
    if i.status != InstalmentStatus::Processing || i.charge_id.is_none() {
        next.charge_id = Some(i.charge_id(reference, amount));
    }
    next.next_attempt_at = Some(now + lease);
    Ok(next)
}

/// The gateway did not answer (timeout, outage): back to waiting, due at once, same attempt (same key).
pub fn attempt_interrupted(i: &Instalment, now: DateTime<Utc>) -> Instalment {
    let mut next = i.clone();
    next.status = if i.attempts == 0 { InstalmentStatus::Approved } else { InstalmentStatus::Failed };
    next.next_attempt_at = Some(now);
    next
}

/// The charge `charge_id` was declined. `None` when that charge is not the one in flight (a late or repeated
/// report): nothing changes.
pub fn attempt_declined(
    i: &Instalment,
    charge_id: &str,
    reason: &str,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
) -> Option<Instalment> {
    if i.status != InstalmentStatus::Processing || i.charge_id.as_deref() != Some(charge_id) {
        return None;
    }
    let mut next = i.clone();
    next.attempts = i.attempts + 1;
    next.status = InstalmentStatus::Failed;
    next.next_attempt_at = if retry_can_help(reason) { policy.next_attempt(next.attempts, now) } else { None };
    next.last_failure = Some(reason.chars().take(80).collect());
    Some(next)
}

/// Failure reasons no automatic retry can cure: the bank wants the cardholder present (3-D Secure), or the
/// card is gone, expired, reported lost or stolen, or wrong. Retrying these is refused by card schemes and
/// only costs the customer declines; they are asked to pay in the portal at once instead.
pub const NO_RETRY_REASONS: &[&str] = &[
    "authentication_required",
    "payment_method_missing",
    "expired_card",
    "lost_card",
    "stolen_card",
    "pickup_card",
    "incorrect_number",
    "invalid_account",
    "restricted_card",
];

/// Whether another automatic attempt at the same card could succeed after a decline for `reason`.
pub fn retry_can_help(reason: &str) -> bool {
    !NO_RETRY_REASONS.contains(&reason)
}

/// The decline asks for the cardholder to confirm the payment themselves (3-D Secure).
pub fn needs_cardholder(reason: Option<&str>) -> bool {
    reason == Some("authentication_required")
}

/// The charge `charge_id` succeeded: paid. `None` when the instalment is not waiting for that charge.
pub fn attempt_succeeded(i: &Instalment, charge_id: &str) -> Option<Instalment> {
    if i.charge_id.as_deref() != Some(charge_id) || matches!(i.status, InstalmentStatus::Paid) {
        return None;
    }
    let mut next = i.clone();
    next.status = InstalmentStatus::Paid;
    next.next_attempt_at = None;
    next.last_failure = None;
    Some(next)
}

/// The idempotency key of a declined attempt's evidence: the runner (synchronous decline) and the
/// `payment_intent.payment_failed` webhook write the same movement, so it is recorded once.
pub fn decline_key(charge_id: &str) -> String {
    format!("instalment-failure:{charge_id}")
}

/// The `payment_failed` evidence movement of a declined attempt (`failed` is the instalment after
/// [`attempt_declined`]). No effect on the balance.
pub fn decline_evidence(
    failed: &Instalment,
    charge_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> crate::ledger::Movement {
    let key = decline_key(charge_id);
    let next = match failed.next_attempt_at {
        Some(t) => format!("next attempt {}", t.format("%Y-%m-%dT%H:%M:%SZ")),
        None => "no more automatic attempts".into(),
    };
    crate::ledger::Movement {
        id: crate::upsert::movement_id(&key),
        kind: crate::ledger::MovementKind::PaymentFailed,
        amount: failed.amount,
        channel: Some(crate::booking::PaymentChannel::Card),
        external_reference: Some(charge_id.into()),
        occurred_at: now,
        recorded_at: now,
        actor: crate::ledger::Actor::system("instalment-runner"),
        idempotency_key: key,
        traveller_id: failed.approval.as_ref().map(|a| a.approved_by.clone()),
        instalment_ids: vec![failed.id.clone()],
        description: Some(format!(
            "Off-session collection of instalment {} declined ({}), attempt {}; {next}",
            failed.id,
            reason.chars().take(80).collect::<String>(),
            failed.attempts
        )),
        acquirer_fee: None,
    }
}

fn status_word(s: InstalmentStatus) -> &'static str {
    match s {
        InstalmentStatus::Scheduled => "scheduled",
        InstalmentStatus::Approved => "approved",
        InstalmentStatus::Processing => "being collected",
        InstalmentStatus::Paid => "paid",
        InstalmentStatus::Failed => "failed",
        InstalmentStatus::Cancelled => "cancelled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn s(id: &str, due: &str, amt: i64) -> ScheduledInstalment {
        ScheduledInstalment {
            id: id.into(),
            kind: InstalmentKind::Instalment,
            due_date: due.parse().unwrap(),
            amount: Money::from_minor(amt, Currency::Gbp).unwrap(),
        }
    }

    #[test]
    fn merge_adds_updates_and_cancels() {
        let mut paid = Instalment::new(&s("A", "2027-01-01", 100));
        paid.status = InstalmentStatus::Paid;
        let mut approved = Instalment::new(&s("B", "2027-02-01", 100));
        approved.status = InstalmentStatus::Approved;
        let gone = Instalment::new(&s("C", "2027-03-01", 100));
        let existing = vec![paid, approved, gone];

        let change = merge_schedule(
            &existing,
            &[s("A", "2027-01-01", 100), s("B", "2027-02-01", 150), s("D", "2027-04-01", 50)],
        )
        .unwrap();
        let by_id = |id: &str| change.put.iter().find(|i| i.id == id).cloned();
        assert!(by_id("A").is_none(), "unchanged paid instalment is not rewritten");
        let b = by_id("B").unwrap();
        assert_eq!((b.status, b.amount.minor(), b.approval), (InstalmentStatus::Scheduled, 150, None));
        assert_eq!(by_id("C").unwrap().status, InstalmentStatus::Cancelled);
        assert_eq!(by_id("D").unwrap().status, InstalmentStatus::Scheduled);
    }

    #[test]
    fn paid_instalments_are_immutable() {
        let mut paid = Instalment::new(&s("A", "2027-01-01", 100));
        paid.status = InstalmentStatus::Paid;
        assert!(matches!(
            merge_schedule(std::slice::from_ref(&paid), &[s("A", "2027-01-01", 90)]),
            Err(DomainError::Conflict(_))
        ));
        assert!(matches!(merge_schedule(&[paid], &[]), Err(DomainError::Conflict(_))));
    }

    #[test]
    fn identical_schedule_changes_nothing() {
        let existing: Vec<_> =
            [s("A", "2027-01-01", 100), s("B", "2027-02-01", 100)].iter().map(Instalment::new).collect();
        assert!(merge_schedule(&existing, &[s("A", "2027-01-01", 100), s("B", "2027-02-01", 100)]).unwrap().is_empty());
    }
    fn approval(pm: &str) -> Approval {
        Approval {
            approved_at: "2026-11-25T10:00:00Z".parse().unwrap(),
            approved_by: "T1".into(),
            payment_method_id: pm.into(),
            client_ip: Some("203.0.113.9".into()),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn gbp(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Gbp).unwrap()
    }

    #[test]
    fn approve_then_collect_then_paid() {
        let i = Instalment::new(&s("I1", "2027-01-15", 90_000));
        assert_eq!(i.collection_state(), CollectionState::NotScheduled);
        assert_eq!(i.due_at(), None);
        let a = approve(&i, approval("pm_1")).unwrap().unwrap();
        assert_eq!((a.status, a.collection_state()), (InstalmentStatus::Approved, CollectionState::Scheduled));
        assert_eq!(a.due_at(), Some(at("2027-01-15T00:00:00Z")));
        // Approving again with the same method changes nothing; another method replaces it.
        assert_eq!(approve(&a, approval("pm_1")).unwrap(), None);
        assert_eq!(approve(&a, approval("pm_2")).unwrap().unwrap().approval.unwrap().payment_method_id, "pm_2");
        // Not before the due date.
        let lease = chrono::Duration::minutes(30);
        assert_eq!(
            start_attempt(&a, "AE-1", gbp(90_000), at("2027-01-14T23:59:59Z"), lease),
            Err(ScheduleError::NotDue("I1".into()))
        );
        let p = start_attempt(&a, "AE-1", gbp(90_000), at("2027-01-15T00:05:00Z"), lease).unwrap();
        assert_eq!(p.status, InstalmentStatus::Processing);
        assert_eq!(p.next_attempt_at, Some(at("2027-01-15T00:35:00Z")));
        let charge = p.charge_id.clone().unwrap();
        assert_eq!(charge, a.charge_id("AE-1", gbp(90_000)));
        assert_ne!(charge, a.charge_id("AE-2", gbp(90_000)));
        assert_ne!(charge, a.charge_id("AE-1", gbp(89_999)));
        // Processing cannot be withdrawn or re-approved.
        assert_eq!(withdraw(&p), Err(ScheduleError::Processing("I1".into())));
        assert_eq!(approve(&p, approval("pm_2")), Err(ScheduleError::Processing("I1".into())));
        // A report for another charge changes nothing; ours pays it.
        assert_eq!(attempt_succeeded(&p, "ichg_other"), None);
        let paid = attempt_succeeded(&p, &charge).unwrap();
        assert_eq!((paid.status, paid.due_at()), (InstalmentStatus::Paid, None));
        assert_eq!(attempt_succeeded(&paid, &charge), None);
        assert_eq!(withdraw(&paid), Err(ScheduleError::AlreadyPaid("I1".into())));
    }

    #[test]
    fn a_crashed_or_timed_out_attempt_retries_with_the_same_key() {
        let a = approve(&Instalment::new(&s("I1", "2027-01-15", 100)), approval("pm_1")).unwrap().unwrap();
        let now = at("2027-01-15T06:00:00Z");
        let lease = chrono::Duration::minutes(30);
        let p = start_attempt(&a, "AE-1", gbp(100), now, lease).unwrap();
        // Timeout: due again at once, same attempt, same key.
        let back = attempt_interrupted(&p, now);
        assert_eq!((back.status, back.due_at()), (InstalmentStatus::Approved, Some(now)));
        let again = start_attempt(&back, "AE-1", gbp(100), now, lease).unwrap();
        assert_eq!(again.charge_id, p.charge_id);
        // Crash: a later run re-takes the processing instalment after the lease, with the same charge.
        assert_eq!(
            start_attempt(&p, "AE-1", gbp(100), now + chrono::Duration::minutes(10), lease),
            Err(ScheduleError::NotDue("I1".into()))
        );
        let retaken = start_attempt(&p, "AE-1", gbp(100), now + chrono::Duration::minutes(31), lease).unwrap();
        assert_eq!(retaken.charge_id, p.charge_id);
    }

    #[test]
    fn declines_retry_on_the_backoff_then_stop() {
        let policy = RetryPolicy::default();
        let lease = chrono::Duration::minutes(30);
        let mut i = approve(&Instalment::new(&s("I1", "2027-01-15", 100)), approval("pm_1")).unwrap().unwrap();
        let mut now = at("2027-01-15T00:00:00Z");
        let mut keys = std::collections::HashSet::new();
        let mut retries = vec![];
        for _ in 0..3 {
            let p = start_attempt(&i, "AE-1", gbp(100), now, lease).unwrap();
            let charge = p.charge_id.clone().unwrap();
            assert!(keys.insert(charge.clone()), "every attempt has its own key");
            assert_eq!(attempt_declined(&p, "ichg_other", "card_declined", now, &policy), None);
            i = attempt_declined(&p, &charge, "card_declined", now, &policy).unwrap();
            assert_eq!(attempt_declined(&i, &charge, "card_declined", now, &policy), None, "reported twice");
            retries.push(i.next_attempt_at);
            if let Some(n) = i.next_attempt_at {
                now = n;
            }
        }
        assert_eq!(
            retries,
            vec![Some(at("2027-01-17T00:00:00Z")), Some(at("2027-01-20T00:00:00Z")), None],
            "3 attempts over 5 days"
        );
        assert_eq!(
            (i.status, i.attempts, i.collection_state()),
            (InstalmentStatus::Failed, 3, CollectionState::Failed)
        );
        assert_eq!(i.due_at(), None);
        assert_eq!(i.last_failure.as_deref(), Some("card_declined"));
        // Re-approving (say, with a new card) gives one more attempt, with a new key.
        let re = approve(&i, approval("pm_2")).unwrap().unwrap();
        assert_eq!(re.status, InstalmentStatus::Approved);
        let p = start_attempt(&re, "AE-1", gbp(100), now, lease).unwrap();
        assert!(keys.insert(p.charge_id.unwrap()));
    }

    #[test]
    fn declines_no_retry_can_cure_are_final_at_once() {
        let policy = RetryPolicy::default();
        let now: DateTime<Utc> = "2027-01-15T06:00:00Z".parse().unwrap();
        let mut i = Instalment::new(&s("I1", "2027-01-15", 100));
        i.status = InstalmentStatus::Processing;
        i.charge_id = Some("c1".into());
        for reason in ["authentication_required", "expired_card", "payment_method_missing"] {
            let failed = attempt_declined(&i, "c1", reason, now, &policy).unwrap();
            assert_eq!((failed.status, failed.next_attempt_at), (InstalmentStatus::Failed, None), "{reason}");
        }
        let soft = attempt_declined(&i, "c1", "insufficient_funds", now, &policy).unwrap();
        assert!(soft.next_attempt_at.is_some());
        assert!(needs_cardholder(Some("authentication_required")) && !needs_cardholder(Some("card_declined")));
    }

    #[test]
    fn withdraw_and_refusals() {
        let i = Instalment::new(&s("I1", "2027-01-15", 100));
        assert_eq!(withdraw(&i), Err(ScheduleError::NotApproved("I1".into())));
        let a = approve(&i, approval("pm_1")).unwrap().unwrap();
        let w = withdraw(&a).unwrap();
        assert_eq!((w.status, w.approval.clone(), w.due_at()), (InstalmentStatus::Scheduled, None, None));
        assert_eq!(
            start_attempt(&w, "AE-1", gbp(100), at("2027-02-01T00:00:00Z"), chrono::Duration::minutes(1)),
            Err(ScheduleError::NotApproved("I1".into()))
        );
        let mut c = i.clone();
        c.status = InstalmentStatus::Cancelled;
        assert_eq!(approve(&c, approval("pm_1")), Err(ScheduleError::Cancelled("I1".into())));
    }

    #[test]
    fn retry_policy_parsing() {
        let p = RetryPolicy::parse("4", "1d, 36h,90m").unwrap();
        assert_eq!(p.max_attempts, 4);
        assert_eq!(
            p.backoff,
            vec![chrono::Duration::days(1), chrono::Duration::hours(36), chrono::Duration::minutes(90)]
        );
        let now = at("2027-01-01T00:00:00Z");
        assert_eq!(p.next_attempt(3, now), Some(now + chrono::Duration::minutes(90)));
        assert_eq!(p.next_attempt(4, now), None);
        for (m, b) in [("0", "1d"), ("x", "1d"), ("3", ""), ("3", "2w"), ("3", "31d"), ("3", "0m"), ("11", "1d")] {
            assert!(RetryPolicy::parse(m, b).is_err(), "{m} {b}");
        }
        assert_eq!(RetryPolicy::parse("1", "").unwrap().next_attempt(1, now), None);
    }
}

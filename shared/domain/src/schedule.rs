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
}

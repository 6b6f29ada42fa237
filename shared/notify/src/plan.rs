//! Which instalment reminders and pre-charge notices are due on a day (the relay's daily plan).
//!
//! - **Reminder** (not approved for automatic collection, `scheduled`): when an instalment is `d` days or
//!   fewer from its due date for a configured offset `d` (e.g. 14 and 3), the smallest such offset applies, so
//!   a late plan sends one reminder, not one per offset. Instalments of the same ISO week and offset share
//!   one notice: its id is derived from (booking, offset, week), so a second plan that day, a retried run or a
//!   moved clock find it and write nothing.
//! - **Due soon** (approved, optional per brand): `before_charge_days` or fewer before the due date, once per
//!   (booking, week).
//!
//! Nothing for instalments due today or earlier (the runner charges them; a reminder would come too late) or
//! paid, cancelled, failed or being charged.

use chrono::{Datelike, NaiveDate};
use portal_domain::schedule::{Instalment, InstalmentStatus};

use crate::content::{DueLine, notice_id};
use crate::kind::NoticeKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub kind: NoticeKind,
    /// The notice id (derived: planning twice gives the same).
    pub id: String,
    pub lines: Vec<DueLine>,
}

fn week(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// The notices due `today` for one booking's instalments. `reminder_days`: offsets in days (any order);
/// `before_charge_days`: the brand's pre-charge notice, `None` or 0 for none.
pub fn plan(
    reference: &str,
    instalments: &[Instalment],
    today: NaiveDate,
    reminder_days: &[u32],
    before_charge_days: Option<u32>,
) -> Vec<Planned> {
    let mut offsets: Vec<u32> = reminder_days.iter().copied().filter(|d| *d > 0).collect();
    offsets.sort_unstable();
    offsets.dedup();
    // (kind, offset, week) → lines, in due-date order.
    let mut groups: Vec<((NoticeKind, u32, String), Vec<DueLine>)> = Vec::new();
    let mut add = |key: (NoticeKind, u32, String), i: &Instalment| {
        let line = DueLine { instalment_id: i.id.clone(), due_date: i.due_date, amount: i.amount };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, lines)) => lines.push(line),
            None => groups.push((key, vec![line])),
        }
    };
    let mut sorted: Vec<&Instalment> = instalments.iter().collect();
    sorted.sort_by(|a, b| a.due_date.cmp(&b.due_date).then_with(|| a.id.cmp(&b.id)));
    for i in sorted {
        let days_left = (i.due_date - today).num_days();
        if days_left <= 0 {
            continue;
        }
        let left = u32::try_from(days_left).unwrap_or(u32::MAX);
        match i.status {
            InstalmentStatus::Scheduled => {
                if let Some(d) = offsets.iter().copied().find(|d| left <= *d) {
                    add((NoticeKind::InstalmentReminder, d, week(i.due_date)), i);
                }
            }
            InstalmentStatus::Approved => {
                if let Some(d) = before_charge_days.filter(|d| *d > 0 && left <= *d) {
                    add((NoticeKind::InstalmentDueSoon, d, week(i.due_date)), i);
                }
            }
            _ => {}
        }
    }
    groups
        .into_iter()
        .map(|((kind, d, wk), lines)| Planned {
            kind,
            id: notice_id(&format!("{}:{reference}:{d}:{wk}", kind.as_str())),
            lines,
        })
        .collect()
}

/// Parse `REMINDER_DAYS` (`"14,3"`): 1 to 4 offsets of 1 to 60 days.
pub fn parse_days(s: &str) -> Result<Vec<u32>, String> {
    let days: Vec<u32> = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().map_err(|_| format!("{p:?} is not a number of days")))
        .collect::<Result<_, _>>()?;
    if days.is_empty() || days.len() > 4 || days.iter().any(|d| !(1..=60).contains(d)) {
        return Err("give 1 to 4 offsets between 1 and 60 days, e.g. 14,3".into());
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::money::{Currency, Money};
    use portal_domain::schedule::InstalmentKind;

    fn inst(id: &str, due: &str, status: InstalmentStatus) -> Instalment {
        Instalment {
            id: id.into(),
            kind: InstalmentKind::Instalment,
            due_date: due.parse().unwrap(),
            amount: Money::from_minor(10_000, Currency::parse("EUR").unwrap()).unwrap(),
            status,
            approval: None,
            attempts: 0,
            next_attempt_at: None,
            last_failure: None,
            charge_id: None,
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_smallest_offset_applies_and_weeks_group() {
        // 2027-05-10 is a Monday; i1 and i2 fall in the same ISO week, i3 the next.
        let xs = [
            inst("i1", "2027-05-11", InstalmentStatus::Scheduled),
            inst("i2", "2027-05-14", InstalmentStatus::Scheduled),
            inst("i3", "2027-05-17", InstalmentStatus::Scheduled),
            inst("paid", "2027-05-12", InstalmentStatus::Paid),
            inst("auto", "2027-05-12", InstalmentStatus::Approved),
        ];
        let p = plan("AE-1", &xs, day("2027-05-04"), &[14, 3], None);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].kind, NoticeKind::InstalmentReminder);
        assert_eq!(p[0].lines.iter().map(|l| l.instalment_id.as_str()).collect::<Vec<_>>(), ["i1", "i2"]);
        assert_eq!(p[1].lines[0].instalment_id, "i3");
        // The same day again: the same ids (nothing new is written).
        assert_eq!(plan("AE-1", &xs, day("2027-05-04"), &[3, 14], None), p);
        // Three days before i1: a new notice (offset 3) for i1 only; i2 is still under offset 14's.
        let later = plan("AE-1", &xs, day("2027-05-08"), &[14, 3], None);
        assert_eq!(later[0].lines.iter().map(|l| l.instalment_id.as_str()).collect::<Vec<_>>(), ["i1"]);
        assert_ne!(later[0].id, p[0].id);
        assert_eq!(later[1].id, p[0].id, "i2 keeps the 14-day notice of its week: already sent");
        // Nothing on or after the due date, nothing far ahead.
        assert!(plan("AE-1", &xs, day("2027-05-20"), &[14, 3], None).is_empty());
        assert!(plan("AE-1", &xs, day("2027-01-01"), &[14, 3], None).is_empty());
    }

    #[test]
    fn approved_ones_only_with_the_brands_pre_charge_notice() {
        let xs = [inst("auto", "2027-05-12", InstalmentStatus::Approved)];
        assert!(plan("AE-1", &xs, day("2027-05-10"), &[14, 3], None).is_empty(), "no reminder when approved");
        assert!(plan("AE-1", &xs, day("2027-05-10"), &[14, 3], Some(0)).is_empty());
        let p = plan("AE-1", &xs, day("2027-05-10"), &[14, 3], Some(3));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].kind, NoticeKind::InstalmentDueSoon);
        assert!(plan("AE-1", &xs, day("2027-05-01"), &[14, 3], Some(3)).is_empty(), "too early");
    }

    #[test]
    fn days_are_checked() {
        assert_eq!(parse_days("14, 3").unwrap(), vec![14, 3]);
        assert!(parse_days("").is_err());
        assert!(parse_days("0").is_err());
        assert!(parse_days("1,2,3,4,5").is_err());
        assert!(parse_days("x").is_err());
    }
}

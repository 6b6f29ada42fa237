//! The notices an operator push causes, decided from the booking before and after (pure).

use chrono::{DateTime, Utc};
use portal_domain::booking::{Booking, BookingStatus};
use portal_domain::schedule::{Instalment, InstalmentStatus};

use crate::changes::describe;
use crate::content::{Content, DueLine, Notice, Recipient};
use crate::kind::NoticeKind;

/// The notices of one push that wrote booking `version`:
/// - confirmed (created confirmed, or moved to confirmed): the party;
/// - cancelled: the party;
/// - changed (an existing booking, not cancelled by this push, with changes a customer would notice): the
///   party, digested by the relay;
/// - approval needed (an existing booking gained instalments waiting for approval): the lead.
///
/// Ids come from (reference, version): a retried push that writes nothing new writes no notice.
pub fn push_notices(
    old: Option<&Booking>,
    old_instalments: &[Instalment],
    new: &Booking,
    written_instalments: &[Instalment],
    version: u64,
    now: DateTime<Utc>,
) -> Vec<Notice> {
    let r = new.reference.as_str();
    let party = Recipient::party(new);
    let mut out = Vec::new();
    let was = old.map(|b| b.status);
    if new.status == BookingStatus::Confirmed && was != Some(BookingStatus::Confirmed) {
        out.extend(Notice::new(
            &format!("confirmed:{r}:{version}"),
            NoticeKind::BookingConfirmed,
            new,
            party.clone(),
            Content::Confirmed { start: new.travel_start, end: new.travel_end },
            now,
        ));
    }
    if new.status == BookingStatus::Cancelled {
        if was.is_some_and(|w| w != BookingStatus::Cancelled) {
            out.extend(Notice::new(
                &format!("cancelled:{r}:{version}"),
                NoticeKind::BookingCancelled,
                new,
                party,
                Content::Cancelled,
                now,
            ));
        }
        return out;
    }
    let Some(old) = old else { return out };
    let changes = describe(old, new);
    if !changes.is_empty() {
        out.extend(Notice::new(
            &format!("changed:{r}:{version}"),
            NoticeKind::BookingChanged,
            new,
            party,
            Content::Changes { changes },
            now,
        ));
    }
    let mut fresh: Vec<DueLine> = written_instalments
        .iter()
        .filter(|i| i.status == InstalmentStatus::Scheduled && !old_instalments.iter().any(|o| o.id == i.id))
        .map(|i| DueLine { instalment_id: i.id.clone(), due_date: i.due_date, amount: i.amount })
        .collect();
    fresh.sort_by_key(|a| a.due_date);
    if !fresh.is_empty() {
        out.extend(Notice::new(
            &format!("approval:{r}:{version}"),
            NoticeKind::ApprovalNeeded,
            new,
            new.lead().and_then(Recipient::of).into_iter().collect(),
            Content::ApprovalNeeded { instalments: fresh },
            now,
        ));
    }
    out
}

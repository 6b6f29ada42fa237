//! Notice kinds and their categories.

use serde::{Deserialize, Serialize};

/// What a notice tells the customer. The wire names are stable: they are stored, logged and shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A payment was recorded (the receipt).
    PaymentReceived,
    /// A payment or an instalment collection was declined.
    PaymentFailed,
    /// Money is on its way back.
    RefundIssued,
    /// Instalments fall due soon and are not approved for automatic collection.
    InstalmentReminder,
    /// Approved instalments will be charged soon (per brand: `notify_before_charge_days`).
    InstalmentDueSoon,
    /// The operator's push added instalments waiting for the customer's approval.
    ApprovalNeeded,
    /// The operator changed the itinerary, dates, travellers or price.
    BookingChanged,
    /// New versions of the booking's documents.
    DocumentsUpdated,
    BookingConfirmed,
    BookingCancelled,
    /// The team answered or moved a request that must be told (a reply, a decision).
    RequestUpdate,
    /// A request moved in a way the customer only hears of if they want (in review, the team writing first).
    RequestOptionalUpdate,
}

/// Who may stop a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// About money or a contract: always sent (a bounce or complaint does not stop it, no unsubscribe).
    Transactional,
    /// Changes, documents, optional request updates: preference `booking_updates`.
    Updates,
    /// Instalment reminders: preference `payment_reminders`.
    Reminders,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 12] = [
        NoticeKind::PaymentReceived,
        NoticeKind::PaymentFailed,
        NoticeKind::RefundIssued,
        NoticeKind::InstalmentReminder,
        NoticeKind::InstalmentDueSoon,
        NoticeKind::ApprovalNeeded,
        NoticeKind::BookingChanged,
        NoticeKind::DocumentsUpdated,
        NoticeKind::BookingConfirmed,
        NoticeKind::BookingCancelled,
        NoticeKind::RequestUpdate,
        NoticeKind::RequestOptionalUpdate,
    ];

    pub fn category(self) -> Category {
        match self {
            NoticeKind::BookingChanged | NoticeKind::DocumentsUpdated | NoticeKind::RequestOptionalUpdate => {
                Category::Updates
            }
            NoticeKind::InstalmentReminder => Category::Reminders,
            _ => Category::Transactional,
        }
    }

    /// Kinds the relay holds back while the operator is still pushing, then merges into one email.
    pub fn digested(self) -> bool {
        matches!(self, NoticeKind::BookingChanged | NoticeKind::DocumentsUpdated)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::PaymentReceived => "payment_received",
            NoticeKind::PaymentFailed => "payment_failed",
            NoticeKind::RefundIssued => "refund_issued",
            NoticeKind::InstalmentReminder => "instalment_reminder",
            NoticeKind::InstalmentDueSoon => "instalment_due_soon",
            NoticeKind::ApprovalNeeded => "approval_needed",
            NoticeKind::BookingChanged => "booking_changed",
            NoticeKind::DocumentsUpdated => "documents_updated",
            NoticeKind::BookingConfirmed => "booking_confirmed",
            NoticeKind::BookingCancelled => "booking_cancelled",
            NoticeKind::RequestUpdate => "request_update",
            NoticeKind::RequestOptionalUpdate => "request_optional_update",
        }
    }
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Transactional => "transactional",
            Category::Updates => "booking_updates",
            Category::Reminders => "payment_reminders",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        [Category::Transactional, Category::Updates, Category::Reminders].into_iter().find(|c| c.as_str() == s)
    }

    /// Preferences, bounces and complaints only stop what is not transactional.
    pub fn optional(self) -> bool {
        self != Category::Transactional
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_categories_hold() {
        for k in NoticeKind::ALL {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<NoticeKind>(&json).unwrap(), k);
        }
        assert_eq!(NoticeKind::PaymentReceived.category(), Category::Transactional);
        assert_eq!(NoticeKind::InstalmentReminder.category(), Category::Reminders);
        assert!(NoticeKind::BookingChanged.digested() && NoticeKind::BookingChanged.category().optional());
        assert!(!NoticeKind::BookingCancelled.category().optional());
        for c in [Category::Transactional, Category::Updates, Category::Reminders] {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
    }
}

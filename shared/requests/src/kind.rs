//! Request types, statuses and the status machine.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestType {
    ServiceChange,
    AddTraveller,
    RemoveTraveller,
    DateChange,
    Cancellation,
    SpecialAssistance,
    Other,
}

impl RequestType {
    pub const ALL: [RequestType; 7] = [
        RequestType::ServiceChange,
        RequestType::AddTraveller,
        RequestType::RemoveTraveller,
        RequestType::DateChange,
        RequestType::Cancellation,
        RequestType::SpecialAssistance,
        RequestType::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::ServiceChange => "service_change",
            RequestType::AddTraveller => "add_traveller",
            RequestType::RemoveTraveller => "remove_traveller",
            RequestType::DateChange => "date_change",
            RequestType::Cancellation => "cancellation",
            RequestType::SpecialAssistance => "special_assistance",
            RequestType::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<RequestType> {
        RequestType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether the free-text message is required (the type's fields alone do not say what is wanted).
    pub fn message_required(self) -> bool {
        matches!(self, RequestType::ServiceChange | RequestType::SpecialAssistance | RequestType::Other)
    }

    /// Types about the whole booking: only the lead may ask.
    pub fn lead_only(self) -> bool {
        matches!(self, RequestType::AddTraveller | RequestType::DateChange)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Submitted,
    InReview,
    WaitingForCustomer,
    Accepted,
    Declined,
    Completed,
    Withdrawn,
}

/// Who moved a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    Customer,
    Team,
    System,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 7] = [
        RequestStatus::Submitted,
        RequestStatus::InReview,
        RequestStatus::WaitingForCustomer,
        RequestStatus::Accepted,
        RequestStatus::Declined,
        RequestStatus::Completed,
        RequestStatus::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Submitted => "submitted",
            RequestStatus::InReview => "in_review",
            RequestStatus::WaitingForCustomer => "waiting_for_customer",
            RequestStatus::Accepted => "accepted",
            RequestStatus::Declined => "declined",
            RequestStatus::Completed => "completed",
            RequestStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<RequestStatus> {
        RequestStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Declined, completed and withdrawn requests are closed: nothing moves them, the customer cannot write.
    pub fn is_closed(self) -> bool {
        matches!(self, RequestStatus::Declined | RequestStatus::Completed | RequestStatus::Withdrawn)
    }

    /// Where `by` may move a request from here (`System`: a customer's message on a request waiting for them).
    pub fn next(self, by: By) -> &'static [RequestStatus] {
        use RequestStatus::*;
        match (by, self) {
            (By::Team, Submitted) => &[InReview, WaitingForCustomer, Accepted, Declined],
            (By::Team, InReview) => &[WaitingForCustomer, Accepted, Declined],
            (By::Team, WaitingForCustomer) => &[InReview, Accepted, Declined],
            (By::Team, Accepted) => &[Completed],
            (By::Customer, Submitted | InReview | WaitingForCustomer) => &[Withdrawn],
            (By::System, WaitingForCustomer) => &[InReview],
            _ => &[],
        }
    }

    pub fn may_become(self, to: RequestStatus, by: By) -> bool {
        self.next(by).contains(&to)
    }

    /// Whether telling the customer about this new status is transactional (always sent) or an optional
    /// update (only with the customer's `optional_updates_by_email`). `None`: never emailed to the customer.
    pub fn customer_email(self) -> Option<bool> {
        match self {
            RequestStatus::WaitingForCustomer
            | RequestStatus::Accepted
            | RequestStatus::Declined
            | RequestStatus::Completed => Some(true),
            RequestStatus::InReview => Some(false),
            RequestStatus::Submitted | RequestStatus::Withdrawn => None,
        }
    }
}

/// The detail of a refused transition: what is allowed instead.
pub fn illegal(from: RequestStatus, to: RequestStatus, by: By) -> String {
    let allowed: Vec<&str> = from.next(by).iter().map(|s| s.as_str()).collect();
    let who = match by {
        By::Customer => "the customer",
        By::Team => "the team",
        By::System => "the portal",
    };
    if allowed.is_empty() {
        format!("a {} request cannot become {}: {who} cannot move it any more", from.as_str(), to.as_str())
    } else {
        format!(
            "a {} request cannot become {}; {who} may move it to: {}",
            from.as_str(),
            to.as_str(),
            allowed.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestStatus::*;

    #[test]
    fn the_machine_has_no_way_back_from_a_closed_request() {
        for s in RequestStatus::ALL.into_iter().filter(|s| s.is_closed()) {
            for by in [By::Customer, By::Team, By::System] {
                assert!(s.next(by).is_empty(), "{s:?} by {by:?}");
            }
        }
        assert!(Submitted.may_become(InReview, By::Team));
        assert!(!Submitted.may_become(Completed, By::Team), "completed only after accepted");
        assert!(Accepted.may_become(Completed, By::Team));
        assert!(!Accepted.may_become(Withdrawn, By::Customer), "accepted is being applied");
        assert!(!InReview.may_become(Accepted, By::Customer), "a customer only withdraws");
        assert!(WaitingForCustomer.may_become(InReview, By::System));
        assert!(!InReview.may_become(InReview, By::System));
        assert!(!Submitted.may_become(Submitted, By::Team), "nothing goes back to submitted");
        for s in RequestStatus::ALL {
            assert!(!s.next(By::Team).contains(&Withdrawn), "only the customer withdraws");
            assert!(!s.next(By::Team).contains(&Submitted));
            assert_eq!(RequestStatus::parse(s.as_str()), Some(s));
        }
        assert!(illegal(Declined, InReview, By::Team).contains("cannot move it any more"));
        assert!(
            illegal(Submitted, Completed, By::Team).contains("in_review, waiting_for_customer, accepted, declined")
        );
    }

    #[test]
    fn types_round_trip_and_say_what_they_need() {
        for t in RequestType::ALL {
            assert_eq!(RequestType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert!(RequestType::Other.message_required());
        assert!(!RequestType::DateChange.message_required());
        assert!(RequestType::DateChange.lead_only());
        assert!(!RequestType::Cancellation.lead_only());
        assert_eq!(WaitingForCustomer.customer_email(), Some(true));
        assert_eq!(InReview.customer_email(), Some(false));
        assert_eq!(Withdrawn.customer_email(), None);
    }
}

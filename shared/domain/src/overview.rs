//! The booking overview a customer sees: the whole booking and its money picture, built from what one
//! `Query` of the booking's item collection returns.
//!
//! Pure: the caller passes the stored booking, schedule, movements and documents, who is looking, the locale
//! to format for and today's date. Every money figure comes from [`LedgerSummary::compute`]; every amount is
//! a [`MoneyView`] (`{amount, currency, display}`), every date a [`DateView`] (`{date, display}`).
//!
//! # Who sees what
//!
//! - The **lead passenger** (the session says lead *and* the booking still names that traveller as lead) sees
//!   the whole party: every traveller's full details and share, every payment, every service, and the money
//!   actions (payment due, instalments awaiting approval).
//! - Any **other traveller** sees their own full details and share, only the first name of the others, the
//!   booking-level money figures (total, paid, outstanding, due now, next due, overdue), payments that are
//!   theirs or the party's (not another traveller's), services for the whole party or including them, and
//!   documents for the party or for them. Money actions are the lead's; a traveller's pending actions are
//!   their own missing details and updated documents.
//! - A session whose traveller is no longer on the booking sees nothing ([`OverviewError::NotATraveller`],
//!   answered like an unknown booking).
//!
//! # "Documents updated since last visit"
//!
//! There is no per-visit record yet; a visit is a sign-in. A document version generated after the session's
//! sign-in time (`Viewer::signed_in_at`, the session's `auth_time`) is flagged `updated_since_last_visit`
//! and listed in the `documents_updated` action. So a document regenerated while the customer is signed in is
//! flagged until they sign in again, and one regenerated between two sign-ins is not flagged after the second.
//! Recording a `last_seen_at` on the session item at sign-in would make this exact without a write per read.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::booking::{Booking, BookingStatus, PaymentChannel, Traveller};
use crate::ledger::{InstalmentView, LedgerSummary, Movement, MovementKind, TravellerShare};
use crate::locale::{Locale, format_date, format_money};
use crate::money::{Money, MoneyError};
use crate::schedule::{CollectionState, Instalment, InstalmentKind, InstalmentStatus};

/// A stored document version (`DOC#<type>#<id>#<version>` item), as far as the overview needs it. URLs are
/// never part of the overview: they are presigned on request by the documents route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRecord {
    pub doc_type: String,
    pub document_id: String,
    pub version: u32,
    pub generated_at: Option<DateTime<Utc>>,
    /// The traveller the document is for (e-ticket); `None` for the party (invoice, itinerary).
    pub traveller_id: Option<String>,
    /// For receipts: the payment movement the receipt is for.
    pub movement_id: Option<String>,
    /// Who besides the lead the document is for: a voucher's travellers (empty: the party), a receipt's payer
    /// and the traveller it paid for. See [`may_see_document`].
    pub travellers: Vec<String>,
}

/// The one rule for who sees a document (the overview and the documents route both apply it; a document the
/// viewer may not see is answered exactly like one that does not exist):
///
/// - the lead passenger sees every document;
/// - the invoice is the lead's alone (it carries every traveller's name and price line);
/// - a receipt is seen by its payer and by the traveller it paid for (`travellers`; none known: the lead only);
/// - an itinerary or voucher by everyone it is for (`travellers`, empty meaning the whole party).
pub fn may_see_document(doc_type: &str, travellers: &[String], viewer: &str, viewer_is_lead: bool) -> bool {
    if viewer_is_lead {
        return true;
    }
    let listed = travellers.iter().any(|t| t == viewer);
    match doc_type {
        "invoice" => false,
        "receipt" => listed,
        _ => travellers.is_empty() || listed,
    }
}

/// The stored state of one booking.
#[derive(Debug, Clone, Copy)]
pub struct OverviewInput<'a> {
    pub booking: &'a Booking,
    pub version: u64,
    pub booked_at: DateTime<Utc>,
    pub instalments: &'a [Instalment],
    pub movements: &'a [Movement],
    pub documents: &'a [DocumentRecord],
    /// Traveller details progress by traveller id (what the operator requires and is still missing), from
    /// the details items in the booking's collection. A traveller absent here is missing every required
    /// field; `None` (no details service): only the push's date of birth is checked.
    pub details: Option<&'a std::collections::BTreeMap<String, DetailsProgress>>,
}

/// One traveller's passenger-details progress, as the details service counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailsProgress {
    pub missing: Vec<&'static str>,
    pub percent: u8,
}

/// Who is looking: the session's traveller.
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    pub traveller_id: &'a str,
    /// What the session claims; lead only if the booking agrees.
    pub claims_lead: bool,
    pub signed_in_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverviewError {
    /// The session's traveller is not (or no longer) on the booking.
    #[error("the session's traveller is not on this booking")]
    NotATraveller,
    /// The stored ledger does not add up (a currency mismatch or overflow in stored data).
    #[error("ledger: {0}")]
    Money(#[from] MoneyError),
}

// ---------------------------------------------------------------------------------------------------------
// Views

/// `{"amount": "1234.50", "currency": "GBP", "display": "£1,234.50"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MoneyView {
    pub amount: String,
    pub currency: &'static str,
    pub display: String,
}

impl MoneyView {
    pub fn new(m: Money, locale: Locale) -> MoneyView {
        MoneyView { amount: m.to_decimal_string(), currency: m.currency().code(), display: format_money(m, locale) }
    }
}

/// `{"date": "2027-03-25", "display": "25 March 2027"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DateView {
    pub date: NaiveDate,
    pub display: String,
}

impl DateView {
    pub fn new(date: NaiveDate, locale: Locale) -> DateView {
        DateView { date, display: format_date(date, locale) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Lead,
    Traveller,
}

#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub reference: String,
    pub version: u64,
    pub brand: String,
    pub status: StatusView,
    pub locale: &'static str,
    pub currency: &'static str,
    pub viewer: ViewerView,
    pub travel: TravelView,
    pub timeline: Vec<TimelineEntry>,
    pub itinerary: Vec<DayView>,
    pub travellers: Vec<TravellerView>,
    pub money: MoneySummaryView,
    pub payments: Vec<PaymentView>,
    pub instalments: Vec<InstalmentRow>,
    pub documents: Vec<DocumentView>,
    pub pending_actions: Vec<PendingAction>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub code: BookingStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waitlist_position: Option<u32>,
}

impl StatusView {
    pub fn new(status: BookingStatus, waitlist_position: Option<u32>) -> StatusView {
        StatusView {
            code: status,
            waitlist_position: if status == BookingStatus::Waitlisted { waitlist_position } else { None },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ViewerView {
    pub traveller_id: String,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize)]
pub struct TravelView {
    pub start: DateView,
    pub end: DateView,
    pub nights: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    Booked,
    PaymentReceived,
    Refund,
    Chargeback,
    DepositDue,
    InstalmentDue,
    BalanceDue,
    TravelStart,
    TravelEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineState {
    /// A date that has passed (or a payment made).
    Done,
    Today,
    Upcoming,
    /// An instalment whose due date passed with money still owed.
    Overdue,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub date: DateView,
    pub kind: TimelineKind,
    pub state: TimelineState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<MoneyView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instalment_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayView {
    pub day: u32,
    pub date: DateView,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accommodation: Option<String>,
    pub services: Vec<ServiceView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub supplier_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier_reference: Option<String>,
    /// Who the service is for (empty: the whole party). Lead view only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traveller_ids: Option<Vec<String>>,
}

/// A traveller as the viewer may see them. For another traveller seen by a non-lead, only `first_name`.
#[derive(Debug, Clone, Serialize)]
pub struct TravellerView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub first_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_lead: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_you: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_details: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details_percent: Option<u8>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShareView {
    pub traveller_id: String,
    pub first_name: String,
    pub share: MoneyView,
    pub paid: MoneyView,
    pub outstanding: MoneyView,
}

#[derive(Debug, Clone, Serialize)]
pub struct NextDueView {
    pub date: DateView,
    pub amount: MoneyView,
    pub instalment_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MoneySummaryView {
    pub total: MoneyView,
    pub paid: MoneyView,
    pub outstanding: MoneyView,
    pub credit: MoneyView,
    pub due_now: MoneyView,
    pub overdue: MoneyView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_due: Option<NextDueView>,
    /// Every traveller's share for the lead; only the viewer's own for anyone else.
    pub traveller_shares: Vec<ShareView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    Payment,
    Refund,
    FailedPayment,
    /// The cardholder's bank took a payment back (a dispute's funds withdrawn).
    Chargeback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Succeeded,
    Refunded,
    /// A refund the gateway has accepted but not yet completed: not yet money back.
    Pending,
    Failed,
    /// A chargeback: the money is owed again.
    ChargedBack,
    /// A chargeback reversed (the dispute was won): the payment stands again.
    Reversed,
}

#[derive(Debug, Clone, Serialize)]
pub struct DocumentRef {
    pub document_id: String,
    pub version: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentView {
    pub id: String,
    pub kind: PaymentKind,
    pub date: DateView,
    pub occurred_at: DateTime<Utc>,
    pub amount: MoneyView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<PaymentChannel>,
    pub status: PaymentStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<DocumentRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// The customer consented to an off-session charge on the due date.
    Approved,
    /// Money is still owed on it and nobody has approved the charge.
    AwaitingApproval,
    /// Paid: nothing to approve.
    NotRequired,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstalmentRow {
    pub id: String,
    pub kind: InstalmentKind,
    pub due_date: DateView,
    pub amount: MoneyView,
    pub paid: MoneyView,
    pub remaining: MoneyView,
    pub status: InstalmentStatus,
    pub overdue: bool,
    pub approval: ApprovalState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<DateTime<Utc>>,
    /// Off-session collection: `not_scheduled`, `scheduled` (charged on the due date), `processing`,
    /// `retry_scheduled` (declined; charged again at `next_attempt_at`), `failed` (pay by hand), `paid`, `cancelled`.
    pub collection: CollectionState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Declined collection attempts so far.
    pub collection_attempts: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct DocumentView {
    #[serde(rename = "type")]
    pub doc_type: String,
    pub document_id: String,
    pub version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_at: Option<DateTime<Utc>>,
    pub updated_since_last_visit: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct UpdatedDocument {
    #[serde(rename = "type")]
    pub doc_type: String,
    pub document_id: String,
    pub version: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PendingAction {
    /// Money is due now (today or earlier). `overdue` when part of it was due before today.
    BalanceDue { amount: MoneyView, overdue: MoneyView, is_overdue: bool },
    /// A future instalment with money owed that nobody has approved for off-session collection.
    InstalmentAwaitingApproval { instalment_id: String, due_date: DateView, amount: MoneyView },
    /// Off-session collection of an instalment failed as often as the retry policy allows: pay it by hand.
    InstalmentPaymentFailed { instalment_id: String, due_date: DateView, amount: MoneyView },
    /// A traveller's details the operator still needs.
    MissingPassengerDetails { traveller_id: String, first_name: String, fields: Vec<&'static str>, percent: u8 },
    /// Documents generated since the session signed in (see the module docs).
    DocumentsUpdated { documents: Vec<UpdatedDocument> },
}

// ---------------------------------------------------------------------------------------------------------
// Building

/// What a traveller still has to give before travel, and how far they are: from the details service when
/// the caller has it, else the push's date of birth alone.
fn missing_details(
    t: &Traveller,
    details: Option<&std::collections::BTreeMap<String, DetailsProgress>>,
) -> (Vec<&'static str>, u8) {
    match details {
        Some(map) => match map.get(&t.id) {
            Some(p) => (p.missing.clone(), p.percent),
            None => (Vec::new(), 100),
        },
        None if t.date_of_birth.is_none() => (vec!["date_of_birth"], 0),
        None => (Vec::new(), 100),
    }
}

pub fn build(
    input: &OverviewInput<'_>,
    viewer: &Viewer<'_>,
    locale: Locale,
    today: NaiveDate,
) -> Result<Overview, OverviewError> {
    let b = input.booking;
    let me = b.traveller(viewer.traveller_id).ok_or(OverviewError::NotATraveller)?;
    let role = if viewer.claims_lead && b.lead_traveller_id == me.id { Role::Lead } else { Role::Traveller };
    let lead = role == Role::Lead;
    let mv = |m: Money| MoneyView::new(m, locale);
    let dv = |d: NaiveDate| DateView::new(d, locale);

    let summary = LedgerSummary::compute(b, input.movements, input.instalments, today)?;

    // Travellers
    let travellers = b
        .travellers
        .iter()
        .map(|t| {
            if lead || t.id == me.id {
                TravellerView {
                    id: Some(t.id.clone()),
                    first_name: t.first_name.clone(),
                    last_name: Some(t.last_name.clone()),
                    email: t.email.clone(),
                    date_of_birth: t.date_of_birth,
                    is_lead: Some(t.id == b.lead_traveller_id),
                    is_you: Some(t.id == me.id),
                    missing_details: Some(missing_details(t, input.details).0),
                    details_percent: Some(missing_details(t, input.details).1),
                }
            } else {
                TravellerView {
                    id: None,
                    first_name: t.first_name.clone(),
                    last_name: None,
                    email: None,
                    date_of_birth: None,
                    is_lead: None,
                    is_you: None,
                    missing_details: None,
                    details_percent: None,
                }
            }
        })
        .collect();

    // Money
    let first_name = |id: &str| b.traveller(id).map(|t| t.first_name.clone()).unwrap_or_default();
    let share_view = |s: &TravellerShare| ShareView {
        traveller_id: s.traveller_id.clone(),
        first_name: first_name(&s.traveller_id),
        share: mv(s.share),
        paid: mv(s.paid),
        outstanding: mv(s.outstanding),
    };
    let money = MoneySummaryView {
        total: mv(summary.total_price),
        paid: mv(summary.paid),
        outstanding: mv(summary.outstanding),
        credit: mv(summary.credit),
        due_now: mv(summary.due_now),
        overdue: mv(summary.overdue),
        next_due: summary.next_due.as_ref().map(|n| NextDueView {
            date: dv(n.date),
            amount: mv(n.amount),
            instalment_id: n.instalment_id.clone(),
        }),
        traveller_shares: summary
            .traveller_shares
            .iter()
            .filter(|s| lead || s.traveller_id == me.id)
            .map(share_view)
            .collect(),
    };

    // Documents: the newest version of each document the viewer may see.
    let visible_doc = |d: &DocumentRecord| may_see_document(&d.doc_type, &d.travellers, &me.id, lead);
    let mut latest: BTreeMap<(&str, &str), &DocumentRecord> = BTreeMap::new();
    for d in input.documents.iter().filter(|d| visible_doc(d)) {
        let key = (d.doc_type.as_str(), d.document_id.as_str());
        if latest.get(&key).is_none_or(|cur| d.version > cur.version) {
            latest.insert(key, d);
        }
    }
    let updated = |d: &DocumentRecord| d.generated_at.is_some_and(|g| g > viewer.signed_in_at);
    let documents: Vec<DocumentView> = latest
        .values()
        .map(|d| DocumentView {
            doc_type: d.doc_type.clone(),
            document_id: d.document_id.clone(),
            version: d.version,
            generated_at: d.generated_at,
            updated_since_last_visit: updated(d),
        })
        .collect();

    // Payment history
    let receipt_for = |movement_id: &str| {
        input
            .documents
            .iter()
            .filter(|d| visible_doc(d) && d.movement_id.as_deref() == Some(movement_id))
            .max_by_key(|d| d.version)
            .map(|d| DocumentRef { document_id: d.document_id.clone(), version: d.version })
    };
    let payments = input
        .movements
        .iter()
        .filter(|m| lead || m.traveller_id.as_deref().is_none_or(|t| t == me.id))
        .filter_map(|m| {
            let (kind, status) = payment_row(m, input.movements)?;
            Some(PaymentView {
                id: m.id.clone(),
                kind,
                date: dv(m.occurred_at.date_naive()),
                occurred_at: m.occurred_at,
                amount: mv(m.amount),
                method: m.channel,
                status,
                receipt: receipt_for(&m.id),
            })
        })
        .collect();

    // Instalments
    let instalments: Vec<InstalmentRow> = summary.instalments.iter().map(|v| instalment_row(v, locale)).collect();

    // Timeline
    let timeline = timeline(input, &summary, lead, me, locale, today);

    // Itinerary
    let itinerary = b
        .itinerary
        .iter()
        .map(|d| DayView {
            day: u32::try_from((d.date - b.travel_start).num_days() + 1).unwrap_or(0),
            date: dv(d.date),
            title: d.title.clone(),
            description: d.description.clone(),
            accommodation: d.accommodation.clone(),
            services: d
                .services
                .iter()
                .filter(|s| lead || s.traveller_ids.is_empty() || s.traveller_ids.contains(&me.id))
                .map(|s| ServiceView {
                    id: s.id.clone(),
                    kind: s.kind.clone(),
                    name: s.name.clone(),
                    supplier_name: s.supplier_name.clone(),
                    supplier_reference: s.supplier_reference.clone(),
                    traveller_ids: lead.then(|| s.traveller_ids.clone()),
                })
                .collect(),
        })
        .collect();

    // Pending actions
    let mut pending_actions = Vec::new();
    if lead && summary.due_now.is_positive() {
        pending_actions.push(PendingAction::BalanceDue {
            amount: mv(summary.due_now),
            overdue: mv(summary.overdue),
            is_overdue: summary.overdue.is_positive(),
        });
    }
    if lead {
        for v in summary.instalments.iter().filter(|v| v.instalment.due_date > today) {
            if approval_state(v) == ApprovalState::AwaitingApproval {
                pending_actions.push(PendingAction::InstalmentAwaitingApproval {
                    instalment_id: v.instalment.id.clone(),
                    due_date: dv(v.instalment.due_date),
                    amount: mv(v.remaining),
                });
            }
        }
    }
    if lead {
        for v in summary.instalments.iter().filter(|v| v.remaining.is_positive()) {
            if v.instalment.collection_state() == CollectionState::Failed {
                pending_actions.push(PendingAction::InstalmentPaymentFailed {
                    instalment_id: v.instalment.id.clone(),
                    due_date: dv(v.instalment.due_date),
                    amount: mv(v.remaining),
                });
            }
        }
    }
    for t in b.travellers.iter().filter(|t| lead || t.id == me.id) {
        let (fields, percent) = missing_details(t, input.details);
        if !fields.is_empty() {
            pending_actions.push(PendingAction::MissingPassengerDetails {
                traveller_id: t.id.clone(),
                first_name: t.first_name.clone(),
                fields,
                percent,
            });
        }
    }
    let updated_docs: Vec<UpdatedDocument> = documents
        .iter()
        .filter(|d| d.updated_since_last_visit)
        .map(|d| UpdatedDocument {
            doc_type: d.doc_type.clone(),
            document_id: d.document_id.clone(),
            version: d.version,
        })
        .collect();
    if !updated_docs.is_empty() {
        pending_actions.push(PendingAction::DocumentsUpdated { documents: updated_docs });
    }

    Ok(Overview {
        reference: b.reference.to_string(),
        version: input.version,
        brand: b.brand.clone(),
        status: StatusView::new(b.status, b.waitlist_position),
        locale: locale.tag(),
        currency: b.currency.code(),
        viewer: ViewerView { traveller_id: me.id.clone(), role },
        travel: TravelView {
            start: dv(b.travel_start),
            end: dv(b.travel_end),
            nights: (b.travel_end - b.travel_start).num_days(),
        },
        timeline,
        itinerary,
        travellers,
        money,
        payments,
        instalments,
        documents,
        pending_actions,
    })
}

fn approval_state(v: &InstalmentView) -> ApprovalState {
    if v.instalment.approval.is_some()
        || matches!(v.instalment.status, InstalmentStatus::Approved | InstalmentStatus::Processing)
    {
        ApprovalState::Approved
    } else if v.remaining.is_positive() {
        ApprovalState::AwaitingApproval
    } else {
        ApprovalState::NotRequired
    }
}

fn instalment_row(v: &InstalmentView, locale: Locale) -> InstalmentRow {
    let approval = approval_state(v);
    InstalmentRow {
        id: v.instalment.id.clone(),
        kind: v.instalment.kind,
        due_date: DateView::new(v.instalment.due_date, locale),
        amount: MoneyView::new(v.instalment.amount, locale),
        paid: MoneyView::new(v.covered, locale),
        remaining: MoneyView::new(v.remaining, locale),
        status: v.display_status,
        overdue: v.overdue,
        approval,
        approved_at: v.instalment.approval.as_ref().map(|a| a.approved_at),
        collection: if v.remaining.is_zero() { CollectionState::Paid } else { v.instalment.collection_state() },
        next_attempt_at: v.instalment.next_attempt_at.filter(|_| {
            matches!(v.instalment.collection_state(), CollectionState::RetryScheduled | CollectionState::Scheduled)
        }),
        collection_attempts: v.instalment.attempts,
    }
}

fn date_state(date: NaiveDate, today: NaiveDate) -> TimelineState {
    match date.cmp(&today) {
        std::cmp::Ordering::Less => TimelineState::Done,
        std::cmp::Ordering::Equal => TimelineState::Today,
        std::cmp::Ordering::Greater => TimelineState::Upcoming,
    }
}

/// How a movement shows in the payment history, one row per payment, refund or chargeback in its current
/// state (a refund's pending, final and failed movements share its gateway id): `None` for rows that only
/// explain another (a pending refund that settled, a reversal) and for non-payment movements.
fn payment_row(m: &Movement, all: &[Movement]) -> Option<(PaymentKind, PaymentStatus)> {
    let same = |kind: MovementKind| {
        all.iter()
            .any(|o| o.kind == kind && o.external_reference.is_some() && o.external_reference == m.external_reference)
    };
    Some(match m.kind {
        MovementKind::Payment => (PaymentKind::Payment, PaymentStatus::Succeeded),
        MovementKind::PaymentFailed => (PaymentKind::FailedPayment, PaymentStatus::Failed),
        MovementKind::Refund if same(MovementKind::RefundReversed) => (PaymentKind::Refund, PaymentStatus::Failed),
        MovementKind::Refund => (PaymentKind::Refund, PaymentStatus::Refunded),
        MovementKind::RefundPending if same(MovementKind::Refund) || same(MovementKind::RefundFailed) => return None,
        MovementKind::RefundPending => (PaymentKind::Refund, PaymentStatus::Pending),
        MovementKind::RefundFailed if same(MovementKind::Refund) => return None,
        MovementKind::RefundFailed => (PaymentKind::Refund, PaymentStatus::Failed),
        MovementKind::Chargeback if same(MovementKind::ChargebackReversed) => {
            (PaymentKind::Chargeback, PaymentStatus::Reversed)
        }
        MovementKind::Chargeback => (PaymentKind::Chargeback, PaymentStatus::ChargedBack),
        _ => return None,
    })
}

/// Booked, money received, instalments due, departure and return, in date order (ties keep that order).
fn timeline(
    input: &OverviewInput<'_>,
    summary: &LedgerSummary,
    lead: bool,
    me: &Traveller,
    locale: Locale,
    today: NaiveDate,
) -> Vec<TimelineEntry> {
    let b = input.booking;
    let entry = |date: NaiveDate, kind, state, amount: Option<Money>, instalment_id: Option<String>| TimelineEntry {
        date: DateView::new(date, locale),
        kind,
        state,
        amount: amount.map(|m| MoneyView::new(m, locale)),
        instalment_id,
    };
    let mut out: Vec<(NaiveDate, u8, TimelineEntry)> = Vec::new();
    let booked = input.booked_at.date_naive();
    out.push((booked, 0, entry(booked, TimelineKind::Booked, TimelineState::Done, None, None)));
    for m in input.movements.iter().filter(|m| lead || m.traveller_id.as_deref().is_none_or(|t| t == me.id)) {
        let kind = match m.kind {
            MovementKind::Payment => TimelineKind::PaymentReceived,
            MovementKind::Refund if payment_row(m, input.movements).is_some_and(|r| r.1 == PaymentStatus::Refunded) => {
                TimelineKind::Refund
            }
            MovementKind::Chargeback
                if payment_row(m, input.movements).is_some_and(|r| r.1 == PaymentStatus::ChargedBack) =>
            {
                TimelineKind::Chargeback
            }
            _ => continue,
        };
        let d = m.occurred_at.date_naive();
        out.push((d, 1, entry(d, kind, TimelineState::Done, Some(m.amount), None)));
    }
    for v in &summary.instalments {
        let i = &v.instalment;
        let kind = match i.kind {
            InstalmentKind::Deposit => TimelineKind::DepositDue,
            InstalmentKind::Instalment => TimelineKind::InstalmentDue,
            InstalmentKind::Balance => TimelineKind::BalanceDue,
        };
        let state = if v.remaining.is_zero() {
            TimelineState::Done
        } else if v.overdue {
            TimelineState::Overdue
        } else {
            date_state(i.due_date, today)
        };
        out.push((i.due_date, 2, entry(i.due_date, kind, state, Some(i.amount), Some(i.id.clone()))));
    }
    out.push((
        b.travel_start,
        3,
        entry(b.travel_start, TimelineKind::TravelStart, date_state(b.travel_start, today), None, None),
    ));
    out.push((
        b.travel_end,
        4,
        entry(b.travel_end, TimelineKind::TravelEnd, date_state(b.travel_end, today), None, None),
    ));
    out.sort_by_key(|(d, rank, _)| (*d, *rank));
    out.into_iter().map(|(_, _, e)| e).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::tests::sample_input;
    use crate::booking::{BookingInput, ValidatedBooking};
    use crate::ids::BookingReference;
    use crate::ledger::{Actor, MovementKind};
    use crate::money::Currency;
    use crate::schedule::Approval;

    fn validated(v: serde_json::Value) -> ValidatedBooking {
        let input: BookingInput = serde_json::from_value(v).unwrap();
        Booking::from_input(BookingReference::parse("AB-1234").unwrap(), input).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn mv(id: &str, kind: MovementKind, minor: i64, currency: Currency, when: &str) -> Movement {
        Movement {
            id: id.into(),
            kind,
            amount: Money::from_minor(minor, currency).unwrap(),
            channel: (kind == MovementKind::Payment).then_some(PaymentChannel::Card),
            external_reference: None,
            occurred_at: at(when),
            recorded_at: at(when),
            actor: Actor::system("test"),
            idempotency_key: format!("k-{id}"),
            traveller_id: None,
            instalment_ids: vec![],
            description: None,
            acquirer_fee: None,
        }
    }

    struct Fixture {
        v: ValidatedBooking,
        instalments: Vec<Instalment>,
        movements: Vec<Movement>,
        documents: Vec<DocumentRecord>,
    }

    /// The sample GBP booking (2250.50, DEP 450.50 on 2026-11-01, I1 900 on 2027-01-15, BAL 900 on
    /// 2027-04-01), deposit paid by card.
    fn fixture() -> Fixture {
        let v = validated(sample_input());
        let instalments = v.schedule.iter().map(Instalment::new).collect();
        let movements = vec![
            mv("c", MovementKind::Charge, 225_050, Currency::Gbp, "2026-10-01T09:00:00Z"),
            mv("p", MovementKind::Payment, 45_050, Currency::Gbp, "2026-10-20T12:00:00Z"),
        ];
        Fixture { v, instalments, movements, documents: vec![] }
    }

    fn run(f: &Fixture, traveller: &str, lead: bool, locale: Locale, today: &str) -> serde_json::Value {
        let input = OverviewInput {
            booking: &f.v.booking,
            version: 3,
            booked_at: at("2026-10-01T09:00:00Z"),
            instalments: &f.instalments,
            movements: &f.movements,
            documents: &f.documents,
            details: None,
        };
        let viewer = Viewer { traveller_id: traveller, claims_lead: lead, signed_in_at: at("2026-11-20T08:00:00Z") };
        serde_json::to_value(build(&input, &viewer, locale, day(today)).unwrap()).unwrap()
    }

    #[test]
    fn lead_sees_the_whole_money_picture() {
        let f = fixture();
        let o = run(&f, "T1", true, Locale::EnGb, "2026-11-25");
        assert_eq!(o["viewer"]["role"], "lead");
        assert_eq!(
            o["money"]["total"],
            serde_json::json!({"amount": "2250.50", "currency": "GBP", "display": "£2,250.50"})
        );
        assert_eq!(o["money"]["paid"]["display"], "£450.50");
        assert_eq!(o["money"]["outstanding"]["amount"], "1800.00");
        assert_eq!(o["money"]["due_now"]["amount"], "0.00");
        assert_eq!(o["money"]["next_due"]["date"]["date"], "2027-01-15");
        assert_eq!(o["money"]["next_due"]["date"]["display"], "15 January 2027");
        assert_eq!(o["money"]["traveller_shares"].as_array().unwrap().len(), 2);
        assert_eq!(o["travellers"][1]["last_name"], "Babbage");
        assert_eq!(o["instalments"][0]["status"], "paid");
        assert_eq!(o["instalments"][0]["approval"], "not_required");
        assert_eq!(o["instalments"][1]["approval"], "awaiting_approval");
        assert_eq!(o["payments"][0]["method"], "card");
        assert_eq!(o["payments"][0]["status"], "succeeded");
        assert_eq!(o["payments"][0]["amount"]["amount"], "450.50");
        let kinds: Vec<&str> =
            o["pending_actions"].as_array().unwrap().iter().map(|a| a["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            vec!["instalment_awaiting_approval", "instalment_awaiting_approval", "missing_passenger_details"]
        );
        assert_eq!(o["pending_actions"][2]["traveller_id"], "T2");
        assert_eq!(o["itinerary"][0]["day"], 1);
        assert_eq!(o["itinerary"][0]["services"][0]["supplier_reference"], "TZ-9");
        assert_eq!(o["status"], serde_json::json!({"code": "confirmed"}));
    }

    #[test]
    fn the_history_shows_each_refund_and_chargeback_once_in_its_current_state() {
        let mut f = fixture();
        let with_ref = |id: &str, kind, minor, r: &str, when: &str| Movement {
            external_reference: Some(r.into()),
            ..mv(id, kind, minor, Currency::Gbp, when)
        };
        f.movements.extend([
            // re_1: pending, then succeeded. re_2: pending, still. re_3: succeeded, then failed (reversed).
            // re_4: pending, then failed. dp_1: charged back, then won. dp_2: charged back.
            with_ref("r1p", MovementKind::RefundPending, 1000, "re_1", "2026-10-21T09:00:00Z"),
            with_ref("r1", MovementKind::Refund, 1000, "re_1", "2026-10-22T09:00:00Z"),
            with_ref("r2p", MovementKind::RefundPending, 2000, "re_2", "2026-10-23T09:00:00Z"),
            with_ref("r3", MovementKind::Refund, 3000, "re_3", "2026-10-24T09:00:00Z"),
            with_ref("r3f", MovementKind::RefundFailed, 3000, "re_3", "2026-10-25T09:00:00Z"),
            with_ref("r3r", MovementKind::RefundReversed, 3000, "re_3", "2026-10-25T09:00:00Z"),
            with_ref("r4p", MovementKind::RefundPending, 4000, "re_4", "2026-10-26T09:00:00Z"),
            with_ref("r4f", MovementKind::RefundFailed, 4000, "re_4", "2026-10-27T09:00:00Z"),
            with_ref("d1o", MovementKind::DisputeOpened, 45_050, "dp_1", "2026-10-28T09:00:00Z"),
            with_ref("d1", MovementKind::Chargeback, 45_050, "dp_1", "2026-10-28T09:00:00Z"),
            with_ref("d1r", MovementKind::ChargebackReversed, 45_050, "dp_1", "2026-10-29T09:00:00Z"),
            with_ref("d2", MovementKind::Chargeback, 5000, "dp_2", "2026-10-30T09:00:00Z"),
        ]);
        let o = run(&f, "T1", true, Locale::EnGb, "2026-11-25");
        let rows: Vec<(String, String, String)> = o["payments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let s = |k: &str| p[k].as_str().unwrap().to_string();
                (s("id"), s("kind"), s("status"))
            })
            .collect();
        let row = |id: &str, kind: &str, status: &str| (id.to_string(), kind.to_string(), status.to_string());
        assert_eq!(
            rows,
            vec![
                row("p", "payment", "succeeded"),
                row("r1", "refund", "refunded"),
                row("r2p", "refund", "pending"),
                row("r3", "refund", "failed"),
                row("r4f", "refund", "failed"),
                row("d1", "chargeback", "reversed"),
                row("d2", "chargeback", "charged_back"),
            ]
        );
        // Paid: 450.50 − 10.00 refunded − 50.00 charged back (re_2 is not yet money back; re_3 failed).
        assert_eq!(o["money"]["paid"]["amount"], "390.50");
        let timeline: Vec<&str> =
            o["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(timeline.iter().filter(|k| **k == "refund").count(), 1);
        assert_eq!(timeline.iter().filter(|k| **k == "chargeback").count(), 1, "a won dispute is not on it");
    }

    #[test]
    fn a_traveller_sees_itself_and_first_names_only() {
        let f = fixture();
        let o = run(&f, "T2", false, Locale::EnGb, "2026-11-25");
        assert_eq!(o["viewer"]["role"], "traveller");
        assert_eq!(o["travellers"][0], serde_json::json!({"first_name": "Ada"}));
        assert_eq!(o["travellers"][1]["last_name"], "Babbage");
        assert_eq!(o["travellers"][1]["is_you"], true);
        let shares = o["money"]["traveller_shares"].as_array().unwrap();
        assert_eq!(shares.len(), 1);
        assert_eq!(shares[0]["traveller_id"], "T2");
        // Money actions are the lead's; the traveller's own missing date of birth is theirs.
        let actions = o["pending_actions"].as_array().unwrap();
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0]["type"], "missing_passenger_details");
        assert!(!o.to_string().contains("ada@example.com"));
        assert!(!o.to_string().contains("Lovelace"));
    }

    #[test]
    fn a_lead_claim_the_booking_no_longer_supports_gives_the_traveller_view() {
        let f = fixture();
        assert_eq!(run(&f, "T2", true, Locale::EnGb, "2026-11-25")["viewer"]["role"], "traveller");
        let input = OverviewInput {
            booking: &f.v.booking,
            version: 1,
            booked_at: at("2026-10-01T09:00:00Z"),
            instalments: &f.instalments,
            movements: &f.movements,
            documents: &f.documents,
            details: None,
        };
        let viewer = Viewer { traveller_id: "T9", claims_lead: true, signed_in_at: at("2026-11-20T08:00:00Z") };
        assert_eq!(build(&input, &viewer, Locale::EnGb, day("2026-11-25")).unwrap_err(), OverviewError::NotATraveller);
    }

    #[test]
    fn overdue_money_is_due_now_and_on_the_timeline() {
        let f = fixture();
        let o = run(&f, "T1", true, Locale::EnGb, "2027-02-01");
        assert_eq!(o["money"]["due_now"]["amount"], "900.00");
        assert_eq!(o["money"]["overdue"]["amount"], "900.00");
        assert_eq!(o["pending_actions"][0]["type"], "balance_due");
        assert_eq!(o["pending_actions"][0]["is_overdue"], true);
        let tl = o["timeline"].as_array().unwrap();
        let kinds: Vec<&str> = tl.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            vec![
                "booked",
                "payment_received",
                "deposit_due",
                "instalment_due",
                "balance_due",
                "travel_start",
                "travel_end"
            ]
        );
        let states: Vec<&str> = tl.iter().map(|e| e["state"].as_str().unwrap()).collect();
        assert_eq!(states, vec!["done", "done", "done", "overdue", "upcoming", "upcoming", "upcoming"]);
    }

    #[test]
    fn approved_instalments_are_not_pending() {
        let mut f = fixture();
        f.instalments[1].status = InstalmentStatus::Approved;
        f.instalments[1].approval = Some(Approval {
            approved_at: at("2026-11-21T10:00:00Z"),
            approved_by: "T1".into(),
            payment_method_id: "pm_1".into(),
            client_ip: None,
        });
        let o = run(&f, "T1", true, Locale::EnGb, "2026-11-25");
        assert_eq!(o["instalments"][1]["approval"], "approved");
        assert_eq!(o["instalments"][1]["approved_at"], "2026-11-21T10:00:00Z");
        let pending: Vec<&str> =
            o["pending_actions"].as_array().unwrap().iter().filter_map(|a| a["instalment_id"].as_str()).collect();
        assert_eq!(pending, vec!["BAL"]);
        assert_eq!(o["instalments"][1]["collection"], "scheduled");
        assert_eq!(o["instalments"][0]["collection"], "paid");
    }

    #[test]
    fn failed_collection_is_shown_and_asks_to_pay_by_hand() {
        let mut f = fixture();
        f.instalments[1].status = InstalmentStatus::Failed;
        f.instalments[1].attempts = 2;
        f.instalments[1].next_attempt_at = Some(at("2026-11-27T00:00:00Z"));
        let o = run(&f, "T1", true, Locale::EnGb, "2026-11-25");
        assert_eq!(o["instalments"][1]["collection"], "retry_scheduled");
        assert_eq!(o["instalments"][1]["next_attempt_at"], "2026-11-27T00:00:00Z");
        assert_eq!(o["instalments"][1]["collection_attempts"], 2);
        let kinds = |o: &serde_json::Value| -> Vec<String> {
            o["pending_actions"].as_array().unwrap().iter().map(|a| a["type"].as_str().unwrap().to_string()).collect()
        };
        assert!(!kinds(&o).contains(&"instalment_payment_failed".to_string()));
        f.instalments[1].next_attempt_at = None;
        let o = run(&f, "T1", true, Locale::EnGb, "2026-11-25");
        assert_eq!(o["instalments"][1]["collection"], "failed");
        assert!(kinds(&o).contains(&"instalment_payment_failed".to_string()), "{:?}", kinds(&o));
        // Not shown to a traveller who is not the lead (money actions are the lead's).
        let o = run(&f, "T2", false, Locale::EnGb, "2026-11-25");
        assert!(!kinds(&o).contains(&"instalment_payment_failed".to_string()));
    }

    #[test]
    fn money_follows_the_locale() {
        let f = fixture();
        let o = run(&f, "T1", true, Locale::DeDe, "2026-11-25");
        assert_eq!(o["locale"], "de-DE");
        assert_eq!(o["money"]["total"]["amount"], "2250.50");
        assert_eq!(
            o["money"]["total"]["display"],
            crate::locale::format_money(Money::from_minor(225_050, Currency::Gbp).unwrap(), Locale::DeDe)
        );
        assert_ne!(o["money"]["total"]["display"], "£2,250.50");
    }

    #[test]
    fn jpy_and_bhd_keep_their_minor_units() {
        let mut input = sample_input();
        input["currency"] = "JPY".into();
        input["price_lines"] = serde_json::json!([{"description": "Tour", "amount": "248000"}]);
        input["schedule"] =
            serde_json::json!([{"id": "DEP", "kind": "deposit", "due_date": "2026-11-01", "amount": "248000"}]);
        let v = validated(input);
        let f = Fixture {
            instalments: v.schedule.iter().map(Instalment::new).collect(),
            movements: vec![mv("c", MovementKind::Charge, 248_000, Currency::Jpy, "2026-10-01T09:00:00Z")],
            v,
            documents: vec![],
        };
        let o = run(&f, "T1", true, Locale::EnGb, "2026-11-25");
        assert_eq!(o["money"]["total"]["amount"], "248000");
        assert_eq!(o["money"]["overdue"]["amount"], "248000");

        let mut input = sample_input();
        input["currency"] = "BHD".into();
        input["price_lines"] = serde_json::json!([{"description": "Tour", "amount": "1234.567"}]);
        input["schedule"] =
            serde_json::json!([{"id": "DEP", "kind": "deposit", "due_date": "2027-01-01", "amount": "1234.567"}]);
        let v = validated(input);
        let f = Fixture {
            instalments: v.schedule.iter().map(Instalment::new).collect(),
            movements: vec![mv("c", MovementKind::Charge, 1_234_567, Currency::Bhd, "2026-10-01T09:00:00Z")],
            v,
            documents: vec![],
        };
        let o = run(&f, "T1", true, Locale::EnGb, "2026-11-25");
        assert_eq!(o["money"]["outstanding"]["amount"], "1234.567");
        assert!(o["money"]["outstanding"]["display"].as_str().unwrap().contains("1,234.567"));
    }

    #[test]
    fn documents_latest_version_receipts_and_updates() {
        let mut f = fixture();
        let doc =
            |t: &str, id: &str, v: u32, at_: &str, traveller: Option<&str>, movement: Option<&str>| DocumentRecord {
                doc_type: t.into(),
                document_id: id.into(),
                version: v,
                generated_at: Some(at(at_)),
                traveller_id: traveller.map(Into::into),
                movement_id: movement.map(Into::into),
                travellers: traveller.map(|t| vec![t.to_string()]).unwrap_or_default(),
            };
        f.documents = vec![
            doc("invoice", "INV1", 1, "2026-10-01T10:00:00Z", None, None),
            doc("invoice", "INV1", 2, "2026-11-22T10:00:00Z", None, None),
            doc("receipt", "RCP1", 1, "2026-10-20T12:05:00Z", None, Some("p")),
            doc("eticket", "ET-T1", 1, "2026-11-01T10:00:00Z", Some("T1"), None),
        ];
        let o = run(&f, "T1", true, Locale::EnGb, "2026-11-25");
        let docs = o["documents"].as_array().unwrap();
        assert_eq!(docs.len(), 3);
        let inv = docs.iter().find(|d| d["document_id"] == "INV1").unwrap();
        assert_eq!((inv["version"].as_u64(), inv["updated_since_last_visit"].as_bool()), (Some(2), Some(true)));
        assert_eq!(o["payments"][0]["receipt"], serde_json::json!({"document_id": "RCP1", "version": 1}));
        let last = o["pending_actions"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["type"], "documents_updated");
        assert_eq!(last["documents"][0]["document_id"], "INV1");
        assert!(!o.to_string().contains("url"));
        // Another traveller sees neither T1's e-ticket, nor the invoice, nor a receipt they neither paid nor
        // were paid for.
        let o = run(&f, "T2", false, Locale::EnGb, "2026-11-25");
        assert!(o["documents"].as_array().unwrap().is_empty(), "{}", o["documents"]);
        f.documents[2].travellers = vec!["T2".into()];
        let o = run(&f, "T2", false, Locale::EnGb, "2026-11-25");
        let ids: Vec<&str> =
            o["documents"].as_array().unwrap().iter().map(|d| d["document_id"].as_str().unwrap()).collect();
        assert_eq!(ids, vec!["RCP1"]);
    }

    #[test]
    fn who_sees_which_document() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(may_see_document("invoice", &[], "T1", true));
        assert!(!may_see_document("invoice", &t(&["T2"]), "T2", false), "the invoice is the lead's");
        assert!(may_see_document("receipt", &t(&["T2", "T3"]), "T3", false), "paid for");
        assert!(!may_see_document("receipt", &t(&["T2"]), "T3", false));
        assert!(!may_see_document("receipt", &[], "T3", false), "no known payer: the lead only");
        assert!(may_see_document("itinerary", &[], "T3", false));
        assert!(may_see_document("voucher", &[], "T3", false), "a voucher for the party");
        assert!(!may_see_document("voucher", &t(&["T2"]), "T3", false));
    }

    #[test]
    fn waitlist_position_only_when_waitlisted() {
        let mut input = sample_input();
        input["status"] = "waitlisted".into();
        input["waitlist_position"] = 4.into();
        let v = validated(input);
        let f = Fixture { instalments: vec![], movements: vec![], v, documents: vec![] };
        let o = run(&f, "T1", true, Locale::EnGb, "2026-11-25");
        assert_eq!(o["status"], serde_json::json!({"code": "waitlisted", "waitlist_position": 4}));
    }
}

//! What a customer pays at checkout, priced from the ledger (never from the client): the balance, what is
//! due now, chosen instalments, one traveller's share, or a custom amount between a minimum and the
//! outstanding balance. Plus the guard that keeps card numbers out of our requests (PCI DSS SAQ A).

use crate::booking::BookingStatus;
use crate::error::DomainError;
use crate::ledger::{InstalmentView, LedgerSummary};
use crate::money::Money;
use crate::schedule::InstalmentStatus;

/// What the customer asked to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayTarget {
    Balance,
    DueNow,
    Instalments(Vec<String>),
    TravellerShare(String),
    Custom(Money),
}

/// Who pays: the session's traveller. Only the lead may pay for others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payer<'a> {
    pub traveller_id: &'a str,
    pub is_lead: bool,
}

/// The amount to collect and what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub amount: Money,
    /// Instalments the payment is meant for (the ledger allocates payments oldest-due first).
    pub instalment_ids: Vec<String>,
    /// The traveller the payment is attributed to (a traveller's share), else the whole booking.
    pub traveller_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The payer may not pay this (a traveller paying someone else's share or the whole booking).
    #[error("{0}")]
    Forbidden(String),
}

fn invalid(field: &str, detail: impl Into<String>) -> PriceError {
    PriceError::Domain(DomainError::invalid(field, detail))
}

fn conflict(detail: impl Into<String>) -> PriceError {
    PriceError::Domain(DomainError::Conflict(detail.into()))
}

/// Price `target` against the ledger. `minimum` applies to custom amounts (unless the whole outstanding
/// balance is smaller than it).
///
/// A traveller's share is priced at the share's `outstanding` as the overview shows it: payments for the
/// whole party (such as a deposit the lead paid) count for every traveller in proportion to their share,
/// so that figure is exactly what settles it.
pub fn price(
    status: BookingStatus,
    summary: &LedgerSummary,
    target: &PayTarget,
    payer: Payer<'_>,
    minimum: Money,
) -> Result<Priced, PriceError> {
    if !payer.is_lead && !matches!(target, PayTarget::TravellerShare(t) if t == payer.traveller_id) {
        return Err(PriceError::Forbidden(
            "a traveller can pay only their own share (`pay: traveller_share`); the lead traveller can pay anything"
                .into(),
        ));
    }
    if status == BookingStatus::Cancelled {
        return Err(conflict("the booking is cancelled; nothing can be paid"));
    }
    if !summary.outstanding.is_positive() {
        return Err(conflict("nothing is outstanding on this booking"));
    }
    // Instalments being charged off-session to an approved card right now: that money is on its way, so no
    // target may ask for it a second time (the webhook settles them either way).
    let collecting =
        |v: &&InstalmentView| v.instalment.status == InstalmentStatus::Processing && v.remaining.is_positive();
    let being_collected =
        Money::sum(summary.currency, summary.instalments.iter().filter(collecting).map(|v| v.remaining))
            .map_err(|e| DomainError::money("amount", e))?;
    let outstanding = summary.outstanding.checked_sub(being_collected).map_err(|e| DomainError::money("amount", e))?;
    if !outstanding.is_positive() {
        return Err(conflict("the rest of the balance is being collected from the approved card; wait for its result"));
    }
    let open: Vec<String> = summary
        .instalments
        .iter()
        .filter(|v| v.remaining.is_positive() && !collecting(v))
        .map(|v| v.instalment.id.clone())
        .collect();
    let priced = match target {
        PayTarget::Balance => Priced { amount: outstanding, instalment_ids: open, traveller_id: None },
        PayTarget::DueNow => {
            if !summary.due_now.is_positive() {
                let next = summary
                    .next_due
                    .as_ref()
                    .map(|n| format!("; the next instalment is due on {}", n.date))
                    .unwrap_or_default();
                return Err(conflict(format!("nothing is due now{next}")));
            }
            let due_views: Vec<&InstalmentView> = summary
                .instalments
                .iter()
                .filter(|v| {
                    v.remaining.is_positive()
                        && summary.next_due.as_ref().is_none_or(|n| v.instalment.due_date < n.date)
                })
                .collect();
            let collecting_due =
                Money::sum(summary.currency, due_views.iter().copied().filter(collecting).map(|v| v.remaining))
                    .map_err(|e| DomainError::money("amount", e))?;
            let amount = summary.due_now.checked_sub(collecting_due).map_err(|e| DomainError::money("amount", e))?;
            if !amount.is_positive() {
                return Err(conflict("what is due now is being collected from the approved card; wait for its result"));
            }
            let due = due_views.iter().filter(|v| !collecting(v)).map(|v| v.instalment.id.clone()).collect();
            Priced { amount: amount.min(outstanding), instalment_ids: due, traveller_id: None }
        }
        PayTarget::Instalments(ids) => {
            if ids.is_empty() {
                return Err(invalid("instalment_ids", "name at least one instalment"));
            }
            let mut total = Money::zero(summary.currency);
            let mut seen: Vec<&str> = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                let field = format!("instalment_ids[{i}]");
                if seen.contains(&id.as_str()) {
                    return Err(invalid(&field, format!("instalment `{}` is listed twice", short(id))));
                }
                seen.push(id);
                let view = summary
                    .instalments
                    .iter()
                    .find(|v| v.instalment.id == *id)
                    .ok_or_else(|| invalid(&field, format!("no instalment `{}` on this booking", short(id))))?;
                if view.remaining.is_zero() || view.display_status == InstalmentStatus::Paid {
                    return Err(conflict(format!("instalment `{id}` is already paid")));
                }
                if view.instalment.status == InstalmentStatus::Processing {
                    return Err(conflict(format!("instalment `{id}` is being collected already")));
                }
                total = total.checked_add(view.remaining).map_err(|e| DomainError::money("instalment_ids", e))?;
            }
            Priced { amount: total.min(outstanding), instalment_ids: ids.clone(), traveller_id: None }
        }
        PayTarget::TravellerShare(t) => {
            let share = summary
                .traveller_shares
                .iter()
                .find(|s| s.traveller_id == *t)
                .ok_or_else(|| invalid("traveller_id", format!("no traveller `{}` on this booking", short(t))))?;
            // The share's outstanding figure is exactly what settles it (the ledger spreads party payments by
            // share, so paying it moves no other traveller's figure): charge what the customer was shown.
            let settle = share.outstanding;
            if !settle.is_positive() {
                return Err(conflict(format!("the share of traveller `{t}` is already paid")));
            }
            Priced { amount: settle.min(outstanding), instalment_ids: Vec::new(), traveller_id: Some(t.clone()) }
        }
        PayTarget::Custom(m) => {
            if m.currency() != summary.currency {
                return Err(PriceError::Domain(DomainError::money(
                    "currency",
                    crate::money::MoneyError::CurrencyMismatch { left: summary.currency, right: m.currency() },
                )));
            }
            if !m.is_positive() {
                return Err(invalid("amount", "the amount must be more than zero"));
            }
            if m.minor() > outstanding.minor() {
                return Err(invalid(
                    "amount",
                    format!("the amount is more than the outstanding balance of {outstanding}"),
                ));
            }
            if m.minor() < minimum.minor() && *m != outstanding {
                return Err(invalid("amount", format!("the smallest payment is {minimum}")));
            }
            Priced { amount: *m, instalment_ids: Vec::new(), traveller_id: None }
        }
    };
    Ok(priced)
}

/// What an open payment is for, stored with it so a later checkout can tell whether the two collect the
/// same debt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Balance,
    DueNow,
    Instalments,
    TravellerShare,
    Custom,
}

impl PayTarget {
    pub fn purpose(&self) -> Purpose {
        match self {
            PayTarget::Balance => Purpose::Balance,
            PayTarget::DueNow => Purpose::DueNow,
            PayTarget::Instalments(_) => Purpose::Instalments,
            PayTarget::TravellerShare(_) => Purpose::TravellerShare,
            PayTarget::Custom(_) => Purpose::Custom,
        }
    }
}

/// The debt a payment collects: its purpose (`None`: recorded before purposes were kept, so assumed to be
/// anything), the instalments it names and the traveller whose share it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Debt<'a> {
    pub purpose: Option<Purpose>,
    pub instalment_ids: &'a [String],
    pub traveller_id: Option<&'a str>,
}

/// Whether two payments of one booking would collect (some of) the same money, so both must never be open:
/// the one-open-payment rule (`docs/payments.md`). Only two shares of different travellers, or two
/// instalment payments naming no instalment in common, are separate debts. A balance, what is due now or a
/// custom amount overlaps everything, and a share overlaps any payment that is not another traveller's share.
pub fn overlaps(a: &Debt<'_>, b: &Debt<'_>) -> bool {
    match (a.purpose, b.purpose) {
        (Some(Purpose::TravellerShare), Some(Purpose::TravellerShare)) => a.traveller_id == b.traveller_id,
        (Some(Purpose::Instalments), Some(Purpose::Instalments)) => {
            a.instalment_ids.iter().any(|i| b.instalment_ids.contains(i))
        }
        _ => true,
    }
}

/// Whether an open payment would also pay instalment `id` (so the instalment runner must not charge it
/// off-session while that payment can still succeed). A traveller's share is that traveller's debt, not an
/// instalment's; instalment payments cover the ones they name; anything else covers every instalment.
pub fn covers_instalment(d: &Debt<'_>, id: &str) -> bool {
    match d.purpose {
        Some(Purpose::TravellerShare) => false,
        Some(Purpose::Instalments) => d.instalment_ids.iter().any(|i| i == id),
        _ => true,
    }
}

/// What a brand does with money received beyond what a booking costs (`BRANDS_JSON` `overpayment`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverpaymentPolicy {
    /// Give it back to the card or account it came from, automatically (the default).
    #[default]
    Refund,
    /// Keep it as a credit on the booking for the operator to settle.
    Credit,
}

/// Why money is given back automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExcessReason {
    /// The payment took the money received over the booking's total price.
    Overpaid,
    /// The payment arrived after the booking was cancelled.
    Cancelled,
}

/// The part of a payment just recorded to refund automatically, judged on the ledger *with* that payment:
/// all of it on a cancelled booking, else what it takes the money received over the total price; either way
/// less refunds already on their way, and never more than the payment itself. `None`: nothing to give back,
/// or the brand keeps overpayments as credit.
pub fn excess(
    status: BookingStatus,
    after: &LedgerSummary,
    payment: Money,
    in_flight: Money,
    policy: OverpaymentPolicy,
) -> Option<(Money, ExcessReason)> {
    if policy == OverpaymentPolicy::Credit || !payment.is_positive() {
        return None;
    }
    let (over, reason) = match status {
        BookingStatus::Cancelled => (after.paid, ExcessReason::Cancelled),
        _ => (after.credit, ExcessReason::Overpaid),
    };
    let give = over.checked_sub(in_flight).ok()?.min(payment);
    give.is_positive().then_some((give, reason))
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

/// True when `body` contains something that looks like a payment card number: 13-19 digits (optionally
/// grouped by single spaces or dashes) passing the Luhn check. Such requests are rejected unread and unlogged.
pub fn contains_card_number(body: &[u8]) -> bool {
    let mut digits: Vec<u8> = Vec::with_capacity(24);
    let mut last_sep = false;
    let check = |d: &[u8]| (13..=19).contains(&d.len()) && luhn(d);
    for &b in body {
        if b.is_ascii_digit() {
            digits.push(b - b'0');
            last_sep = false;
        } else if (b == b' ' || b == b'-') && !digits.is_empty() && !last_sep {
            last_sep = true;
        } else {
            if check(&digits) {
                return true;
            }
            digits.clear();
            last_sep = false;
        }
        if digits.len() > 19 {
            // A longer run of digits is not a card number; skip to its end.
            digits.truncate(20);
        }
    }
    check(&digits)
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    fn debt<'a>(purpose: Purpose, ids: &'a [String], traveller: Option<&'a str>) -> super::Debt<'a> {
        super::Debt { purpose: Some(purpose), instalment_ids: ids, traveller_id: traveller }
    }

    #[test]
    fn the_excess_is_what_overpays_or_all_of_it_after_cancellation_less_refunds_in_flight() {
        use super::{ExcessReason, OverpaymentPolicy, excess};
        use crate::booking::BookingStatus;
        use crate::money::Currency;
        let m = |minor| Money::from_minor(minor, Currency::Gbp).unwrap();
        let summary = |paid, credit| LedgerSummary {
            currency: Currency::Gbp,
            total_price: m(paid - credit),
            paid: m(paid),
            outstanding: m(0),
            credit: m(credit),
            due_now: m(0),
            overdue: m(0),
            next_due: None,
            instalments: vec![],
            traveller_shares: vec![],
        };
        let refund = OverpaymentPolicy::Refund;
        // Two tabs paid the £3,080.50 balance: the second payment is all excess.
        let twice = summary(616_100, 308_050);
        assert_eq!(
            excess(BookingStatus::Confirmed, &twice, m(308_050), m(0), refund),
            Some((m(308_050), ExcessReason::Overpaid))
        );
        // A payment larger than what was left (the price was cut meanwhile): only the part over.
        let cut = summary(120_000, 20_000);
        assert_eq!(
            excess(BookingStatus::Confirmed, &cut, m(50_000), m(0), refund),
            Some((m(20_000), ExcessReason::Overpaid))
        );
        // Already being refunded: not again.
        assert_eq!(excess(BookingStatus::Confirmed, &cut, m(50_000), m(20_000), refund), None);
        assert_eq!(excess(BookingStatus::Confirmed, &summary(100_000, 0), m(50_000), m(0), refund), None);
        // Paid after the booking was cancelled: all of the payment.
        let cancelled = summary(308_050, 0);
        assert_eq!(
            excess(BookingStatus::Cancelled, &cancelled, m(308_050), m(0), refund),
            Some((m(308_050), ExcessReason::Cancelled))
        );
        // A brand that keeps overpayments as credit.
        assert_eq!(excess(BookingStatus::Confirmed, &twice, m(308_050), m(0), OverpaymentPolicy::Credit), None);
    }

    #[test]
    fn only_separate_shares_and_disjoint_instalments_do_not_overlap() {
        use super::{Purpose::*, covers_instalment, overlaps};
        let (i1, i2, i12) = (vec!["I1".to_string()], vec!["I2".to_string()], vec!["I1".to_string(), "I2".to_string()]);
        let none: Vec<String> = vec![];
        assert!(!overlaps(&debt(TravellerShare, &none, Some("T2")), &debt(TravellerShare, &none, Some("T3"))));
        assert!(overlaps(&debt(TravellerShare, &none, Some("T2")), &debt(TravellerShare, &none, Some("T2"))));
        assert!(!overlaps(&debt(Instalments, &i1, None), &debt(Instalments, &i2, None)));
        assert!(overlaps(&debt(Instalments, &i1, None), &debt(Instalments, &i12, None)));
        for other in [Balance, DueNow, Custom] {
            assert!(overlaps(&debt(other, &none, None), &debt(Instalments, &i1, None)), "{other:?}");
            assert!(overlaps(&debt(TravellerShare, &none, Some("T2")), &debt(other, &none, None)), "{other:?}");
        }
        assert!(overlaps(&debt(TravellerShare, &none, Some("T2")), &debt(Instalments, &i1, None)));
        let unknown = super::Debt { purpose: None, instalment_ids: &none, traveller_id: None };
        assert!(overlaps(&unknown, &debt(TravellerShare, &none, Some("T2"))));
        // What the runner must not charge beside.
        assert!(covers_instalment(&debt(Instalments, &i12, None), "I2"));
        assert!(!covers_instalment(&debt(Instalments, &i1, None), "I2"));
        assert!(!covers_instalment(&debt(TravellerShare, &none, Some("T2")), "I1"));
        assert!(covers_instalment(&debt(Balance, &none, None), "I1") && covers_instalment(&unknown, "I1"));
    }

    use super::*;
    use crate::ledger::{InstalmentView, NextDue, TravellerShare};
    use crate::money::Currency;
    use crate::schedule::{Instalment, InstalmentKind, ScheduledInstalment};
    use chrono::NaiveDate;

    fn gbp(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Gbp).unwrap()
    }

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 1, d).unwrap()
    }

    fn view(id: &str, due: u32, amount: i64, remaining: i64) -> InstalmentView {
        let i = Instalment::new(&ScheduledInstalment {
            id: id.into(),
            kind: InstalmentKind::Instalment,
            due_date: date(due),
            amount: gbp(amount),
        });
        InstalmentView {
            instalment: i,
            covered: gbp(amount - remaining),
            remaining: gbp(remaining),
            display_status: if remaining == 0 { InstalmentStatus::Paid } else { InstalmentStatus::Scheduled },
            overdue: false,
        }
    }

    /// DEP paid (500), INS1 1000 due now, BAL 1580.50 later; T1 and T2 shares.
    fn summary() -> LedgerSummary {
        LedgerSummary {
            currency: Currency::Gbp,
            total_price: gbp(308050),
            paid: gbp(50000),
            outstanding: gbp(258050),
            credit: gbp(0),
            due_now: gbp(100000),
            overdue: gbp(0),
            next_due: Some(NextDue { date: date(20), amount: gbp(158050), instalment_id: "BAL".into() }),
            instalments: vec![
                view("DEP", 1, 50000, 0),
                view("INS1", 5, 100000, 100000),
                view("BAL", 20, 158050, 158050),
            ],
            traveller_shares: vec![
                TravellerShare {
                    traveller_id: "T1".into(),
                    share: gbp(154025),
                    paid: gbp(25000),
                    outstanding: gbp(129025),
                },
                TravellerShare {
                    traveller_id: "T2".into(),
                    share: gbp(154025),
                    paid: gbp(25000),
                    outstanding: gbp(129025),
                },
            ],
        }
    }

    const LEAD: Payer<'static> = Payer { traveller_id: "T1", is_lead: true };
    const T2: Payer<'static> = Payer { traveller_id: "T2", is_lead: false };

    fn p(target: PayTarget, payer: Payer<'_>) -> Result<Priced, PriceError> {
        price(BookingStatus::Confirmed, &summary(), &target, payer, gbp(100))
    }

    #[test]
    fn prices_come_from_the_ledger() {
        let b = p(PayTarget::Balance, LEAD).unwrap();
        assert_eq!((b.amount, b.instalment_ids), (gbp(258050), vec!["INS1".to_string(), "BAL".to_string()]));
        let d = p(PayTarget::DueNow, LEAD).unwrap();
        assert_eq!((d.amount, d.instalment_ids), (gbp(100000), vec!["INS1".to_string()]));
        let i = p(PayTarget::Instalments(vec!["BAL".into()]), LEAD).unwrap();
        assert_eq!(i.amount, gbp(158050));
        let s = p(PayTarget::TravellerShare("T2".into()), T2).unwrap();
        // The share's outstanding as shown (1540.25 less T2's part of the deposit): what settles it.
        assert_eq!((s.amount, s.traveller_id.as_deref()), (gbp(129025), Some("T2")));
        assert_eq!(p(PayTarget::Custom(gbp(150)), LEAD).unwrap().amount, gbp(150));
    }

    #[test]
    fn an_instalment_being_collected_is_not_charged_again_by_another_target() {
        let mut s = summary();
        s.instalments[1].instalment.status = InstalmentStatus::Processing; // INS1, 1000.00, due now
        let pay = |t: PayTarget| price(BookingStatus::Confirmed, &s, &t, LEAD, gbp(100));
        let b = pay(PayTarget::Balance).unwrap();
        assert_eq!((b.amount, b.instalment_ids), (gbp(158050), vec!["BAL".to_string()]));
        assert!(matches!(pay(PayTarget::DueNow), Err(PriceError::Domain(DomainError::Conflict(_)))));
        assert!(matches!(
            pay(PayTarget::Instalments(vec!["INS1".into()])),
            Err(PriceError::Domain(DomainError::Conflict(_)))
        ));
        assert!(matches!(pay(PayTarget::Custom(gbp(158051))), Err(PriceError::Domain(DomainError::Invalid { .. }))));
        assert_eq!(pay(PayTarget::Custom(gbp(158050))).unwrap().amount, gbp(158050));
        // Everything left is being collected: nothing to pay by hand.
        s.instalments[2].instalment.status = InstalmentStatus::Processing;
        let pay = |t: PayTarget| price(BookingStatus::Confirmed, &s, &t, LEAD, gbp(100));
        assert!(matches!(pay(PayTarget::Balance), Err(PriceError::Domain(DomainError::Conflict(_)))));
    }

    #[test]
    fn bad_targets_are_precise() {
        let kind = |r: Result<Priced, PriceError>| match r.unwrap_err() {
            PriceError::Forbidden(_) => "forbidden".to_string(),
            PriceError::Domain(DomainError::Conflict(_)) => "conflict".to_string(),
            PriceError::Domain(DomainError::Invalid { field, .. }) => field,
            PriceError::Domain(DomainError::Money { field, .. }) => format!("money:{field}"),
            PriceError::Domain(e) => e.to_string(),
        };
        assert_eq!(kind(p(PayTarget::Custom(gbp(258051)), LEAD)), "amount");
        assert_eq!(kind(p(PayTarget::Custom(gbp(99)), LEAD)), "amount");
        assert_eq!(kind(p(PayTarget::Custom(gbp(0)), LEAD)), "amount");
        assert_eq!(kind(p(PayTarget::Custom(gbp(-5)), LEAD)), "amount");
        let eur = Money::from_minor(1000, Currency::Eur).unwrap();
        assert_eq!(kind(p(PayTarget::Custom(eur), LEAD)), "money:currency");
        assert_eq!(kind(p(PayTarget::Instalments(vec!["NOPE".into()]), LEAD)), "instalment_ids[0]");
        assert_eq!(kind(p(PayTarget::Instalments(vec!["DEP".into()]), LEAD)), "conflict");
        assert_eq!(kind(p(PayTarget::Instalments(vec![]), LEAD)), "instalment_ids");
        assert_eq!(kind(p(PayTarget::Instalments(vec!["BAL".into(), "BAL".into()]), LEAD)), "instalment_ids[1]");
        assert_eq!(kind(p(PayTarget::TravellerShare("T9".into()), LEAD)), "traveller_id");
        assert_eq!(kind(p(PayTarget::TravellerShare("T1".into()), T2)), "forbidden");
        assert_eq!(kind(p(PayTarget::Balance, T2)), "forbidden");
        let cancelled = price(BookingStatus::Cancelled, &summary(), &PayTarget::Balance, LEAD, gbp(100));
        assert_eq!(kind(cancelled), "conflict");
    }

    #[test]
    fn small_outstanding_can_be_paid_below_the_minimum() {
        let mut s = summary();
        s.outstanding = gbp(50);
        assert_eq!(
            price(BookingStatus::Confirmed, &s, &PayTarget::Custom(gbp(50)), LEAD, gbp(100)).unwrap().amount,
            gbp(50)
        );
    }

    #[test]
    fn card_numbers_are_spotted() {
        assert!(contains_card_number(br#"{"card": "4242424242424242"}"#));
        assert!(contains_card_number(br#"{"note": "4242 4242 4242 4242"}"#));
        assert!(contains_card_number(br#"{"n": 5555-5555-5555-4444}"#));
        assert!(contains_card_number(b"378282246310005"));
        assert!(!contains_card_number(br#"{"pay": "custom", "amount": "1500.00"}"#));
        assert!(!contains_card_number(br#"{"n": "4242424242424241"}"#)); // Luhn fails
        assert!(!contains_card_number(br#"{"id": "12345678901234567890123"}"#)); // too long
        assert!(!contains_card_number(br#"{"a": "2026-11-25", "b": "10:15"}"#));
    }
}

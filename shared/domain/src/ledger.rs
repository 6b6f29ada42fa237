//! The booking ledger: immutable money movements and every figure derived from them.
//!
//! Nothing here is ever typed in: total price, paid, outstanding, due now, next due, overdue and each
//! traveller's share are computed from the movements and the schedule, on every read.
//!
//! Sign convention: every movement amount is positive except adjustments, which carry their sign.
//! `balance = charges + adjustments + fees − payments + refunds`. A negative balance is an explicit credit
//! (`credit`), never a negative `outstanding`.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::booking::{Booking, PaymentChannel};
use crate::money::{Currency, Money, MoneyError};
use crate::schedule::{Instalment, InstalmentStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// The booking's price when it was created.
    Charge,
    /// A later change of price (signed).
    Adjustment,
    /// A customer-facing fee (amendment fee, card surcharge); adds to what is owed.
    Fee,
    /// Money received.
    Payment,
    /// Money returned to the customer.
    Refund,
    /// Evidence: the customer approved an instalment for off-session collection. No effect on the balance.
    InstalmentApproved,
    /// Evidence: the customer withdrew an approval. No effect on the balance.
    ApprovalWithdrawn,
    /// Evidence: a collection attempt failed. No effect on the balance.
    PaymentFailed,
    /// A refund the gateway accepted but has not settled (`pending`): no effect on the balance until it
    /// succeeds (then a `Refund` with the same external reference) or fails (`RefundFailed`).
    RefundPending,
    /// Evidence: a pending refund failed or was cancelled; the money stays with the operator. When a refund
    /// had already been booked as succeeded, a `RefundReversed` puts it back.
    RefundFailed,
    /// A succeeded refund that later failed (Stripe: `refund.failed` after `succeeded`): money back on the
    /// booking, the opposite of `Refund`.
    RefundReversed,
    /// Evidence: the cardholder disputed a payment (`charge.dispute.created`). No effect on the balance yet.
    DisputeOpened,
    /// The disputed amount was withdrawn from the operator (`charge.dispute.funds_withdrawn`): it no longer
    /// counts as paid.
    Chargeback,
    /// The disputed amount came back (`charge.dispute.funds_reinstated`): paid again.
    ChargebackReversed,
    /// Evidence: the dispute closed (`won` / `lost` in the description). No effect on the balance.
    DisputeClosed,
}

impl MovementKind {
    pub fn affects_balance(self) -> bool {
        matches!(
            self,
            MovementKind::Charge
                | MovementKind::Adjustment
                | MovementKind::Fee
                | MovementKind::Payment
                | MovementKind::Refund
                | MovementKind::RefundReversed
                | MovementKind::Chargeback
                | MovementKind::ChargebackReversed
        )
    }

    /// How the movement moves the money received: +1 adds to it, −1 takes from it, 0 neither.
    pub fn paid_sign(self) -> i64 {
        match self {
            MovementKind::Payment | MovementKind::RefundReversed | MovementKind::ChargebackReversed => 1,
            MovementKind::Refund | MovementKind::Chargeback => -1,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Customer,
    Operator,
    System,
    Gateway,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    /// Who, within the kind: traveller id, operator key id, gateway account, job name.
    pub id: String,
}

impl Actor {
    pub fn operator(id: impl Into<String>) -> Actor {
        Actor { kind: ActorKind::Operator, id: id.into() }
    }
    pub fn system(id: impl Into<String>) -> Actor {
        Actor { kind: ActorKind::System, id: id.into() }
    }
}

/// One immutable line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    pub id: String,
    pub kind: MovementKind,
    pub amount: Money,
    #[serde(default)]
    pub channel: Option<PaymentChannel>,
    /// Gateway payment id, bank transfer reference, and the like.
    #[serde(default)]
    pub external_reference: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor: Actor,
    /// The key that makes writing this movement idempotent: a second write with the same key is a no-op.
    pub idempotency_key: String,
    #[serde(default)]
    pub traveller_id: Option<String>,
    #[serde(default)]
    pub instalment_ids: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// What the acquirer charged the operator for this payment (not owed by the customer).
    #[serde(default)]
    pub acquirer_fee: Option<Money>,
}

/// An in-memory ledger with replay protection: applying a movement whose idempotency key or id is already
/// present changes nothing.
#[derive(Debug, Clone)]
pub struct Ledger {
    currency: Currency,
    movements: Vec<Movement>,
    keys: HashSet<String>,
}

impl Ledger {
    pub fn new(currency: Currency) -> Ledger {
        Ledger { currency, movements: Vec::new(), keys: HashSet::new() }
    }

    pub fn from_movements(
        currency: Currency,
        movements: impl IntoIterator<Item = Movement>,
    ) -> Result<Ledger, MoneyError> {
        let mut l = Ledger::new(currency);
        for m in movements {
            l.apply(m)?;
        }
        Ok(l)
    }

    /// Apply a movement; returns whether it was new.
    pub fn apply(&mut self, m: Movement) -> Result<bool, MoneyError> {
        if m.amount.currency() != self.currency {
            return Err(MoneyError::CurrencyMismatch { left: self.currency, right: m.amount.currency() });
        }
        if self.keys.contains(&m.idempotency_key) || self.movements.iter().any(|x| x.id == m.id) {
            return Ok(false);
        }
        self.keys.insert(m.idempotency_key.clone());
        self.movements.push(m);
        Ok(true)
    }

    pub fn movements(&self) -> &[Movement] {
        &self.movements
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn totals(&self) -> Result<Totals, MoneyError> {
        Totals::of(self.currency, &self.movements)
    }
}

/// Sums by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub charges: Money,
    pub adjustments: Money,
    pub fees: Money,
    pub payments: Money,
    /// Succeeded refunds less reversed ones.
    pub refunds: Money,
    /// Disputed amounts withdrawn less reinstated ones.
    pub chargebacks: Money,
}

impl Totals {
    pub fn of(currency: Currency, movements: &[Movement]) -> Result<Totals, MoneyError> {
        let sum = |k: MovementKind| Money::sum(currency, movements.iter().filter(|m| m.kind == k).map(|m| m.amount));
        Ok(Totals {
            charges: sum(MovementKind::Charge)?,
            adjustments: sum(MovementKind::Adjustment)?,
            fees: sum(MovementKind::Fee)?,
            payments: sum(MovementKind::Payment)?,
            refunds: sum(MovementKind::Refund)?.checked_sub(sum(MovementKind::RefundReversed)?)?,
            chargebacks: sum(MovementKind::Chargeback)?.checked_sub(sum(MovementKind::ChargebackReversed)?)?,
        })
    }

    /// What the booking costs now: charges, adjustments and fees.
    pub fn total_price(&self) -> Result<Money, MoneyError> {
        self.charges.checked_add(self.adjustments)?.checked_add(self.fees)
    }

    /// Net money received: payments less refunds and chargebacks.
    pub fn paid(&self) -> Result<Money, MoneyError> {
        self.payments.checked_sub(self.refunds)?.checked_sub(self.chargebacks)
    }

    /// Signed: positive is owed by the customer, negative is a credit.
    pub fn balance(&self) -> Result<Money, MoneyError> {
        self.total_price()?.checked_sub(self.paid()?)
    }
}

/// Refunds accepted by the gateway and not yet settled: `RefundPending` movements whose external reference (the
/// gateway's refund id) has neither a `Refund` nor a `RefundFailed` yet.
pub fn refunds_in_flight(currency: Currency, movements: &[Movement]) -> Result<Money, MoneyError> {
    let settled = |r: &Option<String>| {
        movements
            .iter()
            .any(|m| matches!(m.kind, MovementKind::Refund | MovementKind::RefundFailed) && m.external_reference == *r)
    };
    Money::sum(
        currency,
        movements
            .iter()
            .filter(|m| m.kind == MovementKind::RefundPending && !settled(&m.external_reference))
            .map(|m| m.amount),
    )
}

/// An instalment with what has been paid towards it (payments are applied to the schedule in due-date order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalmentView {
    pub instalment: Instalment,
    pub covered: Money,
    pub remaining: Money,
    /// The state to show: `paid` once covered, whatever the stored collection state.
    pub display_status: InstalmentStatus,
    pub overdue: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TravellerShare {
    pub traveller_id: String,
    pub share: Money,
    pub paid: Money,
    pub outstanding: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextDue {
    pub date: NaiveDate,
    pub amount: Money,
    pub instalment_id: String,
}

/// Every money figure the portal shows, derived from movements and schedule at `today`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSummary {
    pub currency: Currency,
    pub total_price: Money,
    pub paid: Money,
    /// What the customer still owes (never negative).
    pub outstanding: Money,
    /// Money held for the customer beyond the price (never negative).
    pub credit: Money,
    /// Outstanding amount whose due date is today or earlier.
    pub due_now: Money,
    /// Outstanding amount whose due date is before today.
    pub overdue: Money,
    pub next_due: Option<NextDue>,
    pub instalments: Vec<InstalmentView>,
    pub traveller_shares: Vec<TravellerShare>,
}

impl LedgerSummary {
    pub fn compute(
        booking: &Booking,
        movements: &[Movement],
        instalments: &[Instalment],
        today: NaiveDate,
    ) -> Result<LedgerSummary, MoneyError> {
        let currency = booking.currency;
        let totals = Totals::of(currency, movements)?;
        let total_price = totals.total_price()?;
        let paid = totals.paid()?;
        let balance = totals.balance()?;
        let outstanding = balance.clamp_zero();
        let credit = balance.checked_neg()?.clamp_zero();

        // Apply net paid to live instalments in due-date order.
        let mut live: Vec<&Instalment> =
            instalments.iter().filter(|i| i.status != InstalmentStatus::Cancelled).collect();
        live.sort_by(|a, b| a.due_date.cmp(&b.due_date).then_with(|| a.id.cmp(&b.id)));
        let mut pool = paid.clamp_zero();
        let mut views = Vec::with_capacity(live.len());
        let mut due_by_today = Money::zero(currency);
        let mut due_before_today = Money::zero(currency);
        let mut next_due = None;
        for inst in live {
            let covered = pool.min(inst.amount);
            pool = pool.checked_sub(covered)?;
            let remaining = inst.amount.checked_sub(covered)?;
            let is_overdue = remaining.is_positive() && inst.due_date < today;
            if inst.due_date <= today {
                due_by_today = due_by_today.checked_add(remaining)?;
            }
            if is_overdue {
                due_before_today = due_before_today.checked_add(remaining)?;
            }
            if next_due.is_none() && remaining.is_positive() && inst.due_date > today {
                next_due = Some(NextDue { date: inst.due_date, amount: remaining, instalment_id: inst.id.clone() });
            }
            let display_status = if remaining.is_zero() { InstalmentStatus::Paid } else { inst.status };
            views.push(InstalmentView {
                instalment: inst.clone(),
                covered,
                remaining,
                display_status,
                overdue: is_overdue,
            });
        }
        // The schedule may lag the ledger (a fee added after scheduling, a price cut): never claim more is due
        // than is outstanding.
        let due_now = due_by_today.min(outstanding);
        let overdue = due_before_today.min(outstanding);

        let traveller_shares = traveller_shares(booking, movements, total_price, paid)?;
        Ok(LedgerSummary {
            currency,
            total_price,
            paid,
            outstanding,
            credit,
            due_now,
            overdue,
            next_due,
            instalments: views,
            traveller_shares,
        })
    }
}

/// Each traveller's part of the price: their own price lines plus an even split of shared lines, scaled so the
/// shares sum exactly to the current total price (fees and adjustments outside the price lines are split evenly).
/// Payments made for a traveller count for that traveller; payments for the whole party are spread over the
/// travellers in proportion to their shares (see [`spread_unattributed`]), so a traveller's `outstanding` is
/// exactly what settles their share: checkout charges that figure, and paying it leaves the others' unchanged.
fn traveller_shares(
    booking: &Booking,
    movements: &[Movement],
    total_price: Money,
    paid: Money,
) -> Result<Vec<TravellerShare>, MoneyError> {
    let currency = booking.currency;
    let n = booking.travellers.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut shares = vec![Money::zero(currency); n];
    let mut shared = Money::zero(currency);
    for line in &booking.price_lines {
        match line.traveller_id.as_deref().and_then(|t| booking.travellers.iter().position(|x| x.id == t)) {
            Some(i) => shares[i] = shares[i].checked_add(line.amount)?,
            None => shared = shared.checked_add(line.amount)?,
        }
    }
    let lines_total = Money::sum(currency, shares.iter().copied())?.checked_add(shared)?;
    let rest = shared.checked_add(total_price.checked_sub(lines_total)?)?;
    for (s, part) in shares.iter_mut().zip(rest.split(n)) {
        *s = s.checked_add(part)?;
    }

    let mut attributed = vec![Money::zero(currency); n];
    let mut attributed_total = Money::zero(currency);
    for m in movements.iter().filter(|m| m.kind.paid_sign() != 0) {
        if let Some(i) = m.traveller_id.as_deref().and_then(|t| booking.travellers.iter().position(|x| x.id == t)) {
            let signed = if m.kind.paid_sign() < 0 { m.amount.checked_neg()? } else { m.amount };
            attributed[i] = attributed[i].checked_add(signed)?;
            attributed_total = attributed_total.checked_add(signed)?;
        }
    }
    let unattributed = paid.checked_sub(attributed_total)?.clamp_zero();
    let remaining: Vec<Money> = shares
        .iter()
        .zip(&attributed)
        .map(|(s, a)| s.checked_sub(*a).map(Money::clamp_zero))
        .collect::<Result<_, _>>()?;
    let spread = spread_unattributed(unattributed, &shares, &remaining)?;
    shares
        .iter()
        .zip(attributed.iter().zip(spread))
        .zip(&booking.travellers)
        .map(|((share, (attr, spread)), t)| {
            let p = attr.checked_add(spread)?;
            Ok(TravellerShare {
                traveller_id: t.id.clone(),
                share: *share,
                paid: p,
                outstanding: share.checked_sub(p)?.clamp_zero(),
            })
        })
        .collect()
}

/// Spread payments made for the whole party over the travellers in proportion to their shares (weights that
/// do not move when one traveller pays for themself), never beyond what a traveller still owes after their own
/// payments: a part that would overshoot goes to those who still owe, in proportion to what they owe.
fn spread_unattributed(amount: Money, shares: &[Money], remaining: &[Money]) -> Result<Vec<Money>, MoneyError> {
    let currency = amount.currency();
    let mut parts = proportional(amount, shares)?;
    let mut excess = Money::zero(currency);
    for (p, r) in parts.iter_mut().zip(remaining) {
        if p.minor() > r.minor() {
            excess = excess.checked_add(p.checked_sub(*r)?)?;
            *p = *r;
        }
    }
    if excess.is_positive() {
        let room: Vec<Money> = parts.iter().zip(remaining).map(|(p, r)| r.checked_sub(*p)).collect::<Result<_, _>>()?;
        for (p, extra) in parts.iter_mut().zip(proportional(excess, &room)?) {
            *p = p.checked_add(extra)?;
        }
    }
    Ok(parts)
}

/// Split `amount` over `weights` proportionally (largest remainder), never giving a part more than its weight
/// unless the weights are exhausted. Sums exactly to `min(amount, Σweights)` plus any excess on the first part.
fn proportional(amount: Money, weights: &[Money]) -> Result<Vec<Money>, MoneyError> {
    let currency = amount.currency();
    let total: i128 = weights.iter().map(|w| i128::from(w.minor())).sum();
    if weights.is_empty() {
        return Ok(Vec::new());
    }
    if total == 0 {
        let mut v = vec![Money::zero(currency); weights.len()];
        v[0] = amount;
        return Ok(v);
    }
    let a = i128::from(amount.minor()).min(total);
    let mut parts: Vec<i128> = weights.iter().map(|w| a * i128::from(w.minor()) / total).collect();
    let mut rem = a - parts.iter().sum::<i128>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse((a * i128::from(weights[i].minor())) % total));
    for i in order {
        if rem == 0 {
            break;
        }
        if parts[i] < i128::from(weights[i].minor()) {
            parts[i] += 1;
            rem -= 1;
        }
    }
    let excess = i128::from(amount.minor()) - a;
    parts[0] += excess;
    parts
        .into_iter()
        .map(|p| Money::from_minor(i64::try_from(p).map_err(|_| MoneyError::Overflow)?, currency))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::tests::sample_input;
    use crate::booking::{BookingInput, ValidatedBooking};
    use crate::ids::BookingReference;
    use proptest::prelude::*;

    fn booking() -> ValidatedBooking {
        let input: BookingInput = serde_json::from_value(sample_input()).unwrap();
        Booking::from_input(BookingReference::parse("AB-1234").unwrap(), input).unwrap()
    }

    fn mv(id: &str, kind: MovementKind, minor: i64) -> Movement {
        let t: DateTime<Utc> = "2026-11-01T10:00:00Z".parse().unwrap();
        Movement {
            id: id.into(),
            kind,
            amount: Money::from_minor(minor, Currency::Gbp).unwrap(),
            channel: None,
            external_reference: None,
            occurred_at: t,
            recorded_at: t,
            actor: Actor::system("test"),
            idempotency_key: format!("key-{id}"),
            traveller_id: None,
            instalment_ids: vec![],
            description: None,
            acquirer_fee: None,
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn deposit_paid_two_instalments_scheduled() {
        let v = booking();
        let inst: Vec<_> = v.schedule.iter().map(Instalment::new).collect();
        let movements = vec![mv("c", MovementKind::Charge, 225_050), mv("p", MovementKind::Payment, 45_050)];
        let s = LedgerSummary::compute(&v.booking, &movements, &inst, day("2026-11-25")).unwrap();
        assert_eq!(s.total_price.minor(), 225_050);
        assert_eq!(s.paid.minor(), 45_050);
        assert_eq!(s.outstanding.minor(), 180_000);
        assert_eq!(s.due_now.minor(), 0);
        assert_eq!(s.overdue.minor(), 0);
        let next = s.next_due.unwrap();
        assert_eq!((next.date, next.amount.minor(), next.instalment_id.as_str()), (day("2027-01-15"), 90_000, "I1"));
        assert_eq!(s.instalments[0].display_status, InstalmentStatus::Paid);
        assert_eq!(s.instalments[1].display_status, InstalmentStatus::Scheduled);

        // Two months later, nothing more paid: the instalment is due and overdue.
        let later = LedgerSummary::compute(&v.booking, &movements, &inst, day("2027-02-01")).unwrap();
        assert_eq!(later.due_now.minor(), 90_000);
        assert_eq!(later.overdue.minor(), 90_000);
        assert!(later.instalments[1].overdue);
    }

    #[test]
    fn shares_sum_to_total_and_attribute_payments() {
        let v = booking();
        let mut p1 = mv("p1", MovementKind::Payment, 50_000);
        p1.traveller_id = Some("T2".into());
        let movements = vec![
            mv("c", MovementKind::Charge, 225_050),
            mv("f", MovementKind::Fee, 1_001),
            p1,
            mv("p2", MovementKind::Payment, 10_000),
        ];
        let s = LedgerSummary::compute(&v.booking, &movements, &[], day("2026-11-25")).unwrap();
        let shares: i64 = s.traveller_shares.iter().map(|t| t.share.minor()).sum();
        assert_eq!(shares, s.total_price.minor());
        let paid: i64 = s.traveller_shares.iter().map(|t| t.paid.minor()).sum();
        assert_eq!(paid, s.paid.minor());
        let out: i64 = s.traveller_shares.iter().map(|t| t.outstanding.minor()).sum();
        assert_eq!(out, s.outstanding.minor());
        // T1: 1000.00 + 250.50 + 5.01 (half the fee, first part takes the odd unit) = 1255.51
        assert_eq!(s.traveller_shares[0].share.minor(), 125_551);
    }

    #[test]
    fn paying_the_shown_share_settles_it_and_leaves_the_others_unchanged() {
        let v = booking();
        // A deposit for the whole party (no traveller), then T2 pays exactly what their share shows.
        let mut movements = vec![mv("c", MovementKind::Charge, 225_050), mv("dep", MovementKind::Payment, 50_000)];
        let before = LedgerSummary::compute(&v.booking, &movements, &[], day("2026-11-25")).unwrap();
        let (t1, t2) = (before.traveller_shares[0].clone(), before.traveller_shares[1].clone());
        assert!(t2.outstanding.is_positive() && t2.paid.is_positive());
        let mut own = mv("p-t2", MovementKind::Payment, t2.outstanding.minor());
        own.traveller_id = Some(t2.traveller_id.clone());
        movements.push(own);
        let after = LedgerSummary::compute(&v.booking, &movements, &[], day("2026-11-25")).unwrap();
        assert_eq!(after.traveller_shares[1].outstanding.minor(), 0);
        assert_eq!(after.traveller_shares[0].outstanding, t1.outstanding);
        let out: i64 = after.traveller_shares.iter().map(|t| t.outstanding.minor()).sum();
        assert_eq!(out, after.outstanding.minor());
    }

    #[test]
    fn a_party_payment_never_overshoots_a_share_already_paid_by_its_traveller() {
        let v = booking();
        let share_t2 =
            LedgerSummary::compute(&v.booking, &[mv("c", MovementKind::Charge, 225_050)], &[], day("2026-11-25"))
                .unwrap()
                .traveller_shares[1]
                .share;
        let mut own = mv("p-t2", MovementKind::Payment, share_t2.minor());
        own.traveller_id = Some("T2".into());
        let movements = vec![mv("c", MovementKind::Charge, 225_050), own, mv("party", MovementKind::Payment, 40_000)];
        let s = LedgerSummary::compute(&v.booking, &movements, &[], day("2026-11-25")).unwrap();
        assert_eq!(s.traveller_shares[1].paid, share_t2, "T2 is not credited beyond their share");
        assert_eq!(s.traveller_shares[1].outstanding.minor(), 0);
        let paid: i64 = s.traveller_shares.iter().map(|t| t.paid.minor()).sum();
        assert_eq!(paid, s.paid.minor());
    }

    #[test]
    fn overpayment_is_an_explicit_credit() {
        let v = booking();
        let movements = vec![mv("c", MovementKind::Charge, 10_000), mv("p", MovementKind::Payment, 12_500)];
        let s = LedgerSummary::compute(&v.booking, &movements, &[], day("2026-11-25")).unwrap();
        assert_eq!((s.outstanding.minor(), s.credit.minor()), (0, 2_500));
    }

    fn kind() -> impl Strategy<Value = MovementKind> {
        prop_oneof![
            Just(MovementKind::Charge),
            Just(MovementKind::Adjustment),
            Just(MovementKind::Fee),
            Just(MovementKind::Payment),
            Just(MovementKind::Refund),
            Just(MovementKind::InstalmentApproved),
            Just(MovementKind::PaymentFailed),
        ]
    }

    fn movements() -> impl Strategy<Value = Vec<Movement>> {
        prop::collection::vec((kind(), 0i64..10_000_000, any::<bool>()), 0..40).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (k, a, neg))| {
                    let a = if k == MovementKind::Adjustment && neg { -a } else { a };
                    mv(&format!("m{i}"), k, a)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn balance_is_charges_minus_payments_plus_refunds(ms in movements()) {
            let sum = |k: MovementKind| ms.iter().filter(|m| m.kind == k).map(|m| m.amount.minor()).sum::<i64>();
            let t = Totals::of(Currency::Gbp, &ms).unwrap();
            let expected = sum(MovementKind::Charge) + sum(MovementKind::Adjustment) + sum(MovementKind::Fee)
                - sum(MovementKind::Payment) + sum(MovementKind::Refund);
            prop_assert_eq!(t.balance().unwrap().minor(), expected);
        }

        #[test]
        fn replays_change_nothing(ms in movements(), replay in prop::collection::vec(any::<prop::sample::Index>(), 0..20)) {
            let once = Ledger::from_movements(Currency::Gbp, ms.clone()).unwrap();
            let mut twice = once.clone();
            for idx in replay {
                if !ms.is_empty() {
                    let m = idx.get(&ms).clone();
                    prop_assert!(!twice.apply(m).unwrap());
                }
            }
            prop_assert_eq!(once.totals().unwrap(), twice.totals().unwrap());
            prop_assert_eq!(once.movements().len(), twice.movements().len());
        }

        #[test]
        fn outstanding_never_negative_and_credit_is_explicit(ms in movements(), offset in 0i64..400) {
            let v = booking();
            let inst: Vec<_> = v.schedule.iter().map(Instalment::new).collect();
            let today = day("2026-10-01") + chrono::Days::new(offset as u64);
            let s = LedgerSummary::compute(&v.booking, &ms, &inst, today).unwrap();
            prop_assert!(!s.outstanding.is_negative());
            prop_assert!(!s.credit.is_negative());
            prop_assert!(!(s.outstanding.is_positive() && s.credit.is_positive()));
            let balance = Totals::of(Currency::Gbp, &ms).unwrap().balance().unwrap();
            prop_assert_eq!(s.outstanding.minor() - s.credit.minor(), balance.minor());
            prop_assert!(s.due_now.minor() <= s.outstanding.minor());
            prop_assert!(s.overdue.minor() <= s.due_now.minor());
            let shares: i64 = s.traveller_shares.iter().map(|t| t.share.minor()).sum();
            prop_assert_eq!(shares, s.total_price.minor());
        }
    }
}
